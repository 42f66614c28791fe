"""Shared helpers for the Python package tests.

Imports are unconditional: a package or dependency that cannot be imported fails the run rather
than skipping tests.
"""

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import sklearn  # noqa: F401  (required: the estimator tests compare against scikit-learn)
import torch

import fcnet  # noqa: F401  (required: PYTHONPATH must point at build/python)

SOURCE_DIR = Path(os.environ.get("FCNET_SOURCE_DIR", Path(__file__).resolve().parents[2]))
FIXTURES = SOURCE_DIR / "tests" / "reference" / "fixtures"

torch.set_num_threads(1)

_ST_DTYPES = {"F64": np.float64, "F32": np.float32, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    """(tensors, metadata) of a safetensors file, read independently of fcnet."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        tensors[name] = np.frombuffer(data[b:e], dtype=np.dtype(_ST_DTYPES[t["dtype"]]).newbyteorder("<")) \
            .reshape(t["shape"]).astype(_ST_DTYPES[t["dtype"]])
    return tensors, meta


def cli_path():
    p = os.environ.get("FCNET_CLI") or str(SOURCE_DIR / "build" / "bin" / "fcnet")
    assert Path(p).exists(), f"fcnet CLI not found at {p} (set FCNET_CLI)"
    return p


def rel_error(a, b):
    """CS231n's relative error, max over entries."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of scalar f() with respect to array x (modified in place and
    restored), as the course's eval_numerical_gradient."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fp = f()
        x[ix] = old - h
        fm = f()
        x[ix] = old
        grad[ix] = (fp - fm) / (2 * h)
        it.iternext()
    return grad


@pytest.fixture
def toy():
    """The course's toy problem, built as the notebook does (seeds 0 and 1)."""
    np.random.seed(0)
    net = fcnet.TwoLayerNet(4, 10, 3, std=1e-1)
    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return net, X, y
