// Σ x² of a device buffer in double, for the per-layer weight and gradient norms of the epoch
// records and the L2 term of the reported loss. A fixed grid and a fixed reduction tree make the
// result independent of scheduling.
#include "device.cuh"

namespace fcnet::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void sum_squares_kernel(double* out, const float* __restrict__ x, int64_t n,
                                   double* __restrict__ partials, uint32_t* ticket) {
  __shared__ double red[kThreads];
  __shared__ bool s_last;
  double s = 0.0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const double v = x[i];
    s += v * v;
  }
  red[threadIdx.x] = s;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (static_cast<int>(threadIdx.x) < w) red[threadIdx.x] += red[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    partials[blockIdx.x] = red[0];
    __threadfence();
    s_last = atomicAdd(ticket, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!s_last) return;
  red[threadIdx.x] = threadIdx.x < gridDim.x ? __ldcg(partials + threadIdx.x) : 0.0;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (static_cast<int>(threadIdx.x) < w) red[threadIdx.x] += red[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    *out = red[0];
    *ticket = 0;
  }
}

}  // namespace

void sum_squares(double* out, const float* x, int64_t n, double* partials, uint32_t* ticket,
                 cudaStream_t stream) {
  static_assert(kSumSquaresBlocks <= kThreads, "the last block reduces one partial per thread");
  sum_squares_kernel<<<kSumSquaresBlocks, kThreads, 0, stream>>>(out, x, n, partials, ticket);
  check_launch("sum_squares");
}

}  // namespace fcnet::cuda
