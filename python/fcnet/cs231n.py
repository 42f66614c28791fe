"""The networks of CS231n's assignments 1 and 2, computed by fcnet's C++ library.

Parameters stay plain NumPy arrays in ``params`` (W1, b1, ..., WL, bL; W_l is fan_in × fan_out as
in the course), so replacing an array or editing one in place is seen by the next call; each call
hands them to the library, which runs the forward and backward pass (with the GIL released).
"""

import numpy as np

from . import _fcnet
from ._checks import _fail, as_class_indices, as_matrix, check_positive_int, check_real, threads_for
from .model import Model


class _ParamNet:
    """Common machinery: parameter order, the compiled network, and saving."""

    _activation = "relu"
    _alpha = 0.01

    def _layers(self):
        L = 0
        while f"W{L + 1}" in self.params:
            L += 1
        if L == 0:
            raise ValueError("params: has no 'W1', expected W1, b1, ..., WL, bL")
        for l in range(1, L + 1):
            if f"b{l}" not in self.params:
                raise ValueError(f"params: has 'W{l}' but no 'b{l}', expected a bias per layer")
        return L

    def _param_list(self, dtype):
        out = []
        for l in range(1, self._layers() + 1):
            for name in (f"W{l}", f"b{l}"):
                p = np.asarray(self.params[name])
                if p.dtype.kind not in "biuf":
                    raise ValueError(f"params['{name}']: has dtype {p.dtype}, expected a float array")
                out.append(np.ascontiguousarray(p, dtype=dtype))
        return out

    def _sizes(self):
        L = self._layers()
        sizes = []
        for l in range(1, L + 1):
            W = np.asarray(self.params[f"W{l}"])
            if W.ndim != 2:
                raise ValueError(f"params['W{l}']: has shape {W.shape}, expected a 2-D array (fan_in, fan_out)")
            if l == 1:
                sizes.append(W.shape[0])
            elif W.shape[0] != sizes[-1]:
                raise ValueError(
                    f"params['W{l}']: has shape {W.shape}, expected fan_in {sizes[-1]} to chain with W{l - 1}")
            sizes.append(W.shape[1])
        return sizes

    def _net(self, dtype):
        """The compiled network for the current parameter shapes in `dtype`, parameters loaded."""
        sizes = self._sizes()
        f64 = np.dtype(dtype) == np.float64
        key = (tuple(sizes), f64, self._activation, self._alpha)
        cache = self.__dict__.setdefault("_nets", {})
        net = cache.get(key)
        if net is None:
            cls = _fcnet.Net64 if f64 else _fcnet.Net32
            net = cls(sizes, self._activation, self._alpha)
            cache.clear()
            cache[key] = net
        net.set_params(self._param_list(np.float64 if f64 else np.float32))
        return net

    def _run(self, X, y, reg, dtype, dropout=0.0, seed=0):
        net = self._net(dtype)
        sizes = net.sizes
        if X.shape[1] != sizes[0]:
            _fail("X", f"has {X.shape[1]} features per example", f"{sizes[0]} (the network's input width)")
        threads = threads_for(X.shape[0], sum(a * b for a, b in zip(sizes[:-1], sizes[1:])))
        if y is None:
            return net.scores(X, threads)
        yi = as_class_indices(y, X.shape[0], sizes[-1])
        loss, _, _, grads = net.loss(X, yi, reg, dropout, seed, True, threads)
        L = len(grads) // 2
        out = {}
        for l in range(1, L + 1):
            for name, g in ((f"W{l}", grads[2 * l - 2]), (f"b{l}", grads[2 * l - 1])):
                p = np.asarray(self.params[name])
                g = g.reshape(p.shape)
                out[name] = g.astype(p.dtype, copy=False) if p.dtype.kind == "f" else g
        return loss, out

    def __getstate__(self):  # the compiled network is a cache, rebuilt on the next call
        state = self.__dict__.copy()
        state.pop("_nets", None)
        return state

    def to_model(self):
        """The network as an fcnet.Model (no input transform), computed in its parameters' precision."""
        f64 = any(np.asarray(v).dtype == np.float64 for v in self.params.values())
        dtype = np.float64 if f64 else np.float32
        m = _fcnet.Model.from_params(self._param_list(dtype), activation=self._activation,
                                     alpha=self._alpha, f64=f64)
        return Model(m)

    def save(self, path):
        """Writes the network as an fcnet model file (readable by fcnet.load and the CLI)."""
        self.to_model().save(path)


class TwoLayerNet(_ParamNet):
    """CS231n assignment 1's two-layer net: input - fully connected - ReLU - fully connected - softmax.

    loss = mean cross-entropy + reg·(‖W1‖² + ‖W2‖²) (the course's convention, no ½). Computation is in
    double precision for float64 inputs (the course's default) and in single precision for float32.
    """

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        input_size = check_positive_int(input_size, "input_size")
        hidden_size = check_positive_int(hidden_size, "hidden_size")
        output_size = check_positive_int(output_size, "output_size")
        std = check_real(std, "std", lo=0)
        self.params = {}
        self.params["W1"] = std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)

    def loss(self, X, y=None, reg=0.0):
        """Scores (N×C) when y is None, else (loss, grads) with grads keyed like params."""
        X = as_matrix(X, "X")
        reg = check_real(reg, "reg", lo=0)
        return self._run(X, y, reg, X.dtype)

    def train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95, reg=5e-6,
              num_iters=100, batch_size=200, verbose=False, device="cpu", precision="float32"):
        """Minibatch SGD as in the course: batches drawn with replacement by np.random.choice, the
        learning rate decayed once per epoch (iterations_per_epoch = max(num_train / batch_size, 1)).
        The steps run in the library's training engine of `device`: 'cpu' (float64 X computes in
        double), or 'cuda' (a build with the CUDA backend; precision 'float32', 'tf32' or 'bf16'),
        the weights staying there between steps and coming back into params once per epoch and
        at the end. Returns {'loss_history', 'train_acc_history', 'val_acc_history'}."""
        X = as_matrix(X, "X")
        X_val = as_matrix(X_val, "X_val", dtype=X.dtype)
        C = self._sizes()[-1]
        y = as_class_indices(y, X.shape[0], C, "y")
        y_val = as_class_indices(y_val, X_val.shape[0], C, "y_val")
        learning_rate = check_real(learning_rate, "learning_rate", lo=0, lo_open=True)
        learning_rate_decay = check_real(learning_rate_decay, "learning_rate_decay", lo=0)
        reg = check_real(reg, "reg", lo=0)
        num_iters = check_positive_int(num_iters, "num_iters", minimum=0)
        batch_size = check_positive_int(batch_size, "batch_size")
        if device not in ("cpu", "cuda"):
            _fail("device", f"is {device!r}", "'cpu' or 'cuda'")
        names = [f"{kind}{l}" for l in range(1, self._layers() + 1) for kind in "Wb"]
        precisions = {"float32": "f32", "tf32": "tf32", "bf16": "bf16"}
        if precision not in precisions:
            _fail("precision", f"is {precision!r}", f"one of {list(precisions)}")
        f64 = X.dtype == np.float64
        runner = _fcnet.StepRunner(self._param_list(np.float64 if f64 else np.float32),
                                   self._activation, self._alpha, X,
                                   np.ascontiguousarray(y, dtype=np.int32), reg, batch_size,
                                   device, precisions[precision])

        def pull():  # the engine's weights into params, in place
            for name, value in zip(names, runner.params()):
                p = self.params[name]
                if isinstance(p, np.ndarray) and p.shape == value.shape and p.flags.writeable:
                    p[...] = value
                else:
                    self.params[name] = value

        num_train = X.shape[0]
        iterations_per_epoch = max(num_train / batch_size, 1)
        loss_history, train_acc_history, val_acc_history = [], [], []
        for it in range(num_iters):
            idx = np.random.choice(num_train, batch_size)
            loss = runner.step(idx.astype(np.int64), learning_rate)
            loss_history.append(loss)
            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {loss:f}")
            if it % iterations_per_epoch == 0:
                pull()
                train_acc_history.append((self.predict(X[idx]) == y[idx]).mean())
                val_acc_history.append((self.predict(X_val) == y_val).mean())
                learning_rate *= learning_rate_decay
        pull()
        return {
            "loss_history": loss_history,
            "train_acc_history": train_acc_history,
            "val_acc_history": val_acc_history,
        }

    def predict(self, X):
        """Predicted class index per example."""
        return np.argmax(self.loss(X), axis=1)


class FullyConnectedNet(_ParamNet):
    """CS231n assignment 2's fully-connected net: {affine - relu - [dropout]} × (L - 1) - affine - softmax.

    loss = mean cross-entropy + 0.5·reg·Σ‖W‖² (assignment 2's convention; the library is given reg/2,
    so dW gains reg·W as in the course). Dropout keeps each hidden unit with probability
    dropout_keep_ratio during training (inverted dropout) and is off in test mode (y is None). With
    `seed` set, every call draws the same dropout mask, as the course's gradient checks need.
    Batch and layer normalization are not supported. `activation` (fcnet extension) picks the
    hidden nonlinearity: relu (the course's), leaky_relu, tanh, sigmoid, gelu or identity.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None,
                 activation="relu"):
        if normalization is not None:
            _fail("normalization", f"is {normalization!r}", "None (batch/layer normalization is not supported)")
        hidden_dims = [check_positive_int(h, "hidden_dims") for h in hidden_dims]
        input_dim = check_positive_int(input_dim, "input_dim")
        num_classes = check_positive_int(num_classes, "num_classes")
        keep = check_real(dropout_keep_ratio, "dropout_keep_ratio", lo=0, hi=1, lo_open=True)
        self.reg = check_real(reg, "reg", lo=0)
        weight_scale = check_real(weight_scale, "weight_scale", lo=0)
        self.dtype = np.dtype(dtype).type
        if np.dtype(dtype) not in (np.float32, np.float64):
            _fail("dtype", f"is {np.dtype(dtype)}", "np.float32 or np.float64")
        if activation not in ("relu", "leaky_relu", "tanh", "sigmoid", "gelu", "identity"):
            _fail("activation", f"is {activation!r}", "relu, leaky_relu, tanh, sigmoid, gelu or identity")
        self._activation = activation
        self.normalization = normalization
        self.use_dropout = keep != 1
        self.num_layers = 1 + len(hidden_dims)
        self.params = {}
        dims = [input_dim] + hidden_dims + [num_classes]
        for l in range(1, self.num_layers + 1):
            self.params[f"W{l}"] = weight_scale * np.random.randn(dims[l - 1], dims[l])
            self.params[f"b{l}"] = np.zeros(dims[l])
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": keep}
            if seed is not None:
                self.dropout_param["seed"] = seed
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Scores (N×C) in test mode (y is None), else (loss, grads) with grads keyed like params.

        X may have any shape (N, d_1, ..., d_k); it is flattened to (N, d_1·...·d_k)."""
        X = as_matrix(X, "X", dtype=self.dtype, flatten=True)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if mode == "test":
            return self._run(X, None, 0.0, self.dtype)
        drop, seed = 0.0, 0
        if self.use_dropout:
            drop = 1.0 - self.dropout_param["p"]
            s = self.dropout_param.get("seed")
            seed = int(s) if s is not None else int(np.random.randint(0, 2**63 - 1, dtype=np.int64))
        return self._run(X, y, 0.5 * self.reg, self.dtype, drop, seed)
