// ONNX export: a trained model as an ONNX graph that computes what `fcnet predict --output probs`
// computes, from the same raw inputs (docs/format.md, "ONNX export").
#pragma once

#include <string>

#include "fcnet/model_io.hpp"

namespace fcnet {

// The serialized ONNX ModelProto (IR version 8; opset 17, and ai.onnx.ml 3 for categories).
// Inputs: "X" [N, D] of raw features, or, for a table with categorical columns or missing-value
// indicators, one [N, 1] input per feature column under its name (numbers with NaN for a missing
// cell, categories as strings). Outputs: "probabilities" [N, C] and "label" [N] (int64 class
// index). float32 for an F32 model, float64 for an F64 one. Throws fcnet::Error when a column's
// name is also an output's.
std::string to_onnx(const Model& m);
// Writes to_onnx(m) to `path` atomically (a failed export leaves an existing file as it was).
void save_onnx(const std::string& path, const Model& m);

}  // namespace fcnet
