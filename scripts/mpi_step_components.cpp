// Measures the parts of one data-parallel training step for the benchmark networks, for the
// step-time model in docs/PERFORMANCE.md (section "Data-parallel training on MPI"):
// forward+backward on this rank's share of the global batch (B/K rows), the Adam step over the
// whole buffer (replicated on every rank), and MPI_Allreduce of the 4·P-byte gradient buffer.
// Prints one JSON line per network from rank 0; times are the minimum over repetitions. Not part
// of the build; from the repository root, after building with MPI:
//
//   mpicxx -O3 -march=native -fopenmp -std=c++20 -Iinclude scripts/mpi_step_components.cpp \
//     build/lib/libfcnet_{train,io,nn,data,kernels,core}.a -ldnnl -lz -o /tmp/mpi_step_components
//   mpirun -np 2 --bind-to none /tmp/mpi_step_components 1      # K = 2 ranks, 1 thread each
//   /tmp/mpi_step_components 1                                   # K = 1 (no mpirun)
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fcnet/network.hpp"
#include "fcnet/optim.hpp"
#include "fcnet/trainer.hpp"

using namespace fcnet;

namespace {

// The fastest of `reps` runs: on a shared machine the minimum is the best estimate of the cost of
// the work itself.
template <class F>
double best_seconds(int reps, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return *std::min_element(t.begin(), t.end());
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  set_num_threads(argc > 1 ? std::atoi(argv[1]) : 1);
  struct Case {
    std::vector<int64_t> sizes;
    int64_t batch;
    int reps;
  };
  const std::vector<Case> cases = {{{784, 256, 10}, 64, 41},
                                   {{784, 256, 10}, 256, 21},
                                   {{784, 1024, 1024, 10}, 128, 11},
                                   {{784, 4096, 4096, 10}, 512, 5}};
  for (const Case& c : cases) {
    Network<float> net(c.sizes, ActivationFn{});
    Rng rng(1 + rank);
    net.init(Init::he, rng);
    // Forward+backward on an even share B/s of the batch: s = K under mpirun; alone, s = 1, 2, 4,
    // 8, 16, 32 so that one run gives the compute side of the model for any K.
    std::vector<int> shares =
        size > 1 ? std::vector<int>{size} : std::vector<int>{1, 2, 4, 8, 16, 32};
    std::string fb_json;
    Workspace<float> ws(true);
    for (int sh : shares) {
      const int64_t rows = (c.batch + sh - 1) / sh;
      Matrix<float> x(rows, c.sizes.front());
      for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.uniform());
      std::vector<int32_t> y(static_cast<std::size_t>(rows));
      for (auto& v : y) v = static_cast<int32_t>(rng.below(10));
      const double fb = best_seconds(c.reps, [&] {
        forward_backward<float>(net, x.view(), y.data(), 0.0, ws, nullptr,
                                1.0 / static_cast<double>(c.batch), false);
      });
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s\"%lld\": %.3f", fb_json.empty() ? "" : ", ",
                    static_cast<long long>(rows), fb * 1e3);
      fb_json += buf;
    }
    Optimizer<float> opt(OptimizerConfig{}, net.buffer_size(), param_ranges(net));
    const double step = best_seconds(c.reps, [&] { opt.step(net.params(), net.grads(), 1e-9); });
    const double sum = best_seconds(c.reps, [&] {
      MPI_Allreduce(MPI_IN_PLACE, net.grads(), static_cast<int>(net.buffer_size()), MPI_FLOAT,
                    MPI_SUM, MPI_COMM_WORLD);
    });
    if (rank == 0) {
      std::string name;
      for (auto s : c.sizes) name += (name.empty() ? "" : "-") + std::to_string(s);
      std::printf(
          "{\"net\": \"%s\", \"batch\": %lld, \"ranks\": %d, \"threads\": %d, \"params\": %lld, "
          "\"fwd_bwd_ms_by_rows\": {%s}, \"adam_ms\": %.3f, \"allreduce_ms\": %.3f}\n",
          name.c_str(), static_cast<long long>(c.batch), size, num_threads(),
          static_cast<long long>(net.num_params()), fb_json.c_str(), step * 1e3, sum * 1e3);
      std::fflush(stdout);
    }
  }
  MPI_Finalize();
  return 0;
}
