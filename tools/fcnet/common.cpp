#include <cmath>
#include <cstdarg>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet::cli {

std::vector<int64_t> parse_sizes(const std::string& text, const std::string& option,
                                 bool allow_empty) {
  std::vector<int64_t> out;
  if (text.empty() || text == "none") {
    if (allow_empty) return out;
    throw CLI::ValidationError(option, "is empty; expected comma-separated positive sizes");
  }
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || item.empty() || v <= 0)
      throw CLI::ValidationError(option, "'" + item + "' in '" + text +
                                             "' is not a positive integer; expected "
                                             "comma-separated positive sizes such as 512,256");
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

namespace {
CLI::Validator number_check(const std::string& name, bool (*ok)(double),
                            const std::string& expected) {
  return CLI::Validator(
      [ok, expected](std::string& text) -> std::string {
        double v = 0;
        std::size_t used = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != text.size() || text.empty()) return "'" + text + "' is not a number";
        if (!ok(v)) return "is " + text + ", expected " + expected;
        return {};
      },
      name);
}
}  // namespace

const CLI::Validator kNonNegative = number_check(
    "NONNEGATIVE", [](double v) { return std::isfinite(v) && v >= 0; }, "a finite number >= 0");
const CLI::Validator kPositive = number_check(
    "POSITIVE", [](double v) { return std::isfinite(v) && v > 0; }, "a finite number > 0");
const CLI::Validator kThreads = number_check(
    "1.." + std::to_string(max_threads()),
    [](double v) { return v >= 1 && v <= max_threads() && v == std::floor(v); },
    "a thread count from 1 to " + std::to_string(max_threads()));
void add_inference_precision(CLI::App* app, std::string& value) {
  app->add_option("--precision", value,
                  "f32, or bf16: GEMM inputs in bfloat16 with f32 accumulation (CPUs with "
                  "AVX512_BF16; a float32 model)")
      ->check(CLI::IsMember({"f32", "fp32", "bf16"}))
      ->capture_default_str();
}

Precision inference_precision(const std::string& value, const Model& model) {
  const Precision p = option_value([&] { return parse_precision(value); });
  if (p != Precision::fp32 && model.f64)
    throw CLI::ValidationError("--precision", value + " needs a float32 model (this one is f64)");
  option_value([&] {
    check_cpu_precision(p);
    return 0;
  });
  return p;
}

const CLI::Validator kFinite = number_check(
    "FINITE", [](double v) { return std::isfinite(v); }, "a finite number");
std::vector<std::string> comma_list(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  if (s.back() == ',') out.emplace_back();
  return out;
}

namespace {

// The value an option has for this run: what was given, else its default.
std::string option_text(const CLI::App& cmd, const char* name, bool& given) {
  const CLI::Option* opt = cmd.get_option_no_throw(name);
  given = opt && opt->count() > 0;
  if (!opt) return {};
  if (given) return opt->results().empty() ? std::string() : opt->results().back();
  return opt->get_default_str();
}

bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ea, eb;
  const fs::path pa = fs::weakly_canonical(fs::absolute(a), ea);
  const fs::path pb = fs::weakly_canonical(fs::absolute(b), eb);
  if (!ea && !eb && pa == pb) return true;
  std::error_code ee;
  return fs::exists(a, ee) && fs::exists(b, ee) && fs::equivalent(a, b, ee);
}
}  // namespace

void check_output_paths(const CLI::App& cmd) {
  static const char* const kOutputs[] = {"--out", "--checkpoint", "--report", "--grads-out",
                                         "--html"};
  static const char* const kInputs[] = {"--data",        "--labels", "--test-data",
                                        "--test-labels", "--model",  "--resume"};
  std::vector<std::pair<std::string, std::string>> outputs, inputs;
  for (const char* name : kOutputs) {
    bool given = false;
    const std::string v = option_text(cmd, name, given);
    if (given && v.empty())
      throw CLI::ValidationError(name, "is empty, expected the path of a file to write");
    if (!v.empty()) outputs.emplace_back(name, v);
  }
  for (const char* name : kInputs) {
    bool given = false;
    for (const std::string& item : comma_list(option_text(cmd, name, given)))
      if (!item.empty()) inputs.emplace_back(name, item);
  }
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const auto& [name, path] = outputs[i];
    for (std::size_t j = i + 1; j < outputs.size(); ++j)
      if (same_file(path, outputs[j].second))
        throw CLI::ValidationError(name, "'" + path + "' is also " + outputs[j].first +
                                             ": one file cannot hold both, expected two paths");
    for (const auto& [in_name, in_path] : inputs) {
      // Continuing to checkpoint into the file a run resumes from is what --resume expects.
      if (name == std::string("--checkpoint") && in_name == std::string("--resume")) continue;
      if (same_file(path, in_path))
        throw CLI::ValidationError(name, "'" + path + "' is the " + in_name + " file '" + in_path +
                                             "': writing it would destroy the input, expected "
                                             "another path");
    }
  }
}

void print_json(const json& j) {
  std::cout << json_text(j, 2) << std::endl;
}

void log(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

void add_data_options(CLI::App* app, DataOptions& o, bool required, const std::string& data_help,
                      bool training) {
  auto* opt = app->add_option("--data", o.data, data_help);
  if (required) opt->required();
  app->add_option("--labels", o.labels, "Label file (IDX or NPY) when the data file has none");
  app->add_option("--label-col", o.label_col,
                  "CSV label column, by name or 0-based index, negative from the end (default: "
                  "'label', else the first; with a model: the model's)");
  app->add_option("--header", o.header,
                  "Whether the CSV's first line names the columns: yes, no, or auto (detected; "
                  "with a model: as its training file had it)")
      ->check(CLI::IsMember({"auto", "yes", "no"}))
      ->capture_default_str();
  app->add_option("--delimiter", o.delimiter,
                  "CSV field separator: one character, or tab (default: detected among , ; tab |)");
  app->add_option("--decimal", o.decimal, "Decimal mark of the CSV's numbers: . or ,")
      ->check(CLI::IsMember({".", ","}))
      ->capture_default_str();
  app->add_option("--na-values", o.na_values,
                  "Comma-separated cells that mean missing (default: NA,,NaN,nan,null,NULL,?)")
      ->each([&o](const std::string&) { o.na_values_given = true; });
  app->add_option("--ignore-cols", o.ignore_cols, "Comma-separated CSV columns never used");
  app->add_option("--id-col", o.id_col,
                  "CSV column identifying each row: never a feature; predict writes it first");
  // How a table becomes features is fitted in training; a model reads its data as its columns
  // say, so the commands that run one do not take these.
  if (!training) return;
  app->add_option("--weight-col", o.weight_col,
                  "CSV column of example weights (numbers >= 0) for the training loss: never a "
                  "feature");
  app->add_option("--categorical", o.categorical,
                  "Comma-separated CSV columns to one-hot encode even if they hold numbers");
  app->add_option("--numeric", o.numeric,
                  "Comma-separated CSV columns that must hold numbers (or missing cells)");
  app->add_option("--impute", o.impute, "Fill of a missing number: the training mean or median")
      ->check(CLI::IsMember({"mean", "median"}))
      ->capture_default_str();
  app->add_option("--missing-indicator", o.missing_indicator,
                  "auto: a 0/1 feature beside each numeric column that had gaps in training; off")
      ->check(CLI::IsMember({"auto", "off"}))
      ->capture_default_str();
}

Dataset load_data(const DataOptions& o, const std::string& default_split, bool require_labels,
                  const std::vector<std::string>& known_classes, bool read_labels) {
  LoadOptions lo;
  lo.read_labels = read_labels;
  lo.labels_path = o.labels;
  lo.label_col = o.label_col;
  lo.require_labels = require_labels;
  lo.default_split = default_split;
  lo.known_classes = known_classes;
  lo.index_labels = o.index_labels;
  lo.schema = o.schema;
  if (o.delimiter == "tab" || o.delimiter == "\\t" || o.delimiter == "\t") {
    lo.delimiter = '\t';
  } else if (!o.delimiter.empty()) {
    if (o.delimiter.size() != 1 || o.delimiter == "\"" || o.delimiter == "\n")
      throw CLI::ValidationError("--delimiter",
                                 "is '" + o.delimiter + "', expected one character or tab");
    lo.delimiter = o.delimiter[0];
  }
  lo.header = o.header == "yes"  ? LoadOptions::Header::present
              : o.header == "no" ? LoadOptions::Header::absent
                                 : LoadOptions::Header::detect;
  lo.decimal = o.decimal.empty() ? '.' : o.decimal[0];
  if (o.na_values_given) lo.na_values = comma_list(o.na_values);
  lo.ignore_cols = comma_list(o.ignore_cols);
  lo.id_col = o.id_col;
  lo.weight_col = o.weight_col;
  lo.categorical = comma_list(o.categorical);
  lo.numeric = comma_list(o.numeric);
  lo.impute_median = o.impute == "median";
  lo.missing_indicator = o.missing_indicator != "off";
  Dataset d = load_dataset(o.data, lo);
  for (const std::string& note : d.notes) log("fcnet: %s: %s", d.source.c_str(), note.c_str());
  return d;
}

Dataset load_for_model(DataOptions o, const Model& m, bool require_labels, bool read_labels) {
  o.weight_col.clear();  // the weights are the training loss's; evaluation ignores the column
  o.schema = m.schema.empty() ? nullptr : &m.schema;
  o.index_labels = m.class_names.empty();
  Dataset d = load_data(o, "test", require_labels, m.class_names, read_labels);
  report_unseen(d);
  return d;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void report_unseen(const Dataset& d) {
  for (const auto& [column, count] : d.unseen)
    log("fcnet: %s: %lld cells of column '%s' hold categories not seen in training (encoded as "
        "all zeros)",
        d.source.c_str(), static_cast<long long>(count), column.c_str());
}

int64_t class_index(const std::string& name, const std::vector<std::string>& names, int64_t classes,
                    const std::string& option, const std::string& of) {
  for (int64_t k = 0; k < classes; ++k)
    if (class_name(names, k) == name) return k;
  std::string all;
  for (int64_t k = 0; k < classes; ++k) all += (k ? ", " : "") + class_name(names, k);
  throw CLI::ValidationError(option,
                             "'" + name + "' is not a class of " + of + "; expected one of " + all);
}

int64_t positive_class(const std::string& given, const std::vector<std::string>& names,
                       int64_t classes) {
  return given.empty() ? 1 : class_index(given, names, classes, "--positive-class", "the model");
}

namespace {
json number_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}
json class_json(const ClassMetrics& c) {
  return {{"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1}, {"support", c.support}};
}
}  // namespace

json metrics_json(const Metrics& m, const std::vector<std::string>& class_names, int64_t positive) {
  json j;
  j["examples"] = m.n;
  j["accuracy"] = number_or_null(m.accuracy);
  j["balanced_accuracy"] = number_or_null(m.balanced_accuracy);
  j["loss"] = number_or_null(m.loss);
  j["roc_auc"] = number_or_null(m.roc_auc);
  j["average_precision"] = number_or_null(m.average_precision);
  if (m.classes > 5) j["top5_accuracy"] = number_or_null(m.top5_accuracy);
  if (m.classes == 2) {
    j["positive_class"] = class_name(class_names, positive);
    j["best_f1_threshold"] = number_or_null(m.best_f1_threshold);
    j["best_f1"] = number_or_null(m.best_f1);
  }
  json classes = json::array();
  for (int64_t k = 0; k < m.classes; ++k)
    classes.push_back(k < static_cast<int64_t>(class_names.size()) ? json(class_names[k])
                                                                   : json(k));
  j["classes"] = classes;
  std::vector<std::vector<int64_t>> conf;
  for (int64_t i = 0; i < m.classes; ++i)
    conf.emplace_back(m.confusion.begin() + i * m.classes,
                      m.confusion.begin() + (i + 1) * m.classes);
  j["confusion"] = conf;
  json pc = json::array();
  for (int64_t k = 0; k < m.classes; ++k) {
    json c = class_json(m.per_class[static_cast<std::size_t>(k)]);
    c["class"] = classes[static_cast<std::size_t>(k)];
    pc.push_back(c);
  }
  j["per_class"] = pc;
  j["macro_avg"] = class_json(m.macro);
  j["weighted_avg"] = class_json(m.weighted);
  return j;
}

}  // namespace fcnet::cli
