// One fused optimizer update over the contiguous parameter buffer, following src/nn/optim.cpp
// operation for operation in float (t counts from 1; bias corrections in double):
// clang-format off
//   sgd       p −= lr·g
//   momentum  buf = μ·buf + g;  p −= lr·buf
//   nesterov  buf = μ·buf + g;  p −= lr·(g + μ·buf)
//   adam      m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
//             p −= lr/bc1·m / (sqrt(v)/sqrt(bc2) + eps)
//   adamw     p ·= 1 − lr·weight_decay (weights only), then as adam
//   rmsprop   v = α·v + (1−α)·g²;  p −= lr·g / (sqrt(v) + eps)
// clang-format on
// with g = grad + l2·p on weights (biases are not regularised). blockIdx.y picks the range.
// The learning rate comes from the device table at the current step, and the last block to
// finish advances the step counters, so a replayed graph needs nothing from the host.
#include <math.h>

#include "device.cuh"
#include "fcnet/optimizer_kind.hpp"

namespace fcnet::cuda {

namespace {

constexpr int kThreads = 256;

struct Scalars {
  float lr, l2, step_size, inv_bc2_sqrt, decay;
};

template <int K>
constexpr bool kUsesM = keeps_first_moment(static_cast<OptimizerKind>(K));
template <int K>
constexpr bool kUsesV = keeps_second_moment(static_cast<OptimizerKind>(K));

// One element's update, as Optimizer<float>::step.
template <int K>
__device__ __forceinline__ void update(float& p, float g, float& m, float& v, const Scalars& s,
                                       const OptParams& o) {
  const float gi = g + s.l2 * p;
  if (K == kSgd) {
    p -= s.lr * gi;
  } else if (K == kMomentum) {
    m = o.mu * m + gi;
    p -= s.lr * m;
  } else if (K == kNesterov) {
    m = o.mu * m + gi;
    p -= s.lr * (gi + o.mu * m);
  } else if (K == kRmsprop) {
    v = o.b2 * v + (1.0f - o.b2) * gi * gi;
    p -= s.lr * gi / (sqrtf(v) + o.eps);
  } else {  // adam, adamw
    if (K == kAdamW) p *= s.decay;
    m = o.b1 * m + (1.0f - o.b1) * gi;
    v = o.b2 * v + (1.0f - o.b2) * gi * gi;
    p -= s.step_size * m / (sqrtf(v) * s.inv_bc2_sqrt + o.eps);
  }
}

template <int K>
__device__ __forceinline__ void update_one(int64_t i, float* __restrict__ p,
                                           const float* __restrict__ g, float* __restrict__ m,
                                           float* __restrict__ v,
                                           __nv_bfloat16* __restrict__ shadow, const Scalars& s,
                                           const OptParams& o) {
  float pi = p[i], mi = kUsesM<K> ? m[i] : 0.0f, vi = kUsesV<K> ? v[i] : 0.0f;
  update<K>(pi, g[i], mi, vi, s, o);
  p[i] = pi;
  if (kUsesM<K>) m[i] = mi;
  if (kUsesV<K>) v[i] = vi;
  if (shadow) shadow[i] = __float2bfloat16_rn(pi);
}

// Four elements from index i (a multiple of 4): 16-byte loads and stores, the memory-bound
// update's whole cost.
template <int K>
__device__ __forceinline__ void update_four(int64_t i, float* __restrict__ p,
                                            const float* __restrict__ g, float* __restrict__ m,
                                            float* __restrict__ v,
                                            __nv_bfloat16* __restrict__ shadow, const Scalars& s,
                                            const OptParams& o) {
  float4 P = *reinterpret_cast<const float4*>(p + i);
  const float4 G = *reinterpret_cast<const float4*>(g + i);
  float4 M = kUsesM<K> ? *reinterpret_cast<const float4*>(m + i) : make_float4(0, 0, 0, 0);
  float4 V = kUsesV<K> ? *reinterpret_cast<const float4*>(v + i) : make_float4(0, 0, 0, 0);
  update<K>(P.x, G.x, M.x, V.x, s, o);
  update<K>(P.y, G.y, M.y, V.y, s, o);
  update<K>(P.z, G.z, M.z, V.z, s, o);
  update<K>(P.w, G.w, M.w, V.w, s, o);
  *reinterpret_cast<float4*>(p + i) = P;
  if (kUsesM<K>) *reinterpret_cast<float4*>(m + i) = M;
  if (kUsesV<K>) *reinterpret_cast<float4*>(v + i) = V;
  if (shadow) {
    const __nv_bfloat162 lo = __floats2bfloat162_rn(P.x, P.y), hi = __floats2bfloat162_rn(P.z, P.w);
    uint2 packed;
    packed.x = *reinterpret_cast<const unsigned*>(&lo);
    packed.y = *reinterpret_cast<const unsigned*>(&hi);
    *reinterpret_cast<uint2*>(shadow + i) = packed;
  }
}

// blockIdx.y picks the range; its elements before the first multiple of 4 and after the last
// are updated one by one, the rest four at a time. Blocks with nothing to do in their range skip
// the scalars (double pow) and the loop, but still count themselves done.
template <int K>
__global__ void optimizer_kernel(float* __restrict__ p, const float* __restrict__ g,
                                 float* __restrict__ m, float* __restrict__ v,
                                 __nv_bfloat16* __restrict__ shadow,
                                 const OptRange* __restrict__ ranges, OptParams o,
                                 const double* __restrict__ lr_table,
                                 const int32_t* __restrict__ skip, Counters* ctr) {
  __shared__ Scalars sc;
  __shared__ bool s_last;
  // Read by every block before any counts itself done, so before the last one advances ctr->s.
  const bool skipped = skip != nullptr && skip[ctr->s] != 0;
  const OptRange r = ranges[blockIdx.y];
  const int64_t head = min(static_cast<int64_t>((4 - (r.begin & 3)) & 3), r.end - r.begin);
  const int64_t body = r.begin + head;
  const int64_t quads = (r.end - body) / 4;
  const int64_t tail = body + 4 * quads;
  const int64_t first = blockIdx.x * static_cast<int64_t>(blockDim.x);
  if (!skipped && (first < quads || (blockIdx.x == 0 && (head > 0 || tail < r.end)))) {
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
    const int64_t tid = first + threadIdx.x;
    if (tid < head) update_one<K>(r.begin + tid, p, g, m, v, shadow, s, o);
    if (tid < r.end - tail) update_one<K>(tail + tid, p, g, m, v, shadow, s, o);
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t q = tid; q < quads; q += stride)
      update_four<K>(body + 4 * q, p, g, m, v, shadow, s, o);
  }
  // Every working block has read the counters above; the last one to finish advances them.
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    const unsigned blocks = gridDim.x * gridDim.y;
    s_last = atomicAdd(&ctr->ticket, 1u) == blocks - 1;
  }
  __syncthreads();
  if (s_last && threadIdx.x == 0) {
    ctr->s += 1;
    if (!skipped) ctr->t += 1;
    ctr->ticket = 0;
  }
}

}  // namespace

void optimizer_step(float* p, const float* g, float* m, float* v, uint16_t* shadow,
                    const OptRange* ranges, int nranges, int64_t max_len, const OptParams& o,
                    const double* lr_table, const int32_t* skip, Counters* ctr,
                    cudaStream_t stream) {
  if (nranges <= 0) return;
  // Enough blocks per range to cover the longest one with four elements per thread (one 16-byte
  // access per array), capped so that each thread of a long range loops a few times.
  int64_t bx = (max_len + kThreads * 4 - 1) / (kThreads * 4);
  if (bx < 1) bx = 1;
  if (bx > 2048) bx = 2048;
  const dim3 blocks(static_cast<unsigned>(bx), static_cast<unsigned>(nranges));
  auto* sh = reinterpret_cast<__nv_bfloat16*>(shadow);
  switch (o.kind) {
#define FCNET_CASE(K)                                                                      \
  case K:                                                                                  \
    optimizer_kernel<K>                                                                    \
        <<<blocks, kThreads, 0, stream>>>(p, g, m, v, sh, ranges, o, lr_table, skip, ctr); \
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
