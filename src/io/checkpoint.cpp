#include "fcnet/checkpoint.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include "fcnet/text.hpp"

namespace fcnet {

using json = nlohmann::json;

namespace {

constexpr const char* kStatePrefix = "state.";
constexpr int kVersion = 1;

const char* normalize_name(Normalize n) {
  switch (n) {
    case Normalize::automatic:
      return "auto";
    case Normalize::none:
      return "none";
    case Normalize::scale:
      return "scale";
    case Normalize::standardize:
      return "standardize";
  }
  return "auto";
}

// Typed access to a JSON object with messages naming the file and the field's path.
class Fields {
 public:
  const json& raw() const { return j_; }
  const std::string& where() const { return where_; }
  Fields(const json& j, std::string where, std::string path)
      : j_(j), where_(std::move(where)), path_(std::move(path)) {
    if (!j_.is_object()) fail(where_, "checkpoint field '" + path_ + "' is not an object", "{...}");
  }
  const json& at(const std::string& key, bool (json::*is)() const, const char* type) const {
    auto it = j_.find(key);
    if (it == j_.end())
      fail(where_, "checkpoint lacks field '" + name(key) + "'",
           "a complete checkpoint written by fcnet train");
    if (!((*it).*is)())
      fail(where_, "checkpoint field '" + name(key) + "' is " + it->dump().substr(0, 40),
           std::string(type));
    return *it;
  }
  double num(const std::string& key) const {
    return at(key, &json::is_number, "a number").get<double>();
  }
  // A finite number, or NaN for null (JSON has no NaN; records store absent values as null).
  double num_or_nan(const std::string& key) const {
    auto it = j_.find(key);
    if (it != j_.end() && it->is_null()) return std::numeric_limits<double>::quiet_NaN();
    return num(key);
  }
  int64_t int64(const std::string& key, int64_t lo = std::numeric_limits<int64_t>::min()) const {
    const json& v = at(key, &json::is_number_integer, "an integer");
    const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX
                          ? std::numeric_limits<int64_t>::max()
                          : v.get<int64_t>();
    if (x < lo)
      fail(where_, "checkpoint field '" + name(key) + "' is " + std::to_string(x),
           "a value >= " + std::to_string(lo));
    return x;
  }
  uint64_t u64(const std::string& key) const {
    return at(key, &json::is_number_unsigned, "a non-negative integer").get<uint64_t>();
  }
  std::string str(const std::string& key) const {
    return at(key, &json::is_string, "a string").get<std::string>();
  }
  bool boolean(const std::string& key) const {
    return at(key, &json::is_boolean, "true or false").get<bool>();
  }
  Fields obj(const std::string& key) const {
    return Fields(at(key, &json::is_object, "an object"), where_, name(key));
  }
  const json& arr(const std::string& key) const { return at(key, &json::is_array, "a list"); }
  std::vector<double> doubles(const std::string& key) const {
    std::vector<double> v;
    for (const auto& x : arr(key)) {
      if (!x.is_number()) fail(where_, "checkpoint field '" + name(key) + "' holds a non-number");
      v.push_back(x.get<double>());
    }
    return v;
  }
  // Runs `parse` (one of the name parsers) and re-labels its error with the file.
  template <class F>
  auto parsed(const std::string& key, F parse) const {
    const std::string s = str(key);
    try {
      return parse(s);
    } catch (const Error& e) {
      fail(where_, "checkpoint field '" + name(key) + "': " + e.what());
    }
  }
  std::string name(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const json& j_;
  std::string where_;
  std::string path_;
};

json config_json(const TrainConfig& c) {
  json j;
  j["hidden"] = c.hidden;
  j["activation"] = activation_name(c.activation.kind);
  j["leaky_relu_alpha"] = c.activation.alpha;
  j["init"] = init_name(c.init);
  j["init_std"] = c.init_std;
  j["optimizer"] = {{"kind", optimizer_name(c.optimizer.kind)},
                    {"momentum", c.optimizer.momentum},
                    {"beta1", c.optimizer.beta1},
                    {"beta2", c.optimizer.beta2},
                    {"eps", c.optimizer.eps},
                    {"alpha", c.optimizer.alpha},
                    {"weight_decay", c.optimizer.weight_decay}};
  j["schedule"] = {{"kind", schedule_name(c.schedule.kind)},
                   {"lr", c.schedule.lr},
                   {"decay", c.schedule.decay},
                   {"step_epochs", c.schedule.step_epochs},
                   {"min_lr", c.schedule.min_lr}};
  j["warmup_epochs"] = c.warmup_epochs;
  j["reg"] = c.reg;
  j["dropout"] = c.dropout;
  if (!c.class_weights.empty()) j["class_weights"] = c.class_weights;
  j["batch"] = c.batch;
  j["epochs"] = c.epochs;
  j["max_steps"] = c.max_steps;
  j["val_split"] = c.val_split;
  j["patience"] = c.patience;
  j["monitor"] = monitor_name(c.monitor);
  j["plateau_patience"] = c.plateau_patience;
  if (c.min_delta != 0) j["min_delta"] = c.min_delta;
  j["normalize"] = normalize_name(c.normalize);
  j["seed"] = c.seed;
  j["f64"] = c.f64;
  if (c.device == Device::cuda) {
    j["device"] = "cuda";
    j["precision"] = precision_name(c.precision);
  }
  return j;
}

TrainConfig config_from(const Fields& f) {
  TrainConfig c;
  c.hidden.clear();
  for (const auto& h : f.arr("hidden")) {
    if (!h.is_number_integer() || h.get<int64_t>() <= 0)
      fail(f.name("hidden"), "holds " + h.dump(), "positive widths");
    c.hidden.push_back(h.get<int64_t>());
  }
  c.activation.kind = f.parsed(
      "activation", [](const std::string& s) { return parse_activation(s, "activation"); });
  c.activation.alpha = f.num("leaky_relu_alpha");
  c.init = f.parsed("init", parse_init);
  c.init_std = f.num("init_std");
  const Fields o = f.obj("optimizer");
  c.optimizer.kind = o.parsed("kind", parse_optimizer);
  c.optimizer.momentum = o.num("momentum");
  c.optimizer.beta1 = o.num("beta1");
  c.optimizer.beta2 = o.num("beta2");
  c.optimizer.eps = o.num("eps");
  c.optimizer.alpha = o.num("alpha");
  c.optimizer.weight_decay = o.num("weight_decay");
  const Fields s = f.obj("schedule");
  c.schedule.kind = s.parsed("kind", parse_schedule);
  c.schedule.lr = s.num("lr");
  c.schedule.decay = s.num("decay");
  c.schedule.step_epochs = s.int64("step_epochs", 1);
  c.schedule.min_lr = s.num("min_lr");
  c.warmup_epochs = f.num("warmup_epochs");
  c.reg = f.num("reg");
  c.dropout = f.num("dropout");
  if (const auto& raw = f.raw(); raw.contains("class_weights")) {  // absent before class weights
    const json& w = raw.at("class_weights");
    if (!w.is_array())
      fail(f.where(), "checkpoint field 'config.class_weights' is not a list", "[w0, w1, ...]");
    for (const auto& v : w) {
      if (!v.is_number())
        fail(f.where(), "checkpoint field 'config.class_weights' holds " + v.dump(), "numbers");
      c.class_weights.push_back(v.get<double>());
    }
  }
  c.batch = f.int64("batch", 1);
  c.epochs = f.int64("epochs", 1);
  c.max_steps = f.int64("max_steps", 0);
  c.val_split = f.num("val_split");
  c.patience = f.int64("patience", 0);
  // Checkpoints from before --monitor watched the validation accuracy.
  c.monitor =
      f.raw().contains("monitor") ? f.parsed("monitor", parse_monitor) : Monitor::val_accuracy;
  c.plateau_patience = f.raw().contains("plateau_patience") ? f.int64("plateau_patience", 1) : 5;
  c.min_delta = f.raw().contains("min_delta") ? f.num("min_delta") : 0.0;
  c.normalize = f.parsed("normalize", parse_normalize);
  c.seed = f.u64("seed");
  c.f64 = f.boolean("f64");
  if (f.raw().contains("device")) {  // absent: a CPU run
    c.device = f.parsed("device", [](const std::string& name) {
      if (name != "cuda") fail("device", "is '" + name + "'", "cuda (a CPU run records no device)");
      return Device::cuda;
    });
    c.precision = f.parsed("precision", parse_precision);
  }
  return c;
}

json record_json(const EpochRecord& r) {
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  return {{"epoch", r.epoch},
          {"train_loss", num(r.train_loss)},
          {"train_accuracy", num(r.train_accuracy)},
          {"val_loss", num(r.val_loss)},
          {"val_accuracy", num(r.val_accuracy)},
          {"lr", r.lr},
          {"seconds", r.seconds},
          {"examples", r.examples},
          {"steps", r.steps},
          {"weight_norms", r.weight_norms},
          {"grad_norms", r.grad_norms}};
}

EpochRecord record_from(const Fields& f) {
  EpochRecord r;
  r.epoch = f.int64("epoch", 1);
  r.train_loss = f.num_or_nan("train_loss");
  r.train_accuracy = f.num_or_nan("train_accuracy");
  r.val_loss = f.num_or_nan("val_loss");
  r.val_accuracy = f.num_or_nan("val_accuracy");
  r.lr = f.num("lr");
  r.seconds = f.num("seconds");
  r.examples = f.int64("examples", 0);
  r.steps = f.int64("steps", 0);
  r.weight_norms = f.doubles("weight_norms");
  r.grad_norms = f.doubles("grad_norms");
  return r;
}

json rng_json(const std::array<uint64_t, 4>& s) {
  return json(std::vector<uint64_t>(s.begin(), s.end()));
}

std::array<uint64_t, 4> rng_from(const Fields& f, const std::string& key,
                                 const std::string& where) {
  const json& a = f.arr(key);
  std::array<uint64_t, 4> s{};
  if (a.size() != 4)
    fail(where, "checkpoint field '" + f.name(key) + "' has " + std::to_string(a.size()) + " words",
         "4 (a xoshiro256** state)");
  for (std::size_t i = 0; i < 4; ++i) {
    if (!a[i].is_number_unsigned())
      fail(where, "checkpoint field '" + f.name(key) + "' holds " + a[i].dump(),
           "unsigned 64-bit words");
    s[i] = a[i].get<uint64_t>();
  }
  if ((s[0] | s[1] | s[2] | s[3]) == 0)
    fail(where, "checkpoint field '" + f.name(key) + "' is all zero",
         "a generator state with a non-zero word");
  return s;
}

StTensor buffer_tensor(const std::vector<double>& v, bool f64) {
  StTensor t;
  t.dtype = f64 ? "F64" : "F32";
  t.shape = {static_cast<int64_t>(v.size())};
  t.data.resize(v.size() * (f64 ? 8 : 4));
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (f64) {
      std::memcpy(t.data.data() + 8 * i, &v[i], 8);
    } else {
      const auto x = static_cast<float>(v[i]);
      std::memcpy(t.data.data() + 4 * i, &x, 4);
    }
  }
  return t;
}

}  // namespace

std::string train_config_to_json(const TrainConfig& cfg) {
  return json_text(config_json(cfg));
}

TrainConfig train_config_from_json(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception&) {
    fail(where, "training configuration is not valid JSON", "a JSON object");
  }
  return config_from(Fields(j, where, "config"));
}

SafeTensors checkpoint_to_safetensors(const TrainState& s, const std::string& app_json) {
  SafeTensors st = model_to_safetensors(s.model);
  const bool f64 = s.model.f64;
  auto add = [&](const char* name, const std::vector<double>& v) {
    if (!v.empty()) st.tensors[std::string(kStatePrefix) + name] = buffer_tensor(v, f64);
  };
  add("opt_m", s.opt_m);
  add("opt_v", s.opt_v);
  add("best", s.best);
  add("epoch_start", s.epoch_start);
  // The model file keeps an f32 model's input transform in f32; training used it in double, and
  // a resumed run must too.
  if (!f64) {
    for (auto [name, v] : {std::pair{"input_mean", &s.model.transform.mean},
                           std::pair{"input_std", &s.model.transform.std}})
      if (!v->empty()) st.tensors[std::string(kStatePrefix) + name] = buffer_tensor(*v, true);
  }
  json c;
  c["version"] = kVersion;
  c["config"] = config_json(s.config);
  c["position"] = {{"epoch", s.epoch},
                   {"step_in_epoch", s.step_in_epoch},
                   {"step", s.step},
                   {"optimizer_steps", s.opt_steps}};
  c["rng"] = {{"shuffle", rng_json(s.shuffle_rng)}, {"dropout", rng_json(s.dropout_rng)}};
  c["epoch_sums"] = {{"loss_sum", s.epoch_loss_sum},
                     {"correct", s.epoch_correct},
                     {"seen", s.epoch_seen},
                     {"seconds", s.epoch_seconds}};
  c["early_stopping"] = {{"best_val", std::isfinite(s.best_val) ? json(s.best_val) : json(nullptr)},
                         {"best_epoch", s.best_epoch},
                         {"since_best", s.since_best},
                         {"lr_reductions", s.lr_reductions}};
  json h = json::array();
  for (const auto& r : s.history) h.push_back(record_json(r));
  c["history"] = h;
  c["seconds"] = s.seconds;
  c["data"] = {{"examples", s.data_n},
               {"features", s.data_d},
               {"classes", s.classes},
               {"source", s.data_source}};
  json app = json::object();
  const std::string& app_text = app_json.empty() ? s.app_json : app_json;
  if (!app_text.empty()) {
    try {
      app = json::parse(app_text);
    } catch (const json::exception&) {
      fail("checkpoint", "the caller's JSON is not valid", "a JSON object");
    }
  }
  c["app"] = app;
  st.metadata["checkpoint"] = json_text(c);
  return st;
}

TrainState checkpoint_from_safetensors(const SafeTensors& st, const std::string& where) {
  auto it = st.metadata.find("checkpoint");
  if (it == st.metadata.end())
    fail(where, "is not a checkpoint (no 'checkpoint' metadata)",
         "a file written by fcnet train --checkpoint");
  json c;
  try {
    c = json::parse(it->second);
  } catch (const json::exception& e) {
    fail(where, std::string("checkpoint metadata is not valid JSON (") + e.what() + ")",
         "a JSON object");
  }
  const Fields f(c, where, "");
  const int64_t version = f.int64("version");
  if (version != kVersion)
    fail(where, "checkpoint version " + std::to_string(version),
         "version " + std::to_string(kVersion) + " (this fcnet's checkpoint format)");

  TrainState s;
  s.origin = where;
  s.model = model_from_safetensors(st, where);
  s.config = config_from(f.obj("config"));
  const int64_t P = s.model.buffer_size();
  auto buffer = [&](const char* name) {
    std::vector<double> v;
    auto t = st.tensors.find(std::string(kStatePrefix) + name);
    if (t == st.tensors.end()) return v;
    const std::string tw = where + ": tensor '" + t->first + "'";
    const std::string dtype = s.model.f64 ? "F64" : "F32";
    if (t->second.dtype != dtype)
      fail(tw, "has dtype " + t->second.dtype, dtype + " like the model's parameters");
    if (t->second.shape != std::vector<int64_t>{P})
      fail(tw,
           "has " + std::to_string(t->second.shape.size()) + "-D shape of " +
               std::to_string(t->second.numel()) + " values",
           "shape [" + std::to_string(P) + "] (the network's parameter buffer)");
    v = t->second.to_double(tw);
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        fail(tw, "has a non-finite value at index " + std::to_string(i), "finite values");
    return v;
  };
  for (auto [name, v] : {std::pair{"input_mean", &s.model.transform.mean},
                         std::pair{"input_std", &s.model.transform.std}}) {
    auto t = st.tensors.find(std::string(kStatePrefix) + name);
    if (t == st.tensors.end()) continue;
    const std::string tw = where + ": tensor '" + t->first + "'";
    if (s.model.f64 || t->second.dtype != "F64" ||
        t->second.shape != std::vector<int64_t>{static_cast<int64_t>(v->size())})
      fail(tw, "does not match the model's " + std::string(name),
           "an F64 copy of " + std::string(name) + " of an f32 model");
    std::vector<double> exact = t->second.to_double(tw);
    for (std::size_t i = 0; i < exact.size(); ++i)
      if (static_cast<float>(exact[i]) != static_cast<float>((*v)[i]) || !std::isfinite(exact[i]) ||
          (std::string(name) == "input_std" && exact[i] <= 0))
        fail(tw, "disagrees with tensor '" + std::string(name) + "' at index " + std::to_string(i),
             "the same values in double precision");
    *v = std::move(exact);
  }
  s.opt_m = buffer("opt_m");
  s.opt_v = buffer("opt_v");
  s.best = buffer("best");
  s.epoch_start = buffer("epoch_start");
  for (const auto& kv : st.tensors)
    if (kv.first.rfind(kStatePrefix, 0) == 0 && kv.first != "state.opt_m" &&
        kv.first != "state.opt_v" && kv.first != "state.best" && kv.first != "state.epoch_start" &&
        kv.first != "state.input_mean" && kv.first != "state.input_std")
      fail(where, "has unexpected tensor '" + kv.first + "'",
           "state.opt_m, state.opt_v, state.best, state.epoch_start, state.input_mean or "
           "state.input_std");
  for (std::size_t i = 0; i < s.opt_v.size(); ++i)
    if (s.opt_v[i] < 0)
      fail(where + ": tensor 'state.opt_v'", "has a negative value at index " + std::to_string(i),
           "a second moment >= 0");

  const Fields pos = f.obj("position");
  s.epoch = pos.int64("epoch", 1);
  s.step_in_epoch = pos.int64("step_in_epoch", 0);
  s.step = pos.int64("step", 0);
  s.opt_steps = pos.int64("optimizer_steps", 0);
  const Fields rng = f.obj("rng");
  s.shuffle_rng = rng_from(rng, "shuffle", where);
  s.dropout_rng = rng_from(rng, "dropout", where);
  const Fields sums = f.obj("epoch_sums");
  s.epoch_loss_sum = sums.num("loss_sum");
  s.epoch_correct = sums.int64("correct", 0);
  s.epoch_seen = sums.int64("seen", 0);
  s.epoch_seconds = sums.num("seconds");
  const Fields es = f.obj("early_stopping");
  s.best_val = es.num_or_nan("best_val");
  s.lr_reductions = es.raw().contains("lr_reductions") ? es.int64("lr_reductions", 0) : 0;
  s.best_epoch = es.int64("best_epoch", 0);
  s.since_best = es.int64("since_best", 0);
  for (const auto& r : f.arr("history"))
    s.history.push_back(record_from(Fields(r, where, "history[]")));
  s.seconds = f.num("seconds");
  const Fields data = f.obj("data");
  s.data_n = data.int64("examples", 1);
  s.data_d = data.int64("features", 1);
  s.classes = data.int64("classes", 2);
  s.data_source = data.str("source");
  f.obj("app");
  s.app_json = json_text(c.at("app"));

  // Consistency of the parts with one another.
  const auto& sizes = s.model.sizes();
  const std::vector<int64_t> hidden(sizes.begin() + 1, sizes.end() - 1);
  if (hidden != s.config.hidden || s.model.activation().kind != s.config.activation.kind ||
      s.model.f64 != s.config.f64)
    fail(where, "checkpoint's network does not match its recorded configuration",
         "tensors, activation and precision as the config says");
  if (s.data_d != s.model.input_dim() || s.classes != s.model.num_classes())
    fail(where,
         "checkpoint records data of " + std::to_string(s.data_d) + " features and " +
             std::to_string(s.classes) + " classes for a " + std::to_string(s.model.input_dim()) +
             "-input, " + std::to_string(s.model.num_classes()) + "-class network",
         "the network's input width and classes");
  if (static_cast<int64_t>(s.history.size()) != s.epoch - 1)
    fail(where,
         "checkpoint is at epoch " + std::to_string(s.epoch) + " but records " +
             std::to_string(s.history.size()) + " completed epochs",
         std::to_string(s.epoch - 1) + " epoch records");
  if (s.step_in_epoch > 0 && s.epoch_start.empty())
    fail(where, "checkpoint stopped inside an epoch but lacks state.epoch_start",
         "the epoch-start weights of a mid-epoch checkpoint");
  if (s.step_in_epoch > 0 && (s.epoch_seen <= 0 || s.epoch_seen > s.data_n))
    fail(where, "checkpoint's partial epoch saw " + std::to_string(s.epoch_seen) + " examples",
         "between 1 and " + std::to_string(s.data_n));
  if (s.best_epoch >= s.epoch)
    fail(where, "checkpoint's best epoch " + std::to_string(s.best_epoch) + " is not done yet",
         "a completed epoch");
  return s;
}

void save_checkpoint(const std::string& path, const TrainState& st, const std::string& app_json) {
  write_file_atomic(path, serialize_safetensors(checkpoint_to_safetensors(st, app_json)));
}

TrainState load_checkpoint(const std::string& path) {
  return checkpoint_from_safetensors(read_safetensors(path), path);
}

}  // namespace fcnet
