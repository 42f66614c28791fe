// Fast elementwise kernels. Work is split across OpenMP threads in fixed, static partitions so that
// the same thread count gives bit-identical results; small inputs stay on one thread, where the
// cost of waking the pool exceeds the work.

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "fcnet/error.hpp"
#include "fcnet/kernels.hpp"

#include "core/parallel.hpp"

namespace fcnet {

namespace {

constexpr int64_t kParallelMin = 1 << 15;  // elements below which one thread does the work

template <class T>
T grad_from_a(Activation kind, T alpha, T a) {
  switch (kind) {
    case Activation::relu:
      return a > T(0) ? T(1) : T(0);
    case Activation::leaky_relu:
      return a > T(0) ? T(1) : alpha;
    case Activation::tanh:
      return T(1) - a * a;
    case Activation::sigmoid:
      return a * (T(1) - a);
    default:
      return T(1);
  }
}

// One row: out[j] = in[j] · f'(s[j]) for j in [0, m), and db[j] += out[j] when db is not null.
// `out` may be `in` (the backward pass works in place), so the two loops below each name every
// pointer they touch exactly once and can be vectorised without a runtime overlap check.
template <class T, Activation K>
void backward_row(T* out, const T* in, const T* __restrict s, T alpha, T* __restrict db,
                  int64_t m) {
  if (out == in) {
    T* __restrict io = out;
    if (db) {
#pragma omp simd
      for (int64_t j = 0; j < m; ++j) {
        const T v = io[j] * grad_from_a<T>(K, alpha, s[j]);
        io[j] = v;
        db[j] += v;
      }
    } else {
#pragma omp simd
      for (int64_t j = 0; j < m; ++j) io[j] = io[j] * grad_from_a<T>(K, alpha, s[j]);
    }
    return;
  }
  T* __restrict o = out;
  const T* __restrict x = in;
  if (db) {
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) {
      const T v = x[j] * grad_from_a<T>(K, alpha, s[j]);
      o[j] = v;
      db[j] += v;
    }
  } else {
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) o[j] = x[j] * grad_from_a<T>(K, alpha, s[j]);
  }
}

// dz = da ⊙ f'(saved) over columns [c0, c1), accumulating column sums into db.
template <class T, Activation K>
void backward_block(MatrixView<T> dz, ConstView<T> da, ConstView<T> saved, T alpha, T* db,
                    int64_t c0, int64_t c1) {
  if (db)
    for (int64_t j = c0; j < c1; ++j) db[j] = T(0);
  for (int64_t i = 0; i < da.rows; ++i)
    backward_row<T, K>(dz.row(i) + c0, da.row(i) + c0, saved.row(i) + c0, alpha,
                       db ? db + c0 : nullptr, c1 - c0);
}

template <class T>
void backward_block_z(MatrixView<T> dz, ConstView<T> da, ConstView<T> z, ActivationFn f, T* db,
                      int64_t c0, int64_t c1) {
  if (db)
    for (int64_t j = c0; j < c1; ++j) db[j] = T(0);
  for (int64_t i = 0; i < da.rows; ++i)
    for (int64_t j = c0; j < c1; ++j) {
      const T v = da(i, j) * static_cast<T>(activation_grad_z(f, static_cast<double>(z(i, j))));
      dz(i, j) = v;
      if (db) db[j] += v;
    }
}

}  // namespace

template <class T>
void activation_forward(MatrixView<T> a, ConstView<T> z, ActivationFn f) {
  const int64_t n = z.rows, m = z.cols;
  const T alpha = static_cast<T>(f.alpha);
  detail::for_chunks(n, n * m >= kParallelMin, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const T* zr = z.row(i);
      T* ar = a.row(i);
      switch (f.kind) {
        case Activation::identity:
          for (int64_t j = 0; j < m; ++j) ar[j] = zr[j];
          break;
        case Activation::relu:
          for (int64_t j = 0; j < m; ++j) ar[j] = zr[j] > T(0) ? zr[j] : T(0);
          break;
        case Activation::leaky_relu:
          for (int64_t j = 0; j < m; ++j) ar[j] = zr[j] > T(0) ? zr[j] : alpha * zr[j];
          break;
        case Activation::tanh:
          for (int64_t j = 0; j < m; ++j) ar[j] = std::tanh(zr[j]);
          break;
        case Activation::sigmoid:
          for (int64_t j = 0; j < m; ++j) ar[j] = T(1) / (T(1) + std::exp(-zr[j]));
          break;
        case Activation::gelu:
          for (int64_t j = 0; j < m; ++j)
            ar[j] = T(0.5) * zr[j] * (T(1) + std::erf(zr[j] * T(M_SQRT1_2)));
          break;
      }
    }
  });
}

template <class T>
void activation_backward(MatrixView<T> dz, ConstView<T> da, ConstView<T> saved, ActivationFn f,
                         T* db) {
  const int64_t m = da.cols;
  const T alpha = static_cast<T>(f.alpha);
  // Threads take column blocks (multiples of 16), so each owns its part of db.
  detail::for_chunks(m, da.rows * m >= kParallelMin, 16, [&](int64_t c0, int64_t c1) {
    if (backward_needs_z(f)) {
      backward_block_z(dz, da, saved, f, db, c0, c1);
    } else {
      switch (f.kind) {
        case Activation::relu:
          backward_block<T, Activation::relu>(dz, da, saved, alpha, db, c0, c1);
          break;
        case Activation::leaky_relu:
          backward_block<T, Activation::leaky_relu>(dz, da, saved, alpha, db, c0, c1);
          break;
        case Activation::tanh:
          backward_block<T, Activation::tanh>(dz, da, saved, alpha, db, c0, c1);
          break;
        case Activation::sigmoid:
          backward_block<T, Activation::sigmoid>(dz, da, saved, alpha, db, c0, c1);
          break;
        default:
          backward_block<T, Activation::identity>(dz, da, saved, alpha, db, c0, c1);
          break;
      }
    }
  });
}

template <class T>
double softmax_xent_backward(MatrixView<T> scores, const int32_t* y, T scale, T* db,
                             int64_t* correct, const double* w) {
  const int64_t n = scores.rows, c = scores.cols;
  struct Part {
    double total = 0.0;
    int64_t hits = 0;
  };
  const Part sum = detail::reduce_chunks(
      n, n * c * 8 >= kParallelMin, 1, Part{},
      [&](int64_t r0, int64_t r1) {
        Part part;
        for (int64_t i = r0; i < r1; ++i) {
          T* s = scores.row(i);
          T mx = s[0];
          int64_t arg = 0;
          for (int64_t j = 1; j < c; ++j)
            if (s[j] > mx) mx = s[arg = j];
          part.hits += arg == y[i];
          // −log p_y = log Σ exp(s − max) − (s_y − max): never log of a probability that
          // underflowed.
          const double margin = static_cast<double>(s[y[i]] - mx);
          double se = 0.0;
          for (int64_t j = 0; j < c; ++j) {
            const T e = std::exp(s[j] - mx);
            se += static_cast<double>(e);
            s[j] = e;
          }
          if (w == nullptr) {
            part.total += std::log(se) - margin;
            const T inv_scaled = static_cast<T>(1.0 / se) * scale;
            for (int64_t j = 0; j < c; ++j) s[j] *= inv_scaled;
            s[y[i]] -= scale;
          } else {
            part.total += w[i] * (std::log(se) - margin);
            const T row_scale = static_cast<T>(static_cast<double>(scale) * w[i]);
            const T inv_scaled = static_cast<T>(1.0 / se) * row_scale;
            for (int64_t j = 0; j < c; ++j) s[j] *= inv_scaled;
            s[y[i]] -= row_scale;
          }
        }
        return part;
      },
      [](Part x, Part o) {
        return Part{x.total + o.total, x.hits + o.hits};
      });
  const double total = sum.total;
  const int64_t hits = sum.hits;
  if (db) {
    for (int64_t j = 0; j < c; ++j) db[j] = T(0);
    for (int64_t i = 0; i < n; ++i) {
      const T* s = scores.row(i);
      for (int64_t j = 0; j < c; ++j) db[j] += s[j];
    }
  }
  if (correct) *correct = hits;
  return total;
}

template <class T>
double softmax_xent_forward(MatrixView<T> probs, ConstView<T> scores, const int32_t* y,
                            double* losses) {
  const int64_t n = scores.rows, c = scores.cols;
  return detail::reduce_chunks(
      n, n * c * 8 >= kParallelMin, 1, 0.0,
      [&](int64_t r0, int64_t r1) {
        double total = 0.0;
        for (int64_t i = r0; i < r1; ++i) {
          const T* s = scores.row(i);
          T* p = probs.row(i);
          T mx = s[0];
          for (int64_t j = 1; j < c; ++j) mx = std::max(mx, s[j]);
          const double margin = y ? static_cast<double>(s[y[i]] - mx) : 0.0;
          double sum = 0.0;
          for (int64_t j = 0; j < c; ++j) {
            const T e = std::exp(s[j] - mx);
            sum += static_cast<double>(e);
            p[j] = e;
          }
          const T inv = static_cast<T>(1.0 / sum);
          for (int64_t j = 0; j < c; ++j) p[j] *= inv;
          if (y) {
            const double li = std::log(sum) - margin;
            if (losses) losses[i] = li;
            total += li;
          }
        }
        return total;
      },
      [](double x, double w) { return x + w; });
}

template <class T>
void gemm(DnnlContext* ctx, MatrixView<T> c, ConstView<T> a, ConstView<T> b, const GemmOp<T>& op) {
  if constexpr (std::is_same_v<T, float>) {
    if (ctx) {
      ctx->gemm(c, a, b, op);
      return;
    }
  }
  (void)ctx;
  ref::gemm(c, a, b, op);
}

namespace {

// out[j][i] = in[i][j] for i in [i0, i1), j in [j0, j1), element by element.
template <class T>
void transpose_block(T* out, int64_t ld_out, const T* in, int64_t ld_in, int64_t i0, int64_t i1,
                     int64_t j0, int64_t j1) {
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t j = j0; j < j1; ++j) out[j * ld_out + i] = in[i * ld_in + j];
}

// The AVX kernels are compiled for AVX whatever the build targets (a portable build included) and
// run where the CPU has it.
#define FCNET_TARGET_AVX __attribute__((target("avx")))
bool cpu_has_avx() {
  static const bool has = __builtin_cpu_supports("avx");
  return has;
}

// The 8×8 float block at (i, j) in registers: eight row loads, three rounds of shuffles, eight
// row stores.
FCNET_TARGET_AVX inline void transpose8x8(float* out, int64_t ld_out, const float* in,
                                          int64_t ld_in, int64_t i, int64_t j) {
  const float* a = in + i * ld_in + j;
  const __m256 r0 = _mm256_loadu_ps(a), r1 = _mm256_loadu_ps(a + ld_in),
               r2 = _mm256_loadu_ps(a + 2 * ld_in), r3 = _mm256_loadu_ps(a + 3 * ld_in),
               r4 = _mm256_loadu_ps(a + 4 * ld_in), r5 = _mm256_loadu_ps(a + 5 * ld_in),
               r6 = _mm256_loadu_ps(a + 6 * ld_in), r7 = _mm256_loadu_ps(a + 7 * ld_in);
  // Pairs of rows interleaved: t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5], ...
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
               t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
               t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
               t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  // Quads: s0 = column 0 of rows 0–3 | column 4 of rows 0–3, ...
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
               s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
               s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
               s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)),
               s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)),
               s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2)),
               s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)),
               s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  float* o = out + j * ld_out + i;
  _mm256_storeu_ps(o, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_storeu_ps(o + ld_out, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_storeu_ps(o + 2 * ld_out, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_storeu_ps(o + 3 * ld_out, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_storeu_ps(o + 4 * ld_out, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_storeu_ps(o + 5 * ld_out, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_storeu_ps(o + 6 * ld_out, _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_storeu_ps(o + 7 * ld_out, _mm256_permute2f128_ps(s3, s7, 0x31));
}

// Rows [0, rows16) and columns [c0, c8) of the input, 8×8 blocks two at a time down 16 rows.
FCNET_TARGET_AVX void transpose_blocks_avx(float* dst, int64_t ld_out, const float* src,
                                           int64_t ld_in, int64_t rows16, int64_t c0, int64_t c8) {
  for (int64_t i = 0; i < rows16; i += 16)
    for (int64_t jj = c0; jj < c8; jj += 8) {
      transpose8x8(dst, ld_out, src, ld_in, i, jj);
      transpose8x8(dst, ld_out, src, ld_in, i + 8, jj);
    }
}

}  // namespace

template <class T>
void transpose(MatrixView<T> out, ConstView<T> in) {
  if (out.rows != in.cols || out.cols != in.rows)
    fail("transpose",
         "output is " + shape_str(out.rows, out.cols) + " for input " + shape_str(in.rows, in.cols),
         shape_str(in.cols, in.rows));
  // 8×8 blocks through AVX registers, two at a time down 16 input rows, so that each output
  // cache line (16 floats) is written whole before the next: with power-of-two leading dimensions
  // (1024 floats) every row of a block maps to the same L1 set, and half-written lines were evicted
  // and fetched again (docs/PERFORMANCE.md, "The transpose"). Threads take bands of the input's
  // columns, which are whole output rows, so no two threads write the same line. On a CPU without
  // AVX, and for double, the same bands element by element.
  constexpr int64_t kB = 8;
  const T* src = in.data;
  T* dst = out.data;
  const int64_t rows = in.rows, ld_in = in.ld, ld_out = out.ld;
  detail::for_chunks(in.cols, in.rows * in.cols >= kParallelMin, kB, [&](int64_t c0, int64_t c1) {
    const int64_t rows16 = rows - rows % (2 * kB);
    int64_t j = c0;
    if constexpr (std::is_same_v<T, float>) {
      if (cpu_has_avx()) {
        const int64_t c8 = c0 + (c1 - c0) / kB * kB;
        transpose_blocks_avx(dst, ld_out, src, ld_in, rows16, c0, c8);
        j = c8;
      }
    }
    transpose_block(dst, ld_out, src, ld_in, int64_t{0}, rows16, j, c1);
    transpose_block(dst, ld_out, src, ld_in, rows16, rows, c0, c1);
  });
}

bool forward_prefers_transposed(int64_t n, int64_t k, int64_t m) {
  // Measured with oneDNN 2.6 on AVX2 (docs/PERFORMANCE.md): the transposed form wins by more than
  // the copy costs from batch 64 to 256 once W holds half a million entries; at batch 512 both
  // forms run at the same speed, and below 64 the copy does not pay.
  return n >= 64 && n <= 256 && k * m >= (int64_t{1} << 19);
}

#define FCNET_INSTANTIATE(T)                                                                     \
  template void transpose<T>(MatrixView<T>, ConstView<T>);                                       \
  template void activation_forward<T>(MatrixView<T>, ConstView<T>, ActivationFn);                \
  template void activation_backward<T>(MatrixView<T>, ConstView<T>, ConstView<T>, ActivationFn,  \
                                       T*);                                                      \
  template double softmax_xent_backward<T>(MatrixView<T>, const int32_t*, T, T*, int64_t*,       \
                                           const double*);                                       \
  template double softmax_xent_forward<T>(MatrixView<T>, ConstView<T>, const int32_t*, double*); \
  template void gemm<T>(DnnlContext*, MatrixView<T>, ConstView<T>, ConstView<T>, const GemmOp<T>&);
FCNET_INSTANTIATE(float)
FCNET_INSTANTIATE(double)
#undef FCNET_INSTANTIATE

}  // namespace fcnet
