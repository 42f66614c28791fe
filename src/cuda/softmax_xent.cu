// Fused softmax–cross-entropy: one warp per row computes the row's max (and arg max), its
// log-sum-exp and −log softmax(S)[i, y_i]; in the backward mode it overwrites the scores with
// dscores = (softmax(S) − onehot(y))·scale (row i's also by its weight w_i in a weighted run). The
// loss and the correct count are summed into device accumulators by the last block to finish, in a
// fixed order (deterministic), so the host reads them once per epoch instead of once per step.
#include <math.h>

#include "device.cuh"

namespace fcnet::cuda {

namespace {

constexpr int kWarps = 8;  // rows per block
constexpr int kThreads = kWarps * 32;

__global__ void softmax_xent_kernel(float* __restrict__ scores, __nv_bfloat16* __restrict__ dsc16,
                                    const int32_t* __restrict__ y, const double* __restrict__ w,
                                    int64_t rows, int64_t cols, float scale, StepScales per_step,
                                    bool backward, Accum* acc, double* __restrict__ part_loss,
                                    long long* __restrict__ part_correct,
                                    const int64_t* __restrict__ step) {
  __shared__ double s_loss[kWarps];
  __shared__ long long s_hit[kWarps];
  __shared__ double r_loss[kThreads];
  __shared__ long long r_hit[kThreads];
  __shared__ bool s_last;
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + warp;
  // The step's scale from its table entry when there is one (ranks, weights), else the argument.
  const float sc = per_step.grad && step ? static_cast<float>(per_step.grad[*step]) : scale;
  double loss = 0.0;
  long long hit = 0;
  if (row < rows) {
    float* s = scores + row * cols;
    // Highest score and the first column holding it (the CPU keeps the first of equal maxima).
    float mx = -INFINITY;
    int64_t arg = cols;
    for (int64_t j = lane; j < cols; j += 32) {
      const float v = s[j];
      if (v > mx) {
        mx = v;
        arg = j;
      }
    }
    for (int off = 16; off > 0; off >>= 1) {
      const float om = __shfl_xor_sync(0xffffffffu, mx, off);
      const int64_t oa = __shfl_xor_sync(0xffffffffu, arg, off);
      if (om > mx || (om == mx && oa < arg)) {
        mx = om;
        arg = oa;
      }
    }
    if (arg == cols) arg = 0;
    float sum = 0.0f;
    for (int64_t j = lane; j < cols; j += 32) sum += expf(s[j] - mx);
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    const float lse = mx + logf(sum);
    const int32_t label = y[row];
    const float sy = s[label];
    __syncwarp();  // every lane has read s[label] before any lane overwrites the row
    // A weighted row counts w_i times in the loss and scales its dscores by scale·w_i (rounded
    // once, as the CPU's softmax_xent_backward).
    const double wi = w ? w[row] : 1.0;
    const float row_scale = w ? static_cast<float>(static_cast<double>(sc) * wi) : sc;
    if (lane == 0) {
      const double l = static_cast<double>(lse) - static_cast<double>(sy);
      loss = w ? wi * l : l;
      hit = arg == label ? 1 : 0;
    }
    if (backward)
      for (int64_t j = lane; j < cols; j += 32) {
        const float p = expf(s[j] - lse);
        const float d = (p - (j == label ? 1.0f : 0.0f)) * row_scale;
        s[j] = d;
        if (dsc16) dsc16[row * cols + j] = __float2bfloat16_rn(d);
      }
  }
  if (lane == 0) {
    s_loss[warp] = loss;
    s_hit[warp] = hit;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double bl = 0.0;
    long long bh = 0;
    for (int w = 0; w < kWarps; ++w) {
      bl += s_loss[w];
      bh += s_hit[w];
    }
    part_loss[blockIdx.x] = bl;
    part_correct[blockIdx.x] = bh;
    __threadfence();  // partials visible device-wide before this block is counted
    const unsigned ticket = atomicAdd(&acc->ticket, 1u);
    s_last = ticket == gridDim.x - 1;
  }
  __syncthreads();
  if (!s_last) return;
  // The last block: sum the partials in a fixed order.
  double tl = 0.0;
  long long th = 0;
  for (unsigned b = threadIdx.x; b < gridDim.x; b += kThreads) {
    tl += __ldcg(part_loss + b);
    th += __ldcg(part_correct + b);
  }
  r_loss[threadIdx.x] = tl;
  r_hit[threadIdx.x] = th;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width >>= 1) {
    if (static_cast<int>(threadIdx.x) < width) {
      r_loss[threadIdx.x] += r_loss[threadIdx.x + width];
      r_hit[threadIdx.x] += r_hit[threadIdx.x + width];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const double total = r_loss[0];
    acc->loss_sum += per_step.loss && step ? total * per_step.loss[*step] : total;
    acc->correct += r_hit[0];
    if (!isfinite(total) && acc->bad_step == 0) {
      acc->bad_step = (step ? *step : 0) + 1;
      acc->bad_loss = total * static_cast<double>(sc);
    }
    acc->ticket = 0;
  }
}

}  // namespace

int64_t softmax_xent_blocks(int64_t rows) {
  return (rows + kWarps - 1) / kWarps;
}

void softmax_xent(float* scores, uint16_t* dscores_bf16, const int32_t* y, const double* w,
                  int64_t rows, int64_t cols, float scale, const StepScales& per_step,
                  bool backward, Accum* acc, double* part_loss, long long* part_correct,
                  const int64_t* step, cudaStream_t stream) {
  if (rows <= 0) return;
  const unsigned blocks = static_cast<unsigned>(softmax_xent_blocks(rows));
  softmax_xent_kernel<<<blocks, kThreads, 0, stream>>>(
      scores, reinterpret_cast<__nv_bfloat16*>(dscores_bf16), y, w, rows, cols, scale, per_step,
      backward, acc, part_loss, part_correct, step);
  check_launch("softmax_xent");
}

}  // namespace fcnet::cuda
