// The backend port of training: what a backend (the CPU in f32 or f64, a CUDA device) does for
// the one training loop of fcnet::train. The loop (src/train/trainer.cpp) decides everything
// about the run — epochs, the per-epoch shuffle, the schedule, validation, early stopping,
// checkpoints, stop signals, divergence and ranks — and a StepEngine carries out the arithmetic:
// steps on batches of rows, evaluations, and copies of its state.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "fcnet/trainer.hpp"

namespace fcnet {

// The sums of an epoch's steps.
struct EpochSums {
  double loss_sum = 0;   // Σ over steps of (mean data loss of the batch) × batch size
  int64_t correct = 0;   // rows whose highest score is at the label
  int64_t seen = 0;      // examples the sums cover
  int64_t bad_step = 0;  // 1-based step whose loss was first found non-finite (0: none)
  double bad_loss = 0;   // that step's loss
};

// The steps of one epoch as the loop planned them: step s trains on the local rows
// rows[start[s] … start[s+1]) (this rank's share of the global batch), a batch of batch[s]
// examples over all ranks, at learning rate lr[s]. Steps before `first` were done before a
// checkpoint; `carry` holds their sums.
struct EpochPlan {
  std::vector<int64_t> rows;
  std::vector<int64_t> start;  // steps + 1 offsets into rows
  std::vector<int64_t> batch;  // global batch size of each step
  std::vector<double> lr;
  int64_t first = 0;
  EpochSums carry;
  int64_t steps() const { return static_cast<int64_t>(batch.size()); }
};

// What a step reports at once. A backend that queues its steps (CUDA) reports every step as ok
// and the first bad one through sums().bad_step.
struct StepOutcome {
  bool ok = true;     // false: the loss or a gradient was not finite; the step's weights are void
  double loss = 0;    // the batch's mean data loss (when !ok)
  int bad_layer = 0;  // first layer with a non-finite gradient (0: none found or not known)
};

// Parameter copies an engine keeps beside its weights.
enum class WeightCopy { best, epoch_start };

class StepEngine {
 public:
  virtual ~StepEngine() = default;

  // Starts an epoch; `plan` outlives the epoch's steps.
  virtual void begin_epoch(const EpochPlan& plan) = 0;
  // Step s of the plan: gather, forward, backward, the gradient sum over the ranks (the values
  // of `shared` are summed with it, in the same exchange), the optimizer.
  virtual StepOutcome step(int64_t s, std::span<double> shared) = 0;
  // The epoch's sums, the carry included (waits for queued steps).
  virtual EpochSums sums() = 0;
  // The sums as known now, without waiting (a queued backend's lag behind its steps).
  virtual EpochSums progress() = 0;

  // Evaluates a labelled data set (the training loop's validation set or another); `probs`
  // (N×C, sized by the caller) receives the class probabilities when given.
  virtual EvalResult evaluate(const Dataset& data, Matrix<double>* probs) = 0;

  // ‖W_l‖ and ‖dW_l‖ (the last step's gradient) per layer, and reg·Σ‖W_l‖².
  struct Norms {
    std::vector<double> weights, grads;
    double reg_loss = 0;
  };
  virtual Norms norms(double reg) = 0;

  virtual void keep(WeightCopy c) = 0;     // the current weights into the copy
  virtual void restore(WeightCopy c) = 0;  // the copy back into the weights
  virtual std::vector<double> copy_values(WeightCopy c) = 0;
  virtual void set_copy(WeightCopy c, const std::vector<double>& values) = 0;

  // The whole state for checkpoints: the current weights into st.model's network, the
  // optimizer's moments and step count, the dropout generator.
  virtual void save(TrainState& st) = 0;
  // The state of save(), from a checkpoint (its network has this engine's sizes).
  virtual void load(const TrainState& st) = 0;
  // The current weights into model's network (the engine is done after this).
  virtual void finish(Model& model) = 0;

  // With ranks: checks the weights are the same on every rank after `epoch` and returns whether
  // any rank asks to stop.
  virtual bool agree(Collective& comm, bool stop, int64_t epoch) = 0;
};

// What an engine is built from: the initial network (initialised by the loop), the run's
// configuration, the data it trains and validates on (kept by reference for the whole run), with
// the model's input transform, and the ranks.
struct EngineSetup {
  Model* model = nullptr;  // sizes, initial weights (the engine may take the network), transform
  const TrainConfig* config = nullptr;
  const Dataset* train = nullptr;
  const Dataset* val = nullptr;  // null without validation
  Collective* comm = nullptr;
  // The most rows a step takes (0: a batch, or all of `train` when it holds fewer, as the loop's
  // steps do; a caller drawing rows with replacement may take more than `train` holds).
  int64_t max_rows = 0;
};

using EngineFactory = std::function<std::unique_ptr<StepEngine>(const EngineSetup&)>;

// The CPU engine (cfg.f64: double and the reference kernels).
std::unique_ptr<StepEngine> make_cpu_engine(const EngineSetup& setup);
// The CUDA engine (device 0, cfg.precision); throws fcnet::Error without CUDA.
std::unique_ptr<StepEngine> make_cuda_engine(const EngineSetup& setup);

// fcnet::train with the engine of `factory` instead of the one cfg names (tests: a recording
// engine shows what the loop asks of a backend).
TrainResult train_with(const EngineFactory& factory, const Dataset& train, const Dataset* val,
                       const TrainConfig& cfg, const TrainCallbacks& callbacks = {},
                       const TrainState* resume = nullptr);

}  // namespace fcnet
