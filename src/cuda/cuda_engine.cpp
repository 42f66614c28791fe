// The CUDA backend of the training loop (fcnet::train with Device::cuda): the network, its
// optimizer state and the data sets live on the device, and each step is one replay of a captured
// CUDA graph, queued without waiting. The loop learns of a non-finite loss from the epoch's sums,
// which name the first bad step.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "engine.hpp"
#include "fcnet/cuda.hpp"
#include "fcnet/step_engine.hpp"
#include "train/cpu_engine.hpp"

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

cuda::EngineConfig engine_config(const TrainConfig& cfg) {
  cuda::EngineConfig ec;
  ec.options.precision = cfg.precision;
  ec.optimizer = cfg.optimizer;
  ec.l2 = 2.0 * cfg.reg;
  ec.dropout = cfg.dropout;
  ec.dropout_seed = stream_seed(cfg, 3);
  return ec;
}

class CudaEngine final : public StepEngine {
 public:
  explicit CudaEngine(const EngineSetup& s)
      : cfg_(*s.config),
        host_(std::move(s.model->net32)),
        dropout_rng_(stream_seed(cfg_, 3)),
        transform_(s.model->transform),
        eng_(host_, engine_config(cfg_)),
        classes_(host_.num_classes()),
        train_(eng_.context(), *s.train, transform_, classes_),
        val_src_(s.val) {
    if (s.val && s.val->n > 0)
      val_ = std::make_unique<cuda::DeviceData>(eng_.context(), *s.val, transform_, classes_);
    eng_.save_copy(kBest);
    eng_.save_copy(kEpochStart);
  }

  void begin_epoch(const EpochPlan& plan) override {
    plan_ = &plan;
    // The device gathers rows perm[s·batch …]: the plan's rows are the epoch's whole order.
    train_.set_permutation(eng_.context(), plan.rows);
    eng_.begin_epoch(plan.lr, plan.first);
    snap_ = {};
    pending_seen_ = 0;
    queued_seen_ = 0;
    last_request_ = Clock::time_point{};
  }

  StepOutcome step(int64_t s, std::span<double>) override {
    const EpochPlan& pl = *plan_;
    eng_.train_step(train_, pl.batch.front(), pl.batch[static_cast<std::size_t>(s)]);
    queued_seen_ += pl.batch[static_cast<std::size_t>(s)];
    return {};
  }

  EpochSums sums() override {
    const cuda::StepTotals t = eng_.epoch_totals();  // waits for the queued steps
    EpochSums e = plan_->carry;
    e.loss_sum += t.loss_sum;
    e.correct += t.correct;
    e.seen += queued_seen_;
    e.bad_step = t.bad_step;
    e.bad_loss = t.bad_loss;
    return e;
  }

  // Progress comes from asynchronous copies of the device accumulators, requested at most every
  // 50 ms, so reporting never stalls the stream.
  EpochSums progress() override {
    cuda::StepTotals t;
    if (eng_.poll_snapshot(&t)) {
      snap_.loss_sum = t.loss_sum;
      snap_.correct = t.correct;
      snap_.seen = pending_seen_;
    }
    const auto now = Clock::now();
    if (now - last_request_ > std::chrono::milliseconds(50)) {
      eng_.request_snapshot();
      pending_seen_ = queued_seen_;
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
    // confusion a monitor or the probabilities a caller needs, from the weights on the host.
    const bool on_device = &data == val_src_ && val_ != nullptr;
    const bool host_too = !on_device || probs || cfg_.monitor == Monitor::val_balanced_accuracy ||
                          cfg_.monitor == Monitor::val_roc_auc;
    EvalResult r;
    if (host_too) {
      eng_.download(host_, false);
      r = detail::evaluate_network(host_, transform_, data, 1000, probs, true);
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

  bool agree(Collective&, bool, int64_t) override {
    fail("--device", "cuda with data-parallel ranks", "a single process on the device");
  }

 private:
  static constexpr int kBest = 0, kEpochStart = 1;
  static int slot(WeightCopy c) { return c == WeightCopy::best ? kBest : kEpochStart; }

  const TrainConfig& cfg_;
  Network<float> host_;  // sizes and activation; the weights when evaluated on the host
  Rng dropout_rng_;      // never drawn from: the checkpoint's generator state
  InputTransform transform_;
  cuda::Engine eng_;
  int64_t classes_;
  cuda::DeviceData train_;
  const Dataset* val_src_;
  std::unique_ptr<cuda::DeviceData> val_;
  const EpochPlan* plan_ = nullptr;
  EpochSums snap_;
  int64_t pending_seen_ = 0, queued_seen_ = 0;
  Clock::time_point last_request_{};
};

}  // namespace

std::unique_ptr<StepEngine> make_cuda_engine(const EngineSetup& setup) {
  const TrainConfig& cfg = *setup.config;
  if (!cfg.class_weights.empty() || !setup.train->weights.empty())
    fail("--class-weight", "on --device cuda", "the CPU for class or example weights");
  if (setup.comm)
    fail("--device", "cuda with data-parallel ranks", "a single process on the device");
  cuda::require_device(0);
  return std::make_unique<CudaEngine>(setup);
}

}  // namespace fcnet
