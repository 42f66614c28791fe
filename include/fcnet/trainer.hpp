// Training, evaluation and prediction on data sets: minibatches with a seeded per-epoch shuffle,
// the optimizer and schedule of the config, dropout, validation split with early stopping, and
// per-epoch records for reports.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "fcnet/data.hpp"
#include "fcnet/model_io.hpp"
#include "fcnet/network.hpp"
#include "fcnet/optim.hpp"

namespace fcnet {

// Makes every parallel part of fcnet (oneDNN and fcnet's own loops) use exactly n threads from the
// calling thread on; n <= 0 means one per core.
void set_num_threads(int n);
int num_threads();

struct TrainConfig {
  std::vector<int64_t> hidden = {512, 256};  // hidden widths; empty = softmax regression
  ActivationFn activation{};
  Init init = Init::he;
  double init_std = 1e-2;  // for Init::normal
  OptimizerConfig optimizer{};
  Schedule schedule{};  // schedule.lr is the base learning rate; step counts are filled in
  double warmup_epochs = 0;
  double reg = 0.0;      // L2: reg·Σ‖W‖²
  double dropout = 0.0;  // drop probability on hidden units
  int64_t batch = 128;
  int64_t epochs = 10;
  int64_t max_steps = 0;   // stop after this many optimizer steps (0 = no limit)
  double val_split = 0.0;  // fraction of the training data held out for validation
  int64_t patience = 0;    // early stopping: epochs without a better val accuracy (0 = off)
  Normalize normalize = Normalize::automatic;
  uint64_t seed = 0;
  bool f64 = false;  // compute in double (reference kernels)
};

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0;
  double train_accuracy = 0;
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();
  double lr = 0;         // learning rate at the epoch's first step
  double seconds = 0;    // training time of the epoch (evaluation excluded)
  int64_t examples = 0;  // examples processed in the epoch
  int64_t steps = 0;
  std::vector<double> weight_norms;  // ‖W_l‖ per layer at the end of the epoch
  std::vector<double> grad_norms;    // ‖dW_l‖ per layer at the epoch's last step
};

struct TrainProgress {
  int64_t epoch = 0, epochs = 0;
  int64_t step = 0, steps = 0;  // within the epoch
  double loss = 0;              // running mean data loss of the epoch
  double accuracy = 0;
  double examples_per_second = 0;
  double seconds = 0;  // since the epoch started
};

// The processes of a data-parallel training run (MPI ranks, or threads in tests). Every rank calls
// the same methods in the same order with buffers of the same length; each call returns the same
// values on every rank.
class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;  // 0..size()-1
  virtual int size() const = 0;
  // Element-wise sum (max) over all ranks, in place.
  virtual void sum(float* v, int64_t n) = 0;
  virtual void sum(double* v, int64_t n) = 0;
  virtual void max(double* v, int64_t n) = 0;
};

// Data-parallel training: the training data set of `total` examples is split over the ranks of
// `comm` in rank order, and this process holds examples [first, first + its n) of it. Every rank
// draws the same per-epoch permutation of all `total` examples, computes the gradient of the
// examples of each global batch that it holds (normalised by the global batch size), and the
// gradients are summed over the ranks before every rank takes the same optimizer step; so each
// step sees the same batch as a single-process run, and results agree with it up to the order of
// float additions. Dropout masks are drawn per rank. A validation set (given or split off) is
// sharded the same way. `comm` null: a single process holding all the data.
struct DataParallel {
  Collective* comm = nullptr;
  int64_t total = 0;
  int64_t first = 0;
};

struct TrainCallbacks {
  std::function<void(const TrainProgress&)> on_step;
  std::function<void(const EpochRecord&)> on_epoch;
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by a signal) to stop after the current step
  DataParallel parallel;  // with ranks, `stop` takes effect when any rank's flag is set
};

struct TrainResult {
  Model model;
  std::vector<EpochRecord> epochs;
  double seconds = 0;      // total training time (evaluation excluded)
  int64_t best_epoch = 0;  // epoch whose weights the model holds when early stopping restored
  bool stopped_early = false;
  bool interrupted = false;  // callbacks.stop was set
  int64_t steps = 0;
  int64_t train_examples = 0;  // after the validation split
  int64_t val_examples = 0;
};

// Trains a new model on `train`; `val` (optional) is evaluated each epoch, else cfg.val_split
// holds out part of `train`. Throws fcnet::Error on bad configuration or divergence (a non-finite
// loss), naming the epoch and step.
TrainResult train(const Dataset& train, const Dataset* val, const TrainConfig& cfg,
                  const TrainCallbacks& callbacks = {});

struct EvalResult {
  int64_t n = 0;
  double loss = 0;  // mean −log p[y] (no regularisation)
  double accuracy = 0;
  int64_t classes = 0;
  std::vector<int64_t> confusion;          // classes×classes, row = true label, column = predicted
  std::vector<double> per_class_accuracy;  // recall per class (NaN for classes absent from data)
};

// Evaluates `model` on labelled `data` (the model's input transform applied), in batches.
EvalResult evaluate(const Model& model, const Dataset& data, int64_t batch = 1000);

// Class probabilities (or raw scores when `probs` is false) for every example, N×C.
Matrix<double> predict(const Model& model, const Dataset& data, bool probs = true,
                       int64_t batch = 1000);

// Checks that data fits the model: width D and, when labelled, labels within the classes.
void check_compatible(const Model& model, const Dataset& data);

}  // namespace fcnet
