// Arithmetic of the float32 GEMMs, on the CPU and on a CUDA device.
//   fp32: IEEE single precision throughout (the CPU's f32).
//   tf32: GEMM inputs rounded to TensorFloat-32 (10-bit mantissa) on tensor cores, fp32
//         accumulation; everything else fp32 (CUDA only).
//   bf16: GEMM inputs rounded to bfloat16 (8 significant bits, 7 stored), fp32 accumulation,
//         fp32 scores, gradients, master weights and optimizer state. On the CPU it needs
//         AVX512_BF16; on a CUDA device the hidden activations are also kept in bf16.
#pragma once

#include <string>

#include "fcnet/error.hpp"

namespace fcnet {

enum class Precision { fp32, tf32, bf16 };

// "fp32" (or "f32"), "tf32", "bf16"; throws fcnet::Error otherwise.
inline Precision parse_precision(const std::string& name) {
  if (name == "fp32" || name == "f32") return Precision::fp32;
  if (name == "tf32") return Precision::tf32;
  if (name == "bf16") return Precision::bf16;
  fail("--precision", "unknown precision '" + name + "'", "one of fp32, tf32, bf16");
}

inline const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32:
      return "fp32";
    case Precision::tf32:
      return "tf32";
    case Precision::bf16:
      return "bf16";
  }
  return "?";
}

}  // namespace fcnet
