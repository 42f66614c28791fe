"""Shared pieces of the benchmark peers: Fashion-MNIST loading, the command line every peer accepts,
BLAS identification and thread control, fcnet model files, and the one-line JSON report.

Only the standard library and NumPy are used here, so the NumPy peer does not import torch.
"""

import argparse
import ctypes
import gzip
import json
import os
import struct
import sys

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """Reads an IDX file (raw or gzip) into a NumPy array of its stored shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(split, scale=1.0 / 255.0, directory=FASHION_MNIST_DIR):
    """Returns (x, y): x float32 N×784 multiplied by scale (raw pixels for scale 1), y int64 N."""
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"))
    x = x.reshape(x.shape[0], -1).astype(np.float32)
    if scale != 1.0:
        x *= np.float32(scale)
    return x, y.astype(np.int64)


def train_parser(description):
    """The command line shared by the training peers (mirrors the fcnet train options they need)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--hidden", default="256", help="comma-separated hidden widths")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: none)")
    p.add_argument("--max-seconds", type=float, default=0.0,
                   help="stop after the step that ends past this much training time (0: none)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--blas-threads", type=int, default=0,
                   help="OpenBLAS threads, when it is the BLAS (default: --threads)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-eval", action="store_true", help="skip the untimed accuracy evaluation")
    return p


def layer_sizes(hidden, d=784, c=10):
    return [d] + [int(h) for h in str(hidden).split(",") if h] + [c]


def blas_libraries():
    """Paths of the BLAS libraries mapped into this process."""
    found = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path)
                if ("blas" in name or "blis" in name) and path not in found:
                    found.append(path)
    except OSError:
        pass
    return found


def blas_name():
    """A short description of the BLAS this process computes with."""
    libs = blas_libraries()
    for path in libs:
        if "openblas" in os.path.basename(path):
            return "openblas"
    for path in libs:
        if "blis" in os.path.basename(path):
            return "blis"
    for path in libs:
        real = os.path.realpath(path)
        if "/blas/" in real or os.path.basename(real).startswith("libblas.so"):
            return "reference (netlib libblas3)"
    return ",".join(os.path.basename(p) for p in libs) or "none"


def set_blas_threads(n):
    """Gives OpenBLAS the same thread count as the framework; other BLAS builds here are serial."""
    for path in blas_libraries():
        if "openblas" in os.path.basename(path):
            try:
                ctypes.CDLL(path).openblas_set_num_threads(ctypes.c_int(n))
            except (OSError, AttributeError):
                pass


def read_safetensors(path):
    """Reads an fcnet model file: returns (tensors as float arrays by name, metadata dict)."""
    dtypes = {"F32": np.float32, "F64": np.float64}
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        blob = f.read()
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        arr = np.frombuffer(blob[begin:end], dtype=dtypes[info["dtype"]])
        tensors[name] = arr.reshape(info["shape"])
    return tensors, meta


def model_layers(tensors):
    """[(W1, b1), (W2, b2), …] in layer order."""
    layers = []
    l = 1
    while f"W{l}" in tensors:
        layers.append((tensors[f"W{l}"], tensors[f"b{l}"]))
        l += 1
    if not layers:
        raise ValueError("model has no W1 tensor")
    return layers


def input_transform(x, meta, tensors):
    """Applies the model's input transform x' = (x·scale − mean) / std to raw pixel values."""
    x = x * np.float32(float(meta.get("input_scale", "1")))
    if "input_mean" in tensors:
        x = (x - tensors["input_mean"]) / tensors["input_std"]
    return x.astype(np.float32)


def emit(result):
    """The peer's single line of JSON on stdout."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
