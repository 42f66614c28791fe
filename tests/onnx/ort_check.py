"""Helpers of the ONNX export tests (tests/onnx, and tests/python for the Python entry points):
the fcnet CLI, ONNX's own checker, and ONNX Runtime (npm's onnxruntime-node, run by node) as the
independent consumer of the exported graphs.

Nothing here skips: a missing onnx module, node or onnxruntime-node fails the run.
"""

import csv
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
from onnx import shape_inference

SOURCE_DIR = Path(os.environ.get("FCNET_SOURCE_DIR", Path(__file__).resolve().parents[2]))
RUN_ORT = Path(__file__).with_name("run_ort.js")
NODE_MODULES = SOURCE_DIR / "third_party" / "npm" / "node_modules"
NA_VALUES = ("NA", "", "NaN", "nan", "null", "NULL", "?")  # fcnet's default missing-value markers

_NUMPY_TYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.DOUBLE: "float64"}


def cli_path():
    p = os.environ.get("FCNET_CLI") or str(SOURCE_DIR / "build" / "bin" / "fcnet")
    assert Path(p).exists(), f"fcnet CLI not found at {p} (set FCNET_CLI)"
    return p


def fcnet(*args, expect=0):
    """Runs the CLI; asserts its exit code; returns the CompletedProcess."""
    r = subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True, timeout=300)
    assert r.returncode == expect, (f"fcnet {' '.join(map(str, args))} exited {r.returncode}, "
                                    f"expected {expect}:\n{r.stderr}")
    return r


def export(model, out):
    """`fcnet export --format onnx`, then check_onnx."""
    fcnet("export", "--model", model, "--format", "onnx", "--out", out)
    return check_onnx(out)


def check_onnx(path):
    """ONNX's full check and strict, type-checked shape inference of the file: (model, inferred)."""
    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    inferred = shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    return m, inferred


def metadata(m):
    return {p.key: p.value for p in m.metadata_props}


def input_types(m):
    """(name, elem_type) of the graph's inputs, in order."""
    return [(i.name, i.type.tensor_type.elem_type) for i in m.graph.input]


def output_shape(m, name):
    for o in m.graph.output:
        if o.name == name:
            return [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
    raise AssertionError(f"no output {name}")


def run_ort(model, inputs, tmp_path):
    """Runs `model` in ONNX Runtime on {name: (type, array)}; returns (input names, {output:
    array}), float outputs as float64 holding the runtime's values exactly."""
    spec = {}
    for name, (kind, a) in inputs.items():
        a = np.asarray(a)
        data = a.ravel().tolist()
        if kind != "string":
            data = [None if np.isnan(v) else v for v in data]
        spec[name] = {"type": kind, "dims": list(a.shape), "data": data}
    path = tmp_path / f"{Path(model).stem}.inputs.json"
    path.write_text(json.dumps(spec))
    env = dict(os.environ, NODE_PATH=str(NODE_MODULES))
    r = subprocess.run(["node", str(RUN_ORT), str(model), str(path)], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, f"ONNX Runtime failed on {model}:\n{r.stderr}"
    res = json.loads(r.stdout)
    out = {name: np.asarray(o["data"], dtype=np.int64 if o["type"] == "int64" else np.float64)
           .reshape(o["dims"]) for name, o in res["outputs"].items()}
    return res["inputs"], out


def predict(model, data, *args):
    """`fcnet predict --json --output labels,probs` (full precision): (labels, probs [N, C])."""
    r = fcnet("predict", "--model", model, "--data", data, "--json", "--output", "labels,probs",
              "--threads", "1", *args)
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    return [row["label"] for row in rows], rows


def table_inputs(m, csv_path):
    """The exported graph's inputs from a CSV file's cells: per-column inputs by name (numbers with
    NaN for missing-value markers, categories as trimmed text), or X of the features in the
    model's order."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    types = input_types(m)

    def number(cell):
        return np.nan if cell.strip() in NA_VALUES else float(cell)

    if [n for n, _ in types] == ["X"]:
        kind = _NUMPY_TYPES[types[0][1]]
        features = json.loads(metadata(m)["features"])
        X = np.array([[number(r[c]) for c in features] for r in rows], dtype=kind)
        return {"X": (kind, X)}
    inputs = {}
    for name, t in types:
        if t == onnx.TensorProto.STRING:
            inputs[name] = ("string", np.array([[r[name].strip()] for r in rows], dtype=object))
        else:
            kind = _NUMPY_TYPES[t]
            inputs[name] = (kind, np.array([[number(r[name])] for r in rows], dtype=kind))
    return inputs


def compare(m, ort_out, fcnet_labels, fcnet_rows):
    """Max |ONNX Runtime − fcnet predict| over the probabilities; asserts the labels agree."""
    classes = json.loads(metadata(m)["classes"])
    P_ort = ort_out["probabilities"]
    P_fcnet = np.array([[row["probs"][c] for c in classes] for row in fcnet_rows])
    assert P_ort.shape == P_fcnet.shape
    assert [classes[k] for k in ort_out["label"]] == fcnet_labels
    return float(np.max(np.abs(P_ort - P_fcnet)))
