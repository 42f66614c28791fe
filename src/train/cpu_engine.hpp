// The CPU's evaluation of a network on a data set, shared by the CPU engine (validation) and
// fcnet::evaluate / fcnet::predict.
#pragma once

#include <cstdint>
#include <vector>

#include "fcnet/data.hpp"
#include "fcnet/network.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet::detail {

// Evaluates `net` on `data` (transform `tf` applied) in batches of `batch`: the loss, accuracy and
// confusion of labelled data; `out` (N×C, sized by the caller) receives the probabilities
// (`probs`) or the raw scores when given. `precision` is that of the float32 GEMMs.
template <class T>
EvalResult evaluate_network(const Network<T>& net, const InputTransform& tf, const Dataset& data,
                            int64_t batch, Matrix<double>* out, bool probs,
                            Precision precision = Precision::fp32);

// n values as doubles, the form of a checkpoint's buffers (exact for float and double).
template <class T>
std::vector<double> to_doubles(const T* p, int64_t n) {
  return std::vector<double>(p, p + n);
}

}  // namespace fcnet::detail
