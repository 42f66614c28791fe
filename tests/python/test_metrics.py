"""`fcnet eval` figures against scikit-learn's sklearn.metrics on the same probabilities, and
`fcnet predict`'s outputs read back by Python's csv and json modules."""

import csv
import io
import json
import subprocess

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_digits, make_classification
from sklearn.preprocessing import label_binarize

from conftest import cli_path


def run_cli(*args):
    r = subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"fcnet {' '.join(map(str, args))} failed:\n{r.stderr}"
    return r.stdout


def write_csv(path, X, labels):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"f{j}" for j in range(X.shape[1])] + ["label"])
        for row, lab in zip(X, labels):
            w.writerow([repr(float(v)) for v in row] + [lab])
    return path


def trained(tmp_path, X, labels, *extra):
    data = write_csv(tmp_path / "d.csv", X, labels)
    model = tmp_path / "m.safetensors"
    run_cli("train", "--data", data, "--test-data", "none", "--hidden", "8", "--epochs", "3",
            "--precision", "f64", "--seed", "1", "--threads", "1", "--quiet", "--out", model, *extra)
    return data, model


def full_probs(model, data, classes):
    rows = [json.loads(line) for line in run_cli("predict", "--model", model, "--data", data,
                                                 "--output", "probs", "--json").splitlines()]
    return np.array([[r["probs"][c] for c in classes] for r in rows])


def check_against_sklearn(ev, P, y, classes, positive=1):
    C = len(classes)
    pred = P.argmax(axis=1)
    assert ev["classes"] == list(classes)
    assert ev["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert ev["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred), abs=1e-12)
    assert ev["log_loss"] == pytest.approx(skm.log_loss(y, P, labels=range(C)), rel=1e-9)
    assert ev["loss"] == pytest.approx(skm.log_loss(y, P, labels=range(C)), rel=1e-9)  # f64 model
    np.testing.assert_array_equal(ev["confusion"], skm.confusion_matrix(y, pred, labels=range(C)))
    p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=range(C), zero_division=0)
    for k, pc in enumerate(ev["per_class"]):
        assert pc["class"] == classes[k]
        assert (pc["precision"], pc["recall"], pc["f1"]) == pytest.approx((p[k], r[k], f[k]), abs=1e-12)
        assert pc["support"] == s[k]
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = skm.precision_recall_fscore_support(y, pred, labels=range(C), average=avg,
                                                            zero_division=0)
        got = ev[f"{avg}_avg"]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((ap, ar, af), abs=1e-12)
    if C == 2:
        pos = (y == positive).astype(int)
        assert ev["roc_auc"] == pytest.approx(skm.roc_auc_score(pos, P[:, positive]), abs=1e-12)
        assert ev["average_precision"] == pytest.approx(
            skm.average_precision_score(pos, P[:, positive]), abs=1e-12)
        prec, rec, thr = skm.precision_recall_curve(pos, P[:, positive])
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.nan_to_num(2 * prec * rec / (prec + rec))[:-1]
        assert ev["best_f1"] == pytest.approx(f1.max(), abs=1e-12)
        assert ev["best_f1_threshold"] == thr[np.argmax(f1)]
    else:
        assert ev["roc_auc"] == pytest.approx(
            skm.roc_auc_score(y, P, multi_class="ovr", average="macro"), abs=1e-12)
        assert ev["average_precision"] == pytest.approx(
            skm.average_precision_score(label_binarize(y, classes=range(C)), P, average="macro"),
            abs=1e-12)
    if C > 5:
        assert ev["top5_accuracy"] == pytest.approx(
            skm.top_k_accuracy_score(y, P, k=5, labels=range(C)), abs=1e-12)
    else:
        assert "top5_accuracy" not in ev


def test_binary_imbalanced(tmp_path):
    X, y = make_classification(n_samples=600, n_features=6, weights=[0.9], flip_y=0.05,
                               random_state=3)
    classes = ["negative", "positive"]
    data, model = trained(tmp_path, X, np.array(classes)[y])
    ev = json.loads(run_cli("eval", "--model", model, "--data", data, "--json"))
    P = full_probs(model, data, classes)
    check_against_sklearn(ev, P, y, classes)
    assert ev["positive_class"] == "positive"
    # The other class as the positive one.
    ev0 = json.loads(run_cli("eval", "--model", model, "--data", data, "--json",
                             "--positive-class", "negative"))
    check_against_sklearn(ev0, P, y, classes, positive=0)
    # Thresholded labels: positive where p(positive) >= t.
    t = ev["best_f1_threshold"]
    out = run_cli("predict", "--model", model, "--data", data, "--threshold", t, "--no-header")
    np.testing.assert_array_equal(out.split(), np.where(P[:, 1] >= t, "positive", "negative"))
    text = run_cli("eval", "--model", model, "--data", data)
    assert "balanced accuracy" in text and "positive" in text and "macro avg" in text


def test_three_and_ten_classes(tmp_path):
    X, y = make_classification(n_samples=300, n_features=5, n_informative=4, n_redundant=0,
                               n_classes=3, random_state=4)
    classes = ["a", "b", "c"]
    (tmp_path / "3").mkdir()
    data, model = trained(tmp_path / "3", X, np.array(classes)[y])
    ev = json.loads(run_cli("eval", "--model", model, "--data", data, "--json"))
    check_against_sklearn(ev, full_probs(model, data, classes), y, classes)

    X, y = load_digits(return_X_y=True)
    (tmp_path / "10").mkdir()
    data, model = trained(tmp_path / "10", X[:600], y[:600])
    ev = json.loads(run_cli("eval", "--model", model, "--data", data, "--json"))
    names = [str(k) for k in range(10)]
    ev["classes"] = [str(c) for c in ev["classes"]]
    for pc in ev["per_class"]:
        pc["class"] = str(pc["class"])
    check_against_sklearn(ev, full_probs(model, data, names), y[:600], names)


def test_predict_outputs_are_quoted_and_named(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    names = np.array(['a "quoted", name', "line\nbreak", "plain"])
    y = (X[:, 0] > 0.4).astype(int) + (X[:, 1] > 0.4)
    data, model = trained(tmp_path, X, names[y])
    out = run_cli("predict", "--model", model, "--data", data, "--output", "labels,probs,scores")
    rows = list(csv.reader(io.StringIO(out)))
    classes = sorted(names)
    assert rows[0] == ["label"] + [f"prob_{c}" for c in classes] + [f"score_{c}" for c in classes]
    assert len(rows) == 91 and all(len(r) == 7 for r in rows)
    assert {r[0] for r in rows[1:]} <= set(names)
    probs = np.array([[float(v) for v in r[1:4]] for r in rows[1:]])
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    lines = run_cli("predict", "--model", model, "--data", data, "--output", "labels,probs",
                    "--json").splitlines()
    first = json.loads(lines[0])
    assert first["label"] == rows[1][0] and set(first["probs"]) == set(names)
    assert first["probs"][classes[0]] == pytest.approx(probs[0, 0], rel=1e-5)
