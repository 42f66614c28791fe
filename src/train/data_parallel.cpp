#include "data_parallel.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

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
  // One exchange settles every consistency question, so a mismatch fails on all ranks at once.
  double v[6] = {static_cast<double>(data.d),
                 -static_cast<double>(data.d),
                 data.dtype == DType::u8 ? 1.0 : 0.0,
                 data.dtype == DType::u8 ? 0.0 : 1.0,
                 static_cast<double>(par.first + data.n),
                 -static_cast<double>(par.first)};
  c.max(v, 6);
  const int64_t total = sum_over(c, data.n);
  if (v[0] != -v[1])
    fail(where,
         "the ranks' data have between " + std::to_string(static_cast<int64_t>(-v[1])) + " and " +
             std::to_string(static_cast<int64_t>(v[0])) + " features",
         "the same number of features on every rank");
  if (v[2] + v[3] > 1)
    fail(where, "some ranks hold uint8 data and others floating-point data",
         "the same kind of data on every rank");
  if (total != par.total || v[4] != static_cast<double>(par.total) || v[5] != 0)
    fail(where,
         "the ranks hold " + std::to_string(total) + " examples in all, ranges up to " +
             std::to_string(static_cast<int64_t>(v[4])) + ", while the split names " +
             std::to_string(par.total),
         "consecutive ranges covering all examples");
  return {par.comm, par.total, par.first, data.n};
}

std::vector<int64_t> restrict_to(const std::vector<int64_t>& sorted, const Shard& s, Shard& out) {
  const auto lo = std::lower_bound(sorted.begin(), sorted.end(), s.first);
  const auto hi = std::lower_bound(lo, sorted.end(), s.first + s.count);
  std::vector<int64_t> local;
  local.reserve(static_cast<std::size_t>(hi - lo));
  for (auto it = lo; it != hi; ++it) local.push_back(*it - s.first);
  out = {s.comm, static_cast<int64_t>(sorted.size()), lo - sorted.begin(), hi - lo};
  return local;
}

InputTransform fit_transform_shared(const Dataset& train, Normalize mode, const Shard& s) {
  InputTransform tf;
  const bool u8 = train.dtype == DType::u8;
  if (mode == Normalize::none) return tf;
  if (mode == Normalize::scale || (mode == Normalize::automatic && u8)) {
    if (u8) tf.scale = 1.0 / 255.0;
    return tf;
  }
  if (s.total <= 0 || train.d <= 0)
    fail(train.source, "cannot standardize an empty data set", "at least one example");
  if (u8) tf.scale = 1.0 / 255.0;
  const auto n = train.n;
  const auto d = static_cast<std::size_t>(train.d);
  const double inf = std::numeric_limits<double>::infinity();
  // sum | −min | max in one buffer, so the first pass needs one sum and one max exchange.
  std::vector<double> sum(d, 0.0), ext(2 * d, -inf), sq(d, 0.0);
  auto rows = [&](auto tag, auto&& fn) {
    using S = decltype(tag);
    const S* x = reinterpret_cast<const S*>(train.bytes.data());
    for (int64_t i = 0; i < n; ++i) {
      const S* r = x + static_cast<std::size_t>(i) * d;
      for (std::size_t j = 0; j < d; ++j) fn(j, static_cast<double>(r[j]));
    }
  };
  auto each = [&](auto&& fn) {
    switch (train.dtype) {
      case DType::u8:
        rows(uint8_t{}, fn);
        break;
      case DType::f32:
        rows(float{}, fn);
        break;
      case DType::f64:
        rows(double{}, fn);
        break;
    }
  };
  each([&](std::size_t j, double v) {
    sum[j] += v;
    ext[j] = std::max(ext[j], -v);
    ext[d + j] = std::max(ext[d + j], v);
  });
  s.comm->sum(sum.data(), static_cast<int64_t>(d));
  s.comm->max(ext.data(), static_cast<int64_t>(2 * d));
  for (std::size_t j = 0; j < d; ++j) sum[j] /= static_cast<double>(s.total);
  each([&](std::size_t j, double v) {
    const double e = v - sum[j];
    sq[j] += e * e;
  });
  s.comm->sum(sq.data(), static_cast<int64_t>(d));
  tf.mean.resize(d);
  tf.std.resize(d);
  for (std::size_t j = 0; j < d; ++j) {
    tf.mean[j] = sum[j] * tf.scale;
    const double sd = std::sqrt(sq[j] / static_cast<double>(s.total)) * tf.scale;
    tf.std[j] = (-ext[j] == ext[d + j] || !(sd > 0)) ? 1.0 : sd;
  }
  return tf;
}

void combine_eval(Collective& comm, EvalResult& r) {
  const int64_t c = r.classes;
  std::vector<double> v(static_cast<std::size_t>(c * c + 2));
  int64_t correct = 0;
  for (int64_t k = 0; k < c; ++k) correct += r.confusion[static_cast<std::size_t>(k * c + k)];
  v[0] = r.loss * static_cast<double>(r.n);
  v[1] = static_cast<double>(r.n);
  for (int64_t i = 0; i < c * c; ++i)
    v[static_cast<std::size_t>(i + 2)] =
        static_cast<double>(r.confusion[static_cast<std::size_t>(i)]);
  comm.sum(v.data(), static_cast<int64_t>(v.size()));
  r.n = static_cast<int64_t>(v[1]);
  correct = 0;
  for (int64_t i = 0; i < c * c; ++i)
    r.confusion[static_cast<std::size_t>(i)] =
        static_cast<int64_t>(v[static_cast<std::size_t>(i + 2)]);
  for (int64_t k = 0; k < c; ++k) correct += r.confusion[static_cast<std::size_t>(k * c + k)];
  r.loss = r.n > 0 ? v[0] / static_cast<double>(r.n) : 0.0;
  r.accuracy = r.n > 0 ? static_cast<double>(correct) / static_cast<double>(r.n) : 0.0;
  r.per_class_accuracy.clear();
  for (int64_t k = 0; k < c; ++k) {
    int64_t row = 0;
    for (int64_t j = 0; j < c; ++j) row += r.confusion[static_cast<std::size_t>(k * c + j)];
    r.per_class_accuracy.push_back(
        row ? static_cast<double>(r.confusion[static_cast<std::size_t>(k * c + k)]) / row
            : std::numeric_limits<double>::quiet_NaN());
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

}  // namespace fcnet::detail
