"""Class and example weights in the loss: the CLI's --class-weight on an imbalanced set, and the
estimator's class_weight and sample_weight."""

import json
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

import fcnet
from test_metrics import check_against_sklearn, full_probs, run_cli, write_csv


def test_balanced_class_weights_find_the_rare_class(tmp_path):
    X, y = make_classification(n_samples=3000, n_features=8, weights=[0.96], flip_y=0.01,
                               class_sep=0.8, random_state=1)
    a, b, ya, yb = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    classes = ["fraud", "ok"]  # sorted class names: the rare class 1 of make_classification is "fraud"
    names = np.array(["ok", "fraud"])
    train = write_csv(tmp_path / "train.csv", a, names[ya])
    test = write_csv(tmp_path / "test.csv", b, names[yb])
    recall = {}
    for tag, extra in (("plain", []), ("balanced", ["--class-weight", "balanced"])):
        model = tmp_path / f"{tag}.safetensors"
        run_cli("train", "--data", train, "--test-data", "none", "--precision", "f64", "--seed", "2",
                "--threads", "1", "--quiet", "--out", model, *extra)
        ev = json.loads(run_cli("eval", "--model", model, "--data", test, "--json",
                                "--positive-class", "fraud"))
        y_idx = np.where(yb == 1, 0, 1)  # class indices in the model's order
        check_against_sklearn(ev, full_probs(model, test, classes), y_idx, classes, positive=0)
        recall[tag] = ev["per_class"][0]["recall"]
        if tag == "balanced":
            counts = np.bincount(np.where(ya == 1, 0, 1))
            assert json.loads(run_cli("info", "--model", model, "--json"))["training"][
                "class_weights"] == [len(ya) / (2 * c) for c in counts]
    assert recall["balanced"] > 0.5 and recall["balanced"] > recall["plain"] + 0.1, recall


def test_estimator_class_weight_is_sample_weight_by_class():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 4))
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=150) > 0.8, "b", "a")
    kw = dict(hidden_layer_sizes=(6,), max_iter=15, random_state=0, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        by_class = fcnet.MLPClassifier(class_weight={"b": 3.0}, **kw).fit(X, y)
        by_row = fcnet.MLPClassifier(**kw).fit(X, y, sample_weight=np.where(y == "b", 3.0, 1.0))
        ones = fcnet.MLPClassifier(**kw).fit(X, y, sample_weight=np.ones(150))
        plain = fcnet.MLPClassifier(**kw).fit(X, y)
        balanced = fcnet.MLPClassifier(class_weight="balanced", **kw).fit(X, y)
    for a, b in zip(by_class.coefs_, by_row.coefs_):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(ones.coefs_, plain.coefs_):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(by_class.coefs_[0], plain.coefs_[0])
    n_b = int(np.sum(y == "b"))
    assert balanced.model_.training["class_weights"] == [150 / (2 * (150 - n_b)), 150 / (2 * n_b)]
    for bad in ({"c": 1.0}, "heavy"):
        try:
            fcnet.MLPClassifier(class_weight=bad, **kw).fit(X, y)
        except ValueError as e:
            assert "class_weight" in str(e)
        else:
            raise AssertionError(f"class_weight={bad!r} was accepted")


def test_weighted_gradient_matches_pytorch_cross_entropy_weight():
    """One full-batch SGD step with class weights, against PyTorch's CrossEntropyLoss(weight=…).
    Two fits from the same initial weights W0 with rates η and 2η give W0 and the gradient
    g(W0) = (W_η − W_2η) / η, which PyTorch computes from W0 itself."""
    import torch
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 5))
    y = rng.integers(0, 3, size=40)
    cw = {0: 0.5, 1: 2.0, 2: 1.25}
    sw = rng.uniform(0.2, 2.0, size=40)
    eta = 1e-3
    fits = []
    for lr in (eta, 2 * eta):
        est = fcnet.MLPClassifier(hidden_layer_sizes=(7,), activation="tanh", solver="sgd", momentum=0.0,
                                  alpha=0.0, batch_size=40, learning_rate_init=lr, max_iter=1,
                                  random_state=5, precision="float64", normalize="none",
                                  class_weight=cw, n_jobs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y, sample_weight=sw)
        fits.append([*est.coefs_, *est.intercepts_])
    w0 = [2 * a - b for a, b in zip(*fits)]
    grads = [(a - b) / eta for a, b in zip(*fits)]
    t = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in w0]
    W1, W2, b1, b2 = t
    scores = torch.tanh(torch.tensor(X) @ W1 + b1) @ W2 + b2
    per = torch.nn.functional.cross_entropy(scores, torch.tensor(y), reduction="none")
    w = torch.tensor(sw) * torch.tensor([cw[int(k)] for k in y], dtype=torch.float64)
    ((per * w).sum() / w.sum()).backward()
    for p, g in zip(t, grads):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-6, atol=1e-9)
    # Without sample weights PyTorch's own class-weighted mean is the same loss.
    loss = torch.nn.CrossEntropyLoss(weight=torch.tensor([cw[0], cw[1], cw[2]], dtype=torch.float64))
    per_w = torch.tensor([cw[int(k)] for k in y], dtype=torch.float64)
    assert float(loss(scores, torch.tensor(y))) == pytest.approx(
        float((per * per_w).sum() / per_w.sum()), rel=1e-12)


def _two_blobs(n=90, seed=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = np.where(X[:, 0] - X[:, 1] + 0.5 * rng.normal(size=n) > 0, "u", "v")
    return X, y


def test_zero_weights_are_the_same_fit_as_removing_the_rows():
    """scikit-learn's check_sample_weights_invariance(kind="zeros"), exactly: the rows mixed with
    rows of weight zero, in another order, give the model of the rows alone, to the last bit;
    with unequal weights on the kept rows too."""
    X1, y1 = _two_blobs()
    rng = np.random.default_rng(0)
    extra = X1 + 1
    X2 = np.vstack([X1, extra])
    y2 = np.concatenate([y1, rng.permutation(y1)])
    w1 = rng.uniform(0.5, 2.0, size=len(y1))
    kw = dict(hidden_layer_sizes=(8,), batch_size=16, max_iter=12, random_state=3, n_jobs=1)
    order = rng.permutation(len(y2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for kept, alone_weights in ((np.ones(len(y1)), None), (w1, w1)):
            alone = fcnet.MLPClassifier(**kw).fit(X1, y1, sample_weight=alone_weights)
            sw2 = np.concatenate([kept, np.zeros(len(y1))])
            mixed = fcnet.MLPClassifier(**kw).fit(X2[order], y2[order], sample_weight=sw2[order])
            np.testing.assert_array_equal(mixed.predict_proba(X1), alone.predict_proba(X1))


def test_equal_weights_are_the_unweighted_fit():
    """The loss is Σ wᵢ·Lᵢ / Σ wᵢ: a factor common to every row's weight (sample weight × class
    weight) cancels, so such weights give the unweighted model (and class weights alone remain
    where only the sample weights are equal), bit for bit."""
    X, y = _two_blobs()
    n = len(y)
    kw = dict(hidden_layer_sizes=(8,), batch_size=16, max_iter=12, random_state=3, n_jobs=1)
    cw = {"u": 4.0, "v": 0.5}
    per_row = np.where(y == "u", 4.0, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = fcnet.MLPClassifier(**kw).fit(X, y).predict_proba(X)
        by_class = fcnet.MLPClassifier(class_weight=cw, **kw).fit(X, y).predict_proba(X)
        fits = {  # (estimator, fit's sample_weight, the fit it must equal)
            "sample_weight=3": (fcnet.MLPClassifier(**kw), np.full(n, 3.0), plain),
            "products of 3": (fcnet.MLPClassifier(class_weight=cw, **kw), 3.0 / per_row, plain),
            "equal class weights": (fcnet.MLPClassifier(class_weight={"u": 2.5, "v": 2.5}, **kw),
                                    None, plain),
            "class weights, sample_weight=3": (fcnet.MLPClassifier(class_weight=cw, **kw),
                                               np.full(n, 3.0), by_class),
        }
        for name, (est, sw, want) in fits.items():
            got = est.fit(X, y, sample_weight=sw).predict_proba(X)
            np.testing.assert_array_equal(got, want, err_msg=name)
    assert not np.array_equal(by_class, plain)
    # Equal class weights are still the ones the model records having been trained with.
    assert fits["equal class weights"][0].model_.training["class_weights"] == [2.5, 2.5]
