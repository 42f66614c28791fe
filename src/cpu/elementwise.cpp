// Fast elementwise kernels. Work is split across OpenMP threads in fixed, static partitions so that
// the same thread count gives bit-identical results; small inputs stay on one thread, where the
// cost of waking the pool exceeds the work.

#include <algorithm>
#include <cmath>
#include <type_traits>

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
                             int64_t* correct) {
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
          part.total += std::log(se) - margin;
          const T inv_scaled = static_cast<T>(1.0 / se) * scale;
          for (int64_t j = 0; j < c; ++j) s[j] *= inv_scaled;
          s[y[i]] -= scale;
        }
        return part;
      },
      [](Part x, Part w) {
        return Part{x.total + w.total, x.hits + w.hits};
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

template <class T>
void transpose(DnnlContext* ctx, MatrixView<T> out, ConstView<T> in) {
  if constexpr (std::is_same_v<T, float>) {
    if (ctx) {
      ctx->transpose(out, in);
      return;
    }
  }
  (void)ctx;
  ref::transpose(out, in);
}

bool forward_prefers_transposed(int64_t n, int64_t k, int64_t m) {
  // Measured with oneDNN 2.6 on AVX2 (docs/PERFORMANCE.md): the transposed form wins by more than
  // the copy costs from batch 64 to 256 once W holds half a million entries; at batch 512 both
  // forms run at the same speed, and below 64 the copy does not pay.
  return n >= 64 && n <= 256 && k * m >= (int64_t{1} << 19);
}

#define FCNET_INSTANTIATE(T)                                                                     \
  template void transpose<T>(DnnlContext*, MatrixView<T>, ConstView<T>);                         \
  template void activation_forward<T>(MatrixView<T>, ConstView<T>, ActivationFn);                \
  template void activation_backward<T>(MatrixView<T>, ConstView<T>, ConstView<T>, ActivationFn,  \
                                       T*);                                                      \
  template double softmax_xent_backward<T>(MatrixView<T>, const int32_t*, T, T*, int64_t*);      \
  template double softmax_xent_forward<T>(MatrixView<T>, ConstView<T>, const int32_t*, double*); \
  template void gemm<T>(DnnlContext*, MatrixView<T>, ConstView<T>, ConstView<T>, const GemmOp<T>&);
FCNET_INSTANTIATE(float)
FCNET_INSTANTIATE(double)
#undef FCNET_INSTANTIATE

}  // namespace fcnet
