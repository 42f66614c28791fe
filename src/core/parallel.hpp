// Static work splitting over the OpenMP threads. Work that runs on one thread never enters an
// OpenMP region: libgomp allocates a new team for every region whose size differs from the last
// (a one-thread region included), which would put heap allocations into each training step.
#pragma once

#include <omp.h>

#include <array>
#include <cstdint>

namespace fcnet::detail {

inline constexpr int kMaxThreads = 256;

// Threads a region over `parallel` work gets: 1 when the work is small, when one thread is
// configured, or inside another region.
inline int region_threads(bool parallel) {
  if (!parallel || omp_in_parallel()) return 1;
  const int nt = omp_get_max_threads();
  return nt < 1 ? 1 : (nt > kMaxThreads ? kMaxThreads : nt);
}

// Start of chunk t of nt over [0, n), rounded down to a multiple of `granule` (the last chunk
// ends at n). The same n, nt and granule always give the same chunks.
inline int64_t chunk_begin(int64_t n, int t, int nt, int64_t granule) {
  if (t >= nt) return n;
  const int64_t units = (n + granule - 1) / granule;
  const int64_t b = units * t / nt * granule;
  return b < n ? b : n;
}

// body(begin, end) over [0, n) in static chunks, one per thread (or once, on this thread).
template <class F>
void for_chunks(int64_t n, bool parallel, int64_t granule, F&& body) {
  const int nt = region_threads(parallel);
  if (nt == 1) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), used = omp_get_num_threads();
    body(chunk_begin(n, t, used, granule), chunk_begin(n, t + 1, used, granule));
  }
}

// As for_chunks, where body returns a value; the chunks' values are combined with `combine` in
// chunk order, so the result depends only on n and the thread count.
template <class R, class F, class C>
R reduce_chunks(int64_t n, bool parallel, int64_t granule, R init, F&& body, C&& combine) {
  const int nt = region_threads(parallel);
  if (nt == 1) return combine(init, body(int64_t{0}, n));
  std::array<R, kMaxThreads> part;
  int used_threads = nt;
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), used = omp_get_num_threads();
    part[static_cast<std::size_t>(t)] =
        body(chunk_begin(n, t, used, granule), chunk_begin(n, t + 1, used, granule));
#pragma omp single
    used_threads = used;
  }
  R r = init;
  for (int t = 0; t < used_threads; ++t) r = combine(r, part[static_cast<std::size_t>(t)]);
  return r;
}

}  // namespace fcnet::detail
