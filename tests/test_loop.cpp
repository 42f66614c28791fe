// The training loop against a scripted engine: a backend whose "weights" are a count of the steps
// applied, whose losses and validation results are given in advance. What the loop asks of it
// (rows, batch sizes, rates, copies of the weights) and what it decides (the best epoch, early
// stopping, the plateau schedule, divergence) are compared with values worked out by hand; none
// of it involves a network, which shows the loop holds no backend code.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "fcnet/step_engine.hpp"
#include "fcnet/trainer.hpp"

using namespace fcnet;

namespace {

struct Script {
  std::vector<double> val_loss;  // per epoch's evaluation
  int64_t bad_epoch = 0, bad_step = 0;
  bool queued = false;  // report the bad step through sums() (as the CUDA engine does)
  // What the loop asked: per epoch the rows, batch sizes and rates of every step run.
  std::vector<std::vector<int64_t>> rows, batches;
  std::vector<std::vector<double>> rates;
  int64_t final_weights = -1;
};

class ScriptedEngine final : public StepEngine {
 public:
  ScriptedEngine(const EngineSetup& s, Script& script)
      : script_(script), net_(s.model->net32), copies_{0, 0} {}

  void begin_epoch(const EpochPlan& plan) override {
    plan_ = &plan;
    sums_ = plan.carry;
    ++epoch_;
    script_.rows.emplace_back();
    script_.batches.emplace_back();
    script_.rates.emplace_back();
  }
  StepOutcome step(int64_t s, std::span<double>) override {
    const auto k = static_cast<std::size_t>(s);
    script_.rows.back().insert(script_.rows.back().end(), plan_->rows.begin() + plan_->start[k],
                               plan_->rows.begin() + plan_->start[k + 1]);
    script_.batches.back().push_back(plan_->batch[k]);
    script_.rates.back().push_back(plan_->lr[k]);
    const bool bad = epoch_ == script_.bad_epoch && s + 1 == script_.bad_step;
    if (bad && !script_.queued) return {false, std::numeric_limits<double>::quiet_NaN(), 1};
    if (bad && sums_.bad_step == 0) {
      sums_.bad_step = s + 1;
      sums_.bad_loss = std::numeric_limits<double>::infinity();
    }
    ++weights_;
    sums_.loss_sum += 0.25 * static_cast<double>(plan_->batch[k]);
    sums_.correct += plan_->batch[k] / 2;
    sums_.seen += plan_->batch[k];
    return {};
  }
  EpochSums sums() override { return sums_; }
  EpochSums progress() override { return sums_; }
  EvalResult evaluate(const Dataset& data, Matrix<double>*) override {
    EvalResult r;
    r.n = data.n;
    r.classes = 2;
    r.loss = script_.val_loss.at(static_cast<std::size_t>(evaluations_++));
    r.accuracy = 1 - r.loss;
    return r;
  }
  Norms norms(double) override { return {}; }
  void keep(WeightCopy c) override { copies_[static_cast<int>(c)] = weights_; }
  void restore(WeightCopy c) override { weights_ = copies_[static_cast<int>(c)]; }
  std::vector<double> copy_values(WeightCopy c) override {
    return {static_cast<double>(copies_[static_cast<int>(c)])};
  }
  void set_copy(WeightCopy c, const std::vector<double>& v) override {
    copies_[static_cast<int>(c)] = static_cast<int64_t>(v.at(0));
  }
  void save(TrainState& st) override {
    st.model.net32 = net_;
    st.opt_steps = weights_;
  }
  void load(const TrainState& st) override { weights_ = st.opt_steps; }
  void finish(Model& model) override {
    script_.final_weights = weights_;
    model.net32 = net_;
  }
  bool agree(Collective&, bool stop, int64_t) override { return stop; }

 private:
  Script& script_;
  Network<float> net_;
  const EpochPlan* plan_ = nullptr;
  EpochSums sums_;
  int64_t weights_ = 0, epoch_ = 0, evaluations_ = 0;
  int64_t copies_[2];
};

// Ten examples of two features, labels 0 and 1 alternating.
Dataset ten_rows(const std::string& source) {
  Dataset ds;
  ds.n = 10;
  ds.d = 2;
  ds.dtype = DType::f32;
  ds.source = source;
  ds.bytes.resize(10 * 2 * sizeof(float));
  auto* x = reinterpret_cast<float*>(ds.bytes.data());
  for (int i = 0; i < 20; ++i) x[i] = static_cast<float>(i % 7);
  for (int i = 0; i < 10; ++i) ds.labels.push_back(i % 2);
  return ds;
}

TrainConfig ten_row_config() {
  TrainConfig cfg;
  cfg.hidden = {};
  cfg.batch = 4;  // steps of 4, 4 and 2 rows
  cfg.epochs = 3;
  cfg.schedule.kind = ScheduleKind::constant;
  cfg.schedule.lr = 0.1;
  cfg.normalize = Normalize::none;
  return cfg;
}

EngineFactory scripted(Script& script) {
  return [&script](const EngineSetup& s) { return std::make_unique<ScriptedEngine>(s, script); };
}

TEST(Loop, EveryEpochVisitsEveryRowOnceAtTheScheduledRate) {
  Script script;
  const Dataset ds = ten_rows("ten");
  const TrainResult r = train_with(scripted(script), ds, nullptr, ten_row_config());
  ASSERT_EQ(script.rows.size(), 3u);
  std::vector<int64_t> all(10);
  std::iota(all.begin(), all.end(), 0);
  for (std::size_t e = 0; e < 3; ++e) {
    std::vector<int64_t> rows = script.rows[e];
    std::sort(rows.begin(), rows.end());
    EXPECT_EQ(rows, all) << "epoch " << e + 1;
    EXPECT_EQ(script.batches[e], (std::vector<int64_t>{4, 4, 2}));
    EXPECT_EQ(script.rates[e], (std::vector<double>{0.1, 0.1, 0.1}));
  }
  EXPECT_NE(script.rows[0], script.rows[1]);  // a fresh shuffle each epoch
  EXPECT_EQ(r.steps, 9);
  EXPECT_EQ(script.final_weights, 9);
  ASSERT_EQ(r.epochs.size(), 3u);
  EXPECT_DOUBLE_EQ(r.epochs[2].train_loss, 0.25);          // Σ 0.25·b / Σ b
  EXPECT_DOUBLE_EQ(r.epochs[2].train_accuracy, 5.0 / 10);  // 2 + 2 + 1 hits of 10
  EXPECT_EQ(r.epochs[2].examples, 10);
  EXPECT_EQ(r.best_epoch, 3);  // no validation: the last epoch
}

TEST(Loop, KeepsTheBestEpochAndStopsAfterThePatience) {
  Script script;
  script.val_loss = {0.9, 0.5, 0.7, 0.8, 0.6};
  const Dataset ds = ten_rows("ten"), val = ten_rows("val");
  TrainConfig cfg = ten_row_config();
  cfg.epochs = 10;
  cfg.patience = 2;
  const TrainResult r = train_with(scripted(script), ds, &val, cfg);
  // Epoch 2 is the best; epochs 3 and 4 are not better, so the run stops after epoch 4 with the
  // weights of epoch 2: its six steps.
  EXPECT_EQ(r.epochs.size(), 4u);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.best_epoch, 2);
  EXPECT_EQ(script.final_weights, 6);
  EXPECT_DOUBLE_EQ(r.epochs[1].val_loss, 0.5);
  // The state to continue from holds the current weights (twelve steps), not the best.
  ASSERT_TRUE(r.state);
  EXPECT_EQ(r.state->opt_steps, 12);
  EXPECT_EQ(r.state->best, std::vector<double>{6});
}

TEST(Loop, ThePlateauScheduleDecaysTheRateOfLaterEpochs) {
  Script script;
  script.val_loss = {0.5, 0.6, 0.7, 0.4};
  const Dataset ds = ten_rows("ten"), val = ten_rows("val");
  TrainConfig cfg = ten_row_config();
  cfg.epochs = 4;
  cfg.schedule.kind = ScheduleKind::plateau;
  cfg.schedule.decay = 0.5;
  cfg.plateau_patience = 1;
  const TrainResult r = train_with(scripted(script), ds, &val, cfg);
  // Epochs 2 and 3 are each one more epoch without improvement: the rate halves after each.
  ASSERT_EQ(r.epochs.size(), 4u);
  EXPECT_DOUBLE_EQ(r.epochs[0].lr, 0.1);
  EXPECT_DOUBLE_EQ(r.epochs[1].lr, 0.1);
  EXPECT_DOUBLE_EQ(r.epochs[2].lr, 0.05);
  EXPECT_DOUBLE_EQ(r.epochs[3].lr, 0.025);
  EXPECT_EQ(script.rates[3], (std::vector<double>{0.025, 0.025, 0.025}));
  EXPECT_EQ(r.best_epoch, 4);
}

TEST(Loop, AMarginCountsOnlyLargerGainsAsImprovementsButKeepsEveryBest) {
  Script script;
  script.val_loss = {0.5, 0.49, 0.48, 0.3};
  const Dataset ds = ten_rows("ten"), val = ten_rows("val");
  TrainConfig cfg = ten_row_config();
  cfg.epochs = 10;
  cfg.patience = 2;
  cfg.min_delta = 0.05;
  const TrainResult r = train_with(scripted(script), ds, &val, cfg);
  // Epochs 2 and 3 beat the best by less than 0.05: two epochs without improvement stop the run
  // after epoch 3, whose weights (nine steps) are the best ones kept.
  EXPECT_EQ(r.epochs.size(), 3u);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.best_epoch, 3);
  EXPECT_EQ(script.final_weights, 9);
  ASSERT_TRUE(r.state);
  EXPECT_DOUBLE_EQ(r.state->best_val, -0.48);
  EXPECT_EQ(r.state->since_best, 2);
}

TEST(Loop, TheTrainingLossMonitorStopsWithoutValidationAndKeepsTheLastWeights) {
  Script script;  // every epoch's training loss is 0.25: no epoch after the first improves
  const Dataset ds = ten_rows("ten");
  TrainConfig cfg = ten_row_config();
  cfg.epochs = 10;
  cfg.patience = 2;
  cfg.monitor = Monitor::train_loss;
  const TrainResult r = train_with(scripted(script), ds, nullptr, cfg);
  EXPECT_EQ(r.epochs.size(), 3u);
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(script.final_weights, 9);
  EXPECT_EQ(r.best_epoch, 3);
  ASSERT_TRUE(r.state);
  EXPECT_DOUBLE_EQ(r.state->best_val, -0.25);
  EXPECT_TRUE(r.state->best.empty());  // no copy of the weights is kept
}

TEST(Loop, ADivergedRunKeepsTheWeightsItsEpochStartedFrom) {
  for (bool queued : {false, true}) {
    Script script;
    script.bad_epoch = 2;
    script.bad_step = 2;
    script.queued = queued;
    const Dataset ds = ten_rows("ten");
    try {
      train_with(scripted(script), ds, nullptr, ten_row_config());
      ADD_FAILURE() << "no divergence reported (queued " << queued << ")";
    } catch (const TrainDiverged& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(queued ? "the loss became infinite" : "the loss became NaN"),
                std::string::npos)
          << m;
      EXPECT_NE(m.find("at epoch 2, step 2 of 3"), std::string::npos) << m;
      EXPECT_NE(m.find("--lr 0.01"), std::string::npos) << m;
      EXPECT_EQ(m.find("layer 1") != std::string::npos, !queued) << m;
      // The weights at the start of epoch 2: the three steps of epoch 1.
      EXPECT_EQ(script.final_weights, 3);
      EXPECT_EQ(e.result->epochs.size(), 1u);
      EXPECT_EQ(e.result->steps, 4);  // the good steps before the bad one
    }
  }
}

}  // namespace
