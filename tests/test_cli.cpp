// End-to-end runs of the fcnet command line: exit codes, JSON output and files written.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "fcnet/checkpoint.hpp"
#include "test_util.hpp"

using namespace fcnet;
using namespace fcnet::test;
using json = nlohmann::json;

namespace {

void write_npy_f64(const std::filesystem::path& p, const Matrix<double>& m) {
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" +
                       std::to_string(m.rows()) + ", " + std::to_string(m.cols()) + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream f(p, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  f.write(reinterpret_cast<const char*>(m.data()), m.size() * 8);
}

void write_npy_i64(const std::filesystem::path& p, const std::vector<int32_t>& y) {
  std::string header =
      "{'descr': '<i8', 'fortran_order': False, 'shape': (" + std::to_string(y.size()) + ",), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream f(p, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  for (int32_t v : y) {
    const int64_t w = v;
    f.write(reinterpret_cast<const char*>(&w), 8);
  }
}

}  // namespace

TEST(Cli, GradcheckSeedShapesPassesWithJson) {
  auto dir = temp_dir("gradcheck");
  auto r = run_cli("gradcheck --layers 4,10,3 --json", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_LT(j["max_rel_error"].get<double>(), 1e-7);
  EXPECT_TRUE(j["ok"].get<bool>());
  for (auto p : {"W1", "b1", "W2", "b2"}) EXPECT_LT(j["params"][p].get<double>(), 1e-7) << p;
}

TEST(Cli, GradcheckEveryActivationWithReg) {
  auto dir = temp_dir("gradcheck-acts");
  for (auto a : {"relu", "leaky_relu", "tanh", "sigmoid", "gelu", "identity"}) {
    auto r =
        run_cli(std::string("gradcheck --layers 6,8,7,3 --reg 0.01 --json --activation ") + a, dir);
    ASSERT_EQ(r.code, 0) << a << r.err;
    EXPECT_LT(json::parse(r.out)["max_rel_error"].get<double>(), 1e-7) << a;
  }
}

// The check on real shapes: every activation, reg in {0, 1e-3, 0.05} and seeds 0–4 pass at the
// default tolerance, every parameter compared (none left out at a kink).
class GradcheckGrid : public ::testing::TestWithParam<const char*> {};

TEST_P(GradcheckGrid, EveryActivationRegAndSeedPasses) {
  auto dir = temp_dir("gradcheck-grid");
  int64_t expected = 0;
  std::vector<int64_t> sizes;
  std::stringstream list(GetParam());
  for (std::string s; std::getline(list, s, ',');) sizes.push_back(std::stoll(s));
  for (std::size_t l = 1; l < sizes.size(); ++l) expected += sizes[l - 1] * sizes[l] + sizes[l];
  for (auto a : {"relu", "leaky_relu", "tanh", "sigmoid", "gelu", "identity"})
    for (auto reg : {"0", "1e-3", "0.05"})
      for (int seed = 0; seed < 6; ++seed) {
        // Seed 5: the weighted loss of --class-weight and --weight-col.
        const std::string args = std::string("gradcheck --json --layers ") + GetParam() +
                                 " --activation " + a + " --reg " + reg + " --seed " +
                                 std::to_string(seed) + (seed == 5 ? " --weighted" : "");
        SCOPED_TRACE(args);
        auto r = run_cli(args, dir);
        ASSERT_EQ(r.code, 0) << r.out << r.err;
        const json j = json::parse(r.out);
        EXPECT_TRUE(j["ok"].get<bool>());
        EXPECT_LT(j["max_rel_error"].get<double>(), 1e-7);
        EXPECT_EQ(j["checked"].get<int64_t>() + j["skipped_at_kinks"].get<int64_t>(), expected);
        EXPECT_LE(j["skipped_at_kinks"].get<int64_t>(), expected / 1000);
      }
}

INSTANTIATE_TEST_SUITE_P(Shapes, GradcheckGrid,
                         ::testing::Values("4,10,3", "784,64,32,10", "784,256,10"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), ',', '_');
                           return "L" + n;
                         });

TEST(Cli, GradcheckFailsWhenToleranceIsImpossible) {
  auto dir = temp_dir("gradcheck-fail");
  auto r = run_cli("gradcheck --layers 4,10,3 --tolerance 1e-30 --json", dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(json::parse(r.out)["ok"].get<bool>());
}

TEST(Cli, UsageErrorsExitTwo) {
  auto dir = temp_dir("usage");
  // Every invalid option value, whether CLI11 or the library refuses it, is a usage error; the
  // message names the option. None of these gets as far as loading data.
  for (auto args : {"train --epochs -1",
                    "train --lr abc",
                    "train --hidden 0",
                    "train --batch 0",
                    "nosuchcommand",
                    "gradcheck --layers 4,x,3",
                    "train --activation swish",
                    "train --optimizer adagrad",
                    "train --schedule linear",
                    "train --normalize minmax",
                    "train --init orthogonal",
                    "train --lr inf",
                    "train --leaky-alpha nan",
                    "train --reg -1",
                    "gradcheck --activation swish",
                    "gradcheck --tolerance 0",
                    "gradcheck --step -1",
                    "train --threads 100000",
                    "train --threads 40000",
                    "train --threads 257",
                    "gradcheck --threads 0"}) {
    const std::string a = args;
    const bool trains = a.rfind("train ", 0) == 0;
    auto r = run_cli(trains ? a + " --data /nonexistent.csv" : a, dir);
    EXPECT_EQ(r.code, 2) << a << ": " << r.err;
    EXPECT_EQ(r.err.rfind("fcnet: error:", 0), 0u) << a << ": " << r.err;
    const std::size_t flag = a.find(" --");
    if (flag != std::string::npos) {
      const std::string name = a.substr(flag + 1, a.find(' ', flag + 1) - flag - 1);
      EXPECT_NE(r.err.find(name), std::string::npos) << name << ": " << r.err;
    }
    EXPECT_EQ(r.err.find("/nonexistent.csv"), std::string::npos) << r.err;
  }
}

// --epochs auto: 15 passes over 20,000 rows or more; on fewer, enough for 2,000 steps (150 rows at
// batch 128 are 2 steps an epoch: 1,000 epochs).
TEST(Cli, AutoEpochsGiveTwoThousandStepsOnSmallData) {
  auto dir = temp_dir("auto-epochs");
  {
    std::ofstream f(dir / "d.csv");
    f << "label,a,b,c,d\n";
    Rng rng(5);
    for (int i = 0; i < 150; ++i) {
      f << i % 3;
      for (int k = 0; k < 4; ++k) f << "," << (i % 3) + rng.normal();
      f << "\n";
    }
  }
  auto r = run_cli("train --data " + (dir / "d.csv").string() +
                       " --test-data none --hidden 8 --batch 128 --json --quiet --out " +
                       (dir / "m.safetensors").string(),
                   dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["epochs"].size(), 1000u);
  EXPECT_EQ(j["steps"].get<int64_t>(), 2000);
}

// fcnet loss on a float64 model against PyTorch float64 autograd (fixture), gradients included.
TEST(Cli, LossOnFloat64ModelMatchesPyTorch) {
  auto dir = temp_dir("loss");
  auto f = load_net_fixture("net_relu_20_16_8_6_3.safetensors");
  save_model((dir / "m.safetensors").string(), f.model);
  write_npy_f64(dir / "x.npy", f.x);
  write_npy_i64(dir / "y.npy", f.y);
  auto r = run_cli("loss --model " + (dir / "m.safetensors").string() + " --data " +
                       (dir / "x.npy").string() + " --labels " + (dir / "y.npy").string() +
                       " --reg " + f.st.metadata.at("reg") + " --json --grads-out " +
                       (dir / "g.safetensors").string(),
                   dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_NEAR(j["loss"].get<double>(), f.meta("loss"), 1e-12 * f.meta("loss"));
  EXPECT_NEAR(j["data_loss"].get<double>(), f.meta("data_loss"), 1e-12 * f.meta("data_loss"));
  EXPECT_NEAR(j["reg_loss"].get<double>(), f.meta("reg_loss"), 1e-12 * f.meta("reg_loss"));
  auto g = read_safetensors((dir / "g.safetensors").string());
  for (int l = 1; l <= 4; ++l)
    for (auto p : {"W", "b"}) {
      const std::string name = p + std::to_string(l);
      auto got = g.tensors.at(name).to_double(name);
      auto want = f.tensor("grad_" + name);
      ASSERT_EQ(got.size(), want.size());
      ASSERT_EQ(g.tensors.at(name).dtype, "F64");
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-12 * (1e-3 + std::fabs(want[i]))) << name << i;
    }
}

TEST(Cli, InfoDescribesModel) {
  auto dir = temp_dir("info");
  auto f = load_net_fixture("net_tanh_4_10_3.safetensors");
  save_model((dir / "m.safetensors").string(), f.model);
  auto r = run_cli("info --json --model " + (dir / "m.safetensors").string(), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["architecture"], json({4, 10, 3}));
  EXPECT_EQ(j["parameters"].get<int64_t>(), 4 * 10 + 10 + 10 * 3 + 3);
  EXPECT_EQ(j["activation"], "tanh");
  EXPECT_EQ(j["precision"], "f64");
}

TEST(ModelFile, SaveLoadRoundTripIsBitExact) {
  auto dir = temp_dir("roundtrip");
  for (auto name : {"net_gelu_4_10_3.safetensors", "net_f32_relu.safetensors"}) {
    auto f = load_net_fixture(name);
    f.model.transform.scale = 1.0 / 255;
    f.model.transform.mean.assign(f.model.input_dim(), 0.25);
    f.model.transform.std.assign(f.model.input_dim(), 2.0);
    f.model.class_names.clear();
    for (int64_t k = 0; k < f.model.num_classes(); ++k)
      f.model.class_names.push_back("c" + std::to_string(k));
    const std::string p = (dir / "m.safetensors").string();
    save_model(p, f.model);
    Model back = load_model(p);
    EXPECT_EQ(back.f64, f.model.f64);
    EXPECT_EQ(back.sizes(), f.model.sizes());
    EXPECT_EQ(back.activation().kind, f.model.activation().kind);
    EXPECT_EQ(back.class_names, f.model.class_names);
    EXPECT_EQ(back.transform.scale, f.model.transform.scale);
    EXPECT_EQ(back.transform.mean, f.model.transform.mean);
    if (back.f64) {
      for (int64_t i = 0; i < back.net64.buffer_size(); ++i)
        ASSERT_EQ(back.net64.params()[i], f.model.net64.params()[i]);
    } else {
      for (int64_t i = 0; i < back.net32.buffer_size(); ++i)
        ASSERT_EQ(back.net32.params()[i], f.model.net32.params()[i]);
    }
    // And saving again reproduces the file byte for byte.
    save_model((dir / "m2.safetensors").string(), back);
    EXPECT_EQ(read_file(p), read_file((dir / "m2.safetensors").string()));
  }
}

// A raw mixed-type CSV with gaps trains as it is; predict and eval read raw files whose columns
// come in another order (the label found from the model, extra columns ignored), with the same
// probabilities; an unseen category is counted; the id column leads each prediction.
// Weights in the loss: a class weight of 2, or a weight column of 2 on that class's rows, trains
// the weights that the same data with those rows written twice trains (one full-batch SGD step,
// no input transform: the gradient of the weighted mean is the plain mean's over the duplicates).
TEST(Cli, ClassAndExampleWeightsTrainAsDuplicatedRows) {
  auto dir = temp_dir("weights");
  const std::string plain = (dir / "plain.csv").string(), dup = (dir / "dup.csv").string();
  {
    std::ofstream f(plain), g(dup);
    f << "a,b,w,label\n";
    g << "a,b,w,label\n";
    Rng rng(8);
    for (int i = 0; i < 30; ++i) {
      const bool rare = i % 5 == 0;
      const std::string row = std::to_string(rng.normal()) + "," + std::to_string(rng.normal()) +
                              "," + (rare ? "2" : "1") + "," + (rare ? "rare" : "common") + "\n";
      f << row;
      g << row;
      if (rare) g << row;
    }
  }
  const std::string common =
      " --test-data none --hidden 5 --dropout 0 --optimizer sgd --lr 0.5 --schedule constant "
      "--normalize none --precision f64 --epochs 1 --threads 1 --quiet --ignore-cols w --batch ";
  auto train = [&](const std::string& data, int batch, const std::string& extra,
                   const std::string& out) {
    auto r = run_cli("train --data " + data + common + std::to_string(batch) + extra + " --out " +
                         (dir / out).string(),
                     dir);
    EXPECT_EQ(r.code, 0) << r.err;
    return load_model((dir / out).string());
  };
  const Model ref = train(dup, 36, "", "dup.safetensors");
  const Model by_class = train(plain, 30, " --class-weight rare=2", "cw.safetensors");
  const Model balanced = train(plain, 30, " --class-weight balanced", "bal.safetensors");
  auto params = [](const Model& m) {
    return std::vector<double>(m.net64.params(), m.net64.params() + m.net64.buffer_size());
  };
  const auto a = params(ref), b = params(by_class), c = params(balanced);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-12) << i;
  // balanced: 30 / (2 · 6) = 2.5 for rare, 30 / (2 · 24) = 0.625 for common: a ratio of 4.
  bool differs = false;
  for (std::size_t i = 0; i < a.size(); ++i) differs = differs || std::abs(a[i] - c[i]) > 1e-6;
  EXPECT_TRUE(differs);
  EXPECT_EQ(json::parse(by_class.training_json)["class_weights"], (json{1.0, 2.0}));
  const json bw = json::parse(balanced.training_json)["class_weights"];
  EXPECT_DOUBLE_EQ(bw[0].get<double>(), 0.625);  // "common" sorts first
  EXPECT_DOUBLE_EQ(bw[1].get<double>(), 2.5);
  // A class named twice is a usage error, not the last weight silently.
  auto twice = run_cli("train --data " + plain + common + "30 --class-weight rare=2,rare=3 --out " +
                           (dir / "twice.safetensors").string(),
                       dir);
  EXPECT_EQ(twice.code, 2);
  EXPECT_NE(twice.err.find("names class 'rare' twice"), std::string::npos) << twice.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "twice.safetensors"));
  // The weight column: the same as the class weight (w is then read as weights, not ignored).
  std::string common_w = common;
  common_w.replace(common_w.find(" --ignore-cols w"), 16, "");
  auto r = run_cli("train --data " + plain + common_w + "30 --weight-col w --out " +
                       (dir / "wc.safetensors").string(),
                   dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto w = params(load_model((dir / "wc.safetensors").string()));
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], w[i], 1e-12) << i;
  EXPECT_EQ(load_model((dir / "wc.safetensors").string()).sizes(), (std::vector<int64_t>{2, 5, 2}));
  // Checkpoints keep the class weights: one epoch and a resume of one more equal two epochs.
  const std::string two = " --epochs 2 --class-weight rare=2";
  std::string common2 = common;
  common2.replace(common2.find(" --epochs 1"), 11, "");
  auto full = run_cli("train --data " + plain + common2 + "8" + two + " --out " +
                          (dir / "full.safetensors").string(),
                      dir);
  ASSERT_EQ(full.code, 0) << full.err;
  auto first = run_cli("train --data " + plain + common2 + "8 --epochs 1 --class-weight rare=2 " +
                           "--checkpoint " + (dir / "ck.safetensors").string() + " --out " +
                           (dir / "one.safetensors").string(),
                       dir);
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_EQ(load_checkpoint((dir / "ck.safetensors").string()).config.class_weights,
            (std::vector<double>{1.0, 2.0}));
  auto more = run_cli("train --resume " + (dir / "ck.safetensors").string() +
                          " --epochs 2 --quiet --out " + (dir / "resumed.safetensors").string(),
                      dir);
  ASSERT_EQ(more.code, 0) << more.err;
  EXPECT_EQ(params(load_model((dir / "resumed.safetensors").string())),
            params(load_model((dir / "full.safetensors").string())));
  // The weights travel with shards (two files equal their concatenation), a test file needs no
  // weight column, and data without columns cannot have one.
  {
    std::ifstream in(plain);
    std::string header, line;
    std::getline(in, header);
    std::ofstream h1((dir / "h1.csv").string()), h2((dir / "h2.csv").string()),
        t((dir / "t.csv").string());
    h1 << header << "\n";
    h2 << header << "\n";
    t << "a,b,label\n";
    for (int i = 0; std::getline(in, line); ++i) {
      (i < 15 ? h1 : h2) << line << "\n";
      const auto c1 = line.find(','), c2 = line.find(',', c1 + 1), c3 = line.find(',', c2 + 1);
      t << line.substr(0, c2) << line.substr(c3) << "\n";
    }
  }
  std::string with_test = common_w;
  with_test.replace(with_test.find("--test-data none"), 16,
                    "--test-data " + (dir / "t.csv").string());
  auto shards =
      run_cli("train --data " + (dir / "h1.csv").string() + "," + (dir / "h2.csv").string() +
                  with_test + "30 --weight-col w --out " + (dir / "sh.safetensors").string(),
              dir);
  ASSERT_EQ(shards.code, 0) << shards.err;
  EXPECT_EQ(params(load_model((dir / "sh.safetensors").string())), w);
  auto npy = run_cli("train --data fashion-mnist --weight-col w --epochs 1 --max-steps 1 --out " +
                         (dir / "np.safetensors").string(),
                     dir);
  EXPECT_EQ(npy.code, 1);
  EXPECT_NE(npy.err.find("--weight-col with CSV data"), std::string::npos) << npy.err;
  // Bad weights are usage errors naming the option.
  auto bad = run_cli("train --data " + plain + common + "30 --class-weight nosuch=2", dir);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("'nosuch' is not a class of the data; expected one of common, rare"),
            std::string::npos)
      << bad.err;
}

// The plateau schedule's decays so far are part of a checkpoint: 3 epochs and a resume to 8 end
// bit-identical to 8 epochs in one run.
TEST(Cli, PlateauScheduleResumesBitIdentical) {
  auto dir = temp_dir("plateau");
  const std::string data = (dir / "d.csv").string();
  {
    std::ofstream f(data);
    f << "a,b,c,label\n";
    Rng rng(12);
    for (int i = 0; i < 90; ++i) {
      const double a = rng.normal(), b = rng.normal(), c = rng.normal();
      f << a << "," << b << "," << c << "," << ((a + 0.5 * rng.normal() > 0) ? "x" : "y") << "\n";
    }
  }
  const std::string common =
      " --test-data none --hidden 16 --schedule plateau --plateau-patience 1 --lr 0.05 "
      "--lr-decay 0.5 --val-split 0.3 --monitor val_loss --batch 16 --threads 1 --quiet --json";
  auto full = run_cli(
      "train --data " + data + common + " --epochs 8 --out " + (dir / "full.safetensors").string(),
      dir);
  ASSERT_EQ(full.code, 0) << full.err;
  auto part = run_cli("train --data " + data + common + " --epochs 3 --checkpoint " +
                          (dir / "ck.safetensors").string() + " --out " +
                          (dir / "part.safetensors").string(),
                      dir);
  ASSERT_EQ(part.code, 0) << part.err;
  auto rest = run_cli("train --resume " + (dir / "ck.safetensors").string() +
                          " --epochs 8 --quiet --json --out " + (dir / "rest.safetensors").string(),
                      dir);
  ASSERT_EQ(rest.code, 0) << rest.err;
  const json a = json::parse(full.out)["epochs"], b = json::parse(rest.out)["epochs"];
  ASSERT_EQ(a.size(), 8u);
  ASSERT_EQ(b.size(), 8u);
  for (std::size_t e = 0; e < 8; ++e) EXPECT_EQ(a[e]["lr"], b[e]["lr"]) << e;
  EXPECT_LT(a[7]["lr"].get<double>(), 0.05);  // it decayed
  const Model m1 = load_model((dir / "full.safetensors").string()),
              m2 = load_model((dir / "rest.safetensors").string());
  EXPECT_EQ(std::memcmp(m1.net32.params(), m2.net32.params(),
                        sizeof(float) * static_cast<std::size_t>(m1.net32.buffer_size())),
            0);
}

// A resume that changes --monitor starts the best-epoch tracking over: the kept weights are the
// best of the resumed epochs by the new monitor, not compared with a score in other units.
TEST(Cli, ResumingWithAnotherMonitorTracksTheNewOne) {
  auto dir = temp_dir("monitor-resume");
  const std::string data = (dir / "d.csv").string();
  {
    std::ofstream f(data);
    f << "a,b,label\n";
    Rng rng(5);
    for (int i = 0; i < 120; ++i) {
      const double a = rng.normal(), b = rng.normal();
      f << a << "," << b << "," << ((a + 0.8 * rng.normal() > 0) ? "p" : "q") << "\n";
    }
  }
  const std::string ck = (dir / "ck.safetensors").string();
  auto first = run_cli("train --data " + data +
                           " --test-data none --hidden 8 --val-split 0.3 --monitor val_accuracy "
                           "--epochs 3 --threads 1 --quiet --checkpoint " +
                           ck + " --out " + (dir / "a.safetensors").string(),
                       dir);
  ASSERT_EQ(first.code, 0) << first.err;
  auto more =
      run_cli("train --resume " + ck + " --epochs 7 --monitor val_loss --quiet --json --out " +
                  (dir / "b.safetensors").string(),
              dir);
  ASSERT_EQ(more.code, 0) << more.err;
  const json j = json::parse(more.out);
  int64_t best = 0;
  double low = INFINITY;
  for (const auto& e : j["epochs"])
    if (e["epoch"].get<int64_t>() >= 4 && e["val_loss"].get<double>() < low)
      low = e["val_loss"].get<double>(), best = e["epoch"].get<int64_t>();
  EXPECT_EQ(j["best_epoch"].get<int64_t>(), best);
}

TEST(Cli, PredictSkipsALabelColumnWhateverItHolds) {
  // New data that carries a label column with a class the model never saw: predict needs no
  // labels, so it predicts (the same as without the column); eval, which scores them, refuses.
  auto dir = temp_dir("predict-labels");
  const std::string train = (dir / "train.csv").string(), known = (dir / "known.csv").string(),
                    unseen = (dir / "unseen.csv").string(), bare = (dir / "bare.csv").string();
  {
    std::ofstream f(train), k(known), u(unseen), b(bare);
    f << "x,y,kind\n";
    k << "x,y,kind\n";
    u << "x,y,kind\n";
    b << "x,y\n";
    for (int i = 0; i < 40; ++i) {
      const std::string row = std::to_string(i % 5) + "," + std::to_string(i % 3);
      f << row << "," << (i % 2 ? "cat" : "dog") << "\n";
      if (i < 10) {
        k << row << "," << (i % 2 ? "cat" : "dog") << "\n";
        u << row << "," << (i == 3 ? "emu" : "dog") << "\n";
        b << row << "\n";
      }
    }
  }
  const std::string model = (dir / "m.safetensors").string();
  auto t = run_cli("train --data " + train + " --label-col kind --test-data none --hidden 4 " +
                       "--epochs 3 --threads 1 --quiet --out " + model,
                   dir);
  ASSERT_EQ(t.code, 0) << t.err;
  auto from_bare = run_cli("predict --model " + model + " --data " + bare + " --output probs", dir);
  auto from_unseen =
      run_cli("predict --model " + model + " --data " + unseen + " --output probs", dir);
  ASSERT_EQ(from_bare.code, 0) << from_bare.err;
  ASSERT_EQ(from_unseen.code, 0) << from_unseen.err;
  EXPECT_EQ(from_unseen.out, from_bare.out);
  auto ev = run_cli("eval --model " + model + " --data " + unseen, dir);
  EXPECT_EQ(ev.code, 1) << ev.err;
  EXPECT_NE(ev.err.find("unseen.csv:5: unknown class 'emu'"), std::string::npos) << ev.err;
  EXPECT_EQ(run_cli("eval --model " + model + " --data " + known, dir).code, 0);
}

TEST(Cli, MixedTypeCsvTrainsAndPredictsFromRawFilesInAnyOrder) {
  auto dir = temp_dir("mixed-csv");
  const std::string train = (dir / "train.csv").string(),
                    shuffled = (dir / "shuffled.csv").string();
  {
    std::ofstream f(train), g(shuffled);
    f << "id,species,island,bill,sex\n";
    g << "sex,extra,bill,island,species,id\n";
    const char* islands[] = {"Torgersen", "Biscoe", "Dream"};
    const char* species[] = {"Adelie", "Gentoo", "Chinstrap"};
    Rng rng(4);
    for (int i = 0; i < 60; ++i) {
      const int k = i % 3;
      const std::string bill = i % 7 == 3 ? "NA" : std::to_string(38 + 5 * k + rng.normal());
      const std::string sex = i % 5 == 2 ? "" : (i % 2 ? "male" : "female");
      const std::string island = i == 59 ? "Mars" : islands[(k + i / 3) % 3];
      if (i < 59)
        f << "p" << i << "," << species[k] << "," << island << "," << bill << "," << sex << "\n";
      g << sex << ",9," << bill << "," << island << "," << species[k] << ",p" << i << "\n";
    }
  }
  const std::string model = (dir / "m.safetensors").string();
  auto t = run_cli("train --data " + train + " --label-col species --id-col id --test-data none " +
                       "--hidden 8 --epochs 300 --lr 0.01 --threads 1 --quiet --out " + model +
                       " --report " + (dir / "r.html").string(),
                   dir);
  ASSERT_EQ(t.code, 0) << t.err;
  // The report lists each column with its kind, categories or fill.
  const std::string html = read_file((dir / "r.html").string());
  EXPECT_NE(html.find("island: categorical, 3 categories: Biscoe, Dream, Torgersen"),
            std::string::npos);
  EXPECT_NE(html.find("sex: categorical, 2 categories: female, male (+ missing)"),
            std::string::npos);
  // Tabular diagnostics: ROC and PR curves per class, reliability, and the bill length (which
  // separates the species) as the most important column.
  for (const char* id :
       {"id=\"roc-curve\"", "id=\"pr-curve\"", "id=\"calibration\"", "id=\"importance\""})
    EXPECT_NE(html.find(id), std::string::npos) << id;
  EXPECT_NE(html.find("<tbody><tr><td>bill</td>"), std::string::npos);
  auto a = run_cli("predict --model " + model + " --data " + train + " --output probs", dir);
  auto b = run_cli("predict --model " + model + " --data " + shuffled + " --output probs", dir);
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  // A header naming the id column and one column per class (in class order), then ids first.
  EXPECT_EQ(a.out.substr(0, a.out.find('\n') + 4),
            "id,prob_Adelie,prob_Chinstrap,prob_Gentoo\np0,");
  {  // an empty id keeps its field: every row has as many fields as the header
    std::ifstream in(train);
    std::ofstream out((dir / "blank_id.csv").string());
    std::string line;
    std::getline(in, line);
    out << line << "\n";
    std::getline(in, line);
    out << line.substr(line.find(',')) << "\n";
  }
  auto blank = run_cli(
      "predict --model " + model + " --data " + (dir / "blank_id.csv").string() + " --output probs",
      dir);
  ASSERT_EQ(blank.code, 0) << blank.err;
  EXPECT_EQ(blank.out.substr(blank.out.find('\n') + 1, 1), ",");
  EXPECT_EQ(std::count(blank.out.begin(), blank.out.end(), ','), 6);
  // The first 59 rows are the same examples: the same lines of output.
  std::stringstream sa(a.out), sb(b.out);
  std::string la, lb;
  int lines = 0;
  while (std::getline(sa, la) && std::getline(sb, lb)) {
    EXPECT_EQ(la, lb) << "line " << lines;
    ++lines;
  }
  EXPECT_EQ(lines, 60);  // the header and 59 rows
  EXPECT_NE(b.err.find("1 cells of column 'island' hold categories not seen in training"),
            std::string::npos)
      << b.err;
  auto e = run_cli("eval --model " + model + " --data " + shuffled + " --json", dir);
  ASSERT_EQ(e.code, 0) << e.err;
  const json j = json::parse(e.out);
  EXPECT_EQ(j["examples"].get<int64_t>(), 60);
  EXPECT_EQ(j["unseen_categories"]["island"].get<int64_t>(), 1);
  EXPECT_GT(j["accuracy"].get<double>(), 0.6);  // the bill length separates the species
  auto info = run_cli("info --model " + model + " --json", dir);
  ASSERT_EQ(info.code, 0) << info.err;
  const json cols = json::parse(info.out)["columns"];
  EXPECT_EQ(cols["label"], "species");
  EXPECT_EQ(cols["columns"][0]["categories"], (json{"Biscoe", "Dream", "Torgersen"}));
  EXPECT_TRUE(cols["columns"][1]["indicator"].get<bool>());
  EXPECT_TRUE(cols["columns"][2]["missing_category"].get<bool>());
  auto text = run_cli("info --model " + model, dir);
  EXPECT_NE(
      text.out.find("island               categorical, 3 categories: Biscoe, Dream, Torgersen"),
      std::string::npos)
      << text.out;
}

// info --devices lists the instruction sets the CPU reports (CPUID): the same as the kernel's
// view of it, /proc/cpuinfo's flags.
TEST(Cli, InfoDevicesListsTheCpusInstructionSetsAsTheKernelSeesThem) {
  auto dir = temp_dir("info-devices");
  const CmdResult r = run_cli("info --devices --json", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  std::set<std::string> listed;
  for (const auto& s : j.at("cpu").at("instruction_sets")) listed.insert(s.get<std::string>());
  EXPECT_GE(j.at("cpu").at("threads").get<int>(), 1);
  EXPECT_TRUE(j.contains("cuda_devices") || j.contains("cuda_unavailable")) << r.out;
  std::ifstream f("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(f, line))
    if (line.rfind("flags", 0) == 0) {
      flags = " " + line.substr(line.find(':') + 1) + " ";
      break;
    }
  ASSERT_FALSE(flags.empty()) << "no flags line in /proc/cpuinfo";
  const std::pair<const char*, const char*> names[] = {{"sse4.2", "sse4_2"},
                                                       {"avx", "avx"},
                                                       {"fma", "fma"},
                                                       {"avx2", "avx2"},
                                                       {"avx512f", "avx512f"},
                                                       {"avx512bw", "avx512bw"},
                                                       {"avx512vl", "avx512vl"},
                                                       {"avx512vnni", "avx512_vnni"},
                                                       {"avx512bf16", "avx512_bf16"}};
  for (const auto& [ours, kernel] : names)
    EXPECT_EQ(listed.count(ours) == 1,
              flags.find(std::string(" ") + kernel + " ") != std::string::npos)
        << ours << " (/proc/cpuinfo: " << kernel << ")";
  std::filesystem::remove_all(dir);
}

// Epoch-second features (~1.7e9, spread ~1000): a file whose numbers are all exact floats is held
// as float32, one more row that is not makes it float64. A row's answer must not depend on which.
TEST(Cli, TimestampFeaturesPredictTheSameWhateverTheFileHolds) {
  const auto dir = temp_dir("timestamps");
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 400);
  const auto train = (dir / "ts.csv").string(), exact = (dir / "exact.csv").string(),
             plus = (dir / "exact_plus1.csv").string();
  {
    std::ofstream t(train), e(exact), p(plus);
    t << "a,b,c,target\n";
    e << "a,b,c\n";
    p << "a,b,c\n";
    for (int i = 0; i < 150; ++i) {
      const int k = i % 3;
      std::string row_t, row_e;
      for (int j = 0; j < 3; ++j) {
        const double v = std::round(1.7e9 + 800.0 * k * (j + 1) + noise(rng));
        row_t += std::to_string(static_cast<int64_t>(v)) + ",";
        row_e += (j ? "," : "") + std::to_string(static_cast<int64_t>(std::round(v / 128) * 128));
      }
      t << row_t << k << "\n";
      e << row_e << "\n";
      p << row_e << "\n";
    }
    p << "1700000001,1700000003,1700000005\n";  // not exact floats: the file is float64
  }
  const std::string model = (dir / "ts.safetensors").string();
  auto t = run_cli("train --data " + train + " --label-col target --test-data none --threads 1 " +
                       "--epochs 50 --seed 1 --quiet --out " + model,
                   dir);
  ASSERT_EQ(t.code, 0) << t.err;
  auto a = run_cli(
      "predict --model " + model + " --data " + exact + " --json --output labels,probs --threads 1",
      dir);
  auto b = run_cli(
      "predict --model " + model + " --data " + plus + " --json --output labels,probs --threads 1",
      dir);
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  std::istringstream ia(a.out), ib(b.out);
  std::string la, lb;
  int rows = 0;
  double worst = 0;
  while (std::getline(ia, la)) {
    ASSERT_TRUE(std::getline(ib, lb));
    const json ra = json::parse(la), rb = json::parse(lb);
    EXPECT_EQ(ra["label"], rb["label"]) << "row " << rows;
    for (const auto& [name, pa] : ra["probs"].items())
      worst = std::max(worst, std::abs(pa.get<double>() - rb["probs"][name].get<double>()));
    ++rows;
  }
  EXPECT_EQ(rows, 150);
  EXPECT_LE(worst, 1e-6);
  std::filesystem::remove_all(dir);
}

TEST(Cli, TrainTellsOfTestCategoriesUnseenInTraining) {
  const auto dir = temp_dir("unseen_test");
  const auto tr = (dir / "tr.csv").string(), te = (dir / "te.csv").string();
  {
    std::ofstream t(tr), e(te);
    t << "a,colour,label\n1,red,x\n2,blue,y\n3,red,x\n2,blue,y\n";
    e << "a,colour,label\n1,green,x\n2,blue,y\n3,green,x\n";
  }
  auto r = run_cli("train --data " + tr + " --test-data " + te + " --epochs 1 --quiet --out " +
                       (dir / "m.safetensors").string(),
                   dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("te.csv: 2 cells of column 'colour' hold categories not seen in training"),
            std::string::npos)
      << r.err;
}

TEST(Cli, PredictRefusesAValueBeyondTheModelsFloatRange) {
  // 1e39 is a finite double but beyond float32 (about 3.4e38): a float32 model's probabilities
  // for it were NaN, and predict wrote them and the label of class 0.
  const auto dir = temp_dir("beyond_float");
  const auto tr = (dir / "tr.csv").string(), te = (dir / "te.csv").string();
  {
    std::ofstream t(tr), e(te);
    t << "a,b,label\n";
    for (int i = 0; i < 40; ++i)
      t << i % 7 << "," << (i * 3) % 11 << "," << (i % 2 ? "x" : "y") << "\n";
    e << "a,b\n1,2\n1e39,3\n";
  }
  const std::string model = (dir / "m.safetensors").string();
  auto r =
      run_cli("train --data " + tr + " --epochs 1 --quiet --test-data none --out " + model, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto p = run_cli("predict --model " + model + " --data " + te + " --output probs", dir);
  EXPECT_EQ(p.code, 1);
  EXPECT_NE(p.err.find("te.csv: example 2: feature 'a' is 1e+39, beyond what the model's float32"),
            std::string::npos)
      << p.err;
  EXPECT_EQ(p.out.find("nan"), std::string::npos) << p.out;
  // In training, such a test example costs the test loss, not the run: the model is written.
  std::filesystem::remove(model);
  {
    std::ofstream e(te);
    e << "a,b,label\n1,2,x\n1e39,3,y\n";
  }
  auto t = run_cli("train --data " + tr + " --test-data " + te + " --epochs 1 --out " + model, dir);
  EXPECT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.err.find("te.csv: the model's output is not finite for some examples"),
            std::string::npos)
      << t.err;
  EXPECT_TRUE(std::filesystem::exists(model));
}
