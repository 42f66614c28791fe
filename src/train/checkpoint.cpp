#include "fcnet/checkpoint.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include "fcnet/text.hpp"
#include "fcnet/train_options.hpp"
#include "train/history.hpp"
#include "train/json_fields.hpp"

namespace fcnet {

using json = nlohmann::json;

using detail::Fields;

namespace {

constexpr const char* kStatePrefix = "state.";
constexpr int kVersion = 1;

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
  return json_text(detail::config_to_json(cfg));
}

TrainConfig train_config_from_json(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception&) {
    fail(where, "training configuration is not valid JSON", "a JSON object");
  }
  return detail::config_from_json(Fields(j, where, "config"));
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
  c["config"] = detail::config_to_json(s.config);
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
  for (const auto& r : s.history) h.push_back(epoch_to_json(r, false));
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
  s.config = detail::config_from_json(f.obj("config"));
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
  s.history = epochs_from_json(f.arr("history"), where);
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
