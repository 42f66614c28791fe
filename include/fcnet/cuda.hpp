// CUDA backend: training on one NVIDIA GPU. GEMMs run through cuBLASLt with fused epilogues (bias,
// bias+ReLU with its bit mask, ReLU gradient with the bias gradient, bias gradient of the weight
// GEMM); softmax–cross-entropy and the optimizer are one kernel each; the data set stays on the
// device in its stored type and batches are gathered, converted and transformed by one kernel; a
// whole training step is captured once in a CUDA graph and replayed.
//
// This header compiles without CUDA. In a build without FCNET_CUDA, or on a machine without a
// usable device, every entry point throws fcnet::Error saying so; nothing crashes.
//
// Shape key (DESIGN.md): N batch, D input features, H_l widths, C classes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fcnet/error.hpp"
#include "fcnet/network.hpp"
#include "fcnet/optim.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet {

// Whether this build contains the CUDA backend (configured with FCNET_CUDA=ON).
bool cuda_built();

// One line per visible CUDA device (name, compute capability, memory) and the runtime, driver and
// cuBLASLt versions. Throws fcnet::Error when built without FCNET_CUDA or when no device is found.
std::string cuda_devices_info();

// Training on the device is fcnet::train with cfg.device = Device::cuda (device 0, at
// cfg.precision): the same loop, initialisation, shuffles, schedule, optimizer rules, validation,
// early stopping, checkpoints and TrainResult as on the CPU. Differences: dropout masks come from a
// counter-based hash on the device (same distribution, other draws); steps are queued, so on_step
// reports the loss of the latest read-back and a diverging run is found at the end of the epoch
// (the error names the first step whose loss was not finite); cfg.f64 is CPU-only. Class and
// example weights mean what they mean on the CPU; with data-parallel ranks (TrainCallbacks::
// parallel) rank r trains on device r mod (devices) and the gradients are summed with NCCL when
// every rank has a device of its own, else through the Collective (docs/cuda.md).

// Options of the lower-level interface.
struct CudaOptions {
  Precision precision = Precision::fp32;
  // false: plain GEMMs followed by fcnet's own bias/activation/bias-gradient kernels (the path
  // used when cuBLASLt offers no algorithm for a fused epilogue), to test both paths.
  bool fused_epilogues = true;
  // Capture each step in a CUDA graph and replay it (false: launch kernel by kernel).
  bool graphs = true;
  int device = 0;
};

// One network resident on the device with its gradients and optimizer state: the building block
// of the CUDA engine, exposed for tests and benchmarks. Semantics follow the CPU functions of the
// same names: forward_backward ≙ fcnet::forward_backward(net, x, y, 0.0, ws) (no dropout,
// regularisation left to the optimizer), loss_only ≙ fcnet::loss_only with reg 0, optimizer_step ≙
// Optimizer<float>::step(params, grads, lr, l2).
class CudaNetwork {
 public:
  // Copies `net`'s parameters to the device; the optimizer state starts at zero.
  CudaNetwork(const Network<float>& net, const OptimizerConfig& opt, const CudaOptions& o = {});
  ~CudaNetwork();
  CudaNetwork(CudaNetwork&&) noexcept;
  CudaNetwork& operator=(CudaNetwork&&) noexcept;

  // Replaces the device parameters with net's (same sizes); the optimizer state is kept.
  void upload(const Network<float>& net);
  // Copies the device parameters and gradients into net (same sizes).
  void download(Network<float>& net) const;

  // Forward and backward on x (N×D) with labels y (N entries in 0..C−1): returns the data loss
  // (mean −log p[y]) and the number of correct rows, and overwrites the device gradients.
  LossParts forward_backward(ConstView<float> x, const int32_t* y);
  // Forward only: data loss and correct rows; gradients untouched.
  LossParts loss_only(ConstView<float> x, const int32_t* y);
  // One optimizer update from the current gradients at learning rate lr, with l2 = 2·reg added
  // to weight gradients.
  void optimizer_step(double lr, double l2 = 0.0);
  int64_t steps() const;

  const CudaOptions& options() const;
  // How the GEMMs of the training step at batch n are carried out (fused epilogue or fallback
  // kernels), one entry per GEMM, e.g. "L1.fwd=relu_aux_bias L2.fwd=bias L2.dW=bgrada …".
  std::string plan_summary(int64_t n);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fcnet
