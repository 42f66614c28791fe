// Elementwise activation kernels: bias + activation after a GEMM whose epilogue could not do it
// (every activation but relu, or when cuBLASLt offers no fused algorithm), and the activation's
// backward pass with the dropout mask folded in.
#include "device.cuh"

namespace fcnet::cuda {

namespace {

constexpr int kThreads = 256;

template <class T>
__global__ void bias_activation_kernel(T* a, T* z_out, const T* in, const float* __restrict__ bias,
                                       int64_t rows, int64_t cols, Act f, bool apply) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v = load(in, i);
    if (bias) v += bias[i % cols];
    if (z_out) store(z_out, i, v);
    if (a) store(a, i, apply ? act_value(f, v) : v);
  }
}

template <class T>
__global__ void activation_backward_kernel(T* dz, const T* da, const T* __restrict__ saved,
                                           int64_t n, Act f, bool from_z, DropoutDraw drop,
                                           bool dropout) {
  const int64_t t = dropout ? *drop.t : 0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float s = load(saved, i);
    float g = from_z ? act_grad_z(f, s) : act_grad_a(f, s);
    if (dropout) g *= dropout_multiplier(drop, t, i);
    store(dz, i, load(da, i) * g);
  }
}

}  // namespace

void bias_activation(void* a, void* z_out, const void* in, const float* bias, Store st,
                     int64_t rows, int64_t cols, Act f, bool apply, cudaStream_t stream) {
  const int64_t n = rows * cols;
  if (n <= 0) return;
  const unsigned blocks = grid_for(n, kThreads);
  if (st == Store::f32)
    bias_activation_kernel<float><<<blocks, kThreads, 0, stream>>>(
        static_cast<float*>(a), static_cast<float*>(z_out), static_cast<const float*>(in), bias,
        rows, cols, f, apply);
  else
    bias_activation_kernel<__nv_bfloat16><<<blocks, kThreads, 0, stream>>>(
        static_cast<__nv_bfloat16*>(a), static_cast<__nv_bfloat16*>(z_out),
        static_cast<const __nv_bfloat16*>(in), bias, rows, cols, f, apply);
  check_launch("bias_activation");
}

void activation_backward(void* dz, const void* da, const void* saved, Store st, int64_t count,
                         Act f, bool from_z, const DropoutDraw* drop, cudaStream_t stream) {
  if (count <= 0) return;
  const unsigned blocks = grid_for(count, kThreads);
  const DropoutDraw d = drop ? *drop : DropoutDraw{};
  if (st == Store::f32)
    activation_backward_kernel<float><<<blocks, kThreads, 0, stream>>>(
        static_cast<float*>(dz), static_cast<const float*>(da), static_cast<const float*>(saved),
        count, f, from_z, d, drop != nullptr);
  else
    activation_backward_kernel<__nv_bfloat16><<<blocks, kThreads, 0, stream>>>(
        static_cast<__nv_bfloat16*>(dz), static_cast<const __nv_bfloat16*>(da),
        static_cast<const __nv_bfloat16*>(saved), count, f, from_z, d, drop != nullptr);
  check_launch("activation_backward");
}

}  // namespace fcnet::cuda
