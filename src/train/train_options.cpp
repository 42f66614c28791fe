#include "train/train_options.hpp"

#include <cmath>

#include "fcnet/activation.hpp"

namespace fcnet::detail {

using json = nlohmann::json;

namespace {

// A named enum read through its parser, the parser's error re-labelled with the field.
template <class E>
void read_named(E& out, const Fields& f, const std::string& leaf, E (*parse)(const std::string&)) {
  out = f.parsed(leaf, parse);
}

Activation parse_activation_field(const std::string& s) {
  return parse_activation(s, "activation");
}

Device parse_device(const std::string& name) {
  if (name != "cuda" && name != "cpu") fail("device", "is '" + name + "'", "cpu or cuda");
  return name == "cuda" ? Device::cuda : Device::cpu;
}

std::vector<int64_t> positive_widths(const Fields& f, const std::string& leaf) {
  std::vector<int64_t> v;
  for (const auto& h : f.arr(leaf)) {
    if (!h.is_number_integer() || h.get<int64_t>() <= 0)
      fail(f.name(leaf), "holds " + h.dump(), "positive widths");
    v.push_back(h.get<int64_t>());
  }
  return v;
}

// clang-format off
const std::vector<TrainOption> kOptions = {
  {"hidden", "--hidden",
   [](const TrainConfig& c) -> json { return c.hidden; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.hidden = positive_widths(f, k); }},
  {"activation", "--activation",
   [](const TrainConfig& c) -> json { return activation_name(c.activation.kind); },
   [](TrainConfig& c, const Fields& f, const std::string& k) {
     read_named(c.activation.kind, f, k, parse_activation_field); }},
  {"leaky_relu_alpha", "--leaky-alpha",
   [](const TrainConfig& c) -> json { return c.activation.alpha; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.activation.alpha = f.num(k); }},
  {"init", "--init",
   [](const TrainConfig& c) -> json { return init_name(c.init); },
   [](TrainConfig& c, const Fields& f, const std::string& k) { read_named(c.init, f, k, parse_init); }},
  {"init_std", "--init-std",
   [](const TrainConfig& c) -> json { return c.init_std; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.init_std = f.num(k); }},
  {"optimizer.kind", "--optimizer",
   [](const TrainConfig& c) -> json { return optimizer_name(c.optimizer.kind); },
   [](TrainConfig& c, const Fields& f, const std::string& k) {
     read_named(c.optimizer.kind, f, k, parse_optimizer); }},
  {"optimizer.momentum", "--momentum",
   [](const TrainConfig& c) -> json { return c.optimizer.momentum; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.optimizer.momentum = f.num(k); }},
  {"optimizer.beta1", "",
   [](const TrainConfig& c) -> json { return c.optimizer.beta1; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.optimizer.beta1 = f.num(k); }},
  {"optimizer.beta2", "",
   [](const TrainConfig& c) -> json { return c.optimizer.beta2; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.optimizer.beta2 = f.num(k); }},
  {"optimizer.eps", "",
   [](const TrainConfig& c) -> json { return c.optimizer.eps; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.optimizer.eps = f.num(k); }},
  {"optimizer.alpha", "",
   [](const TrainConfig& c) -> json { return c.optimizer.alpha; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.optimizer.alpha = f.num(k); }},
  {"optimizer.weight_decay", "--weight-decay",
   [](const TrainConfig& c) -> json { return c.optimizer.weight_decay; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.optimizer.weight_decay = f.num(k); }},
  {"schedule.kind", "--schedule",
   [](const TrainConfig& c) -> json { return schedule_name(c.schedule.kind); },
   [](TrainConfig& c, const Fields& f, const std::string& k) {
     read_named(c.schedule.kind, f, k, parse_schedule); }},
  {"schedule.lr", "--lr",
   [](const TrainConfig& c) -> json { return c.schedule.lr; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.schedule.lr = f.num(k); }},
  {"schedule.decay", "--lr-decay",
   [](const TrainConfig& c) -> json { return c.schedule.decay; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.schedule.decay = f.num(k); }},
  {"schedule.step_epochs", "--step-epochs",
   [](const TrainConfig& c) -> json { return c.schedule.step_epochs; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.schedule.step_epochs = f.int64(k, 1); }},
  {"schedule.min_lr", "",
   [](const TrainConfig& c) -> json { return c.schedule.min_lr; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.schedule.min_lr = f.num(k); }},
  {"warmup_epochs", "--warmup",
   [](const TrainConfig& c) -> json { return c.warmup_epochs; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.warmup_epochs = f.num(k); }},
  {"reg", "--reg",
   [](const TrainConfig& c) -> json { return c.reg; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.reg = f.num(k); }},
  {"dropout", "--dropout",
   [](const TrainConfig& c) -> json { return c.dropout; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.dropout = f.num(k); }},
  {"class_weights", "--class-weight",
   [](const TrainConfig& c) -> json { return c.class_weights; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.class_weights = f.doubles(k); },
   [](TrainConfig& c) { c.class_weights.clear(); },
   [](const TrainConfig& c) { return !c.class_weights.empty(); }},
  {"batch", "--batch",
   [](const TrainConfig& c) -> json { return c.batch; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.batch = f.int64(k, 1); }},
  {"epochs", "--epochs",
   [](const TrainConfig& c) -> json { return c.epochs; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.epochs = f.int64(k, 1); }},
  {"max_steps", "--max-steps",
   [](const TrainConfig& c) -> json { return c.max_steps; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.max_steps = f.int64(k, 0); }},
  {"val_split", "--val-split",
   [](const TrainConfig& c) -> json { return c.val_split; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.val_split = f.num(k); }},
  {"patience", "--patience",
   [](const TrainConfig& c) -> json { return c.patience; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.patience = f.int64(k, 0); }},
  // Checkpoints from before --monitor watched the validation accuracy.
  {"monitor", "--monitor",
   [](const TrainConfig& c) -> json { return monitor_name(c.monitor); },
   [](TrainConfig& c, const Fields& f, const std::string& k) { read_named(c.monitor, f, k, parse_monitor); },
   [](TrainConfig& c) { c.monitor = Monitor::val_accuracy; }},
  {"min_delta", "--min-delta",
   [](const TrainConfig& c) -> json { return c.min_delta; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.min_delta = f.num(k); },
   [](TrainConfig& c) { c.min_delta = 0; },
   [](const TrainConfig& c) { return c.min_delta != 0; }},
  {"plateau_patience", "--plateau-patience",
   [](const TrainConfig& c) -> json { return c.plateau_patience; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.plateau_patience = f.int64(k, 1); },
   [](TrainConfig& c) { c.plateau_patience = 5; }},
  {"normalize", "--normalize",
   [](const TrainConfig& c) -> json { return normalize_name(c.normalize); },
   [](TrainConfig& c, const Fields& f, const std::string& k) {
     read_named(c.normalize, f, k, parse_normalize); }},
  {"seed", "--seed",
   [](const TrainConfig& c) -> json { return c.seed; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.seed = f.u64(k); }},
  {"f64", "--precision",
   [](const TrainConfig& c) -> json { return c.f64; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { c.f64 = f.boolean(k); }},
  // A CPU run records no device.
  {"device", "--device",
   [](const TrainConfig& c) -> json { return c.device == Device::cuda ? "cuda" : "cpu"; },
   [](TrainConfig& c, const Fields& f, const std::string& k) { read_named(c.device, f, k, parse_device); },
   [](TrainConfig& c) { c.device = Device::cpu; },
   [](const TrainConfig& c) { return c.device == Device::cuda; }},
  {"precision", "--precision",
   [](const TrainConfig& c) -> json { return precision_name(c.precision); },
   [](TrainConfig& c, const Fields& f, const std::string& k) {
     read_named(c.precision, f, k, parse_precision); },
   [](TrainConfig& c) { c.precision = Precision::fp32; },
   [](const TrainConfig& c) { return c.device == Device::cuda || c.precision != Precision::fp32; }},
};
// clang-format on

}  // namespace

const std::vector<TrainOption>& train_options() {
  return kOptions;
}

// The object holding a dotted key's last part (created when writing), and that part.
std::pair<std::string, std::string> split_key(const std::string& key) {
  const auto dot = key.find('.');
  if (dot == std::string::npos) return {"", key};
  return {key.substr(0, dot), key.substr(dot + 1)};
}

void read_option(const TrainOption& o, TrainConfig& c, const Fields& f) {
  const auto [outer, leaf] = split_key(o.key);
  const Fields inner = outer.empty() ? f : f.obj(outer);
  if (o.absent && !inner.raw().contains(leaf))
    o.absent(c);
  else
    o.read(c, inner, leaf);
}

json config_to_json(const TrainConfig& c) {
  json j = json::object();
  for (const TrainOption& o : kOptions) {
    if (o.written && !o.written(c)) continue;
    const auto [outer, leaf] = split_key(o.key);
    (outer.empty() ? j : j[outer])[leaf] = o.write(c);
  }
  return j;
}

TrainConfig config_from_json(const Fields& f) {
  TrainConfig c;
  for (const TrainOption& o : kOptions) read_option(o, c, f);
  return c;
}

}  // namespace fcnet::detail

namespace fcnet {

void merge_resumed_options(TrainConfig& into, const TrainConfig& from,
                           const std::function<bool(const std::string& flag)>& given) {
  const nlohmann::json saved = detail::config_to_json(from);
  const detail::Fields f(saved, "checkpoint", "config");
  for (const detail::TrainOption& o : detail::train_options())
    if (o.flag[0] == '\0' || !given(o.flag)) detail::read_option(o, into, f);
}

}  // namespace fcnet
