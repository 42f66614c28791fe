// The device operations of the CUDA backend, as host functions that enqueue their kernels on a
// stream (one .cu file each). This header is plain C++ (no device code), shared by the .cu files
// (compiled by nvcc as C++17) and the host side (compiled as C++20).
//
// Matrices are row-major as everywhere in fcnet: an N×M matrix has M contiguous entries per row.
// Shape key: N batch (rows), M columns, C classes.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace fcnet::cuda {

// Element type of a device activation buffer. bf16 values are passed as uint16_t bit patterns
// on the host side.
enum class Store : int { f32 = 0, bf16 = 1 };
inline std::size_t store_size(Store s) {
  return s == Store::f32 ? 4 : 2;
}

// Activation kinds; the same values as fcnet::Activation (engine.cpp checks this at compile
// time).
constexpr int kIdentity = 0, kRelu = 1, kLeakyRelu = 2, kTanh = 3, kSigmoid = 4, kGelu = 5;
struct Act {
  int kind = kRelu;
  float alpha = 0.01f;  // leaky_relu's negative slope
};

// Data set element types; the same values as fcnet::DType (u8, f32, f64).
constexpr int kU8 = 0, kF32 = 1, kF64 = 2;

// Optimizer kinds; the same values as fcnet::OptimizerKind.
constexpr int kSgd = 0, kMomentum = 1, kNesterov = 2, kAdam = 3, kAdamW = 4, kRmsprop = 5;

// Per-step counters on the device. `s` is the step within the epoch (it selects the batch of the
// permutation and the learning rate), `t` the number of optimizer steps taken. The optimizer
// kernel's last block advances both, so a replayed graph needs no host input per step.
struct Counters {
  int64_t s;
  int64_t t;
  uint32_t ticket;  // blocks of the optimizer kernel done (reset by its last block)
  uint32_t pad;
};

// Loss accumulators of an epoch or an evaluation, summed on the device and read back once.
struct Accum {
  double loss_sum;     // Σ −log p[y] over the rows seen
  long long correct;   // rows whose highest score is at the label
  long long bad_step;  // 1-based step (Counters::s + 1) whose loss was first not finite; 0: none
  double bad_loss;     // that step's mean loss
  uint32_t ticket;     // blocks of the softmax kernel done (reset by its last block)
  uint32_t pad;
};

// Inverted dropout: an element is kept with probability `keep` and then scaled by 1/keep. The
// draw is a hash of (seed, *t, layer, element index), so the backward pass regenerates the
// forward mask instead of storing it.
struct DropoutDraw {
  uint64_t seed = 0;
  const int64_t* t = nullptr;  // device: Counters::t
  int32_t layer = 0;
  float keep = 1.0f;
  float scale = 1.0f;  // 1/keep
};

// gather.cu: rows i in [0, count) of out (count×d, element type st) are example r_i of the data
// set converted and transformed, x' = x·mul[j] + add[j], y_out[i] = labels[r_i] (y_out and
// labels may be null) and w_out[i] = weights[r_i] (both may be null), where
// r_i = perm[first + base + i] with a permutation, else first + base + i; first is
// row_start[*step] with a table of step offsets, else (*step)·stride (step null: 0). dtype is
// kU8/kF32/kF64; u8 data uses the float mul_f/add_f when u8_float (PreparedTransform::u8_float),
// every other case the double mul_d/add_d, rounding only the result, as the CPU gather does.
void gather_rows(void* out, Store st, int32_t* y_out, double* w_out, const void* data, int dtype,
                 int64_t d, const int32_t* labels, const double* weights, const int32_t* perm,
                 const int64_t* step, const int64_t* row_start, int64_t stride, int64_t base,
                 int64_t count, const float* mul_f, const float* add_f, const double* mul_d,
                 const double* add_d, bool u8_float, cudaStream_t stream);

// activation.cu: over rows×cols, v = in + bias[j] (bias may be null); z_out = v when z_out is not
// null; a = f(v) when apply, else v (a may be null). `in` may alias a or z_out.
void bias_activation(void* a, void* z_out, const void* in, const float* bias, Store st,
                     int64_t rows, int64_t cols, Act f, bool apply, cudaStream_t stream);

// activation.cu: dz = da ⊙ f'(saved) ⊙ dropout multiplier (drop may be null), where saved is z
// when from_z, else the activation output a; dz may alias da. count elements.
void activation_backward(void* dz, const void* da, const void* saved, Store st, int64_t count,
                         Act f, bool from_z, const DropoutDraw* drop, cudaStream_t stream);

// dropout.cu: out = a ⊙ dropout multiplier, count elements (out may alias a).
void dropout_forward(void* out, const void* a, Store st, int64_t count, const DropoutDraw& d,
                     cudaStream_t stream);

// bias_grad.cu: db[j] = Σ_i dz[i, j] over rows×cols (fp32 result, fixed summation order).
void bias_grad(float* db, const void* dz, Store st, int64_t rows, int64_t cols,
               cudaStream_t stream);

// Per-step tables (device, indexed by Counters::s) that replace a step's constants: each may be
// null.
struct StepScales {
  const double* grad = nullptr;  // the dscores scale (1/batch over all ranks, or 1/Σ w)
  const double* loss = nullptr;  // the factor of the step's loss total in the epoch's sum
};

// softmax_xent.cu: fused softmax–cross-entropy on scores (rows×cols fp32) with labels y and row
// weights w (null: all 1). Adds the step's total Σ_i w_i·(−log softmax(S)[i, y_i]) (times
// per_step.loss[*step] when given) and the correct rows to *acc (in a fixed order: the result
// does not depend on scheduling), and records the first non-finite step (Counters::s read from
// `step`). backward: overwrites scores with dscores = (softmax(S) − onehot(y))·scale·w_i, where
// scale is per_step.grad[*step] when given, and writes a bf16 copy into dscores_bf16 when it is
// not null. part_loss/part_correct: softmax_xent_blocks(rows) entries of scratch.
void softmax_xent(float* scores, uint16_t* dscores_bf16, const int32_t* y, const double* w,
                  int64_t rows, int64_t cols, float scale, const StepScales& per_step,
                  bool backward, Accum* acc, double* part_loss, long long* part_correct,
                  const int64_t* step, cudaStream_t stream);
int64_t softmax_xent_blocks(int64_t rows);

// optimizer.cu: one update of every range of the contiguous parameter buffer, with the rules of
// src/nn/optim.cpp (l2 added to weight gradients only, adamw's decay on weights only). The
// learning rate is lr_table[ctr->s]; t = ctr->t + 1. The last block advances ctr->s and ctr->t.
// When shadow is not null it receives the bf16 copy of every updated parameter. A step whose
// skip[ctr->s] is not 0 (skip may be null) changes nothing but advances ctr->s (a weighted batch
// of total weight 0, as the CPU trainer leaves it).
struct OptRange {
  int64_t begin;
  int64_t end;
  int32_t weights;  // 1: weights (regularised, decayed); 0: biases
  int32_t pad;
};
struct OptParams {
  int kind = kAdam;
  float mu = 0.9f;    // momentum
  float b1 = 0.9f;    // adam β1
  float b2 = 0.999f;  // adam β2, or rmsprop's α
  float eps = 1e-8f;
  float l2 = 0.0f;     // 2·reg
  double beta1 = 0.9;  // for the bias corrections, in double as on the CPU
  double beta2 = 0.999;
  double weight_decay = 0.0;
};
void optimizer_step(float* p, const float* g, float* m, float* v, uint16_t* shadow,
                    const OptRange* ranges, int nranges, int64_t max_len, const OptParams& o,
                    const double* lr_table, const int32_t* skip, Counters* ctr,
                    cudaStream_t stream);

// convert.cu: dst = bf16(src), round to nearest even, n elements.
void to_bf16(uint16_t* dst, const float* src, int64_t n, cudaStream_t stream);

// norms.cu: *out = Σ x_i² in double (fixed summation order). partials: kSumSquaresBlocks entries;
// ticket: one zero-initialised counter (reset by the kernel).
constexpr int kSumSquaresBlocks = 256;
void sum_squares(double* out, const float* x, int64_t n, double* partials, uint32_t* ticket,
                 cudaStream_t stream);

}  // namespace fcnet::cuda
