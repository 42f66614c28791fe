// Nothing lost: checkpoints hold the whole training state, a resumed run ends bit-identical to an
// uninterrupted one, SIGINT/SIGTERM stop a run with a valid checkpoint and exit 130, a diverging
// run keeps its last good weights, and a checkpoint that does not fit the run is refused.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fcnet/checkpoint.hpp"
#include "fcnet/trainer.hpp"
#include "test_util.hpp"

extern char** environ;

using namespace fcnet;
using namespace fcnet::test;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// n examples of d features in `classes` Gaussian blobs around distinct centres (float32).
Dataset blobs(int64_t n, int64_t d, int classes, uint64_t seed) {
  Rng rng(seed);
  Dataset ds;
  ds.n = n;
  ds.d = d;
  ds.dtype = DType::f32;
  ds.bytes.resize(static_cast<std::size_t>(n * d) * 4);
  ds.labels.resize(static_cast<std::size_t>(n));
  ds.source = "blobs";
  auto* x = reinterpret_cast<float*>(ds.bytes.data());
  for (int64_t i = 0; i < n; ++i) {
    const int y = static_cast<int>(i % classes);
    ds.labels[i] = y;
    for (int64_t j = 0; j < d; ++j)
      x[i * d + j] = static_cast<float>((j % classes == y ? 2.0 : -0.5) + 0.8 * rng.normal());
  }
  return ds;
}

std::vector<double> params(const Model& m) {
  const int64_t n = m.buffer_size();
  if (m.f64) return {m.net64.params(), m.net64.params() + n};
  return {m.net32.params(), m.net32.params() + n};
}

void expect_same_run(const TrainResult& a, const TrainResult& b) {
  ASSERT_EQ(params(a.model).size(), params(b.model).size());
  const auto pa = params(a.model), pb = params(b.model);
  for (std::size_t i = 0; i < pa.size(); ++i) ASSERT_EQ(pa[i], pb[i]) << "parameter " << i;
  ASSERT_EQ(a.epochs.size(), b.epochs.size());
  for (std::size_t e = 0; e < a.epochs.size(); ++e) {
    EXPECT_EQ(a.epochs[e].train_loss, b.epochs[e].train_loss) << e;
    EXPECT_EQ(a.epochs[e].train_accuracy, b.epochs[e].train_accuracy) << e;
    EXPECT_EQ(a.epochs[e].steps, b.epochs[e].steps) << e;
    EXPECT_EQ(a.epochs[e].examples, b.epochs[e].examples) << e;
    if (std::isfinite(a.epochs[e].val_loss)) {
      EXPECT_EQ(a.epochs[e].val_loss, b.epochs[e].val_loss) << e;
    }
  }
  EXPECT_EQ(a.best_epoch, b.best_epoch);
  EXPECT_EQ(a.steps, b.steps);
}

TrainConfig small_config(bool f64, OptimizerKind opt) {
  TrainConfig cfg;
  cfg.hidden = {7, 5};
  cfg.activation = {Activation::tanh, 0.01};
  cfg.optimizer.kind = opt;
  cfg.schedule.kind = ScheduleKind::cosine;
  cfg.schedule.lr = 0.05;
  cfg.warmup_epochs = 0.5;
  cfg.dropout = 0.2;
  cfg.reg = 1e-3;
  cfg.batch = 8;
  cfg.epochs = 3;
  cfg.val_split = 0.2;
  cfg.seed = 11;
  cfg.f64 = f64;
  return cfg;
}

// Stops a run after its `k`-th optimizer step.
struct StopAfter {
  explicit StopAfter(int64_t k) : k(k) {}
  TrainCallbacks callbacks() {
    TrainCallbacks cb;
    cb.stop = &flag;
    cb.on_step = [this](const TrainProgress&) {
      if (++count == k) flag = true;
    };
    cb.on_checkpoint = [this](const TrainState&) { ++checkpoints; };
    return cb;
  }
  int64_t k, count = 0, checkpoints = 0;
  std::atomic<bool> flag{false};
};

}  // namespace

// 50 examples, 40 after the split, batch 8: five steps per epoch. Stopping after step 9 leaves
// epoch 2 one step short (a mid-epoch checkpoint); after step 10, at the epoch boundary.
TEST(Resume, MidEpochAndBoundaryResumesAreBitIdentical) {
  set_num_threads(1);
  const Dataset data = blobs(50, 6, 3, 5);
  const auto dir = temp_dir("resume-lib");
  for (bool f64 : {false, true})
    for (auto opt : {OptimizerKind::adam, OptimizerKind::nesterov, OptimizerKind::rmsprop})
      for (int64_t k : {9, 10}) {
        SCOPED_TRACE(std::string(f64 ? "f64 " : "f32 ") + optimizer_name(opt) + " stop after " +
                     std::to_string(k));
        const TrainConfig cfg = small_config(f64, opt);
        const TrainResult whole = train(data, nullptr, cfg);
        ASSERT_EQ(whole.epochs.size(), 3u);
        ASSERT_EQ(whole.steps, 15);

        StopAfter stop(k);
        const TrainResult part = train(data, nullptr, cfg, stop.callbacks());
        ASSERT_TRUE(part.interrupted);
        ASSERT_TRUE(part.state);
        EXPECT_EQ(part.state->epoch, k == 9 ? 2 : 3);
        EXPECT_EQ(part.state->step_in_epoch, k == 9 ? 4 : 0);
        EXPECT_EQ(part.state->step, k);
        EXPECT_EQ(part.state->history.size(), k == 9 ? 1u : 2u);
        EXPECT_EQ(stop.checkpoints, 2);  // after epoch 1, and at the stop (epoch 2's end for k=10)

        // Through a checkpoint file, as the CLI does.
        const std::string ck = (dir / "ck.safetensors").string();
        save_checkpoint(ck, *part.state);
        const TrainState back = load_checkpoint(ck);
        EXPECT_EQ(back.origin, ck);
        const TrainResult resumed = train(data, nullptr, cfg, {}, &back);
        EXPECT_FALSE(resumed.interrupted);
        expect_same_run(whole, resumed);
      }
  set_num_threads(0);
}

TEST(Resume, FinishedRunsExtendWithMoreEpochs) {
  set_num_threads(1);
  const Dataset data = blobs(40, 5, 2, 9);
  TrainConfig cfg = small_config(false, OptimizerKind::adam);
  cfg.schedule.kind = ScheduleKind::exponential;  // per-epoch decay: independent of cfg.epochs
  cfg.schedule.decay = 0.7;
  cfg.warmup_epochs = 0;
  cfg.val_split = 0;
  cfg.epochs = 4;
  const TrainResult whole = train(data, nullptr, cfg);
  cfg.epochs = 1;
  const TrainResult first = train(data, nullptr, cfg);
  ASSERT_EQ(first.state->epoch, 2);
  cfg.epochs = 4;
  const TrainResult rest = train(data, nullptr, cfg, {}, first.state.get());
  expect_same_run(whole, rest);
  // Resuming a run that is already complete trains nothing and returns its weights.
  const TrainResult again = train(data, nullptr, cfg, {}, rest.state.get());
  EXPECT_EQ(again.epochs.size(), 4u);
  EXPECT_EQ(params(again.model), params(whole.model));
  set_num_threads(0);
}

TEST(Resume, StateThatDoesNotFitIsRefused) {
  const Dataset data = blobs(30, 4, 3, 2);
  TrainConfig cfg = small_config(false, OptimizerKind::adam);
  cfg.epochs = 1;
  const TrainResult r = train(data, nullptr, cfg);
  auto refused = [&](TrainConfig c, const Dataset& d, const std::string& part) {
    try {
      train(d, nullptr, c, {}, r.state.get());
      ADD_FAILURE() << "resumed despite " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("expected"), std::string::npos) << e.what();
    }
  };
  TrainConfig c = cfg;
  c.hidden = {7, 6};
  refused(c, data, "checkpoint has hidden layers 7,5 but the run asks for 7,6");
  c = cfg;
  c.f64 = true;
  refused(c, data, "precision");
  c = cfg;
  c.optimizer.kind = OptimizerKind::sgd;
  refused(c, data, "optimizer adam but the run asks for sgd");
  c = cfg;
  c.activation.kind = Activation::relu;
  refused(c, data, "activation tanh");
  refused(cfg, blobs(30, 5, 3, 2), "has 5 features per example but checkpoint");
  refused(cfg, blobs(30, 4, 4, 2), "has 4 classes but checkpoint");
}

// A diverging run stops with a message naming the epoch, the step and the layer, and keeps the
// weights the diverging epoch started from: exactly those of a run one epoch shorter.
TEST(Divergence, KeepsTheLastGoodWeights) {
  set_num_threads(1);
  const Dataset data = blobs(60, 5, 3, 4);
  TrainConfig cfg;
  cfg.hidden = {16, 16};
  cfg.optimizer.kind = OptimizerKind::sgd;
  cfg.schedule.kind = ScheduleKind::exponential;
  cfg.schedule.lr = 0.5;
  cfg.schedule.decay = 1e8;  // epoch e runs at 0.5·1e8^(e-1): fine at first, then explodes
  cfg.batch = 10;
  cfg.epochs = 12;
  cfg.seed = 3;
  int64_t diverged_in = 0;
  std::shared_ptr<TrainResult> kept;
  try {
    train(data, nullptr, cfg);
    FAIL() << "no divergence";
  } catch (const TrainDiverged& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("training: ", 0), 0u) << msg;
    const auto at = msg.find(" at epoch ");
    ASSERT_NE(at, std::string::npos) << msg;
    diverged_in = std::stoll(msg.substr(at + 10));
    EXPECT_NE(msg.find(", step "), std::string::npos) << msg;
    EXPECT_NE(msg.find("in layer "), std::string::npos) << msg;
    EXPECT_NE(msg.find("training diverged, expected a finite loss: try a lower learning rate"),
              std::string::npos)
        << msg;
    kept = e.result;
  }
  ASSERT_GE(diverged_in, 2) << "the schedule should let epoch 1 train";
  ASSERT_TRUE(kept);
  EXPECT_EQ(static_cast<int64_t>(kept->epochs.size()), diverged_in - 1);
  for (double v : params(kept->model)) ASSERT_TRUE(std::isfinite(v));
  cfg.epochs = diverged_in - 1;
  const TrainResult shorter = train(data, nullptr, cfg);
  EXPECT_EQ(params(kept->model), params(shorter.model));
  EXPECT_NE(kept->model.training_json.find("\"diverged\""), std::string::npos);
  set_num_threads(0);
}

// ---------------------------------------------------------------------------------------------
// Through the command line.

namespace {

void write_csv(const fs::path& p, const Dataset& ds) {
  std::ofstream f(p);
  f << "label";
  for (int64_t j = 0; j < ds.d; ++j) f << ",x" << j;
  f << "\n";
  const auto* x = reinterpret_cast<const float*>(ds.bytes.data());
  char buf[32];
  for (int64_t i = 0; i < ds.n; ++i) {
    f << ds.labels[i];
    for (int64_t j = 0; j < ds.d; ++j) {
      std::snprintf(buf, sizeof buf, ",%.9g", x[i * ds.d + j]);
      f << buf;
    }
    f << "\n";
  }
}

void write_npy(const fs::path& p, const Dataset& ds) {
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(ds.n) +
                  ", " + std::to_string(ds.d) + "), }";
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::ofstream f(p, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(h.size());
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << h;
  f.write(reinterpret_cast<const char*>(ds.bytes.data()),
          static_cast<std::streamsize>(ds.bytes.size()));
}

void write_labels_npy(const fs::path& p, const std::vector<int32_t>& y) {
  std::string h =
      "{'descr': '<i4', 'fortran_order': False, 'shape': (" + std::to_string(y.size()) + ",), }";
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::ofstream f(p, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(h.size());
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << h;
  f.write(reinterpret_cast<const char*>(y.data()), static_cast<std::streamsize>(y.size() * 4));
}

std::vector<std::string> listing(const fs::path& d) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(d)) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

// The W/b tensors of a model file, by name, as raw bytes.
std::map<std::string, std::string> weights_of(const std::string& path) {
  std::map<std::string, std::string> w;
  for (const auto& [k, t] : read_safetensors(path).tensors)
    if (k[0] == 'W' || k[0] == 'b') w[k] = t.dtype + ":" + t.data;
  return w;
}

struct Child {
  pid_t pid = -1;
  fs::path err;
};

// Starts `fcnet args...` with stdout and stderr going to files in `dir`.
Child spawn_cli(const std::vector<std::string>& args, const fs::path& dir) {
  Child c;
  c.err = dir / "child-stderr.txt";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, (dir / "child-stdout.txt").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, c.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all = {FCNET_CLI};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  EXPECT_EQ(posix_spawn(&c.pid, FCNET_CLI, &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  return c;
}

// Waits until the child's stderr contains `text` (or the child ends, or a minute passes).
bool wait_for_text(const Child& c, const std::string& text) {
  for (int i = 0; i < 1200; ++i) {
    if (read_file(c.err.string()).find(text) != std::string::npos) return true;
    int status = 0;
    if (waitpid(c.pid, &status, WNOHANG) == c.pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

int wait_exit(const Child& c) {
  int status = 0;
  waitpid(c.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class ResumeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = temp_dir(std::string("resume-cli-") + info->name());
    work_ = dir_ / "work";
    fs::create_directories(work_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& n) const { return (work_ / n).string(); }
  fs::path dir_, work_;
};

}  // namespace

// Three epochs in one go against one epoch, then a resume for two more: the same bytes.
TEST_F(ResumeCli, OneEpochPlusResumeOfTwoMatchesThreeEpochs) {
  write_csv(work_ / "d.csv", blobs(90, 6, 3, 21));
  const std::string common =
      " --test-data none --hidden 9,5 --batch 16 --optimizer adam "
      "--schedule exponential --lr-decay 0.5 --lr 0.02 --dropout 0.1 "
      "--val-split 0.2 --seed 7 --threads 1 --json --quiet";
  auto a = run_cli(
      "train --data " + path("d.csv") + " --epochs 3 --out " + path("a.safetensors") + common,
      dir_);
  ASSERT_EQ(a.code, 0) << a.err;
  auto b1 = run_cli("train --data " + path("d.csv") + " --epochs 1 --out " +
                        path("b1.safetensors") + " --checkpoint " + path("ck.safetensors") + common,
                    dir_);
  ASSERT_EQ(b1.code, 0) << b1.err;
  EXPECT_EQ(load_checkpoint(path("ck.safetensors")).epoch, 2);
  // Only --epochs and the outputs are given: data, architecture and the rest come from the
  // checkpoint.
  auto b2 = run_cli("train --resume " + path("ck.safetensors") + " --epochs 3 --test-data none " +
                        "--json --quiet --out " + path("b.safetensors"),
                    dir_);
  ASSERT_EQ(b2.code, 0) << b2.err;
  EXPECT_EQ(weights_of(path("a.safetensors")), weights_of(path("b.safetensors")));
  const json ja = json::parse(a.out), jb = json::parse(b2.out);
  ASSERT_EQ(jb["epochs"].size(), 3u);
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(ja["epochs"][e]["train_loss"], jb["epochs"][e]["train_loss"]) << e;
    EXPECT_EQ(ja["epochs"][e]["val_loss"], jb["epochs"][e]["val_loss"]) << e;
  }
  EXPECT_EQ(ja["val_accuracy"], jb["val_accuracy"]);
  // The checkpoint itself loads as a model (its current weights).
  EXPECT_EQ(load_model(path("ck.safetensors")).sizes(), (std::vector<int64_t>{6, 9, 5, 3}));
}

TEST_F(ResumeCli, IncompatibleOrDamagedCheckpointsAreRefusedBeforeTraining) {
  write_csv(work_ / "d.csv", blobs(40, 4, 3, 8));
  write_csv(work_ / "narrow.csv", blobs(40, 3, 3, 8));
  auto r = run_cli("train --data " + path("d.csv") + " --test-data none --hidden 6 --epochs 1 " +
                       "--out " + path("m.safetensors") + " --checkpoint " +
                       path("ck.safetensors") + " --quiet",
                   dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string model = read_file(path("m.safetensors"));
  const std::string ck = read_file(path("ck.safetensors"));
  {
    std::ofstream f(path("cut.safetensors"), std::ios::binary);
    f << ck.substr(0, ck.size() - 100);
  }
  fs::copy_file(path("m.safetensors"), path("plain.safetensors"));
  const auto before = listing(work_);
  const std::string resume = "train --test-data none --epochs 2 --out " + path("m.safetensors") +
                             " --checkpoint " + path("ck.safetensors") + " --resume ";
  struct Case {
    std::string args;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {resume + path("ck.safetensors") + " --hidden 16",
       {path("ck.safetensors") + ": checkpoint has hidden layers 6 but the run asks for 16",
        "expected the checkpoint's architecture"}},
      {resume + path("ck.safetensors") + " --data " + path("narrow.csv"),
       {path("narrow.csv") + ": lacks the column x3 that the model was trained on",
        "expected every feature column"}},
      {resume + path("ck.safetensors") + " --precision f64", {"precision", "expected"}},
      {resume + path("ck.safetensors") + " --optimizer sgd",
       {"optimizer adam but the run asks for sgd"}},
      {resume + path("plain.safetensors"),
       {path("plain.safetensors") + ": is not a checkpoint", "expected a file written by"}},
      {resume + path("cut.safetensors"), {path("cut.safetensors") + ": tensor '", "expected"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    auto rr = run_cli(c.args, dir_);
    EXPECT_EQ(rr.code, 1) << rr.err;
    EXPECT_EQ(rr.err.rfind("fcnet: error: ", 0), 0u) << rr.err;
    for (const auto& p : c.parts) EXPECT_NE(rr.err.find(p), std::string::npos) << rr.err;
    EXPECT_EQ(rr.err.find("epoch 1/"), std::string::npos) << rr.err;
    EXPECT_EQ(read_file(path("m.safetensors")), model);
    EXPECT_EQ(read_file(path("ck.safetensors")), ck);
    EXPECT_EQ(listing(work_), before);
  }
}

TEST_F(ResumeCli, DivergenceExitsOneAndLeavesTheOutputAlone) {
  write_csv(work_ / "d.csv", blobs(60, 5, 3, 4));
  {
    std::ofstream f(path("m.safetensors"));
    f << "an older model";
  }
  auto r = run_cli("train --data " + path("d.csv") +
                       " --test-data none --hidden 16,16 --optimizer sgd --lr 0.5 --schedule "
                       "exponential --lr-decay 1e8 --batch 10 --epochs 12 --seed 3 --out " +
                       path("m.safetensors"),
                   dir_);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("fcnet: error: training: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" at epoch "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("in layer "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("try a lower learning rate (--lr 0.05"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("kept the last good weights (the weights from the end of epoch"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(path("m.diverged.safetensors")), std::string::npos) << r.err;
  // The existing output is untouched; the last good weights are beside it.
  EXPECT_EQ(read_file(path("m.safetensors")), "an older model");
  const Model m = load_model(path("m.diverged.safetensors"));
  EXPECT_EQ(m.sizes(), (std::vector<int64_t>{5, 16, 16, 3}));
  for (double v : params(m)) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(listing(work_),
            (std::vector<std::string>{"d.csv", "m.diverged.safetensors", "m.safetensors"}));
}

// A resumed run without --checkpoint goes on checkpointing into the file it resumed from.
TEST_F(ResumeCli, AResumedRunKeepsCheckpointingIntoItsFile) {
  write_csv(work_ / "d.csv", blobs(80, 4, 3, 6));
  const std::string common = " --test-data none --hidden 6 --batch 16 --seed 2 --threads 1 --quiet";
  auto a = run_cli("train --data " + path("d.csv") + " --epochs 1 --out " + path("m.safetensors") +
                       " --checkpoint " + path("ck.safetensors") + common,
                   dir_);
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(load_checkpoint(path("ck.safetensors")).epoch, 2);
  auto b = run_cli("train --resume " + path("ck.safetensors") + " --epochs 3 --quiet", dir_);
  ASSERT_EQ(b.code, 0) << b.err;
  const TrainState st = load_checkpoint(path("ck.safetensors"));
  EXPECT_EQ(st.epoch, 4);  // after epoch 3: the next epoch to run
  EXPECT_EQ(st.history.size(), 3u);
  EXPECT_EQ(listing(work_), (std::vector<std::string>{"ck.safetensors", "d.csv", "m.safetensors"}));
}

// A checkpoint whose recorded thread count no machine can run is refused before training, naming
// the file; --threads overrides it.
TEST_F(ResumeCli, ACheckpointsThreadCountIsChecked) {
  write_csv(work_ / "d.csv", blobs(40, 4, 3, 6));
  auto a = run_cli("train --data " + path("d.csv") + " --test-data none --hidden 5 --epochs 1 " +
                       "--quiet --out " + path("m.safetensors") + " --checkpoint " +
                       path("ck.safetensors"),
                   dir_);
  ASSERT_EQ(a.code, 0) << a.err;
  TrainState st = load_checkpoint(path("ck.safetensors"));
  json app = json::parse(st.app_json);
  app["threads"] = 100000;
  save_checkpoint(path("ck.safetensors"), st, app.dump());
  auto r = run_cli("train --resume " + path("ck.safetensors") + " --epochs 2 --quiet", dir_);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find(path("ck.safetensors") + ": records a run on 100000 threads"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("epoch 2/"), std::string::npos) << r.err;
  auto ok =
      run_cli("train --resume " + path("ck.safetensors") + " --epochs 2 --quiet --threads 1", dir_);
  EXPECT_EQ(ok.code, 0) << ok.err;
}

// Text that is not UTF-8 is refused where it is read, naming file, line and field; a file name that
// is not UTF-8 still trains and its model and --json output are written.
TEST_F(ResumeCli, NonUtf8TextIsRefusedWhenReadAndNonUtf8PathsStillWork) {
  {
    std::ofstream f(path("latin1.csv"), std::ios::binary);
    f << "label,a\nbar,1\ncaf\xe9,2\nbar,3\ncaf\xe9,1\n";
  }
  auto r = run_cli("train --data " + path("latin1.csv") +
                       " --test-data none --hidden 3 --epochs 1 --out " + path("m.safetensors"),
                   dir_);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("fcnet: error: " + path("latin1.csv") +
                       ":3: field 1 holds the byte \\xE9, which is not UTF-8 text, expected a "
                       "UTF-8 file"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(path("m.safetensors")));
  const std::string odd = path("d\xe9.csv");
  write_csv(odd, blobs(30, 3, 2, 1));
  auto ok = run_cli("train --data '" + odd + "' --test-data none --hidden 3 --epochs 1 --json " +
                        "--quiet --out " + path("m.safetensors"),
                    dir_);
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(json::accept(ok.out)) << ok.out;
  EXPECT_EQ(load_model(path("m.safetensors")).sizes(), (std::vector<int64_t>{3, 3, 2}));
}

// A temporary file left by a writer that is gone (kill -9 during a save) is removed by the next
// writer of the same file; one whose writer still runs is left alone. An output that is a symbolic
// link keeps the link and replaces what it points to.
TEST_F(ResumeCli, LeftoverTemporariesAreCleanedAndLinksAreFollowed) {
  write_csv(work_ / "d.csv", blobs(40, 4, 3, 6));
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_GT(gone, 0);
  waitpid(gone, nullptr, 0);  // reaped: no process has this pid now
  const std::string dead = path("m.safetensors.tmp-" + std::to_string(gone) + "-Ab12Cd");
  const std::string live = path("m.safetensors.tmp-" + std::to_string(getpid()) + "-Ef34Gh");
  for (const auto& p : {dead, live}) std::ofstream(p) << "half a model";
  fs::create_directories(work_ / "real");
  {
    std::ofstream f(work_ / "real" / "target.safetensors");
    f << "old";
  }
  fs::create_symlink(work_ / "real" / "target.safetensors", path("link.safetensors"));
  const std::string train =
      "train --data " + path("d.csv") + " --test-data none --hidden 5 --epochs 1 --quiet --out ";
  auto a = run_cli(train + path("m.safetensors"), dir_);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
  auto b = run_cli(train + path("link.safetensors"), dir_);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_TRUE(fs::is_symlink(path("link.safetensors")));
  EXPECT_EQ(load_model((work_ / "real" / "target.safetensors").string()).sizes(),
            (std::vector<int64_t>{4, 5, 3}));
  for (const auto& f : listing(work_ / "real")) EXPECT_EQ(f, "target.safetensors");
}

// An output that names an input, another output, or nothing, is a usage error before any work.
TEST_F(ResumeCli, OutputsThatAliasInputsAreRefusedBeforeAnyWork) {
  write_csv(work_ / "d.csv", blobs(40, 4, 3, 8));
  auto t = run_cli("train --data " + path("d.csv") + " --test-data none --hidden 5 --epochs 1 " +
                       "--quiet --out " + path("m.safetensors"),
                   dir_);
  ASSERT_EQ(t.code, 0) << t.err;
  fs::create_symlink(path("d.csv"), path("link.csv"));
  const std::string model = read_file(path("m.safetensors")), data = read_file(path("d.csv"));
  const auto before = listing(work_);
  struct Case {
    std::string args, part;
  };
  const std::string train = "train --test-data none --hidden 5 --epochs 1 --data " + path("d.csv");
  const std::vector<Case> cases = {
      {"predict --model " + path("m.safetensors") + " --data " + path("d.csv") + " --out " +
           path("m.safetensors"),
       "--out: '" + path("m.safetensors") + "' is the --model file"},
      {train + " --out " + path("d.csv"), "is the --data file"},
      {train + " --out " + work_.string() + "/../work/d.csv", "is the --data file"},
      {train + " --out " + path("link.csv"), "is the --data file"},
      {train + " --out " + path("x.safetensors") + " --checkpoint " + path("x.safetensors"),
       "is also --checkpoint"},
      {train + " --out ''", "--out: is empty"},
      {train + " --out " + path("r.safetensors") + " --report " + path("d.csv"),
       "--report: '" + path("d.csv") + "' is the --data file"},
      {"loss --model " + path("m.safetensors") + " --data " + path("d.csv") + " --grads-out " +
           path("m.safetensors"),
       "--grads-out"},
      {"report --model " + path("m.safetensors") + " --data " + path("d.csv") + " --out " +
           path("m.safetensors"),
       "is the --model file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    auto r = run_cli(c.args, dir_);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(c.part), std::string::npos) << r.err;
    EXPECT_EQ(read_file(path("m.safetensors")), model);
    EXPECT_EQ(read_file(path("d.csv")), data);
    EXPECT_EQ(listing(work_), before);
  }
}

// A real interruption: SIGINT (then SIGTERM) to a training child process.
TEST_F(ResumeCli, SignalsStopWithACheckpointAndExit130) {
  const Dataset big = blobs(6000, 48, 4, 13);
  write_npy(work_ / "x.npy", big);
  write_labels_npy(work_ / "y.npy", big.labels);
  for (int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGTERM");
    const bool named = sig == SIGTERM;  // SIGTERM run names --checkpoint; SIGINT uses the default
    const std::string ck = named ? path("named.ckpt") : path("m.checkpoint.safetensors");
    std::vector<std::string> args = {
        "train",    "--data",    path("x.npy"), "--labels", path("y.npy"),
        "--hidden", "256,128",   "--batch",     "16",       "--epochs",
        "500",      "--threads", "1",           "--out",    path("m.safetensors")};
    if (named) {
      args.push_back("--checkpoint");
      args.push_back(ck);
    }
    Child c = spawn_cli(args, dir_);
    ASSERT_TRUE(wait_for_text(c, "epoch 1/500")) << read_file(c.err.string());
    ::kill(c.pid, sig);
    const int code = wait_exit(c);
    const std::string err = read_file(c.err.string());
    EXPECT_EQ(code, 130) << err;
    EXPECT_NE(err.find(std::string("interrupted by ") + (sig == SIGINT ? "SIGINT" : "SIGTERM")),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("checkpoint saved to " + ck), std::string::npos) << err;
    // A valid checkpoint, no model, no temporary files.
    const TrainState st = load_checkpoint(ck);
    EXPECT_GE(st.epoch, 2);
    EXPECT_EQ(static_cast<int64_t>(st.history.size()), st.epoch - 1);
    EXPECT_EQ(st.model.sizes(), (std::vector<int64_t>{48, 256, 128, 4}));
    EXPECT_FALSE(fs::exists(path("m.safetensors")));
    for (const auto& f : listing(work_)) EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;
    // It finishes: resume just to the end of the interrupted epoch.
    auto r = run_cli(
        "train --resume " + ck + " --quiet --epochs " + std::to_string(st.epoch) + " --json", dir_);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(static_cast<int64_t>(json::parse(r.out)["epochs"].size()), st.epoch);
    EXPECT_TRUE(fs::exists(path("m.safetensors")));
    fs::remove(path("m.safetensors"));
    fs::remove(ck);
  }
}

// A signal that lands after the last step, while the test set is being evaluated, still stops the
// run: the final state goes to the checkpoint, --out keeps what it held, exit 130. The fault shim
// raises SIGINT just as the test accuracy is about to be printed, after the evaluation and before
// anything is written.
TEST_F(ResumeCli, ASignalDuringTheFinalEvaluationStopsTheRun) {
  write_csv(work_ / "d.csv", blobs(60, 4, 3, 21));
  write_csv(work_ / "t.csv", blobs(30, 4, 3, 22));
  std::ofstream(path("m.safetensors")) << "an older model";
  auto r = run_cli("train --data " + path("d.csv") + " --test-data " + path("t.csv") +
                       " --hidden 6 --epochs 3 --batch 20 --threads 1 --checkpoint " +
                       path("ck.safetensors") + " --out " + path("m.safetensors"),
                   dir_, with_fault("FCNET_FAULT_SIGINT_AT_LOG='test accuracy'"));
  EXPECT_EQ(r.code, 130) << r.err;
  // The message says training had finished, and how to write the model.
  EXPECT_NE(r.err.find("interrupted by SIGINT after training finished"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("write the model with: fcnet train --resume " + path("ck.safetensors")),
            std::string::npos)
      << r.err;
  EXPECT_EQ(read_file(path("m.safetensors")), "an older model");
  const TrainState st = load_checkpoint(path("ck.safetensors"));
  EXPECT_EQ(static_cast<int64_t>(st.history.size()), 3);  // every epoch ran
  for (const auto& f : listing(work_)) EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;
  // As it says: the resumed run trains no further and writes the model.
  auto w = run_cli("train --resume " + path("ck.safetensors") + " --json", dir_);
  ASSERT_EQ(w.code, 0) << w.err;
  EXPECT_EQ(json::parse(w.out)["epochs"].size(), 3u) << w.out;  // the three epochs, no more
  EXPECT_EQ(load_model(path("m.safetensors")).sizes(), (std::vector<int64_t>{4, 6, 3}));
}

// A report that cannot be written at the end (the folder filled up after the start-up check) fails
// the run before --out is written: the existing model stays, and no temporary file is left.
TEST_F(ResumeCli, AReportThatFailsAtTheEndLeavesTheOutputAlone) {
  write_csv(work_ / "d.csv", blobs(60, 4, 3, 23));
  std::ofstream(path("m.safetensors")) << "an older model";
  // The first report temporary is the start-up writability check; the second is the report.
  auto r = run_cli("train --data " + path("d.csv") +
                       " --test-data none --hidden 6 --epochs 2 --batch 20 --threads 1 --report " +
                       path("r.html") + " --out " + path("m.safetensors"),
                   dir_, with_fault("FCNET_FAULT_MKSTEMP=r.html.tmp FCNET_FAULT_MKSTEMP_SKIP=1"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("fcnet: error: " + path("r.html") + ": cannot write"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("epoch 2/2"), std::string::npos) << r.err;  // it failed at the end
  EXPECT_EQ(read_file(path("m.safetensors")), "an older model");
  EXPECT_EQ(listing(work_), (std::vector<std::string>{"d.csv", "m.safetensors"}));
}
