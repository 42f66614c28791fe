// One fused optimizer update over the contiguous parameter buffer, following src/train/optim.cpp
// operation for operation in float (t counts from 1; bias corrections in double):
//   sgd       p −= lr·g
//   momentum  buf = μ·buf + g;  p −= lr·buf
//   nesterov  buf = μ·buf + g;  p −= lr·(g + μ·buf)
//   adam      m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  p −= lr/bc1·m / (sqrt(v)/sqrt(bc2) +
//   eps) adamw     p ·= 1 − lr·weight_decay (weights only), then as adam rmsprop   v = α·v +
//   (1−α)·g²;  p −= lr·g / (sqrt(v) + eps)
// with g = grad + l2·p on weights (biases are not regularised). blockIdx.y picks the range.
// The learning rate comes from the device table at the current step, and the last block to
// finish advances the step counters, so a replayed graph needs nothing from the host.
#include <math.h>

#include "device.cuh"

namespace fcnet::cuda {

namespace {

constexpr int kThreads = 256;

struct Scalars {
  float lr, l2, step_size, inv_bc2_sqrt, decay;
};

template <int K>
__global__ void optimizer_kernel(float* __restrict__ p, const float* __restrict__ g,
                                 float* __restrict__ m, float* __restrict__ v,
                                 __nv_bfloat16* __restrict__ shadow,
                                 const OptRange* __restrict__ ranges, OptParams o,
                                 const double* __restrict__ lr_table, Counters* ctr) {
  __shared__ Scalars sc;
  __shared__ bool s_last;
  const OptRange r = ranges[blockIdx.y];
  if (threadIdx.x == 0) {
    // The same scalars as Optimizer<float>::step, computed in double and rounded once.
    const double t = static_cast<double>(ctr->t + 1);
    const double lr = lr_table[ctr->s];
    const double bc1 = 1.0 - pow(o.beta1, t), bc2 = 1.0 - pow(o.beta2, t);
    sc.lr = static_cast<float>(lr);
    sc.l2 = r.weights ? o.l2 : 0.0f;
    sc.step_size = static_cast<float>(lr / bc1);
    sc.inv_bc2_sqrt = static_cast<float>(1.0 / sqrt(bc2));
    sc.decay = static_cast<float>(r.weights ? 1.0 - lr * o.weight_decay : 1.0);
  }
  __syncthreads();
  const Scalars s = sc;
  const float mu = o.mu, b1 = o.b1, b2 = o.b2, eps = o.eps;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = r.begin + blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < r.end;
       i += stride) {
    float pi = p[i];
    const float gi = g[i] + s.l2 * pi;
    if (K == kSgd) {
      pi -= s.lr * gi;
    } else if (K == kMomentum) {
      const float mi = mu * m[i] + gi;
      m[i] = mi;
      pi -= s.lr * mi;
    } else if (K == kNesterov) {
      const float mi = mu * m[i] + gi;
      m[i] = mi;
      pi -= s.lr * (gi + mu * mi);
    } else if (K == kRmsprop) {
      const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
      v[i] = vi;
      pi -= s.lr * gi / (sqrtf(vi) + eps);
    } else {  // adam, adamw
      if (K == kAdamW) pi *= s.decay;
      const float mi = b1 * m[i] + (1.0f - b1) * gi;
      const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      pi -= s.step_size * mi / (sqrtf(vi) * s.inv_bc2_sqrt + eps);
    }
    p[i] = pi;
    if (shadow) shadow[i] = __float2bfloat16_rn(pi);
  }
  // Every block has read the counters above; the last one to finish advances them.
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    const unsigned blocks = gridDim.x * gridDim.y;
    s_last = atomicAdd(&ctr->ticket, 1u) == blocks - 1;
  }
  __syncthreads();
  if (s_last && threadIdx.x == 0) {
    ctr->s += 1;
    ctr->t += 1;
    ctr->ticket = 0;
  }
}

}  // namespace

void optimizer_step(float* p, const float* g, float* m, float* v, uint16_t* shadow,
                    const OptRange* ranges, int nranges, int64_t max_len, const OptParams& o,
                    const double* lr_table, Counters* ctr, cudaStream_t stream) {
  if (nranges <= 0) return;
  // Enough blocks per range to cover the longest one with four elements per thread, capped so
  // that small ranges do not launch many idle blocks.
  int64_t bx = (max_len + kThreads * 4 - 1) / (kThreads * 4);
  if (bx < 1) bx = 1;
  if (bx > 2048) bx = 2048;
  const dim3 blocks(static_cast<unsigned>(bx), static_cast<unsigned>(nranges));
  auto* sh = reinterpret_cast<__nv_bfloat16*>(shadow);
  switch (o.kind) {
#define FCNET_CASE(K)                                                                \
  case K:                                                                            \
    optimizer_kernel<K>                                                              \
        <<<blocks, kThreads, 0, stream>>>(p, g, m, v, sh, ranges, o, lr_table, ctr); \
    break;
    FCNET_CASE(kSgd)
    FCNET_CASE(kMomentum)
    FCNET_CASE(kNesterov)
    FCNET_CASE(kAdam)
    FCNET_CASE(kAdamW)
    FCNET_CASE(kRmsprop)
#undef FCNET_CASE
    default:
      break;
  }
  check_launch("optimizer_step");
}

}  // namespace fcnet::cuda
