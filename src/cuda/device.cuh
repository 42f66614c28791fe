// Device-side helpers shared by the kernels: element loads/stores for fp32 and bf16 buffers, the
// activations and their derivatives (the same formulas as src/core/activation.cpp, in float), the
// dropout hash, launch-error checks and block reductions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "ops.hpp"

namespace fcnet::cuda {

// Throws fcnet::Error when the last launch failed (defined in engine.cpp, host side).
void check_launch(const char* what);

__device__ __forceinline__ float load(const float* p, int64_t i) {
  return p[i];
}
__device__ __forceinline__ float load(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}
__device__ __forceinline__ void store(float* p, int64_t i, float v) {
  p[i] = v;
}
__device__ __forceinline__ void store(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16_rn(v);
}

__device__ __forceinline__ float act_value(Act f, float z) {
  switch (f.kind) {
    case kRelu:
      return z > 0.0f ? z : 0.0f;
    case kLeakyRelu:
      return z > 0.0f ? z : f.alpha * z;
    case kTanh:
      return tanhf(z);
    case kSigmoid:
      return 1.0f / (1.0f + expf(-z));
    case kGelu:
      return 0.5f * z * (1.0f + erff(z * 0.70710678118654752f));
    default:
      return z;
  }
}

// f'(z), for activations whose derivative needs the pre-activation.
__device__ __forceinline__ float act_grad_z(Act f, float z) {
  switch (f.kind) {
    case kRelu:
      return z > 0.0f ? 1.0f : 0.0f;
    case kLeakyRelu:
      return z > 0.0f ? 1.0f : f.alpha;
    case kTanh: {
      const float t = tanhf(z);
      return 1.0f - t * t;
    }
    case kSigmoid: {
      const float s = 1.0f / (1.0f + expf(-z));
      return s * (1.0f - s);
    }
    case kGelu: {
      // d/dz [z Φ(z)] = Φ(z) + z φ(z)
      const float cdf = 0.5f * (1.0f + erff(z * 0.70710678118654752f));
      const float pdf = expf(-0.5f * z * z) * 0.3989422804014327f;
      return cdf + z * pdf;
    }
    default:
      return 1.0f;
  }
}

// f' expressed through a = f(z) (valid when the CPU's backward_needs_z is false).
__device__ __forceinline__ float act_grad_a(Act f, float a) {
  switch (f.kind) {
    case kRelu:
      return a > 0.0f ? 1.0f : 0.0f;
    case kLeakyRelu:
      return a > 0.0f ? 1.0f : f.alpha;
    case kTanh:
      return 1.0f - a * a;
    case kSigmoid:
      return a * (1.0f - a);
    default:
      return 1.0f;
  }
}

__device__ __forceinline__ uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The dropout multiplier of element `i`: 1/keep with probability keep, else 0. *d.t is the
// optimizer step count, constant during a step, so forward and backward draw the same mask.
__device__ __forceinline__ float dropout_multiplier(const DropoutDraw& d, int64_t t, int64_t i) {
  uint64_t h = mix64(d.seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(t + 1));
  h = mix64(h ^ (static_cast<uint64_t>(d.layer) << 48) ^ static_cast<uint64_t>(i));
  const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);  // 24 bits, [0, 1)
  return u < d.keep ? d.scale : 0.0f;
}

// Grid size for a grid-stride loop over n elements with `threads` per block.
inline unsigned grid_for(int64_t n, int threads, int64_t max_blocks = 65535 * 8) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > max_blocks) b = max_blocks;
  return static_cast<unsigned>(b);
}

}  // namespace fcnet::cuda
