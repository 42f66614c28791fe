"""scikit-learn's own MLPClassifier tests (sklearn/neural_network/tests/test_mlp.py of the
installed scikit-learn 1.2), run on fcnet.MLPClassifier: the module is imported and its
MLPClassifier replaced by fcnet's, so every assertion is scikit-learn's. Tests of features fcnet
does not have are listed with the reason; cases of MLPRegressor are left out."""

import inspect
import warnings

import pytest
import sklearn.neural_network.tests.test_mlp as sk_tests
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor

import fcnet

NOT_APPLICABLE = {
    "test_adaptive_learning_rate": "learning_rate='adaptive' is not available",
    "test_learning_rate_warmstart": "learning_rate='invscaling' (power_t) is not available",
    "test_gradient": "solver='lbfgs' is not available",
    "test_lbfgs_classification": "solver='lbfgs' is not available",
    "test_lbfgs_classification_maxfun": "solver='lbfgs' is not available",
    "test_sparse_matrices": "solver='lbfgs' and sparse input are not available",
    "test_warm_start": "solver='lbfgs' is not available",
    "test_partial_fit_errors": "asserts that solver='lbfgs' has no partial_fit",
    "test_multilabel_classification": "multilabel targets are not available",
    "test_predict_proba_multilabel": "multilabel targets are not available",
    "test_fit": "sets private scikit-learn attributes (_coef_grads) and steps its _fit",
    "test_early_stopping_stratified": "the validation split is not stratified",
    "test_mlp_param_dtypes": "coefs_ have the precision parameter's dtype (float32 by default), "
                             "not the input's",
    "test_preserve_feature_names": "fits y of a single class, which fcnet refuses (a classifier "
                                   "needs two classes)",
}


def classifier_tests():
    for name, fn in sorted(vars(sk_tests).items()):
        if name.startswith("test_") and callable(fn) and "MLPClassifier" in inspect.getsource(fn):
            yield name


def cases(fn):
    """The test's parametrize cases as keyword dicts, MLPRegressor cases left out and scikit-learn's
    MLPClassifier given as fcnet's."""
    out = [{}]
    for mark in getattr(fn, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names = mark.args[0]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        grown = []
        for case in out:
            for v in mark.args[1]:
                values = getattr(v, "values", v if len(names) > 1 else (v,))
                grown.append({**case, **dict(zip(names, values))})
        out = grown
    keep = []
    for case in out:
        if any(v is MLPRegressor for v in case.values()):
            continue
        keep.append({k: fcnet.MLPClassifier if v is SkMLPClassifier else v for k, v in case.items()})
    return keep


@pytest.mark.parametrize("name", [n for n in classifier_tests() if n not in NOT_APPLICABLE])
def test_scikit_learns_test(name, monkeypatch):
    monkeypatch.setattr(sk_tests, "MLPClassifier", fcnet.MLPClassifier)
    fn = getattr(sk_tests, name)
    for case in cases(fn):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(**case)


def test_the_list_of_tests_that_do_not_apply_is_current():
    """docs/python.md: 14 of the 28 tests that use MLPClassifier run and pass; 14 do not apply."""
    everything = set(classifier_tests())
    assert set(NOT_APPLICABLE) <= everything
    assert (len(everything), len(NOT_APPLICABLE)) == (28, 14)
