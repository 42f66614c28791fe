#include "data_parallel.hpp"

#include <algorithm>
#include <cstring>
#include <set>
#include <string>

#include "fcnet/error.hpp"

namespace fcnet::detail {

int64_t max_over(Collective& comm, int64_t v) {
  double x = static_cast<double>(v);
  comm.max(&x, 1);
  return static_cast<int64_t>(x);
}

int64_t sum_over(Collective& comm, int64_t v) {
  double x = static_cast<double>(v);
  comm.sum(&x, 1);
  return static_cast<int64_t>(x);
}

Shard make_shard(const DataParallel& par, const Dataset& data) {
  if (!par.comm) return {nullptr, data.n, 0, data.n};
  Collective& c = *par.comm;
  const std::string where = "data-parallel training (rank " + std::to_string(c.rank()) + " of " +
                            std::to_string(c.size()) + ")";
  // Two exchanges settle every consistency question, and every rank sees the same values, so a
  // mismatch fails on all ranks at once: the widths, kinds and totals (max), and each rank's range
  // in a vector indexed by rank (sum).
  double v[6] = {static_cast<double>(data.d),         -static_cast<double>(data.d),
                 data.dtype == DType::u8 ? 1.0 : 0.0, data.dtype == DType::u8 ? 0.0 : 1.0,
                 static_cast<double>(par.total),      -static_cast<double>(par.total)};
  c.max(v, 6);
  const int k = c.size();
  std::vector<double> ranges(static_cast<std::size_t>(2 * k), 0.0);
  ranges[static_cast<std::size_t>(2 * c.rank())] = static_cast<double>(par.first);
  ranges[static_cast<std::size_t>(2 * c.rank() + 1)] = static_cast<double>(data.n);
  c.sum(ranges.data(), 2 * k);
  if (v[0] != -v[1])
    fail(where,
         "the ranks' data have between " + std::to_string(static_cast<int64_t>(-v[1])) + " and " +
             std::to_string(static_cast<int64_t>(v[0])) + " features",
         "the same number of features on every rank");
  if (v[2] + v[3] > 1)
    fail(where, "some ranks hold uint8 data and others floating-point data",
         "the same kind of data on every rank");
  if (v[4] != -v[5])
    fail(where,
         "the ranks name totals between " + std::to_string(static_cast<int64_t>(-v[5])) + " and " +
             std::to_string(static_cast<int64_t>(v[4])) + " examples",
         "the same total on every rank");
  // Rank r's range must start where rank r−1's ends, and the last end at the total.
  int64_t next = 0;
  for (int r = 0; r < k; ++r) {
    const auto first = static_cast<int64_t>(ranges[static_cast<std::size_t>(2 * r)]);
    const auto count = static_cast<int64_t>(ranges[static_cast<std::size_t>(2 * r + 1)]);
    if (first != next)
      fail(where,
           "rank " + std::to_string(r) + "'s examples start at " + std::to_string(first) +
               (r == 0 ? std::string()
                       : ", while rank " + std::to_string(r - 1) + "'s end at " +
                             std::to_string(next)),
           "consecutive ranges in rank order, from 0 to the total");
    next += count;
  }
  if (next != par.total)
    fail(where,
         "the ranks hold " + std::to_string(next) + " examples in all, while the split names " +
             std::to_string(par.total),
         "consecutive ranges in rank order, from 0 to the total");
  return {par.comm, par.total, par.first, data.n};
}

std::vector<int64_t> restrict_to(const std::vector<int64_t>& sorted, const Shard& s, Shard* out) {
  const auto lo = std::lower_bound(sorted.begin(), sorted.end(), s.first);
  const auto hi = std::lower_bound(lo, sorted.end(), s.first + s.count);
  std::vector<int64_t> local;
  local.reserve(static_cast<std::size_t>(hi - lo));
  for (auto it = lo; it != hi; ++it) local.push_back(*it - s.first);
  if (out) *out = {s.comm, static_cast<int64_t>(sorted.size()), lo - sorted.begin(), hi - lo};
  return local;
}

void combine_eval(Collective& comm, EvalResult& r) {
  const int64_t c = r.classes;
  std::vector<double> v(static_cast<std::size_t>(c * c + 2));
  v[0] = r.loss * static_cast<double>(r.n);
  v[1] = static_cast<double>(r.n);
  for (int64_t i = 0; i < c * c; ++i)
    v[static_cast<std::size_t>(i + 2)] =
        static_cast<double>(r.confusion[static_cast<std::size_t>(i)]);
  comm.sum(v.data(), static_cast<int64_t>(v.size()));
  r.n = static_cast<int64_t>(v[1]);
  for (int64_t i = 0; i < c * c; ++i)
    r.confusion[static_cast<std::size_t>(i)] =
        static_cast<int64_t>(v[static_cast<std::size_t>(i + 2)]);
  if (r.n > 0) {
    finish_eval(r, v[0]);
  } else {
    r.loss = r.accuracy = 0.0;
    r.per_class_accuracy.clear();
  }
}

bool end_epoch_agreement(Collective& comm, const void* params, std::size_t bytes, bool stop,
                         int64_t epoch) {
  // An FNV-style hash of the parameter words, compared as two exact 32-bit halves: max(h) =
  // −max(−h) holds only when every rank has the same hash.
  uint64_t h = 1469598103934665603ULL;
  const auto* p = static_cast<const unsigned char*>(params);
  std::size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 1099511628211ULL;
    h ^= h >> 29;
  }
  for (; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  const double hi = static_cast<double>(h >> 32), lo = static_cast<double>(h & 0xFFFFFFFFULL);
  double v[5] = {hi, -hi, lo, -lo, stop ? 1.0 : 0.0};
  comm.max(v, 5);
  if (v[0] != -v[1] || v[2] != -v[3])
    fail("data-parallel training",
         "the parameters differ between ranks after epoch " + std::to_string(epoch),
         "an MPI library whose sums give the same result on every rank");
  return v[4] > 0;
}

std::vector<double> all_gather(Collective& comm, const std::vector<double>& mine,
                               std::vector<int64_t>* lengths) {
  // Two sums: every rank's length in a vector indexed by rank, then the values in a vector of
  // zeros in which each rank fills its own part (adding zeros is exact).
  const int k = comm.size();
  std::vector<double> lens(static_cast<std::size_t>(k), 0.0);
  lens[static_cast<std::size_t>(comm.rank())] = static_cast<double>(mine.size());
  comm.sum(lens.data(), k);
  std::size_t offset = 0, total = 0;
  for (int r = 0; r < k; ++r) {
    const auto len = static_cast<std::size_t>(lens[static_cast<std::size_t>(r)]);
    if (r < comm.rank()) offset += len;
    total += len;
  }
  if (lengths) {
    lengths->clear();
    for (double v : lens) lengths->push_back(static_cast<int64_t>(v));
  }
  std::vector<double> all(total, 0.0);
  std::copy(mine.begin(), mine.end(), all.begin() + static_cast<std::ptrdiff_t>(offset));
  comm.sum(all.data(), static_cast<int64_t>(all.size()));
  return all;
}

void gather_scores(Collective& comm, const Matrix<double>& local,
                   const std::vector<int32_t>& labels, Matrix<double>& all,
                   std::vector<int32_t>& all_labels) {
  // One vector per rank: its labels, then its probabilities row by row (int32 labels are exact
  // as doubles).
  const int64_t n = local.rows(), c = local.cols();
  std::vector<double> mine(labels.begin(), labels.begin() + n);
  mine.insert(mine.end(), local.data(), local.data() + n * c);
  std::vector<int64_t> lens;
  const std::vector<double> got = all_gather(comm, mine, &lens);
  // Each rank's part is rows·(1 + C) long.
  const auto total = static_cast<int64_t>(got.size()) / (1 + c);
  all.resize(total, c, "validation probabilities of all ranks");
  all_labels.assign(static_cast<std::size_t>(total), 0);
  std::size_t at = 0;
  int64_t row = 0;
  for (int64_t len : lens) {
    const int64_t rows = len / (1 + c);
    for (int64_t i = 0; i < rows; ++i)
      all_labels[static_cast<std::size_t>(row + i)] = static_cast<int32_t>(got[at++]);
    for (int64_t i = 0; i < rows * c; ++i) all[row * c + i] = got[at++];
    row += rows;
  }
}

int device_for_rank(int rank, int device_count) {
  if (device_count <= 0)
    fail("data-parallel training", "rank " + std::to_string(rank) + " sees no device",
         "at least one device per machine");
  return rank % device_count;
}

bool all_distinct(const std::vector<DeviceId>& ids) {
  return std::set<DeviceId>(ids.begin(), ids.end()).size() == ids.size();
}

bool every_rank_has_own_device(Collective& comm, const DeviceId& mine) {
  // The id as four 32-bit words, each exact as a double.
  std::vector<double> words;
  for (std::size_t i = 0; i < mine.size(); i += 4) {
    uint32_t w = 0;
    for (std::size_t b = 0; b < 4; ++b) w |= static_cast<uint32_t>(mine[i + b]) << (8 * b);
    words.push_back(static_cast<double>(w));
  }
  const std::vector<double> all = all_gather(comm, words);
  std::vector<DeviceId> ids(all.size() / 4);
  for (std::size_t r = 0; r < ids.size(); ++r)
    for (std::size_t i = 0; i < 4; ++i) {
      const auto w = static_cast<uint32_t>(all[r * 4 + i]);
      for (std::size_t b = 0; b < 4; ++b)
        ids[r][i * 4 + b] = static_cast<unsigned char>((w >> (8 * b)) & 0xFFu);
    }
  return all_distinct(ids);
}

}  // namespace fcnet::detail
