#!/usr/bin/python3
"""PyTorch peer for bench/compare: trains the same MLP as fcnet on Fashion-MNIST and prints one JSON
line with per-epoch training seconds (data loading and evaluation are outside the timed region).

With --infer MODEL it instead times the forward pass of an fcnet model file over the 10k test set in
batches of 1000 under no_grad.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402


def build(sizes):
    layers = []
    for l in range(1, len(sizes)):
        layers.append(nn.Linear(sizes[l - 1], sizes[l]))
        if l < len(sizes) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@torch.no_grad()
def accuracy(model, x, y, batch=1000):
    correct = 0
    for i in range(0, x.shape[0], batch):
        correct += int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
    return correct / x.shape[0]


def train(args):
    torch.manual_seed(args.seed)
    sizes = common.layer_sizes(args.hidden)
    x_np, y_np = common.load_fashion_mnist("train")
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    n = x.shape[0]
    model = build(sizes)
    if args.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)

    epochs = []
    step = 0
    trained = 0.0  # training seconds of the finished epochs
    stop = False
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        seen = 0
        for i in range(0, n, args.batch):
            if args.max_steps and step >= args.max_steps:
                stop = True
            elif args.max_seconds and trained + time.perf_counter() - t0 > args.max_seconds:
                stop = True
            if stop:
                break
            idx = perm[i : i + args.batch]
            xb = x.index_select(0, idx)
            yb = y.index_select(0, idx)
            scores = model(xb)
            loss = loss_fn(scores, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * idx.shape[0]
            correct += (scores.detach().argmax(1) == yb).sum()
            seen += idx.shape[0]
            step += 1
        seconds = time.perf_counter() - t0
        if seen == 0:
            break
        epochs.append(
            {
                "epoch": epoch,
                "train_loss": float(loss_sum) / seen,
                "train_accuracy": float(correct) / seen,
                "seconds": seconds,
                "examples": seen,
            }
        )
        trained += seconds
        if stop or (args.max_steps and step >= args.max_steps):
            break

    result = {
        "peer": "torch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": common.blas_name(),
        "blas_threads": args.blas_threads or args.threads,
        "sizes": sizes,
        "steps": step,
        "epochs": epochs,
        "seconds": sum(e["seconds"] for e in epochs),
    }
    if not args.no_eval:
        model.eval()
        result["final_train_accuracy"] = accuracy(model, x, y)
        xt, yt = common.load_fashion_mnist("test")
        result["test_accuracy"] = accuracy(model, torch.from_numpy(xt), torch.from_numpy(yt))
    common.emit(result)


def infer(args):
    tensors, meta = common.read_safetensors(args.infer)
    layers = common.model_layers(tensors)
    activation = meta.get("activation", "relu")
    if activation != "relu":
        raise SystemExit(f"torch_mlp.py: {args.infer}: activation {activation}, expected relu")
    sizes = [layers[0][0].shape[0]] + [w.shape[1] for w, _ in layers]
    model = build(sizes)
    dtype = torch.float64 if layers[0][0].dtype == np.float64 else torch.float32
    model = model.to(dtype)
    with torch.no_grad():
        linears = [m for m in model if isinstance(m, nn.Linear)]
        for lin, (w, b) in zip(linears, layers):
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            lin.bias.copy_(torch.from_numpy(np.array(b)))
    x_raw, y_np = common.load_fashion_mnist("test", scale=1.0)
    x = torch.from_numpy(common.input_transform(x_raw, meta, tensors)).to(dtype)
    y = torch.from_numpy(y_np)
    model.eval()
    best = None
    correct = 0
    with torch.no_grad():
        # One untimed batch first: fcnet eval likewise starts its GEMM library before its clock.
        model(x[: args.infer_batch])
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            preds = [
                model(x[i : i + args.infer_batch]).argmax(1)
                for i in range(0, x.shape[0], args.infer_batch)
            ]
            seconds = time.perf_counter() - t0
            best = seconds if best is None else min(best, seconds)
            correct = int((torch.cat(preds) == y).sum())
    common.emit(
        {
            "peer": "torch",
            "threads": torch.get_num_threads(),
            "blas": common.blas_name(),
            "blas_threads": args.blas_threads or args.threads,
            "sizes": sizes,
            "examples": int(x.shape[0]),
            "seconds": best,
            "accuracy": correct / x.shape[0],
        }
    )


def main():
    p = common.train_parser(__doc__.splitlines()[0])
    p.add_argument("--infer", metavar="MODEL", help="time the forward pass of this fcnet model")
    p.add_argument("--infer-batch", type=int, default=1000, help="with --infer: batch size")
    p.add_argument("--repeat", type=int, default=1, help="with --infer: passes; the best counts")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    common.set_blas_threads(args.blas_threads or args.threads)
    if args.infer:
        infer(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
