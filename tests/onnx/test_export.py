"""`fcnet export --format onnx`: ONNX Runtime runs each exported graph on raw inputs and must give
what `fcnet predict` gives from the same data (probabilities within 1e-5 for float32 models and
1e-12 for float64 ones, the same labels); ONNX's checker and strict shape inference accept it."""

import csv
import gzip
import json

import numpy as np
import onnx
import pytest

from ort_check import compare, export, fcnet, metadata, output_shape, predict, run_ort, table_inputs

FASHION = "/usr/share/datasets/fashion-mnist"
TOLERANCE = {"f32": 1e-5, "f64": 1e-12}


def train(tmp_path, name, data, *args):
    model = tmp_path / f"{name}.safetensors"
    fcnet("train", "--data", data, "--test-data", "none", "--threads", "1", "--seed", "1",
          "--quiet", "--out", model, *args)
    return model


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def numeric_csv(path, n, seed):
    """Three classes of Gaussian blobs in 5 features at 6 significant digits (not all exact in
    float32, so fcnet keeps them as float64)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 5)) * [1, 10, 0.1, 100, 1] + y[:, None] * [1, 5, 0.1, 30, -1]
    return write_csv(path, ["label", "f0", "f1", "f2", "f3", "f4"],
                     [[int(k)] + ["%.6g" % v for v in x] for k, x in zip(y, X)])


def mixed_csv(path, n, seed, test=False):
    """A penguin-like table: an id, text categories (one with gaps), numbers with gaps (training
    has some in 'bill', so it gets a missing indicator; 'flipper' has gaps only in the test rows)
    and a class-name label. Test rows add an unseen island and a missing island."""
    rng = np.random.default_rng(seed)
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], n).astype(object)
    sex = rng.choice(["female", "male"], n).astype(object)
    bill = rng.normal(44, 5, n).round(1)
    flipper = rng.integers(170, 230, n).astype(float)
    score = (bill - 44) / 5 + (island == "Dream") * 1.5 - (sex == "male") * 0.5 + (flipper - 200) / 20
    species = np.where(score > 0.6, "Gentoo", np.where(score > -0.4, "Chinstrap", "Adelie"))
    sex[rng.random(n) < 0.15] = "NA"
    bill_text = np.array(["%.1f" % v for v in bill], dtype=object)
    bill_text[rng.random(n) < 0.15] = "NA"
    flipper_text = np.array(["%d" % v for v in flipper], dtype=object)
    grade = rng.choice(["1", "2", "10"], n)  # integer codes read as categories (--categorical)
    if test:
        island[0], island[1], island[2] = "Atlantis", "NA", "Atlantis"
        flipper_text[3] = ""
        sex[4] = "?"
    rows = zip([f"p{i}" for i in range(n)], island, bill_text, species, sex, flipper_text, grade)
    return write_csv(path, ["id", "island", "bill", "species", "sex", "flipper", "grade"], rows)


def fashion_subset(path, n):
    """The first n test images of Fashion-MNIST as a uint8 NPY file [n, 784], and the pixels."""
    with gzip.open(f"{FASHION}/t10k-images-idx3-ubyte.gz") as f:
        raw = f.read()
    X = np.frombuffer(raw, dtype=np.uint8, offset=16)[:n * 784].reshape(n, 784)
    np.save(path, X)
    return X


def check_against_predict(m, onnx_path, inputs, model, data, tmp_path, precision):
    names, out = run_ort(onnx_path, inputs, tmp_path)
    assert names == [i.name for i in m.graph.input]
    labels, rows = predict(model, data)
    diff = compare(m, out, labels, rows)
    print(f"{model.name}: max |ORT - fcnet predict| = {diff:.3g}")
    assert diff <= TOLERANCE[precision]
    return diff


def test_fashion_mnist_model_runs_in_onnx_runtime(tmp_path):
    model = train(tmp_path, "fashion", "fashion-mnist", "--epochs", "1", "--max-steps", "30",
                  "--hidden", "32")
    X = fashion_subset(tmp_path / "x.npy", 200)
    m, inferred = export(model, tmp_path / "fashion.onnx")
    assert [(i.name, i.type.tensor_type.elem_type) for i in m.graph.input] == [("X", 1)]
    assert output_shape(m, "probabilities") == ["N", 10]
    assert output_shape(m, "label") == ["N"]
    assert output_shape(inferred, "probabilities") == ["N", 10]
    meta = metadata(m)
    assert json.loads(meta["classes"])[:2] == ["T-shirt/top", "Trouser"]
    assert meta["precision"] == "f32"
    check_against_predict(m, tmp_path / "fashion.onnx", {"X": ("float32", X.astype(np.float32))},
                          model, tmp_path / "x.npy", tmp_path, "f32")


ACTIVATIONS = [("relu", []), ("leaky_relu", ["--leaky-alpha", "0.1"]), ("tanh", []),
               ("sigmoid", []), ("gelu", []), ("identity", []),
               # raw inputs up to ~300: pre-activations reach far into both tails of erf
               ("gelu", ["--normalize", "none", "--init-std", "0.05", "--init", "normal"])]


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("activation,extra", ACTIVATIONS)
def test_numeric_table_model_per_activation(tmp_path, activation, extra, precision):
    train_csv = numeric_csv(tmp_path / "train.csv", 240, 1)
    test_csv = numeric_csv(tmp_path / "test.csv", 60, 2)
    name = f"{activation}{'_raw' if extra and activation == 'gelu' else ''}_{precision}"
    model = train(tmp_path, name, train_csv, "--hidden", "16,8", "--activation", activation,
                  "--precision", precision, "--epochs", "20", *extra)
    onnx_path = tmp_path / f"{name}.onnx"
    m, _ = export(model, onnx_path)
    kind = onnx.TensorProto.FLOAT if precision == "f32" else onnx.TensorProto.DOUBLE
    assert [(i.name, i.type.tensor_type.elem_type) for i in m.graph.input] == [("X", kind)]
    assert json.loads(metadata(m)["features"]) == ["f0", "f1", "f2", "f3", "f4"]
    assert metadata(m)["activation"] == activation
    check_against_predict(m, onnx_path, table_inputs(m, test_csv), model, test_csv, tmp_path,
                          precision)


@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_mixed_table_model_encodes_columns_as_fcnet(tmp_path, precision):
    train_csv = mixed_csv(tmp_path / "train.csv", 200, 1)
    test_csv = mixed_csv(tmp_path / "test.csv", 60, 2, test=True)
    model = train(tmp_path, f"mixed_{precision}", train_csv, "--label-col", "species", "--id-col",
                  "id", "--categorical", "grade", "--hidden", "12", "--epochs", "30", "--precision",
                  precision)
    onnx_path = tmp_path / f"mixed_{precision}.onnx"
    m, _ = export(model, onnx_path)
    t = onnx.TensorProto.FLOAT if precision == "f32" else onnx.TensorProto.DOUBLE
    assert [(i.name, i.type.tensor_type.elem_type) for i in m.graph.input] == [
        ("island", onnx.TensorProto.STRING), ("bill", t), ("sex", onnx.TensorProto.STRING),
        ("flipper", t), ("grade", onnx.TensorProto.STRING)]
    assert json.loads(metadata(m)["features"]) == [
        "island=Biscoe", "island=Dream", "island=Torgersen", "bill", "bill=missing", "sex=female",
        "sex=male", "sex=missing", "flipper", "grade=1", "grade=2", "grade=10"]
    assert {o.domain for o in m.opset_import} == {"", "ai.onnx.ml"}
    check_against_predict(m, onnx_path, table_inputs(m, test_csv), model, test_csv, tmp_path,
                          precision)


def timestamp_rows(n, seed, exact):
    """Three classes in 4 epoch-second features (~1.7e9, spread ~1000): whole seconds, or rounded
    to multiples of 128 (exact in float32)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = 1.7e9 + rng.normal(0, 400, (n, 4)) + y[:, None] * [800, 1600, -800, 400]
    X = np.round(X / 128) * 128 if exact else np.round(X)
    return y, X.astype(np.int64)


def test_timestamp_features_standardize_as_fcnet(tmp_path, precision="f32"):
    """−mean/std is ~−2e6: the graph must not fold the transform in float for an f32 model. The
    test file ends in one row that is not an exact float, so fcnet holds it as float64; the graph
    gets the other rows, exact in float32. (An f64 model is left out: there the same cancellation
    leaves ~1e-10, one rounding of x·mul against a fused multiply-add, above its 1e-12.)"""
    y, X = timestamp_rows(300, 1, exact=False)
    header = ["label", "t0", "t1", "t2", "t3"]
    train_csv = write_csv(tmp_path / "train.csv", header, np.column_stack([y, X]).tolist())
    y, X = timestamp_rows(80, 2, exact=True)
    rows = np.column_stack([y, X]).tolist() + [[0, 1700000001, 1700000003, 1700000005, 1700000007]]
    test_csv = write_csv(tmp_path / "test.csv", header, rows)
    model = train(tmp_path, f"ts_{precision}", train_csv, "--hidden", "16", "--epochs", "30",
                  "--precision", precision)
    onnx_path = tmp_path / f"ts_{precision}.onnx"
    m, _ = export(model, onnx_path)
    kind = "float32" if precision == "f32" else "float64"
    names, out = run_ort(onnx_path, {"X": (kind, X.astype(kind))}, tmp_path)
    labels, probs = predict(model, test_csv)
    diff = compare(m, out, labels[:80], probs[:80])
    print(f"timestamps {precision}: max |ORT - fcnet predict| = {diff:.3g}")
    assert diff <= TOLERANCE[precision]


def test_bad_input_fails_clearly_and_leaves_the_output_alone(tmp_path):
    model = train(tmp_path, "small", numeric_csv(tmp_path / "t.csv", 60, 1), "--hidden", "4",
                  "--epochs", "2")
    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous")
    r = fcnet("export", "--model", tmp_path / "none.safetensors", "--out", out, expect=1)
    assert "none.safetensors" in r.stderr
    r = fcnet("export", "--model", tmp_path / "t.csv", "--out", out, expect=1)
    assert "t.csv" in r.stderr
    r = fcnet("export", "--model", model, "--format", "tflite", "--out", out, expect=2)
    assert "--format" in r.stderr and "'tflite'" in r.stderr and "expected onnx" in r.stderr
    r = fcnet("export", "--model", model, "--out", tmp_path / "no" / "m.onnx", expect=1)
    assert str(tmp_path / "no" / "m.onnx") in r.stderr
    r = fcnet("export", "--model", model, "--out", model, expect=2)
    assert "--out" in r.stderr
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "small.safetensors", "t.csv"]
    fcnet("export", "--model", model, "--out", out)  # --format defaults to onnx
    assert onnx.load(str(out)).graph.output[0].name == "probabilities"


def test_a_column_named_like_an_output_is_refused(tmp_path):
    data = write_csv(tmp_path / "t.csv", ["y", "label", "x"],
                     [[i % 2, ["a", "b", "c"][i % 3], i * 0.5] for i in range(30)])
    model = train(tmp_path, "clash", data, "--label-col", "y", "--hidden", "4", "--epochs", "2")
    r = fcnet("export", "--model", model, "--out", tmp_path / "m.onnx", expect=1)
    assert "clash.safetensors" in r.stderr and "column 'label'" in r.stderr
    assert not (tmp_path / "m.onnx").exists()
