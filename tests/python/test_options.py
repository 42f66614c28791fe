"""The binding's training keywords are the option table's (fcnet/train_options.hpp): every keyword
reaches the run's configuration, and a bad value or keyword is named."""

import json

import numpy as np
import pytest

from fcnet import _fcnet

# A value for every keyword of the table, none of them its default (the device aside: a run here
# has no GPU). A new option without a value here fails the first test.
UNUSUAL = dict(
    hidden=[7, 3], activation="leaky_relu", leaky_relu_alpha=0.2, optimizer="rmsprop", lr=0.003,
    schedule="plateau", lr_decay=0.7, step_epochs=4, min_lr=1e-5, warmup_epochs=0.5,
    momentum=0.8, beta1=0.85, beta2=0.98, eps=1e-7, rmsprop_alpha=0.9, weight_decay=0.02,
    reg=1e-3, dropout=0.25, class_weights=[1.5, 0.5], batch=33, epochs=4, max_steps=77,
    val_split=0.15, patience=3, monitor="val_balanced_accuracy", min_delta=0.01,
    plateau_patience=2, normalize="scale", init="normal", init_std=0.03, seed=12345678901234,
    precision="f64", device="cpu",
)


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int32)
    return X, y


def test_every_keyword_reaches_the_runs_configuration():
    assert set(UNUSUAL) == set(_fcnet.option_keywords())
    X, y = data()
    model, _ = _fcnet.train(X, y, **UNUSUAL)
    meta = json.loads(model.training_json)
    for key, value in UNUSUAL.items():
        # A CPU run's metadata names no device.
        assert meta.get(key, "cpu" if key == "device" else None) == value, key


def test_keywords_left_out_keep_the_libraries_defaults():
    X, y = data()
    model, _ = _fcnet.train(X, y, epochs=1)
    meta = json.loads(model.training_json)
    # TrainConfig's defaults (include/fcnet/trainer.hpp, optim.hpp, schedule.hpp).
    assert meta["hidden"] == [512, 256] and meta["batch"] == 128 and meta["lr"] == 1e-3
    assert meta["optimizer"] == "adam" and meta["schedule"] == "constant"
    assert meta["monitor"] == "val_loss" and meta["precision"] == "f32"


@pytest.mark.parametrize("kw,match", [
    (dict(lr=-1), r"^lr: is -1, expected a positive learning rate$"),
    (dict(lr=True), r"^lr: is True, expected a number$"),
    (dict(batch=6.5), r"^batch: is 6\.5, expected a whole number$"),
    (dict(hidden=[4, 0]), r"^hidden: is \[4, 0\], expected positive widths$"),
    (dict(hidden="4"), r"^hidden: is '4', expected a list of whole numbers$"),
    (dict(beta2=1.0), r"^beta2: is 1, expected a decay rate in \[0, 1\)$"),
    (dict(schedule="linear"), r"^schedule: unknown schedule 'linear'"),
    (dict(val_split=1.5), r"^val_split: is 1\.5, expected a fraction in \[0, 1\)$"),
    (dict(lrr=0.1), r"^train: got the unknown keyword 'lrr', expected one of hidden, "),
    (dict(batch=2**63), r"^batch: is 9223372036854775808, expected a whole number$"),
    (dict(seed=2**64), r"^seed: is 18446744073709551616, expected a whole number >= 0$"),
    (dict(lr=10**400), r"^lr: is 1000.*\.\.\., expected a number$"),
    (dict(hidden=np.array([[4, 3]])), r"^hidden: is array\(\[\[4, 3\]\]\), expected a list of whole"),
    (dict(lr=np.bool_(True)), r"^lr: is True, expected a number$"),
    (dict(class_weights=[1, float("nan")]), r"^class_weights: is \[1, nan\], expected finite weights"),
    (dict(precision="F64"), r"^precision: is 'F64', expected one of f32, bf16, f64, tf32$"),
])
def test_a_bad_keyword_or_value_is_named(kw, match):
    # numpy's scalars are numbers like Python's
    X0, y0 = data()
    _fcnet.train(X0, y0, epochs=1, lr=np.float32(0.01), batch=np.int64(16), hidden=np.array([4]))
    X, y = data()
    with pytest.raises(_fcnet.Error, match=match):
        _fcnet.train(X, y, epochs=1, **kw)
