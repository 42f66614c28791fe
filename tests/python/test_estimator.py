"""fcnet.MLPClassifier against scikit-learn: accuracy, the estimator protocol, stopping rules."""

import pickle
import threading
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SkMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fcnet


@pytest.fixture(scope="module")
def wine():
    return load_wine(return_X_y=True)


@pytest.mark.parametrize("loader,floor", [(load_breast_cancer, 0.93), (load_wine, 0.95)])
def test_accuracy_is_comparable_to_scikit_learn(loader, floor):
    X, y = loader(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = make_pipeline(StandardScaler(), SkMLP(random_state=0)).fit(Xtr, ytr).score(Xte, yte)
        # fcnet standardizes float inputs itself: no scaler needed.
        ours = fcnet.MLPClassifier(random_state=0).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= floor, (ours, sk)
    assert ours >= sk - 0.03, (ours, sk)


def test_binary_decision_function_is_one_column_like_scikit_learn():
    X, y = load_breast_cancer(return_X_y=True)
    names = np.array(["benign", "malignant"])[1 - y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = fcnet.MLPClassifier(hidden_layer_sizes=(16,), random_state=0).fit(X, names)
    d = clf.decision_function(X)
    assert d.shape == (len(X),)
    np.testing.assert_array_equal(clf.classes_[(d > 0).astype(int)], clf.predict(X))
    p = clf.predict_proba(X)
    np.testing.assert_allclose(1 / (1 + np.exp(-d)), p[:, 1], rtol=1e-5, atol=1e-7)


def test_ten_class_digits():
    # scikit-learn's MLPClassifier (with a StandardScaler) scores 0.976 on this split; it is left
    # out of the run because it takes several seconds.
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    clf = fcnet.MLPClassifier(random_state=0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) > 0.95
    assert clf.n_iter_ < 200  # the loss stopped improving by tol: converged as scikit-learn does


def test_pipeline_and_cross_val_score(wine):
    X, y = wine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), fcnet.MLPClassifier(random_state=0))
        scores = cross_val_score(pipe, X, y, cv=5)
        raw = cross_val_score(fcnet.MLPClassifier(random_state=0), X, y, cv=5)
    assert scores.shape == (5,) and scores.mean() > 0.95, scores
    assert raw.mean() > 0.95, raw


def test_grid_search_clones_and_sets_parameters(wine):
    X, y = wine
    est = fcnet.MLPClassifier(max_iter=30, random_state=0)
    params = est.get_params()
    assert params["hidden_layer_sizes"] == (100,) and params["solver"] == "adam"
    assert clone(est).get_params() == params
    assert est.set_params(alpha=0.5, hidden_layer_sizes=(8,)) is est and est.alpha == 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gs = GridSearchCV(fcnet.MLPClassifier(random_state=0),
                          {"hidden_layer_sizes": [(4,), (32,)], "solver": ["adam", "nesterov"]}, cv=3)
        gs.fit(X, y)
    assert gs.best_score_ > 0.9
    assert set(gs.best_params_) == {"hidden_layer_sizes", "solver"}


def test_fractional_labels_are_a_regression_target(wine):
    X, y = wine
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        fcnet.MLPClassifier(max_iter=2).fit(X, np.array([-1.5, 0.25, 2.0])[y])


@pytest.mark.parametrize("make", [
    lambda y: np.where(np.arange(len(y)) == 7, None, y.astype(str).astype(object)),
    lambda y: __import__("pandas").Series(np.where(np.arange(len(y)) == 7, -1, y)).astype(
        "Int64").mask(np.arange(len(y)) == 7),
    lambda y: np.where(np.arange(len(y)) == 7, np.nan, y.astype(float)),
])
def test_a_missing_label_is_named_with_its_row(wine, make):
    # They failed as "labels cannot be sorted" (None, pandas.NA) without saying which row.
    X, y = wine
    with pytest.raises(ValueError, match="label .*at row 7"):
        fcnet.MLPClassifier(max_iter=2).fit(X, make(y))


@pytest.mark.parametrize("labels", [
    np.array(["class_0", "class_1", "class_2"]),
    np.array([3, 7, 10]),
    np.array([-1.0, 0.0, 2.0]),
])
def test_any_label_type(wine, labels):
    X, y = wine
    yy = labels[y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = fcnet.MLPClassifier(hidden_layer_sizes=(16,), random_state=1).fit(X, yy)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    pred = clf.predict(X)
    assert pred.dtype == clf.classes_.dtype
    assert np.mean(pred == yy) > 0.95
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.classes_[np.argmax(proba, axis=1)], pred)
    assert clf.model_.score(X, yy) == np.mean(pred == yy)
    if labels.dtype.kind != "f":  # scikit-learn's accuracy_score rejects fractional labels
        assert clf.score(X, yy) == np.mean(pred == yy)


def test_same_seed_same_model_and_different_seed_different_model(wine):
    X, y = wine
    kw = dict(hidden_layer_sizes=(16,), max_iter=20, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = fcnet.MLPClassifier(random_state=5, **kw).fit(X, y).predict_proba(X)
        b = fcnet.MLPClassifier(random_state=5, **kw).fit(X, y).predict_proba(X)
        c = fcnet.MLPClassifier(random_state=6, **kw).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert np.max(np.abs(a - c)) > 1e-4


def test_stopping_on_training_loss_follows_scikit_learn(wine):
    """With tol larger than any improvement, both stop after n_iter_no_change + 2 epochs."""
    X, y = wine
    sk = make_pipeline(StandardScaler(), SkMLP(tol=10.0, n_iter_no_change=3, random_state=0)).fit(X, y)
    ours = fcnet.MLPClassifier(tol=10.0, n_iter_no_change=3, random_state=0).fit(X, y)
    assert sk[-1].n_iter_ == 5
    assert ours.n_iter_ == 5 and ours.validation_scores_ is None


def test_early_stopping_holds_out_data_and_keeps_the_best_epoch():
    X, y = load_digits(return_X_y=True)
    clf = fcnet.MLPClassifier(early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
                              max_iter=200, random_state=0).fit(X, y)
    assert clf.n_iter_ < 200
    assert clf.best_validation_score_ > 0.9 and clf.best_loss_ is None
    # The kept weights are those of the best validation epoch (the trainer's own record of it).
    assert clf.model_.training["best_epoch"] == 1 + int(np.argmax(clf.validation_scores_))
    assert clf.score(X, y) > 0.9
    assert clf.history_[0]["examples"] == len(X) - int(np.floor(0.2 * len(X) + 0.5))


@pytest.mark.parametrize("solver", ["adam", "sgd", "momentum", "nesterov", "adamw", "rmsprop"])
def test_every_solver_learns(wine, solver):
    X, y = wine
    lr = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01}.get(solver, 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = fcnet.MLPClassifier(hidden_layer_sizes=(32,), solver=solver, learning_rate_init=lr,
                                  random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95, solver
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity", "leaky_relu", "gelu"])
def test_activations(wine, activation):
    X, y = wine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = fcnet.MLPClassifier(hidden_layer_sizes=(16,), activation=activation,
                                  random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.model_.activation == {"logistic": "sigmoid"}.get(activation, activation)


def test_alpha_is_scikit_learns_penalty(wine):
    """One full-batch SGD step: W1 = W0 − lr·(g + (alpha/n)·W0) in scikit-learn's terms, so the
    weights of runs with and without alpha differ by exactly lr·(alpha/n)·W0; biases not at all."""
    X, y = wine
    n = len(X)
    kw = dict(hidden_layer_sizes=(16,), solver="sgd", momentum=0.0, max_iter=1, random_state=3,
              precision="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = fcnet.MLPClassifier(learning_rate_init=1e-300, **kw).fit(X, y)  # W0 itself
        free = fcnet.MLPClassifier(learning_rate_init=0.01, alpha=0.0, **kw).fit(X, y)
        tied = fcnet.MLPClassifier(learning_rate_init=0.01, alpha=1000.0, **kw).fit(X, y)
    for W0, Wf, Wt in zip(start.coefs_, free.coefs_, tied.coefs_):
        np.testing.assert_allclose(Wf - Wt, 0.01 * (1000.0 / n) * W0, rtol=1e-9, atol=1e-15)
    for bf, bt in zip(free.intercepts_, tied.intercepts_):
        np.testing.assert_allclose(bf, bt, rtol=1e-12, atol=1e-15)
    assert [W.shape for W in free.coefs_] == [(13, 16), (16, 3)]
    assert [b.shape for b in free.intercepts_] == [(16,), (3,)]


def test_uint8_inputs_are_scaled_and_float_inputs_standardized():
    rng = np.random.default_rng(0)
    X8 = rng.integers(0, 256, size=(120, 6), dtype=np.uint8)
    y = (X8[:, 0] > 127).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf8 = fcnet.MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X8, y)
        clff = fcnet.MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(
            X8.astype(np.float64), y)
    scale, mean, std = clf8.model_.input_transform
    assert scale == pytest.approx(1 / 255) and mean is None and std is None
    scale, mean, std = clff.model_.input_transform
    assert scale == 1.0
    np.testing.assert_allclose(mean, X8.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, X8.std(axis=0), rtol=1e-12)


def test_not_fitted_verbose_and_convergence_warning(wine, capsys):
    X, y = wine
    with pytest.raises(NotFittedError):
        fcnet.MLPClassifier().predict(X)
    with pytest.warns(ConvergenceWarning):
        fcnet.MLPClassifier(max_iter=3, verbose=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[0].startswith("Iteration 1, loss = ")


def test_pickle_round_trip(wine):
    X, y = wine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = fcnet.MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


def test_training_releases_the_gil():
    """While one thread trains, another keeps running Python code.

    The fit's epoch callback is a builtin (list.append): it runs no bytecode, so a trainer that
    kept the GIL would never let the main thread in between two epochs. The main thread notes how
    many epochs it has seen finished each time it gets a turn. Seeing a count strictly between 0 and
    the last epoch means it ran while the trainer was in C++ between two callbacks, which it cannot
    do unless the trainer released the GIL. The test counts; it reads no clock."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 32)).astype(np.float32)
    y = rng.integers(0, 3, size=2000)
    epochs = 400
    clf = fcnet.MLPClassifier(hidden_layer_sizes=(32,), max_iter=epochs, tol=0.0,
                              n_iter_no_change=epochs, random_state=0, verbose=True)
    log = []
    clf._print_epoch = log.append  # called with each epoch's record
    done = threading.Event()
    errors = []

    def fit():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X, y)
        except BaseException as e:  # reported by the main thread
            errors.append(e)
        finally:
            done.set()

    seen = set()
    t = threading.Thread(target=fit)
    t.start()
    while not done.is_set():
        seen.add(len(log))
    t.join()
    assert not errors, errors
    assert len(log) == epochs and clf.n_iter_ == epochs
    between = sorted(n for n in seen if 0 < n < epochs)
    assert between, f"the main thread saw only {sorted(seen)} epochs finished"


def test_check_estimator_passes_every_check():
    """docs/python.md: all 51 checks of scikit-learn's check_estimator pass, each called in turn
    (the zero-weight check of check_sample_weights_invariance too: rows of weight zero are left
    out and the rest train in the canonical order, so the fit equals the one without them)."""
    from sklearn.utils.estimator_checks import check_estimator
    passed, failed = 0, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for est, check in check_estimator(fcnet.MLPClassifier(max_iter=50), generate_only=True):
            name = getattr(check, "func", check).__name__
            try:
                check(est)
                passed += 1
            except Exception as e:  # noqa: BLE001 - a failed check, whatever it raised
                failed[name] = f"{type(e).__name__}: {str(e)[:300]}"
    assert not failed, failed
    assert passed == 51, passed


def _rows_with_ties():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(150, 6)) * [1, 10, 0.1, 1, 1, 3] + [0, 5, 0, 0, 1, 0]
    y = np.where(X[:, 0] + X[:, 2] * 10 + 0.3 * rng.normal(size=150) > 0, "p", "q")
    X[:10], y[:10] = X[10:20], np.where(y[10:20] == "p", "q", "p")  # equal rows, other labels
    return X, y, rng.uniform(0.2, 3.0, size=150)


def _three_partial_fits(est, X, y, sw):
    for part in np.array_split(np.arange(len(y)), 3):
        est.partial_fit(X[part], y[part], classes=["p", "q"])
    return est


def _warm_twice(est, X, y, sw):
    est.fit(X, y)
    return est.fit(X, y)


_ORDER_CASES = {  # name: (extra parameters, how X is given, fit, with sample weights)
    "float64": ({}, None, None, False),
    "float32": ({}, np.float32, None, False),
    "uint8": ({}, np.uint8, None, False),
    "weights, balanced": ({"class_weight": "balanced"}, None, None, True),
    "early stopping, dropout": ({"early_stopping": True, "validation_fraction": 0.2,
                                 "dropout": 0.1, "max_iter": 40, "n_iter_no_change": 2}, None, None, False),
    "partial_fit": ({}, None, _three_partial_fits, False),
    "warm_start": ({"warm_start": True}, None, _warm_twice, False),
}


@pytest.mark.parametrize("case", list(_ORDER_CASES))
def test_rows_in_another_order_give_the_same_model(case):
    """docs/python.md: the fit depends on the multiset of rows, not their order (the rows are
    trained in a canonical order): the shuffle, batches, validation split and input transform see
    the same sequence. An independent fit on the rows in another order (each partial_fit call's
    rows in their own order) gives the same probabilities to the last bit."""
    extra, dtype, fit, weighted = _ORDER_CASES[case]
    X, y, sw = _rows_with_ties()
    if dtype is np.uint8:
        X = (np.abs(X) * 20).astype(np.uint8)
    elif dtype is not None:
        X = X.astype(dtype)
    sw = sw if weighted else None
    fit = fit or (lambda est, X, y, sw: est.fit(X, y, sample_weight=sw))
    kw = {**dict(hidden_layer_sizes=(9,), batch_size=16, max_iter=8, random_state=1, n_jobs=1),
          **extra}
    # Permuted within each third, so that each partial_fit call sees its own rows, reordered.
    order = np.concatenate([part[np.random.default_rng(k).permutation(len(part))]
                            for k, part in enumerate(np.array_split(np.arange(len(y)), 3))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = fit(fcnet.MLPClassifier(**kw), X, y, sw)
        b = fit(fcnet.MLPClassifier(**kw), X[order], y[order], None if sw is None else sw[order])
    np.testing.assert_array_equal(b.predict_proba(X), a.predict_proba(X))
    if "early_stopping" in extra:
        assert a.validation_scores_ is not None and a.n_iter_ < 40  # it stopped early


def test_the_same_numbers_as_float32_or_float64_give_the_same_model():
    """The canonical order is one of the rows' values, not of their bytes: numbers that float32
    holds exactly train in the same order given as float32 or float64 (scikit-learn's
    test_mlp_classifier_dtypes_casting asks the same of the predictions). Not to the last bit:
    float32 rows go through the input transform in float32, float64 rows in float64; rows in
    another order would differ by about 1e-2 here."""
    X, y, _ = _rows_with_ties()
    X = X.astype(np.float32).astype(np.float64)
    kw = dict(hidden_layer_sizes=(9,), batch_size=16, max_iter=8, random_state=1, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = fcnet.MLPClassifier(**kw).fit(X, y)
        b = fcnet.MLPClassifier(**kw).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_device_and_precision_are_checked_by_name(wine):
    X, y = wine
    with pytest.raises(ValueError, match="device"):
        fcnet.MLPClassifier(device="gpu", max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="precision: is tf32 on the CPU"):
        fcnet.MLPClassifier(precision="tf32", max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="precision: is f64 on --device cuda"):
        fcnet.MLPClassifier(precision="float64", device="cuda", max_iter=2).fit(X, y)


def test_device_cuda_trains_like_the_cpu_or_says_why_it_cannot(wine):
    X, y = wine
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    kw = dict(hidden_layer_sizes=(32,), max_iter=60, random_state=0)
    cpu = fcnet.MLPClassifier(**kw).fit(Xtr, ytr)
    try:
        gpu = fcnet.MLPClassifier(device="cuda", **kw).fit(Xtr, ytr)
    except fcnet.Error as e:
        # A build without FCNET_CUDA, or no device: the library's own clean error.
        assert "CUDA is not available: built without FCNET_CUDA" in str(e) or \
            "no CUDA device found" in str(e), str(e)
        return
    # The same loop, batches and initial weights; float rounding differs on the device.
    np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, rtol=1e-3)
    assert gpu.score(Xte, yte) == pytest.approx(cpu.score(Xte, yte), abs=0.05)


def test_partial_fit_watches_the_training_loss_even_with_early_stopping(wine):
    # scikit-learn's partial_fit ignores early_stopping: its rule and best_loss_ follow the loss.
    X, y = wine
    clf = fcnet.MLPClassifier(early_stopping=True, random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=np.unique(y))
    assert clf.n_iter_ == 3 and clf.validation_scores_ is None
    assert clf.best_loss_ == pytest.approx(min(clf.loss_curve_), rel=1e-9)


@pytest.mark.skipif("avx512bf16" not in fcnet.cpu_instruction_sets(),
                    reason="this CPU has no AVX512_BF16")
def test_bf16_on_the_cpu_tracks_float32():
    # bf16 GEMM inputs with float32 accumulation: digits' accuracy within 3 points of float32's
    # (each product's inputs are rounded by up to 2^-9), the estimator predicts at bf16 too, and
    # a pickled estimator keeps that.
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    kw = dict(hidden_layer_sizes=(128, 64), max_iter=30, random_state=0)
    f32 = fcnet.MLPClassifier(**kw).fit(Xtr, ytr)
    b16 = fcnet.MLPClassifier(precision="bf16", **kw).fit(Xtr, ytr)
    assert abs(b16.score(Xte, yte) - f32.score(Xte, yte)) < 0.03
    assert b16.score(Xte, yte) > 0.9
    assert not np.array_equal(b16.coefs_[0], f32.coefs_[0])
    assert b16.model_.gemm_precision == "bf16"
    p = b16.predict_proba(Xte)
    b16.model_.gemm_precision = "f32"
    p32 = b16.predict_proba(Xte)
    assert 0 < np.max(np.abs(p - p32)) < 0.05
    b16.model_.gemm_precision = "bf16"
    again = pickle.loads(pickle.dumps(b16))
    assert np.array_equal(again.predict_proba(Xte), p)


def test_bf16_refusal_names_the_instruction_set():
    if "avx512bf16" in fcnet.cpu_instruction_sets():
        with pytest.raises(fcnet.Error, match="tf32"):
            fcnet.MLPClassifier(precision="tf32", max_iter=2).fit(np.eye(4), [0, 1, 0, 1])
    else:
        with pytest.raises(fcnet.Error, match="AVX512_BF16"):
            fcnet.MLPClassifier(precision="bf16", max_iter=2).fit(np.eye(4), [0, 1, 0, 1])


@pytest.mark.skipif("avx512bf16" not in fcnet.cpu_instruction_sets(),
                    reason="this CPU has no AVX512_BF16")
def test_bf16_estimator_continues_after_pickling():
    # The pickled state records bf16, so partial_fit continues the run in bf16.
    X, y = load_digits(return_X_y=True)
    est = fcnet.MLPClassifier(hidden_layer_sizes=(64,), max_iter=3, precision="bf16",
                              random_state=1).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    again.partial_fit(X, y)
    assert again.model_.training["precision"] == "bf16"
    assert again.score(X, y) > 0.8
