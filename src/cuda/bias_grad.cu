// Bias gradient db[j] = Σ_i dz[i, j] (column sums of a row-major rows×cols matrix), used when the
// weight GEMM's BGRADA epilogue is not available. Each block owns 32 columns; its 8 row-slices sum
// in a fixed order, so the result does not depend on scheduling.
#include "device.cuh"

namespace fcnet::cuda {

namespace {

constexpr int kCols = 32;
constexpr int kSlices = 8;

template <class T>
__global__ void bias_grad_kernel(float* __restrict__ db, const T* __restrict__ dz, int64_t rows,
                                 int64_t cols) {
  __shared__ float part[kSlices][kCols];
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kCols + threadIdx.x;
  float s = 0.0f;
  if (j < cols)
    for (int64_t i = threadIdx.y; i < rows; i += kSlices) s += load(dz, i * cols + j);
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < cols) {
    float total = 0.0f;
    for (int k = 0; k < kSlices; ++k) total += part[k][threadIdx.x];
    db[j] = total;
  }
}

}  // namespace

void bias_grad(float* db, const void* dz, Store st, int64_t rows, int64_t cols,
               cudaStream_t stream) {
  if (cols <= 0) return;
  const dim3 threads(kCols, kSlices);
  const unsigned blocks = static_cast<unsigned>((cols + kCols - 1) / kCols);
  if (st == Store::f32)
    bias_grad_kernel<float>
        <<<blocks, threads, 0, stream>>>(db, static_cast<const float*>(dz), rows, cols);
  else
    bias_grad_kernel<__nv_bfloat16>
        <<<blocks, threads, 0, stream>>>(db, static_cast<const __nv_bfloat16*>(dz), rows, cols);
  check_launch("bias_grad");
}

}  // namespace fcnet::cuda
