// The training options, each described once: its key in the configuration JSON (checkpoints'
// "config"; a dotted key is nested: "optimizer.momentum"), the command-line flag that sets it, and
// how its value is written and read back. The checkpoint's configuration both ways and the merge
// of a resumed run's options come from this one table; adding an option means adding its row.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fcnet/trainer.hpp"
#include "train/json_fields.hpp"

namespace fcnet::detail {

struct TrainOption {
  const char* key;
  const char* flag;  // "" when no flag sets it (it then always comes from the checkpoint)
  nlohmann::json (*write)(const TrainConfig&);
  // Reads field `leaf` of `f` into the config; throws fcnet::Error naming the field.
  void (*read)(TrainConfig&, const Fields& f, const std::string& leaf);
  // A file from before the option existed: the value it then had (null: the field is required).
  void (*absent)(TrainConfig&) = nullptr;
  // Whether the option is written (null: always); unwritten ones read back as `absent` says.
  bool (*written)(const TrainConfig&) = nullptr;
};

const std::vector<TrainOption>& train_options();

// The configuration as JSON and back (`f`: the "config" object; errors name its fields).
nlohmann::json config_to_json(const TrainConfig& c);
TrainConfig config_from_json(const Fields& f);

// Reads option `o` from the "config" object `f` into c.
void read_option(const TrainOption& o, TrainConfig& c, const Fields& f);

}  // namespace fcnet::detail
