// The optimizers fcnet has, and which moments each keeps. Plain C++17 with no includes, so that the
// CUDA kernels (compiled by nvcc as C++17) read the same table as the CPU optimizer, the
// checkpoint checks and the CUDA engine.
#pragma once

namespace fcnet {

enum class OptimizerKind { sgd, momentum, nesterov, adam, adamw, rmsprop };

// A first moment: the momentum buffer (momentum, nesterov) or Adam's m.
constexpr bool keeps_first_moment(OptimizerKind k) {
  return k == OptimizerKind::momentum || k == OptimizerKind::nesterov || k == OptimizerKind::adam ||
         k == OptimizerKind::adamw;
}
// A second moment: the running mean of g² (adam, adamw, rmsprop).
constexpr bool keeps_second_moment(OptimizerKind k) {
  return k == OptimizerKind::adam || k == OptimizerKind::adamw || k == OptimizerKind::rmsprop;
}

}  // namespace fcnet
