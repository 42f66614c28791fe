#include "fcnet/train_options.hpp"

#include <cmath>
#include <cstdio>
#include <string_view>

#include "fcnet/activation.hpp"
#include "train/json_fields.hpp"

namespace fcnet {

using json = nlohmann::json;

namespace {

Device parse_device(const std::string& name) {
  if (name != "cuda" && name != "cpu") fail("--device", "is '" + name + "'", "cpu or cuda");
  return name == "cuda" ? Device::cuda : Device::cpu;
}

// The checks: what a valid value is, or "" when c's is one.
std::string unless(bool ok, const char* expected) {
  return ok ? std::string() : std::string(expected);
}
bool finite_at_least(double v, double lo) {
  return std::isfinite(v) && v >= lo;
}
bool finite_above(double v, double lo) {
  return std::isfinite(v) && v > lo;
}
bool in_unit(double v) {  // [0, 1)
  return v >= 0 && v < 1;
}

// clang-format off
const std::vector<TrainOption> kOptions = {
  {"hidden", "--hidden", "hidden", OptionType::widths,
   "Hidden layer widths, e.g. 512,256 ('none': softmax regression), or auto: 512,256 on 20,000 "
   "training rows or more, else 100",
   [](TrainConfig& c, const json& v) { c.hidden = v.get<std::vector<int64_t>>(); },
   [](const TrainConfig& c) -> json { return c.hidden; },
   [](const TrainConfig& c) {
     for (int64_t h : c.hidden)
       if (h <= 0) return std::string("positive widths");
     return std::string();
   },
   "auto"},
  {"activation", "--activation", "activation", OptionType::name,
   "relu, leaky_relu, tanh, sigmoid, gelu or identity",
   [](TrainConfig& c, const json& v) {
     c.activation.kind = parse_activation(v.get<std::string>(), "--activation"); },
   [](const TrainConfig& c) -> json { return activation_name(c.activation.kind); }},
  {"leaky_relu_alpha", "--leaky-alpha", "leaky_relu_alpha", OptionType::number,
   "leaky_relu's negative slope",
   [](TrainConfig& c, const json& v) { c.activation.alpha = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.activation.alpha; },
   [](const TrainConfig& c) { return unless(std::isfinite(c.activation.alpha), "a finite slope"); }},
  {"optimizer.kind", "--optimizer", "optimizer", OptionType::name,
   "sgd, momentum, nesterov, adam, adamw or rmsprop",
   [](TrainConfig& c, const json& v) { c.optimizer.kind = parse_optimizer(v.get<std::string>()); },
   [](const TrainConfig& c) -> json { return optimizer_name(c.optimizer.kind); }},
  {"schedule.lr", "--lr", "lr", OptionType::number, "Learning rate",
   [](TrainConfig& c, const json& v) { c.schedule.lr = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.schedule.lr; },
   [](const TrainConfig& c) {
     return unless(finite_above(c.schedule.lr, 0), "a positive learning rate"); }},
  {"schedule.kind", "--schedule", "schedule", OptionType::name,
   "constant, step, exponential, cosine, or plateau (x --lr-decay after --plateau-patience "
   "epochs without a better --monitor value)",
   [](TrainConfig& c, const json& v) { c.schedule.kind = parse_schedule(v.get<std::string>()); },
   [](const TrainConfig& c) -> json { return schedule_name(c.schedule.kind); },
   nullptr, "cosine"},
  {"schedule.decay", "--lr-decay", "lr_decay", OptionType::number,
   "Decay factor per epoch (exponential), per --step-epochs (step) or per plateau",
   [](TrainConfig& c, const json& v) { c.schedule.decay = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.schedule.decay; },
   [](const TrainConfig& c) { return unless(finite_above(c.schedule.decay, 0), "a factor > 0"); }},
  {"schedule.step_epochs", "--step-epochs", "step_epochs", OptionType::integer,
   "Epochs between decays of the step schedule",
   [](TrainConfig& c, const json& v) { c.schedule.step_epochs = v.get<int64_t>(); },
   [](const TrainConfig& c) -> json { return c.schedule.step_epochs; },
   [](const TrainConfig& c) { return unless(c.schedule.step_epochs >= 1, "at least 1"); }},
  {"schedule.min_lr", "", "min_lr", OptionType::number, "The cosine schedule's floor",
   [](TrainConfig& c, const json& v) { c.schedule.min_lr = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.schedule.min_lr; },
   [](const TrainConfig& c) {
     return unless(finite_at_least(c.schedule.min_lr, 0), "a learning rate >= 0"); }},
  {"warmup_epochs", "--warmup", "warmup_epochs", OptionType::number,
   "Linear warmup, in epochs (may be fractional)",
   [](TrainConfig& c, const json& v) { c.warmup_epochs = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.warmup_epochs; },
   [](const TrainConfig& c) {
     return unless(finite_at_least(c.warmup_epochs, 0) && c.warmup_epochs <= 1e6,
                   "a number of epochs from 0 to 1e6"); }},
  {"optimizer.momentum", "--momentum", "momentum", OptionType::number,
   "Momentum of momentum/nesterov",
   [](TrainConfig& c, const json& v) { c.optimizer.momentum = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.optimizer.momentum; },
   [](const TrainConfig& c) {
     return unless(c.optimizer.momentum >= 0 && c.optimizer.momentum <= 1, "a momentum in [0, 1]"); }},
  {"optimizer.beta1", "", "beta1", OptionType::number, "Adam's first-moment decay",
   [](TrainConfig& c, const json& v) { c.optimizer.beta1 = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.optimizer.beta1; },
   [](const TrainConfig& c) { return unless(in_unit(c.optimizer.beta1), "a decay rate in [0, 1)"); }},
  {"optimizer.beta2", "", "beta2", OptionType::number, "Adam's second-moment decay",
   [](TrainConfig& c, const json& v) { c.optimizer.beta2 = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.optimizer.beta2; },
   [](const TrainConfig& c) { return unless(in_unit(c.optimizer.beta2), "a decay rate in [0, 1)"); }},
  {"optimizer.eps", "", "eps", OptionType::number, "Adam's and rmsprop's epsilon",
   [](TrainConfig& c, const json& v) { c.optimizer.eps = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.optimizer.eps; },
   [](const TrainConfig& c) { return unless(finite_above(c.optimizer.eps, 0), "a finite number > 0"); }},
  {"optimizer.alpha", "", "rmsprop_alpha", OptionType::number, "rmsprop's smoothing constant",
   [](TrainConfig& c, const json& v) { c.optimizer.alpha = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.optimizer.alpha; },
   [](const TrainConfig& c) {
     return unless(in_unit(c.optimizer.alpha), "a smoothing constant in [0, 1)"); }},
  {"optimizer.weight_decay", "--weight-decay", "weight_decay", OptionType::number,
   "adamw's decoupled weight decay",
   [](TrainConfig& c, const json& v) { c.optimizer.weight_decay = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.optimizer.weight_decay; },
   [](const TrainConfig& c) {
     return unless(finite_at_least(c.optimizer.weight_decay, 0), "a finite decay >= 0"); }},
  {"reg", "--reg", "reg", OptionType::number, "L2 regularization reg·Σ‖W‖² (weights only)",
   [](TrainConfig& c, const json& v) { c.reg = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.reg; },
   [](const TrainConfig& c) { return unless(finite_at_least(c.reg, 0), "a non-negative strength"); }},
  {"dropout", "--dropout", "dropout", OptionType::number,
   "Drop probability on hidden units (inverted dropout), or auto: 0 on 20,000 training rows or "
   "more, else 0.2",
   [](TrainConfig& c, const json& v) { c.dropout = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.dropout; },
   [](const TrainConfig& c) { return unless(in_unit(c.dropout), "a drop probability in [0, 1)"); },
   "auto"},
  // The command line reads "balanced" or NAME=W,... against the data (cmd_train.cpp).
  {"class_weights", "--class-weight", "class_weights", OptionType::numbers,
   "Weights of the classes in the loss: balanced (n / (classes x count), as scikit-learn), or "
   "NAME=W,... (others 1)",
   [](TrainConfig& c, const json& v) { c.class_weights = v.get<std::vector<double>>(); },
   [](const TrainConfig& c) -> json { return c.class_weights; },
   [](const TrainConfig& c) {
     bool any = c.class_weights.empty();
     for (double w : c.class_weights) {
       if (!finite_at_least(w, 0)) return std::string("finite weights >= 0");
       any = any || w > 0;
     }
     return unless(any, "finite weights >= 0, one of them positive");
   },
   "", [](TrainConfig& c) { c.class_weights.clear(); },
   [](const TrainConfig& c) { return !c.class_weights.empty(); }},
  {"batch", "--batch", "batch", OptionType::integer, "Minibatch size",
   [](TrainConfig& c, const json& v) { c.batch = v.get<int64_t>(); },
   [](const TrainConfig& c) -> json { return c.batch; },
   [](const TrainConfig& c) { return unless(c.batch > 0, "a positive batch size"); }},
  {"epochs", "--epochs", "epochs", OptionType::integer,
   "Passes over the data, or auto: 15 on 20,000 training rows or more, else enough for 2,000 "
   "steps (at least 15)",
   [](TrainConfig& c, const json& v) { c.epochs = v.get<int64_t>(); },
   [](const TrainConfig& c) -> json { return c.epochs; },
   [](const TrainConfig& c) { return unless(c.epochs > 0, "a positive count"); },
   "auto"},
  {"max_steps", "--max-steps", "max_steps", OptionType::integer,
   "Stop after this many optimizer steps (0: no limit)",
   [](TrainConfig& c, const json& v) { c.max_steps = v.get<int64_t>(); },
   [](const TrainConfig& c) -> json { return c.max_steps; },
   [](const TrainConfig& c) { return unless(c.max_steps >= 0, "a count >= 0"); }},
  {"val_split", "--val-split", "val_split", OptionType::number,
   "Fraction of the training data held out for validation",
   [](TrainConfig& c, const json& v) { c.val_split = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.val_split; },
   [](const TrainConfig& c) { return unless(in_unit(c.val_split), "a fraction in [0, 1)"); }},
  {"patience", "--patience", "patience", OptionType::integer,
   "Stop after this many epochs without a better --monitor value (0: off); the best weights are "
   "kept",
   [](TrainConfig& c, const json& v) { c.patience = v.get<int64_t>(); },
   [](const TrainConfig& c) -> json { return c.patience; },
   [](const TrainConfig& c) { return unless(c.patience >= 0, "a count >= 0"); }},
  // Checkpoints from before --monitor watched the validation accuracy.
  {"monitor", "--monitor", "monitor", OptionType::name,
   "What early stopping, the kept weights and the plateau schedule watch on the validation split "
   "(val_loss, val_accuracy, val_balanced_accuracy, val_roc_auc; without a split, the plateau "
   "schedule watches the training loss), or train_loss (no validation needed; the last weights "
   "are kept)",
   [](TrainConfig& c, const json& v) { c.monitor = parse_monitor(v.get<std::string>()); },
   [](const TrainConfig& c) -> json { return monitor_name(c.monitor); },
   nullptr, nullptr, [](TrainConfig& c) { c.monitor = Monitor::val_accuracy; }},
  {"min_delta", "--min-delta", "min_delta", OptionType::number,
   "An epoch counts as an improvement for --patience and the plateau schedule only when it beats "
   "the best --monitor value by more than this",
   [](TrainConfig& c, const json& v) { c.min_delta = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.min_delta; },
   [](const TrainConfig& c) { return unless(finite_at_least(c.min_delta, 0), "a finite margin >= 0"); },
   nullptr, [](TrainConfig& c) { c.min_delta = 0; },
   [](const TrainConfig& c) { return c.min_delta != 0; }},
  {"plateau_patience", "--plateau-patience", "plateau_patience", OptionType::integer,
   "Epochs without improvement before the plateau schedule decays the rate",
   [](TrainConfig& c, const json& v) { c.plateau_patience = v.get<int64_t>(); },
   [](const TrainConfig& c) -> json { return c.plateau_patience; },
   [](const TrainConfig& c) { return unless(c.plateau_patience >= 1, "at least 1"); },
   nullptr, [](TrainConfig& c) { c.plateau_patience = 5; }},
  {"normalize", "--normalize", "normalize", OptionType::name,
   "auto (uint8: /255, else standardize), none, scale or standardize",
   [](TrainConfig& c, const json& v) { c.normalize = parse_normalize(v.get<std::string>()); },
   [](const TrainConfig& c) -> json { return normalize_name(c.normalize); }},
  {"init", "--init", "init", OptionType::name, "Weight initialization: he, xavier or normal",
   [](TrainConfig& c, const json& v) { c.init = parse_init(v.get<std::string>()); },
   [](const TrainConfig& c) -> json { return init_name(c.init); }},
  {"init_std", "--init-std", "init_std", OptionType::number, "Standard deviation for --init normal",
   [](TrainConfig& c, const json& v) { c.init_std = v.get<double>(); },
   [](const TrainConfig& c) -> json { return c.init_std; },
   [](const TrainConfig& c) { return unless(finite_above(c.init_std, 0), "a finite number > 0"); }},
  {"seed", "--seed", "seed", OptionType::seed, "Random seed (initialization, shuffling, dropout)",
   [](TrainConfig& c, const json& v) { c.seed = v.get<uint64_t>(); },
   [](const TrainConfig& c) -> json { return c.seed; }},
  // --precision f64 sets it (the precision row reads the flag).
  {"f64", "--precision", "", OptionType::boolean, "",
   [](TrainConfig& c, const json& v) { c.f64 = v.get<bool>(); },
   [](const TrainConfig& c) -> json { return c.f64; }},
  {"precision", "--precision", "precision", OptionType::name,
   "f32 (fast), bf16 (GEMM inputs in bfloat16 with f32 accumulation: CPUs with AVX512_BF16, and "
   "CUDA), f64 (double, reference kernels, CPU), or tf32 (CUDA)",
   [](TrainConfig& c, const json& v) {
     const std::string p = v.get<std::string>();
     if (p == "f64") c.f64 = true;  // a name of the command line and the binding, never written
     else if (p == "f32" || p == "fp32" || p == "tf32" || p == "bf16") c.precision = parse_precision(p);
     else fail("--precision", "is '" + p + "'", "one of f32, bf16, f64, tf32");
   },
   [](const TrainConfig& c) -> json { return precision_name(c.precision); },
   nullptr, "f32", [](TrainConfig& c) { c.precision = Precision::fp32; },
   [](const TrainConfig& c) { return c.device == Device::cuda || c.precision != Precision::fp32; }},
  // A CPU run records no device.
  {"device", "--device", "device", OptionType::name,
   "cpu, or cuda (GPU 0, or rank r's GPU r mod count under mpirun; needs a build with FCNET_CUDA)",
   [](TrainConfig& c, const json& v) { c.device = parse_device(v.get<std::string>()); },
   [](const TrainConfig& c) -> json { return c.device == Device::cuda ? "cuda" : "cpu"; },
   nullptr, nullptr, [](TrainConfig& c) { c.device = Device::cpu; },
   [](const TrainConfig& c) { return c.device == Device::cuda; }},
};
// clang-format on

// Whether v is a value of type t.
bool of_type(OptionType t, const json& v) {
  auto all = [&](bool (json::*is)() const) {
    if (!v.is_array()) return false;
    for (const auto& x : v)
      if (!(x.*is)()) return false;
    return true;
  };
  switch (t) {
    case OptionType::number:
      return v.is_number();
    case OptionType::integer:
      return v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX);
    case OptionType::seed:
      return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
    case OptionType::name:
      return v.is_string();
    case OptionType::widths:
      return all(&json::is_number_integer);
    case OptionType::numbers:
      return all(&json::is_number);
    case OptionType::boolean:
      return v.is_boolean();
  }
  return false;
}

std::string type_problem(OptionType t, const json& v) {
  return of_type(t, v) ? "" : option_type_text(t);
}

// A value as a message shows it: numbers as people write them (-1, 0.001), the rest as JSON.
std::string shown(const json& v) {
  if (v.is_number_float()) {
    char b[32];
    double back = 0;
    for (int digits = 1; digits <= 17; ++digits) {  // the shortest text that reads back the same
      std::snprintf(b, sizeof b, "%.*g", digits, v.get<double>());
      if (std::sscanf(b, "%lf", &back) == 1 && back == v.get<double>()) break;
    }
    return b;
  }
  std::string s;
  if (v.is_array()) {
    for (const auto& x : v) {
      s += (s.empty() ? "[" : ", ") + shown(x);
      if (s.size() > 60) return s.substr(0, 57) + "...]";
    }
    return s.empty() ? "[]" : s + "]";
  }
  if (v.is_number() && !std::isfinite(v.get<double>())) return "nan";
  s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

std::string name_of(const TrainOption& o) {
  return o.flag[0] ? o.flag : o.keyword[0] ? o.keyword : o.key;
}

// The object holding a dotted key's last part (created when writing), and that part.
std::pair<std::string, std::string> split_key(const std::string& key) {
  const auto dot = key.find('.');
  if (dot == std::string::npos) return {"", key};
  return {key.substr(0, dot), key.substr(dot + 1)};
}

// Sets option `o` of c to `v`: its type, then its names (set), then its check. Errors name
// `where`, after `field` (a checkpoint's field, whose name-parser errors are relabelled), or
// `where` alone when `field` is empty (the flag or keyword, which the parsers already name).
void apply(const TrainOption& o, TrainConfig& c, const json& v, const std::string& where,
           const std::string& field) {
  if (const std::string want = type_problem(o.type, v); !want.empty())
    fail(where, field + "is " + shown(v), want);
  if (field.empty()) {
    o.set(c, v);
  } else {
    try {
      o.set(c, v);
    } catch (const Error& e) {
      fail(where, field.substr(0, field.size() - 1) + ": " + e.what());
    }
  }
  if (o.check)
    if (const std::string want = o.check(c); !want.empty())
      fail(where, field + "is " + shown(v), want);
}

// Reads option `o` from the "config" object `f` into c; errors name the file and the field.
void read_option(const TrainOption& o, TrainConfig& c, const detail::Fields& f) {
  const auto [outer, leaf] = split_key(o.key);
  const detail::Fields inner = outer.empty() ? f : f.obj(outer);
  if (o.absent && !inner.raw().contains(leaf)) {
    o.absent(c);
    return;
  }
  if (!inner.raw().contains(leaf))
    fail(f.where(), "checkpoint lacks field '" + inner.name(leaf) + "'",
         "a complete checkpoint written by fcnet train");
  apply(o, c, inner.raw().at(leaf), f.where(), "checkpoint field '" + inner.name(leaf) + "' ");
}

}  // namespace

const std::vector<TrainOption>& train_options() {
  return kOptions;
}

const char* option_type_text(OptionType t) {
  switch (t) {
    case OptionType::number:
      return "a number";
    case OptionType::integer:
      return "a whole number";
    case OptionType::seed:
      return "a whole number >= 0";
    case OptionType::name:
      return "a name";
    case OptionType::widths:
      return "a list of whole numbers";
    case OptionType::numbers:
      return "a list of numbers";
    case OptionType::boolean:
      return "true or false";
  }
  return "";
}

const TrainOption* option_by_flag(const std::string& flag) {
  for (const TrainOption& o : kOptions)
    if (flag == o.flag && o.help[0]) return &o;
  return nullptr;
}

const TrainOption* option_by_keyword(const std::string& keyword) {
  for (const TrainOption& o : kOptions)
    if (o.keyword[0] && keyword == o.keyword) return &o;
  return nullptr;
}

void set_option(const TrainOption& o, TrainConfig& c, const json& v, const std::string& name) {
  apply(o, c, v, name, "");
}

json option_value_of_text(const TrainOption& o, const std::string& text) {
  // A text that is not a value of the type: the whole text, and what was expected.
  auto refuse = [&]() {
    const bool auto_too = o.worked_out_from_data();
    fail(o.flag, "is '" + text + "'",
         std::string(option_type_text(o.type)) +
             (o.type == OptionType::widths || o.type == OptionType::numbers ? ", comma-separated"
                                                                            : "") +
             (auto_too ? ", or auto" : ""));
  };
  auto number = [&](const std::string& s, bool whole) -> json {
    std::size_t used = 0;
    json v;
    try {
      if (!whole)
        v = std::stod(s, &used);
      else if (o.type == OptionType::seed && s.find('-') == std::string::npos)
        v = static_cast<uint64_t>(std::stoull(s, &used));
      else
        v = static_cast<int64_t>(std::stoll(s, &used));
    } catch (const std::exception&) {
      used = 0;
    }
    if (s.empty() || used != s.size()) refuse();
    return v;
  };
  auto list = [&](bool whole) {
    json a = json::array();
    if (text == "none" || text.empty()) return a;
    std::size_t from = 0;
    for (;;) {
      const std::size_t comma = text.find(',', from);
      a.push_back(number(text.substr(from, comma - from), whole));
      if (comma == std::string::npos) return a;
      from = comma + 1;
    }
  };
  switch (o.type) {
    case OptionType::number:
      return number(text, false);
    case OptionType::integer:
    case OptionType::seed:
      return number(text, true);
    case OptionType::name:
      return text;
    case OptionType::widths:
      return list(true);
    case OptionType::numbers:
      return list(false);
    case OptionType::boolean:
      if (text != "true" && text != "false") fail(o.flag, "is '" + text + "'", "true or false");
      return text == "true";
  }
  return text;
}

std::string option_default_text(const TrainOption& o) {
  if (o.cli_default) return o.cli_default;
  const json v = o.write(TrainConfig{});
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x.dump();
    return v.empty() && o.type == OptionType::widths ? "none" : s;
  }
  return shown(v);
}

void check_config(const TrainConfig& c) {
  for (const TrainOption& o : kOptions)
    if (o.check)
      if (const std::string want = o.check(c); !want.empty())
        fail(name_of(o), "is " + shown(o.write(c)), want);
  if (c.device == Device::cpu && c.f64 && c.precision != Precision::fp32)
    fail("--precision", std::string("is ") + precision_name(c.precision) + " and f64",
         "one of them (f64 computes in double throughout)");
  if (c.device == Device::cpu) check_cpu_precision(c.precision);
  if (c.device == Device::cuda && c.f64)
    fail("--precision", "is f64 on --device cuda",
         "fp32, tf32 or bf16 on the device (f64: the CPU)");
}

std::string in_keywords(const std::string& message) {
  const std::size_t colon = message.find(':');
  if (colon == std::string::npos) return message;
  const TrainOption* o = option_by_flag(message.substr(0, colon));
  if (!o || !o->keyword[0]) return message;
  return o->keyword + message.substr(colon);
}

void merge_resumed_options(TrainConfig& into, const TrainConfig& from,
                           const std::function<bool(const std::string& flag)>& given) {
  const json saved = detail::config_to_json(from);
  const detail::Fields f(saved, "checkpoint", "config");
  for (const TrainOption& o : kOptions)
    if (o.flag[0] == '\0' || !given(o.flag)) read_option(o, into, f);
}

json detail::config_to_json(const TrainConfig& c) {
  json j = json::object();
  for (const TrainOption& o : kOptions) {
    if (o.written && !o.written(c)) continue;
    const auto [outer, leaf] = split_key(o.key);
    (outer.empty() ? j : j[outer])[leaf] = o.write(c);
  }
  return j;
}

TrainConfig detail::config_from_json(const Fields& f) {
  TrainConfig c;
  for (const TrainOption& o : kOptions) read_option(o, c, f);
  return c;
}

}  // namespace fcnet
