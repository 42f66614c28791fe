// Training end to end: learning on real data, determinism, save/load, early stopping.
#include <cmath>

#include "fcnet/trainer.hpp"
#include "test_util.hpp"

using namespace fcnet;
using namespace fcnet::test;

namespace {

// The first n examples of Fashion-MNIST's split, loaded once per process.
const Dataset& fmnist(const std::string& split) {
  static Dataset train = load_dataset("fashion-mnist:train");
  static Dataset test = load_dataset("fashion-mnist:test");
  return split == "train" ? train : test;
}

Dataset head(const Dataset& d, int64_t n) {
  std::vector<int64_t> idx(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  return d.subset(idx);
}

TrainConfig small_config() {
  TrainConfig cfg;
  cfg.hidden = {64};
  cfg.batch = 64;
  cfg.epochs = 4;
  cfg.seed = 3;
  return cfg;
}

}  // namespace

TEST(Train, TwoThousandFashionMnistExamplesLearnWellAboveChance) {
  set_num_threads(2);
  Dataset tr = head(fmnist("train"), 2000), te = head(fmnist("test"), 1000);
  TrainResult r = train(tr, nullptr, small_config());
  EvalResult ev = evaluate(r.model, te);
  // Chance is 0.10; a 64-unit MLP on 2,000 images reaches ~0.75–0.8 in a few epochs.
  EXPECT_GT(ev.accuracy, 0.70);
  EXPECT_LT(r.epochs.back().train_loss, r.epochs.front().train_loss);
  EXPECT_EQ(r.epochs.size(), 4u);
  EXPECT_EQ(r.model.class_names.size(), 10u);
  EXPECT_EQ(r.model.image_shape, (std::vector<int64_t>{28, 28}));
  // Evaluation's confusion matrix adds up and its diagonal is the accuracy.
  int64_t total = 0, diag = 0;
  for (int64_t i = 0; i < 10; ++i)
    for (int64_t j = 0; j < 10; ++j) {
      total += ev.confusion[i * 10 + j];
      if (i == j) diag += ev.confusion[i * 10 + j];
    }
  EXPECT_EQ(total, 1000);
  EXPECT_DOUBLE_EQ(ev.accuracy, diag / 1000.0);
}

TEST(Train, EveryOptimizerAndScheduleLearns) {
  set_num_threads(2);
  Dataset tr = head(fmnist("train"), 1000), te = head(fmnist("test"), 500);
  for (auto opt : {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}) {
    TrainConfig cfg = small_config();
    cfg.epochs = 3;
    cfg.optimizer.kind = parse_optimizer(opt);
    cfg.schedule.lr =
        std::string(opt).find("ada") == 0 || std::string(opt) == "rmsprop" ? 1e-3 : 0.05;
    cfg.schedule.kind = ScheduleKind::exponential;
    cfg.schedule.decay = 0.9;
    TrainResult r = train(tr, nullptr, cfg);
    EXPECT_GT(evaluate(r.model, te).accuracy, 0.6) << opt;
    EXPECT_NEAR(r.epochs[2].lr, cfg.schedule.lr * 0.81, 1e-12) << opt;
  }
}

TEST(Train, SameSeedAndThreadsGiveBitIdenticalWeights) {
  set_num_threads(2);
  Dataset tr = head(fmnist("train"), 700);
  TrainConfig cfg = small_config();
  cfg.epochs = 2;
  cfg.dropout = 0.2;
  TrainResult a = train(tr, nullptr, cfg), b = train(tr, nullptr, cfg);
  ASSERT_EQ(a.model.net32.buffer_size(), b.model.net32.buffer_size());
  for (int64_t i = 0; i < a.model.net32.buffer_size(); ++i)
    ASSERT_EQ(a.model.net32.params()[i], b.model.net32.params()[i]) << i;
  cfg.seed = 4;
  TrainResult c = train(tr, nullptr, cfg);
  int64_t same = 0;
  for (int64_t i = 0; i < a.model.net32.buffer_size(); ++i)
    same += a.model.net32.params()[i] == c.model.net32.params()[i];
  EXPECT_LT(same, a.model.net32.buffer_size() / 2);  // another seed, other weights
}

TEST(Train, SaveLoadEvalIsIdenticalToEvalBeforeSaving) {
  set_num_threads(2);
  auto dir = temp_dir("train-save");
  Dataset tr = head(fmnist("train"), 600), te = head(fmnist("test"), 300);
  TrainConfig cfg = small_config();
  cfg.epochs = 1;
  cfg.normalize = Normalize::standardize;
  TrainResult r = train(tr, nullptr, cfg);
  EvalResult before = evaluate(r.model, te);
  const std::string p = (dir / "m.safetensors").string();
  save_model(p, r.model);
  EvalResult after = evaluate(load_model(p), te);
  EXPECT_EQ(before.loss, after.loss);
  EXPECT_EQ(before.accuracy, after.accuracy);
  EXPECT_EQ(before.confusion, after.confusion);
}

TEST(Train, ValidationSplitAndEarlyStoppingKeepTheBestEpoch) {
  set_num_threads(2);
  Dataset tr = head(fmnist("train"), 800);
  for (Monitor monitor : {Monitor::val_loss, Monitor::val_accuracy}) {
    SCOPED_TRACE(monitor_name(monitor));
    TrainConfig cfg = small_config();
    cfg.epochs = 30;
    cfg.val_split = 0.25;
    cfg.patience = 2;
    cfg.monitor = monitor;
    cfg.schedule.lr = 3e-2;  // large enough that the validation figures stop improving early
    TrainResult r = train(tr, nullptr, cfg);
    EXPECT_EQ(r.val_examples, 200);
    EXPECT_EQ(r.train_examples, 600);
    ASSERT_TRUE(r.stopped_early);
    double best = -INFINITY;
    int64_t best_epoch = 0;
    for (const auto& e : r.epochs) {
      const double score = monitor == Monitor::val_loss ? -e.val_loss : e.val_accuracy;
      if (score > best) best = score, best_epoch = e.epoch;
    }
    EXPECT_EQ(r.best_epoch, best_epoch);
    EXPECT_EQ(static_cast<int64_t>(r.epochs.size()), best_epoch + 2);
  }
}

// The plateau schedule: the rate is multiplied by the decay after every plateau_patience epochs
// without a better monitored value, and each epoch's record shows the rate it ran at.
TEST(Train, PlateauScheduleDecaysAfterEpochsWithoutImprovement) {
  set_num_threads(2);
  Dataset tr = head(fmnist("train"), 400);
  TrainConfig cfg = small_config();
  cfg.epochs = 14;
  cfg.val_split = 0.25;
  cfg.schedule.kind = ScheduleKind::plateau;
  cfg.schedule.lr = 5e-2;
  cfg.schedule.decay = 0.5;
  cfg.plateau_patience = 2;
  TrainResult r = train(tr, nullptr, cfg);
  ASSERT_EQ(static_cast<int64_t>(r.epochs.size()), 14);
  // Replay the rule on the records: a decay after every 2nd epoch in a row without a lower
  // validation loss.
  double best = INFINITY, lr = 5e-2;
  int64_t since = 0, decays = 0;
  for (const auto& e : r.epochs) {
    EXPECT_DOUBLE_EQ(e.lr, lr) << "epoch " << e.epoch;
    if (e.val_loss < best) {
      best = e.val_loss;
      since = 0;
    } else if (++since % 2 == 0) {
      lr *= 0.5;
      ++decays;
    }
  }
  EXPECT_GT(decays, 0);  // the large rate overfits 300 rows within 14 epochs
}

TEST(Train, Float64PrecisionFollowsTheFloat32Run) {
  // The double path (reference kernels) and the float path (oneDNN) run the same algorithm, so
  // their training curves agree to float32 rounding over a few steps.
  set_num_threads(2);
  Dataset tr = head(fmnist("train"), 300);
  TrainConfig cfg = small_config();
  cfg.hidden = {16};
  cfg.epochs = 2;
  TrainResult r32 = train(tr, nullptr, cfg);
  cfg.f64 = true;
  TrainResult r64 = train(tr, nullptr, cfg);
  EXPECT_TRUE(r64.model.f64);
  EXPECT_FALSE(r32.model.f64);
  for (std::size_t e = 0; e < 2; ++e)
    EXPECT_NEAR(r64.epochs[e].train_loss, r32.epochs[e].train_loss, 1e-4);
  for (int64_t i = 0; i < r64.model.net64.buffer_size(); i += 7)
    ASSERT_NEAR(r64.model.net64.params()[i], r32.model.net32.params()[i], 1e-4);
}

TEST(Train, CsvWithClassNamesTrainsAndPredictsNames) {
  // A small tabular problem with features of very different scales and named classes: the default
  // normalisation (standardize) must cope.
  auto dir = temp_dir("train-csv");
  Rng rng(8);
  std::string csv = "height_mm,weight_g,species\n";
  const char* names[3] = {"setosa", "versicolor", "virginica"};
  for (int i = 0; i < 300; ++i) {
    const int k = i % 3;
    const double h = 1000.0 * (1 + k) + 150.0 * rng.normal();
    const double w = 0.01 * (3 - k) + 0.002 * rng.normal();
    csv += std::to_string(h) + "," + std::to_string(w) + "," + names[k] + "\n";
  }
  write_file_atomic((dir / "d.csv").string(), csv);
  LoadOptions lo;
  lo.label_col = "species";
  Dataset d = load_dataset((dir / "d.csv").string(), lo);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  TrainConfig cfg;  // the defaults
  cfg.epochs = 30;
  TrainResult r = train(d, nullptr, cfg);
  EXPECT_GT(evaluate(r.model, d).accuracy, 0.95);
  EXPECT_EQ(r.model.class_names, d.class_names);
}
