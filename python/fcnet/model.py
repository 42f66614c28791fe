"""Trained models and model files (the same safetensors files the fcnet command line reads and writes)."""

import json
import os
import warnings

import numpy as np

from . import _fcnet
from ._checks import as_array, as_matrix, threads_for
from ._table import encode_frame, is_frame


def _decode_classes(names, training):
    """Class labels for a model: names from the file, restored to the label type the Python side
    trained with (recorded in the training metadata), or indices when the file has no names."""
    if not names:
        return None
    kind = training.get("label_dtype") if isinstance(training, dict) else None
    if kind:
        try:
            if np.dtype(kind).kind == "b":
                return np.asarray([n == "True" for n in names])
            return np.asarray(names).astype(np.dtype(kind))
        except (TypeError, ValueError):
            pass
    return np.asarray(names)


class Model:
    """A trained classifier: network, input transform and class names, as stored in a model file.

    Inputs are used in place when they are C-contiguous in the model's precision and the model has
    no input transform; otherwise each batch is converted (and transformed) on the fly.

    gemm_precision: 'f32' (the default), or 'bf16' for predict and evaluate to round the GEMM
    inputs to bfloat16 with f32 accumulation (float32 models, on CPUs with AVX512_BF16), as the
    CLI's `--precision bf16`.
    """

    def __init__(self, core):
        self._core = core
        self._classes = None
        self.gemm_precision = "f32"

    # -- construction and files -----------------------------------------------------------------

    @classmethod
    def load(cls, path):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such model file")
        return cls(_fcnet.Model.load(path))

    def save(self, path):
        """Writes the model atomically (temporary file in the same folder, then rename)."""
        self._core.save(os.fspath(path))

    def export_onnx(self, path):
        """Writes the model as an ONNX graph (atomically) that computes predict_proba's
        probabilities and predict's class index from the same raw inputs (docs/format.md, "ONNX
        export")."""
        self._core.export_onnx(os.fspath(path))

    def to_bytes(self):
        return self._core.to_bytes()

    @classmethod
    def from_bytes(cls, data):
        return cls(_fcnet.Model.from_bytes(bytes(data)))

    def __getstate__(self):
        return {"model": self._core.to_bytes(), "gemm_precision": self.gemm_precision}

    def __setstate__(self, state):
        self._core = _fcnet.Model.from_bytes(state["model"])
        self._classes = None
        self.gemm_precision = state.get("gemm_precision", "f32")
        if self.gemm_precision == "bf16" and "avx512bf16" not in _fcnet.cpu_instruction_sets():
            warnings.warn("this model predicted with bf16 GEMMs, which this CPU lacks (no "
                          "AVX512_BF16); it predicts in float32 here", RuntimeWarning, stacklevel=2)
            self.gemm_precision = "f32"

    # -- description ----------------------------------------------------------------------------

    @property
    def sizes(self):
        """Layer sizes [D, H_1, ..., C]."""
        return list(self._core.sizes)

    @property
    def n_features_in_(self):
        return self._core.sizes[0]

    @property
    def activation(self):
        return self._core.activation

    @property
    def precision(self):
        return "float64" if self._core.f64 else "float32"

    @property
    def training(self):
        """The training metadata (hyperparameters, data, final metrics) as a dict, or {}."""
        text = self._core.training_json
        return json.loads(text) if text else {}

    @property
    def classes_(self):
        """Label of each output class: the names stored in the file (in the type they were trained
        with), else 0..C-1."""
        if self._classes is None:
            c = _decode_classes(self._core.class_names, self.training)
            self._classes = c if c is not None else np.arange(self._core.sizes[-1])
        return self._classes

    @property
    def params(self):
        """Copies of the parameters {W1, b1, ..., WL, bL} (W_l is fan_in × fan_out)."""
        ps = self._core.params()
        return {f"{'W' if i % 2 == 0 else 'b'}{i // 2 + 1}": p for i, p in enumerate(ps)}

    @property
    def input_transform(self):
        """(scale, mean or None, std or None): x' = (x·scale − mean) / std applied before the network."""
        return self._core.input_scale, self._core.input_mean, self._core.input_std

    def __repr__(self):
        return (f"fcnet.Model(sizes={self.sizes}, activation={self.activation!r}, "
                f"precision={self.precision!r}, classes={len(self.classes_)})")

    # -- inference ------------------------------------------------------------------------------

    @property
    def columns(self):
        """The table columns the model reads (a model trained on a CSV or a DataFrame) as a list of
        dicts (name, kind, and categories or fill value), else None."""
        text = self._core.schema_json
        return json.loads(text)["columns"] if text else None

    def _x(self, X):
        if is_frame(X) and self._core.schema_json:
            # A table: its columns found by name (in any order; others ignored) and encoded as in
            # training, as `fcnet predict` does with a CSV.
            X, _, unseen = encode_frame(X, self._core.schema_json)
            for name, count in unseen:
                warnings.warn(f"X: column {name!r} holds {count} categories not seen in training "
                              "(encoded as all zeros)", UserWarning, stacklevel=3)
        X = as_matrix(X, "X", keep=("uint8", "float32", "float64"))
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X: has {X.shape[1]} features per example, expected {self.n_features_in_} "
                             "(the model's input width)")
        return X

    def _threads(self, X):
        return threads_for(min(X.shape[0], 1024), self._core.num_params)

    def decision_function(self, X):
        """Raw scores (N×C, float64)."""
        X = self._x(X)
        return self._core.predict(X, False, self._threads(X), self.gemm_precision)

    def predict_proba(self, X):
        """Class probabilities (N×C, float64), columns in the order of classes_."""
        X = self._x(X)
        return self._core.predict(X, True, self._threads(X), self.gemm_precision)

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Most probable class label per example (first class on ties, as `fcnet predict`)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _encode(self, y, n):
        """Labels (in classes_'s terms) as class indices."""
        Y = np.asarray(y)
        if Y.ndim != 1 or Y.shape[0] != n:
            raise ValueError(f"y: has shape {Y.shape}, expected ({n},), one label per example")
        classes = self.classes_
        if Y.dtype.kind in "OUS" or classes.dtype.kind in "OUS":
            table = {c: i for i, c in enumerate(classes.tolist())}
            keys = Y.tolist()
            if classes.dtype.kind in "OUS" and Y.dtype.kind not in "OUS":
                keys = [str(k) for k in keys]
            idx = np.empty(n, dtype=np.int32)
            for i, k in enumerate(keys):
                j = table.get(k)
                if j is None:
                    raise ValueError(f"y: label {k!r} at example {i} is not a class of the model, "
                                     f"expected one of {classes.tolist()}")
                idx[i] = j
            return idx
        as_array(Y, "y")
        pos = np.searchsorted(classes, Y)
        pos = np.clip(pos, 0, len(classes) - 1)
        bad = np.flatnonzero(classes[pos] != Y)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"y: label {Y[i]!r} at example {i} is not a class of the model, "
                             f"expected one of {classes.tolist()}")
        return pos.astype(np.int32)

    def evaluate(self, X, y):
        """Accuracy and loss on labelled data, as the CLI's `fcnet eval`: a dict with n, accuracy,
        loss (mean −log p[y], no regularization), confusion (rows true, columns predicted) and
        per_class_accuracy (recall; NaN for classes absent from y)."""
        X = self._x(X)
        yi = self._encode(y, X.shape[0])
        return self._core.evaluate(X, yi, self._threads(X), self.gemm_precision)

    def score(self, X, y):
        """Mean accuracy on (X, y)."""
        return self.evaluate(X, y)["accuracy"]


def load(path):
    """Reads an fcnet model file (written by the CLI, fcnet.Model.save or an estimator's save)."""
    return Model.load(path)
