// The host side of the CUDA backend: device memory, the device-resident data set, and the Engine
// that owns one network's parameters, gradients and optimizer state on the device and runs
// training steps, gradient steps (tests) and evaluations through bound cuBLASLt GEMMs and the
// kernels of ops.hpp.
//
// Shape key: N batch, D = sizes[0], H_l = sizes[l], C = sizes[L]; layer l maps H_{l−1} → H_l.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fcnet/cuda.hpp"
#include "fcnet/data.hpp"
#include "fcnet/network.hpp"
#include "fcnet/optim.hpp"
#include "gemm.hpp"
#include "ops.hpp"

namespace fcnet::cuda {

[[noreturn]] void fail_cuda(cudaError_t e, const char* call, const char* file, int line);
inline void check_cuda(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess) fail_cuda(e, call, file, line);
}
#define FCNET_CUDA_CHECK(call) ::fcnet::cuda::check_cuda((call), #call, __FILE__, __LINE__)

// The number of visible devices; throws fcnet::Error "no CUDA device found" when there is none.
int visible_devices();
// Throws fcnet::Error unless device `device` exists and can run this build's code (compute
// capability 9.0 or newer).
void require_device(int device);

// The number of visible CUDA devices (0 when the runtime finds none).
int device_count();

// Device memory owned by one object.
class DeviceMemory {
 public:
  DeviceMemory() = default;
  // Zero-filled allocation of `bytes`; `what` names it in an out-of-memory error.
  DeviceMemory(std::size_t bytes, const std::string& what);
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  DeviceMemory(DeviceMemory&& o) noexcept;
  DeviceMemory& operator=(DeviceMemory&& o) noexcept;

  void* get() const { return p_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  std::size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
};

// The device, a stream, the cuBLASLt handle and its workspace.
class Context {
 public:
  explicit Context(int device);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasLtHandle_t lt() const { return lt_; }
  void* workspace() const { return workspace_.get(); }
  std::size_t workspace_bytes() const { return workspace_.bytes(); }
  // Waits for everything enqueued so far; throws on an asynchronous error.
  void sync() const;
  // Copies between host and device in stream order (the host buffer may be reused on return).
  void upload(void* dst, const void* src, std::size_t bytes) const;
  void download(void* dst, const void* src, std::size_t bytes) const;  // waits

 private:
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  DeviceMemory workspace_;
};

// A data set on the device in its stored type (uint8 stays uint8), its labels, the per-column
// transform x' = x·mul + add, and the epoch's permutation.
class DeviceData {
 public:
  // `classes` bounds the labels (checked here once, instead of per batch).
  DeviceData(const Context& ctx, const Dataset& ds, const InputTransform& tf, int64_t classes);
  // Rows of x (N×D float, contiguous) with labels y, identity transform (for CudaNetwork).
  DeviceData(const Context& ctx, ConstView<float> x, const int32_t* y, int64_t classes);

  // Uploads a permutation of 0..n−1 (stream ordered).
  void set_permutation(const Context& ctx, const std::vector<int64_t>& order);
  // Uploads one weight per example (a weighted run's w_i, gathered with the rows).
  void set_weights(const Context& ctx, const std::vector<double>& w);

  int64_t n = 0, d = 0;
  int dtype = kF32;
  bool u8_float = true;  // uint8 data computes the transform in float (PreparedTransform::u8_float)
  DeviceMemory bytes, labels, weights, perm, mul_f, add_f, mul_d, add_d;

 private:
  void upload_transform(const Context& ctx, const InputTransform& tf);
};

struct EngineConfig {
  CudaOptions options;
  OptimizerConfig optimizer;
  double l2 = 0.0;       // 2·reg, applied by the optimizer to weight gradients
  double dropout = 0.0;  // drop probability on hidden units (training steps only)
  uint64_t dropout_seed = 0;
  bool weighted = false;  // training steps gather a weight per row (DeviceData::weights)
};

// The values of each step of an epoch, uploaded by begin_epoch. Every table but lr may be empty:
// the step then uses its constant (the scale 1/rows, the loss factor 1, no skip, rows at
// s·stride).
struct EpochTables {
  std::vector<double> lr;          // learning rate
  std::vector<double> grad_scale;  // the dscores scale: 1/(batch over all ranks), or 1/Σ w
  std::vector<double> loss_scale;  // the factor of the step's loss total in the epoch's sum
  std::vector<int32_t> skip;       // 1: no optimizer update (a weighted batch of total weight 0)
  std::vector<int64_t> row_start;  // where the step's rows start in the permutation (ranks)
};

// Results read back from the device accumulators.
struct StepTotals {
  double loss_sum = 0;  // Σ −log p[y]
  int64_t correct = 0;
  int64_t bad_step = 0;  // first step (1-based, within the epoch) with a non-finite loss; 0: none
  double bad_loss = 0;
};

class Engine {
 public:
  Engine(const Network<float>& net, const EngineConfig& cfg);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Context& context() const { return ctx_; }

  // Parameters in and out (net's sizes must match). upload keeps the optimizer state.
  void upload(const Network<float>& net);
  void download(Network<float>& net, bool with_grads) const;

  // Training. begin_epoch resets the epoch accumulators, sets the step-in-epoch counter to
  // `first_step` (a resumed epoch starts inside) and uploads the learning rate of each step of the
  // epoch. train_step enqueues one step (gather of rows
  // perm[s·stride … s·stride + n − 1], forward, backward, optimizer) without waiting.
  // With tables, each step's values come from them (see EpochTables). `counted`: the step takes an
  // optimizer step (false where its skip entry is set), for steps().
  void begin_epoch(const EpochTables& tables, int64_t first_step = 0);
  void train_step(const DeviceData& data, int64_t stride, int64_t n, bool counted = true);
  // A training step in parts, for ranks whose gradients are summed between them: local_step
  // enqueues the gather of the n rows at row_start[s] of the permutation, forward and backward
  // (n ≥ 1; zero_grads instead for a rank with no rows in the step), apply_step the optimizer
  // (which advances the step counters). reserve sizes the buffers for steps of up to n rows once.
  void reserve(int64_t n);
  void local_step(const DeviceData& data, int64_t n);
  void zero_grads();
  void apply_step(bool counted);
  float* gradients() const { return grads_.as<float>(); }
  StepTotals epoch_totals();  // waits
  // Non-blocking progress: request a copy of the accumulators; poll returns true once it landed.
  void request_snapshot();
  bool poll_snapshot(StepTotals* out);

  // Tests: forward and backward on rows 0..n−1 of data (no optimizer); waits and returns the
  // totals of this batch.
  StepTotals gradient_step(const DeviceData& data, int64_t n);
  // One optimizer update from the current gradients at learning rate lr, l2 = 2·reg.
  void optimizer_step(double lr, double l2);
  // Forward only over all of data in batches of `batch`; waits.
  StepTotals evaluate(const DeviceData& data, int64_t batch);

  // Σ W_l² (grads = false) or Σ dW_l² per layer l = 1..L; waits.
  std::vector<double> layer_sum_squares(bool grads);
  // Parameter copies on the device (slot 0 or 1): keep the current parameters in one, put one
  // back, or move one to and from the host (total() floats).
  void save_copy(int slot);
  void restore_copy(int slot);
  void download_copy(int slot, float* host);
  void upload_copy(int slot, const float* host);

  // The optimizer's state: moments (total() floats each; empty when it keeps none) and its step
  // count, which also numbers the dropout draws.
  void download_moments(std::vector<float>& m, std::vector<float>& v) const;
  void upload_moments(const std::vector<float>& m, const std::vector<float>& v);
  void set_steps(int64_t t);

  int64_t steps() const { return steps_; }
  int64_t total() const { return total_; }
  std::string plan_summary(int64_t n);

 private:
  // train: a whole step (graph replayed); local: a rank's step without the optimizer; grad: tests'
  // forward and backward; eval: forward only.
  enum class Kind { train, local, grad, eval };
  struct Buffers;
  struct Plan;
  struct Source {
    const DeviceData* data = nullptr;
    const int32_t* perm = nullptr;
    const int64_t* step = nullptr;
    const int64_t* row_start = nullptr;
    int64_t stride = 0;
    int64_t base = 0;
  };
  // The epoch's tables as the kernels see them (null: not used this epoch).
  struct Tables {
    const double* grad_scale = nullptr;
    const double* loss_scale = nullptr;
    const int32_t* skip = nullptr;
    const int64_t* row_start = nullptr;
  };

  Plan& plan(Kind kind, int64_t n);
  std::unique_ptr<Plan> build_plan(Kind kind, int64_t n);
  Buffers& buffers_for(Kind kind, int64_t n);
  void enqueue(const Plan& p, const Source& src);
  void run(Plan& p, const Source& src);
  void reset_accum(Accum* acc);
  OptParams opt_params(double l2) const;
  StepTotals read_accum(const Accum* acc);

  // Typed views of the parameter buffers at the offset of W_l / b_l.
  float* param(int l, bool bias) const;
  float* grad(int l, bool bias) const;
  const void* gemm_param(int l, bool bias) const;  // fp32 or the bf16 copy, by precision

  Context ctx_;
  EngineConfig cfg_;
  std::vector<int64_t> sizes_;
  std::vector<int64_t> offsets_;
  ActivationFn act_{};
  bool need_z_ = false;
  bool bf16_ = false;
  int64_t total_ = 0;  // parameter buffer length
  DeviceMemory params_, grads_, m_, v_, shadow_, copies_[2];
  DeviceMemory ranges_;
  int nranges_ = 0;
  int64_t max_range_ = 0;
  DeviceMemory counters_, train_acc_, eval_acc_, lr_table_, norms_, norm_partials_, norm_ticket_;
  DeviceMemory grad_scale_table_, loss_scale_table_, skip_table_, row_start_table_;
  int64_t lr_capacity_ = 0;
  Tables tables_;
  std::unique_ptr<Buffers> train_buffers_, eval_buffers_;
  std::map<std::pair<int, int64_t>, std::unique_ptr<Plan>> plans_;
  int64_t steps_ = 0;
  // Progress snapshots: a pinned host copy of the accumulators and the event that marks it.
  Accum* snapshot_ = nullptr;
  cudaEvent_t snapshot_event_ = nullptr;
  bool snapshot_pending_ = false;
};

}  // namespace fcnet::cuda
