"""Parts of scikit-learn's MLPClassifier contract: its SGD, early stopping on its own checks, the
batch-size warning."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_classifiers_train

import fcnet


def test_sgd_is_scikit_learns_nesterov_momentum_sgd():
    X, y = load_digits(return_X_y=True)
    a, b, ya, yb = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(3):
            kw = dict(solver="sgd", max_iter=60, random_state=seed)
            ours.append(fcnet.MLPClassifier(n_jobs=1, **kw).fit(a, ya).score(b, yb))
            theirs.append(make_pipeline(StandardScaler(), SkMLP(**kw)).fit(a, ya).score(b, yb))
    assert np.mean(ours) >= np.mean(theirs) - 0.02, (ours, theirs)
    est = fcnet.MLPClassifier(solver="sgd", max_iter=1)
    assert est._optimizer() == "nesterov"
    assert est.set_params(nesterovs_momentum=False)._optimizer() == "momentum"
    assert est.set_params(momentum=0.0)._optimizer() == "sgd"


def test_early_stopping_passes_check_classifiers_train():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_classifiers_train("MLPClassifier", fcnet.MLPClassifier(early_stopping=True, max_iter=50))


def test_a_batch_larger_than_the_data_is_clipped_with_a_warning():
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(UserWarning, match="batch_size"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fcnet.MLPClassifier(batch_size=64, max_iter=2).fit(X, y)


def test_partial_fit_and_warm_start_continue_the_run():
    """Three partial_fit epochs, and a warm-started fit of one epoch after two, both end where one
    fit of three epochs ends: the run continues with its weights, optimizer and generators."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 4))
    y = np.where(X[:, 0] - X[:, 1] > 0, "up", "down")
    kw = dict(hidden_layer_sizes=(8,), batch_size=20, random_state=4, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = fcnet.MLPClassifier(max_iter=3, **kw).fit(X, y)
        part = fcnet.MLPClassifier(**kw)
        for _ in range(3):
            part.partial_fit(X, y, classes=["down", "up"])
        warm = fcnet.MLPClassifier(max_iter=2, warm_start=True, **kw).fit(X, y)
        warm.set_params(max_iter=1).fit(X, y)
        cold = fcnet.MLPClassifier(max_iter=2, **kw).fit(X, y)
        cold.set_params(max_iter=1).fit(X, y)
    for other in (part, warm):
        assert other.n_iter_ == 3
        for a, b in zip(full.coefs_ + full.intercepts_, other.coefs_ + other.intercepts_):
            np.testing.assert_array_equal(a, b)
    assert cold.n_iter_ == 1  # without warm_start a fit starts over
    assert part.loss_curve_ == full.loss_curve_
    with pytest.raises(ValueError, match="classes"):
        fcnet.MLPClassifier(**kw).partial_fit(X, y)
    with pytest.raises(ValueError, match="'sideways'"):
        part.partial_fit(X[:3], np.array(["up", "down", "sideways"]))
    import pickle
    again = pickle.loads(pickle.dumps(part))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        again.partial_fit(X, y)
        part.partial_fit(X, y)
    np.testing.assert_array_equal(again.coefs_[0], part.coefs_[0])


def test_messages_name_the_python_parameter():
    X = np.random.default_rng(0).normal(size=(4, 2))
    with pytest.raises(fcnet.Error, match=r"^validation_fraction: leaves 4 training and 0 validation"):
        fcnet.MLPClassifier(early_stopping=True, validation_fraction=0.1).fit(X, [0, 0, 1, 1])
