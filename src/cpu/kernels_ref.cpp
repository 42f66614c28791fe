// Reference kernels: plain loops written for clarity, accumulating in double. They define what the
// fast kernels must compute and are the double-precision path.
#include <cmath>
#include <vector>

#include "fcnet/kernels.hpp"

namespace fcnet::ref {

template <class T>
void gemm(MatrixView<T> c, ConstView<T> a, ConstView<T> b, const GemmOp<T>& op) {
  const int64_t n = c.rows, m = c.cols;
  const int64_t k = op.trans_a ? a.rows : a.cols;
  auto A = [&](int64_t i, int64_t p) { return op.trans_a ? a(p, i) : a(i, p); };
  auto B = [&](int64_t p, int64_t j) { return op.trans_b ? b(j, p) : b(p, j); };
  std::vector<double> acc(static_cast<std::size_t>(m));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) acc[j] = op.bias ? static_cast<double>(op.bias[j]) : 0.0;
    for (int64_t p = 0; p < k; ++p) {
      const double aip = A(i, p);
      for (int64_t j = 0; j < m; ++j) acc[j] += aip * static_cast<double>(B(p, j));
    }
    for (int64_t j = 0; j < m; ++j) {
      double v = acc[j];
      if (op.beta != T(0)) v += static_cast<double>(op.beta) * static_cast<double>(c(i, j));
      if (op.activate) v = activation_value(op.act, v);
      c(i, j) = static_cast<T>(v);
    }
  }
}

template <class T>
void activation_forward(MatrixView<T> a, ConstView<T> z, ActivationFn f) {
  for (int64_t i = 0; i < z.rows; ++i)
    for (int64_t j = 0; j < z.cols; ++j)
      a(i, j) = static_cast<T>(activation_value(f, static_cast<double>(z(i, j))));
}

template <class T>
void activation_backward(MatrixView<T> dz, ConstView<T> da, ConstView<T> saved, ActivationFn f,
                         T* db) {
  const bool from_z = backward_needs_z(f);
  std::vector<double> sums(static_cast<std::size_t>(da.cols), 0.0);
  for (int64_t i = 0; i < da.rows; ++i)
    for (int64_t j = 0; j < da.cols; ++j) {
      const double s = static_cast<double>(saved(i, j));
      const double g = from_z ? activation_grad_z(f, s) : activation_grad_a(f, s);
      const double v = static_cast<double>(da(i, j)) * g;
      dz(i, j) = static_cast<T>(v);
      sums[j] += v;
    }
  if (db)
    for (int64_t j = 0; j < da.cols; ++j) db[j] = static_cast<T>(sums[j]);
}

template <class T>
double softmax_xent_backward(MatrixView<T> scores, const int32_t* y, T scale, T* db,
                             int64_t* correct, const double* w) {
  const int64_t n = scores.rows, c = scores.cols;
  double total = 0.0;
  std::vector<double> sums(static_cast<std::size_t>(c), 0.0);
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    double mx = -INFINITY;
    int64_t arg = 0;
    for (int64_t j = 0; j < c; ++j)
      if (static_cast<double>(scores(i, j)) > mx) mx = static_cast<double>(scores(i, arg = j));
    hits += arg == y[i];
    double sum = 0.0;
    for (int64_t j = 0; j < c; ++j) sum += std::exp(static_cast<double>(scores(i, j)) - mx);
    const double lse = mx + std::log(sum);
    const double wi = w ? w[i] : 1.0;
    total += wi * (lse - static_cast<double>(scores(i, y[i])));
    for (int64_t j = 0; j < c; ++j) {
      const double p = std::exp(static_cast<double>(scores(i, j)) - lse);
      const double d = (p - (j == y[i] ? 1.0 : 0.0)) * static_cast<double>(scale) * wi;
      scores(i, j) = static_cast<T>(d);
      sums[j] += d;
    }
  }
  if (db)
    for (int64_t j = 0; j < c; ++j) db[j] = static_cast<T>(sums[j]);
  if (correct) *correct = hits;
  return total;
}

template <class T>
void transpose(MatrixView<T> out, ConstView<T> in) {
  for (int64_t i = 0; i < in.rows; ++i)
    for (int64_t j = 0; j < in.cols; ++j) out(j, i) = in(i, j);
}

#define FCNET_INSTANTIATE(T)                                                                    \
  template void gemm<T>(MatrixView<T>, ConstView<T>, ConstView<T>, const GemmOp<T>&);           \
  template void transpose<T>(MatrixView<T>, ConstView<T>);                                      \
  template void activation_forward<T>(MatrixView<T>, ConstView<T>, ActivationFn);               \
  template void activation_backward<T>(MatrixView<T>, ConstView<T>, ConstView<T>, ActivationFn, \
                                       T*);                                                     \
  template double softmax_xent_backward<T>(MatrixView<T>, const int32_t*, T, T*, int64_t*,      \
                                           const double*);
FCNET_INSTANTIATE(float)
FCNET_INSTANTIATE(double)
#undef FCNET_INSTANTIATE

}  // namespace fcnet::ref
