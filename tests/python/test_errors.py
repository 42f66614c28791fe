"""Bad inputs raise ValueError with a message that says what was wrong and what was expected."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import fcnet


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fcnet.MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y), X, y


def test_error_type():
    assert issubclass(fcnet.Error, ValueError) and issubclass(fcnet.Error, RuntimeError)
    assert fcnet.Error.__module__ == "fcnet"


@pytest.mark.parametrize("bad,match", [
    (np.array([["a", "b", "c", "d"]]), r"X: has dtype <U1, expected a real numeric array"),
    (np.ones((2, 4), dtype=complex), r"X: has dtype complex128 \(Complex data not supported\)"),
    (np.ones(4), r"X: has shape \(4,\), expected a 2-D array"),
    (np.ones((2, 5)), r"X: has 5 features per example, expected 4"),
    (np.array([[0.0, np.nan, 1.0, 2.0]]), r"X: has a non-finite value \(NaN\) at row 0, column 1"),
    (np.array([[0.0, 1.0, 1.0, 2.0], [0.0, 1.0, np.inf, 2.0]], dtype=np.float32),
     r"X: has a non-finite value \(inf\) at row 1, column 2, expected finite numbers"),
    (np.zeros((0, 4)), r"X: has 0 sample\(s\) \(shape=\(0, 4\)\) while a minimum of 1 is required"),
    (np.zeros((3, 0)), r"X: has 0 feature\(s\)"),
    (np.array([[1.0, "a", 2.0, 3.0]], dtype=object), r"X: has dtype object with a non-numeric entry"),
    ([[1.0, 2.0], [3.0]], r"X: is not an array"),
])
def test_bad_X_for_prediction(fitted, bad, match):
    clf, _, _ = fitted
    with pytest.raises(ValueError, match=match):
        clf.predict(bad)


def test_bad_training_data():
    X = np.random.default_rng(1).normal(size=(10, 3))
    y = np.array([0, 1] * 5)
    clf = fcnet.MLPClassifier(max_iter=2)
    with pytest.raises(ValueError, match=r"y: has shape \(9,\), expected \(10,\)"):
        clf.fit(X, y[:9])
    with pytest.raises(ValueError, match=r"y: has only one class \[1\], expected at least two classes"):
        clf.fit(X, np.ones(10, dtype=int))
    Xn = X.copy()
    Xn[4, 2] = np.nan
    with pytest.raises(fcnet.Error, match=r"X: has a non-finite value \(NaN\) at row 4, column 2"):
        clf.fit(Xn, y)
    for param, value, match in [
        ("solver", "lbfgs", r"solver: is 'lbfgs', expected one of"),
        ("activation", "softplus", r"activation: is 'softplus'"),
        ("hidden_layer_sizes", (4, 0), r"hidden_layer_sizes: is 0, expected an integer >= 1"),
        ("alpha", -1.0, r"alpha: is -1.0, expected a number >= 0"),
        ("learning_rate", "adaptive", r"learning_rate: is 'adaptive'"),
        ("batch_size", 0, r"batch_size: is 0"),
        ("max_iter", 2.5, r"max_iter: is 2.5"),
        ("shuffle", False, r"shuffle: is False"),
        ("random_state", "x", r"random_state: is 'x'"),
    ]:
        with pytest.raises(ValueError, match=match):
            fcnet.MLPClassifier(max_iter=2).set_params(**{param: value}).fit(X, y)


def test_bad_inputs_to_the_cs231n_nets(toy):
    net, X, y = toy
    with pytest.raises(ValueError, match=r"X: has 3 features per example, expected 4"):
        net.loss(X[:, :3])
    with pytest.raises(ValueError, match=r"y: label 3 at example 1 is out of range, expected class indices in 0\.\.2"):
        net.loss(X, np.array([0, 3, 1, 1, 1]))
    with pytest.raises(ValueError, match=r"y: has shape \(4,\), expected \(5,\)"):
        net.loss(X, y[:4])
    with pytest.raises(ValueError, match=r"y: holds values that are not whole numbers"):
        net.loss(X, y + 0.5)
    with pytest.raises(ValueError, match=r"X: has a non-finite value \(NaN\) at row 2, column 3"):
        Xn = X.copy()
        Xn[2, 3] = np.nan
        net.loss(Xn, y)
    with pytest.raises(ValueError, match=r"reg: is -0.1, expected a number >= 0"):
        net.loss(X, y, reg=-0.1)
    net.params["W2"] = np.ones((9, 3))
    with pytest.raises(ValueError, match=r"params\['W2'\]: has shape \(9, 3\), expected fan_in 10"):
        net.loss(X)
    net.params["W2"] = np.ones((10, 3))
    net.params["b1"] = np.ones(11)
    with pytest.raises(ValueError, match=r"params\['b1'\]: has shape \(11,\), expected \(10,\)"):
        net.loss(X)
    net.params["b1"] = np.zeros(10)
    net.params["W1"][0, 0] = np.inf
    with pytest.raises(ValueError, match=r"params\['W1'\]: has a non-finite value \(inf\)"):
        net.loss(X)
    with pytest.raises(ValueError, match=r"dropout_keep_ratio: is 0.0"):
        fcnet.FullyConnectedNet([5], dropout_keep_ratio=0.0)
    with pytest.raises(ValueError, match=r"normalization: is 'batchnorm'"):
        fcnet.FullyConnectedNet([5], normalization="batchnorm")


def test_bad_labels_for_evaluation(fitted):
    clf, X, y = fitted
    with pytest.raises(ValueError, match=r"y: label 7 at example 0 is not a class of the model"):
        clf.model_.evaluate(X[:2], np.array([7, 0]))


def test_bad_model_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        fcnet.load(tmp_path / "missing.safetensors")
    p = tmp_path / "short.safetensors"
    p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(fcnet.Error, match=str(p)):
        fcnet.load(p)
    q = tmp_path / "nodir" / "m.safetensors"
    net = fcnet.TwoLayerNet(3, 4, 2)
    with pytest.raises(fcnet.Error, match="nodir"):
        net.save(q)


def test_other_input_kinds(fitted):
    clf, X, y = fitted
    # Numbers held in an object array are accepted; sparse matrices and a missing y are not.
    np.testing.assert_array_equal(clf.predict(X.astype(object)), clf.predict(X))
    import scipy.sparse
    with pytest.raises(ValueError, match=r"X: is a sparse matrix \(sparse input is not supported\)"):
        clf.predict(scipy.sparse.csr_matrix(X))
    with pytest.raises(ValueError, match=r"y: is None"):
        fcnet.MLPClassifier().fit(X, None)
