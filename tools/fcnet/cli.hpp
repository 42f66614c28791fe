// Shared pieces of the command-line tool: command registration, option helpers, output.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fcnet/data.hpp"
#include "fcnet/metrics.hpp"
#include "fcnet/model_io.hpp"
#include "fcnet/text.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet::cli {

using json = nlohmann::json;

// Each command adds its subcommand to the app and returns the function that runs it (called after
// a successful parse when that subcommand was chosen). The function returns the exit code.
using Runner = std::function<int()>;
struct Command {
  CLI::App* app;
  Runner run;
};

Command add_train(CLI::App& app);
Command add_eval(CLI::App& app);
Command add_predict(CLI::App& app);
Command add_info(CLI::App& app);
Command add_loss(CLI::App& app);
Command add_gradcheck(CLI::App& app);
Command add_report(CLI::App& app);
Command add_explain(CLI::App& app);
Command add_export(CLI::App& app);

// `fcnet train --report PATH [--image-shape H,W]`: the HTML training report written after training.
struct TrainReportOptions {
  std::string path;         // empty: no report
  std::string image_shape;  // "H,W": draw inputs as images (IDX data are images already)
};
void add_train_report_options(CLI::App* app, TrainReportOptions& o);
// Before training: checks that the report can be written and applies --image-shape to the
// training data (so the model remembers it).
void prepare_train_report(const TrainReportOptions& o, Dataset& train_data);
// After training: writes the report, evaluated on `test` when given (or taken from `test_eval`
// and `test_probs`, the caller's evaluation of it), else on the validation split, else on the
// training data. Returns the path written ("" without --report).
std::string write_train_report(const TrainReportOptions& o, const TrainResult& r,
                               const Dataset& train_data, const Dataset* test, bool quiet,
                               const EvalResult* test_eval = nullptr,
                               const Matrix<double>* test_probs = nullptr);

// Comma-separated positive integers ("512,256"); throws CLI::ValidationError naming the option.
std::vector<int64_t> parse_sizes(const std::string& text, const std::string& option,
                                 bool allow_empty);

// A value given for an option, converted by the library (parse_activation, …): a value the
// library refuses is a usage error (exit 2), with the library's message.
template <class F>
auto option_value(F&& convert) -> decltype(convert()) {
  try {
    return convert();
  } catch (const Error& e) {
    throw CLI::ValidationError(e.what());
  }
}

// --precision of the commands that only run a model (eval, predict): fp32 (the default), or bf16
// GEMM inputs with f32 accumulation on CPUs with AVX512_BF16. inference_precision checks that the
// CPU has it (a usage error otherwise) and that the model is float32.
void add_inference_precision(CLI::App* app, std::string& value);
Precision inference_precision(const std::string& value, const Model& model);

// Number checks for options, with messages in the project's form ("is -1, expected a number ≥ 0").
extern const CLI::Validator kNonNegative;  // finite and ≥ 0
extern const CLI::Validator kPositive;     // finite and > 0
extern const CLI::Validator kFinite;       // finite
extern const CLI::Validator kThreads;      // a thread count, 1…max_threads()

// Before a command runs: its output paths (--out, --checkpoint, --report, --grads-out, --html, as
// given or by default) are not empty and name no input file (--data, --labels, --test-data,
// --test-labels, --model, --resume) and no other output, by resolved path; --checkpoint may be
// the --resume file. Throws CLI::ValidationError (a usage error) otherwise.
void check_output_paths(const CLI::App& cmd);

// Prints one JSON object on stdout (the only thing --json writes there).
void print_json(const json& j);

// Log line on stderr.
void log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Options shared by the commands that read a data source.
struct DataOptions {
  std::string data;
  std::string labels;
  std::string label_col;
  // Tables (CSV): dialect, column roles and encoding (see LoadOptions).
  std::string header = "auto";  // auto | yes | no
  std::string delimiter;        // "" detects; one character, or "tab" / "\t"
  std::string decimal = ".";
  std::string na_values;  // comma-separated; unset: the defaults
  bool na_values_given = false;
  std::string ignore_cols, id_col, weight_col, categorical, numeric;
  std::string impute = "mean";
  std::string missing_indicator = "auto";
  // Set by the command, not an option: a model's schema to encode by, and whether its classes are
  // indices.
  const TableSchema* schema = nullptr;
  bool index_labels = false;
};
// The data options of a command; `training` adds those that fit how a table becomes features
// (--weight-col, --categorical, --numeric, --impute, --missing-indicator), which a command that
// runs a model does not take: the model's columns decide.
void add_data_options(CLI::App* app, DataOptions& o, bool required, const std::string& data_help,
                      bool training = false);
Dataset load_data(const DataOptions& o, const std::string& default_split, bool require_labels,
                  const std::vector<std::string>& known_classes = {}, bool read_labels = true);

// Data read for a trained model: a table's columns found by name and encoded by the model's
// schema, labels as its classes (read_labels=false: a label column is skipped). Reports unseen
// categories on stderr.
Dataset load_for_model(DataOptions o, const Model& m, bool require_labels, bool read_labels = true);
void report_unseen(const Dataset& d);
// One CSV field, quoted as RFC 4180 says when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s);

// Evaluation result as JSON, and as text on stderr.
// Items of a comma-separated option value ("a,b" → a, b; a trailing comma gives an empty item).
std::vector<std::string> comma_list(const std::string& s);
// The index of the class named `name` (class_name's names); a usage error of `option` listing the
// classes when none is ("'x' is not a class of <of>; expected one of ...").
int64_t class_index(const std::string& name, const std::vector<std::string>& names, int64_t classes,
                    const std::string& option, const std::string& of);
// --positive-class NAME as a class index (default: class 1, the second name); usage error if it
// names no class.
int64_t positive_class(const std::string& given, const std::vector<std::string>& names,
                       int64_t classes);
// `fcnet eval --json`: every figure of Metrics under the class names (docs in README "eval").
json metrics_json(const Metrics& m, const std::vector<std::string>& class_names, int64_t positive);

}  // namespace fcnet::cli
