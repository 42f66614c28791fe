// Steady-state training steps allocate nothing: every heap allocation of the process (malloc and
// its relatives, which operator new and the standard containers reach) is counted between two steps
// late in an epoch, and fcnet's share must be zero. oneDNN 2.6 builds small argument maps inside
// every primitive execution (its own code, not reachable from its API); allocations with a libdnnl
// frame on the stack are counted apart and reported. Its own executable, because it replaces
// malloc; not built under the sanitizers, which replace it themselves.
#include <execinfo.h>
#include <gtest/gtest.h>
#include <link.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "fcnet/data.hpp"
#include "fcnet/random.hpp"
#include "fcnet/trainer.hpp"

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {

std::atomic<int64_t> g_allocations{0};  // all, always counted
std::atomic<int64_t> g_ours{0};         // while classifying: without a libdnnl frame
std::atomic<int64_t> g_dnnl{0};         // while classifying: with one
std::atomic<bool> g_classify{false};
thread_local bool t_inside = false;

// Address ranges of libdnnl's loaded segments (filled once, before classifying starts).
std::vector<std::pair<uintptr_t, uintptr_t>> g_dnnl_ranges;

int collect_dnnl(dl_phdr_info* info, std::size_t, void*) {
  if (!info->dlpi_name || !std::strstr(info->dlpi_name, "libdnnl")) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i)
    if (info->dlpi_phdr[i].p_type == PT_LOAD) {
      const uintptr_t b = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
      g_dnnl_ranges.emplace_back(b, b + info->dlpi_phdr[i].p_memsz);
    }
  return 0;
}

void count() {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (!g_classify.load(std::memory_order_relaxed) || t_inside) return;
  t_inside = true;
  void* frames[96];
  const int n = backtrace(frames, 96);
  bool dnnl = false;
  for (int i = 0; i < n && !dnnl; ++i) {
    const auto a = reinterpret_cast<uintptr_t>(frames[i]);
    for (auto [b, e] : g_dnnl_ranges) dnnl |= a >= b && a < e;
  }
  (dnnl ? g_dnnl : g_ours).fetch_add(1, std::memory_order_relaxed);
  t_inside = false;
}

}  // namespace

extern "C" {
void* malloc(std::size_t n) {
  count();
  return __libc_malloc(n);
}
void* calloc(std::size_t c, std::size_t n) {
  count();
  return __libc_calloc(c, n);
}
void* realloc(void* p, std::size_t n) {
  count();
  return __libc_realloc(p, n);
}
void* memalign(std::size_t a, std::size_t n) {
  count();
  return __libc_memalign(a, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
  count();
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
  count();
  void* p = __libc_memalign(a, n);
  if (!p) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void free(void* p) {
  __libc_free(p);
}
}

namespace {

using namespace fcnet;

// Synthetic uint8 images whose class is readable from one block of pixels, so training is real.
Dataset synthetic(int64_t n, int64_t d, int classes, uint64_t seed) {
  Dataset ds;
  ds.n = n;
  ds.d = d;
  ds.dtype = DType::u8;
  ds.bytes.resize(static_cast<std::size_t>(n * d));
  ds.labels.resize(static_cast<std::size_t>(n));
  Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const int y = static_cast<int>(rng.next_u64() % static_cast<uint64_t>(classes));
    ds.labels[static_cast<std::size_t>(i)] = y;
    for (int64_t j = 0; j < d; ++j) {
      const bool hot = j / (d / classes) == y;
      ds.bytes[static_cast<std::size_t>(i * d + j)] =
          static_cast<uint8_t>((rng.next_u64() & 63) + (hot ? 128 : 0));
    }
  }
  return ds;
}

struct Counts {
  int64_t ours = 0, dnnl = 0, steps = 0;
};

// Allocations between step `from` and the epoch's last step, for one configuration.
Counts allocations_in_steady_state(const TrainConfig& cfg, int64_t from) {
  const Dataset data = synthetic(1280, 784, 10, 5);
  Counts c;
  bool seen_from = false;
  TrainCallbacks cb;
  cb.on_step = [&](const TrainProgress& p) {
    if (p.epoch != 1) return;
    if (p.step == from) {
      g_ours = 0;
      g_dnnl = 0;
      g_classify = true;
      seen_from = true;
    }
    if (p.step == p.steps) {
      g_classify = false;
      c.steps = p.steps - from;
    }
  };
  const TrainResult r = train(data, nullptr, cfg, cb);
  EXPECT_TRUE(seen_from);
  EXPECT_GT(c.steps, 10);
  EXPECT_GT(r.epochs.back().train_accuracy, 0.3);  // it did learn
  c.ours = g_ours.load();
  c.dnnl = g_dnnl.load();
  return c;
}

void prepare_classification() {
  if (g_dnnl_ranges.empty()) dl_iterate_phdr(collect_dnnl, nullptr);
  void* frames[4];
  backtrace(frames, 4);  // the first call loads the unwinder, which allocates
}

TEST(Allocation, CounterSeesAndClassifiesAllocations) {
  prepare_classification();
  ASSERT_FALSE(g_dnnl_ranges.empty()) << "libdnnl is not loaded";
  void* (*volatile alloc)(std::size_t) = malloc;  // a call the compiler cannot elide
  g_ours = 0;
  g_classify = true;
  void* p = alloc(100);
  void* q = ::operator new(64);
  g_classify = false;
  ::operator delete(q);
  free(p);
  EXPECT_EQ(g_ours.load(), 2);
  EXPECT_EQ(g_dnnl.load(), 0);
}

TEST(Allocation, SteadyStateStepsAllocateNothing) {
  prepare_classification();
  TrainConfig cfg;
  cfg.batch = 64;
  cfg.epochs = 2;
  cfg.val_split = 0;
  cfg.schedule.lr = 1e-3;
  struct Case {
    const char* name;
    std::vector<int64_t> hidden;
    OptimizerKind opt;
    double dropout;
    double reg;
  };
  for (const Case& c : {Case{"adam 256", {256}, OptimizerKind::adam, 0.0, 0.0},
                        Case{"adam 700 (transposed forward)", {700}, OptimizerKind::adam, 0.0, 0.0},
                        Case{"sgd 128-64 dropout reg", {128, 64}, OptimizerKind::sgd, 0.2, 1e-4},
                        Case{"momentum 256 cosine", {256}, OptimizerKind::momentum, 0.0, 0.0}}) {
    cfg.hidden = c.hidden;
    cfg.optimizer.kind = c.opt;
    cfg.dropout = c.dropout;
    cfg.reg = c.reg;
    if (c.opt == OptimizerKind::sgd) cfg.schedule.lr = 0.05;
    cfg.schedule.kind =
        c.opt == OptimizerKind::momentum ? ScheduleKind::cosine : ScheduleKind::constant;
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      const Counts n = allocations_in_steady_state(cfg, 3);
      EXPECT_EQ(n.ours, 0) << c.name << ", " << threads << " threads";
      std::printf("%s, %d thread(s): %lld allocations by fcnet, %.1f per step inside oneDNN\n",
                  c.name, threads, static_cast<long long>(n.ours),
                  static_cast<double>(n.dnnl) / static_cast<double>(n.steps));
    }
  }
}

}  // namespace
