// Inverted dropout on a hidden activation: out = a ⊙ m with m = 1/keep with probability keep,
// else 0, drawn from a hash of (seed, optimizer step, layer, element) so that the backward pass
// (activation.cu) regenerates the same mask without storing it.
#include "device.cuh"

namespace fcnet::cuda {

namespace {

constexpr int kThreads = 256;

template <class T>
__global__ void dropout_kernel(T* out, const T* a, int64_t n, DropoutDraw d) {
  const int64_t t = *d.t;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    store(out, i, load(a, i) * dropout_multiplier(d, t, i));
}

}  // namespace

void dropout_forward(void* out, const void* a, Store st, int64_t count, const DropoutDraw& d,
                     cudaStream_t stream) {
  if (count <= 0) return;
  const unsigned blocks = grid_for(count, kThreads);
  if (st == Store::f32)
    dropout_kernel<float><<<blocks, kThreads, 0, stream>>>(static_cast<float*>(out),
                                                           static_cast<const float*>(a), count, d);
  else
    dropout_kernel<__nv_bfloat16><<<blocks, kThreads, 0, stream>>>(
        static_cast<__nv_bfloat16*>(out), static_cast<const __nv_bfloat16*>(a), count, d);
  check_launch("dropout_forward");
}

}  // namespace fcnet::cuda
