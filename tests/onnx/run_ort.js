// Runs an ONNX model in ONNX Runtime (onnxruntime-node) and prints its outputs as one JSON object
// on stdout, every number at full precision (a float32 as the double it is).
// Usage: node run_ort.js MODEL.onnx INPUTS.json
// INPUTS.json: {"<input name>": {"type": "float32" | "float64" | "string", "dims": [N, k],
//               "data": [row-major values; null is NaN]}, ...}
// Output: {"inputs": [names], "outputs": {"<name>": {"type", "dims", "data"}}, ...}
"use strict";
const fs = require("fs");
const ort = require("onnxruntime-node");

const ARRAYS = {float32: Float32Array, float64: Float64Array};

async function main() {
  const [model, inputsPath] = process.argv.slice(2);
  const spec = JSON.parse(fs.readFileSync(inputsPath, "utf8"));
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const feeds = {};
  for (const [name, t] of Object.entries(spec)) {
    const data = t.type === "string" ? t.data
                                     : ARRAYS[t.type].from(t.data, (v) => (v === null ? NaN : v));
    feeds[name] = new ort.Tensor(t.type, data, t.dims);
  }
  const results = await session.run(feeds);
  const outputs = {};
  for (const [name, t] of Object.entries(results)) {
    outputs[name] = {type: t.type, dims: Array.from(t.dims), data: Array.from(t.data, Number)};
  }
  process.stdout.write(JSON.stringify({inputs: session.inputNames, outputs}) + "\n");
}

main().catch((e) => {
  process.stderr.write(`run_ort: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
