#include "fcnet/mpi.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>

#include "fcnet/error.hpp"

#if FCNET_HAVE_MPI
#include <mpi.h>
#endif

namespace fcnet {

int mpi_launcher_size() {
  // Set by mpirun/mpiexec (Open MPI, PMIx), MPICH's hydra and srun's PMI plugins.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char* s = std::getenv(v);
    if (s && *s) return std::max(1, std::atoi(s));
  }
  return std::getenv("PMIX_RANK") || std::getenv("PMI_RANK") ? 1 : 0;
}

DataParallel rank_share(Collective& comm, int64_t rows) {
  // Every rank's count at its own place, summed: each rank then knows all of them.
  std::vector<double> counts(static_cast<std::size_t>(comm.size()), 0.0);
  counts[static_cast<std::size_t>(comm.rank())] = static_cast<double>(rows);
  comm.sum(counts.data(), static_cast<int64_t>(counts.size()));
  DataParallel p;
  p.comm = &comm;
  for (int r = 0; r < comm.size(); ++r) {
    const auto n = static_cast<int64_t>(counts[static_cast<std::size_t>(r)]);
    if (r < comm.rank()) p.first += n;
    p.total += n;
  }
  return p;
}

#if FCNET_HAVE_MPI

namespace {

// MPI_COMM_WORLD as a Collective, timing the time spent in it.
struct World final : Collective {
  int r = 0, k = 1;
  double seconds = 0;

  int rank() const override { return r; }
  int size() const override { return k; }
  void sum(float* v, int64_t n) override { reduce(v, n, MPI_FLOAT, MPI_SUM); }
  void sum(double* v, int64_t n) override { reduce(v, n, MPI_DOUBLE, MPI_SUM); }
  void max(double* v, int64_t n) override { reduce(v, n, MPI_DOUBLE, MPI_MAX); }
  void broadcast(void* data, int64_t bytes, int root) override {
    auto* p = static_cast<char*>(data);
    while (bytes > 0) {  // MPI counts are int
      const int c = static_cast<int>(std::min<int64_t>(bytes, INT_MAX));
      MPI_Bcast(p, c, MPI_BYTE, root, MPI_COMM_WORLD);
      p += c;
      bytes -= c;
    }
  }

  template <class T>
  void reduce(T* v, int64_t n, MPI_Datatype type, MPI_Op op) {
    const auto t0 = std::chrono::steady_clock::now();
    while (n > 0) {  // MPI counts are int
      const int c = static_cast<int>(std::min<int64_t>(n, INT_MAX));
      MPI_Allreduce(MPI_IN_PLACE, v, c, type, op, MPI_COMM_WORLD);
      v += c;
      n -= c;
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

std::unique_ptr<World>& world() {
  static std::unique_ptr<World> w;
  return w;
}
bool g_finalized = false;

}  // namespace

Collective* mpi_world() {
  if (g_finalized) return nullptr;  // MPI cannot be joined again
  if (world()) return world().get();
  if (mpi_launcher_size() == 0) return nullptr;
  int ready = 0;
  MPI_Initialized(&ready);
  if (!ready) {
    int provided = 0;
    // OpenMP threads compute; only the thread that joined calls MPI.
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    std::atexit(mpi_finalize);
  }
  auto w = std::make_unique<World>();
  MPI_Comm_rank(MPI_COMM_WORLD, &w->r);
  MPI_Comm_size(MPI_COMM_WORLD, &w->k);
  world() = std::move(w);
  return world().get();
}

void mpi_finalize() {
  int ready = 0, done = 0;
  if (!world() || MPI_Initialized(&ready) != MPI_SUCCESS || !ready) return;
  if (MPI_Finalized(&done) == MPI_SUCCESS && !done) MPI_Finalize();
  g_finalized = true;
}

bool mpi_joined() {
  return world() != nullptr && !g_finalized;
}

double mpi_seconds() {
  return world() ? world()->seconds : 0.0;
}

std::vector<std::string> mpi_all_gather(const std::string& mine) {
  Collective* w = mpi_world();
  if (!w || w->size() == 1) return {mine};
  const int size = w->size();
  if (mine.size() > static_cast<std::size_t>(INT_MAX) / static_cast<std::size_t>(size))
    fail("mpi_all_gather", "got " + std::to_string(mine.size()) + " bytes",
         "less than " + std::to_string(INT_MAX / size) + " per rank");
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(static_cast<std::size_t>(size)), offs(static_cast<std::size_t>(size));
  MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD);
  std::exclusive_scan(lens.begin(), lens.end(), offs.begin(), 0);
  std::string buf(static_cast<std::size_t>(offs.back() + lens.back()), '\0');
  MPI_Allgatherv(mine.data(), len, MPI_BYTE, buf.data(), lens.data(), offs.data(), MPI_BYTE,
                 MPI_COMM_WORLD);
  std::vector<std::string> all;
  for (int r = 0; r < size; ++r)
    all.push_back(buf.substr(static_cast<std::size_t>(offs[static_cast<std::size_t>(r)]),
                             static_cast<std::size_t>(lens[static_cast<std::size_t>(r)])));
  return all;
}

void mpi_abort_all(const std::string& message, int code) {
  Collective* w = mpi_world();
  const std::string who =
      w ? "rank " + std::to_string(w->rank()) + " of " + std::to_string(w->size()) + ": " : "";
  std::fprintf(stderr, "fcnet: error: %s%s\n", who.c_str(), message.c_str());
  std::fflush(stderr);
  if (w) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

#else

Collective* mpi_world() {
  const int k = mpi_launcher_size();
  if (k > 1)
    fail("fcnet",
         "was built without MPI (FCNET_MPI=OFF) but started as one of " + std::to_string(k) +
             " ranks",
         "a build with MPI for data-parallel training, or one process");
  return nullptr;
}

void mpi_finalize() {}

bool mpi_joined() {
  return false;
}

double mpi_seconds() {
  return 0.0;
}

std::vector<std::string> mpi_all_gather(const std::string& mine) {
  return {mine};
}

void mpi_abort_all(const std::string& message, int code) {
  std::fprintf(stderr, "fcnet: error: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(code);
}

#endif

}  // namespace fcnet
