// cuBLASLt GEMMs with fused epilogues, bound once to their operands.
//
// cuBLASLt is column-major; fcnet's matrices are row-major. A row-major R×C matrix with C
// contiguous entries per row is the column-major C×R matrix with leading dimension C, so the
// row-major product Z (N×H) = X (N×K) · W (K×H) is computed as the column-major
// Zᵀ (H×N) = Wᵀ (H×K) · Xᵀ (K×N): m = H, n = N, k = K, A = W's buffer (ld H), B = X's (ld K),
// no transposes. The engine derives the backward GEMMs the same way.
#pragma once

#include <cublasLt.h>

#include <cstddef>
#include <cstdint>

namespace fcnet::cuda {

// The epilogues fcnet uses (a subset of cublasLtEpilogue_t).
enum class Epilogue {
  none,           // D = A·B
  bias,           // D = A·B + bias (bias: m entries, broadcast over the n columns)
  relu_bias,      // D = relu(A·B + bias)
  relu_aux_bias,  // as relu_bias, and the bit mask of D > 0 into aux
  drelu,          // D = (A·B) ⊙ [mask from aux]
  drelu_bgrad,    // as drelu, and bias ← Σ over the n columns of D (the bias gradient)
  bgrada,         // D = A·B, and bias ← Σ over k of A (rows of A: the bias gradient)
};
const char* epilogue_name(Epilogue e);

// Column-major D (m×n, leading dimension ldd) = op(A)·op(B); A is stored m×k (k×m when
// trans_a), B k×n (n×k when trans_b).
struct GemmSpec {
  bool trans_a = false;
  bool trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;
  int64_t lda = 0;
  cudaDataType_t a_type = CUDA_R_32F;
  const void* b = nullptr;
  int64_t ldb = 0;
  cudaDataType_t b_type = CUDA_R_32F;
  void* d = nullptr;
  int64_t ldd = 0;
  cudaDataType_t d_type = CUDA_R_32F;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  Epilogue epilogue = Epilogue::none;
  const void* bias = nullptr;  // bias (type of D) or bias-gradient output (fp32 here)
  void* aux = nullptr;         // ReLU bit mask
  int64_t aux_ld = 0;          // in bits: a multiple of 128, at least m
};

// One bound GEMM: descriptors, layouts and the algorithm chosen by the heuristic are kept, so
// run() is a single cublasLtMatmul call (valid inside CUDA graph capture).
class Gemm {
 public:
  Gemm() = default;
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;
  Gemm(Gemm&& o) noexcept;
  Gemm& operator=(Gemm&& o) noexcept;

  // Prepares the GEMM; returns false, keeping nothing, when cuBLASLt has no algorithm for it
  // (an epilogue unsupported for these types or layouts). Throws fcnet::Error on other failures.
  bool build(cublasLtHandle_t lt, const GemmSpec& spec, void* workspace,
             std::size_t workspace_bytes);
  // Enqueues the GEMM on `stream`.
  void run(cudaStream_t stream) const;
  Epilogue epilogue() const { return spec_.epilogue; }

 private:
  void reset() noexcept;
  cublasLtHandle_t lt_ = nullptr;
  cublasLtMatmulDesc_t op_ = nullptr;
  cublasLtMatrixLayout_t la_ = nullptr, lb_ = nullptr, ld_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
  GemmSpec spec_{};
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_ = 0;
};

}  // namespace fcnet::cuda
