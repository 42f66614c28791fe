// Optimizers: one fused pass over the contiguous parameter buffer per step. Update rules follow
// torch.optim (t counts from 1):
//   sgd       p −= lr·g
//   momentum  buf = μ·buf + g;  p −= lr·buf
//   nesterov  buf = μ·buf + g;  p −= lr·(g + μ·buf)
//   adam      m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  p −= lr·m̂ / (sqrt(v̂) + eps)
//   adamw     p ·= 1 − lr·weight_decay, then as adam
//   rmsprop   v = α·v + (1−α)·g²;  p −= lr·g / (sqrt(v) + eps)
// L2 regularisation reg·‖W‖² enters as g += 2·reg·W on weight entries only (biases are not
// regularised), fused into the same pass.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fcnet/optimizer_kind.hpp"
#include "fcnet/tensor.hpp"

namespace fcnet {

OptimizerKind parse_optimizer(const std::string& name);
const char* optimizer_name(OptimizerKind k);

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::adam;
  double momentum = 0.9;       // momentum, nesterov
  double beta1 = 0.9;          // adam, adamw
  double beta2 = 0.999;        // adam, adamw
  double eps = 1e-8;           // adam, adamw, rmsprop
  double alpha = 0.99;         // rmsprop's smoothing constant
  double weight_decay = 0.01;  // adamw's decoupled decay (weights only)
};

// A [begin, end) range of the parameter buffer and whether it holds weights (regularised and
// decayed) or biases.
struct ParamRange {
  int64_t begin = 0;
  int64_t end = 0;
  bool weights = true;
};

template <class T>
class Optimizer {
 public:
  Optimizer() = default;
  // `size` is the length of the parameter buffer; `ranges` cover the parts to update.
  Optimizer(OptimizerConfig cfg, int64_t size, std::vector<ParamRange> ranges);

  // One update of `params` from `grads` at learning rate lr; l2 = 2·reg is added to weight
  // gradients on the fly (grads are not modified). Returns whether every gradient in the ranges
  // was finite; when one was not, params and the moments hold non-finite values and the caller
  // must restore its last good copy.
  bool step(T* params, const T* grads, double lr, double l2 = 0.0);

  const OptimizerConfig& config() const { return cfg_; }
  int64_t steps() const { return t_; }
  // State for checkpoints: step count and the moment buffers (empty when unused).
  Matrix<T>& first_moment() { return m_; }
  Matrix<T>& second_moment() { return v_; }
  const Matrix<T>& first_moment() const { return m_; }
  const Matrix<T>& second_moment() const { return v_; }
  void set_steps(int64_t t) { t_ = t; }

 private:
  OptimizerConfig cfg_{};
  std::vector<ParamRange> ranges_;
  Matrix<T> m_;  // momentum buffer or Adam's first moment
  Matrix<T> v_;  // Adam's / RMSprop's second moment
  int64_t t_ = 0;
};

}  // namespace fcnet
