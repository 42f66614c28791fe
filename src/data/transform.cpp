// The input transform (fit, prepare) and the fused gather that applies it while converting the
// stored element type to the compute type.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/names.hpp"
#include "core/parallel.hpp"
#include "fcnet/collective.hpp"
#include "fcnet/data.hpp"
#include "fcnet/error.hpp"

namespace fcnet {

namespace {
constexpr const char* kNormalizeNames[] = {"auto", "none", "scale", "standardize"};
}  // namespace

const char* normalize_name(Normalize n) {
  return detail::name_at(kNormalizeNames, static_cast<int>(n));
}

Normalize parse_normalize(const std::string& s) {
  return static_cast<Normalize>(
      detail::parse_name(kNormalizeNames, s, "--normalize", "normalization"));
}

InputTransform fit_transform(const Dataset& train, Normalize mode, Collective* comm,
                             int64_t total) {
  if (total < 0) total = train.n;
  InputTransform tf;
  const bool u8 = train.dtype == DType::u8;
  if (mode == Normalize::none) return tf;
  if (mode == Normalize::scale || (mode == Normalize::automatic && u8)) {
    if (u8) tf.scale = 1.0 / 255.0;
    return tf;
  }
  // standardize (explicit, or automatic on float data)
  if (total <= 0 || train.d <= 0)
    fail(train.source, "cannot standardize an empty data set", "at least one example");
  if (u8) tf.scale = 1.0 / 255.0;
  const auto d = static_cast<std::size_t>(train.d);
  const double inf = std::numeric_limits<double>::infinity();
  // −min | max in one buffer, so that with ranks the first pass needs one sum and one max
  // exchange. Two passes (mean, then squared deviations) so large offsets do not cancel the
  // variance.
  std::vector<double> sum(d, 0.0), ext(2 * d, -inf), sq(d, 0.0);
  auto each = [&](auto&& fn) {
    auto rows = [&](auto tag) {
      using S = decltype(tag);
      const S* x = reinterpret_cast<const S*>(train.bytes.data());
      for (int64_t i = 0; i < train.n; ++i) {
        const S* r = x + static_cast<std::size_t>(i) * d;
        for (std::size_t j = 0; j < d; ++j) fn(j, static_cast<double>(r[j]));
      }
    };
    switch (train.dtype) {
      case DType::u8:
        rows(uint8_t{});
        break;
      case DType::f32:
        rows(float{});
        break;
      case DType::f64:
        rows(double{});
        break;
    }
  };
  each([&](std::size_t j, double v) {
    sum[j] += v;
    ext[j] = std::max(ext[j], -v);
    ext[d + j] = std::max(ext[d + j], v);
  });
  if (comm) {
    comm->sum(sum.data(), static_cast<int64_t>(d));
    comm->max(ext.data(), static_cast<int64_t>(2 * d));
  }
  for (std::size_t j = 0; j < d; ++j) sum[j] /= static_cast<double>(total);
  // Deviations are squared in units of the power of two at the column's largest magnitude, so
  // that values near 1e200 do not overflow the sum of squares nor values near 1e-200 underflow
  // it. A power of two scales exactly: other columns get the same bits as unscaled.
  std::vector<double> unit(d, 1.0);
  for (std::size_t j = 0; j < d; ++j) {
    const double big = std::max(std::abs(ext[j]), std::abs(ext[d + j]));
    int exponent = 0;
    std::frexp(big, &exponent);
    if (big > 0 && std::isfinite(big))
      unit[j] = std::ldexp(1.0, -std::clamp(exponent, -1000, 1000));
  }
  each([&](std::size_t j, double v) {
    const double e = (v - sum[j]) * unit[j];
    sq[j] += e * e;
  });
  if (comm) comm->sum(sq.data(), static_cast<int64_t>(d));
  tf.mean.resize(d);
  tf.std.resize(d);
  for (std::size_t j = 0; j < d; ++j) {
    tf.mean[j] = sum[j] * tf.scale;
    const double sd = std::sqrt(sq[j] / static_cast<double>(total)) / unit[j] * tf.scale;
    tf.std[j] = (-ext[j] == ext[d + j] || !(sd > 0)) ? 1.0 : sd;
  }
  return tf;
}

namespace {

// A float held in memory, so that the compiler cannot fuse the multiply and the add around it.
float stored(float x) {
  volatile float v = x;
  return v;
}

// Whether the float factors reproduce the double transform on uint8 data: tried on all 256 values
// of every column, fused and not (the compiler may contract the gather's x * mul + add). A uint8
// value is exact in float; the float form loses about an epsilon of |x·mul| and of |add|, held
// here to 4 epsilons of max(1, |x'|) for each value. That cancels badly only when |add| =
// |mean|/std is far above the standardized values, a column that hardly varies around a mean far
// from 0: with values 0..255 a nearly constant one (every pixel 255 but one in 60000: |add| ≈ 6e4,
// error ≈ 4e-3). Such a column fails the measurement and the gather computes in double; one that
// varies over its range (pixels, counts, codes) keeps the float fast path.
bool u8_float_exact(const PreparedTransform& p) {
  const auto n = static_cast<std::size_t>(p.d);
  constexpr double eps = std::numeric_limits<float>::epsilon();
  for (std::size_t j = 0; j < n; ++j) {
    for (int v = 0; v < 256; ++v) {
      const auto x = static_cast<float>(v);
      const auto want =
          static_cast<double>(static_cast<float>(static_cast<double>(v) * p.mul_d[j] + p.add_d[j]));
      const auto plain = static_cast<double>(stored(stored(x * p.mul_f[j]) + p.add_f[j]));
      const auto fused = static_cast<double>(std::fma(x, p.mul_f[j], p.add_f[j]));
      const double tol = 4 * eps * std::max(1.0, std::abs(want));
      if (std::abs(plain - want) > tol || std::abs(fused - want) > tol) return false;
    }
  }
  return true;
}

}  // namespace

PreparedTransform prepare_transform(const InputTransform& tf, int64_t d) {
  const char* where = "input transform";
  if (!std::isfinite(tf.scale) || tf.scale == 0)
    fail(where, "scale " + std::to_string(tf.scale), "a finite, non-zero scale");
  if (!tf.mean.empty() && static_cast<int64_t>(tf.mean.size()) != d)
    fail(where, "input_mean has " + std::to_string(tf.mean.size()) + " values",
         std::to_string(d) + ", one per input feature");
  if (!tf.std.empty() && static_cast<int64_t>(tf.std.size()) != d)
    fail(where, "input_std has " + std::to_string(tf.std.size()) + " values",
         std::to_string(d) + ", one per input feature");
  PreparedTransform p;
  p.d = d;
  if (tf.identity()) return p;
  if (tf.mean.empty() && tf.std.empty()) {
    p.kind = PreparedTransform::Kind::scale;
    p.scale = tf.scale;
    return p;
  }
  p.kind = PreparedTransform::Kind::affine;
  const auto n = static_cast<std::size_t>(d);
  p.mul_d.resize(n);
  p.add_d.resize(n);
  p.mul_f.resize(n);
  p.add_f.resize(n);
  for (std::size_t j = 0; j < n; ++j) {
    const double mean = tf.mean.empty() ? 0.0 : tf.mean[j];
    const double sd = tf.std.empty() ? 1.0 : tf.std[j];
    if (!std::isfinite(mean))
      fail(where, "input_mean[" + std::to_string(j) + "] is not finite", "finite means");
    if (!(sd > 0) || !std::isfinite(sd))
      fail(where, "input_std[" + std::to_string(j) + "] is " + std::to_string(sd),
           "finite, positive standard deviations");
    // (x*scale - mean)/sd = x*(scale/sd) + (-mean/sd)
    p.mul_d[j] = tf.scale / sd;
    p.add_d[j] = -mean / sd;
    p.mul_f[j] = static_cast<float>(p.mul_d[j]);
    p.add_f[j] = static_cast<float>(p.add_d[j]);
  }
  p.u8_float = u8_float_exact(p);
  return p;
}

namespace {

// Gathers below this many elements stay on the calling thread: a parallel region costs a few
// microseconds, about what one thread needs for ~64k converted elements.
constexpr int64_t kParallelElems = int64_t{1} << 16;
// How many rows ahead of the one being converted the gather prefetches.
constexpr int64_t kPrefetchAhead = 4;

// One row: out[j] = T(A(in[j]) * mul[j] + add[j]) in the arithmetic type A: double, rounding only
// the result to T, except for uint8 data into float (see arith_float).
template <class S, class T, class A>
struct RowKernel {
  static void identity(T* __restrict out, const S* __restrict in, int64_t d) {
    if constexpr (std::is_same_v<S, T>) {
      std::memcpy(out, in, sizeof(T) * static_cast<std::size_t>(d));
    } else {
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) out[j] = static_cast<T>(in[j]);
    }
  }
  static void scale(T* __restrict out, const S* __restrict in, int64_t d, A s) {
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) out[j] = static_cast<T>(static_cast<A>(in[j]) * s);
  }
  static void affine(T* __restrict out, const S* __restrict in, int64_t d, const A* __restrict mul,
                     const A* __restrict add) {
#pragma omp simd
    for (int64_t j = 0; j < d; ++j)
      out[j] = static_cast<T>(static_cast<A>(in[j]) * mul[j] + add[j]);
  }
};

// Whether uint8 data into a float network computes in float. The scale x·(1/255) is one product
// of an exact integer and a rounded factor: a relative error of about one float epsilon, nothing
// to cancel. The affine form is float only where prepare_transform measured it exact enough.
bool arith_float(const PreparedTransform& tf) {
  return tf.kind != PreparedTransform::Kind::affine || tf.u8_float;
}

template <class S, class T, class A>
void gather_typed(MatrixView<T> out, const Dataset& data, const int64_t* idx, int64_t count,
                  const PreparedTransform& tf) {
  using K = RowKernel<S, T, A>;
  const S* base = reinterpret_cast<const S*>(data.bytes.data());
  const int64_t d = data.d;
  const A s = static_cast<A>(tf.scale);
  const A* mul = nullptr;
  const A* add = nullptr;
  if constexpr (std::is_same_v<A, float>) {
    mul = tf.mul_f.data();
    add = tf.add_f.data();
  } else {
    mul = tf.mul_d.data();
    add = tf.add_d.data();
  }
  const auto kind = tf.kind;
  const std::size_t row_bytes = sizeof(S) * static_cast<std::size_t>(d);
  detail::for_chunks(count, count * d >= kParallelElems, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      // Random rows defeat the hardware prefetcher across rows: ask for a later row's lines now.
      if (idx != nullptr && i + kPrefetchAhead < count) {
        const auto* ahead = reinterpret_cast<const char*>(base + idx[i + kPrefetchAhead] * d);
        for (std::size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(ahead + b);
      }
      const S* src = base + (idx != nullptr ? idx[i] : i) * d;
      T* dst = out.row(i);
      switch (kind) {
        case PreparedTransform::Kind::identity:
          K::identity(dst, src, d);
          break;
        case PreparedTransform::Kind::scale:
          K::scale(dst, src, d, s);
          break;
        case PreparedTransform::Kind::affine:
          K::affine(dst, src, d, mul, add);
          break;
      }
    }
  });
}

template <class T>
void gather_checked(MatrixView<T> out, const Dataset& data, const int64_t* idx, int64_t count,
                    const PreparedTransform& tf) {
  const std::string& where = data.source.empty() ? std::string("gather_batch") : data.source;
  if (count < 0 || out.rows != count || out.cols != data.d || out.ld < out.cols)
    fail(where,
         "batch of " + std::to_string(count) + " examples into a " + shape_str(out.rows, out.cols) +
             " matrix",
         "a " + shape_str(count, data.d) + " output");
  if (tf.d != data.d)
    fail(where,
         "transform prepared for " + std::to_string(tf.d) + " features, data has " +
             std::to_string(data.d),
         "a transform prepared for this data");
  const auto need = static_cast<std::size_t>(data.n * data.d) * dtype_size(data.dtype);
  if (data.bytes.size() < need)
    fail(where, "data holds " + std::to_string(data.bytes.size()) + " bytes",
         std::to_string(need) + " for " + shape_str(data.n, data.d) + " " + dtype_name(data.dtype));
  if (idx != nullptr) {
    // Checked up front: throwing inside the parallel loop would terminate.
    int64_t bad = -1;
    for (int64_t i = 0; i < count; ++i)
      if (idx[i] < 0 || idx[i] >= data.n) {
        bad = i;
        break;
      }
    if (bad >= 0)
      fail(where, "batch index " + std::to_string(idx[bad]) + " is out of range",
           "an example index in 0.." + std::to_string(data.n - 1));
  }
  if (count == 0 || data.d == 0) return;
  switch (data.dtype) {
    case DType::u8:
      if (std::is_same_v<T, float> && arith_float(tf))
        gather_typed<uint8_t, T, float>(out, data, idx, count, tf);
      else
        gather_typed<uint8_t, T, double>(out, data, idx, count, tf);
      break;
    case DType::f32:
      gather_typed<float, T, double>(out, data, idx, count, tf);
      break;
    case DType::f64:
      gather_typed<double, T, double>(out, data, idx, count, tf);
      break;
  }
}

}  // namespace

template <class T>
void gather_batch(MatrixView<T> out, const Dataset& data, const int64_t* idx, int64_t count,
                  const PreparedTransform& tf) {
  if (idx == nullptr && count > 0) fail("gather_batch", "null index list", "count indices");
  gather_checked(out, data, idx, count, tf);
}

template <class T>
void gather_batch(MatrixView<T> out, const Dataset& data, const int64_t* idx, int64_t count,
                  const InputTransform& tf) {
  gather_batch(out, data, idx, count, prepare_transform(tf, data.d));
}

template <class T>
Matrix<T> to_matrix(const Dataset& data, const InputTransform& tf) {
  const std::string what = data.source.empty() ? std::string("data set") : data.source;
  Matrix<T> m;
  m.reshape_uninit(data.n, data.d, what);
  gather_checked(m.view(), data, nullptr, data.n, prepare_transform(tf, data.d));
  return m;
}

template void gather_batch<float>(MatrixView<float>, const Dataset&, const int64_t*, int64_t,
                                  const PreparedTransform&);
template void gather_batch<double>(MatrixView<double>, const Dataset&, const int64_t*, int64_t,
                                   const PreparedTransform&);
template void gather_batch<float>(MatrixView<float>, const Dataset&, const int64_t*, int64_t,
                                  const InputTransform&);
template void gather_batch<double>(MatrixView<double>, const Dataset&, const int64_t*, int64_t,
                                   const InputTransform&);
template Matrix<float> to_matrix<float>(const Dataset&, const InputTransform&);
template Matrix<double> to_matrix<double>(const Dataset&, const InputTransform&);

}  // namespace fcnet
