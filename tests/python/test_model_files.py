"""Model files shared with the command line: CLI → Python and Python → CLI round trips."""

import json
import subprocess
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning

import fcnet
from conftest import cli_path, read_safetensors

NAMES = np.array(["barolo", "grignolino", "barbera"])  # sorted: barbera, barolo, grignolino


def run_cli(*args):
    r = subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"fcnet {' '.join(map(str, args))} failed:\n{r.stderr}"
    return r.stdout


def write_csv(path, X, labels):
    with open(path, "w") as f:
        f.write(",".join([f"f{j}" for j in range(X.shape[1])] + ["label"]) + "\n")
        for row, lab in zip(X, labels):
            f.write(",".join(repr(float(v)) for v in row) + f",{lab}\n")


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    X, y = load_wine(return_X_y=True)
    path = tmp_path_factory.mktemp("wine") / "wine.csv"
    write_csv(path, X, NAMES[y])
    return path, X, NAMES[y]


def test_cli_model_in_python(wine_csv, tmp_path):
    csv, X, labels = wine_csv
    model_path = tmp_path / "cli.safetensors"
    run_cli("train", "--data", csv, "--hidden", "16", "--epochs", "8", "--batch", "16", "--lr", "0.01",
            "--seed", "1", "--threads", "1", "--out", model_path, "--quiet")
    m = fcnet.load(model_path)
    assert m.sizes == [13, 16, 3] and m.activation == "relu" and m.precision == "float32"
    np.testing.assert_array_equal(m.classes_, np.sort(NAMES))
    assert m.training["hidden"] == [16]

    cli_labels = run_cli("predict", "--model", model_path, "--data", csv, "--threads", "1",
                         "--no-header").split()
    np.testing.assert_array_equal(m.predict(X), cli_labels)
    cli_probs = np.loadtxt(run_cli("predict", "--model", model_path, "--data", csv, "--output", "probs",
                                   "--threads", "1", "--no-header").splitlines(), delimiter=",")
    np.testing.assert_allclose(m.predict_proba(X), cli_probs, rtol=1e-5, atol=1e-6)  # %.6g text

    ev = json.loads(run_cli("eval", "--model", model_path, "--data", csv, "--json", "--threads", "1"))
    ours = m.evaluate(X, labels)
    assert ours["accuracy"] == pytest.approx(ev["accuracy"], abs=1e-12)
    assert ours["loss"] == pytest.approx(ev["loss"], rel=1e-6)
    np.testing.assert_array_equal(ours["confusion"], ev["confusion"])
    assert ours["accuracy"] > 0.9


def test_python_model_in_the_cli(wine_csv, tmp_path):
    csv, X, labels = wine_csv
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = fcnet.MLPClassifier(hidden_layer_sizes=(16, 8), random_state=0).fit(X, labels)
    path = tmp_path / "py.safetensors"
    clf.save(path)

    # The file, read independently: fcnet's format with the class names and input transform.
    tensors, meta = read_safetensors(path)
    assert meta["format"] == "fcnet" and meta["activation"] == "relu"
    assert json.loads(meta["classes"]) == sorted(NAMES.tolist())
    assert tensors["W1"].shape == (13, 16) and tensors["W1"].dtype == np.float32
    assert tensors["b3"].shape == (3,) and tensors["input_mean"].shape == (13,)
    np.testing.assert_array_equal(tensors["W2"], clf.coefs_[1])

    cli_labels = run_cli("predict", "--model", path, "--data", csv, "--threads", "1").split()[1:]
    np.testing.assert_array_equal(clf.predict(X), cli_labels)
    ev = json.loads(run_cli("eval", "--model", path, "--data", csv, "--json", "--threads", "1"))
    assert ev["accuracy"] == pytest.approx(clf.score(X, labels), abs=1e-12)

    back = fcnet.load(path)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))


def test_label_types_survive_the_file(wine_csv, tmp_path):
    _, X, _ = wine_csv
    y = load_wine(return_X_y=True)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for labels in (np.array([10, 20, 30]), np.array([-1.0, 1.0, 2.0]), np.array([0, 1, 2])):
            clf = fcnet.MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
            clf.fit(X, labels[y])
            clf.save(tmp_path / "m.safetensors")
            back = fcnet.load(tmp_path / "m.safetensors")
            assert back.classes_.dtype == labels.dtype
            np.testing.assert_array_equal(back.classes_, labels)
            np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    # Indices 0..C-1 are stored without names, as the CLI does for integer labels.
    assert "classes" not in read_safetensors(tmp_path / "m.safetensors")[1]


def test_two_layer_net_file_gives_the_cli_the_same_loss_and_gradients(toy, tmp_path):
    net, X, y = toy
    path = tmp_path / "toy.safetensors"
    net.save(path)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    out = json.loads(run_cli("loss", "--model", path, "--data", tmp_path / "x.npy", "--labels",
                             tmp_path / "y.npy", "--reg", "0.05", "--json", "--grads-out",
                             tmp_path / "g.safetensors"))
    loss, grads = net.loss(X, y, reg=0.05)
    assert out["loss"] == pytest.approx(1.30378789133, abs=1e-12)
    assert out["loss"] == pytest.approx(loss, abs=1e-15)
    g, _ = read_safetensors(tmp_path / "g.safetensors")
    for k in grads:
        np.testing.assert_allclose(g[k], grads[k], rtol=1e-13, atol=1e-16)
    m = fcnet.load(path)
    assert m.precision == "float64" and m.sizes == [4, 10, 3]
    np.testing.assert_array_equal(m.decision_function(X), net.loss(X))
    for k, v in m.params.items():
        np.testing.assert_array_equal(v, net.params[k])


@pytest.mark.parametrize("activation,precision", [("relu", "f32"), ("gelu", "f64"), ("tanh", "f32")])
def test_format_md_numpy_reader_matches_fcnet(wine_csv, tmp_path, activation, precision):
    """The NumPy reader printed in docs/format.md computes fcnet's probabilities from the file."""
    from conftest import SOURCE_DIR
    text = (SOURCE_DIR / "docs" / "format.md").read_text()
    section = text[text.index("## Reading a model with NumPy"):]
    code = section[section.index("```python") + len("```python"):]
    code = code[:code.index("```")]
    scope = {}
    exec(compile(code, "docs/format.md", "exec"), scope)
    csv, X, labels = wine_csv
    path = tmp_path / "m.safetensors"
    run_cli("train", "--data", csv, "--test-data", "none", "--hidden", "12,7", "--epochs", "5",
            "--activation", activation, "--precision", precision, "--seed", "2", "--threads", "1",
            "--out", path, "--quiet")
    ours = scope["fcnet_predict_proba"](str(path), X)
    theirs = fcnet.load(str(path)).predict_proba(X)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12 if precision == "f64" else 2e-6)
    assert ours.shape == (len(X), 3)
