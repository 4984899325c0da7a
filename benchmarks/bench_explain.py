"""Explanations and ONNX Runtime on bank marketing: how long reasons take, and ONNX Runtime's scoring speed
beside PyTorch's.

    PYTHONPATH=src .venv/bin/python -m benchmarks.bench_explain --rows 10000 --threads 2

The demo's model (the default MLP on the bundled UCI Bank Marketing table, without ``duration``, seed 0) is
fitted on the whole table. Then, each timed with ``time.perf_counter``:

- attributions (Integrated Gradients, 64 steps) and reason codes of the first ``--rows`` rows, the whole table
  as the population (``Predictor.explain``), and the completeness of each row's attributions;
- the network's export to ONNX (``needmap.workflows.onnx.export_onnx``);
- batch scoring of every row already encoded (``Predictor.score``), by PyTorch and by ONNX Runtime: rows/s,
  best of 3;
- one raw row at a time (``Predictor.predict_proba(dict)``, the online path), 2,000 rows after 200 of warm-up:
  the median and 99th percentile latency, by PyTorch and by ONNX Runtime.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/explain.json"))
    args = parser.parse_args()
    import torch

    import needmap as nm
    from needmap.datasets import bank_marketing_path
    from needmap.workflows.onnx import export_onnx, use_onnxruntime

    if args.threads:
        torch.set_num_threads(args.threads)
    table = nm.read(bank_marketing_path())
    report: dict[str, Any] = {"date": date.today().isoformat(), "machine": platform.processor() or platform.machine(),
                              "threads": torch.get_num_threads(), "rows": args.rows}  # fmt: skip
    started = time.perf_counter()
    predictor = nm.Model("mlp", target="y", drop=["duration"], seed=0, progress=False).fit(table).predictor_
    report["fit_s"] = round(time.perf_counter() - started, 1)
    rows = table.slice(0, args.rows)
    started = time.perf_counter()
    reasons = predictor.explain(rows, top=5, background=table)
    report["explain_s"] = round(time.perf_counter() - started, 1)
    report["reasons"] = reasons.num_rows
    found = predictor.attributions(rows.slice(0, 2000), background=table)
    change = found.output - found.reference_output
    error = np.abs(found.values.sum(axis=1) - change)
    report["completeness_within_1pct"] = float(np.mean(error <= 0.01 * np.maximum(np.abs(change), 1.0)))
    report["completeness_max_error"] = float(error.max())
    print(f"explain {args.rows:,} rows: {report['explain_s']} s ({reasons.num_rows:,} reasons)", flush=True)
    x = predictor.preprocessor_.transform(table)
    records = table.slice(0, 2200).to_pylist()
    folder = Path(tempfile.mkdtemp(prefix="needmap-onnx-"))
    started = time.perf_counter()
    export_onnx(predictor, folder, check_rows=table.slice(0, 500))
    report["export_s"] = round(time.perf_counter() - started, 1)
    for backend in ("pytorch", "onnxruntime"):
        if backend == "onnxruntime":
            use_onnxruntime(predictor, folder / "model.onnx")
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            predictor.score(x)
            best = min(best, time.perf_counter() - started)
        latencies = []
        for k, record in enumerate(records):
            started = time.perf_counter()
            predictor.predict_proba(record)
            if k >= 200:
                latencies.append((time.perf_counter() - started) * 1000)
        report[backend] = {
            "batch_rows_per_s": round(len(x) / best), "one_row_p50_ms": round(float(np.median(latencies)), 3),
            "one_row_p99_ms": round(float(np.percentile(latencies, 99)), 3),
        }  # fmt: skip
        print(backend, report[backend], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
