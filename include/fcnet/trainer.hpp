// Training, evaluation and prediction on data sets: minibatches with a seeded per-epoch shuffle,
// the optimizer and schedule of the config, dropout, validation split with early stopping, and
// per-epoch records for reports.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fcnet/collective.hpp"
#include "fcnet/data.hpp"
#include "fcnet/model.hpp"
#include "fcnet/network.hpp"
#include "fcnet/optim.hpp"
#include "fcnet/schedule.hpp"

namespace fcnet {

// Makes every parallel part of fcnet (oneDNN and fcnet's own loops) use exactly n threads from the
// calling thread on: n in 1…max_threads(), or 0 for one per core (at most max_threads()). Throws
// fcnet::Error (naming `where`) for any other n, before touching the thread pool.
void set_num_threads(int n, const std::string& where = "threads");
int num_threads();
int max_threads();  // 256: the most threads a region of fcnet's work splits into

// The optimizer's ranges over a network's parameter buffer: W_l (weights: regularised, decayed) and
// b_l (biases) for every layer, as the trainer updates them.
template <class T>
std::vector<ParamRange> param_ranges(const Network<T>& net);

// What early stopping, the kept weights and the plateau schedule watch: a score on the validation
// set, or the training loss (train_loss: needs no validation set; the model keeps its last
// weights).
enum class Monitor { val_loss, val_accuracy, val_balanced_accuracy, val_roc_auc, train_loss };
Monitor parse_monitor(const std::string& name);  // "val_loss", "val_accuracy", ...
const char* monitor_name(Monitor m);

// Where a run trains: the CPU (cfg.f64 picks double and the reference kernels) or CUDA device 0
// at cfg.precision.
enum class Device { cpu, cuda };

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
  // Weight of each class in the loss (C values), or empty (all 1). The loss of a batch is the
  // weighted mean Σ wᵢ·Lᵢ / Σ wᵢ, wᵢ = class weight × the example's weight (Dataset::weights).
  std::vector<double> class_weights;
  int64_t batch = 128;
  int64_t epochs = 10;
  int64_t max_steps = 0;   // stop after this many optimizer steps (0 = no limit)
  double val_split = 0.0;  // fraction of the training data held out for validation
  int64_t patience = 0;    // early stopping: epochs without a better monitored value (0 = off)
  Monitor monitor = Monitor::val_loss;
  // An epoch improves (resets the patience counts) only when its score beats the best by more
  // than min_delta; the best score and the kept weights follow every gain (scikit-learn's tol).
  double min_delta = 0;
  int64_t plateau_patience = 5;  // ScheduleKind::plateau: epochs without improvement per decay
  Normalize normalize = Normalize::automatic;
  uint64_t seed = 0;
  bool f64 = false;  // compute in double (reference kernels)
  Device device = Device::cpu;
  Precision precision = Precision::fp32;  // of the float32 GEMMs (precision.hpp); not with f64
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

// An epoch's record as one JSON object (full precision; val_loss and val_accuracy only when
// measured): the form of the checkpoint's history, `fcnet train --json` and Python's records.
std::string epoch_json_text(const EpochRecord& r);

struct TrainProgress {
  int64_t epoch = 0, epochs = 0;
  int64_t step = 0, steps = 0;  // within the epoch
  double loss = 0;              // running mean data loss of the epoch
  double accuracy = 0;
  double examples_per_second = 0;
  double seconds = 0;  // since the epoch started
};

// Everything a run needs to continue exactly where it stopped: with the same data, config and
// thread count, a resumed run ends bit-identical to one that was never interrupted. Captured at
// the end of every epoch and where `stop` ended a run mid-epoch; saved and loaded as a checkpoint
// file by save_checkpoint / load_checkpoint (fcnet/checkpoint.hpp).
struct TrainState {
  TrainConfig config;  // the run's configuration (epochs included)
  Model model;         // current weights (not the best ones), input transform, class names
  // Optimizer moment buffers over the network's parameter buffer (Network::buffer_size() values,
  // padding included; empty when the optimizer keeps none) and its step count.
  std::vector<double> opt_m, opt_v;
  int64_t opt_steps = 0;
  int64_t epoch = 1;          // epoch to run next or in progress (1-based)
  int64_t step_in_epoch = 0;  // steps of `epoch` already done
  int64_t step = 0;           // optimizer steps done in all
  // Generators: the shuffle one as it was at the start of `epoch` (each epoch's order is a
  // fresh shuffle of 0..N-1, so the order of a partly done epoch is regenerated from it).
  std::array<uint64_t, 4> shuffle_rng{}, dropout_rng{};
  // Sums of the partly done epoch (step_in_epoch > 0).
  double epoch_loss_sum = 0;
  int64_t epoch_correct = 0, epoch_seen = 0;
  double epoch_seconds = 0;
  std::vector<double> epoch_start;  // parameters at the start of `epoch` (when step_in_epoch > 0)
  // Early stopping: parameters of the best validation epoch (empty without validation).
  std::vector<double> best;
  double best_val = -1;
  int64_t best_epoch = 0, since_best = 0;
  int64_t lr_reductions = 0;         // plateau schedule: decays applied so far
  std::vector<EpochRecord> history;  // completed epochs
  double seconds = 0;                // training time of the completed epochs
  // The data trained on (after the validation split): examples, width, classes, source.
  int64_t data_n = 0, data_d = 0, classes = 0;
  std::string data_source;
  std::string app_json;  // a caller's own JSON (the CLI keeps its data options), stored as is
  std::string origin;    // where the state was loaded from, for messages ("" = in memory)
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
  // Called with the full state after every completed epoch and when `stop` ends a run mid-epoch
  // (e.g. to write a checkpoint file).
  std::function<void(const TrainState&)> on_checkpoint;
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
  // Rows of the training data held out by cfg.val_split (sorted), empty otherwise; the held-out
  // split is train_data.subset(val_indices).
  std::vector<int64_t> val_indices;
  // The state where the run ended (finished or interrupted): resuming from it continues the run
  // (after an interruption) or extends it (with more epochs).
  std::shared_ptr<const TrainState> state;
};

// Thrown when training diverges (a non-finite loss or gradient). The message names the epoch,
// the step and the first layer with a non-finite gradient and suggests a lower learning rate;
// `result` holds the run up to there, its model the last good weights (those at the start of
// the epoch that diverged).
class TrainDiverged : public Error {
 public:
  TrainDiverged(const std::string& what, std::shared_ptr<TrainResult> r)
      : Error(what), result(std::move(r)) {}
  std::shared_ptr<TrainResult> result;
};

// Every check train() makes before it starts: the configuration, the memory the network needs,
// the validation split (none when a validation set `val` is given: it replaces the split), and a
// `resume` state's fit to cfg and the data. Throws fcnet::Error; lets a caller fail before it
// prints or writes anything.
void check_training(const Dataset& train, const TrainConfig& cfg,
                    const TrainState* resume = nullptr, const Dataset* val = nullptr);

// The generator seed of one of a run's random streams: 1 initial weights, 2 shuffles, 3 dropout,
// 4 the validation split.
inline uint64_t stream_seed(const TrainConfig& cfg, uint64_t stream) {
  return cfg.seed * 0x9E3779B97F4A7C15ULL + stream;
}

// cfg.schedule completed for a run of steps_per_epoch steps an epoch: its length (epochs, or
// cfg.max_steps when fewer) and its warm-up in steps.
Schedule run_schedule(const TrainConfig& cfg, int64_t steps_per_epoch);

// The validation examples cfg.val_split holds out of n: round(val_split · n), halves away from 0.
int64_t val_count(const TrainConfig& cfg, int64_t n);

// The split train() draws when cfg.val_split > 0, over examples 0..n−1 (seeded by cfg.seed):
// the sorted indices of the examples kept for training and of those held out.
struct ValSplit {
  std::vector<int64_t> train, val;
};
ValSplit split_validation(const TrainConfig& cfg, int64_t n);

// Trains a new model on `train`, or continues the run saved in `resume`; `val` (optional) is
// evaluated each epoch, else cfg.val_split holds out part of `train`. Throws fcnet::Error on bad
// configuration, on a `resume` state that does not fit cfg and the data (architecture, width,
// classes, precision, optimizer), and TrainDiverged on divergence.
TrainResult train(const Dataset& train, const Dataset* val, const TrainConfig& cfg,
                  const TrainCallbacks& callbacks = {}, const TrainState* resume = nullptr);

struct EvalResult {
  int64_t n = 0;
  double loss = 0;  // mean −log p[y] (no regularisation)
  double accuracy = 0;
  int64_t classes = 0;
  std::vector<int64_t> confusion;          // classes×classes, row = true label, column = predicted
  std::vector<double> per_class_accuracy;  // recall per class (NaN for classes absent from data)
};

// Evaluates `model` on labelled `data` (the model's input transform applied), in batches.
// When `probs` is given it also receives the class probabilities (N×C), from the same pass.
// `precision` is that of a float32 model's GEMMs (bf16 needs AVX512_BF16; an f64 model takes
// fp32 only). An example whose output is not finite (a value the input transform takes beyond the
// model's float range) is an error naming it, unless `refuse_non_finite` is false (its loss is
// then NaN, as `fcnet train` takes the test set's).
EvalResult evaluate(const Model& model, const Dataset& data, int64_t batch = 1000,
                    Matrix<double>* probs = nullptr, Precision precision = Precision::fp32,
                    bool refuse_non_finite = true);

// Class probabilities (or raw scores when `probs` is false) for every example, N×C.
Matrix<double> predict(const Model& model, const Dataset& data, bool probs = true,
                       int64_t batch = 1000, Precision precision = Precision::fp32);

// Checks that data fits the model: width D and, when labelled, labels within the classes.
void check_compatible(const Model& model, const Dataset& data);

}  // namespace fcnet
