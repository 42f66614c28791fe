// `fcnet train` under mpirun: K ranks on shards the test writes (and on slices of Fashion-MNIST)
// must train the model that one process trains on all the data, bit-identically run to run, and
// a rank that cannot load its shard must end every rank promptly with an error naming it; a
// checkpoint written by K ranks resumes on another K. Shard lists also work in one process (and
// are tested without MPI too).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fcnet/checkpoint.hpp"
#include "test_util.hpp"

using namespace fcnet;
using namespace fcnet::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A CSV shard: label names from {ant, bee, cat, dog} (per shard, a chosen subset), 7 features in
// multiples of 1/64 (exact in float32), means that depend on the class.
void write_shard(const fs::path& p, int rows, const std::vector<std::string>& classes,
                 uint64_t seed, int bad_line = 0) {
  Rng rng(seed);
  std::ofstream f(p);
  f << "label,a,b,c,d,e,f,g\n";
  for (int i = 0; i < rows; ++i) {
    const auto c = static_cast<std::size_t>(rng.below(classes.size()));
    const int shift = static_cast<int>(classes[c][0] - 'a');  // ant 0, bee 1, cat 2, dog 3
    f << classes[c];
    for (int j = 0; j < 7; ++j) {
      const double v = std::round((rng.normal() + (j % 4 == shift % 4 ? 2.0 : 0.0)) * 64) / 64;
      f << ',' << v;
    }
    if (i + 2 == bad_line) f << ",9";  // one field too many
    f << '\n';
  }
}

std::vector<std::string> write_shards(const fs::path& dir) {
  const std::vector<std::string> files = {(dir / "s0.csv").string(), (dir / "s1.csv").string(),
                                          (dir / "s2.csv").string()};
  // Shard 0 lacks "dog" and shard 1 lacks "ant": class names must be merged over the shards.
  write_shard(files[0], 70, {"ant", "bee", "cat"}, 1);
  write_shard(files[1], 45, {"bee", "cat", "dog"}, 2);
  write_shard(files[2], 86, {"ant", "bee", "cat", "dog"}, 3);
  return files;
}

}  // namespace

// The shard list and the {rank} pattern also work in one process: the list is read as the one
// file holding all the shards, and the pattern as rank 0's file.
TEST(ShardList, OneProcessTrainsOnTheListAsOnTheConcatenatedFile) {
  auto dir = temp_dir("shard-list");
  const auto files = write_shards(dir);
  {
    std::ofstream all(dir / "all.csv");
    for (std::size_t i = 0; i < files.size(); ++i) {
      std::ifstream f(files[i]);
      std::string line;
      std::getline(f, line);
      if (i == 0) all << line << '\n';
      while (std::getline(f, line)) all << line << '\n';
    }
  }
  const std::string args =
      " --hidden 12 --batch 16 --epochs 2 --seed 3 --threads 1 --test-data none --json --out ";
  CmdResult a = run_cli("train --data " + files[0] + "," + files[1] + "," + files[2] + args +
                            (dir / "list.safetensors").string(),
                        dir);
  ASSERT_EQ(a.code, 0) << a.err;
  CmdResult b = run_cli(
      "train --data " + (dir / "all.csv").string() + args + (dir / "all.safetensors").string(),
      dir);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(json::parse(a.out)["train_examples"].get<int64_t>(), 70 + 45 + 86);
  const Model x = load_model((dir / "list.safetensors").string());
  const Model y = load_model((dir / "all.safetensors").string());
  EXPECT_EQ(x.class_names, (std::vector<std::string>{"ant", "bee", "cat", "dog"}));
  EXPECT_EQ(x.class_names, y.class_names);
  ASSERT_EQ(x.net32.buffer_size(), y.net32.buffer_size());
  EXPECT_EQ(std::memcmp(x.net32.params(), y.net32.params(), sizeof(float) * x.net32.buffer_size()),
            0);
  CmdResult c = run_cli("train --data " + (dir / "s{rank}.csv").string() + args +
                            (dir / "rank0.safetensors").string(),
                        dir);
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(json::parse(c.out)["train_examples"].get<int64_t>(), 70);
  CmdResult d = run_cli("train --data " + files[0] + ",," + files[1] + args + "x", dir);
  EXPECT_EQ(d.code, 2) << d.err;
}

#ifndef FCNET_MPIEXEC

TEST(Mpi, BuiltWithMpi) {
  GTEST_SKIP() << "fcnet was built without MPI (FCNET_MPI=OFF); no mpirun tests";
}

#else

namespace {

// Open MPI in a container, as root, on one machine: shared memory between the ranks, no remote
// launch agent needed, no process binding (the tests share two cores with other work). In a
// sanitizer build, Open MPI's own allocations that outlive MPI_Finalize are not fcnet's leaks.
const char* kMpiEnv =
    "ASAN_OPTIONS=detect_leaks=0 "
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader "
    "OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_plm_rsh_agent=false "
    "OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none";

struct MpiRun {
  CmdResult r;
};

// `fcnet <args>` on np ranks (np = 0: one plain process, no mpirun). The 60 s bound only catches a
// job that hangs (a rank waiting for one that is gone): these jobs take a second or two, and the
// bound is not a measure of their speed.
MpiRun run_np(int np, const std::string& args, const fs::path& dir) {
  const auto out = dir / "stdout.txt", err = dir / "stderr.txt";
  std::string cmd = std::string(kMpiEnv) + " timeout 60 ";
  if (np > 0) cmd += std::string(FCNET_MPIEXEC) + " -np " + std::to_string(np) + " ";
  cmd += std::string(FCNET_CLI) + " " + args + " >" + out.string() + " 2>" + err.string() +
         " </dev/null";
  const int status = std::system(cmd.c_str());
  MpiRun run;
  run.r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.r.out = read_file(out.string());
  run.r.err = read_file(err.string());
  EXPECT_NE(run.r.code, 124) << "the job hung until its 60 s bound: " << args;
  return run;
}

double max_diff(const Model& a, const Model& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e30;
  double m = 0;
  for (int64_t i = 0; i < a.net32.buffer_size(); ++i)
    m = std::max(m, std::abs(static_cast<double>(a.net32.params()[i]) - b.net32.params()[i]));
  return m;
}

// `<args> --json --out …` (args include --json) as one process (np 0) or on np ranks, for each
// np: what each run printed and the model it wrote. Stops at the first run that fails.
struct Trained {
  json j;
  Model m;
};
std::vector<Trained> train_on(const std::vector<int>& nps, const std::string& args,
                              const fs::path& dir) {
  std::vector<Trained> out;
  for (int np : nps) {
    const std::string path = (dir / ("np" + std::to_string(np) + ".safetensors")).string();
    MpiRun run = run_np(np, args + " --out " + path, dir);
    EXPECT_EQ(run.r.code, 0) << "np " << np << ": " << run.r.err;
    if (run.r.code != 0) break;
    out.push_back({json::parse(run.r.out), load_model(path)});
  }
  return out;
}

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// No dropout unless a test adds it: each rank draws the masks of its own rows, so K ranks with
// dropout cannot match one process.
const std::string kTrain =
    " --hidden 12 --batch 16 --epochs 3 --optimizer adam --lr 0.01 --seed 3 --threads 1 "
    "--val-split 0.2 --test-data none --json";
const std::string kNoDropout = " --dropout 0";

}  // namespace

TEST(Mpi, TwoAndThreeRanksOnShardsMatchOneProcess) {
  auto dir = temp_dir("mpi-shards");
  const auto files = write_shards(dir);
  const std::string list = files[0] + "," + files[1] + "," + files[2];
  const std::string ref_path = (dir / "ref.safetensors").string();
  MpiRun ref = run_np(0, "train --data " + list + kTrain + kNoDropout + " --out " + ref_path, dir);
  ASSERT_EQ(ref.r.code, 0) << ref.r.err;
  const json rj = json::parse(ref.r.out);
  const Model rm = load_model(ref_path);
  EXPECT_EQ(rm.class_names, (std::vector<std::string>{"ant", "bee", "cat", "dog"}));
  EXPECT_EQ(rj["train_examples"].get<int64_t>(), 161);  // 201 − round(0.2·201)
  EXPECT_GT(rj["epochs"][2]["train_accuracy"].get<double>(), 0.5);
  for (int k : {2, 3}) {
    const std::string out = (dir / ("k" + std::to_string(k) + ".safetensors")).string();
    MpiRun run = run_np(k, "train --data " + list + kTrain + kNoDropout + " --out " + out, dir);
    ASSERT_EQ(run.r.code, 0) << run.r.err;
    const json j = json::parse(run.r.out);  // one object: only rank 0 prints
    EXPECT_EQ(j["ranks"].get<int>(), k);
    EXPECT_EQ(j["train_examples"], rj["train_examples"]);
    EXPECT_EQ(j["steps"], rj["steps"]);
    for (std::size_t e = 0; e < 3; ++e) {
      EXPECT_NEAR(j["epochs"][e]["train_loss"].get<double>(),
                  rj["epochs"][e]["train_loss"].get<double>(), 1e-5);
      EXPECT_EQ(j["epochs"][e]["val_accuracy"], rj["epochs"][e]["val_accuracy"]);
    }
    const Model m = load_model(out);
    EXPECT_EQ(m.class_names, rm.class_names);
    EXPECT_LT(max_diff(m, rm), 2e-5) << "K=" << k;
    EXPECT_EQ(count(run.r.err, "epoch 3/3"), 1) << run.r.err;  // only rank 0 logs
    EXPECT_NE(run.r.err.find("x " + std::to_string(k) + " ranks"), std::string::npos);
  }
}

TEST(Mpi, TwoRanksOnFashionMnistSlicesMatchOneProcess) {
  auto dir = temp_dir("mpi-fmnist");
  const std::string args =
      "train --data fashion-mnist --hidden 32 --batch 64 --epochs 1 --max-steps 40 --lr 0.002 "
      "--threads 1 --test-data none --seed 5 --json --out ";
  MpiRun ref = run_np(0, args + (dir / "ref.safetensors").string(), dir);
  ASSERT_EQ(ref.r.code, 0) << ref.r.err;
  MpiRun two = run_np(2, args + (dir / "two.safetensors").string(), dir);
  ASSERT_EQ(two.r.code, 0) << two.r.err;
  const json a = json::parse(ref.r.out), b = json::parse(two.r.out);
  EXPECT_EQ(b["train_examples"].get<int64_t>(), 60000);
  EXPECT_EQ(b["steps"].get<int64_t>(), 40);
  EXPECT_NEAR(b["epochs"][0]["train_loss"].get<double>(),
              a["epochs"][0]["train_loss"].get<double>(), 1e-5);
  EXPECT_LT(a["epochs"][0]["train_loss"].get<double>(), 1.5);  // it learned something
  EXPECT_LT(max_diff(load_model((dir / "two.safetensors").string()),
                     load_model((dir / "ref.safetensors").string())),
            2e-5);
}

// Class weights on ranks: "balanced" counts the classes over all shards, and each step's loss is
// the weighted mean over the whole batch (the ranks add up the batch's weight first), so K ranks
// train the model of one process.
TEST(Mpi, ClassWeightsOnRanksMatchOneProcess) {
  auto dir = temp_dir("mpi-weights");
  const auto files = write_shards(dir);
  const std::string list = files[0] + "," + files[1] + "," + files[2];
  for (const std::string spec : {"balanced", "bee=3,dog=0.5"}) {
    const std::vector<Trained> runs = train_on(
        {0, 2, 3}, "train --data " + list + kTrain + kNoDropout + " --class-weight " + spec, dir);
    ASSERT_EQ(runs.size(), 3u) << spec;
    const json& rj = runs[0].j;
    const Model& rm = runs[0].m;
    for (std::size_t i = 1; i < runs.size(); ++i) {
      const json& j = runs[i].j;
      const int k = j["ranks"].get<int>();
      for (std::size_t e = 0; e < 3; ++e)
        EXPECT_NEAR(j["epochs"][e]["train_loss"].get<double>(),
                    rj["epochs"][e]["train_loss"].get<double>(), 1e-5)
            << spec << " K=" << k << " epoch " << e + 1;
      EXPECT_EQ(json::parse(runs[i].m.training_json)["class_weights"],
                json::parse(rm.training_json)["class_weights"])
          << spec;
      EXPECT_LT(max_diff(runs[i].m, rm), 2e-5) << spec << " K=" << k;
    }
  }
}

// --monitor val_roc_auc on ranks ranks the whole validation split (every rank's share of it
// gathered), so K ranks keep the epoch and the weights of one process.
TEST(Mpi, RocAucMonitorOnRanksMatchesOneProcess) {
  auto dir = temp_dir("mpi-auc");
  const auto files = write_shards(dir);
  const std::string list = files[0] + "," + files[1] + "," + files[2];
  const std::vector<Trained> runs = train_on(
      {0, 2, 3},
      "train --data " + list +
          " --hidden 12 --batch 16 --epochs 6 --optimizer adam --lr 0.05 --seed 3 --threads 1 "
          "--val-split 0.3 --test-data none --json --dropout 0 --monitor val_roc_auc",
      dir);
  ASSERT_EQ(runs.size(), 3u);
  for (std::size_t i = 1; i < runs.size(); ++i) {
    const int k = runs[i].j["ranks"].get<int>();
    EXPECT_EQ(runs[i].j["best_epoch"], runs[0].j["best_epoch"]) << "K=" << k;
    EXPECT_EQ(runs[i].j["val_accuracy"], runs[0].j["val_accuracy"]) << "K=" << k;
    EXPECT_LT(max_diff(runs[i].m, runs[0].m), 2e-5) << "K=" << k;
  }
}

TEST(Mpi, RerunsWithTheSameRanksAreBitIdentical) {
  auto dir = temp_dir("mpi-rerun");
  const auto files = write_shards(dir);
  const std::string list = files[0] + "," + files[1] + "," + files[2];
  std::vector<Model> models;
  for (int i = 0; i < 2; ++i) {
    const std::string out = (dir / ("m" + std::to_string(i) + ".safetensors")).string();
    MpiRun run = run_np(3, "train --data " + list + kTrain + " --dropout 0.2 --out " + out, dir);
    ASSERT_EQ(run.r.code, 0) << run.r.err;
    models.push_back(load_model(out));
  }
  const auto& x = models[0].net32;
  const auto& y = models[1].net32;
  ASSERT_EQ(x.buffer_size(), y.buffer_size());
  EXPECT_EQ(std::memcmp(x.params(), y.params(), sizeof(float) * x.buffer_size()), 0);
}

// A checkpoint does not depend on the number of ranks that wrote it: one epoch on K ranks, then a
// resume for two more on another K (one process included), trains the model that one process
// trains in three epochs, up to float reduction order. (A per-epoch schedule, so that the first
// run's one epoch is the first of three.)
TEST(Mpi, CheckpointsFromKRanksResumeOnAnotherK) {
  auto dir = temp_dir("mpi-resume");
  const auto files = write_shards(dir);
  const std::string list = files[0] + "," + files[1] + "," + files[2];
  const std::string common =
      " --hidden 12 --dropout 0 --batch 16 --optimizer adam --lr 0.01 --schedule exponential "
      "--lr-decay 0.7 --seed 3 --threads 1 --val-split 0.2 --test-data none --json --quiet";
  const std::string ref_path = (dir / "ref.safetensors").string();
  MpiRun ref = run_np(0, "train --data " + list + " --epochs 3 --out " + ref_path + common, dir);
  ASSERT_EQ(ref.r.code, 0) << ref.r.err;
  const json rj = json::parse(ref.r.out);
  const Model rm = load_model(ref_path);
  ASSERT_EQ(rj["epochs"].size(), 3u);
  for (auto [from, to] : {std::pair{2, 3}, std::pair{3, 0}, std::pair{3, 2}}) {
    const std::string tag = std::to_string(from) + "-" + std::to_string(to);
    const std::string ck = (dir / ("ck" + tag + ".safetensors")).string();
    const std::string out = (dir / ("m" + tag + ".safetensors")).string();
    MpiRun first = run_np(from,
                          "train --data " + list + " --epochs 1 --checkpoint " + ck + " --out " +
                              (dir / ("first" + tag + ".safetensors")).string() + common,
                          dir);
    ASSERT_EQ(first.r.code, 0) << tag << "\n" << first.r.err;
    EXPECT_EQ(load_checkpoint(ck).epoch, 2) << tag;
    // A parameter after one epoch moved away from its value after three.
    EXPECT_GT(max_diff(load_model(ck), rm), 1e-3) << tag;
    MpiRun rest = run_np(
        to, "train --resume " + ck + " --epochs 3 --test-data none --json --quiet --out " + out,
        dir);
    ASSERT_EQ(rest.r.code, 0) << tag << "\n" << rest.r.err;
    const json j = json::parse(rest.r.out);
    if (to > 1) {
      EXPECT_EQ(j["ranks"].get<int>(), to) << tag;
    }
    EXPECT_EQ(j["train_examples"], rj["train_examples"]) << tag;
    EXPECT_EQ(j["steps"], rj["steps"]) << tag;
    ASSERT_EQ(j["epochs"].size(), 3u) << tag;
    for (std::size_t e = 0; e < 3; ++e)
      EXPECT_NEAR(j["epochs"][e]["train_loss"].get<double>(),
                  rj["epochs"][e]["train_loss"].get<double>(), 1e-5)
          << tag << " epoch " << e + 1;
    EXPECT_LT(max_diff(load_model(out), rm), 2e-5) << tag;
  }
}

TEST(Mpi, ARankWithABadShardEndsEveryRankNamingIt) {
  auto dir = temp_dir("mpi-bad");
  write_shard(dir / "t0.csv", 40, {"ant", "bee"}, 1);
  write_shard(dir / "t1.csv", 40, {"ant", "bee"}, 2, 17);  // line 17 has an extra field
  const std::string out = (dir / "m.safetensors").string();
  MpiRun run =
      run_np(2, "train --data " + (dir / "t{rank}.csv").string() + kTrain + " --out " + out, dir);
  EXPECT_EQ(run.r.code, 1) << run.r.err;
  EXPECT_NE(run.r.err.find("rank 1 of 2: " + (dir / "t1.csv").string() + ":17"), std::string::npos)
      << run.r.err;
  EXPECT_NE(run.r.err.find("rank 1 of 2 could not load its share"), std::string::npos);
  EXPECT_EQ(run.r.out, "");
  EXPECT_FALSE(fs::exists(out));
}

// Shards whose text columns hold other categories would give the same feature positions other
// meanings on each rank: every rank stops, naming the rank.
TEST(Mpi, ShardsThatEncodeDifferentlyEndEveryRank) {
  auto dir = temp_dir("mpi-schema");
  for (int r : {0, 1}) {
    std::ofstream f(dir / ("s" + std::to_string(r) + ".csv"));
    f << "label,color,x\n";
    for (int i = 0; i < 30; ++i)
      f << (i % 2 ? "ant" : "bee") << "," << (i % 2 ? "red" : (r == 0 ? "blue" : "green")) << ","
        << i << "\n";
  }
  MpiRun run = run_np(2,
                      "train --data " + (dir / "s{rank}.csv").string() + kTrain + " --out " +
                          (dir / "m.safetensors").string(),
                      dir);
  EXPECT_EQ(run.r.code, 1) << run.r.err;
  EXPECT_NE(run.r.err.find("rank 1 of 2 encodes the columns of its shard differently from rank 0"),
            std::string::npos)
      << run.r.err;
  EXPECT_FALSE(fs::exists(dir / "m.safetensors"));
}

TEST(Mpi, AMissingShardFileEndsEveryRank) {
  auto dir = temp_dir("mpi-missing");
  write_shard(dir / "u0.csv", 30, {"ant", "bee"}, 1);
  write_shard(dir / "u1.csv", 30, {"ant", "bee"}, 2);
  MpiRun run = run_np(3,
                      "train --data " + (dir / "u{rank}.csv").string() + kTrain + " --out " +
                          (dir / "m.safetensors").string(),
                      dir);
  EXPECT_EQ(run.r.code, 1) << run.r.err;
  EXPECT_NE(run.r.err.find("rank 2 of 3: " + (dir / "u2.csv").string()), std::string::npos)
      << run.r.err;
}

TEST(Mpi, MoreRanksThanShardFilesIsAUsageError) {
  auto dir = temp_dir("mpi-usage");
  const auto files = write_shards(dir);
  MpiRun run = run_np(3, "train --data " + files[0] + "," + files[1] + kTrain, dir);
  EXPECT_EQ(run.r.code, 2) << run.r.err;
  EXPECT_EQ(count(run.r.err, "lists 2 shard files for 3 ranks"), 1) << run.r.err;
}

// A usage error is found before any rank reads data: here rank 1's shard does not even exist.
TEST(Mpi, ReportWithoutTestDataIsAUsageErrorBeforeLoading) {
  auto dir = temp_dir("mpi-report");
  write_shard(dir / "v0.csv", 30, {"ant", "bee"}, 1);
  MpiRun run = run_np(2,
                      "train --data " + (dir / "v{rank}.csv").string() + kTrain + " --report " +
                          (dir / "r.html").string() + " --out " + (dir / "m.safetensors").string(),
                      dir);
  EXPECT_EQ(run.r.code, 2) << run.r.err;
  EXPECT_NE(run.r.err.find("needs --test-data"), std::string::npos) << run.r.err;
  EXPECT_EQ(run.r.err.find("v1.csv"), std::string::npos) << run.r.err;
  EXPECT_FALSE(fs::exists(dir / "r.html"));
}

TEST(Mpi, DivergenceDuringTrainingEndsEveryRankWithTheMessage) {
  auto dir = temp_dir("mpi-diverge");
  const auto files = write_shards(dir);
  MpiRun run = run_np(2,
                      "train --data " + files[0] + "," + files[2] +
                          " --hidden 64 --optimizer sgd --lr 1e30 --schedule constant --epochs 5 "
                          "--threads 1 --test-data none --out " +
                          (dir / "m.safetensors").string(),
                      dir);
  EXPECT_NE(run.r.code, 0);
  EXPECT_NE(run.r.err.find("training diverged"), std::string::npos) << run.r.err;
  EXPECT_NE(run.r.err.find("of 2: training: the loss became"), std::string::npos) << run.r.err;
}

#endif
