// Kernels: GEMM (naive reference and oneDNN), elementwise activations, fused softmax–cross-entropy.
//
// Shape key (DESIGN.md): N batch, K inner dimension, M output columns, C classes.
// Every fast kernel has a naive reference beside it in namespace fcnet::ref; the reference is the
// test oracle and the double-precision path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fcnet/activation.hpp"
#include "fcnet/precision.hpp"
#include "fcnet/tensor.hpp"

namespace fcnet {

// One GEMM: C = f(op(A)·op(B) + bias + beta·C), op = transpose when trans_* is set.
// op(A) is N×K, op(B) is K×M, C is N×M, bias has M entries (or null), beta is 0 or 1.
// The activation is applied only when `activate` is set (then beta must be 0).
template <class T>
struct GemmOp {
  bool trans_a = false;
  bool trans_b = false;
  T beta = 0;
  const T* bias = nullptr;
  bool activate = false;
  ActivationFn act{};
};

namespace ref {

// Naive loops, accumulating in double: the specification and the test oracle.
template <class T>
void gemm(MatrixView<T> c, ConstView<T> a, ConstView<T> b, const GemmOp<T>& op);

// a = f(z) elementwise. Shapes: z, a N×M.
template <class T>
void activation_forward(MatrixView<T> a, ConstView<T> z, ActivationFn f);

// dz = da ⊙ f'(·) where `saved` is z when backward_needs_z(f), else a; when db is not null,
// db[j] = Σ_i dz[i, j] (the bias gradient of the layer that produced z). dz may alias da.
template <class T>
void activation_backward(MatrixView<T> dz, ConstView<T> da, ConstView<T> saved, ActivationFn f,
                         T* db);

// Fused softmax–cross-entropy forward and backward on scores S (N×C) with labels y:
// returns Σ_i −log softmax(S)[i, y_i] (not divided by N); overwrites S with
// dscores = (softmax(S) − onehot(y)) · scale; db[c] = Σ_i dscores[i, c] when db is not null.
// When correct is not null it receives the number of rows whose highest score is at y_i. With
// row weights w (N values), row i's loss counts w_i times and its dscores are scaled by scale·w_i
// (the weighted mean Σ w_i·L_i / Σ w_i when scale = 1 / Σ w_i).
template <class T>
double softmax_xent_backward(MatrixView<T> scores, const int32_t* y, T scale, T* db,
                             int64_t* correct = nullptr, const double* w = nullptr);

// out = inᵀ (out is in.cols × in.rows).
template <class T>
void transpose(MatrixView<T> out, ConstView<T> in);

// bfloat16 is the upper half of a float32's bits. to_bf16 rounds to nearest, ties to even
// (subnormals included; a NaN stays a quiet NaN with its sign); from_bf16 is exact.
uint16_t to_bf16(float v);
float from_bf16(uint16_t v);

// out = in rounded to bf16, row-major with rows out_ld apart: in's shape, or inᵀ when `trans`.
void to_bf16(uint16_t* out, int64_t out_ld, ConstView<float> in, bool trans);

}  // namespace ref

// Fast CPU kernels (OpenMP; the same results for the same thread count).
template <class T>
void activation_forward(MatrixView<T> a, ConstView<T> z, ActivationFn f);
template <class T>
void activation_backward(MatrixView<T> dz, ConstView<T> da, ConstView<T> saved, ActivationFn f,
                         T* db);
template <class T>
double softmax_xent_backward(MatrixView<T> scores, const int32_t* y, T scale, T* db,
                             int64_t* correct = nullptr, const double* w = nullptr);

// Softmax–cross-entropy forward only: probs (N×C, may alias scores) = softmax(S), and per-example
// −log probs[i, y_i] into losses (N entries) when y and losses are not null. Returns their sum.
template <class T>
double softmax_xent_forward(MatrixView<T> probs, ConstView<T> scores, const int32_t* y,
                            double* losses);

// As ref::to_bf16 (the same bits), vectorised, on the configured threads.
void to_bf16(uint16_t* out, int64_t out_ld, ConstView<float> in, bool trans);

// Whether this CPU runs bf16 GEMMs in hardware (AVX512_BF16; AMX CPUs have it too).
bool cpu_has_bf16_gemm();
// Throws fcnet::Error, naming --precision, unless this CPU's float32 GEMMs can run at `precision`
// (fp32 always; bf16 with cpu_has_bf16_gemm(); tf32 never).
void check_cpu_precision(Precision precision);

// Starts the float32 GEMM library once per process: oneDNN generates its kernels at the first
// product, whatever its shape (about 30 ms on a 2-core AVX2 machine). DnnlContext's constructor
// calls it, so a trainer's set-up pays that cost rather than its first step; a caller that times
// its own products (fcnet eval) calls it before its clock starts. Thread-safe; later calls return
// at once.
void warm_up_gemm();

// oneDNN matmul for float32, with bias and activation fused as post-ops. Primitives are created
// once per shape and operation and reused; the context owns them. Not thread-safe: one per worker.
// At Precision::bf16 the inputs of each product that gemm_pays_in_bf16 are rounded to bf16 (into
// buffers the context owns) and multiplied with f32 accumulation; C, the bias and the activation
// stay f32. Throws fcnet::Error for tf32, and for bf16 on a CPU without cpu_has_bf16_gemm().
class DnnlContext {
 public:
  explicit DnnlContext(Precision precision = Precision::fp32);
  ~DnnlContext();
  DnnlContext(const DnnlContext&) = delete;
  DnnlContext& operator=(const DnnlContext&) = delete;

  void gemm(MatrixView<float> c, ConstView<float> a, ConstView<float> b, const GemmOp<float>& op);

  // A pass: the products of one forward (and backward) computation. Between begin_pass() and
  // end_pass() a bf16 product reuses the rounded copy of an input that an earlier product of the
  // pass rounded (W_l in the forward and again in dX; dz in dW and dX), so the caller promises
  // that nothing but this context's products writes those inputs during the pass. Outside a
  // pass every product rounds its inputs afresh. Nothing changes at fp32.
  void begin_pass();
  void end_pass();

  Precision precision() const;
  // Number of distinct primitives created so far (each shape/operation once).
  std::size_t primitives_created() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether a product op(A)·op(B) with op(A) N×K and op(B) K×M runs in bf16 at Precision::bf16. The
// rounding of the inputs pays for itself only on products wide enough in K and M; thinner ones
// (the class layer, with M or K = C) stay f32. A shape rule, so the choice (and with it the
// rounding) is the same on every run.
bool gemm_pays_in_bf16(int64_t n, int64_t k, int64_t m);

// GEMM on the fastest path available for T: oneDNN for float when ctx is given, else the reference.
template <class T>
void gemm(DnnlContext* ctx, MatrixView<T> c, ConstView<T> a, ConstView<T> b, const GemmOp<T>& op);

// Whether a layer's forward product x·W (x N×K, W K×M) is faster as x·(Wᵀ)ᵀ from a transposed copy
// of W, the copy included. oneDNN's f32 GEMM re-packs a row-major W on every call, which dominates
// at small batches and wide layers (about 2× at N = 128, K×M = 1024×1024); a shape rule, so the
// choice (and with it the rounding) is the same on every run.
bool forward_prefers_transposed(int64_t n, int64_t k, int64_t m);

// out = inᵀ (out is in.cols × in.rows), in 8×8 register blocks (AVX) on the configured threads.
template <class T>
void transpose(MatrixView<T> out, ConstView<T> in);

}  // namespace fcnet
