// The CUDA backend against the CPU: gradients and losses against the double-precision reference
// network, optimizer steps against Optimizer<float>, whole training runs against fcnet::train.
// Compiled in every build. Without FCNET_CUDA only the "not available" path runs; without a
// usable GPU the device tests report SKIPPED with the reason.
//
// Tolerances (max |gpu − ref| / max |ref| per tensor): fp32 1e-5, tf32 1e-2, bf16 3e-2.
// FCNET_CUDA_TEST_QUICK=1 runs fewer cases (for compute-sanitizer, which is slow).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fcnet/checkpoint.hpp"
#include "fcnet/cuda.hpp"
#include "fcnet/kernels.hpp"
#include "fcnet/optim.hpp"
#include "fcnet/trainer.hpp"
#include "fcnet/training_report.hpp"
#include "test_util.hpp"
#include "thread_ranks.hpp"

using namespace fcnet;
using namespace fcnet::test;
using json = nlohmann::json;

namespace {

// fcnet::train on CUDA device 0 at precision p.
TrainResult train_on_gpu(const Dataset& ds, TrainConfig cfg, Precision p) {
  cfg.device = Device::cuda;
  cfg.precision = p;
  return train(ds, nullptr, cfg);
}

// Empty when a device can be used; else why not. Only the expected reasons (no CUDA in the build,
// no device, a device too old for the build) skip: any other failure makes the tests fail.
const std::string& gpu_unavailable() {
  static const std::string why = [] {
    try {
      Network<float> net({2, 2}, {});
      CudaNetwork probe(net, OptimizerConfig{});
      return std::string();
    } catch (const Error& e) {
      const std::string m = e.what();
      for (const char* reason :
           {"built without FCNET_CUDA", "no CUDA device found", "compute capability"})
        if (m.find(reason) != std::string::npos) return m;
      return std::string();
    }
  }();
  return why;
}

#define FCNET_REQUIRE_GPU()                                                                 \
  do {                                                                                      \
    if (!gpu_unavailable().empty()) GTEST_SKIP() << "no usable GPU: " << gpu_unavailable(); \
  } while (0)

bool quick() {
  return std::getenv("FCNET_CUDA_TEST_QUICK") != nullptr;
}

double tolerance(Precision p) {
  switch (p) {
    case Precision::fp32:
      return 1e-5;
    case Precision::tf32:
      return 1e-2;
    case Precision::bf16:
      return 3e-2;
  }
  return 0;
}

// max |a − ref| / max |ref| over n entries.
template <class A, class B>
double rel_diff(const A* a, const B* ref, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num = std::max(num, std::fabs(static_cast<double>(a[i]) - static_cast<double>(ref[i])));
    den = std::max(den, std::fabs(static_cast<double>(ref[i])));
  }
  return den > 0 ? num / den : num;
}

void expect_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no fcnet::Error thrown; expected one containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// A learnable synthetic data set: class centres plus noise, stored as `t`.
Dataset synthetic(DType t, int64_t n, int64_t d, int64_t classes, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> centre(static_cast<std::size_t>(classes * d));
  for (auto& c : centre) c = rng.normal();
  Dataset ds;
  ds.n = n;
  ds.d = d;
  ds.dtype = t;
  ds.source = "synthetic";
  ds.bytes.resize(static_cast<std::size_t>(n * d) * dtype_size(t));
  for (int64_t i = 0; i < n; ++i) {
    const auto y = static_cast<int32_t>(rng.below(static_cast<uint64_t>(classes)));
    ds.labels.push_back(y);
    for (int64_t j = 0; j < d; ++j) {
      const double v = centre[static_cast<std::size_t>(y * d + j)] + 0.8 * rng.normal();
      const auto k = static_cast<std::size_t>(i * d + j);
      if (t == DType::u8)
        ds.bytes[k] = static_cast<uint8_t>(std::clamp(128.0 + 40.0 * v, 0.0, 255.0));
      else if (t == DType::f32)
        reinterpret_cast<float*>(ds.bytes.data())[k] = static_cast<float>(3.0 + 2.0 * v);
      else
        reinterpret_cast<double*>(ds.bytes.data())[k] = -5.0 + 0.5 * v;
    }
  }
  return ds;
}

const std::vector<ActivationFn> kActivations = {
    {Activation::relu, 0.01},    {Activation::leaky_relu, 0.1}, {Activation::leaky_relu, 0.0},
    {Activation::tanh, 0.01},    {Activation::sigmoid, 0.01},   {Activation::gelu, 0.01},
    {Activation::identity, 0.01}};

const std::vector<Precision> kPrecisions = {Precision::fp32, Precision::tf32, Precision::bf16};

}  // namespace

TEST(CudaBuild, PrecisionNamesParse) {
  EXPECT_EQ(parse_precision("fp32"), Precision::fp32);
  EXPECT_EQ(parse_precision("f32"), Precision::fp32);
  EXPECT_EQ(parse_precision("tf32"), Precision::tf32);
  EXPECT_EQ(parse_precision("bf16"), Precision::bf16);
  for (Precision p : kPrecisions) EXPECT_EQ(parse_precision(precision_name(p)), p);
  expect_error([] { parse_precision("f64"); }, "one of fp32, tf32, bf16");
}

TEST(CudaBuild, UnavailableIsACleanError) {
  Network<float> net({4, 3}, {});
  Dataset ds = synthetic(DType::u8, 12, 4, 3, 1);
  TrainConfig cfg;
  cfg.hidden = {5};
  cfg.epochs = 1;
#ifndef FCNET_HAVE_CUDA
  EXPECT_FALSE(cuda_built());
  expect_error([] { cuda_devices_info(); }, "CUDA is not available: built without FCNET_CUDA");
  expect_error([&] { CudaNetwork g(net, OptimizerConfig{}); }, "built without FCNET_CUDA");
  expect_error([&] { train_on_gpu(ds, cfg, Precision::fp32); }, "built without FCNET_CUDA");
#else
  EXPECT_TRUE(cuda_built());
  std::string info;
  try {
    info = cuda_devices_info();
  } catch (const Error& e) {
    // Built with CUDA on a machine without a device: the same clean error everywhere.
    EXPECT_NE(std::string(e.what()).find("no CUDA device found"), std::string::npos) << e.what();
    expect_error([&] { CudaNetwork g(net, OptimizerConfig{}); }, "no CUDA device found");
    expect_error([&] { train_on_gpu(ds, cfg, Precision::fp32); }, "no CUDA device found");
    return;
  }
  EXPECT_NE(info.find("cuda:0"), std::string::npos) << info;
  EXPECT_NE(info.find("compute capability"), std::string::npos) << info;
#endif
}

TEST(CudaBuild, CommandLineDeviceOptions) {
  const auto dir = temp_dir("cuda-cli");
  // tf32 is a device precision: a usage error on the CPU (bf16 is in tests/test_bf16.cpp).
  CmdResult r = run_cli("train --precision tf32 --out " + (dir / "m.safetensors").string(), dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("needs --device cuda"), std::string::npos) << r.err;
  r = run_cli("train --device cuda --precision f64 --out " + (dir / "m.safetensors").string(), dir);
  EXPECT_EQ(r.code, 2) << r.err;
  r = run_cli("info", dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
  r = run_cli("info --devices", dir);
  EXPECT_NE(r.out.find("cpu: "), std::string::npos) << r.out;
  if (!cuda_built()) {
    EXPECT_EQ(r.code, 0) << r.err;  // the CPU is listed; the line on CUDA says why there is none
    EXPECT_NE(r.out.find("built without FCNET_CUDA"), std::string::npos) << r.out;
    r = run_cli("train --device cuda --out " + (dir / "m.safetensors").string(), dir);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("built without FCNET_CUDA"), std::string::npos) << r.err;
  } else if (gpu_unavailable().empty()) {
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("cuda:0"), std::string::npos) << r.out;
    // With a model and --json: one JSON document holding both.
    Model m;
    Rng rng(4);
    m.net32 = random_network<float>({5, 4, 3}, {}, rng);
    save_model((dir / "m.safetensors").string(), m);
    r = run_cli("info --devices --json --model " + (dir / "m.safetensors").string(), dir);
    ASSERT_EQ(r.code, 0) << r.err;
    const json j = json::parse(r.out);  // throws on a second document
    EXPECT_EQ(j.at("architecture"), json({5, 4, 3}));
    EXPECT_NE(j.at("cuda_devices").get<std::string>().find("cuda:0"), std::string::npos) << r.out;
  } else {
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("no CUDA device found"), std::string::npos) << r.out;
  }
  std::filesystem::remove_all(dir);
}

namespace {

// Smallest |z| over the hidden pre-activations of `net` on x (double reference).
double min_abs_preactivation(const Network<double>& net, const Matrix<double>& x) {
  double m = INFINITY;
  Matrix<double> a = x;
  for (int l = 1; l < net.num_layers(); ++l) {
    Matrix<double> z(x.rows(), net.sizes()[l]);
    GemmOp<double> op;
    op.bias = net.b(l).data;
    ref::gemm<double>(z.view(), a.view(), net.W(l), op);
    for (int64_t i = 0; i < z.size(); ++i) m = std::min(m, std::fabs(z[i]));
    Matrix<double> next(x.rows(), net.sizes()[l]);
    ref::activation_forward<double>(next.view(), z.view(), net.activation());
    a = std::move(next);
  }
  return m;
}

}  // namespace

// Loss, correct count and every gradient against the double-precision reference network, for
// every activation and precision, with and without the fused cuBLASLt epilogues.
//
// relu and leaky_relu have a kink at 0: a pre-activation closer to 0 than the rounding error
// of the precision can fall on the other side on the device, which changes one row's share of a
// gradient column by O(1) — a correct result that no tolerance on the others separates from a
// bug. Those cases draw networks and inputs until every hidden pre-activation is at least a
// margin away from 0 (1e-4 for fp32; 0.05 for tf32/bf16, on a small network where such draws
// are common); the smooth activations run on every shape in every precision.
TEST(CudaGpu, GradientsMatchDoubleReference) {
  FCNET_REQUIRE_GPU();
  Rng rng(11);
  const std::vector<int64_t> small_kink = {13, 9, 7, 5};
  std::vector<std::vector<int64_t>> shapes = {{37, 29, 17, 11}, {784, 64, 10}, {13, 5}, small_kink};
  std::vector<ActivationFn> acts = kActivations;
  if (quick()) {
    shapes = {shapes[0], small_kink};
    acts = {{Activation::relu, 0.01}, {Activation::gelu, 0.01}};
  }
  for (const auto& sizes : shapes)
    for (ActivationFn act : acts)
      for (Precision prec : kPrecisions)
        for (bool fused : {true, false}) {
          const bool kink = (act.kind == Activation::relu || act.kind == Activation::leaky_relu) &&
                            sizes.size() > 2;
          if (kink && prec != Precision::fp32 && sizes != small_kink) continue;
          const double margin = !kink ? 0.0 : (prec == Precision::fp32 ? 1e-4 : 5e-2);
          const std::string tag = std::string(activation_name(act.kind)) + " alpha " +
                                  std::to_string(act.alpha) + " " + precision_name(prec) +
                                  (fused ? " fused" : " kernels") + " " +
                                  std::to_string(sizes.size() - 1) + " layers";
          const int64_t n = sizes[0] == 784 ? 128 : (sizes == small_kink ? 7 : 33);
          Network<float> net;
          Matrix<float> x;
          Network<double> ref;
          Matrix<double> xd(n, sizes[0]);
          int tries = 0;
          for (;; ++tries) {
            ASSERT_LT(tries, 5000) << tag << ": no draw clear of the kink";
            net = random_network<float>(sizes, act, rng);
            x = random_matrix<float>(n, sizes[0], rng);
            ref = net.cast<double>();
            for (int64_t i = 0; i < x.size(); ++i) xd[i] = x[i];
            if (margin == 0.0 || min_abs_preactivation(ref, xd) >= margin) break;
          }
          auto y = random_labels(n, sizes.back(), rng);
          Workspace<double> ws(false);
          const LossParts want = forward_backward<double>(ref, xd.view(), y.data(), 0.0, ws);

          CudaOptions o;
          o.precision = prec;
          o.fused_epilogues = fused;
          o.graphs = fused;  // both launch modes, each with one epilogue mode
          CudaNetwork g(net, OptimizerConfig{}, o);
          const LossParts got = g.forward_backward(x.view(), y.data());
          Network<float> out(sizes, act);
          g.download(out);

          const double tol = tolerance(prec);
          EXPECT_NEAR(got.data_loss, want.data_loss, tol * std::max(1.0, want.data_loss)) << tag;
          EXPECT_LE(std::llabs(got.correct - want.correct), prec == Precision::fp32 ? 0 : 2) << tag;
          for (int l = 1; l <= net.num_layers(); ++l) {
            EXPECT_LE(rel_diff(out.dW(l).data, ref.dW(l).data, ref.dW(l).size()), tol)
                << tag << " dW" << l << "; plan " << g.plan_summary(n);
            EXPECT_LE(rel_diff(out.db(l).data, ref.db(l).data, ref.db(l).size()), tol)
                << tag << " db" << l << "; plan " << g.plan_summary(n);
            // Parameters travel to the device and back unchanged.
            EXPECT_EQ(rel_diff(out.W(l).data, net.W(l).data, net.W(l).size()), 0.0) << tag;
          }
        }
}

TEST(CudaGpu, LossOnlyMatchesDoubleReference) {
  FCNET_REQUIRE_GPU();
  Rng rng(12);
  for (ActivationFn act : kActivations)
    for (Precision prec : kPrecisions) {
      const std::vector<int64_t> sizes = {50, 40, 30, 7};
      Network<float> net = random_network<float>(sizes, act, rng);
      Matrix<float> x = random_matrix<float>(61, 50, rng);
      auto y = random_labels(61, 7, rng);
      Network<double> ref = net.cast<double>();
      Matrix<double> xd(61, 50);
      for (int64_t i = 0; i < x.size(); ++i) xd[i] = x[i];
      Workspace<double> ws(false);
      const LossParts want = loss_only<double>(ref, xd.view(), y.data(), 0.0, ws);
      CudaOptions o;
      o.precision = prec;
      CudaNetwork g(net, OptimizerConfig{}, o);
      const LossParts got = g.loss_only(x.view(), y.data());
      EXPECT_NEAR(got.data_loss, want.data_loss, tolerance(prec) * std::max(1.0, want.data_loss))
          << activation_name(act.kind) << " " << precision_name(prec);
    }
}

// The fused optimizer kernel follows Optimizer<float>::step operation for operation: given the
// same gradients, three steps of every optimizer agree to float rounding, with L2 on weights only.
TEST(CudaGpu, OptimizerStepsMatchCpuOptimizer) {
  FCNET_REQUIRE_GPU();
  Rng rng(13);
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::momentum, OptimizerKind::nesterov,
                             OptimizerKind::adam, OptimizerKind::adamw, OptimizerKind::rmsprop}) {
    const std::vector<int64_t> sizes = {23, 19, 7};
    Network<float> net = random_network<float>(sizes, {Activation::tanh, 0.01}, rng);
    Matrix<float> x = random_matrix<float>(40, 23, rng);
    auto y = random_labels(40, 7, rng);
    OptimizerConfig oc;
    oc.kind = kind;
    oc.weight_decay = 0.05;
    Optimizer<float> cpu_opt(oc, net.buffer_size(), param_ranges(net));
    Network<float> cpu = net;
    CudaNetwork g(net, oc);
    const double lr = 0.01, l2 = 2 * 0.05;
    for (int s = 1; s <= 3; ++s) {
      g.forward_backward(x.view(), y.data());
      Network<float> dev(sizes, net.activation());
      g.download(dev);
      cpu_opt.step(cpu.params(), dev.grads(), lr, l2);
      g.optimizer_step(lr, l2);
      g.download(dev);
      EXPECT_EQ(g.steps(), s);
      for (int64_t i = 0; i < net.buffer_size(); ++i)
        ASSERT_NEAR(dev.params()[i], cpu.params()[i], 1e-6 * (1 + std::fabs(cpu.params()[i])))
            << optimizer_name(kind) << " step " << s << " entry " << i;
      // The step moved the parameters: the comparison is not between two untouched copies.
      EXPECT_GT(rel_diff(dev.params(), net.params(), net.buffer_size()), 1e-4)
          << optimizer_name(kind);
    }
  }
}

namespace {

// A run on the device against the CPU's (or another device run) of the same configuration, within
// the fp32 tolerances of a whole run: the losses, norms and weights to rounding, the accuracies
// to a row or so.
void expect_same_run(const TrainResult& gpu, const TrainResult& cpu, const std::string& tag) {
  ASSERT_EQ(gpu.epochs.size(), cpu.epochs.size()) << tag;
  EXPECT_EQ(gpu.steps, cpu.steps) << tag;
  EXPECT_EQ(gpu.train_examples, cpu.train_examples) << tag;
  const double train_n = static_cast<double>(cpu.train_examples);
  const double val_n = static_cast<double>(std::max<int64_t>(1, cpu.val_examples));
  for (std::size_t e = 0; e < cpu.epochs.size(); ++e) {
    const EpochRecord &a = gpu.epochs[e], &b = cpu.epochs[e];
    EXPECT_NEAR(a.train_loss, b.train_loss, 1e-4 * b.train_loss) << tag << " epoch " << e;
    EXPECT_NEAR(a.train_accuracy, b.train_accuracy, 1.5 / train_n) << tag << " epoch " << e;
    EXPECT_NEAR(a.val_loss, b.val_loss, 1e-4 * b.val_loss) << tag << " epoch " << e;
    EXPECT_NEAR(a.val_accuracy, b.val_accuracy, 1.5 / val_n) << tag << " epoch " << e;
    EXPECT_DOUBLE_EQ(a.lr, b.lr) << tag;
    EXPECT_EQ(a.examples, b.examples) << tag;
    ASSERT_EQ(a.weight_norms.size(), b.weight_norms.size());
    for (std::size_t l = 0; l < a.weight_norms.size(); ++l) {
      EXPECT_NEAR(a.weight_norms[l], b.weight_norms[l], 1e-4 * b.weight_norms[l]) << tag;
      EXPECT_NEAR(a.grad_norms[l], b.grad_norms[l], 1e-3 * b.grad_norms[l]) << tag;
    }
  }
  EXPECT_EQ(gpu.best_epoch, cpu.best_epoch) << tag;
  const Network<float>&gn = gpu.model.net32, &cn = cpu.model.net32;
  EXPECT_LE(rel_diff(gn.params(), cn.params(), cn.buffer_size()), 1e-3) << tag;
}

}  // namespace

// A whole run against fcnet::train: same initial weights, same batches (the partial last batch
// included), same schedule, L2, validation split and best-epoch restore. Data stored as uint8
// (scaled), float and double (standardized) exercise every gather path.
TEST(CudaGpu, TrainingMatchesCpuTrainer) {
  FCNET_REQUIRE_GPU();
  std::vector<DType> types = {DType::u8, DType::f32, DType::f64};
  std::vector<OptimizerKind> kinds = {OptimizerKind::adam, OptimizerKind::momentum};
  if (quick()) {
    types.resize(1);
    kinds.resize(1);
  }
  for (DType t : types)
    for (OptimizerKind kind : kinds) {
      Dataset ds = synthetic(t, 300, 20, 3, 21);
      TrainConfig cfg;
      cfg.hidden = {16, 12};
      cfg.batch = 64;
      cfg.epochs = 3;
      cfg.optimizer.kind = kind;
      cfg.schedule.kind = ScheduleKind::cosine;
      cfg.schedule.lr = kind == OptimizerKind::adam ? 1e-2 : 5e-2;
      cfg.warmup_epochs = 0.5;
      cfg.reg = 1e-3;
      cfg.val_split = 0.2;
      cfg.seed = 5;
      const TrainResult cpu = train(ds, nullptr, cfg);
      const TrainResult gpu = train_on_gpu(ds, cfg, Precision::fp32);
      const std::string tag = std::string(dtype_name(t)) + " " + optimizer_name(kind);
      expect_same_run(gpu, cpu, tag);
      // The same held-out rows, recorded for the report, and the history in the model file.
      EXPECT_EQ(gpu.val_indices, cpu.val_indices) << tag;
      EXPECT_FALSE(gpu.val_indices.empty()) << tag;
      EXPECT_EQ(training_history(gpu.model).size(), gpu.epochs.size()) << tag;
      EXPECT_NE(gpu.model.training_json.find("\"device\":\"cuda\""), std::string::npos);
      // The model learnt something: the last epoch beats the first.
      EXPECT_LT(gpu.epochs.back().train_loss, gpu.epochs.front().train_loss) << tag;
    }
}

namespace {

// The runs of the weight and rank tests: two hidden layers, Adam, a validation split; batches of 2
// (many steps) train one epoch at a lower rate.
TrainConfig small_run(int64_t batch, uint64_t seed) {
  TrainConfig cfg;
  cfg.hidden = {16, 12};
  cfg.batch = batch;
  cfg.epochs = batch == 2 ? 1 : 3;
  cfg.optimizer.kind = OptimizerKind::adam;
  cfg.schedule.lr = batch == 2 ? 2e-3 : 1e-2;
  cfg.reg = 1e-3;
  cfg.val_split = 0.2;
  cfg.seed = seed;
  return cfg;
}

}  // namespace

// Class and example weights: each row's loss counts w_i times and the batch's loss is
// Σ w_i·L_i / Σ w_i, as on the CPU. Some examples weigh 0; with batches of 2 and a class of
// weight 0 many batches weigh 0 in all, which take no optimizer step on either.
TEST(CudaGpu, ClassAndExampleWeightsMatchCpuTrainer) {
  FCNET_REQUIRE_GPU();
  struct Case {
    const char* tag;
    int64_t batch;
    std::vector<double> class_weights;
    bool example_weights;
  };
  const std::vector<Case> cases = {{"class and example weights", 64, {1.0, 3.0, 0.5}, true},
                                   {"class weights", 50, {0.2, 1.0, 2.0}, false},
                                   {"batches of weight 0", 2, {0.0, 1.0, 0.0}, false}};
  for (const Case& c : cases) {
    Dataset ds = synthetic(DType::f32, 300, 20, 3, 26);
    if (c.example_weights) {
      Rng rng(27);
      for (int64_t i = 0; i < ds.n; ++i)
        ds.weights.push_back(i % 7 == 0 ? 0.0 : 0.25 + 2.0 * rng.uniform());
    }
    TrainConfig cfg = small_run(c.batch, 6);
    cfg.class_weights = c.class_weights;
    const TrainResult cpu = train(ds, nullptr, cfg);
    const TrainResult gpu = train_on_gpu(ds, cfg, Precision::fp32);
    expect_same_run(gpu, cpu, c.tag);
    // The weights changed the run: the unweighted one ends elsewhere.
    TrainConfig plain = cfg;
    plain.class_weights.clear();
    ds.weights.clear();
    const TrainResult unweighted = train_on_gpu(ds, plain, Precision::fp32);
    EXPECT_GT(std::fabs(unweighted.epochs.back().train_loss - gpu.epochs.back().train_loss), 1e-3)
        << c.tag;
  }
}

// Data-parallel ranks on the device, as threads of this process sharing device 0: two ranks on
// one GPU sum through the host collective (NCCL refuses them), and train the model of one
// process, rows, batch weights and steps in which a rank holds no rows included.
TEST(CudaGpu, RanksSharingOneDeviceMatchOneProcess) {
  FCNET_REQUIRE_GPU();
  struct Case {
    const char* tag;
    int ranks;
    int64_t batch;
    bool weighted;
  };
  const std::vector<Case> cases = {{"2 ranks", 2, 64, false},
                                   {"2 ranks, weighted", 2, 50, true},
                                   {"3 ranks, batches of 2", 3, 2, false}};
  for (const Case& c : cases) {
    Dataset ds = synthetic(DType::u8, 301, 20, 3, 28);
    TrainConfig cfg = small_run(c.batch, 8);
    cfg.device = Device::cuda;
    if (c.weighted) {
      cfg.class_weights = {1.0, 2.5, 0.5};
      Rng rng(29);
      for (int64_t i = 0; i < ds.n; ++i) ds.weights.push_back(0.5 + rng.uniform());
    }
    const TrainResult one = train(ds, nullptr, cfg);
    std::vector<TrainResult> res(static_cast<std::size_t>(c.ranks));
    on_ranks(c.ranks, [&](Collective& comm) {
      const int r = comm.rank(), k = comm.size();
      const int64_t lo = ds.n * r / k, hi = ds.n * (r + 1) / k;
      std::vector<int64_t> idx(static_cast<std::size_t>(hi - lo));
      std::iota(idx.begin(), idx.end(), lo);
      TrainCallbacks cb;
      cb.parallel = {&comm, ds.n, lo};
      res[static_cast<std::size_t>(r)] = train(ds.subset(idx), nullptr, cfg, cb);
    });
    for (const TrainResult& got : res) expect_same_run(got, one, c.tag);
    // Every rank ends with the very same weights.
    const Network<float>& first = res[0].model.net32;
    for (const TrainResult& got : res)
      EXPECT_EQ(std::memcmp(got.model.net32.params(), first.params(),
                            static_cast<std::size_t>(first.buffer_size()) * sizeof(float)),
                0)
          << c.tag;
  }
}

TEST(CudaGpu, ReducedPrecisionTrainsCloseToCpu) {
  FCNET_REQUIRE_GPU();
  Dataset ds = synthetic(DType::u8, 512, 30, 4, 22);
  TrainConfig cfg;
  cfg.hidden = {32};
  cfg.batch = 50;
  cfg.epochs = 4;
  cfg.schedule.lr = 5e-3;
  cfg.seed = 9;
  const TrainResult cpu = train(ds, nullptr, cfg);
  for (Precision p : {Precision::tf32, Precision::bf16}) {
    const TrainResult gpu = train_on_gpu(ds, cfg, p);
    const double a = gpu.epochs.back().train_loss, b = cpu.epochs.back().train_loss;
    // Rounding differences compound over 44 steps: a loose bound, and a better loss than at
    // the start (the first epoch's).
    EXPECT_NEAR(a, b, 0.1 * b + 0.02) << precision_name(p);
    EXPECT_LT(a, gpu.epochs.front().train_loss) << precision_name(p);
    EXPECT_NEAR(gpu.epochs.back().train_accuracy, cpu.epochs.back().train_accuracy, 0.05)
        << precision_name(p);
  }
}

TEST(CudaGpu, DropoutRunsAreReproducible) {
  FCNET_REQUIRE_GPU();
  Dataset ds = synthetic(DType::u8, 400, 24, 3, 23);
  TrainConfig cfg;
  cfg.hidden = {48, 32};
  cfg.batch = 32;
  cfg.epochs = 4;
  cfg.dropout = 0.3;
  cfg.schedule.lr = 5e-3;
  cfg.seed = 3;
  for (ActivationFn act :
       {ActivationFn{Activation::relu, 0.01}, ActivationFn{Activation::gelu, 0.01}}) {
    cfg.activation = act;
    const TrainResult a = train_on_gpu(ds, cfg, Precision::fp32);
    const TrainResult b = train_on_gpu(ds, cfg, Precision::fp32);
    for (std::size_t e = 0; e < a.epochs.size(); ++e)
      EXPECT_NEAR(a.epochs[e].train_loss, b.epochs[e].train_loss, 1e-6 * b.epochs[e].train_loss);
    EXPECT_LT(a.epochs.back().train_loss, a.epochs.front().train_loss);
    EXPECT_TRUE(std::isfinite(a.epochs.back().train_loss));
    // Dropout changes the trajectory: the run without it ends elsewhere.
    TrainConfig plain = cfg;
    plain.dropout = 0;
    const TrainResult c = train_on_gpu(ds, plain, Precision::fp32);
    EXPECT_GT(std::fabs(c.epochs.back().train_loss - a.epochs.back().train_loss), 1e-4);
  }
}

// A run stopped inside an epoch and resumed from its checkpoint file ends with the same weights,
// to the bit, as one that was never stopped: the state on the device (weights, moments, step
// count and so the dropout draws, kept copies) goes through the checkpoint whole.
TEST(CudaGpu, AResumedRunEndsBitIdenticalToAnUninterruptedOne) {
  FCNET_REQUIRE_GPU();
  Dataset ds = synthetic(DType::u8, 400, 24, 3, 25);
  TrainConfig cfg;
  cfg.hidden = {32, 16};
  cfg.batch = 32;
  cfg.epochs = 4;
  cfg.dropout = 0.2;
  cfg.val_split = 0.2;
  cfg.schedule.lr = 5e-3;
  cfg.seed = 4;
  cfg.device = Device::cuda;
  const std::filesystem::path dir = temp_dir("cuda_resume");
  for (Precision p : kPrecisions) {
    cfg.precision = p;
    const TrainResult full = train(ds, nullptr, cfg);
    std::atomic<bool> stop{false};
    TrainCallbacks cb;
    cb.stop = &stop;
    cb.on_step = [&](const TrainProgress& pr) {
      if (pr.epoch == 2 && pr.step == 5) stop = true;
    };
    const TrainResult part = train(ds, nullptr, cfg, cb);
    ASSERT_TRUE(part.interrupted) << precision_name(p);
    ASSERT_TRUE(part.state);
    EXPECT_EQ(part.state->epoch, 2);
    EXPECT_EQ(part.state->step_in_epoch, 5);
    const std::string path = (dir / (std::string(precision_name(p)) + ".ckpt")).string();
    save_checkpoint(path, *part.state, "{}");
    const TrainState loaded = load_checkpoint(path);
    const TrainResult rest = train(ds, nullptr, cfg, {}, &loaded);
    const Network<float>&a = full.model.net32, &b = rest.model.net32;
    ASSERT_EQ(a.buffer_size(), b.buffer_size());
    EXPECT_EQ(std::memcmp(a.params(), b.params(), static_cast<std::size_t>(a.buffer_size()) * 4), 0)
        << precision_name(p) << ": the resumed run's weights differ";
    EXPECT_EQ(rest.best_epoch, full.best_epoch) << precision_name(p);
    ASSERT_EQ(rest.epochs.size(), full.epochs.size());
    for (std::size_t e = 0; e < full.epochs.size(); ++e)
      EXPECT_NEAR(rest.epochs[e].train_loss, full.epochs[e].train_loss,
                  1e-9 * full.epochs[e].train_loss)
          << precision_name(p) << " epoch " << e + 1;
  }
  std::filesystem::remove_all(dir);
}

TEST(CudaGpu, DivergenceAndBadInputAreErrors) {
  FCNET_REQUIRE_GPU();
  Dataset ds = synthetic(DType::f32, 200, 10, 3, 24);
  TrainConfig cfg;
  cfg.hidden = {64};
  // Linear layers and a huge step: the scores overflow to infinity by the second step.
  cfg.activation = {Activation::identity, 0.01};
  cfg.optimizer.kind = OptimizerKind::sgd;
  cfg.schedule.lr = 1e30;
  cfg.normalize = Normalize::none;
  cfg.epochs = 3;
  expect_error([&] { train_on_gpu(ds, cfg, Precision::fp32); }, "training diverged");

  Network<float> net({5, 4, 3}, {});
  CudaNetwork g(net, OptimizerConfig{});
  Rng rng(2);
  Matrix<float> x = random_matrix<float>(4, 5, rng);
  std::vector<int32_t> y = {0, 1, 3, 2};  // 3 is not a class of a 3-class network
  expect_error([&] { g.forward_backward(x.view(), y.data()); }, "label 3");
  Matrix<float> wide = random_matrix<float>(4, 6, rng);
  y[2] = 1;
  expect_error([&] { g.forward_backward(wide.view(), y.data()); }, "features per example");
}

// Which epilogue (or fallback kernel) each GEMM of the 784-256-10 step got, printed for the GPU
// check's report; every GEMM of the step is named, and without fused epilogues none is fused.
TEST(CudaGpu, PlanNamesEveryGemm) {
  FCNET_REQUIRE_GPU();
  Rng rng(14);
  Network<float> net = random_network<float>({784, 256, 10}, {}, rng);
  for (Precision prec : kPrecisions) {
    CudaOptions o;
    o.precision = prec;
    CudaNetwork g(net, OptimizerConfig{}, o);
    const std::string s = g.plan_summary(256);
    std::cout << "plan " << precision_name(prec) << " 784-256-10 b256: " << s << std::endl;
    for (const char* part : {"L1.fwd=", "L2.fwd=", "L2.dW=", "L2.dX=", "L1.dW="})
      EXPECT_NE(s.find(part), std::string::npos) << s;
    EXPECT_EQ(s.find("L1.dX="), std::string::npos) << s;  // no input gradient for the data
    o.fused_epilogues = false;
    CudaNetwork k(net, OptimizerConfig{}, o);
    const std::string plain = k.plan_summary(256);
    EXPECT_EQ(plain.find("bias"), std::string::npos) << plain;
    EXPECT_EQ(plain.find("relu"), std::string::npos) << plain;
  }
}
