"""fcnet.MLPClassifier: a scikit-learn style classifier trained by fcnet's C++ trainer."""

import json
import numbers
import os
import sys
import warnings

import numpy as np

from . import _fcnet
from ._checks import _fail, as_matrix, check_positive_int, check_real, threads_for
from ._table import column_names, encode_frame, encode_matrix, is_frame, is_missing
from .model import Model


try:  # scikit-learn is optional: with it the estimator plugs into Pipeline, clone, GridSearchCV...
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
except ImportError:  # ... without it, the same get_params/set_params/score are provided here.
    import inspect

    class NotFittedError(ValueError, AttributeError):
        """Raised when an estimator is used before fit."""

    class ConvergenceWarning(UserWarning):
        """Training stopped at max_iter before the loss stopped improving."""

    class DataConversionWarning(UserWarning):
        """Input was converted: a column vector of labels, for instance."""

    class BaseEstimator:
        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p.name for p in sig.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for k, v in params.items():
                if k not in valid:
                    raise ValueError(f"Invalid parameter {k!r} for estimator {type(self).__name__}, "
                                     f"expected one of {valid}")
                setattr(self, k, v)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class ClassifierMixin:
        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            correct = np.asarray(self.predict(X) == np.asarray(y), dtype=float)
            return float(np.average(correct, weights=sample_weight))


_SOLVERS = ("adam", "sgd", "momentum", "nesterov", "adamw", "rmsprop")
_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "sigmoid": "sigmoid",
                "identity": "identity", "leaky_relu": "leaky_relu", "gelu": "gelu"}
_SCHEDULES = ("constant", "exponential", "step", "cosine")
# The binding's messages name its keywords (the option table's); the estimator's say its
# parameters.
_PARAMETER_NAMES = {"val_split": "validation_fraction", "batch": "batch_size",
                    "class_weights": "class_weight", "dropout": "dropout", "epochs": "max_iter",
                    "hidden": "hidden_layer_sizes", "lr": "learning_rate_init", "reg": "alpha",
                    "precision": "precision", "device": "device", "optimizer": "solver",
                    "schedule": "learning_rate", "beta1": "beta_1", "beta2": "beta_2",
                    "eps": "epsilon", "min_delta": "tol"}


def _in_parameter_names(error):
    text = str(error)
    for flag, name in _PARAMETER_NAMES.items():
        if text.startswith(flag + ":"):
            return type(error)(name + text[len(flag):])
    return error


# The estimator's precision names and the trainer's.
_PRECISIONS = {"float32": "f32", "f32": "f32", "float64": "f64", "f64": "f64", "tf32": "tf32",
               "bf16": "bf16"}


def _end_every_rank_on_uncaught_exceptions():
    """In a process an MPI launcher started: an exception that no code catches ends every rank
    when this one has joined MPI (its MPI_Finalize at exit would wait for ranks that wait for it);
    before it has joined, the process exits as usual, with a non-zero code the launcher acts on."""
    if getattr(sys.excepthook, "_fcnet_aborts", False):
        return
    shown = sys.excepthook

    def abort_every_rank(kind, value, tb):
        shown(kind, value, tb)
        if _fcnet.mpi_joined():
            _fcnet.mpi_abort(f"{kind.__name__}: {value}")

    abort_every_rank._fcnet_aborts = True
    sys.excepthook = abort_every_rank


if _fcnet.mpi_launched():
    _end_every_rank_on_uncaught_exceptions()


def _join_ranks():
    """(rank, size) of this process in its MPI job, for data_parallel=True."""
    world = _fcnet.mpi_rank()
    if world is None:
        _fail("data_parallel", "is True in a process that no MPI launcher started",
              "a script run by mpirun/mpiexec, one process per rank (or data_parallel=False)")
    return world


def _gathered(step, values):
    """Every rank's values (JSON-able), in rank order. `step` names the point of the fit this
    rank is at: ranks at different points (one skipped a fit, or caught an error another did not
    raise) are refused, on every rank, rather than paired."""
    parts = [json.loads(t) for t in _fcnet.mpi_all_gather(json.dumps([step, values]))]
    for r, (theirs, _) in enumerate(parts):
        if theirs != step:
            _fail("data_parallel", f"rank {r} is at '{theirs}' of a fit while this rank is at "
                  f"'{step}'", "every rank calling fit (or partial_fit) alike, at the same time")
    return [v for _, v in parts]


def _summed(counts, ranks, step):
    """The counts summed over the ranks (this process's alone without data_parallel)."""
    if ranks is None:
        return counts
    return np.sum([np.asarray(c, dtype=np.int64) for c in _gathered(step, counts.tolist())],
                  axis=0)


def _union(labels, ranks):
    """The sorted labels of every rank: the same array on every rank (its dtype is the gathered
    labels', not this rank's, which may be narrower)."""
    if ranks is None:
        return labels
    kind = object if labels.dtype == object else None
    parts = [np.asarray(p, dtype=kind) for p in _gathered("labels", labels.tolist())]
    return np.unique(np.concatenate(parts))


def _first(value, ranks):
    """Rank 0's value on every rank."""
    return value if ranks is None else _gathered("seed", value)[0]


def _agree(settings, ranks):
    """Refuses, on every rank, settings that differ between the ranks (rank 0's are the
    reference): the ranks must train one network the same way."""
    if ranks is None:
        return
    everyone = _gathered("settings", settings)
    for r, theirs in enumerate(everyone):
        for key in sorted(set(theirs) | set(everyone[0])):
            if theirs.get(key) != everyone[0].get(key):
                _fail("data_parallel", f"rank {r} fits with {key}={theirs.get(key)!r} and rank 0 "
                      f"with {key}={everyone[0].get(key)!r}",
                      "the same parameters, classes and kind of data on every rank")


def _effective_weights(sample_weight, class_weights, yi, rows):
    """(sample_weight, class_weights) for the trainer. The loss weighs row i by
    wᵢ = sample_weight[i] · class_weights[yᵢ] in the mean Σ wᵢ·Lᵢ / Σ wᵢ, so a common factor of
    every trained row's weight cancels: where all the wᵢ are one positive number the fit is the
    unweighted one, and takes the unweighted path (whose sums are the unweighted fit's to the
    last bit); where only the sample weights are all equal, the class weights alone remain."""
    if sample_weight is None and not class_weights:
        return None, class_weights
    sw = None if sample_weight is None else (
        sample_weight if rows is None else sample_weight[rows])
    w = np.ones(1) if sw is None else sw
    if class_weights:
        w = w * np.asarray(class_weights, dtype=np.float64)[yi if rows is None else yi[rows]]
    if w[0] > 0 and np.all(w == w[0]):
        return None, []
    if sw is not None and np.all(sw == sw[0]):
        return None, class_weights
    return sample_weight, class_weights


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier (softmax + cross-entropy) trained by fcnet's C++ trainer.

    Parameters follow sklearn.neural_network.MLPClassifier where the two overlap:

    hidden_layer_sizes : widths of the hidden layers; () gives softmax regression.
    activation : 'relu', 'tanh', 'logistic', 'identity', and fcnet's 'leaky_relu' and 'gelu'.
    solver : 'adam', 'sgd' (scikit-learn's: momentum, Nesterov's when nesterovs_momentum, plain
        SGD when momentum=0), or fcnet's 'momentum', 'nesterov', 'adamw', 'rmsprop'; 'lbfgs' is not
        available.
    alpha : L2 penalty with scikit-learn's meaning. scikit-learn adds alpha/(2·B)·Σ‖W‖² to the mean
        loss of each minibatch of B examples (gradient alpha·W/B); fcnet's trainer adds reg·Σ‖W‖²,
        so reg = alpha / (2·batch_size) gives the same penalty and gradients for every full batch.
    batch_size : int or 'auto' (= min(200, n_samples)).
    learning_rate : 'constant' (as scikit-learn), or fcnet's 'exponential' (× lr_decay per epoch),
        'step' (× lr_decay every 10 epochs) or 'cosine' (annealed to 0 over max_iter epochs).
    learning_rate_init : base learning rate.
    max_iter : number of epochs (passes over the training data).
    shuffle : must be True; the trainer reshuffles every epoch (seeded by random_state).
    random_state : None, int or np.random.RandomState; seeds initialization, shuffling, dropout and
        the validation split.
    tol, n_iter_no_change : as scikit-learn: training stops once the loss (or, with early_stopping,
        the validation accuracy) has failed to improve by tol for more than n_iter_no_change
        consecutive epochs.
    early_stopping, validation_fraction : hold out validation_fraction of the training data, stop
        on the validation accuracy as above, and keep the weights of the best epoch.
    beta_1, beta_2, epsilon : Adam's; momentum, nesterovs_momentum : sgd's (momentum is also
        the 'momentum' and 'nesterov' solvers').
    weight_decay : adamw's decoupled weight decay.
    dropout : drop probability of hidden units during training (fcnet extension).
    precision : 'float32' (fast, oneDNN kernels), 'bf16' (GEMM inputs in bfloat16 with float32
        accumulation, on CPUs with AVX512_BF16; predictions use it too) or 'float64' on the CPU;
        'float32', 'tf32' or 'bf16' on a GPU (fcnet extension; docs/cuda.md).
    device : 'cpu', or 'cuda' for CUDA device 0 (a build with FCNET_CUDA; fcnet extension).
    normalize : input transform fitted on the training data and stored with the model: 'auto'
        (uint8 inputs scaled by 1/255, other inputs standardized per column), 'standardize',
        'scale' or 'none'.
    class_weight : None, 'balanced' (n_samples / (n_classes · count), as scikit-learn's
        compute_class_weight) or a dict {label: weight}; the loss is the weighted mean
        Σ wᵢ·Lᵢ / Σ wᵢ with wᵢ = class weight × sample_weight[i] (fit's).
    n_jobs : threads for training. None: one thread when batch_size × weights is small (below
        4 million multiply-adds per batch, where hand-offs between threads cost more than they
        save), else fcnet's setting (fcnet.set_num_threads, default one per core); a positive
        count; -1 every core.
    data_parallel : False, or True in a script that mpirun/mpiexec started K times (fcnet
        extension; docs/mpi.md): each process calls fit with its own rows (a NumPy array; every
        rank's rows together are the training set) and the K processes train one model, the
        gradients of each batch summed over them; every rank ends with the same model. classes_,
        the input transform, 'balanced' class weights, batch_size='auto', the validation split
        and random_state=None's seed are those of all ranks' rows. An exception that no code
        catches on any rank ends every rank (so that none waits for it).

    Attributes after fit: classes_, n_features_in_, model_ (fcnet.Model), loss_curve_, loss_,
    best_loss_, validation_scores_, best_validation_score_, n_iter_, t_, coefs_, intercepts_,
    n_layers_, n_outputs_, out_activation_, history_ (fcnet's per-epoch records).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", solver="adam", alpha=1e-4,
                 batch_size="auto", learning_rate="constant", learning_rate_init=1e-3, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, momentum=0.9, weight_decay=0.01, lr_decay=0.95,
                 dropout=0.0, precision="float32", normalize="auto", n_jobs=None,
                 class_weight=None, nesterovs_momentum=True, warm_start=False, device="cpu",
                 data_parallel=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.lr_decay = lr_decay
        self.dropout = dropout
        self.precision = precision
        self.device = device
        self.normalize = normalize
        self.n_jobs = n_jobs
        self.class_weight = class_weight
        self.nesterovs_momentum = nesterovs_momentum
        self.warm_start = warm_start
        self.data_parallel = data_parallel

    # -- fitting --------------------------------------------------------------------------------

    def _seed(self):
        rs = self.random_state
        if rs is None:
            return int(np.random.randint(0, 2**31 - 1))
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2**31 - 1))
        if isinstance(rs, np.random.Generator):
            return int(rs.integers(0, 2**63 - 1))
        if isinstance(rs, numbers.Integral) and not isinstance(rs, (bool, np.bool_)) and rs >= 0:
            return int(rs)
        _fail("random_state", f"is {rs!r}", "None, a non-negative int or a np.random.RandomState")

    def _config(self, n_samples):
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral):
            hidden = (hidden,)
        hidden = [check_positive_int(h, "hidden_layer_sizes") for h in hidden]
        if self.activation not in _ACTIVATIONS:
            _fail("activation", f"is {self.activation!r}", f"one of {sorted(_ACTIVATIONS)}")
        if self.solver not in _SOLVERS:
            _fail("solver", f"is {self.solver!r}", f"one of {list(_SOLVERS)}")
        if self.learning_rate not in _SCHEDULES:
            _fail("learning_rate", f"is {self.learning_rate!r}", f"one of {list(_SCHEDULES)}")
        if self.precision not in _PRECISIONS:
            _fail("precision", f"is {self.precision!r}", "'float32', 'float64', 'tf32' or 'bf16'")
        if self.device not in ("cpu", "cuda"):
            _fail("device", f"is {self.device!r}", "'cpu' or 'cuda'")
        if self.normalize not in ("auto", "standardize", "scale", "none"):
            _fail("normalize", f"is {self.normalize!r}", "'auto', 'standardize', 'scale' or 'none'")
        if self.shuffle is not True:
            _fail("shuffle", f"is {self.shuffle!r}", "True (fcnet's trainer always reshuffles, seeded)")
        alpha = check_real(self.alpha, "alpha", lo=0)
        max_iter = check_positive_int(self.max_iter, "max_iter")
        # scikit-learn stops once more than n_iter_no_change epochs in a row failed to improve by
        # tol: the trainer's patience of n_iter_no_change + 1 epochs with a margin (min_delta) of
        # tol; np.inf never stops.
        if isinstance(self.n_iter_no_change, numbers.Real) and self.n_iter_no_change == np.inf:
            patience = 0
        else:
            patience = check_positive_int(self.n_iter_no_change, "n_iter_no_change") + 1
        tol = check_real(self.tol, "tol", lo=0)
        val_fraction = 0.0
        if self.early_stopping:
            val_fraction = check_real(self.validation_fraction, "validation_fraction", lo=0, hi=1,
                                      lo_open=True, hi_open=True)
        n_train = n_samples - _fcnet.val_count(val_fraction, n_samples)
        if n_train < 1:
            _fail("validation_fraction", f"is {val_fraction} of {n_samples} rows, which leaves no "
                  "training rows", "a fraction that leaves at least one")
        if self.batch_size == "auto":
            batch = min(200, n_train)
        else:
            batch = check_positive_int(self.batch_size, "batch_size")
            if batch > n_train:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                              "to be clipped", UserWarning)
            batch = min(batch, max(n_train, 1))
        act = _ACTIVATIONS[self.activation]
        return batch, hidden, dict(
            hidden=hidden,
            activation=act,
            # scikit-learn initialises every layer at Glorot's scale, 2 / (fan_in + fan_out).
            init="xavier",
            optimizer=self._optimizer(),
            lr=check_real(self.learning_rate_init, "learning_rate_init", lo=0, lo_open=True),
            schedule=self.learning_rate,
            lr_decay=check_real(self.lr_decay, "lr_decay", lo=0, lo_open=True),
            momentum=check_real(self.momentum, "momentum", lo=0, hi=1),
            beta1=check_real(self.beta_1, "beta_1", lo=0, hi=1, hi_open=True),
            beta2=check_real(self.beta_2, "beta_2", lo=0, hi=1, hi_open=True),
            eps=check_real(self.epsilon, "epsilon", lo=0, lo_open=True),
            weight_decay=check_real(self.weight_decay, "weight_decay", lo=0),
            dropout=check_real(self.dropout, "dropout", lo=0, hi=1, hi_open=True),
            reg=alpha / (2.0 * batch),
            batch=batch,
            epochs=max_iter,
            val_split=val_fraction,
            normalize=self.normalize,
            precision=_PRECISIONS[self.precision],
            device=self.device,
            monitor="val_accuracy" if self.early_stopping else "train_loss",
            patience=patience,
            min_delta=tol,
        )

    def _optimizer(self):
        if self.solver != "sgd":
            return self.solver
        # scikit-learn's SGD: v = momentum·v − lr·g; w += v (Nesterov: w += momentum·v − lr·g),
        # the same steps at a constant rate as fcnet's momentum and nesterov.
        if check_real(self.momentum, "momentum", lo=0, hi=1) == 0:
            return "sgd"
        return "nesterov" if self.nesterovs_momentum else "momentum"

    def _class_weights(self, classes, yi, ranks):
        cw = self.class_weight
        if cw is None:
            return []
        if isinstance(cw, str) and cw == "balanced":
            counts = _summed(np.bincount(yi, minlength=len(classes)), ranks, "class counts")
            return [counts.sum() / (len(classes) * c) if c else 1.0 for c in counts.tolist()]
        if isinstance(cw, dict):
            w = [1.0] * len(classes)
            index = {c: i for i, c in enumerate(classes.tolist())}
            for label, v in cw.items():
                if label not in index:
                    _fail("class_weight", f"names the label {label!r}",
                          f"labels of y: {classes.tolist()}")
                w[index[label]] = check_real(v, f"class_weight[{label!r}]", lo=0)
            return w
        _fail("class_weight", f"is {cw!r}", "None, 'balanced' or a dict {label: weight}")

    def fit(self, X, y, sample_weight=None):
        """Trains a new network on X (n_samples × n_features) and labels y (any label type),
        with optional per-example loss weights sample_weight.

        X may be a pandas DataFrame with numeric, object (text), category and bool columns and
        gaps (NaN/None): it is encoded as `fcnet train` encodes a CSV with the same cells (text,
        category and bool columns one-hot, numeric gaps filled with the column mean plus a
        missing-indicator feature) and the encoding is stored in the model; feature_names_in_
        holds the column names, and predict takes the same columns, in the same order.

        With warm_start=True a fitted estimator continues its run (weights and optimizer state)
        for max_iter more epochs on the new data, with the classes, columns and input transform
        it was fitted with.

        The rows train in a canonical order that depends only on which rows (with their labels
        and weights) there are, so the same rows in any order give the same model. Rows of
        weight zero are left out; weights that are all equal train as no weights."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y), continuing from the previous call (weights and optimizer state).
        The first call needs `classes`, every label that will ever appear; the input transform is
        fitted on the first call's X. Early stopping does not apply, as in scikit-learn."""
        if not hasattr(self, "_state"):
            if classes is None:
                _fail("classes", "is None on the first call to partial_fit",
                      "every class label that y will hold")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        continuing = hasattr(self, "_state") and (incremental or self.warm_start)
        if y is None:
            _fail("y", "is None (this estimator requires y to be passed, but the target y is None)",
                  "one label per row of X")
        schema_json = self.model_._core.schema_json if continuing else ""
        ranks = _join_ranks() if self.data_parallel else None
        if ranks is not None and is_frame(X):
            _fail("X", "is a DataFrame with data_parallel=True",
                  "a NumPy array (each rank would encode its own table's columns and categories)")
        self._check_names(X, reset=not continuing)
        if not continuing and hasattr(self, "_table_columns"):
            del self._table_columns
        if is_frame(X):
            # A DataFrame is a table: text, category and bool columns one-hot encoded, gaps filled,
            # by the library's encoder (the CLI's for CSV files), stored in the model.
            n_columns = X.shape[1]
            if not continuing:
                self._table_columns = column_names(X)
            X, schema_json, _ = encode_frame(X, schema_json)
        elif continuing and schema_json:
            n_columns = len(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None
            X = encode_matrix(X, self._columns_in(), schema_json)[0]
        X = as_matrix(X, "X", keep=("uint8", "float32", "float64"))
        if not schema_json:
            n_columns = X.shape[1]
        Y = np.asarray(y)
        if Y.ndim == 2 and Y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the "
                          "shape of y to (n_samples, ), for example using ravel().", DataConversionWarning,
                          stacklevel=2)
            Y = Y[:, 0]
        if Y.ndim != 1 or Y.shape[0] != X.shape[0]:
            _fail("y", f"has shape {Y.shape}", f"({X.shape[0]},), one label per row of X")
        if Y.dtype.kind == "f" and not np.all(np.isfinite(Y)):
            _fail("y", f"has a non-finite label at row {int(np.argmin(np.isfinite(Y)))}",
                  "finite labels")
        if Y.dtype.kind == "O":
            # None, NaN and pandas' NA are missing labels, which no class can take.
            gap = next((i for i, v in enumerate(Y.tolist()) if is_missing(v)), None)
            if gap is not None:
                _fail("y", f"has a missing label ({Y[gap]!r}) at row {gap}",
                      "a class label for every row (drop the rows without one)")
        if Y.dtype.kind == "f" and np.any(Y != np.round(Y)):
            # scikit-learn's type_of_target: floats that are not whole numbers are continuous.
            raise ValueError("Unknown label type: continuous. y: holds fractional numbers (a "
                             "regression target), expected class labels: fcnet trains classifiers")
        try:
            if continuing:
                if incremental and classes is not None and not np.array_equal(
                        np.unique(np.asarray(classes)), self.classes_):
                    _fail("classes", f"is {np.unique(np.asarray(classes)).tolist()}",
                          f"the classes of the first call to partial_fit, {self.classes_.tolist()}")
                classes = self.classes_
            elif classes is not None:
                classes = np.unique(np.asarray(classes))
            else:
                classes = _union(np.unique(Y), ranks)
            yi = np.searchsorted(classes, Y)
            yi = np.clip(yi, 0, len(classes) - 1)
        except TypeError as e:
            raise ValueError(f"y: labels cannot be sorted ({e}), expected labels of one type") from e
        unknown = np.flatnonzero(classes[yi] != Y)
        if unknown.size:
            _fail("y", f"holds the label {Y[unknown[0]]!r}",
                  f"one of the classes {classes.tolist()}" + (" given before" if continuing or incremental else ""))
        if len(classes) < 2:
            _fail("y", f"has only one class {classes.tolist()}", "at least two classes")
        if continuing and X.shape[1] != self.model_.sizes[0]:
            _fail("X", f"has {X.shape[1]} features", f"{self.model_.sizes[0]} as in the previous fit")
        # scikit-learn's compute_class_weight counts every row of y, zero-weight ones included.
        class_weights = self._class_weights(classes, yi, ranks)
        rows = None  # the rows of X to train on, None for all of them
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64)
            if sw.ndim != 1 or sw.shape[0] != X.shape[0]:
                _fail("sample_weight", f"has shape {sw.shape}", f"({X.shape[0]},), one weight per row of X")
            if not np.all(np.isfinite(sw)) or np.any(sw < 0):
                _fail("sample_weight", "holds a negative or non-finite weight", "finite weights >= 0")
            sample_weight = np.ascontiguousarray(sw)
            # A row of weight zero contributes nothing: it is left out, so that it neither takes a
            # place in the shuffle and batches nor moves the input transform.
            keep = sample_weight > 0
            if not np.all(keep):
                if not np.any(keep):
                    _fail("sample_weight", "is zero for every row", "a positive weight somewhere")
                rows = np.flatnonzero(keep)
        # With ranks, whether the weights are all one number is not this rank's to decide.
        train_class_weights = class_weights
        if ranks is None:
            sample_weight, train_class_weights = _effective_weights(sample_weight, class_weights,
                                                                    yi, rows)
        n_rows = X.shape[0] if rows is None else rows.shape[0]
        batch, hidden, cfg = self._config(int(_summed(np.array([n_rows]), ranks, "rows")[0]))
        state = self._state if continuing else None
        if incremental:
            # scikit-learn's partial_fit never stops early: its rule watches the training loss.
            cfg.update(val_split=0.0, patience=0, monitor="train_loss")
            cfg["epochs"] = state.epoch if state is not None else 1
        elif state is not None:
            cfg["epochs"] = state.epoch - 1 + cfg["epochs"]
        sizes = [X.shape[1], *hidden, len(classes)]
        threads = threads_for(batch, sum(a * b for a, b in zip(sizes[:-1], sizes[1:])), self.n_jobs)

        _agree(dict(cfg, classes=[str(c) for c in classes.tolist()], features=int(X.shape[1]),
                    dtype=str(X.dtype), sample_weight=sample_weight is not None,
                    class_weights=train_class_weights, continuing=bool(continuing),
                    incremental=bool(incremental), schema=schema_json), ranks)
        indices = classes.dtype.kind in "iu" and np.array_equal(classes, np.arange(len(classes)))
        names = [str(c) for c in classes.tolist()]
        on_epoch = self._print_epoch if self.verbose else None
        try:
            # The rows go in the library's canonical order, which depends only on the multiset of
            # rows (with their labels and weights): the same rows in any order give the same model.
            # With ranks they go in the order given, each rank's rows in turn, as one process
            # holding every rank's rows in rank order would take them.
            core, info = _fcnet.train(X, np.ascontiguousarray(yi, dtype=np.int32), class_names=names,
                                      seed=_first(self._seed(), ranks), threads=threads,
                                      on_epoch=on_epoch, class_weights=train_class_weights,
                                      sample_weight=sample_weight, resume=state, rows=rows,
                                      canonical_order=ranks is None,
                                      data_parallel=ranks is not None, **cfg)
        except _fcnet.Error as e:
            raise _in_parameter_names(e) from None
        self._state = info["state"]
        training = json.loads(core.training_json) if core.training_json else {}
        training.update(estimator="fcnet.MLPClassifier", alpha=float(self.alpha))
        if class_weights and not train_class_weights:  # applied as one common factor: a no-op
            training["class_weights"] = class_weights
        if indices:
            core.class_names = []
        else:
            training["label_dtype"] = classes.dtype.str if classes.dtype.kind != "O" else "str"
        core.training_json = json.dumps(training)
        core.schema_json = schema_json

        self.model_ = Model(core)
        self.model_._classes = classes
        # A CPU model trained with bf16 GEMMs predicts with them too.
        if self.device == "cpu" and _PRECISIONS[self.precision] == "bf16":
            self.model_.gemm_precision = "bf16"
        self.classes_ = classes
        if n_columns is not None:
            self.n_features_in_ = n_columns
        self._set_results(info, cfg, warn=not incremental)
        return self

    def _print_epoch(self, e):
        print(f"Iteration {e['epoch']}, loss = {e['train_loss']:.8f}")
        if np.isfinite(e["val_accuracy"]):
            print(f"Validation score: {e['val_accuracy']:f}")
        sys.stdout.flush()

    def _set_results(self, info, cfg, warn=True):
        epochs = info["epochs"]
        self.history_ = epochs
        self.loss_curve_ = [e["train_loss"] for e in epochs]
        self.loss_ = self.loss_curve_[-1]
        self.n_iter_ = len(epochs)
        self.t_ = int(sum(e["examples"] for e in epochs))
        if cfg["val_split"] > 0:
            self.validation_scores_ = [e["val_accuracy"] for e in epochs]
            self.best_validation_score_ = info["best_score"]
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = info["best_score"]
        # scikit-learn's count of epochs in a row that did not improve on the best by tol.
        self._no_improvement_count = info["since_best"]
        ps = self.model_._core.params()
        self.coefs_ = ps[0::2]
        self.intercepts_ = ps[1::2]
        self.n_layers_ = len(self.coefs_) + 1
        self.n_outputs_ = len(self.classes_)
        self.out_activation_ = "softmax"
        # The rule may fire on the last epoch, where the trainer simply ends: scikit-learn then
        # does not warn either.
        stopped = info["stopped_early"] or (0 < cfg["patience"] <= info["since_best"])
        if warn and not stopped and self.n_iter_ == cfg["epochs"]:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({cfg['epochs']}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning)

    # -- inference ------------------------------------------------------------------------------

    def _model(self):
        if not hasattr(self, "model_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call 'fit' "
                                 "with appropriate arguments before using this estimator.")
        return self.model_

    def _check_names(self, X, reset):
        """scikit-learn's feature-name rules: fit records the names of a DataFrame's columns in
        feature_names_in_; later calls with other names, or the same in another order, raise."""
        if hasattr(BaseEstimator, "_check_feature_names"):
            return self._check_feature_names(X, reset=reset)
        names = np.asarray(X.columns, dtype=object) if is_frame(X) else None
        if names is not None and not all(isinstance(n, str) for n in names):
            names = None
        if reset:
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and names is not None and list(fitted) != list(names):
            raise ValueError("The feature names should match those that were passed during fit.\n"
                             f"Seen at fit time: {list(fitted)}\nGiven now: {list(names)}")

    def _input(self, X):
        """X for the model: a table's rows as the model's columns (by name for a DataFrame, by
        position for an array), checked against the names seen in fit."""
        model = self._model()
        self._check_names(X, reset=False)
        schema = model._core.schema_json
        if schema and not is_frame(X):
            X = encode_matrix(X, self._columns_in(), schema)[0]
        return X

    def _columns_in(self):
        """The names of the columns of the table fit saw, by position (a column left out for
        holding no value among them), else the model's columns."""
        names = getattr(self, "_table_columns", None)
        if names is not None:
            return list(names)
        return [c["name"] for c in self._model().columns]

    def predict(self, X):
        """Most probable class label per row of X."""
        return self._model().predict(self._input(X))

    def predict_proba(self, X):
        """Class probabilities, columns in the order of classes_."""
        return self._model().predict_proba(self._input(X))

    def predict_log_proba(self, X):
        return self._model().predict_log_proba(self._input(X))

    def decision_function(self, X):
        """Raw output scores (before softmax), N×C; for two classes, as scikit-learn's classifiers,
        one value per example whose sign picks the class: score of classes_[1] − score of classes_[0]."""
        s = self._model().decision_function(self._input(X))
        return s[:, 1] - s[:, 0] if s.shape[1] == 2 else s

    def save(self, path):
        """Writes the trained model as an fcnet model file (readable by fcnet.load and the CLI)."""
        self._model().save(os.fspath(path))

    def export_onnx(self, path):
        """Writes the trained model as an ONNX graph (see Model.export_onnx)."""
        self._model().export_onnx(path)
