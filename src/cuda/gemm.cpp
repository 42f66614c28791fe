#include "gemm.hpp"

#include <string>
#include <utility>

#include "fcnet/error.hpp"

namespace fcnet::cuda {

const char* epilogue_name(Epilogue e) {
  switch (e) {
    case Epilogue::none:
      return "default";
    case Epilogue::bias:
      return "bias";
    case Epilogue::relu_bias:
      return "relu_bias";
    case Epilogue::relu_aux_bias:
      return "relu_aux_bias";
    case Epilogue::drelu:
      return "drelu";
    case Epilogue::drelu_bgrad:
      return "drelu_bgrad";
    case Epilogue::bgrada:
      return "bgrada";
  }
  return "?";
}

namespace {

cublasLtEpilogue_t to_lt(Epilogue e) {
  switch (e) {
    case Epilogue::none:
      return CUBLASLT_EPILOGUE_DEFAULT;
    case Epilogue::bias:
      return CUBLASLT_EPILOGUE_BIAS;
    case Epilogue::relu_bias:
      return CUBLASLT_EPILOGUE_RELU_BIAS;
    case Epilogue::relu_aux_bias:
      return CUBLASLT_EPILOGUE_RELU_AUX_BIAS;
    case Epilogue::drelu:
      return CUBLASLT_EPILOGUE_DRELU;
    case Epilogue::drelu_bgrad:
      return CUBLASLT_EPILOGUE_DRELU_BGRAD;
    case Epilogue::bgrada:
      return CUBLASLT_EPILOGUE_BGRADA;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

bool uses_bias(Epilogue e) {
  return e != Epilogue::none && e != Epilogue::drelu;
}
bool uses_aux(Epilogue e) {
  return e == Epilogue::relu_aux_bias || e == Epilogue::drelu || e == Epilogue::drelu_bgrad;
}

std::size_t elem_bytes(cudaDataType_t t) {
  return t == CUDA_R_32F ? 4 : 2;
}

// Largest power of two (at most 256) dividing both the address and the column stride in bytes:
// what cuBLASLt may assume about a matrix operand.
uint32_t alignment_of(const void* p, int64_t ld, cudaDataType_t t) {
  const auto v = reinterpret_cast<uintptr_t>(p);
  const auto stride = static_cast<uintptr_t>(ld) * elem_bytes(t);
  uint32_t a = 256;
  while (a > 1 && (v % a != 0 || stride % a != 0)) a /= 2;
  return a;
}

void check_lt(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    fail("cuBLASLt",
         std::string(what) + " failed: " + cublasLtGetStatusName(s) + " (" +
             cublasLtGetStatusString(s) + ")",
         "a successful call");
}

template <class V>
bool set_desc(cublasLtMatmulDesc_t op, cublasLtMatmulDescAttributes_t attr, const V& v) {
  return cublasLtMatmulDescSetAttribute(op, attr, &v, sizeof(v)) == CUBLAS_STATUS_SUCCESS;
}
template <class V>
bool set_pref(cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t attr, const V& v) {
  return cublasLtMatmulPreferenceSetAttribute(p, attr, &v, sizeof(v)) == CUBLAS_STATUS_SUCCESS;
}

}  // namespace

Gemm::~Gemm() {
  reset();
}

Gemm::Gemm(Gemm&& o) noexcept {
  *this = std::move(o);
}

Gemm& Gemm::operator=(Gemm&& o) noexcept {
  if (this != &o) {
    reset();
    lt_ = std::exchange(o.lt_, nullptr);
    op_ = std::exchange(o.op_, nullptr);
    la_ = std::exchange(o.la_, nullptr);
    lb_ = std::exchange(o.lb_, nullptr);
    ld_ = std::exchange(o.ld_, nullptr);
    algo_ = o.algo_;
    spec_ = o.spec_;
    workspace_ = o.workspace_;
    workspace_bytes_ = o.workspace_bytes_;
  }
  return *this;
}

void Gemm::reset() noexcept {
  if (op_) cublasLtMatmulDescDestroy(op_);
  if (la_) cublasLtMatrixLayoutDestroy(la_);
  if (lb_) cublasLtMatrixLayoutDestroy(lb_);
  if (ld_) cublasLtMatrixLayoutDestroy(ld_);
  op_ = nullptr;
  la_ = lb_ = ld_ = nullptr;
}

bool Gemm::build(cublasLtHandle_t lt, const GemmSpec& s, void* workspace,
                 std::size_t workspace_bytes) {
  reset();
  if (s.m <= 0 || s.n <= 0 || s.k <= 0)
    fail("cuBLASLt",
         "GEMM of shape " + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" +
             std::to_string(s.k),
         "positive sizes");
  if (uses_aux(s.epilogue) && (s.aux == nullptr || s.aux_ld % 128 != 0 || s.aux_ld < s.m))
    fail("cuBLASLt",
         "ReLU mask leading dimension " + std::to_string(s.aux_ld) + " for " + std::to_string(s.m) +
             " rows",
         "a multiple of 128 bits, at least the rows of D");
  lt_ = lt;
  spec_ = s;
  workspace_ = workspace;
  workspace_bytes_ = workspace_bytes;

  check_lt(cublasLtMatmulDescCreate(&op_, s.compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
  const cublasOperation_t ta = s.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  bool ok = set_desc(op_, CUBLASLT_MATMUL_DESC_TRANSA, ta) &&
            set_desc(op_, CUBLASLT_MATMUL_DESC_TRANSB, tb);
  if (!ok) {
    reset();
    fail("cuBLASLt", "setting the transposes of a GEMM failed", "a successful call");
  }
  // Epilogue attributes a library version may not know are treated as "not supported".
  const uint32_t epi = static_cast<uint32_t>(to_lt(s.epilogue));
  ok = set_desc(op_, CUBLASLT_MATMUL_DESC_EPILOGUE, epi);
  if (ok && uses_bias(s.epilogue)) ok = set_desc(op_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, s.bias);
  if (ok && uses_aux(s.epilogue)) {
    ok = set_desc(op_, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, s.aux) &&
         set_desc(op_, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, s.aux_ld);
  }
  if (!ok) {
    reset();
    return false;
  }

  const uint64_t a_rows = static_cast<uint64_t>(s.trans_a ? s.k : s.m);
  const uint64_t a_cols = static_cast<uint64_t>(s.trans_a ? s.m : s.k);
  const uint64_t b_rows = static_cast<uint64_t>(s.trans_b ? s.n : s.k);
  const uint64_t b_cols = static_cast<uint64_t>(s.trans_b ? s.k : s.n);
  check_lt(cublasLtMatrixLayoutCreate(&la_, s.a_type, a_rows, a_cols, s.lda),
           "cublasLtMatrixLayoutCreate(A)");
  check_lt(cublasLtMatrixLayoutCreate(&lb_, s.b_type, b_rows, b_cols, s.ldb),
           "cublasLtMatrixLayoutCreate(B)");
  check_lt(cublasLtMatrixLayoutCreate(&ld_, s.d_type, static_cast<uint64_t>(s.m),
                                      static_cast<uint64_t>(s.n), s.ldd),
           "cublasLtMatrixLayoutCreate(D)");

  cublasLtMatmulPreference_t pref = nullptr;
  check_lt(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  const uint64_t ws = workspace_bytes;
  // The operands are bound now, so the heuristic may only pick algorithms that accept their
  // actual alignment (parameter tensors start on 64-byte boundaries, not 256).
  ok = set_pref(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ws) &&
       set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                alignment_of(s.a, s.lda, s.a_type)) &&
       set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                alignment_of(s.b, s.ldb, s.b_type)) &&
       set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                alignment_of(s.d, s.ldd, s.d_type)) &&
       set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                alignment_of(s.d, s.ldd, s.d_type));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  cublasStatus_t st = CUBLAS_STATUS_NOT_SUPPORTED;
  if (ok)
    st = cublasLtMatmulAlgoGetHeuristic(lt, op_, la_, lb_, ld_, ld_, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (!ok) {
    reset();
    fail("cuBLASLt", "setting the algorithm preferences failed", "a successful call");
  }
  if (st != CUBLAS_STATUS_SUCCESS || found < 1 || result.state != CUBLAS_STATUS_SUCCESS ||
      result.workspaceSize > workspace_bytes) {
    reset();
    return false;
  }
  algo_ = result.algo;
  return true;
}

void Gemm::run(cudaStream_t stream) const {
  if (!op_) fail("cuBLASLt", "running a GEMM that was not built", "a built GEMM");
  const float alpha = 1.0f, beta = 0.0f;
  check_lt(cublasLtMatmul(lt_, op_, &alpha, spec_.a, la_, spec_.b, lb_, &beta, spec_.d, ld_,
                          spec_.d, ld_, &algo_, workspace_, workspace_bytes_, stream),
           "cublasLtMatmul");
}

}  // namespace fcnet::cuda
