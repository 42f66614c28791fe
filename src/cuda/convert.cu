// fp32 → bf16 conversion of a buffer (the bf16 copy of the parameters after an upload; the
// optimizer keeps it current afterwards).
#include "device.cuh"

namespace fcnet::cuda {

namespace {

__global__ void to_bf16_kernel(__nv_bfloat16* __restrict__ dst, const float* __restrict__ src,
                               int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}

}  // namespace

void to_bf16(uint16_t* dst, const float* src, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  to_bf16_kernel<<<grid_for(n, 256), 256, 0, stream>>>(reinterpret_cast<__nv_bfloat16*>(dst), src,
                                                       n);
  check_launch("to_bf16");
}

}  // namespace fcnet::cuda
