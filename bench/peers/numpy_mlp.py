#!/usr/bin/python3
"""NumPy peer for bench/compare: the seed's vectorized two-layer net, generalized to any depth.

float32, plain SGD or Adam; prints one JSON line with per-epoch training seconds.

Forward Z = X·W + b, relu, scores, softmax; backward dscores = probs, dscores[range(N), y] -= 1, /N,
dW = Aᵀ·dZ, db = column sums, dA = dZ·Wᵀ masked by the relu.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402

F32 = np.float32


def init_params(sizes, rng):
    """He-uniform weights (suited to relu layers), zero biases."""
    params = []
    for l in range(1, len(sizes)):
        bound = np.sqrt(6.0 / sizes[l - 1])
        w = rng.uniform(-bound, bound, size=(sizes[l - 1], sizes[l])).astype(F32)
        b = np.zeros(sizes[l], dtype=F32)
        params += [w, b]
    return params


def forward(params, x):
    """Returns (scores, activations a_0…a_{L-1}) for an N×D batch."""
    acts = [x]
    a = x
    n_layers = len(params) // 2
    for l in range(n_layers):
        z = a @ params[2 * l]
        z += params[2 * l + 1]
        if l < n_layers - 1:
            np.maximum(z, 0, out=z)
            acts.append(z)
        a = z
    return a, acts


def loss_and_grads(params, x, y):
    """Mean cross-entropy, number correct, and gradients in params order."""
    n = x.shape[0]
    scores, acts = forward(params, x)
    correct = int((scores.argmax(1) == y).sum())
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sums = exp.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(sums[:, 0]) - shifted[np.arange(n), y]))
    dscores = exp / sums
    dscores[np.arange(n), y] -= 1
    dscores /= F32(n)

    grads = [None] * len(params)
    dz = dscores
    for l in range(len(params) // 2 - 1, -1, -1):
        a = acts[l]
        grads[2 * l] = a.T @ dz
        grads[2 * l + 1] = dz.sum(axis=0)
        if l > 0:
            da = dz @ params[2 * l].T
            da[a <= 0] = 0  # a = relu(z): f'(z) = 0 where the output is 0
            dz = da
    return loss, correct, grads


class Sgd:
    def __init__(self, params, lr):
        self.params, self.lr = params, F32(lr)

    def step(self, grads):
        for p, g in zip(self.params, grads):
            g *= self.lr
            p -= g


class Adam:
    """Adam as torch.optim.Adam defines it (betas 0.9, 0.999, eps 1e-8, bias-corrected)."""

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params = params
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        c1 = 1.0 - b1**self.t
        c2 = 1.0 - b2**self.t
        step_size = F32(self.lr / c1)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= F32(b1)
            m += F32(1.0 - b1) * g
            v *= F32(b2)
            g *= g
            g *= F32(1.0 - b2)
            v += g
            denom = np.sqrt(v)
            denom *= F32(1.0 / np.sqrt(c2))
            denom += F32(self.eps)
            np.divide(m, denom, out=denom)
            denom *= step_size
            p -= denom


def accuracy(params, x, y, batch=1000):
    correct = 0
    for i in range(0, x.shape[0], batch):
        scores, _ = forward(params, x[i : i + batch])
        correct += int((scores.argmax(1) == y[i : i + batch]).sum())
    return correct / x.shape[0]


def main():
    args = common.train_parser(__doc__.splitlines()[0]).parse_args()
    common.set_blas_threads(args.blas_threads or args.threads)
    rng = np.random.default_rng(args.seed)
    sizes = common.layer_sizes(args.hidden)
    x, y = common.load_fashion_mnist("train")
    n = x.shape[0]
    params = init_params(sizes, rng)
    opt = Adam(params, args.lr) if args.optimizer == "adam" else Sgd(params, args.lr)

    epochs = []
    step = 0
    trained = 0.0  # training seconds of the finished epochs
    stop = False
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        perm = rng.permutation(n)
        loss_sum = 0.0
        correct = 0
        seen = 0
        for i in range(0, n, args.batch):
            if args.max_steps and step >= args.max_steps:
                stop = True
            elif args.max_seconds and trained + time.perf_counter() - t0 > args.max_seconds:
                stop = True
            if stop:
                break
            idx = perm[i : i + args.batch]
            xb = x[idx]
            yb = y[idx]
            loss, ok, grads = loss_and_grads(params, xb, yb)
            opt.step(grads)
            loss_sum += loss * idx.shape[0]
            correct += ok
            seen += idx.shape[0]
            step += 1
        seconds = time.perf_counter() - t0
        if seen == 0:
            break
        epochs.append(
            {
                "epoch": epoch,
                "train_loss": loss_sum / seen,
                "train_accuracy": correct / seen,
                "seconds": seconds,
                "examples": seen,
            }
        )
        trained += seconds
        if stop or (args.max_steps and step >= args.max_steps):
            break

    result = {
        "peer": "numpy",
        "numpy": np.__version__,
        "threads": args.threads,
        "blas": common.blas_name(),
        "sizes": sizes,
        "steps": step,
        "epochs": epochs,
        "seconds": sum(e["seconds"] for e in epochs),
    }
    if not args.no_eval:
        result["final_train_accuracy"] = accuracy(params, x, y)
        xt, yt = common.load_fashion_mnist("test")
        result["test_accuracy"] = accuracy(params, xt, yt)
    common.emit(result)


if __name__ == "__main__":
    main()
