"""Float32 and bfloat16 matrix products at the speed benchmark's shapes: torch's default kernel beside oneDNN's.

What `needmap.runtime.onednn` rests on: for each shape (rows x in -> out, the DNN 624 -> 400 -> 400 and
DCN-v2's 624 -> 624 cross layers at batch 4,096, and one row), the GFLOP/s of torch's `F.linear` (MKL on
x86-64), of oneDNN's linear (`torch.ops.mkldnn._linear_pointwise`) for the forward product and for the
two backward products as `needmap.runtime.onednn.Linear` runs them, and of `F.linear` in bfloat16. Best of
3 passes of 30 products each; time it on an otherwise idle machine.

Usage: .venv/bin/python benchmarks/bench_matmul.py [--threads 2]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from needmap.runtime.matmul_choice import machine_key
from needmap.runtime.onednn import cpu_matmul

SHAPES = [(4096, 624, 400), (4096, 400, 400), (4096, 624, 624), (1, 624, 400)]


def gflops(run: Callable[[], object], flop: float, reps: int = 30) -> float:
    """Best rate of ``run`` over 3 passes of ``reps`` calls, in GFLOP/s."""
    for _ in range(3):
        run()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            run()
        best = min(best, (time.perf_counter() - start) / reps)
    return flop / best / 1e9


def rates(rows: int, n_in: int, n_out: int) -> list[float]:
    """GFLOP/s of one shape: F.linear fp32, oneDNN forward, dx and dW, MKL's dW, F.linear bf16."""
    op = torch.ops.mkldnn._linear_pointwise
    gen = torch.Generator().manual_seed(0)
    x, w = torch.randn(rows, n_in, generator=gen), torch.randn(n_out, n_in, generator=gen)
    b, dy = torch.randn(n_out, generator=gen), torch.randn(rows, n_out, generator=gen)
    xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
    flop = 2.0 * rows * n_in * n_out
    return [
        gflops(lambda: F.linear(x, w, b), flop),
        gflops(lambda: op(x, w, b, "none", [], ""), flop),
        gflops(lambda: op(dy, w.t(), None, "none", [], ""), flop),
        gflops(lambda: op(dy.t(), x.t(), None, "none", [], ""), flop),
        gflops(lambda: dy.t() @ x, flop),
        gflops(lambda: F.linear(xb, wb, bb), flop),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{machine_key()}, {platform.machine()}; needmap's choice: {cpu_matmul()[1]}")
    print("| rows x in -> out | F.linear fp32 | oneDNN fp32 | oneDNN dx | oneDNN dW | MKL dW | F.linear bf16 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for rows, n_in, n_out in SHAPES:
        cells = " | ".join(f"{r:.0f}" for r in rates(rows, n_in, n_out))
        print(f"| {rows} x {n_in} -> {n_out} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
