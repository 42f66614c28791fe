// Google Benchmark microbenchmarks: every kernel of a training step, and the step itself, at the
// shapes of the bench/compare networks. GFLOP/s and bytes/s appear as counters; compare kernels
// against each other (or against the naive reference at the small shape) within one run.
//
//   build/bin/fcnet_micro [--benchmark_filter=REGEX] [--threads=N]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fcnet/data.hpp"
#include "fcnet/kernels.hpp"
#include "fcnet/network.hpp"
#include "fcnet/optim.hpp"
#include "fcnet/random.hpp"
#include "fcnet/trainer.hpp"

namespace {

using namespace fcnet;

Matrix<float> random_matrix(int64_t r, int64_t c, uint64_t seed) {
  Matrix<float> m(r, c);
  Rng rng(seed);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal());
  return m;
}

void set_flops(benchmark::State& st, double flops_per_iter) {
  st.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter * 1e-9,
                         benchmark::Counter::kIsRate | benchmark::Counter::kIsIterationInvariant);
}

// The GEMMs of one dense layer with batch N, fan-in K, fan-out M.
enum GemmKind { kForward, kForwardPlain, kWeightGrad, kInputGrad, kReference };

void BM_Gemm(benchmark::State& st) {
  const int64_t n = st.range(0), k = st.range(1), m = st.range(2);
  const auto kind = static_cast<GemmKind>(st.range(3));
  const auto precision = static_cast<Precision>(st.range(4));
  if (precision == Precision::bf16 && !cpu_has_bf16_gemm()) {
    st.SkipWithError("no AVX512_BF16 on this CPU");
    return;
  }
  DnnlContext ctx(precision);  // at bf16 each product rounds its inputs (no pass)
  Matrix<float> x = random_matrix(n, k, 1), w = random_matrix(k, m, 2), dz = random_matrix(n, m, 3);
  Matrix<float> bias = random_matrix(1, m, 4), out(n, m), dw(k, m), dx(n, k);
  GemmOp<float> op;
  for (auto _ : st) {
    switch (kind) {
      case kForward:  // z = relu(x·W + b), fused
        op.bias = bias.data();
        op.activate = true;
        ctx.gemm(out.view(), x.view(), w.view(), op);
        break;
      case kForwardPlain:  // x·W without post-ops
        ctx.gemm(out.view(), x.view(), w.view(), op);
        break;
      case kWeightGrad:  // dW = xᵀ·dz
        op.trans_a = true;
        ctx.gemm(dw.view(), x.view(), dz.view(), op);
        break;
      case kInputGrad:  // dx = dz·Wᵀ
        op.trans_b = true;
        ctx.gemm(dx.view(), dz.view(), w.view(), op);
        break;
      case kReference:
        op.bias = bias.data();
        op.activate = true;
        ref::gemm<float>(out.view(), x.view(), w.view(), op);
        break;
    }
    benchmark::ClobberMemory();
  }
  set_flops(st, 2.0 * static_cast<double>(n * k * m));
}

void gemm_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "K", "M", "kind", "precision"});
  for (auto s : std::vector<std::vector<int64_t>>{{64, 784, 256},
                                                  {256, 784, 256},
                                                  {256, 256, 10},
                                                  {128, 784, 1024},
                                                  {128, 1024, 1024},
                                                  {512, 4096, 4096}})
    for (const auto p : {Precision::fp32, Precision::bf16})
      for (int kind : {kForward, kForwardPlain, kWeightGrad, kInputGrad})
        b->Args({s[0], s[1], s[2], kind, static_cast<int>(p)});
  b->Args({64, 784, 256, kReference, 0});
  b->Unit(benchmark::kMicrosecond);
}
BENCHMARK(BM_Gemm)->Apply(gemm_args);

// W (K×M) → Wᵀ, the copy the transposed-weight forward makes each step.
void BM_Transpose(benchmark::State& st) {
  const int64_t k = st.range(0), m = st.range(1);
  Matrix<float> w = random_matrix(k, m, 13), wt(m, k);
  for (auto _ : st) {
    if (st.range(2))
      ref::transpose<float>(wt.view(), w.view());
    else
      transpose<float>(wt.view(), w.view());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(st.iterations() * k * m * 2 * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_Transpose)
    ->ArgNames({"K", "M", "ref"})
    ->Args({784, 1024, 0})
    ->Args({1024, 1024, 0})
    ->Args({1024, 1024, 1});

void BM_ActivationBackward(benchmark::State& st) {
  const int64_t n = st.range(0), h = st.range(1);
  Matrix<float> da = random_matrix(n, h, 5), a = random_matrix(n, h, 6), db(1, h);
  ActivationFn f{Activation::relu, 0.0};
  for (auto _ : st) {
    activation_backward<float>(da.view(), da.view(), a.view(), f, db.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(st.iterations() * n * h * 3 * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_ActivationBackward)->Args({64, 256})->Args({128, 1024})->Args({512, 4096});

void BM_SoftmaxXent(benchmark::State& st) {
  const int64_t n = st.range(0), c = 10;
  Matrix<float> s0 = random_matrix(n, c, 7), s(n, c), db(1, c);
  std::vector<int32_t> y(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[static_cast<std::size_t>(i)] = static_cast<int32_t>(i % c);
  for (auto _ : st) {
    std::memcpy(s.data(), s0.data(), sizeof(float) * static_cast<std::size_t>(n * c));
    benchmark::DoNotOptimize(
        softmax_xent_backward<float>(s.view(), y.data(), 1.0f / static_cast<float>(n), db.data()));
  }
}
BENCHMARK(BM_SoftmaxXent)->Arg(64)->Arg(512);

void BM_Optimizer(benchmark::State& st) {
  const int64_t p = st.range(0);
  const auto kind = static_cast<OptimizerKind>(st.range(1));
  OptimizerConfig cfg;
  cfg.kind = kind;
  Optimizer<float> opt(cfg, p, {{0, p, true}});
  Matrix<float> params = random_matrix(1, p, 8), grads = random_matrix(1, p, 9);
  for (auto _ : st) {
    opt.step(params.data(), grads.data(), 1e-6);
    benchmark::ClobberMemory();
  }
  const int64_t streams = kind == OptimizerKind::adam ? 7 : 3;  // reads + writes per parameter
  st.SetBytesProcessed(st.iterations() * p * streams * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_Optimizer)
    ->ArgNames({"P", "opt"})
    ->Args({203530, static_cast<int>(OptimizerKind::adam)})
    ->Args({203530, static_cast<int>(OptimizerKind::sgd)})
    ->Args({1863690, static_cast<int>(OptimizerKind::adam)})
    ->Args({20037642, static_cast<int>(OptimizerKind::adam)});

// Batches of b rows of `data` gathered through a fixed scattered order, one per iteration.
void gather_batches(benchmark::State& st, const Dataset& data, const PreparedTransform& ptf,
                    int64_t b) {
  const int64_t n = data.n;
  std::vector<int64_t> idx(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<std::size_t>(i)] = (i * 7919) % n;
  Matrix<float> out(b, data.d);
  int64_t off = 0;
  for (auto _ : st) {
    gather_batch<float>(out.view(), data, idx.data() + off, b, ptf);
    off = (off + b) % (n - b);
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(st.iterations() * b);
}

void BM_Gather(benchmark::State& st) {
  const int64_t b = st.range(0), n = 60000, d = 784;
  Dataset data;
  data.n = n;
  data.d = d;
  data.dtype = DType::u8;
  data.bytes.resize(static_cast<std::size_t>(n * d));
  Rng rng(10);
  for (auto& v : data.bytes) v = static_cast<uint8_t>(rng.next_u64() & 0xff);
  InputTransform tf;
  tf.scale = 1.0 / 255;
  gather_batches(st, data, prepare_transform(tf, d), b);
}
BENCHMARK(BM_Gather)->Arg(64)->Arg(512);

// The standardize transform (x·mul + add per column) on each stored type: values near 1.7e9 with a
// spread of ~1000 (timestamps) for float data, where the transform must not cancel.
void BM_GatherAffine(benchmark::State& st) {
  const int64_t b = st.range(0), n = 60000, d = 784;
  const auto t = static_cast<DType>(st.range(1));
  Dataset data;
  data.n = n;
  data.d = d;
  data.dtype = t;
  data.bytes.resize(static_cast<std::size_t>(n * d) * dtype_size(t));
  Rng rng(10);
  for (int64_t k = 0; k < n * d; ++k) {
    const uint64_t r = rng.next_u64();
    if (t == DType::u8) {
      data.bytes[static_cast<std::size_t>(k)] = static_cast<uint8_t>(r & 0xff);
    } else if (t == DType::f32) {
      const auto v = static_cast<float>(1.7e9 + static_cast<double>(r % 4096) * 128);
      std::memcpy(data.bytes.data() + 4 * k, &v, 4);
    } else {
      const double v = 1.7e9 + static_cast<double>(r % 500000);
      std::memcpy(data.bytes.data() + 8 * k, &v, 8);
    }
  }
  const InputTransform tf = fit_transform(data, Normalize::standardize);
  gather_batches(st, data, prepare_transform(tf, d), b);
}
BENCHMARK(BM_GatherAffine)
    ->ArgNames({"batch", "dtype"})
    ->Args({64, static_cast<int>(DType::u8)})
    ->Args({512, static_cast<int>(DType::u8)})
    ->Args({64, static_cast<int>(DType::f32)})
    ->Args({512, static_cast<int>(DType::f32)})
    ->Args({512, static_cast<int>(DType::f64)});

// One whole training step (forward, backward, optimizer) as the trainer runs it.
void BM_TrainStep(benchmark::State& st) {
  const int64_t batch = st.range(0);
  std::vector<int64_t> sizes{784};
  for (int i = 0; i < st.range(2); ++i) sizes.push_back(st.range(1));
  sizes.push_back(10);
  const auto kind = static_cast<OptimizerKind>(st.range(3));
  const auto precision = static_cast<Precision>(st.range(4));
  if (precision == Precision::bf16 && !cpu_has_bf16_gemm()) {
    st.SkipWithError("no AVX512_BF16 on this CPU");
    return;
  }
  Network<float> net(sizes, ActivationFn{Activation::relu, 0.0});
  Rng rng(11);
  net.init(Init::he, rng);
  Workspace<float> ws(true, precision);
  OptimizerConfig cfg;
  cfg.kind = kind;
  Optimizer<float> opt(cfg, net.buffer_size(), param_ranges(net));
  Matrix<float> x = random_matrix(batch, 784, 12);
  std::vector<int32_t> y(static_cast<std::size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) y[static_cast<std::size_t>(i)] = static_cast<int32_t>(i % 10);
  double flops = 0;
  for (std::size_t l = 1; l < sizes.size(); ++l)
    flops += 6.0 * static_cast<double>(batch * sizes[l - 1] * sizes[l]);
  flops -= 2.0 * static_cast<double>(batch * sizes[0] * sizes[1]);  // no input gradient
  for (auto _ : st) {
    forward_backward<float>(net, x.view(), y.data(), 0.0, ws);
    opt.step(net.params(), net.grads(), 1e-4);
    benchmark::ClobberMemory();
  }
  set_flops(st, flops);
  st.SetItemsProcessed(st.iterations() * batch);
}
void train_step_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "width", "depth", "opt", "precision"});
  for (const auto p : {Precision::fp32, Precision::bf16}) {
    const int prec = static_cast<int>(p), adam = static_cast<int>(OptimizerKind::adam);
    b->Args({64, 256, 1, adam, prec});
    b->Args({256, 256, 1, static_cast<int>(OptimizerKind::sgd), prec});
    b->Args({128, 1024, 2, adam, prec});
    b->Args({512, 4096, 2, adam, prec});
  }
}
BENCHMARK(BM_TrainStep)->Apply(train_step_args)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0)
      threads = std::atoi(argv[i] + 10);
    else
      rest.push_back(argv[i]);
  }
  fcnet::set_num_threads(threads);
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
