"""DataFrames as tables: the library's table encoder (the CLI's, for CSV files) encodes them, so a
model reads a CSV through `fcnet predict` and the same cells as a DataFrame through Python alike."""

import json
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

import fcnet
from conftest import cli_path

ISLANDS = ["Biscoe", "Dream", "Torgersen"]


def run_cli(*args):
    r = subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"fcnet {' '.join(map(str, args))} failed:\n{r.stderr}"
    return r.stdout


def mixed_table(n, seed):
    """A penguin-like table: numbers with gaps, text with gaps, integers, and a class name label
    that depends on all of them."""
    rng = np.random.default_rng(seed)
    island = rng.choice(ISLANDS, n)
    sex = rng.choice(["female", "male"], n).astype(object)
    sex[rng.random(n) < 0.1] = None
    bill = rng.normal(44, 5, n).round(1)
    flipper = rng.integers(170, 230, n).astype(float)
    score = (bill - 44) / 5 + (island == "Dream") * 1.5 - (sex == "male") * 0.5 + (flipper - 200) / 20
    species = np.where(score > 0.6, "Gentoo", np.where(score > -0.4, "Chinstrap", "Adelie"))
    bill[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"id": [f"p{i}" for i in range(n)], "island": island, "bill": bill,
                         "flipper": flipper, "sex": sex, "species": species})


def write(df, path):
    df.to_csv(path, index=False, na_rep="NA")
    return path


def read(path):
    return pd.read_csv(path, float_precision="round_trip")


def probs_text(P):
    return [",".join("%.6g" % v for v in row) for row in P]


def test_cli_model_reads_a_frame_as_it_reads_the_csv(tmp_path):
    train = write(mixed_table(160, 1), tmp_path / "train.csv")
    test_df = mixed_table(40, 2)
    test_df.loc[3, "island"] = "Atlantis"  # unseen in training
    test = write(test_df, tmp_path / "test.csv")
    model = tmp_path / "m.safetensors"
    run_cli("train", "--data", train, "--label-col", "species", "--id-col", "id", "--hidden", "12",
            "--epochs", "30", "--batch", "16", "--seed", "3", "--threads", "1", "--test-data", "none",
            "--out", model, "--quiet")
    m = fcnet.load(model)
    assert [c["name"] for c in m.columns] == ["island", "bill", "flipper", "sex"]
    cli = run_cli("predict", "--model", model, "--data", test, "--output", "probs", "--threads", "1")
    cli_rows = [line.split(",", 1)[1] for line in cli.splitlines()[1:]]  # after the id column
    frame = read(test)
    with pytest.warns(UserWarning, match="'island' holds 1 categories not seen"):
        P = m.predict_proba(frame)
    assert probs_text(P) == cli_rows
    # Columns found by name: another order, extra columns, no label, the same probabilities.
    shuffled = frame[["sex", "species", "flipper", "id", "bill", "island"]].assign(extra=1.0)
    with pytest.warns(UserWarning):
        np.testing.assert_array_equal(m.predict_proba(shuffled), P)
    with pytest.raises(fcnet.Error, match="lacks the column bill that the model was trained on"):
        m.predict_proba(frame.drop(columns=["bill"]))


def test_estimator_fits_a_frame_and_the_cli_reads_its_model(tmp_path):
    df = read(write(mixed_table(200, 5), tmp_path / "t.csv"))
    X, y = df.drop(columns=["id", "species"]), df["species"]
    X = X.assign(island=X["island"].astype("category"), big=X["flipper"] > 200)
    est = fcnet.MLPClassifier(hidden_layer_sizes=(10,), learning_rate_init=0.01, max_iter=100,
                               random_state=0, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert list(est.feature_names_in_) == ["island", "bill", "flipper", "sex", "big"]
    assert est.n_features_in_ == 5
    cols = {c["name"]: c for c in est.model_.columns}
    assert cols["island"]["categories"] == ISLANDS and cols["big"]["categories"] == ["False", "True"]
    assert cols["bill"]["indicator"] and cols["bill"]["fill"] == pytest.approx(X["bill"].mean(), rel=1e-12)
    assert cols["sex"]["missing_category"]
    assert est.model_.sizes[0] == 3 + 2 + 1 + 3 + 2
    P = est.predict_proba(X)
    assert est.score(X, y) > 0.8
    # The model file, read by the CLI from the CSV with the same cells.
    path = tmp_path / "est.safetensors"
    est.save(path)
    write(X.assign(id=df["id"]), tmp_path / "x.csv")
    cli = run_cli("predict", "--model", path, "--data", tmp_path / "x.csv", "--output", "probs",
                  "--threads", "1")
    assert cli.splitlines() == [",".join(f"prob_{c}" for c in est.classes_)] + probs_text(P)
    # scikit-learn's rules for names: another order or other names raise; an array is read by position.
    with pytest.raises(ValueError, match="same order as they were in fit"):
        est.predict(X[["bill", "island", "flipper", "sex", "big"]])
    with pytest.raises(ValueError, match="should match those that were passed during fit"):
        est.predict(X.rename(columns={"bill": "beak"}))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(est.predict_proba(X.to_numpy()), P)


def test_numeric_frame_trains_as_its_array():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(120, 4))
    y = (A[:, 0] + A[:, 1] > 0).astype(int)
    kw = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=2, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = fcnet.MLPClassifier(**kw).fit(A, y)
        f = fcnet.MLPClassifier(**kw).fit(pd.DataFrame(A, columns=list("abcd")), y)
    np.testing.assert_array_equal(a.coefs_[0], f.coefs_[0])
    assert not hasattr(a, "feature_names_in_")


def test_frame_rows_in_another_order_give_the_same_model():
    """A frame's rows in another order encode and train alike (docs/python.md): the gaps' fill
    (the training mean) is summed independently of the order, and the encoded rows train in the
    canonical order. The column `wide` mixes magnitudes whose floating-point sum rounds by the
    order of its terms (1e20 + 1 − 1e20 is 0, 1e20 − 1e20 + 1 is 1)."""
    X = mixed_table(160, 5)
    y = X.pop("species").to_numpy()
    X = X.drop(columns="id")
    rng = np.random.default_rng(1)
    big = rng.permutation(np.repeat([1e20, -1e20, 0.0], [40, 40, len(X) - 80]))
    wide = rng.normal(size=len(X)) + big  # the large ones cancel: the mean is of order one
    wide[(big == 0) & (rng.random(len(X)) < 0.15)] = np.nan
    X["wide"] = wide
    order = rng.permutation(len(X))
    kw = dict(hidden_layer_sizes=(7,), batch_size=16, max_iter=6, random_state=0, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = fcnet.MLPClassifier(**kw).fit(X, y)
        b = fcnet.MLPClassifier(**kw).fit(X.iloc[order], y[order])
    assert [c["fill"] for c in b.model_.columns if "fill" in c] == \
        [c["fill"] for c in a.model_.columns if "fill" in c]
    np.testing.assert_array_equal(b.predict_proba(X), a.predict_proba(X))


def train_json(*args):
    return json.loads(run_cli("train", *args, "--epochs", "1", "--test-data", "none", "--threads",
                              "1", "--quiet", "--json"))


def test_pandas_header_of_column_positions_is_a_header(tmp_path):
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    path = tmp_path / "np.csv"
    pd.DataFrame(np.c_[X, y]).to_csv(path, index=False)  # header 0,1,2,3,4
    model = tmp_path / "m.safetensors"
    out = train_json("--data", path, "--label-col", "-1", "--out", model)
    assert out["train_examples"] == len(pd.read_csv(path)) == 150
    m = fcnet.load(model)
    assert [c["name"] for c in m.columns] == ["0", "1", "2", "3"]
    assert m.sizes[-1] == len(np.unique(y)) == 3


def test_decimal_commas_are_refused_without_decimal_comma(tmp_path):
    from sklearn.datasets import load_iris
    frame = load_iris(as_frame=True).frame
    path = tmp_path / "semi.csv"
    frame.to_csv(path, sep=";", decimal=",", index=False)
    r = subprocess.run([cli_path(), "train", "--data", path, "--label-col", "target", "--epochs", "1",
                        "--out", tmp_path / "bad.safetensors", "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "numbers with a decimal comma?" in r.stderr and "--decimal ," in r.stderr
    model = tmp_path / "m.safetensors"
    out = train_json("--data", path, "--label-col", "target", "--decimal", ",", "--out", model)
    back = pd.read_csv(path, sep=";", decimal=",")
    assert out["train_examples"] == len(back) == 150
    assert fcnet.load(model).sizes[0] == back.shape[1] - 1 == 4  # four numbers, not 123 one-hots


def test_a_frame_of_decimal_comma_texts_is_refused_in_pandas_terms():
    # read_csv without decimal=',' leaves "5,1" as text: refused, naming what pandas offers (not
    # the command line's --decimal); as a 'category' column the texts are kept as categories.
    frame = pd.DataFrame({"x": ["5,1", "4,9", "5,1", "6,3"] * 5})
    y = np.array([0, 1, 0, 1] * 5)
    with pytest.raises(ValueError, match=r"decimal comma\?.*read_csv\(\.\.\., decimal=','\)"):
        fcnet.MLPClassifier(max_iter=2).fit(frame, y)
    clf = fcnet.MLPClassifier(max_iter=2).fit(frame.astype("category"), y)
    assert clf.model_.sizes[0] == 3  # one-hot: 4,9 / 5,1 / 6,3


def test_a_column_without_any_value_is_left_out_with_a_warning():
    # scikit-learn's SimpleImputer also drops a feature without any observed value, and warns.
    rng = np.random.default_rng(3)
    A = rng.normal(size=(90, 3))
    y = (A[:, 0] - A[:, 2] > 0).astype(int)
    full = pd.DataFrame(A, columns=["a", "b", "c"])
    gappy = full.assign(empty=np.nan)[["a", "empty", "b", "c"]]
    kw = dict(hidden_layer_sizes=(6,), max_iter=15, random_state=1, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = fcnet.MLPClassifier(**kw).fit(full, y)
        with pytest.warns(UserWarning, match="column 'empty' is left out: every one of its 90"):
            got = fcnet.MLPClassifier(**kw).fit(gappy, y)
    assert [c["name"] for c in got.model_.columns] == ["a", "b", "c"]
    assert got.n_features_in_ == 4
    np.testing.assert_array_equal(got.predict_proba(gappy), ref.predict_proba(full))
    # An array is read by position as the frame's four columns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "X does not have valid feature names"
        by_position = got.predict_proba(gappy.to_numpy())
    np.testing.assert_array_equal(by_position, ref.predict_proba(full))


def test_header_given_reads_a_line_of_numbers_as_names(tmp_path):
    # Years as column names above numbers, a text label: detection reads the line as data (and
    # says so); --header yes reads it as the names.
    path = tmp_path / "years.csv"
    path.write_text("2019,2020,label\n1.5,2.5,cat\n1.0,2.0,dog\n1.25,2.0,cat\n0.5,2.5,dog\n")
    model = tmp_path / "m.safetensors"
    r = subprocess.run([cli_path(), "train", "--data", path, "--label-col", "2", "--epochs", "1",
                        "--test-data", "none", "--out", model], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "the first line is read as data" in r.stderr and "--header yes" in r.stderr
    assert list(fcnet.load(model).classes_) == ["cat", "dog", "label"]
    out = train_json("--data", path, "--header", "yes", "--out", model)
    assert out["train_examples"] == len(pd.read_csv(path)) == 4
    m = fcnet.load(model)
    assert list(m.classes_) == ["cat", "dog"]
    assert [c["name"] for c in m.columns] == ["2019", "2020"]


def test_a_left_out_column_keeps_its_place_with_integer_column_names():
    # pd.DataFrame(array) has integer names, so there is no feature_names_in_; an array at
    # predict time still has the left-out column in its place.
    rng = np.random.default_rng(4)
    A = rng.normal(size=(60, 3))
    y = (A[:, 0] > 0).astype(int)
    gappy = pd.DataFrame(np.c_[A[:, :1], np.full(60, np.nan), A[:, 1:]])
    kw = dict(hidden_layer_sizes=(5,), max_iter=5, random_state=0, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = fcnet.MLPClassifier(**kw).fit(gappy, y)
        assert not hasattr(got, "feature_names_in_")
        np.testing.assert_array_equal(got.predict_proba(gappy.to_numpy()), got.predict_proba(gappy))
        # A later fit on an array forgets the frame's columns.
        got.fit(A, y)
        assert got.predict_proba(A).shape == (60, 2)
