#include "fcnet/optim.hpp"

#include "core/names.hpp"
#include "core/parallel.hpp"

#include <cmath>

#include "fcnet/error.hpp"

namespace fcnet {

namespace {
constexpr const char* kOptimizerNames[] = {"sgd",  "momentum", "nesterov",
                                           "adam", "adamw",    "rmsprop"};
}  // namespace

OptimizerKind parse_optimizer(const std::string& name) {
  return static_cast<OptimizerKind>(
      detail::parse_name(kOptimizerNames, name, "--optimizer", "optimizer"));
}

const char* optimizer_name(OptimizerKind k) {
  return detail::name_at(kOptimizerNames, static_cast<int>(k));
}

template <class T>
Optimizer<T>::Optimizer(OptimizerConfig cfg, int64_t size, std::vector<ParamRange> ranges)
    : cfg_(cfg), ranges_(std::move(ranges)) {
  if (keeps_first_moment(cfg_.kind)) m_.resize(1, size, "optimizer state");
  if (keeps_second_moment(cfg_.kind)) v_.resize(1, size, "optimizer state");
}

namespace {

constexpr int64_t kParallelMin = 1 << 16;

// The update of elements [0, n) of one range; K is fixed at compile time so the loop vectorises.
// Returns 1 when some g[i] was not finite (checked in the same pass, so the trainer's divergence
// test costs no extra sweep over the gradients).
template <class T, OptimizerKind K>
int update_span(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
                T lr, T l2, T mu, T b1, T b2, T eps, T step_size, T inv_bc2_sqrt, T decay) {
  int bad = 0;
#pragma omp simd reduction(| : bad)
  for (int64_t i = 0; i < n; ++i) {
    bad |= !(g[i] - g[i] == T(0));  // NaN and ±Inf give NaN here
    const T gi = g[i] + l2 * p[i];
    if constexpr (K == OptimizerKind::sgd) {
      p[i] -= lr * gi;
    } else if constexpr (K == OptimizerKind::momentum) {
      m[i] = mu * m[i] + gi;
      p[i] -= lr * m[i];
    } else if constexpr (K == OptimizerKind::nesterov) {
      m[i] = mu * m[i] + gi;
      p[i] -= lr * (gi + mu * m[i]);
    } else if constexpr (K == OptimizerKind::rmsprop) {
      v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
      p[i] -= lr * gi / (std::sqrt(v[i]) + eps);
    } else {  // adam, adamw
      if constexpr (K == OptimizerKind::adamw) p[i] *= decay;
      m[i] = b1 * m[i] + (T(1) - b1) * gi;
      v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
      p[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_bc2_sqrt + eps);
    }
  }
  return bad;
}

// The whole range, split over the threads when it is large. Returns whether all of g was finite.
template <class T, OptimizerKind K>
bool update(T* p, const T* g, T* m, T* v, int64_t n, T lr, T l2, T mu, T b1, T b2, T eps,
            T step_size, T inv_bc2_sqrt, T decay) {
  const int bad = detail::reduce_chunks(
      n, n >= kParallelMin, 16, 0,
      [&](int64_t b, int64_t e) {
        return update_span<T, K>(p + b, g + b, m ? m + b : nullptr, v ? v + b : nullptr, e - b, lr,
                                 l2, mu, b1, b2, eps, step_size, inv_bc2_sqrt, decay);
      },
      [](int x, int y) { return x | y; });
  return bad == 0;
}

}  // namespace

template <class T>
bool Optimizer<T>::step(T* params, const T* grads, double lr, double l2) {
  ++t_;
  const double t = static_cast<double>(t_);
  const double bc1 = 1.0 - std::pow(cfg_.beta1, t), bc2 = 1.0 - std::pow(cfg_.beta2, t);
  const T step_size = static_cast<T>(lr / bc1);
  const T inv_bc2_sqrt = static_cast<T>(1.0 / std::sqrt(bc2));
  const T mu = static_cast<T>(cfg_.momentum);
  const T b1 = static_cast<T>(cfg_.beta1);
  const T b2 = static_cast<T>(cfg_.kind == OptimizerKind::rmsprop ? cfg_.alpha : cfg_.beta2);
  const T eps = static_cast<T>(cfg_.eps);
  bool finite = true;
  for (const ParamRange& r : ranges_) {
    const int64_t n = r.end - r.begin;
    T* p = params + r.begin;
    const T* g = grads + r.begin;
    T* m = m_.size() ? m_.data() + r.begin : nullptr;
    T* v = v_.size() ? v_.data() + r.begin : nullptr;
    const T rl2 = r.weights ? static_cast<T>(l2) : T(0);
    const T decay = static_cast<T>(r.weights ? 1.0 - lr * cfg_.weight_decay : 1.0);
    const T tlr = static_cast<T>(lr);
#define FCNET_CASE(K)                                                                           \
  case K:                                                                                       \
    finite &=                                                                                   \
        update<T, K>(p, g, m, v, n, tlr, rl2, mu, b1, b2, eps, step_size, inv_bc2_sqrt, decay); \
    break;
    switch (cfg_.kind) {
      FCNET_CASE(OptimizerKind::sgd)
      FCNET_CASE(OptimizerKind::momentum)
      FCNET_CASE(OptimizerKind::nesterov)
      FCNET_CASE(OptimizerKind::adam)
      FCNET_CASE(OptimizerKind::adamw)
      FCNET_CASE(OptimizerKind::rmsprop)
    }
#undef FCNET_CASE
  }
  return finite;
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace fcnet
