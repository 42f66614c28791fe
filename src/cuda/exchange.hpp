// The sum of the ranks' gradients on their devices for data-parallel training on CUDA: NCCL's
// all-reduce on the device buffers when every rank has a device of its own, otherwise (two ranks
// on one device, which NCCL refuses, or a build without NCCL) through the host Collective:
// download, sum, upload.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine.hpp"
#include "fcnet/collective.hpp"

namespace fcnet::cuda {

class GradientSum {
 public:
  // Collective: every rank constructs one at the same point, each on its own Context's device.
  GradientSum(Collective& comm, const Context& ctx);
  ~GradientSum();
  GradientSum(const GradientSum&) = delete;
  GradientSum& operator=(const GradientSum&) = delete;

  // Whether the sums go through NCCL (the same answer on every rank).
  bool nccl() const { return nccl_ != nullptr; }
  // v (n floats on the device) becomes its sum over the ranks, in the context's stream order
  // (through the host, this waits for the stream).
  void sum(float* v, int64_t n);

 private:
  struct Nccl;
  Collective& comm_;
  const Context& ctx_;
  std::unique_ptr<Nccl> nccl_;
  std::vector<float> host_;
};

// Whether this build has NCCL (cmake/cuda.cmake links it when the toolkit has it).
bool nccl_built();

}  // namespace fcnet::cuda
