"""The Python entry points of the ONNX export: Model.export_onnx writes what `fcnet export` writes,
and an MLPClassifier's exported graph, run in ONNX Runtime, gives its predict_proba and predict."""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

import fcnet
from conftest import SOURCE_DIR, cli_path

sys.path.insert(0, str(SOURCE_DIR / "tests" / "onnx"))
from ort_check import check_onnx, run_ort  # noqa: E402  (the ONNX tests' helpers)


def test_model_export_onnx_writes_what_the_cli_writes(tmp_path):
    frame = pd.DataFrame({"color": ["red", "green", None, "blue"] * 10,
                          "size": [1.5, np.nan, 2.0, 3.25] * 10, "y": ["a", "b"] * 20})
    frame.to_csv(tmp_path / "t.csv", index=False, na_rep="NA")
    model = tmp_path / "m.safetensors"
    subprocess.run([cli_path(), "train", "--data", tmp_path / "t.csv", "--label-col", "y",
                    "--hidden", "4", "--epochs", "2", "--test-data", "none", "--quiet", "--out",
                    model], check=True, timeout=120)
    subprocess.run([cli_path(), "export", "--model", model, "--out", tmp_path / "cli.onnx"],
                   check=True, capture_output=True, timeout=120)
    fcnet.load(model).export_onnx(tmp_path / "py.onnx")
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    m, _ = check_onnx(tmp_path / "py.onnx")
    assert [i.name for i in m.graph.input] == ["color", "size"]


@pytest.mark.parametrize("precision,tolerance", [("float32", 1e-5), ("float64", 1e-12)])
def test_estimator_export_runs_in_onnx_runtime(tmp_path, precision, tolerance):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4)) * [1, 20, 0.5, 3] + [0, 100, 0, -5]
    y = np.array(["setosa", "versicolor", "virginica"])[(X[:, 0] + X[:, 2] > 0).astype(int) + (X[:, 3] > -5)]
    est = fcnet.MLPClassifier(hidden_layer_sizes=(10,), activation="tanh", max_iter=30,
                              random_state=0, precision=precision)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    path = tmp_path / f"est_{precision}.onnx"
    est.export_onnx(path)
    check_onnx(path)
    _, out = run_ort(path, {"X": (precision, X.astype(precision))}, tmp_path)
    diff = float(np.max(np.abs(out["probabilities"] - est.predict_proba(X))))
    print(f"MLPClassifier {precision}: max |ORT - predict_proba| = {diff:.3g}")
    assert diff <= tolerance
    np.testing.assert_array_equal(est.classes_[out["label"]], est.predict(X))
