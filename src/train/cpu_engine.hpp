// The CPU's evaluation of a network on a data set, shared by the CPU engine (validation) and
// fcnet::evaluate / fcnet::predict.
#pragma once

#include <cstdint>
#include <vector>

#include "fcnet/collective.hpp"
#include "fcnet/data.hpp"
#include "fcnet/network.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet::detail {

// Evaluates `net` on `data` (transform `tf` applied) in batches of `batch`: the loss, accuracy and
// confusion of labelled data; `out` (N×C, sized by the caller) receives the probabilities
// (`probs`) or the raw scores when given. `precision` is that of the float32 GEMMs. With
// `refuse_non_finite` an example whose output is not finite is an error naming the feature the
// input transform takes out of range; without, its loss is NaN (training's own evaluations, whose
// run must still end and save).
template <class T>
EvalResult evaluate_network(const Network<T>& net, const InputTransform& tf, const Dataset& data,
                            int64_t batch, Matrix<double>* out, bool probs,
                            Precision precision = Precision::fp32, bool refuse_non_finite = true);

// The dropout seed of a rank: rank 0 draws from the run's stream, the others from their own (so
// K ranks with dropout do not train the model of one process, but reruns do).
inline constexpr uint64_t kRankDropoutStride = 0x51ED27ULL;
inline uint64_t rank_dropout_seed(uint64_t run_seed, const Collective* comm) {
  return run_seed + (comm ? kRankDropoutStride * static_cast<uint64_t>(comm->rank()) : 0);
}

// The weight w_i of training example i (its example weight times its class's weight; 1 without
// either), and the gradient scale of a batch of total weight `total` over all ranks: 1/total, or
// 1 for a batch of weight 0 (whose gradient is zero and which takes no optimizer step).
inline double example_weight(const Dataset& d, const TrainConfig& cfg, int64_t i) {
  return (d.weights.empty() ? 1.0 : d.weights[static_cast<std::size_t>(i)]) *
         (cfg.class_weights.empty()
              ? 1.0
              : cfg.class_weights[static_cast<std::size_t>(d.labels[static_cast<std::size_t>(i)])]);
}
inline double weighted_scale(double total) {
  return total > 0 ? 1.0 / total : 1.0;
}

// n values as doubles, the form of a checkpoint's buffers (exact for float and double).
template <class T>
std::vector<double> to_doubles(const T* p, int64_t n) {
  return std::vector<double>(p, p + n);
}

}  // namespace fcnet::detail
