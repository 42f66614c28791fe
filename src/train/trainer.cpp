#include "fcnet/trainer.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "data_parallel.hpp"

namespace fcnet {

void set_num_threads(int n) {
  omp_set_num_threads(n > 0 ? n : omp_get_num_procs());
}
int num_threads() {
  return omp_get_max_threads();
}

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void validate(const TrainConfig& c, const Dataset& train) {
  if (c.batch <= 0) fail("--batch", "is " + std::to_string(c.batch), "a positive batch size");
  if (c.epochs <= 0) fail("--epochs", "is " + std::to_string(c.epochs), "a positive count");
  if (!(c.schedule.lr > 0) || !std::isfinite(c.schedule.lr))
    fail("--lr", "is " + std::to_string(c.schedule.lr), "a positive learning rate");
  if (!(c.dropout >= 0 && c.dropout < 1))
    fail("--dropout", "is " + std::to_string(c.dropout), "a drop probability in [0, 1)");
  if (!(c.val_split >= 0 && c.val_split < 1))
    fail("--val-split", "is " + std::to_string(c.val_split), "a fraction in [0, 1)");
  if (!(c.reg >= 0)) fail("--reg", "is " + std::to_string(c.reg), "a non-negative strength");
  for (auto h : c.hidden)
    if (h <= 0) fail("--hidden", "has a width of " + std::to_string(h), "positive widths");
  if (!train.has_labels()) fail(train.source, "has no labels", "labelled training data");
  if (train.n == 0) fail(train.source, "has no examples", "at least one example");
}

template <class T>
double l2_norm(ConstView<T> m) {
  double s = 0;
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) s += static_cast<double>(m(i, j)) * m(i, j);
  return std::sqrt(s);
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

// Index of the first layer whose gradient holds a non-finite value, or 0.
template <class T>
int first_bad_layer(const Network<T>& net) {
  for (int l = 1; l <= net.num_layers(); ++l)
    for (bool bias : {false, true}) {
      ConstView<T> g = bias ? net.db(l) : net.dW(l);
      for (int64_t i = 0; i < g.size(); ++i)
        if (!std::isfinite(static_cast<double>(g.data[i]))) return l;
    }
  return 0;
}

template <class T>
Network<T>& net_of(Model& m) {
  if constexpr (std::is_same_v<T, double>)
    return m.net64;
  else
    return m.net32;
}
template <class T>
const Network<T>& net_of(const Model& m) {
  if constexpr (std::is_same_v<T, double>)
    return m.net64;
  else
    return m.net32;
}

template <class T>
EvalResult evaluate_impl(const Network<T>& net, const InputTransform& tf, const Dataset& data,
                         int64_t batch, Matrix<double>* out, bool probs) {
  EvalResult r;
  const int64_t n = data.n, c = net.num_classes();
  r.n = n;
  r.classes = c;
  r.confusion.assign(static_cast<std::size_t>(c * c), 0);
  Workspace<T> ws(true);
  batch = std::max<int64_t>(1, std::min(batch, n));
  Matrix<T> xb(batch, data.d, "input batch");
  Matrix<T> pb(batch, c, "probabilities");
  std::vector<int64_t> idx(static_cast<std::size_t>(batch));
  std::vector<double> losses(static_cast<std::size_t>(batch));
  const PreparedTransform ptf = prepare_transform(tf, data.d);
  double total = 0;
  int64_t correct = 0;
  for (int64_t s = 0; s < n; s += batch) {
    const int64_t b = std::min(batch, n - s);
    std::iota(idx.begin(), idx.begin() + b, s);
    gather_batch<T>(xb.view().rows_range(0, b), data, idx.data(), b, ptf);
    ConstView<T> scores = forward_scores(net, xb.view().rows_range(0, b), ws);
    const int32_t* y = data.has_labels() ? data.labels.data() + s : nullptr;
    MatrixView<T> p = pb.view().rows_range(0, b);
    total += softmax_xent_forward<T>(p, scores, y, losses.data());
    for (int64_t i = 0; i < b; ++i) {
      const T* row = p.row(i);
      const int64_t pred = std::max_element(row, row + c) - row;
      if (y) {
        correct += pred == y[i];
        r.confusion[static_cast<std::size_t>(y[i] * c + pred)]++;
      }
      if (out) {
        const T* src = probs ? row : scores.row(i);
        for (int64_t j = 0; j < c; ++j) (*out)(s + i, j) = static_cast<double>(src[j]);
      }
    }
  }
  if (data.has_labels() && n > 0) {
    r.loss = total / static_cast<double>(n);
    r.accuracy = static_cast<double>(correct) / static_cast<double>(n);
    for (int64_t k = 0; k < c; ++k) {
      int64_t row = 0;
      for (int64_t j = 0; j < c; ++j) row += r.confusion[static_cast<std::size_t>(k * c + j)];
      r.per_class_accuracy.push_back(
          row ? static_cast<double>(r.confusion[static_cast<std::size_t>(k * c + k)]) / row
              : std::numeric_limits<double>::quiet_NaN());
    }
  }
  return r;
}

// `shard`: where `train` sits among the ranks' data (all of it for a single process); n below is
// the global example count, and a rank computes the gradient of the rows of each batch it holds.
template <class T>
TrainResult train_impl(const Dataset& train, const Dataset* val, const TrainConfig& cfg,
                       const TrainCallbacks& cb, const detail::Shard& shard) {
  TrainResult res;
  Collective* const comm = shard.comm;
  const int64_t n = shard.total, d = train.d;
  int64_t classes = std::max<int64_t>(train.num_classes(), val ? val->num_classes() : 0);
  if (comm) classes = detail::max_over(*comm, classes);
  const int64_t val_n = !val ? 0 : comm ? detail::sum_over(*comm, val->n) : val->n;
  if (classes < 2)
    fail(train.source, "has labels of only one class", "at least two classes to classify");
  std::vector<int64_t> sizes = {d};
  sizes.insert(sizes.end(), cfg.hidden.begin(), cfg.hidden.end());
  sizes.push_back(classes);

  Model& model = res.model;
  model.f64 = std::is_same_v<T, double>;
  model.transform = comm ? detail::fit_transform_shared(train, cfg.normalize, shard)
                         : fit_transform(train, cfg.normalize);
  model.class_names = train.class_names;
  model.image_shape = train.image_shape;
  Network<T>& net = net_of<T>(model);
  net = Network<T>(sizes, cfg.activation);
  Rng init_rng(cfg.seed * 0x9E3779B97F4A7C15ULL + 1);
  Rng shuffle_rng(cfg.seed * 0x9E3779B97F4A7C15ULL + 2);
  Rng dropout_rng(cfg.seed * 0x9E3779B97F4A7C15ULL + 3 +
                  (comm ? 0x51ED27ULL * static_cast<uint64_t>(comm->rank()) : 0));
  net.init(cfg.init, init_rng, cfg.init_std);

  const int64_t batch = std::min(cfg.batch, n);
  const int64_t steps_per_epoch = (n + batch - 1) / batch;
  Schedule sched = cfg.schedule;
  sched.steps_per_epoch = steps_per_epoch;
  sched.total_steps = steps_per_epoch * cfg.epochs;
  if (cfg.max_steps > 0) sched.total_steps = std::min(sched.total_steps, cfg.max_steps);
  sched.warmup_steps = static_cast<int64_t>(std::llround(cfg.warmup_epochs * steps_per_epoch));
  Optimizer<T> opt(cfg.optimizer, net.buffer_size(), param_ranges(net));

  Matrix<T> xb(batch, d, "input batch");
  const PreparedTransform tf = prepare_transform(model.transform, d);
  std::vector<int32_t> yb(static_cast<std::size_t>(batch));
  std::vector<int64_t> mine(comm ? static_cast<std::size_t>(batch) : 0);  // held rows of a batch
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Workspace<T> ws(!cfg.f64);
  Dropout dropout{cfg.dropout, &dropout_rng};

  std::vector<T> best(net.params(), net.params() + net.buffer_size());
  std::vector<T> epoch_start = best;
  double best_val = -1;
  int64_t since_best = 0;
  int64_t step = 0;

  for (int64_t epoch = 1; epoch <= cfg.epochs; ++epoch) {
    shuffle_rng.shuffle(order);
    std::copy(net.params(), net.params() + net.buffer_size(), epoch_start.begin());
    EpochRecord rec;
    rec.epoch = epoch;
    rec.lr = sched.at(step);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    const auto t0 = Clock::now();
    bool stop = false;
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      const int64_t b = std::min(batch, n - s * batch);
      const int64_t* idx = order.data() + s * batch;
      int64_t rows = b;
      if (comm) {
        rows = 0;
        for (int64_t i = 0; i < b; ++i)
          if (shard.owns(idx[i])) mine[rows++] = idx[i] - shard.first;
        idx = mine.data();
      }
      MatrixView<T> x = xb.view().rows_range(0, rows);
      gather_batch<T>(x, train, idx, rows, tf);
      for (int64_t i = 0; i < rows; ++i) yb[i] = train.labels[idx[i]];
      const double lr = sched.at(step);
      LossParts lp;
      if (rows > 0)
        lp = forward_backward<T>(net, x, yb.data(), 0.0, ws, cfg.dropout > 0 ? &dropout : nullptr,
                                 1.0 / static_cast<double>(b), false);
      else
        std::fill(net.grads(), net.grads() + net.buffer_size(), T(0));
      stop = cb.stop && cb.stop->load();
      if (comm) {  // the one exchange per step: gradients, then loss, hits and stop requests
        comm->sum(net.grads(), net.buffer_size());
        double v[3] = {lp.data_loss, static_cast<double>(lp.correct), stop ? 1.0 : 0.0};
        comm->sum(v, 3);
        lp.data_loss = v[0];
        lp.correct = static_cast<int64_t>(v[1]);
        stop = v[2] > 0;
      }
      if (!std::isfinite(lp.data_loss)) {
        std::copy(epoch_start.begin(), epoch_start.end(), net.params());
        const int bad = first_bad_layer(net);
        fail("training",
             "the loss became " + std::to_string(lp.data_loss) + " at epoch " +
                 std::to_string(epoch) + ", step " + std::to_string(s + 1) +
                 (bad ? " (first non-finite gradient in layer " + std::to_string(bad) + ")"
                      : std::string()) +
                 "; training diverged",
             "a finite loss: try a lower learning rate (--lr " + std::to_string(lr / 10) + ")");
      }
      opt.step(net.params(), net.grads(), lr, 2.0 * cfg.reg);
      loss_sum += lp.data_loss * static_cast<double>(b);
      correct += lp.correct;
      seen += b;
      ++step;
      ++rec.steps;
      if (cb.on_step) {
        TrainProgress p;
        p.epoch = epoch;
        p.epochs = cfg.epochs;
        p.step = s + 1;
        p.steps = steps_per_epoch;
        p.loss = loss_sum / static_cast<double>(seen);
        p.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
        p.seconds = since(t0);
        p.examples_per_second = static_cast<double>(seen) / std::max(1e-9, p.seconds);
        cb.on_step(p);
      }
      if (cfg.max_steps > 0 && step >= cfg.max_steps) break;
      if (stop) break;
    }
    rec.seconds = since(t0);
    res.seconds += rec.seconds;
    rec.examples = seen;
    rec.train_loss = loss_sum / static_cast<double>(seen) + reg_loss(net, cfg.reg);
    rec.train_accuracy = static_cast<double>(correct) / static_cast<double>(seen);
    for (int l = 1; l <= net.num_layers(); ++l) {
      rec.weight_norms.push_back(l2_norm<T>(net.W(l)));
      rec.grad_norms.push_back(l2_norm<T>(net.dW(l)));
    }
    if (val_n > 0) {
      EvalResult ev = evaluate_impl<T>(net, model.transform, *val, 1000, nullptr, true);
      if (comm) detail::combine_eval(*comm, ev);
      rec.val_loss = ev.loss;
      rec.val_accuracy = ev.accuracy;
      if (ev.accuracy > best_val) {
        best_val = ev.accuracy;
        res.best_epoch = epoch;
        since_best = 0;
        std::copy(net.params(), net.params() + net.buffer_size(), best.begin());
      } else {
        ++since_best;
      }
    }
    res.epochs.push_back(rec);
    if (cb.on_epoch) cb.on_epoch(rec);
    stop = stop || (cb.stop && cb.stop->load());
    if (comm)
      stop = detail::end_epoch_agreement(*comm, net.params(), net.buffer_size() * sizeof(T), stop,
                                         epoch);
    if (stop) {
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
  if (val_n > 0 && res.best_epoch > 0)
    std::copy(best.begin(), best.end(), net.params());
  else
    res.best_epoch = static_cast<int64_t>(res.epochs.size());
  return res;
}

nlohmann::json training_metadata(const TrainConfig& cfg, const TrainResult& r,
                                 const Dataset& train) {
  nlohmann::json j;
  j["data"] = train.source;
  j["hidden"] = cfg.hidden;
  j["activation"] = activation_name(cfg.activation.kind);
  j["init"] = init_name(cfg.init);
  j["optimizer"] = optimizer_name(cfg.optimizer.kind);
  j["lr"] = cfg.schedule.lr;
  j["schedule"] = schedule_name(cfg.schedule.kind);
  j["lr_decay"] = cfg.schedule.decay;
  j["warmup_epochs"] = cfg.warmup_epochs;
  j["reg"] = cfg.reg;
  j["dropout"] = cfg.dropout;
  j["batch"] = cfg.batch;
  j["epochs"] = cfg.epochs;
  j["epochs_run"] = r.epochs.size();
  j["best_epoch"] = r.best_epoch;
  j["val_split"] = cfg.val_split;
  j["patience"] = cfg.patience;
  j["seed"] = cfg.seed;
  j["precision"] = cfg.f64 ? "f64" : "f32";
  j["train_examples"] = r.train_examples;
  j["val_examples"] = r.val_examples;
  j["seconds"] = r.seconds;
  if (!r.epochs.empty()) {
    const auto& e = r.epochs.back();
    j["final_train_loss"] = e.train_loss;
    j["final_train_accuracy"] = e.train_accuracy;
    if (std::isfinite(e.val_accuracy)) j["final_val_accuracy"] = e.val_accuracy;
  }
  return j;
}

}  // namespace

TrainResult train(const Dataset& train_data, const Dataset* val, const TrainConfig& cfg,
                  const TrainCallbacks& callbacks) {
  validate(cfg, train_data);
  const Dataset* tr = &train_data;
  const detail::Shard all = detail::make_shard(callbacks.parallel, train_data);
  detail::Shard shard = all;
  Dataset split_train, split_val;
  if (!val && cfg.val_split > 0) {
    // The split is drawn over all ranks' examples; each rank keeps the part of both sides it holds.
    const int64_t n = all.total;
    std::vector<int64_t> idx(static_cast<std::size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    Rng rng(cfg.seed * 0x9E3779B97F4A7C15ULL + 4);
    rng.shuffle(idx);
    const int64_t nv = static_cast<int64_t>(std::llround(cfg.val_split * n));
    if (nv < 1 || nv >= n)
      fail("--val-split",
           "leaves " + std::to_string(n - nv) + " training and " + std::to_string(nv) +
               " validation examples",
           "at least one of each");
    std::vector<int64_t> vi(idx.end() - nv, idx.end()), ti(idx.begin(), idx.end() - nv);
    std::sort(vi.begin(), vi.end());
    std::sort(ti.begin(), ti.end());
    detail::Shard val_shard;
    split_val = train_data.subset(detail::restrict_to(vi, all, val_shard));
    split_train = train_data.subset(detail::restrict_to(ti, all, shard));
    tr = &split_train;
    val = &split_val;
  }
  if (val && val->d != tr->d)
    fail(val->source, "has " + std::to_string(val->d) + " features",
         std::to_string(tr->d) + " like the training data");
  TrainResult r = cfg.f64 ? train_impl<double>(*tr, val, cfg, callbacks, shard)
                          : train_impl<float>(*tr, val, cfg, callbacks, shard);
  r.train_examples = shard.total;
  r.val_examples = !val ? 0 : all.comm ? detail::sum_over(*all.comm, val->n) : val->n;
  nlohmann::json meta = training_metadata(cfg, r, train_data);
  if (all.comm) meta["ranks"] = all.comm->size();
  r.model.training_json = meta.dump();
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

EvalResult evaluate(const Model& model, const Dataset& data, int64_t batch) {
  check_compatible(model, data);
  if (!data.has_labels()) fail(data.source, "has no labels", "labelled data to evaluate on");
  return model.f64 ? evaluate_impl<double>(model.net64, model.transform, data, batch, nullptr, true)
                   : evaluate_impl<float>(model.net32, model.transform, data, batch, nullptr, true);
}

Matrix<double> predict(const Model& model, const Dataset& data, bool probs, int64_t batch) {
  check_compatible(model, data);
  Matrix<double> out(data.n, model.num_classes(), "predictions");
  if (data.n == 0) return out;
  if (model.f64)
    evaluate_impl<double>(model.net64, model.transform, data, batch, &out, probs);
  else
    evaluate_impl<float>(model.net32, model.transform, data, batch, &out, probs);
  return out;
}

}  // namespace fcnet
