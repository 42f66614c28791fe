// Rounding float32 matrices to bfloat16 for the bf16 GEMMs: the reference element by element, and
// the same rounding in vector-friendly blocks on the configured threads.
#include <cstring>

#include "core/parallel.hpp"
#include "fcnet/cpu.hpp"
#include "fcnet/kernels.hpp"

namespace fcnet {

namespace {

// Round to nearest even by adding 0x7fff plus the lowest kept bit, then dropping the low half; a
// NaN keeps its sign and top mantissa bits and is made quiet (an addition could carry it into
// infinity). Branch-free and inline, so the loops that call it vectorise.
inline uint16_t round_bf16(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t nan = (u >> 16) | 0x40u;
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

constexpr int64_t kTile = 16;                // transposed copies go in 16×16 tiles
constexpr int64_t kParallelElems = 1 << 15;  // smaller copies stay on one thread

}  // namespace

namespace ref {

uint16_t to_bf16(float v) {
  return round_bf16(v);
}

float from_bf16(uint16_t v) {
  const uint32_t u = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

void to_bf16(uint16_t* out, int64_t out_ld, ConstView<float> in, bool trans) {
  for (int64_t i = 0; i < in.rows; ++i)
    for (int64_t j = 0; j < in.cols; ++j)
      (trans ? out[j * out_ld + i] : out[i * out_ld + j]) = to_bf16(in(i, j));
}

}  // namespace ref

void to_bf16(uint16_t* out, int64_t out_ld, ConstView<float> in, bool trans) {
  const bool parallel = in.rows * in.cols >= kParallelElems;
  if (!trans) {
    detail::for_chunks(in.rows, parallel, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t i = r0; i < r1; ++i) {
        const float* src = in.row(i);
        uint16_t* dst = out + i * out_ld;
        for (int64_t j = 0; j < in.cols; ++j) dst[j] = round_bf16(src[j]);
      }
    });
    return;
  }
  // Threads take bands of the input's columns (whole output rows); within a band, 16×16 tiles
  // are read along input rows and written along output rows.
  detail::for_chunks(in.cols, parallel, kTile, [&](int64_t c0, int64_t c1) {
    for (int64_t i0 = 0; i0 < in.rows; i0 += kTile) {
      const int64_t i1 = i0 + kTile < in.rows ? i0 + kTile : in.rows;
      for (int64_t j0 = c0; j0 < c1; j0 += kTile) {
        const int64_t j1 = j0 + kTile < c1 ? j0 + kTile : c1;
        for (int64_t j = j0; j < j1; ++j) {
          uint16_t* dst = out + j * out_ld;
          for (int64_t i = i0; i < i1; ++i) dst[i] = round_bf16(in(i, j));
        }
      }
    }
  });
}

bool cpu_has_bf16_gemm() {
  static const bool has = [] {
    for (const std::string& s : cpu_info().instruction_sets)
      if (s == "avx512bf16") return true;
    return false;
  }();
  return has;
}

}  // namespace fcnet
