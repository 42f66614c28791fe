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
