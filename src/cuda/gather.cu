// Fused batch gather: example rows picked through the epoch's permutation, converted from the
// stored type (uint8, float, double) to the compute type (fp32 or bf16) and transformed
// (x' = x·mul + add per column), in one pass over the device-resident data set.
#include "device.cuh"

namespace fcnet::cuda {

namespace {

// x·m + a rounded after each operation (no fused multiply-add), as the CPU gather computes it.
__device__ __forceinline__ float affine(float x, float m, float a) {
  return __fadd_rn(__fmul_rn(x, m), a);
}
__device__ __forceinline__ double affine(double x, double m, double a) {
  return __dadd_rn(__dmul_rn(x, m), a);
}

// One block per output row; its threads stride over the d columns. A is the arithmetic type:
// float for uint8 data whose float factors are exact enough, double otherwise (as the CPU's
// gather).
template <class S, class A, class T>
__global__ void gather_kernel(T* __restrict__ out, int32_t* __restrict__ y_out,
                              double* __restrict__ w_out, const S* __restrict__ data, int64_t d,
                              const int32_t* __restrict__ labels,
                              const double* __restrict__ weights, const int32_t* __restrict__ perm,
                              const int64_t* __restrict__ step,
                              const int64_t* __restrict__ row_start, int64_t stride, int64_t base,
                              int64_t count, const A* __restrict__ mul, const A* __restrict__ add) {
  const int64_t i = blockIdx.x;
  if (i >= count) return;
  const int64_t s = step ? *step : 0;
  const int64_t pos = (row_start && step ? row_start[s] : s * stride) + base + i;
  const int64_t r = perm ? static_cast<int64_t>(perm[pos]) : pos;
  const S* src = data + r * d;
  T* dst = out + i * d;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
    store(dst, j, static_cast<float>(affine(static_cast<A>(src[j]), mul[j], add[j])));
  if (threadIdx.x == 0 && y_out && labels) y_out[i] = labels[r];
  if (threadIdx.x == 0 && w_out && weights) w_out[i] = weights[r];
}

// The operands every instance of the kernel takes (its arguments but the typed ones).
struct Rows {
  int32_t* y_out;
  double* w_out;
  int64_t d;
  const int32_t* labels;
  const double* weights;
  const int32_t* perm;
  const int64_t* step;
  const int64_t* row_start;
  int64_t stride, base, count;
};

template <class S, class A>
void launch(void* out, Store st, const void* data, const Rows& r, const A* mul, const A* add,
            cudaStream_t stream) {
  const int64_t d = r.d, count = r.count;
  const unsigned blocks = static_cast<unsigned>(count);
  const int threads = d >= 256 ? 256 : (d >= 64 ? 128 : 32);
  if (st == Store::f32)
    gather_kernel<S, A, float><<<blocks, threads, 0, stream>>>(
        static_cast<float*>(out), r.y_out, r.w_out, static_cast<const S*>(data), d, r.labels,
        r.weights, r.perm, r.step, r.row_start, r.stride, r.base, count, mul, add);
  else
    gather_kernel<S, A, __nv_bfloat16><<<blocks, threads, 0, stream>>>(
        static_cast<__nv_bfloat16*>(out), r.y_out, r.w_out, static_cast<const S*>(data), d,
        r.labels, r.weights, r.perm, r.step, r.row_start, r.stride, r.base, count, mul, add);
}

}  // namespace

void gather_rows(void* out, Store st, int32_t* y_out, double* w_out, const void* data, int dtype,
                 int64_t d, const int32_t* labels, const double* weights, const int32_t* perm,
                 const int64_t* step, const int64_t* row_start, int64_t stride, int64_t base,
                 int64_t count, const float* mul_f, const float* add_f, const double* mul_d,
                 const double* add_d, bool u8_float, cudaStream_t stream) {
  if (count <= 0) return;
  const Rows r{y_out, w_out, d, labels, weights, perm, step, row_start, stride, base, count};
  switch (dtype) {
    case kU8:
      if (u8_float)
        launch<uint8_t, float>(out, st, data, r, mul_f, add_f, stream);
      else
        launch<uint8_t, double>(out, st, data, r, mul_d, add_d, stream);
      break;
    case kF32:
      launch<float, double>(out, st, data, r, mul_d, add_d, stream);
      break;
    default:
      launch<double, double>(out, st, data, r, mul_d, add_d, stream);
      break;
  }
  check_launch("gather_rows");
}

}  // namespace fcnet::cuda
