// fcnet_gemm_peak: the f32 matmul throughput oneDNN reaches on this machine, the ceiling against
// which bench/compare states fcnet's training GFLOP/s.
//
//   fcnet_gemm_peak [--threads N] [--sizes MxKxN,...] [--min-seconds S]
//
// For each size C[M×N] = A[M×K]·B[K×N] is run repeatedly for at least S seconds after a warm-up;
// the fastest single run counts. Prints one JSON object: every size's GFLOP/s and the best of them,
// and start_ms, the time of oneDNN's one-time kernel generation (fcnet::warm_up_gemm, which fcnet
// runs during set-up), measured first.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include "fcnet/error.hpp"
#include "fcnet/kernels.hpp"

namespace {

struct Size {
  std::int64_t m, k, n;
};

struct Options {
  int threads = 2;
  double min_seconds = 0.3;
  // The shapes that dominate the benchmark networks: a 4096-wide layer at batch 512, a large square
  // product, and the first layer of 784-256-10 at batch 64.
  std::vector<Size> sizes = {{512, 4096, 4096}, {2048, 2048, 2048}, {64, 784, 256}};
};

Size parse_size(const std::string& text) {
  Size s{};
  char x1 = 0, x2 = 0;
  long long m = 0, k = 0, n = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%lld%c%lld%c%lld%n", &m, &x1, &k, &x2, &n, &consumed) != 5 ||
      x1 != 'x' || x2 != 'x' || consumed != static_cast<int>(text.size()) || m <= 0 || k <= 0 ||
      n <= 0) {
    fcnet::fail("--sizes", "bad size '" + text + "'", "MxKxN with positive integers");
  }
  s.m = m;
  s.k = k;
  s.n = n;
  return s;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) fcnet::fail(arg, "missing value", "--threads N, --sizes L, --min-seconds S");
    const std::string value = argv[++i];
    if (arg == "--threads") {
      o.threads = std::stoi(value);
      if (o.threads < 1) fcnet::fail("--threads", "thread count " + value, "at least 1");
    } else if (arg == "--min-seconds") {
      o.min_seconds = std::stod(value);
    } else if (arg == "--sizes") {
      o.sizes.clear();
      std::size_t begin = 0;
      while (begin <= value.size()) {
        const std::size_t end = std::min(value.find(',', begin), value.size());
        o.sizes.push_back(parse_size(value.substr(begin, end - begin)));
        begin = end + 1;
      }
    } else {
      fcnet::fail(arg, "unknown option", "--threads, --sizes or --min-seconds");
    }
  }
  return o;
}

// Best GFLOP/s of C = A·B at one size on the given engine.
double measure(const Size& s, const dnnl::engine& eng, dnnl::stream& strm, double min_seconds) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const dnnl::memory::desc a_md({s.m, s.k}, dt::f32, tag::ab);
  const dnnl::memory::desc b_md({s.k, s.n}, dt::f32, tag::ab);
  const dnnl::memory::desc c_md({s.m, s.n}, dt::f32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), eng);
  const dnnl::matmul mm(pd);

  std::vector<float> a(static_cast<std::size_t>(s.m * s.k));
  std::vector<float> b(static_cast<std::size_t>(s.k * s.n));
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto& v : a) v = dist(gen);
  for (auto& v : b) v = dist(gen);
  dnnl::memory a_mem(a_md, eng, a.data());
  dnnl::memory b_mem(b_md, eng, b.data());
  dnnl::memory c_mem(c_md, eng, c.data());
  const std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}};

  for (int i = 0; i < 2; ++i) mm.execute(strm, args);
  strm.wait();

  using clock = std::chrono::steady_clock;
  double best = 1e300;
  const auto start = clock::now();
  int runs = 0;
  while (runs < 3 || std::chrono::duration<double>(clock::now() - start).count() < min_seconds) {
    const auto t0 = clock::now();
    mm.execute(strm, args);
    strm.wait();
    best = std::min(best, std::chrono::duration<double>(clock::now() - t0).count());
    ++runs;
  }
  const double flops =
      2.0 * static_cast<double>(s.m) * static_cast<double>(s.k) * static_cast<double>(s.n);
  return flops / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    omp_set_num_threads(o.threads);
    const auto t0 = std::chrono::steady_clock::now();
    fcnet::warm_up_gemm();
    const double start_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream strm(eng);
    nlohmann::json sizes = nlohmann::json::array();
    double best = 0.0;
    for (const Size& s : o.sizes) {
      const double gflops = measure(s, eng, strm, o.min_seconds);
      best = std::max(best, gflops);
      sizes.push_back({{"m", s.m}, {"k", s.k}, {"n", s.n}, {"gflops", gflops}});
    }
    const nlohmann::json out = {
        {"threads", o.threads}, {"start_ms", start_ms}, {"sizes", sizes}, {"best_gflops", best}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const fcnet::Error& e) {
    std::fprintf(stderr, "fcnet_gemm_peak: error: %s\n", e.what());
    return 2;
  } catch (const std::logic_error& e) {  // std::stoi / std::stod on a malformed number
    std::fprintf(stderr, "fcnet_gemm_peak: error: bad number: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fcnet_gemm_peak: error: %s\n", e.what());
    return 1;
  }
}
