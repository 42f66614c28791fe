// train_cuda: the CPU trainer's loop (src/train/trainer.cpp) with the work on the device. The
// host keeps what decides the run — seeds, the per-epoch shuffle, the schedule, validation and
// early stopping — exactly as the CPU trainer does, so both train on the same batches in the same
// order from the same initial weights; each step is one replay of a captured CUDA graph.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "engine.hpp"
#include "fcnet/cuda.hpp"
#include "fcnet/text.hpp"
#include "train/history.hpp"

namespace fcnet {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

TrainResult train_impl(const Dataset& train, const Dataset* val, const TrainConfig& cfg,
                       const TrainCallbacks& cb, Precision precision) {
  TrainResult res;
  const int64_t n = train.n, d = train.d;
  const int64_t classes = std::max<int64_t>(train.num_classes(), val ? val->num_classes() : 0);
  if (classes < 2)
    fail(train.source, "has labels of only one class", "at least two classes to classify");
  if (val && val->n > 0 && !val->has_labels())
    fail(val->source, "has no labels", "labelled validation data");
  std::vector<int64_t> sizes = {d};
  sizes.insert(sizes.end(), cfg.hidden.begin(), cfg.hidden.end());
  sizes.push_back(classes);

  // Model, initialisation and random streams exactly as the CPU trainer.
  Model& model = res.model;
  model.f64 = false;
  model.transform = fit_transform(train, cfg.normalize);
  model.class_names = train.class_names;
  model.image_shape = train.image_shape;
  model.schema = train.schema;
  Network<float>& net = model.net32;
  net = Network<float>(sizes, cfg.activation);
  Rng init_rng(stream_seed(cfg, 1));
  Rng shuffle_rng(stream_seed(cfg, 2));
  net.init(cfg.init, init_rng, cfg.init_std);

  const int64_t batch = std::min(cfg.batch, n);
  const int64_t steps_per_epoch = (n + batch - 1) / batch;
  const Schedule sched = run_schedule(cfg, steps_per_epoch);

  cuda::EngineConfig ec;
  ec.options.precision = precision;
  ec.optimizer = cfg.optimizer;
  ec.l2 = 2.0 * cfg.reg;
  ec.dropout = cfg.dropout;
  ec.dropout_seed = stream_seed(cfg, 3);
  cuda::Engine eng(net, ec);
  cuda::DeviceData dtrain(eng.context(), train, model.transform, classes);
  std::unique_ptr<cuda::DeviceData> dval;
  if (val && val->n > 0)
    dval = std::make_unique<cuda::DeviceData>(eng.context(), *val, model.transform, classes);

  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::vector<double> lrs(static_cast<std::size_t>(steps_per_epoch));
  double best_val = -1;
  int64_t since_best = 0;
  int64_t step = 0;
  double last_loss = 0, last_accuracy = 0;  // of the previous epoch, for early progress reports

  for (int64_t epoch = 1; epoch <= cfg.epochs; ++epoch) {
    // A fresh shuffle of 0..N-1 each epoch, as the CPU trainer does (so checkpoints can
    // regenerate an epoch's order from the generator alone).
    std::iota(order.begin(), order.end(), 0);
    shuffle_rng.shuffle(order);
    dtrain.set_permutation(eng.context(), order);
    for (int64_t s = 0; s < steps_per_epoch; ++s)
      lrs[static_cast<std::size_t>(s)] = sched.at(step + s);
    eng.begin_epoch(lrs);
    EpochRecord rec;
    rec.epoch = epoch;
    rec.lr = sched.at(step);
    int64_t seen = 0;
    // Progress comes from asynchronous copies of the device accumulators, requested at most
    // every 50 ms, so reporting never stalls the stream.
    cuda::StepTotals snap;
    int64_t snap_seen = 0, pending_seen = 0;
    auto last_request = Clock::time_point{};
    const auto t0 = Clock::now();
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      const int64_t b = std::min(batch, n - s * batch);
      eng.train_step(dtrain, batch, b);
      seen += b;
      ++step;
      ++rec.steps;
      if (cb.on_step) {
        cuda::StepTotals t;
        if (eng.poll_snapshot(&t)) {
          snap = t;
          snap_seen = pending_seen;
        }
        const auto now = Clock::now();
        if (now - last_request > std::chrono::milliseconds(50)) {
          eng.request_snapshot();
          pending_seen = seen;
          last_request = now;
        }
        TrainProgress p;
        p.epoch = epoch;
        p.epochs = cfg.epochs;
        p.step = s + 1;
        p.steps = steps_per_epoch;
        p.loss = snap_seen > 0 ? snap.loss_sum / static_cast<double>(snap_seen) : last_loss;
        p.accuracy = snap_seen > 0
                         ? static_cast<double>(snap.correct) / static_cast<double>(snap_seen)
                         : last_accuracy;
        p.seconds = since(t0);
        p.examples_per_second = static_cast<double>(seen) / std::max(1e-9, p.seconds);
        cb.on_step(p);
      }
      if (cfg.max_steps > 0 && step >= cfg.max_steps) break;
      if (cb.stop && cb.stop->load()) break;
    }
    const cuda::StepTotals tot = eng.epoch_totals();  // waits for the epoch's last step
    rec.seconds = since(t0);
    if (tot.bad_step > 0) {
      const double lr = lrs[static_cast<std::size_t>(tot.bad_step - 1)];
      fail("training",
           "the loss became " + std::to_string(tot.bad_loss) + " at epoch " +
               std::to_string(epoch) + ", step " + std::to_string(tot.bad_step) +
               "; training diverged",
           "a finite loss: try a lower learning rate (--lr " + std::to_string(lr / 10) + ")");
    }
    res.seconds += rec.seconds;
    rec.examples = seen;
    const std::vector<double> w2 = eng.layer_sum_squares(false);
    const std::vector<double> g2 = eng.layer_sum_squares(true);
    double reg = 0;
    for (double v : w2) reg += v;
    rec.train_loss =
        tot.loss_sum / static_cast<double>(seen) + (cfg.reg == 0 ? 0.0 : cfg.reg * reg);
    rec.train_accuracy = static_cast<double>(tot.correct) / static_cast<double>(seen);
    last_loss = tot.loss_sum / static_cast<double>(seen);
    last_accuracy = rec.train_accuracy;
    for (std::size_t l = 0; l < w2.size(); ++l) {
      rec.weight_norms.push_back(std::sqrt(w2[l]));
      rec.grad_norms.push_back(std::sqrt(g2[l]));
    }
    if (dval) {
      // The CPU trainer evaluates in batches of 1000.
      const cuda::StepTotals ev = eng.evaluate(*dval, 1000);
      rec.val_loss = ev.loss_sum / static_cast<double>(dval->n);
      rec.val_accuracy = static_cast<double>(ev.correct) / static_cast<double>(dval->n);
      if (rec.val_accuracy > best_val) {
        best_val = rec.val_accuracy;
        res.best_epoch = epoch;
        since_best = 0;
        eng.save_best();
      } else {
        ++since_best;
      }
    }
    res.epochs.push_back(rec);
    if (cb.on_epoch) cb.on_epoch(rec);
    if (cb.stop && cb.stop->load()) {
      res.interrupted = true;
      break;
    }
    if (cfg.max_steps > 0 && step >= cfg.max_steps) break;
    if (cfg.patience > 0 && val && since_best >= cfg.patience) {
      res.stopped_early = true;
      break;
    }
  }
  res.steps = step;
  // With a validation set, the model keeps the weights of its best epoch.
  if (dval && res.best_epoch > 0)
    eng.restore_best();
  else
    res.best_epoch = static_cast<int64_t>(res.epochs.size());
  eng.download(net, true);
  return res;
}

}  // namespace

TrainResult train_cuda(const Dataset& train_data, const Dataset* val, const TrainConfig& cfg,
                       const TrainCallbacks& callbacks, Precision precision) {
  if (cfg.f64)
    fail("--precision", "f64 is not available on the device",
         "fp32, tf32 or bf16 with --device cuda");
  check_training(train_data, cfg, nullptr, val);
  cuda::require_device(0);
  // The validation split of the CPU trainer, with the same seed.
  const Dataset* tr = &train_data;
  Dataset split_train, split_val;
  std::vector<int64_t> val_indices;
  if (!val && cfg.val_split > 0) {
    // check_training has made sure both sides are non-empty.
    ValSplit sp = split_validation(cfg, train_data.n);
    split_val = train_data.subset(sp.val);
    split_train = train_data.subset(sp.train);
    tr = &split_train;
    val = &split_val;
    val_indices = std::move(sp.val);
  }
  if (val && val->d != tr->d)
    fail(val->source, "has " + std::to_string(val->d) + " features",
         std::to_string(tr->d) + " like the training data");
  TrainResult r = train_impl(*tr, val, cfg, callbacks, precision);
  r.train_examples = tr->n;
  r.val_examples = val ? val->n : 0;
  r.val_indices = std::move(val_indices);
  nlohmann::json meta = training_metadata(cfg, r, train_data);
  meta["device"] = "cuda";
  meta["precision"] = precision_name(precision);
  meta["seconds"] = r.seconds;
  r.model.training_json = json_text(meta);
  return r;
}

}  // namespace fcnet
