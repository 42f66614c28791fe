#!/usr/bin/python3
"""Write the PyTorch float64 reference fixtures that fcnet's C++ tests compare against.

Usage (Debian's interpreter, which has torch and numpy):

    /usr/bin/python3 tests/reference/make_fixtures.py            # (re)write tests/reference/fixtures/
    /usr/bin/python3 tests/reference/make_fixtures.py --check    # verify the committed files

Every input is drawn from seeded NumPy generators and every result is computed in float64 on one
thread, so re-running the script reproduces the committed files byte for byte. `--check` regenerates
everything in memory, compares it byte for byte with the files on disk, re-reads the files with a
separate minimal safetensors reader, recomputes every network case and every optimizer trajectory with
plain NumPy (no torch) and checks the CS231n toy problem against the values the course publishes.

File format: safetensors. An 8-byte little-endian header length N, N bytes of JSON (padded with spaces
to a multiple of 8) mapping tensor names to {"dtype", "shape", "data_offsets"} plus "__metadata__"
(string to string), then the raw little-endian tensor data, packed in header order.
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

FIXTURE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
LEAKY_RELU_ALPHA = 0.01

# Smallest |z| allowed in a hidden layer of a relu / leaky_relu case. The kink at 0 makes the
# derivative discontinuous there; keeping every pre-activation away from it means an implementation
# in float32 takes the same branch as the float64 reference.
KINK_MARGIN = 1e-3


def fmt(v):
    """A computed float as a metadata string with 17 significant digits (round-trips exactly)."""
    return format(float(v), ".17g")


def hp(v):
    """A chosen hyperparameter as its shortest exact string ("0.1", "1e-08")."""
    return repr(float(v))


def assert_clear_of_kink(name, activation, hidden_z):
    if activation in ("relu", "leaky_relu"):
        for z in hidden_z:
            assert np.abs(z).min() > KINK_MARGIN, f"{name}: a hidden pre-activation is near 0"
            assert (z > 0).any() and (z < 0).any(), f"{name}: a hidden layer has one sign only"


# ---------------------------------------------------------------------------------------------------
# safetensors writer

_DTYPES = {np.dtype("<f8"): "F64", np.dtype("<f4"): "F32", np.dtype("<i8"): "I64"}


def safetensors_bytes(tensors, metadata):
    """Serialize an ordered list of (name, ndarray) and a str->str dict.

    Tensors with 8-byte elements come first (stable otherwise), so every F64/I64 tensor starts at an
    8-byte aligned offset; the header lists them in the order their bytes are packed."""
    order = sorted(range(len(tensors)), key=lambda i: -tensors[i][1].dtype.itemsize)
    header = {}
    blobs = []
    offset = 0
    for i in order:
        name, arr = tensors[i]
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        dtype = _DTYPES[arr.dtype]
        raw = arr.tobytes(order="C")
        header[name] = {
            "dtype": dtype,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    for k, v in metadata.items():
        assert isinstance(k, str) and isinstance(v, str), (k, v)
    header["__metadata__"] = dict(metadata)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


# ---------------------------------------------------------------------------------------------------
# torch references

ACTIVATIONS = {
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=LEAKY_RELU_ALPHA),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": lambda z: F.gelu(z),  # exact erf form (approximate='none')
    "identity": lambda z: z,
}


def torch_network(Ws, bs, x, y, activation, reg):
    """Forward, loss and gradients of the total loss, all in float64 through autograd."""
    Wt = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in Ws]
    bt = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in bs]
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.int64)
    f = ACTIVATIONS[activation]
    a = xt
    hidden_z = []
    for l, (W, b) in enumerate(zip(Wt, bt)):
        z = a @ W + b
        if l + 1 < len(Wt):
            hidden_z.append(z.detach().numpy().copy())
            a = f(z)
        else:
            scores = z
    data_loss = F.cross_entropy(scores, yt, reduction="mean")
    reg_loss = reg * sum((W * W).sum() for W in Wt)
    loss = data_loss + reg_loss
    loss.backward()
    return {
        "scores": scores.detach().numpy().copy(),
        "probs": torch.softmax(scores.detach(), dim=1).numpy().copy(),
        "grad_W": [W.grad.numpy().copy() for W in Wt],
        "grad_b": [b.grad.numpy().copy() for b in bt],
        "grad_x": xt.grad.numpy().copy(),
        "data_loss": data_loss.item(),
        "reg_loss": reg_loss.item(),
        "loss": loss.item(),
        "hidden_z": hidden_z,
    }


# ---------------------------------------------------------------------------------------------------
# 1. network fixtures

# name, activation, layer sizes [D, H1, ..., C], batch N, reg, seed. The relu and leaky_relu seeds
# are ones whose hidden pre-activations all clear KINK_MARGIN (network_fixture asserts it).
NET_CASES = [
    ("softmax_5_3", "identity", [5, 3], 7, 0.1, 101),
    ("relu_4_10_3", "relu", [4, 10, 3], 1, 0.0, 102),
    ("relu_784_32_10", "relu", [784, 32, 10], 3, 1e-3, 103),
    ("relu_20_16_8_6_3", "relu", [20, 16, 8, 6, 3], 17, 3e-3, 115),
    ("leaky_relu_7_13_5_4", "leaky_relu", [7, 13, 5, 4], 9, 0.01, 105),
    ("tanh_20_16_8_6_3", "tanh", [20, 16, 8, 6, 3], 11, 0.05, 106),
    ("tanh_4_10_3", "tanh", [4, 10, 3], 8, 0.0, 107),
    ("sigmoid_7_13_5_4", "sigmoid", [7, 13, 5, 4], 5, 0.0, 108),
    ("sigmoid_1_3_2", "sigmoid", [1, 3, 2], 1, 0.2, 109),
    ("gelu_20_16_8_6_3", "gelu", [20, 16, 8, 6, 3], 13, 0.02, 110),
    ("gelu_4_10_3", "gelu", [4, 10, 3], 1, 0.5, 111),
    ("identity_7_13_5_4", "identity", [7, 13, 5, 4], 6, 0.1, 112),
]
# The float32 case: parameters and input stored as F32, references computed in float64 from them.
NET_F32_CASE = ("f32_relu", "relu", [7, 13, 5, 4], 5, 0.01, 113)


def draw_network(sizes, n, seed):
    rng = np.random.default_rng(seed)
    Ws, bs = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        Ws.append(rng.standard_normal((fan_in, fan_out)) / math.sqrt(fan_in))
        bs.append(0.1 * rng.standard_normal(fan_out))
    x = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], size=n, dtype=np.int64)
    return Ws, bs, x, y


def network_fixture(case, param_dtype=np.float64):
    name, activation, sizes, n, reg, seed = case
    Ws, bs, x, y = draw_network(sizes, n, seed)
    Ws = [W.astype(param_dtype) for W in Ws]
    bs = [b.astype(param_dtype) for b in bs]
    x = x.astype(param_dtype)
    up = lambda a: a.astype(np.float64)
    r = torch_network([up(W) for W in Ws], [up(b) for b in bs], up(x), y, activation, reg)
    assert_clear_of_kink(name, activation, r["hidden_z"])
    L = len(Ws)
    tensors = [(f"W{l + 1}", Ws[l]) for l in range(L)]
    tensors += [(f"b{l + 1}", bs[l]) for l in range(L)]
    tensors += [("x", x), ("y", y), ("scores", r["scores"]), ("probs", r["probs"])]
    tensors += [(f"grad_W{l + 1}", r["grad_W"][l]) for l in range(L)]
    tensors += [(f"grad_b{l + 1}", r["grad_b"][l]) for l in range(L)]
    tensors += [("grad_x", r["grad_x"])]
    metadata = {
        "fixture": "network",
        "activation": activation,
        "leaky_relu_alpha": hp(LEAKY_RELU_ALPHA),
        "reg": hp(reg),
        "layer_sizes": json.dumps(sizes),
        "batch": str(n),
        "seed": str(seed),
        "param_dtype": "F32" if param_dtype == np.float32 else "F64",
        "data_loss": fmt(r["data_loss"]),
        "reg_loss": fmt(r["reg_loss"]),
        "loss": fmt(r["loss"]),
    }
    return f"net_{name}.safetensors", safetensors_bytes(tensors, metadata)


# ---------------------------------------------------------------------------------------------------
# 2. optimizer fixtures

OPTIM_SIZE = 37
OPTIM_STEPS = 3

# name, torch constructor, hyperparameters recorded in the metadata, seed
OPTIM_CASES = [
    ("sgd", lambda p: torch.optim.SGD([p], lr=0.1),
     {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": "false"}, 201),
    ("momentum", lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9),
     {"lr": 0.05, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": "false"}, 202),
    ("nesterov", lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9, nesterov=True),
     {"lr": 0.05, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": "true"}, 203),
    ("adam", lambda p: torch.optim.Adam([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8),
     {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
      "amsgrad": "false"}, 204),
    ("adamw", lambda p: torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=0.01),
     {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01,
      "amsgrad": "false"}, 205),
    ("rmsprop", lambda p: torch.optim.RMSprop([p], lr=0.01, alpha=0.99, eps=1e-8),
     {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0,
      "centered": "false"}, 206),
]


def draw_optim(seed):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(OPTIM_SIZE)
    gs = []
    for _ in range(OPTIM_STEPS):
        g = rng.standard_normal(OPTIM_SIZE)
        # Keep every gradient entry clear of zero so no element of the trajectory is degenerate.
        g = np.where(np.abs(g) < 0.05, np.copysign(0.05, g) + g, g)
        gs.append(g)
    return p0, gs


def torch_optim_trajectory(make, p0, gs):
    p = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
    opt = make(p)
    out = []
    for g in gs:
        opt.zero_grad()
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append(p.detach().numpy().copy())
    return out


def optim_fixture(case):
    name, make, hyper, seed = case
    p0, gs = draw_optim(seed)
    ps = torch_optim_trajectory(make, p0, gs)
    tensors = [("p0", p0)]
    tensors += [(f"g{k + 1}", g) for k, g in enumerate(gs)]
    tensors += [(f"p{k + 1}", p) for k, p in enumerate(ps)]
    metadata = {"fixture": "optimizer", "optimizer": name, "steps": str(OPTIM_STEPS),
                "seed": str(seed)}
    for k, v in hyper.items():
        metadata[k] = v if isinstance(v, str) else hp(v)
    return f"optim_{name}.safetensors", safetensors_bytes(tensors, metadata)


# ---------------------------------------------------------------------------------------------------
# 3. the CS231n assignment-1 two-layer-net toy problem

TOY_REG = 0.05
TOY_COURSE_LOSS = 1.30378789133
TOY_COURSE_SCORES = np.array([
    [-0.81233741, -1.27654624, -0.70335995],
    [-0.17129677, -1.18803311, -0.47310444],
    [-0.51590475, -1.01354314, -0.8504215],
    [-0.15419291, -0.48629638, -0.52901952],
    [-0.00618733, -0.12435261, -0.15226949],
])


def toy_problem():
    input_size, hidden_size, num_classes, num_inputs, std = 4, 10, 3, 5, 1e-1
    np.random.seed(0)
    W1 = std * np.random.randn(input_size, hidden_size)
    b1 = np.zeros(hidden_size)
    W2 = std * np.random.randn(hidden_size, num_classes)
    b2 = np.zeros(num_classes)
    np.random.seed(1)
    X = 10 * np.random.randn(num_inputs, input_size)
    y = np.array([0, 1, 2, 2, 1], dtype=np.int64)
    return [W1, W2], [b1, b2], X, y


def toy_fixture():
    Ws, bs, x, y = toy_problem()
    r = torch_network(Ws, bs, x, y, "relu", TOY_REG)
    r0 = torch_network(Ws, bs, x, y, "relu", 0.0)
    assert_clear_of_kink("toy_cs231n", "relu", r["hidden_z"])
    tensors = [("W1", Ws[0]), ("W2", Ws[1]), ("b1", bs[0]), ("b2", bs[1]), ("x", x), ("y", y),
               ("scores", r["scores"]), ("probs", r["probs"])]
    for suffix, res in (("", r), ("_reg0", r0)):
        tensors += [(f"grad_W{l + 1}{suffix}", res["grad_W"][l]) for l in range(2)]
        tensors += [(f"grad_b{l + 1}{suffix}", res["grad_b"][l]) for l in range(2)]
        tensors += [(f"grad_x{suffix}", res["grad_x"])]
    metadata = {
        "fixture": "toy_cs231n",
        "activation": "relu",
        "leaky_relu_alpha": hp(LEAKY_RELU_ALPHA),
        "reg": hp(TOY_REG),
        "layer_sizes": json.dumps([4, 10, 3]),
        "batch": "5",
        "data_loss": fmt(r["data_loss"]),
        "reg_loss": fmt(r["reg_loss"]),
        "loss": fmt(r["loss"]),
        "loss_reg0.05": fmt(r["loss"]),
        "loss_reg0": fmt(r0["loss"]),
        "course_loss_reg0.05": repr(TOY_COURSE_LOSS),
    }
    return "toy_cs231n.safetensors", safetensors_bytes(tensors, metadata)


# ---------------------------------------------------------------------------------------------------


def all_fixtures():
    torch.set_num_threads(1)
    out = [network_fixture(c) for c in NET_CASES]
    out.append(network_fixture(NET_F32_CASE, param_dtype=np.float32))
    out += [optim_fixture(c) for c in OPTIM_CASES]
    out.append(toy_fixture())
    return out


# ---------------------------------------------------------------------------------------------------
# --check: an independent minimal reader and NumPy-only recomputations


def read_safetensors(path):
    """Parse a file strictly; returns ({name: ndarray}, metadata). Shares no code with the writer."""
    with open(path, "rb") as fh:
        blob = fh.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack_from("<Q", blob, 0)
    if n % 8 or 8 + n > len(blob):
        raise ValueError(f"{path}: header length {n} is not a multiple of 8 inside the file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise ValueError(f"{path}: metadata values must be strings")
    kinds = {"F64": "<f8", "F32": "<f4", "I64": "<i8"}
    tensors, spans = {}, []
    for name, info in header.items():
        dt = np.dtype(kinds[info["dtype"]])
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        if end - begin != count * dt.itemsize or not 0 <= begin <= end <= len(data):
            raise ValueError(f"{path}: tensor {name} has offsets inconsistent with its shape")
        tensors[name] = np.frombuffer(data[begin:end], dtype=dt).reshape(info["shape"])
        spans.append((begin, end))
    spans.sort()
    pos = 0
    for begin, end in spans:
        if begin != pos:
            raise ValueError(f"{path}: tensor data is not packed back to back")
        pos = end
    if pos != len(data):
        raise ValueError(f"{path}: {len(data) - pos} trailing bytes after the tensor data")
    return tensors, meta


def numpy_activation(name, z):
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_RELU_ALPHA * z), np.where(z > 0, 1.0, LEAKY_RELU_ALPHA)
    if name == "tanh":
        t = np.tanh(z)
        return t, 1.0 - t * t
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s, s * (1.0 - s)
    if name == "gelu":
        erf = np.vectorize(math.erf)
        cdf = 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        return z * cdf, cdf + z * pdf
    if name == "identity":
        return z, np.ones_like(z)
    raise ValueError(name)


def numpy_network(Ws, bs, x, y, activation, reg):
    """The DESIGN.md forward and backward, written out by hand in NumPy."""
    L = len(Ws)
    acts, derivs = [x], []
    a = x
    for l in range(L):
        z = a @ Ws[l] + bs[l]
        if l + 1 < L:
            a, d = numpy_activation(activation, z)
            acts.append(a)
            derivs.append(d)
    scores = z
    n = x.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    logsumexp = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    logp = shifted - logsumexp
    probs = np.exp(logp)
    data_loss = -logp[np.arange(n), y].mean()
    reg_loss = reg * sum(float((W * W).sum()) for W in Ws)
    dz = probs.copy()
    dz[np.arange(n), y] -= 1.0
    dz /= n
    dW, db = [None] * L, [None] * L
    for l in reversed(range(L)):
        dW[l] = acts[l].T @ dz + 2.0 * reg * Ws[l]
        db[l] = dz.sum(axis=0)
        da = dz @ Ws[l].T
        if l > 0:
            dz = da * derivs[l - 1]
    return {"scores": scores, "probs": probs, "grad_W": dW, "grad_b": db, "grad_x": da,
            "data_loss": data_loss, "reg_loss": reg_loss, "loss": data_loss + reg_loss}


def numpy_optim(name, hyper, p0, gs):
    """Textbook update rules written in NumPy, in torch.optim's conventions."""
    h = {k: (float(v) if k not in ("nesterov", "amsgrad", "centered") else v)
         for k, v in hyper.items()}
    p = p0.copy()
    out = []
    buf = m = v = None
    for t, g in enumerate(gs, start=1):
        if name in ("sgd", "momentum", "nesterov"):
            step = g
            if h["momentum"] != 0.0:
                buf = g.copy() if buf is None else h["momentum"] * buf + g
                step = g + h["momentum"] * buf if h["nesterov"] == "true" else buf
            p = p - h["lr"] * step
        elif name in ("adam", "adamw"):
            if name == "adamw":
                p = p * (1.0 - h["lr"] * h["weight_decay"])
            m = (1 - h["beta1"]) * g if m is None else h["beta1"] * m + (1 - h["beta1"]) * g
            v = (1 - h["beta2"]) * g * g if v is None else h["beta2"] * v + (1 - h["beta2"]) * g * g
            m_hat = m / (1 - h["beta1"] ** t)
            v_hat = v / (1 - h["beta2"] ** t)
            p = p - h["lr"] * m_hat / (np.sqrt(v_hat) + h["eps"])
        elif name == "rmsprop":
            v = (1 - h["alpha"]) * g * g if v is None else h["alpha"] * v + (1 - h["alpha"]) * g * g
            p = p - h["lr"] * g / (np.sqrt(v) + h["eps"])
        else:
            raise ValueError(name)
        out.append(p)
    return out


def close(a, b, tol, what):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shape {a.shape} != {b.shape}")
    err = float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))) if a.size else 0.0
    if not err <= tol:
        raise AssertionError(f"{what}: max scaled difference {err:.3g} > {tol:g}")
    return err


def check(fixtures):
    failures = 0
    expected = {name for name, _ in fixtures}
    on_disk = {f for f in os.listdir(FIXTURE_DIR) if f.endswith(".safetensors")}
    for extra in sorted(on_disk - expected):
        print(f"FAIL {extra}: not written by this script")
        failures += 1
    worst = 0.0
    for name, blob in fixtures:
        path = os.path.join(FIXTURE_DIR, name)
        try:
            with open(path, "rb") as fh:
                if fh.read() != blob:
                    raise AssertionError("differs from a fresh regeneration")
            t, meta = read_safetensors(path)
            kind = meta["fixture"]
            if kind in ("network", "toy_cs231n"):
                L = len(json.loads(meta["layer_sizes"])) - 1
                Ws = [t[f"W{l + 1}"].astype(np.float64) for l in range(L)]
                bs = [t[f"b{l + 1}"].astype(np.float64) for l in range(L)]
                regs = [("", float(meta["reg"]))]
                if kind == "toy_cs231n":
                    regs.append(("_reg0", 0.0))
                for suffix, reg in regs:
                    r = numpy_network(Ws, bs, t["x"].astype(np.float64), t["y"],
                                      meta["activation"], reg)
                    if suffix == "":
                        worst = max(worst, close(r["scores"], t["scores"], 1e-12, "scores"))
                        worst = max(worst, close(r["probs"], t["probs"], 1e-12, "probs"))
                        for key in ("data_loss", "reg_loss", "loss"):
                            worst = max(worst, close(r[key], float(meta[key]), 1e-12, key))
                    else:
                        worst = max(worst, close(r["loss"], float(meta["loss_reg0"]), 1e-12,
                                                 "loss_reg0"))
                    for l in range(L):
                        worst = max(worst, close(r["grad_W"][l], t[f"grad_W{l + 1}{suffix}"],
                                                 1e-12, f"grad_W{l + 1}{suffix}"))
                        worst = max(worst, close(r["grad_b"][l], t[f"grad_b{l + 1}{suffix}"],
                                                 1e-12, f"grad_b{l + 1}{suffix}"))
                    worst = max(worst, close(r["grad_x"], t[f"grad_x{suffix}"], 1e-12,
                                             f"grad_x{suffix}"))
                if kind == "toy_cs231n":
                    # The course prints 8 decimals of the scores and 11 of the loss.
                    close(t["scores"], TOY_COURSE_SCORES, 1e-8, "scores vs course")
                    d = abs(float(meta["loss_reg0.05"]) - TOY_COURSE_LOSS)
                    if d > 1e-10:
                        raise AssertionError(f"loss vs course value differs by {d:.3g}")
                    print(f"     toy: loss(reg=0.05) = {meta['loss_reg0.05']} "
                          f"(course {TOY_COURSE_LOSS}, |diff| = {d:.2g}); "
                          f"max |scores - course| = "
                          f"{np.abs(t['scores'] - TOY_COURSE_SCORES).max():.2g}")
            elif kind == "optimizer":
                keys = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "beta1",
                        "beta2", "eps", "alpha", "amsgrad", "centered")
                hyper = {k: meta[k] for k in keys if k in meta}
                gs = [t[f"g{k + 1}"] for k in range(int(meta["steps"]))]
                ps = numpy_optim(meta["optimizer"], hyper, t["p0"], gs)
                for k, p in enumerate(ps):
                    worst = max(worst, close(p, t[f"p{k + 1}"], 1e-12, f"p{k + 1}"))
                    if np.array_equal(t[f"p{k + 1}"], t[f"p{k}"] if k else t["p0"]):
                        raise AssertionError(f"p{k + 1} did not move")
            else:
                raise AssertionError(f"unknown fixture kind {kind!r}")
            print(f"ok   {name}")
        except (AssertionError, ValueError, KeyError, OSError) as e:
            print(f"FAIL {name}: {e}")
            failures += 1
    total = sum(len(b) for _, b in fixtures)
    print(f"{len(fixtures)} fixtures, {total} bytes; worst NumPy-vs-torch scaled difference "
          f"{worst:.3g}")
    if total >= 2 * 1024 * 1024:
        print("FAIL total fixture size is 2 MiB or more")
        failures += 1
    return failures == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="verify the committed fixtures instead of writing them")
    args = ap.parse_args()
    fixtures = all_fixtures()
    if args.check:
        return 0 if check(fixtures) else 1
    os.makedirs(FIXTURE_DIR, exist_ok=True)
    for name, blob in fixtures:
        path = os.path.join(FIXTURE_DIR, name)
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
        print(f"wrote {os.path.relpath(path)} ({len(blob)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
