#!/usr/bin/python3
"""Step-time model of data-parallel `fcnet train` on N machines (docs/PERFORMANCE.md, section
"Data-parallel training on MPI").

Reads the JSON lines of scripts/mpi_step_components.cpp run alone, one or more runs (the fastest
of each entry is kept), (K = 1: forward+backward at
B, B/2, ..., B/32 rows and the Adam step) and prints, per benchmark network, the modelled step time
and speedup on N machines, one rank per machine, for a ring allreduce over 10 and 100 Gbit/s:

  step(N) = C(m_N) + O + A(N) + a(N)
  C(r)  forward+backward on r rows (measured; linear interpolation between measured row counts)
  m_N   expected rows on the busiest rank: the rows of a random batch of B fall on the ranks by
        chance (every rank draws the same permutation and keeps what it holds), so the slowest
        rank has E[max of the N counts] rows (Monte Carlo)
  O     the optimizer step over all P parameters, replicated on every rank (measured)
  A(N)  ring allreduce of S = 4P bytes: 2(N-1)/N * S/bandwidth + 2(N-1) * latency
  a(N)  the per-step statistics allreduce (three doubles): 2*ceil(log2 N) * latency
With --overlap it also prints the bound for overlapping the allreduce of the gradients of
layers >= 2 with the rest of the backward pass (see the doc).

Usage: scripts/mpi_scaling_model.py components-k1.jsonl [--speedup S] [--overlap]
  --speedup S  divides the measured compute (C and O) by S: a machine S times faster than the one
               measured, with the same network.
"""
import argparse
import json
import math

import numpy as np

LINKS = {"10 Gbit/s": (10e9 / 8, 25e-6), "100 Gbit/s": (100e9 / 8, 3e-6)}
NODES = [1, 2, 4, 8, 16, 32, 64]


def busiest_rows(batch, n, rng, samples=20000):
    if n == 1:
        return float(batch)
    counts = rng.multinomial(batch, [1.0 / n] * n, size=samples)
    return float(counts.max(axis=1).mean())


def interp(table, rows):
    xs = sorted(table)
    if rows <= xs[0]:
        return table[xs[0]] * rows / xs[0]
    for a, b in zip(xs, xs[1:]):
        if rows <= b:
            t = (rows - a) / (b - a)
            return table[a] * (1 - t) + table[b] * t
    return table[xs[-1]] * rows / xs[-1]


def layer_sizes(net):
    return [int(s) for s in net.split("-")]


def overlap_parts(sizes, params):
    # Gradient bytes that exist before layer 1's backward starts, and the share of forward+backward
    # FLOPs that remain at that point (da_1 = dz_2 W_2^T, then dW_1 = x^T dz_1).
    w = [a * b for a, b in zip(sizes, sizes[1:])]
    total = 6 * sum(w) - 2 * w[0]  # no dx for the input layer
    after = 2 * w[1] + 2 * w[0] if len(w) > 1 else 2 * w[0]
    early_params = params - (w[0] + sizes[1])
    return early_params, after / total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("components")
    ap.add_argument("--speedup", type=float, default=1.0)
    ap.add_argument("--overlap", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    # Several runs of the measurement may be concatenated: keep the fastest of each entry.
    cases = {}
    for line in open(args.components):
        line = line.strip()
        if not line.startswith("{"):
            continue
        c = json.loads(line)
        key = (c["net"], c["batch"])
        if key not in cases:
            cases[key] = c
            continue
        best = cases[key]
        for rows, ms in c["fwd_bwd_ms_by_rows"].items():
            best["fwd_bwd_ms_by_rows"][rows] = min(best["fwd_bwd_ms_by_rows"][rows], ms)
        best["adam_ms"] = min(best["adam_ms"], c["adam_ms"])
        best["allreduce_ms"] = min(best["allreduce_ms"], c["allreduce_ms"])
    for c in cases.values():
        B, P = c["batch"], c["params"]
        C = {int(k): v / 1e3 / args.speedup for k, v in c["fwd_bwd_ms_by_rows"].items()}
        O = c["adam_ms"] / 1e3 / args.speedup
        S = 4.0 * P
        early, after_frac = overlap_parts(layer_sizes(c["net"]), P)
        t1 = interp(C, B) + O
        print(f"\n{c['net']} b{B}: P = {P:,} ({S / 1e6:.2f} MB of gradients); one machine: "
              f"forward+backward {interp(C, B) * 1e3:.2f} ms + Adam {O * 1e3:.2f} ms "
              f"= {t1 * 1e3:.2f} ms/step")
        head = "| N | busiest rank rows |"
        rule = "|---|---|"
        for name in LINKS:
            head += f" step {name} | speedup |"
            rule += "---|---|"
            if args.overlap:
                head += " with overlap |"
                rule += "---|"
        print(head)
        print(rule)
        for n in NODES:
            m = busiest_rows(B, n, rng)
            comp = interp(C, m)
            row = f"| {n} | {m:.1f} |"
            for name, (bw, lat) in LINKS.items():
                if n == 1:
                    a = 0.0
                    a_early = 0.0
                else:
                    a = 2 * (n - 1) / n * S / bw + 2 * (n - 1) * lat
                    a_early = 2 * (n - 1) / n * 4.0 * early / bw
                a += 2 * math.ceil(math.log2(n)) * lat if n > 1 else 0.0
                t = comp + O + a
                row += f" {t * 1e3:.2f} ms | {t1 / t:.2f} |"
                if args.overlap:
                    hidden = min(a_early, comp * after_frac)
                    row += f" {t1 / (t - hidden):.2f} |"
            print(row)


if __name__ == "__main__":
    main()
