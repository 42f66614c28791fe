#!/usr/bin/env python3
"""PyTorch CUDA peer for bench/gpu_check.sh: the same MLP training step as `fcnet train --device
cuda`, in PyTorch's two best forms for small networks, eager and whole-step CUDA graph.

Work per step, as fcnet's: gather the batch's rows of Fashion-MNIST from uint8 on the device
through the epoch's permutation, convert and scale by 1/255, forward (Linear + ReLU ...), softmax
cross-entropy, backward, Adam (fused kernel), and add the loss to a device accumulator. The graph
form captures all of it, including the batch selection from a device step counter, so a step is
one replay. Precision: fp32 (TF32 off), tf32 (TF32 matmuls), bf16 (autocast to bfloat16 with
fp32 master weights, as fcnet's bf16).

Prints one JSON line per (network, batch, precision, mode) with examples/s and µs per step,
measured over whole epochs after a warm-up epoch, best of --repeats.

Usage: torch_cuda.py --data DIR --config 784-256-10:64 [--config ...] --precision fp32,tf32,bf16
"""

import argparse
import contextlib
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(directory):
    def find(stem):
        for name in (stem + ".gz", stem):
            p = os.path.join(directory, name)
            if os.path.exists(p):
                return p
        raise FileNotFoundError(f"{directory}: no {stem}[.gz]")

    x = read_idx(find("train-images-idx3-ubyte"))
    y = read_idx(find("train-labels-idx1-ubyte"))
    return x.reshape(x.shape[0], -1), y


def make_model(sizes, device):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(device)
    for m in model:
        if isinstance(m, torch.nn.Linear):  # He initialisation and zero biases, as fcnet
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            torch.nn.init.zeros_(m.bias)
    return model


def make_adam(model, capturable):
    kw = dict(lr=1e-3)
    try:
        return torch.optim.Adam(model.parameters(), fused=True, capturable=capturable, **kw)
    except (TypeError, RuntimeError, ValueError):
        return torch.optim.Adam(model.parameters(), foreach=True, capturable=capturable, **kw)


class Run:
    """One configuration: data on the device, the model, and a step function."""

    def __init__(self, x_u8, y, sizes, batch, precision, graph):
        self.dev = x_u8.device
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = precision == "tf32"
        self.x = x_u8
        self.y = y
        self.n = x_u8.shape[0]
        self.batch = batch
        self.steps = self.n // batch  # whole batches (fcnet also runs the partial one)
        self.bf16 = precision == "bf16"
        self.model = make_model(sizes, self.dev)
        self.opt = make_adam(self.model, capturable=graph)
        self.loss_sum = torch.zeros((), device=self.dev)
        self.step_idx = torch.zeros((), dtype=torch.long, device=self.dev)
        self.perm2d = torch.empty((self.steps, batch), dtype=torch.long, device=self.dev)
        self.graph = None
        if graph:
            self.capture()

    def shuffle(self):
        p = torch.randperm(self.n, device=self.dev)[: self.steps * self.batch]
        self.perm2d.copy_(p.view(self.steps, self.batch))
        self.step_idx.zero_()
        self.loss_sum.zero_()

    def body(self):
        # Batch selection from the device step counter with index_select (no host read-back, so
        # it can be captured); the gradients are written, not accumulated, because they are
        # None before the step (eager) or before capture (graph).
        idx = torch.index_select(self.perm2d, 0, self.step_idx.view(1)).view(-1)
        xb = torch.index_select(self.x, 0, idx).float().mul_(1.0 / 255.0)
        yb = torch.index_select(self.y, 0, idx)
        ctx = (torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False) if self.bf16
               else contextlib.nullcontext())
        with ctx:
            loss = F.cross_entropy(self.model(xb), yb)
        loss.backward()
        self.opt.step()
        self.loss_sum.add_(loss.detach())
        self.step_idx.add_(1)

    def capture(self):
        self.shuffle()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):  # warm-up on a side stream, as the CUDA-graph recipe asks
                self.opt.zero_grad(set_to_none=True)
                self.body()
        torch.cuda.current_stream().wait_stream(s)
        self.opt.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.body()

    def epoch(self):
        self.shuffle()
        if self.graph is not None:
            for _ in range(self.steps):
                self.graph.replay()
        else:
            for _ in range(self.steps):
                self.opt.zero_grad(set_to_none=True)
                self.body()
        return float(self.loss_sum.item()) / self.steps  # one read-back per epoch, as fcnet


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def measure(run, repeats):
    """Best epoch time of `repeats` after a warm-up epoch, and the last epoch's mean loss."""
    run.epoch()  # warm-up (cuBLAS heuristics, allocator, autotuning)
    sync(run.dev)
    best, loss = float("inf"), float("nan")
    for _ in range(repeats):
        t0 = time.perf_counter()
        loss = run.epoch()
        sync(run.dev)
        best = min(best, time.perf_counter() - t0)
    return best, loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="Fashion-MNIST folder (IDX files, .gz or raw)")
    ap.add_argument("--config", action="append", required=True,
                    help="SIZES:BATCH, e.g. 784-256-10:256 (repeatable)")
    ap.add_argument("--precision", default="fp32,tf32,bf16")
    ap.add_argument("--modes", default="eager,graph")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda", help="cuda; cpu runs the eager form (a smoke test)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("torch_cuda.py: no CUDA device", file=sys.stderr)
        return 1
    x, y = load(a.data)
    xd = torch.from_numpy(np.array(x)).to(dev)
    yd = torch.from_numpy(y.astype(np.int64)).to(dev)
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"
    print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "device": name}),
          flush=True)
    for cfg in a.config:
        arch, batch = cfg.split(":")
        sizes = [int(v) for v in arch.split("-")]
        batch = int(batch)
        for prec in a.precision.split(","):
            for mode in a.modes.split(","):
                torch.manual_seed(1)
                run = Run(xd, yd, sizes, batch, prec, mode == "graph")
                secs, loss = measure(run, a.repeats)
                ex = run.steps * batch
                print(json.dumps({"arch": arch, "batch": batch, "precision": prec, "mode": mode,
                                  "examples_per_second": ex / secs,
                                  "us_per_step": 1e6 * secs / run.steps, "loss": loss}),
                      flush=True)
                del run
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
