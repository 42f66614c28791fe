#include "fcnet/trainer.hpp"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/names.hpp"
#include "core/parallel.hpp"
#include "data_parallel.hpp"
#include "fcnet/metrics.hpp"
#include "fcnet/step_engine.hpp"
#include "fcnet/text.hpp"
#include "fcnet/train_options.hpp"
#include "train/cpu_engine.hpp"
#include "train/history.hpp"

namespace fcnet {

void set_num_threads(int n, const std::string& where) {
  if (n < 0 || n > max_threads())
    fail(where, "is " + std::to_string(n),
         "a thread count from 1 to " + std::to_string(max_threads()) + " (0: one per core)");
  omp_set_num_threads(n > 0 ? n : std::min(omp_get_num_procs(), max_threads()));
}
int max_threads() {
  return detail::kMaxThreads;
}
int num_threads() {
  return omp_get_max_threads();
}

template <class T>
std::vector<ParamRange> param_ranges(const Network<T>& net) {
  std::vector<ParamRange> r;
  for (int l = 1; l <= net.num_layers(); ++l) {
    const int64_t w = net.offset(l, false), b = net.offset(l, true);
    r.push_back({w, w + net.W(l).size(), true});
    r.push_back({b, b + net.b(l).size(), false});
  }
  return r;
}
template std::vector<ParamRange> param_ranges<float>(const Network<float>&);
template std::vector<ParamRange> param_ranges<double>(const Network<double>&);

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void validate(const TrainConfig& c, const Dataset& train) {
  check_config(c);
  if (!train.has_labels()) fail(train.source, "has no labels", "labelled training data");
  if (train.n == 0) fail(train.source, "has no examples", "at least one example");
  if (!train.weights.empty()) {
    if (static_cast<int64_t>(train.weights.size()) != train.n)
      fail(train.source, "has " + std::to_string(train.weights.size()) + " example weights",
           "one per example (" + std::to_string(train.n) + ")");
    for (std::size_t i = 0; i < train.weights.size(); ++i)
      if (!(train.weights[i] >= 0) || !std::isfinite(train.weights[i]))
        fail(train.source,
             "example " + std::to_string(i) + " has the weight " + std::to_string(train.weights[i]),
             "finite example weights >= 0");
  }
}

}  // namespace

void detail::finish_eval(EvalResult& r, double loss_sum) {
  const int64_t c = r.classes;
  int64_t correct = 0;
  r.per_class_accuracy.clear();
  for (int64_t k = 0; k < c; ++k) {
    int64_t row = 0;
    for (int64_t j = 0; j < c; ++j) row += r.confusion[static_cast<std::size_t>(k * c + j)];
    const int64_t hit = r.confusion[static_cast<std::size_t>(k * c + k)];
    correct += hit;
    r.per_class_accuracy.push_back(row ? static_cast<double>(hit) / static_cast<double>(row)
                                       : std::numeric_limits<double>::quiet_NaN());
  }
  r.loss = loss_sum / static_cast<double>(r.n);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(r.n);
}

namespace {

// The score of `monitor` for an epoch's validation result (higher is better).
double monitored_score(Monitor monitor, const EvalResult& ev, const Matrix<double>* probs,
                       const int32_t* labels) {
  switch (monitor) {
    case Monitor::train_loss:  // scored by the loop
    case Monitor::val_loss:
      return -ev.loss;
    case Monitor::val_accuracy:
      return ev.accuracy;
    case Monitor::val_balanced_accuracy: {
      const double b = balanced_accuracy(ev.confusion, ev.classes);
      return std::isfinite(b) ? b : 0.0;
    }
    case Monitor::val_roc_auc: {
      const double auc = classification_metrics(probs->cview(), labels).roc_auc;
      if (!std::isfinite(auc))
        fail("--monitor", "val_roc_auc, but the validation split holds a single class",
             "a validation split with more than one class (a larger --val-split), or val_loss");
      return auc;
    }
  }
  return 0.0;
}

// The weights a run starts from: the network of cfg's sizes on `classes` classes, initialised from
// the run's weight stream (a resumed run's engine loads its own).
template <class T>
void init_network(Network<T>& net, const std::vector<int64_t>& sizes, const TrainConfig& cfg,
                  bool initialise) {
  net = Network<T>(sizes, cfg.activation);
  Rng init_rng(stream_seed(cfg, 1));
  if (initialise) net.init(cfg.init, init_rng, cfg.init_std);
}

// The message of a run that diverged at (1-based) step `s` of `steps` in `epoch`, with the loss of
// that step and the first layer whose gradient was not finite (0: none found).
std::string divergence_message(const TrainConfig& cfg, int64_t epoch, int64_t s, int64_t steps,
                               double loss, int bad_layer) {
  char lr_text[32];
  std::snprintf(lr_text, sizeof lr_text, "%g", cfg.schedule.lr / 10);
  const std::string what =
      (std::isfinite(loss) ? std::string("a gradient became non-finite")
       : std::isnan(loss)  ? std::string("the loss became NaN")
                           : std::string("the loss became infinite")) +
      " at epoch " + std::to_string(epoch) + ", step " + std::to_string(s) + " of " +
      std::to_string(steps) +
      (bad_layer ? " (first non-finite gradient in layer " + std::to_string(bad_layer) + ")"
                 : std::string()) +
      "; training diverged";
  return error_message(
      "training", what,
      std::string("a finite loss: try a lower learning rate (--lr ") + lr_text + ")");
}

// The one training loop: epochs of shuffled batches on the engine `make` builds, the schedule,
// validation and the monitored score, early stopping and the kept weights, checkpoints, stop
// requests, divergence and the ranks' agreement. `shard`: where `train` sits among the ranks'
// data (all of it for a single process); n below is the global example count.
TrainResult run_loop(const EngineFactory& make, const Dataset& train, const Dataset* val,
                     int64_t val_n, const TrainConfig& cfg, const TrainCallbacks& cb,
                     const detail::Shard& shard, const TrainState* resume) {
  TrainResult res;
  Collective* const comm = shard.comm;
  const int64_t n = shard.total, d = train.d;
  int64_t classes = resume ? resume->model.num_classes()
                           : std::max<int64_t>(train.num_classes(), val ? val->num_classes() : 0);
  if (comm && !resume) classes = detail::max_over(*comm, classes);
  if (classes < 2)
    fail(train.source, "has labels of only one class", "at least two classes to classify");
  if (!cfg.class_weights.empty() && static_cast<int64_t>(cfg.class_weights.size()) != classes)
    fail("--class-weight",
         "gives " + std::to_string(cfg.class_weights.size()) + " weights for " +
             std::to_string(classes) + " classes",
         "one weight per class");
  const bool validating = val_n > 0;
  std::vector<int64_t> sizes = {d};
  sizes.insert(sizes.end(), cfg.hidden.begin(), cfg.hidden.end());
  sizes.push_back(classes);

  // The model's description; its weights live in the engine until the run ends.
  Model& model = res.model;
  model.f64 = cfg.f64;
  model.transform = resume ? resume->model.transform : fit_transform(train, cfg.normalize, comm, n);
  model.class_names = resume ? resume->model.class_names : train.class_names;
  model.image_shape = train.image_shape;
  model.schema = resume && !resume->model.schema.empty() ? resume->model.schema : train.schema;
  if (cfg.f64)
    init_network(model.net64, sizes, cfg, !resume);
  else
    init_network(model.net32, sizes, cfg, !resume);
  Rng shuffle_rng(stream_seed(cfg, 2));
  EngineSetup setup;
  setup.model = &model;
  setup.config = &cfg;
  setup.train = &train;
  setup.val = validating ? val : nullptr;
  setup.comm = comm;
  const std::unique_ptr<StepEngine> engine = make(setup);
  StepEngine& eng = *engine;

  const int64_t batch = std::min(cfg.batch, n);
  const int64_t steps_per_epoch = (n + batch - 1) / batch;
  const Schedule sched = run_schedule(cfg, steps_per_epoch);
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  EpochPlan plan;

  // The best monitored score so far (higher is better: the loss enters negated); NaN: none yet.
  double best_val = std::numeric_limits<double>::quiet_NaN();
  int64_t since_best = 0, lr_reductions = 0;
  int64_t step = 0;
  // Where a resumed run picks up: its epoch, the steps of it already done and their sums.
  int64_t first_epoch = 1, first_step = 0;
  EpochSums carry;
  double carry_seconds = 0;
  if (resume) {
    const TrainState& r = *resume;
    eng.load(r);
    shuffle_rng.set_state(r.shuffle_rng);
    if (!r.best.empty()) eng.set_copy(WeightCopy::best, r.best);
    if (!r.epoch_start.empty()) eng.set_copy(WeightCopy::epoch_start, r.epoch_start);
    best_val = r.best_val;
    since_best = r.since_best;
    lr_reductions = r.lr_reductions;
    res.best_epoch = r.best_epoch;
    if (r.config.monitor != cfg.monitor) {
      // Another monitor: the saved best is in other units, so the tracking starts over here.
      best_val = std::numeric_limits<double>::quiet_NaN();
      since_best = 0;
      res.best_epoch = 0;
    }
    step = r.step;
    res.epochs = r.history;
    res.seconds = r.seconds;
    first_epoch = r.epoch;
    first_step = r.step_in_epoch;
    carry = {r.epoch_loss_sum, r.epoch_correct, r.epoch_seen, 0, 0};
    carry_seconds = r.epoch_seconds;
  }
  // The monitored score exists on a validation set or, for train_loss, on every run; the model
  // keeps the weights of the best epoch of a validation score.
  const bool on_train_loss = cfg.monitor == Monitor::train_loss;
  const bool monitored = validating || on_train_loss;
  const bool keeps_best = validating && !on_train_loss;
  // The best copy starts as the initial weights (engines hold no copy they were not asked for).
  if (keeps_best && !(resume && !resume->best.empty() && resume->config.monitor == cfg.monitor))
    eng.keep(WeightCopy::best);
  auto patience_out = [&] { return cfg.patience > 0 && monitored && since_best >= cfg.patience; };
  auto steps_out = [&] { return cfg.max_steps > 0 && step >= cfg.max_steps; };
  // The state at epoch `epoch`, `done` steps into it with the sums `sums` (the shuffle generator
  // as it was at the epoch's start).
  auto capture = [&](int64_t epoch, int64_t done, const std::array<uint64_t, 4>& shuffle_state,
                     const EpochSums& sums, double seconds) {
    auto st = std::make_shared<TrainState>();
    st->config = cfg;
    st->model = model;
    eng.save(*st);
    st->epoch = epoch;
    st->step_in_epoch = done;
    st->step = step;
    st->shuffle_rng = shuffle_state;
    if (done > 0) {
      st->epoch_loss_sum = sums.loss_sum;
      st->epoch_correct = sums.correct;
      st->epoch_seen = sums.seen;
      st->epoch_seconds = seconds;
      st->epoch_start = eng.copy_values(WeightCopy::epoch_start);
    }
    if (keeps_best) st->best = eng.copy_values(WeightCopy::best);
    st->best_val = best_val;
    st->best_epoch = res.best_epoch;
    st->since_best = since_best;
    st->lr_reductions = lr_reductions;
    st->history = res.epochs;
    st->seconds = res.seconds;
    st->data_n = n;
    st->data_d = d;
    st->classes = classes;
    st->data_source = train.source;
    return st;
  };
  // A diverged run keeps the weights its last epoch started from.
  auto diverge = [&](int64_t epoch, int64_t s, double loss, int bad_layer) {
    eng.restore(WeightCopy::epoch_start);
    eng.finish(model);
    res.steps = step;
    res.best_epoch = static_cast<int64_t>(res.epochs.size());
    throw TrainDiverged(divergence_message(cfg, epoch, s, steps_per_epoch, loss, bad_layer),
                        std::make_shared<TrainResult>(std::move(res)));
  };
  // Where this run starts (a resumed run with nothing left to do ends there).
  const int64_t start_epoch = first_epoch;
  bool stopped_mid = false;
  if (steps_out()) first_epoch = cfg.epochs + 1;  // a resumed run that already reached the end
  if (patience_out()) {
    res.stopped_early = true;
    first_epoch = cfg.epochs + 1;
  }

  for (int64_t epoch = first_epoch; epoch <= cfg.epochs; ++epoch) {
    // Each epoch's order is a fresh shuffle of 0..N-1, so the generator's state at the epoch's
    // start is all a checkpoint needs to regenerate it.
    const std::array<uint64_t, 4> shuffle_state = shuffle_rng.state();
    std::iota(order.begin(), order.end(), 0);
    shuffle_rng.shuffle(order);
    const bool resumed = epoch == first_epoch && first_step > 0;
    const int64_t s0 = resumed ? first_step : 0;
    if (!resumed) eng.keep(WeightCopy::epoch_start);
    const bool plateau = cfg.schedule.kind == ScheduleKind::plateau;
    const double lr_scale = plateau ? std::pow(cfg.schedule.decay, lr_reductions) : 1.0;
    // The epoch's batches: this rank's rows of each (all of them in a single process).
    plan.rows.clear();
    plan.start.assign(1, 0);
    plan.batch.clear();
    plan.lr.clear();
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      const int64_t b = std::min(batch, n - s * batch);
      for (int64_t i = s * batch; i < s * batch + b; ++i) {
        const int64_t g = order[static_cast<std::size_t>(i)];
        if (!comm)
          plan.rows.push_back(g);
        else if (shard.owns(g))
          plan.rows.push_back(g - shard.first);
      }
      plan.start.push_back(static_cast<int64_t>(plan.rows.size()));
      plan.batch.push_back(b);
      plan.lr.push_back(sched.at(step - s0 + s) * lr_scale);
    }
    plan.first = s0;
    plan.carry = resumed ? carry : EpochSums{};
    const double seconds_before = resumed ? carry_seconds : 0;
    EpochRecord rec;
    rec.epoch = epoch;
    rec.lr = plan.lr[0];
    rec.steps = s0;
    const int64_t step0 = step;  // steps done before this epoch's first one here
    int64_t queued = 0;          // examples of the steps run here
    eng.begin_epoch(plan);
    const auto t0 = Clock::now();
    bool stopped = false;
    bool stop = false;
    for (int64_t s = s0; s < steps_per_epoch; ++s) {
      // Ranks exchange their stop requests with the step's gradients, so all stop together.
      double asked = comm && cb.stop && cb.stop->load() ? 1.0 : 0.0;
      const StepOutcome o = eng.step(s, comm ? std::span<double>(&asked, 1) : std::span<double>());
      if (!o.ok) diverge(epoch, s + 1, o.loss, o.bad_layer);
      ++step;
      ++rec.steps;
      queued += plan.batch[static_cast<std::size_t>(s)];
      if (cb.on_step) {
        const EpochSums now = eng.progress();  // a queued backend's sums lag behind
        TrainProgress p;
        p.epoch = epoch;
        p.epochs = cfg.epochs;
        p.step = s + 1;
        p.steps = steps_per_epoch;
        p.loss = now.seen > 0 ? now.loss_sum / static_cast<double>(now.seen) : 0.0;
        p.accuracy =
            now.seen > 0 ? static_cast<double>(now.correct) / static_cast<double>(now.seen) : 0.0;
        p.seconds = since(t0);
        p.examples_per_second = static_cast<double>(queued) / std::max(1e-9, p.seconds);
        cb.on_step(p);
      }
      if (steps_out()) break;
      // One process stops after the step in which the flag was set (during on_step included);
      // ranks go by the flags exchanged in the step, so that all of them stop after the same one.
      stop = comm ? asked > 0 : (cb.stop && cb.stop->load());
      if (stop && s + 1 < steps_per_epoch) {
        // Stopped inside the epoch (on every rank alike): save where it is, leave the epoch
        // unfinished.
        const EpochSums sums = eng.sums();
        if (sums.bad_step > 0) {
          step = step0 + (sums.bad_step - 1 - s0);
          diverge(epoch, sums.bad_step, sums.bad_loss, 0);
        }
        res.state = capture(epoch, s + 1, shuffle_state, sums, seconds_before + since(t0));
        res.seconds += since(t0);
        res.interrupted = true;
        stopped = true;
        break;
      }
    }
    if (stopped) {
      stopped_mid = true;
      if (cb.on_checkpoint) cb.on_checkpoint(*res.state);
      break;
    }
    const EpochSums sums = eng.sums();  // waits for a queued backend's steps
    if (sums.bad_step > 0) {
      step = step0 + (sums.bad_step - 1 - s0);
      diverge(epoch, sums.bad_step, sums.bad_loss, 0);
    }
    rec.seconds = seconds_before + since(t0);
    res.seconds += rec.seconds - seconds_before;
    rec.examples = sums.seen;
    const StepEngine::Norms norms = eng.norms(cfg.reg);
    // A backend that checks only the loss (CUDA) lets non-finite gradients of an epoch's last
    // steps through to the weights: they end the run here, before anything is recorded.
    for (double w : norms.weights)
      if (!std::isfinite(w))
        diverge(epoch, steps_per_epoch, std::numeric_limits<double>::quiet_NaN(), 0);
    rec.train_loss = sums.loss_sum / static_cast<double>(sums.seen) + norms.reg_loss;
    rec.train_accuracy = static_cast<double>(sums.correct) / static_cast<double>(sums.seen);
    rec.weight_norms = norms.weights;
    rec.grad_norms = norms.grads;
    // The monitored score: on the validation set, else (train_loss, or the plateau schedule
    // without validation) the training loss.
    double score = -rec.train_loss;
    if (validating) {
      Matrix<double> probs;
      const bool ranking = cfg.monitor == Monitor::val_roc_auc;
      if (ranking) probs.resize(val->n, classes, "validation probabilities");
      EvalResult ev = eng.evaluate(*val, ranking ? &probs : nullptr);
      if (comm) detail::combine_eval(*comm, ev);
      rec.val_loss = ev.loss;
      rec.val_accuracy = ev.accuracy;
      if (!on_train_loss && ranking && comm) {
        // The ranking of the whole validation set: every rank's rows, in rank order, on every rank.
        Matrix<double> all;
        std::vector<int32_t> labels;
        detail::gather_scores(*comm, probs, val->labels, all, labels);
        score = monitored_score(cfg.monitor, ev, &all, labels.data());
      } else if (!on_train_loss) {
        score = monitored_score(cfg.monitor, ev, ranking ? &probs : nullptr, val->labels.data());
      }
    }
    if (monitored || plateau) {
      const double before = best_val;
      const bool first = std::isnan(before);
      if (first || score > before) {
        best_val = score;
        res.best_epoch = epoch;
        if (keeps_best) eng.keep(WeightCopy::best);
      }
      if (first || score > before + cfg.min_delta) {
        since_best = 0;
      } else {
        ++since_best;
        if (plateau && since_best % cfg.plateau_patience == 0) ++lr_reductions;
      }
    }
    res.epochs.push_back(rec);
    if (cb.on_epoch) cb.on_epoch(rec);
    // Agree on stopping (and check the ranks' weights match) before the state is checkpointed.
    stop = stop || (cb.stop && cb.stop->load());
    if (comm) stop = eng.agree(*comm, stop, epoch);
    if (cb.on_checkpoint) {
      res.state = capture(epoch + 1, 0, shuffle_rng.state(), {}, 0);
      cb.on_checkpoint(*res.state);
    }
    if (epoch == cfg.epochs || steps_out()) break;
    if (patience_out()) {
      res.stopped_early = true;
      break;
    }
    if (stop) {
      res.interrupted = true;
      break;
    }
  }
  res.steps = step;
  // The end state, before the best weights are restored (a continuation needs the current ones);
  // a stop inside an epoch captured it already, and so did the last epoch's checkpoint callback.
  const int64_t done = static_cast<int64_t>(res.epochs.size());
  if (!stopped_mid && !(cb.on_checkpoint && done >= start_epoch))
    res.state = done >= start_epoch
                    ? capture(done + 1, 0, shuffle_rng.state(), {}, 0)
                    : capture(start_epoch, first_step, shuffle_rng.state(), carry, carry_seconds);
  // With a validation set, the model keeps the weights of its best epoch.
  if (keeps_best && res.best_epoch > 0)
    eng.restore(WeightCopy::best);
  else
    res.best_epoch = static_cast<int64_t>(res.epochs.size());
  eng.finish(model);
  return res;
}
}  // namespace

namespace {

std::string sizes_text(const std::vector<int64_t>& v) {
  if (v.empty()) return "none";
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

std::string gib_text(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g GiB", bytes / (1024.0 * 1024 * 1024));
  return b;
}

// Rejects a network or batch that cannot fit in this machine's memory before anything is
// allocated (an absurd --hidden fails with a message, not an allocation crash or the OOM killer).
void check_memory(const TrainConfig& cfg, const Dataset& data) {
  std::vector<double> s = {static_cast<double>(data.d)};
  for (auto h : cfg.hidden) s.push_back(static_cast<double>(h));
  s.push_back(static_cast<double>(std::max<int64_t>(2, data.num_classes())));
  double weights = 0, units = 0;
  for (std::size_t l = 1; l < s.size(); ++l) {
    weights += s[l - 1] * s[l] + s[l];
    units += s[l];
  }
  const double batch = static_cast<double>(std::min(cfg.batch, std::max<int64_t>(1, data.n)));
  // Parameters, gradients, optimizer moments, best and epoch-start copies; per example the
  // input row and about five buffers per layer (outputs, pre-activations, gradients, dropout).
  const double elem = cfg.f64 ? 8 : 4;
  const double need = elem * (6 * weights + batch * (s[0] + 5 * units));
  const double pages = static_cast<double>(::sysconf(_SC_PHYS_PAGES));
  const double page = static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  const double have = pages > 0 && page > 0 ? pages * page : 0;
  if (have > 0 && need > have)
    fail("training",
         "the network " + std::to_string(data.d) + "-" +
             (cfg.hidden.empty() ? std::string() : sizes_text(cfg.hidden) + "-") +
             std::to_string(std::max<int64_t>(2, data.num_classes())) + " at batch " +
             std::to_string(static_cast<int64_t>(batch)) + " needs about " + gib_text(need) +
             " of memory but this machine has " + gib_text(have),
         "a network that fits (smaller --hidden or --batch)");
}

// A resumed run must be the same network on data of the same shape, with the same optimizer.
// `n` is the number of training examples after the validation split.
void check_resume(const TrainState& st, const TrainConfig& cfg, const Dataset& tr, int64_t n) {
  const std::string where = st.origin.empty() ? std::string("resume state") : st.origin;
  const std::string again = " (or start a new run without --resume)";
  const auto& sz = st.model.sizes();
  if (sz.size() < 2) fail(where, "holds no network", "a checkpoint written by fcnet train");
  const std::vector<int64_t> hidden(sz.begin() + 1, sz.end() - 1);
  if (hidden != cfg.hidden)
    fail(where,
         "checkpoint has hidden layers " + sizes_text(hidden) + " but the run asks for " +
             sizes_text(cfg.hidden),
         "the checkpoint's architecture" + again);
  if (sz.front() != tr.d)
    fail(tr.source,
         "has " + std::to_string(tr.d) + " features per example but checkpoint " + where +
             " was trained on " + std::to_string(sz.front()),
         std::to_string(sz.front()) + " features (the checkpoint's input width)");
  if (tr.num_classes() > sz.back())
    fail(tr.source,
         "has " + std::to_string(tr.num_classes()) + " classes but checkpoint " + where + " has " +
             std::to_string(sz.back()),
         "labels below " + std::to_string(sz.back()) + again);
  if (!st.model.class_names.empty() && !tr.class_names.empty() &&
      st.model.class_names != tr.class_names)
    fail(tr.source, "names other classes than checkpoint " + where,
         "the class names the checkpoint was trained with");
  if (st.model.f64 != cfg.f64)
    fail(where,
         std::string("checkpoint is in ") + (st.model.f64 ? "f64" : "f32") +
             " precision but the run asks for " + (cfg.f64 ? "f64" : "f32"),
         "the checkpoint's --precision" + again);
  auto device_text = [](const TrainConfig& c) {
    return (c.device == Device::cuda ? std::string("cuda (") : std::string("the CPU (")) +
           (c.f64 ? "f64" : precision_name(c.precision)) + ")";
  };
  if (st.config.device != cfg.device || st.config.precision != cfg.precision)
    fail(where,
         "checkpoint was trained on " + device_text(st.config) + " but the run asks for " +
             device_text(cfg),
         "the checkpoint's --device and --precision" + again);
  const ActivationFn a = st.model.activation();
  if (a.kind != cfg.activation.kind ||
      (a.kind == Activation::leaky_relu && a.alpha != cfg.activation.alpha))
    fail(where,
         std::string("checkpoint uses activation ") + activation_name(a.kind) +
             " but the run asks for " + activation_name(cfg.activation.kind),
         "the checkpoint's --activation" + again);
  if (st.config.optimizer.kind != cfg.optimizer.kind)
    fail(where,
         std::string("checkpoint was trained with optimizer ") +
             optimizer_name(st.config.optimizer.kind) + " but the run asks for " +
             optimizer_name(cfg.optimizer.kind),
         "the checkpoint's --optimizer" + again);
  const int64_t P = st.model.buffer_size();
  const bool uses_m = keeps_first_moment(cfg.optimizer.kind);
  const bool uses_v = keeps_second_moment(cfg.optimizer.kind);
  // Optimizer moments: exactly the buffer when the optimizer keeps them, else none; saved
  // weight copies: the buffer or none.
  auto check_len = [&](const std::vector<double>& v, bool required, const char* what) {
    if (v.size() == static_cast<std::size_t>(P) || (v.empty() && !required)) return;
    fail(where, std::string(what) + " holds " + std::to_string(v.size()) + " values",
         (required ? "" : "none or ") + std::to_string(P) + " (the network's parameter buffer)");
  };
  check_len(st.opt_m, uses_m, "optimizer first moment");
  check_len(st.opt_v, uses_v, "optimizer second moment");
  if (!uses_m && !st.opt_m.empty()) fail(where, "has a first moment", "none for this optimizer");
  if (!uses_v && !st.opt_v.empty()) fail(where, "has a second moment", "none for this optimizer");
  check_len(st.best, false, "best weights");
  check_len(st.epoch_start, false, "epoch-start weights");
  if (st.epoch < 1 || st.step_in_epoch < 0 || st.step < 0 || st.opt_steps < 0)
    fail(where, "checkpoint position is negative", "epoch >= 1 and step counts >= 0");
  if (st.step_in_epoch > 0) {
    const int64_t batch = std::min(cfg.batch, n);
    const int64_t steps = (n + batch - 1) / batch;
    if (st.data_n != n || st.config.batch != cfg.batch || st.step_in_epoch >= steps ||
        st.epoch_start.empty())
      fail(where,
           "checkpoint stopped inside epoch " + std::to_string(st.epoch) + " (step " +
               std::to_string(st.step_in_epoch) + ") of a run on " + std::to_string(st.data_n) +
               " examples with batch " + std::to_string(st.config.batch) + "; this run has " +
               std::to_string(n) + " examples and batch " + std::to_string(cfg.batch),
           "the same data and --batch to finish the epoch");
  }
}

}  // namespace

namespace {
constexpr const char* kMonitorNames[] = {"val_loss", "val_accuracy", "val_balanced_accuracy",
                                         "val_roc_auc", "train_loss"};
}  // namespace

Monitor parse_monitor(const std::string& name) {
  return static_cast<Monitor>(detail::parse_name(kMonitorNames, name, "--monitor", "monitor"));
}

const char* monitor_name(Monitor m) {
  return detail::name_at(kMonitorNames, static_cast<int>(m));
}

Schedule run_schedule(const TrainConfig& cfg, int64_t steps_per_epoch) {
  Schedule sched = cfg.schedule;
  sched.steps_per_epoch = steps_per_epoch;
  sched.total_steps = steps_per_epoch * cfg.epochs;
  if (cfg.max_steps > 0) sched.total_steps = std::min(sched.total_steps, cfg.max_steps);
  sched.warmup_steps = static_cast<int64_t>(std::llround(cfg.warmup_epochs * steps_per_epoch));
  return sched;
}

int64_t val_count(const TrainConfig& cfg, int64_t n) {
  return static_cast<int64_t>(std::llround(cfg.val_split * static_cast<double>(n)));
}

ValSplit split_validation(const TrainConfig& cfg, int64_t n) {
  std::vector<int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  Rng rng(stream_seed(cfg, 4));
  rng.shuffle(idx);
  const int64_t nv = val_count(cfg, n);
  ValSplit s;
  s.val.assign(idx.end() - nv, idx.end());
  s.train.assign(idx.begin(), idx.end() - nv);
  std::sort(s.val.begin(), s.val.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

namespace {

// check_training for a data set of `total` examples over all ranks, of which `train_data` is this
// rank's share (`sharded`; the class count is then agreed over the ranks inside the trainer).
void check_training_of(const Dataset& train_data, const TrainConfig& cfg, const TrainState* resume,
                       const Dataset* val, int64_t total, bool sharded) {
  validate(cfg, train_data);
  if (!resume && !sharded && train_data.num_classes() < 2)
    fail(train_data.source, "has labels of only one class", "at least two classes to classify");
  check_memory(cfg, train_data);
  int64_t n = total;
  if (!val && cfg.val_split > 0) {  // a given validation set replaces the split
    const int64_t nv = val_count(cfg, n);
    if (nv < 1 || nv >= n)
      fail("--val-split",
           "leaves " + std::to_string(n - nv) + " training and " + std::to_string(nv) +
               " validation examples",
           "at least one of each");
    n -= nv;
  }
  if (resume) check_resume(*resume, cfg, train_data, n);
}

}  // namespace

void check_training(const Dataset& train_data, const TrainConfig& cfg, const TrainState* resume,
                    const Dataset* val) {
  check_training_of(train_data, cfg, resume, val, train_data.n, false);
}

TrainResult train(const Dataset& train_data, const Dataset* val, const TrainConfig& cfg,
                  const TrainCallbacks& callbacks, const TrainState* resume) {
  return train_with(
      cfg.device == Device::cuda ? EngineFactory(make_cuda_engine) : EngineFactory(make_cpu_engine),
      train_data, val, cfg, callbacks, resume);
}

TrainResult train_with(const EngineFactory& make, const Dataset& train_data, const Dataset* val,
                       const TrainConfig& cfg, const TrainCallbacks& callbacks,
                       const TrainState* resume) {
  const detail::Shard all = detail::make_shard(callbacks.parallel, train_data);
  check_training_of(train_data, cfg, resume, val, all.total, all.comm != nullptr);
  const Dataset* tr = &train_data;
  detail::Shard shard = all;
  Dataset split_train, split_val;
  std::vector<int64_t> val_indices;
  if (!val && cfg.val_split > 0) {
    // The split is drawn over all ranks' examples; each rank keeps the part of both sides it holds.
    ValSplit sp = split_validation(cfg, all.total);
    split_val = train_data.subset(detail::restrict_to(sp.val, all));
    split_train = train_data.subset(detail::restrict_to(sp.train, all, &shard));
    tr = &split_train;
    val = &split_val;
    val_indices = std::move(sp.val);
  }
  if (val && val->d != tr->d)
    fail(val->source, "has " + std::to_string(val->d) + " features",
         std::to_string(tr->d) + " like the training data");
  // A drawn split's held-out count is known on every rank; a given set's shares are summed.
  const int64_t val_total = !val                   ? 0
                            : !val_indices.empty() ? static_cast<int64_t>(val_indices.size())
                            : all.comm             ? detail::sum_over(*all.comm, val->n)
                                                   : val->n;
  const int ranks = all.comm ? all.comm->size() : 0;
  TrainResult r;
  try {
    r = run_loop(make, *tr, val, val_total, cfg, callbacks, shard, resume);
  } catch (TrainDiverged& e) {
    e.result->train_examples = shard.total;
    e.result->val_examples = val_total;
    e.result->val_indices = val_indices;
    nlohmann::json j = training_metadata(cfg, *e.result, train_data, ranks);
    j["diverged"] = e.what();
    e.result->model.training_json = json_text(j);
    throw;
  }
  r.train_examples = shard.total;
  r.val_examples = val_total;
  r.val_indices = std::move(val_indices);
  r.model.training_json = json_text(training_metadata(cfg, r, train_data, ranks));
  return r;
}

void check_compatible(const Model& model, const Dataset& data) {
  if (data.d != model.input_dim())
    fail(data.source, "has " + std::to_string(data.d) + " features per example",
         std::to_string(model.input_dim()) + " (the model's input width)");
  for (int64_t i = 0; i < static_cast<int64_t>(data.labels.size()); ++i)
    if (data.labels[i] >= model.num_classes())
      fail(data.source,
           "label " + std::to_string(data.labels[i]) + " of example " + std::to_string(i + 1) +
               " is not a class of the model",
           "labels in 0.." + std::to_string(model.num_classes() - 1));
}

EvalResult evaluate(const Model& model, const Dataset& data, int64_t batch, Matrix<double>* probs,
                    Precision precision, bool refuse_non_finite) {
  check_compatible(model, data);
  if (!data.has_labels()) fail(data.source, "has no labels", "labelled data to evaluate on");
  if (probs) probs->resize(data.n, model.num_classes(), "predictions");
  return model.f64 ? detail::evaluate_network(model.net64, model.transform, data, batch, probs,
                                              true, precision, refuse_non_finite)
                   : detail::evaluate_network(model.net32, model.transform, data, batch, probs,
                                              true, precision, refuse_non_finite);
}

Matrix<double> predict(const Model& model, const Dataset& data, bool probs, int64_t batch,
                       Precision precision) {
  check_compatible(model, data);
  Matrix<double> out(data.n, model.num_classes(), "predictions");
  if (data.n == 0) return out;
  if (model.f64)
    detail::evaluate_network(model.net64, model.transform, data, batch, &out, probs, precision);
  else
    detail::evaluate_network(model.net32, model.transform, data, batch, &out, probs, precision);
  return out;
}

}  // namespace fcnet
