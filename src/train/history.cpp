#include "train/history.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "fcnet/error.hpp"
#include "fcnet/text.hpp"
#include "fcnet/train_options.hpp"

namespace fcnet {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// v rounded to 7 significant digits; the JSON writer then prints the short form ("0.8531").
double round7(double v) {
  if (!std::isfinite(v) || v == 0) return v;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", v);
  return std::strtod(buf, nullptr);
}

nlohmann::json rounded(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) a.push_back(std::isfinite(x) ? nlohmann::json(round7(x)) : nlohmann::json());
  return a;
}

double number_or_nan(const nlohmann::json& e, const char* key) {
  const auto it = e.find(key);
  return it != e.end() && it->is_number() ? it->get<double>() : kNaN;
}

std::vector<double> numbers(const nlohmann::json& e, const char* key, const std::string& where) {
  std::vector<double> out;
  const auto it = e.find(key);
  if (it == e.end()) return out;
  if (!it->is_array()) fail(where, std::string("history entry ") + key + " is not a list", "[...]");
  for (const auto& v : *it) out.push_back(v.is_number() ? v.get<double>() : kNaN);
  return out;
}

}  // namespace

nlohmann::json epoch_to_json(const EpochRecord& r, bool compact) {
  auto v = [&](double x) { return compact ? round7(x) : x; };
  nlohmann::json e;
  e["epoch"] = r.epoch;
  e["train_loss"] = v(r.train_loss);
  e["train_accuracy"] = v(r.train_accuracy);
  if (std::isfinite(r.val_loss)) e["val_loss"] = v(r.val_loss);
  if (std::isfinite(r.val_accuracy)) e["val_accuracy"] = v(r.val_accuracy);
  e["lr"] = v(r.lr);
  e["seconds"] = v(r.seconds);
  e["examples"] = r.examples;
  e["steps"] = r.steps;
  e["weight_norms"] = compact ? rounded(r.weight_norms) : nlohmann::json(r.weight_norms);
  e["grad_norms"] = compact ? rounded(r.grad_norms) : nlohmann::json(r.grad_norms);
  return e;
}

std::string epoch_json_text(const EpochRecord& r) {
  return json_text(epoch_to_json(r, false));
}

nlohmann::json epochs_to_json(const std::vector<EpochRecord>& epochs) {
  nlohmann::json h = nlohmann::json::array();
  for (const auto& r : epochs) h.push_back(epoch_to_json(r, true));
  return h;
}

std::vector<EpochRecord> epochs_from_json(const nlohmann::json& history, const std::string& where) {
  if (!history.is_array())
    fail(where, "training history is not a list", "a JSON list of per-epoch objects");
  std::vector<EpochRecord> out;
  for (const auto& e : history) {
    if (!e.is_object() || !e.contains("epoch") || !e["epoch"].is_number_integer())
      fail(where, "training history entry " + std::to_string(out.size() + 1) + " has no epoch",
           "objects with an integer \"epoch\"");
    EpochRecord r;
    r.epoch = e["epoch"].get<int64_t>();
    r.train_loss = number_or_nan(e, "train_loss");
    r.train_accuracy = number_or_nan(e, "train_accuracy");
    r.val_loss = number_or_nan(e, "val_loss");
    r.val_accuracy = number_or_nan(e, "val_accuracy");
    r.lr = number_or_nan(e, "lr");
    r.seconds = number_or_nan(e, "seconds");
    if (e.contains("examples") && e["examples"].is_number_integer())
      r.examples = e["examples"].get<int64_t>();
    if (e.contains("steps") && e["steps"].is_number_integer()) r.steps = e["steps"].get<int64_t>();
    r.weight_norms = numbers(e, "weight_norms", where);
    r.grad_norms = numbers(e, "grad_norms", where);
    out.push_back(std::move(r));
  }
  return out;
}

nlohmann::json training_metadata(const TrainConfig& cfg, const TrainResult& r, const Dataset& train,
                                 int ranks) {
  nlohmann::json j;
  j["data"] = train.source;
  // The options under their keywords (the table's), as the checkpoint writes them, and the
  // precision by its command-line name (f32, f64, tf32, bf16).
  for (const TrainOption& o : train_options())
    if (o.keyword[0] && (!o.written || o.written(cfg))) j[o.keyword] = o.write(cfg);
  j["precision"] = cfg.f64                            ? "f64"
                   : cfg.precision == Precision::fp32 ? "f32"
                                                      : precision_name(cfg.precision);
  j["epochs_run"] = r.epochs.size();
  j["best_epoch"] = r.best_epoch;
  j["train_examples"] = r.train_examples;
  j["val_examples"] = r.val_examples;
  if (!r.epochs.empty()) {
    const auto& e = r.epochs.back();
    j["final_train_loss"] = e.train_loss;
    j["final_train_accuracy"] = e.train_accuracy;
    if (std::isfinite(e.val_accuracy)) j["final_val_accuracy"] = e.val_accuracy;
  }
  if (ranks > 0) j["ranks"] = ranks;
  j["history"] = epochs_to_json(r.epochs);  // lets fcnet report redraw the curves
  return j;
}

}  // namespace fcnet
