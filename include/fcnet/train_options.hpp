// The training options, each described once: its key in the configuration JSON (checkpoints' and
// models' "config"; a dotted key is nested: "optimizer.momentum"), the `fcnet train` flag and the
// keyword of the Python binding that set it, its type, its help, the command line's default where
// it differs from TrainConfig's, and what a valid value is. The checkpoint's configuration both
// ways, the merge of a resumed run's options, the checks of a configuration, the command line's
// options and the binding's keywords all come from this one table: adding an option means adding
// its row (and the code that uses the value). The library's messages name an option by its flag;
// the binding says the keyword instead (in_keywords). The scikit-learn estimator keeps
// scikit-learn's own parameters and defaults (python/fcnet/estimator.py) and maps them onto these
// keywords.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fcnet/trainer.hpp"

namespace fcnet {

// How a value is written: in JSON, on the command line (text) and in Python.
enum class OptionType {
  number,   // a number ("0.001")
  integer,  // a whole number ("128")
  seed,     // a whole number >= 0
  name,     // one of the option's names ("adam")
  widths,   // positive whole numbers, comma-separated on the command line ("512,256"; none: [])
  numbers,  // numbers, comma-separated on the command line
  boolean,
};

struct TrainOption {
  const char* key;
  const char* flag;     // "" when no flag sets it (a resumed run then always takes the saved one)
  const char* keyword;  // "" when the binding has no keyword for it
  OptionType type;
  // The help (the command line's, and the binding's option_keywords()); "" for a row whose flag
  // another row declares (f64: --precision).
  const char* help;
  // Sets the value `v` (already of `type`); throws fcnet::Error (naming the flag) for a value
  // outside the option's names.
  void (*set)(TrainConfig&, const nlohmann::json& v);
  nlohmann::json (*write)(const TrainConfig&);
  // What a valid value is, when c's value is not one; "" when it is (null: every value is).
  std::string (*check)(const TrainConfig& c) = nullptr;
  // The command line's default when it differs from TrainConfig's ("auto": `fcnet train` works it
  // out from the data; null: TrainConfig's).
  const char* cli_default = nullptr;
  bool worked_out_from_data() const {  // the command line's default is "auto"
    return cli_default != nullptr && std::string_view(cli_default) == "auto";
  }
  // A file from before the option existed: the value it then had (null: the field is required).
  void (*absent)(TrainConfig&) = nullptr;
  // Whether the option is written (null: always); unwritten ones read back as `absent` says.
  bool (*written)(const TrainConfig&) = nullptr;
};

const std::vector<TrainOption>& train_options();
const char* option_type_text(OptionType t);  // "a number", "a list of whole numbers", ...
const TrainOption* option_by_flag(const std::string& flag);
const TrainOption* option_by_keyword(const std::string& keyword);

// Sets option `o` of c to `v` and checks it; a value of another type, or an invalid one, throws
// fcnet::Error naming `name` (the flag, keyword or field it came from).
void set_option(const TrainOption& o, TrainConfig& c, const nlohmann::json& v,
                const std::string& name);
// The command line's text of option `o` as its JSON value (errors name the flag).
nlohmann::json option_value_of_text(const TrainOption& o, const std::string& text);
// The command line's default text of `o`: its cli_default, else TrainConfig's value as text.
std::string option_default_text(const TrainOption& o);

// Checks every option of c and how they combine (the data aside): throws fcnet::Error naming the
// first invalid option's flag. train() runs it; a front end may run it before loading data.
void check_config(const TrainConfig& c);

// A message of the library with its leading flag ("--val-split: …") replaced by the option's
// keyword ("val_split: …"), as the Python binding reports it.
std::string in_keywords(const std::string& message);

// A resumed run's configuration: `into` (the command line's) takes every option of `from` (the
// checkpoint's) except those `given(flag)` says were given again.
void merge_resumed_options(TrainConfig& into, const TrainConfig& from,
                           const std::function<bool(const std::string& flag)>& given);

namespace detail {
class Fields;
// The configuration as JSON and back (`f`: the "config" object; errors name its fields).
nlohmann::json config_to_json(const TrainConfig& c);
TrainConfig config_from_json(const Fields& f);
}  // namespace detail

}  // namespace fcnet
