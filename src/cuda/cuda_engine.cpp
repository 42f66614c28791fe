// The CUDA backend of the training loop (fcnet::train with Device::cuda): the network, its
// optimizer state and the data sets live on the device, and each step is one replay of a captured
// CUDA graph, queued without waiting. The loop learns of a non-finite loss from the epoch's sums,
// which name the first bad step.
//
// Weighted runs gather each row's weight w_i with the row; each step's scale 1/Σ w_i (over all
// ranks) comes from a table computed on the host when the epoch begins. With ranks, rank r trains
// on device r mod (devices); a step is the rank's forward and backward on its rows, the gradient
// sum over the ranks (exchange.hpp), then the optimizer. The epoch's loss sums stay per rank on
// the device and are added up over the ranks when the loop asks for them.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "engine.hpp"
#include "exchange.hpp"
#include "fcnet/cuda.hpp"
#include "fcnet/step_engine.hpp"
#include "train/cpu_engine.hpp"
#include "train/data_parallel.hpp"

namespace fcnet {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<double> to_doubles(const std::vector<float>& v) {
  return detail::to_doubles(v.data(), static_cast<int64_t>(v.size()));
}
std::vector<float> to_floats(const std::vector<double>& v) {
  std::vector<float> f(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) f[i] = static_cast<float>(v[i]);
  return f;
}

bool is_weighted(const EngineSetup& s) {
  return !s.config->class_weights.empty() || !s.train->weights.empty();
}

// The device of this process: 0, or rank r's r mod count (no device at all: 0, for the error that
// says so).
int engine_device(const EngineSetup& s) {
  return s.comm ? detail::device_for_rank(s.comm->rank(), std::max(1, cuda::device_count())) : 0;
}

cuda::EngineConfig engine_config(const EngineSetup& s) {
  const TrainConfig& cfg = *s.config;
  cuda::EngineConfig ec;
  ec.options.precision = cfg.precision;
  ec.options.device = engine_device(s);
  ec.optimizer = cfg.optimizer;
  ec.l2 = 2.0 * cfg.reg;
  ec.dropout = cfg.dropout;
  ec.dropout_seed = detail::rank_dropout_seed(stream_seed(cfg, 3), s.comm);
  ec.weighted = is_weighted(s);
  return ec;
}

// Above any step count, and exact as a double: the ranks' first bad step is found as the largest
// kNoBadStep − step.
constexpr double kNoBadStep = 9.0e15;

class CudaEngine final : public StepEngine {
 public:
  explicit CudaEngine(const EngineSetup& s)
      : cfg_(*s.config),
        comm_(s.comm),
        host_(std::move(s.model->net32)),
        dropout_rng_(stream_seed(cfg_, 3)),
        transform_(s.model->transform),
        eng_(host_, engine_config(s)),
        classes_(host_.num_classes()),
        train_(eng_.context(), *s.train, transform_, classes_),
        train_src_(*s.train),
        val_src_(s.val),
        weighted_(is_weighted(s)) {
    if (s.val && s.val->n > 0)
      val_ = std::make_unique<cuda::DeviceData>(eng_.context(), *s.val, transform_, classes_);
    if (weighted_) {
      weights_.resize(static_cast<std::size_t>(train_src_.n));
      for (int64_t i = 0; i < train_src_.n; ++i)
        weights_[static_cast<std::size_t>(i)] = detail::example_weight(train_src_, cfg_, i);
      train_.set_weights(eng_.context(), weights_);
    }
    if (comm_) {
      sum_ = std::make_unique<cuda::GradientSum>(*comm_, eng_.context());
      // A rank's share of a step varies from step to step: buffers for the most rows, once.
      eng_.reserve(std::max<int64_t>(1, std::min(cfg_.batch, train_src_.n)));
    }
    eng_.save_copy(kBest);
    eng_.save_copy(kEpochStart);
  }

  void begin_epoch(const EpochPlan& plan) override {
    plan_ = &plan;
    // The device gathers rows perm[s·batch …] (one process) or perm[start[s] …] (ranks): the
    // plan's rows are this rank's whole order of the epoch.
    train_.set_permutation(eng_.context(), plan.rows);
    const auto steps = static_cast<std::size_t>(plan.steps());
    cuda::EpochTables t;
    t.lr = plan.lr;
    if (comm_) t.row_start.assign(plan.start.begin(), plan.start.begin() + plan.steps());
    skip_.assign(steps, 0);
    if (weighted_) {
      // Each step's total weight, over all ranks in one exchange for the epoch (the CPU engine
      // sums the same values step by step).
      std::vector<double> total(steps, 0.0);
      for (std::size_t k = 0; k < steps; ++k)
        for (int64_t i = plan.start[k]; i < plan.start[k + 1]; ++i)
          total[k] += weights_[static_cast<std::size_t>(plan.rows[static_cast<std::size_t>(i)])];
      if (comm_) comm_->sum(total.data(), static_cast<int64_t>(steps));
      t.grad_scale.resize(steps);
      t.loss_scale.resize(steps);
      for (std::size_t k = 0; k < steps; ++k) {
        // As forward_backward: the scale rounded to float, the step's mean loss Σ w_i·L_i times
        // it, counted b times in the epoch's sum.
        const auto scale = static_cast<float>(detail::weighted_scale(total[k]));
        t.grad_scale[k] = static_cast<double>(scale);
        t.loss_scale[k] = static_cast<double>(scale) * static_cast<double>(plan.batch[k]);
        skip_[k] = total[k] == 0 ? 1 : 0;
      }
      t.skip = skip_;
    } else if (comm_) {
      // A rank's rows are part of the batch: the scale is 1/b of the whole batch.
      t.grad_scale.resize(steps);
      for (std::size_t k = 0; k < steps; ++k)
        t.grad_scale[k] =
            static_cast<double>(static_cast<float>(1.0 / static_cast<double>(plan.batch[k])));
    }
    eng_.begin_epoch(t, plan.first);
    snap_ = {};
    pending_seen_ = pending_local_ = 0;
    queued_seen_ = queued_local_ = 0;
    last_request_ = Clock::time_point{};
  }

  StepOutcome step(int64_t s, std::span<double> shared) override {
    const EpochPlan& pl = *plan_;
    const auto k = static_cast<std::size_t>(s);
    const bool counted = skip_[k] == 0;
    if (!comm_) {
      eng_.train_step(train_, pl.batch.front(), pl.batch[k], counted);
    } else {
      const int64_t rows = pl.start[k + 1] - pl.start[k];
      if (rows > 0)
        eng_.local_step(train_, rows);
      else
        eng_.zero_grads();
      // The gradients are enqueued for their sum first, so that with NCCL no rank waits in the
      // host exchange of `shared` for one that has not yet enqueued its part of the all-reduce.
      sum_->sum(eng_.gradients(), eng_.total());
      if (!shared.empty()) comm_->sum(shared.data(), static_cast<int64_t>(shared.size()));
      eng_.apply_step(counted);
      queued_local_ += rows;
    }
    queued_seen_ += pl.batch[k];
    return {};
  }

  EpochSums sums() override {
    cuda::StepTotals t = eng_.epoch_totals();  // waits for the queued steps
    if (comm_) {
      // The ranks' sums added up; the first bad step of any rank (the others' follow from the
      // summed gradients), with the loss of the ranks whose loss went bad at it.
      double first = t.bad_step > 0 ? kNoBadStep - static_cast<double>(t.bad_step) : 0.0;
      comm_->max(&first, 1);
      const int64_t bad = first > 0 ? static_cast<int64_t>(kNoBadStep - first) : 0;
      double v[3] = {t.loss_sum, static_cast<double>(t.correct),
                     bad > 0 && t.bad_step == bad ? t.bad_loss : 0.0};
      comm_->sum(v, 3);
      t.loss_sum = v[0];
      t.correct = static_cast<int64_t>(v[1]);
      t.bad_step = bad;
      t.bad_loss = v[2];
    }
    EpochSums e = plan_->carry;
    e.loss_sum += t.loss_sum;
    e.correct += t.correct;
    e.seen += queued_seen_;
    e.bad_step = t.bad_step;
    e.bad_loss = t.bad_loss;
    return e;
  }

  // Progress comes from asynchronous copies of the device accumulators, requested at most every
  // 50 ms, so reporting never stalls the stream. With ranks they are this rank's share, scaled to
  // the examples of all ranks (progress is no exchange: only rank 0 reports it).
  EpochSums progress() override {
    cuda::StepTotals t;
    if (eng_.poll_snapshot(&t)) {
      const double share = comm_ && pending_local_ > 0 ? static_cast<double>(pending_seen_) /
                                                             static_cast<double>(pending_local_)
                                                       : 1.0;
      snap_.loss_sum = t.loss_sum * share;
      snap_.correct = static_cast<int64_t>(static_cast<double>(t.correct) * share);
      snap_.seen = pending_seen_;
    }
    const auto now = Clock::now();
    if (now - last_request_ > std::chrono::milliseconds(50)) {
      eng_.request_snapshot();
      pending_seen_ = queued_seen_;
      pending_local_ = queued_local_;
      last_request_ = now;
    }
    EpochSums e = plan_->carry;
    e.loss_sum += snap_.loss_sum;
    e.correct += snap_.correct;
    e.seen += snap_.seen;
    return e;
  }

  EvalResult evaluate(const Dataset& data, Matrix<double>* probs) override {
    // Loss and accuracy of the validation set on the device (in the CPU's batches of 1000); the
    // confusion a monitor, the ranks' combination or the probabilities a caller needs, from the
    // weights on the host.
    const bool on_device = &data == val_src_ && val_ != nullptr;
    const bool host_too = !on_device || probs || comm_ ||
                          cfg_.monitor == Monitor::val_balanced_accuracy ||
                          cfg_.monitor == Monitor::val_roc_auc;
    EvalResult r;
    if (host_too) {
      eng_.download(host_, false);
      r = detail::evaluate_network(host_, transform_, data, 1000, probs, true, Precision::fp32,
                                   false);
    }
    if (on_device) {  // the loss and accuracy at the device's precision, whatever the monitor
      const cuda::StepTotals ev = eng_.evaluate(*val_, 1000);
      r.n = data.n;
      r.classes = classes_;
      r.loss = ev.loss_sum / static_cast<double>(data.n);
      r.accuracy = static_cast<double>(ev.correct) / static_cast<double>(data.n);
    }
    return r;
  }

  Norms norms(double reg) override {
    const std::vector<double> w2 = eng_.layer_sum_squares(false);
    const std::vector<double> g2 = eng_.layer_sum_squares(true);
    Norms n;
    double sum = 0;
    for (std::size_t l = 0; l < w2.size(); ++l) {
      n.weights.push_back(std::sqrt(w2[l]));
      n.grads.push_back(std::sqrt(g2[l]));
      sum += w2[l];
    }
    n.reg_loss = reg == 0 ? 0.0 : reg * sum;
    return n;
  }

  void keep(WeightCopy c) override { eng_.save_copy(slot(c)); }
  void restore(WeightCopy c) override { eng_.restore_copy(slot(c)); }
  std::vector<double> copy_values(WeightCopy c) override {
    std::vector<float> f(static_cast<std::size_t>(eng_.total()));
    eng_.download_copy(slot(c), f.data());
    return to_doubles(f);
  }
  void set_copy(WeightCopy c, const std::vector<double>& v) override {
    eng_.upload_copy(slot(c), to_floats(v).data());
  }

  // The dropout draws are numbered by the optimizer's step count: the checkpoint's generator
  // (a valid state, as the file format requires) is not used on the device.
  void save(TrainState& st) override {
    st.model.f64 = false;
    st.model.net32 = host_;
    eng_.download(st.model.net32, true);
    std::vector<float> m, v;
    eng_.download_moments(m, v);
    st.opt_m = to_doubles(m);
    st.opt_v = to_doubles(v);
    st.opt_steps = eng_.steps();
    st.dropout_rng = dropout_rng_.state();
  }

  void load(const TrainState& st) override {
    eng_.upload(st.model.net32);
    eng_.upload_moments(to_floats(st.opt_m), to_floats(st.opt_v));
    eng_.set_steps(st.opt_steps);
  }

  void finish(Model& model) override {
    model.f64 = false;
    model.net32 = std::move(host_);
    eng_.download(model.net32, true);
  }

  bool agree(Collective& comm, bool stop, int64_t epoch) override {
    eng_.download(host_, false);
    return detail::end_epoch_agreement(
        comm, host_.params(), static_cast<std::size_t>(host_.buffer_size()) * sizeof(float), stop,
        epoch);
  }

 private:
  static constexpr int kBest = 0, kEpochStart = 1;
  static int slot(WeightCopy c) { return c == WeightCopy::best ? kBest : kEpochStart; }

  const TrainConfig& cfg_;
  Collective* comm_;
  Network<float> host_;  // sizes and activation; the weights when evaluated on the host
  Rng dropout_rng_;      // never drawn from: the checkpoint's generator state
  InputTransform transform_;
  cuda::Engine eng_;
  int64_t classes_;
  cuda::DeviceData train_;
  const Dataset& train_src_;
  const Dataset* val_src_;
  std::unique_ptr<cuda::DeviceData> val_;
  bool weighted_;
  std::vector<double> weights_;  // w_i of every training example (weighted runs)
  std::vector<int32_t> skip_;    // 1 for the epoch's steps of total weight 0
  std::unique_ptr<cuda::GradientSum> sum_;
  const EpochPlan* plan_ = nullptr;
  EpochSums snap_;
  // Examples of all ranks (seen) and of this rank (local): at the last snapshot, and queued.
  int64_t pending_seen_ = 0, queued_seen_ = 0, pending_local_ = 0, queued_local_ = 0;
  Clock::time_point last_request_{};
};

}  // namespace

std::unique_ptr<StepEngine> make_cuda_engine(const EngineSetup& setup) {
  cuda::require_device(engine_device(setup));  // before the engine takes the network
  return std::make_unique<CudaEngine>(setup);
}

}  // namespace fcnet
