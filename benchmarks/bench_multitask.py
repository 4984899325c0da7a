"""Multi-task against single-task: MMoE and PLE beside one MLP per target, on census income (Adult).

Targets: `income` (> 50K) and `married` (marital-status is Married-civ-spouse); `marital_status` and
`relationship` are dropped (they give `married` away). adult.data and adult.test are pooled (about 48,800
rows); each seed draws one random 80/20 split that every model shares; each model keeps 10% of its
training part for early stopping. Writes benchmarks/results/multitask.md and prints it: each model's
test AUC per target (mean ± std over seeds), and each multi-task model's paired difference from the
single-task MLPs (same split and seed): mean ± standard error, and on how many seeds it was at least
as good.

Usage: .venv/bin/python benchmarks/bench_multitask.py --seeds 0 1 2 3 4 5 6 7 8 9
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

import needmap as nm
from needmap.data.split import split_indices

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "census_income_adult"
RESULTS = Path(__file__).resolve().parent / "results"
NAMES = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income",
]  # fmt: skip
TARGETS = ("income", "married")
SINGLE = "mlp (one per target)"


def load_adult() -> pa.Table:
    """adult.data + adult.test with the two binary targets as 'yes'/'no' text."""
    parts = []
    for name, skip in (("adult.data.gz", 0), ("adult.test.gz", 1)):
        table = pacsv.read_csv(
            DATA / name,
            read_options=pacsv.ReadOptions(column_names=NAMES, skip_rows=skip),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True, null_values=["?", " ?"]),
        )
        parts.append(table)
    table = pa.concat_tables(parts, promote_options="default")
    income = pc.utf8_trim(pc.utf8_trim_whitespace(table.column("income")), ".")
    married = pc.equal(pc.utf8_trim_whitespace(table.column("marital_status")), "Married-civ-spouse")
    table = table.drop_columns(["income", "marital_status", "relationship"])
    table = table.append_column("income", pc.if_else(pc.equal(income, ">50K"), "yes", "no"))
    return table.append_column("married", pc.if_else(married, "yes", "no"))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place: a reader (or a run
    stopped midway) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def paired_differences(results: dict[str, dict[str, list[float]]]) -> list[str]:
    """Markdown rows: each multi-task model's test AUC minus the single-task MLP's, seed by seed."""
    single = results[SINGLE]
    lines = [
        "| model − " + SINGLE + " | " + " | ".join(f"{t}: mean ± s.e. (seeds ≥ 0)" for t in TARGETS) + " |",
        "|---|" + "---:|" * len(TARGETS),
    ]
    for name, per_target in results.items():
        if name == SINGLE:
            continue
        cells = []
        for t in TARGETS:
            diffs = [a - b for a, b in zip(per_target[t], single[t], strict=True)]
            se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
            cells.append(f"{statistics.mean(diffs):+.4f} ± {se:.4f} ({sum(d >= 0 for d in diffs)}/{len(diffs)})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    args = parser.parse_args()
    table = load_adult()
    results: dict[str, dict[str, list[float]]] = {}
    started = time.perf_counter()
    for seed in args.seeds:
        train_idx, test_idx = split_indices(table.num_rows, method="random", test_size=0.2, seed=seed)
        train, test = table.take(pa.array(train_idx)), table.take(pa.array(test_idx))
        runs = {
            "mmoe": nm.Model("mmoe", target=list(TARGETS), seed=seed, progress=False),
            "ple": nm.Model("ple", target=list(TARGETS), seed=seed, progress=False),
            SINGLE: None,
        }
        for name, model in runs.items():
            if model is None:
                metrics = {t: nm.Model("mlp", target=t, drop=[o for o in TARGETS if o != t], seed=seed,
                                       progress=False).fit(train).evaluate(test) for t in TARGETS}  # fmt: skip
            else:
                metrics = model.fit(train).evaluate(test)
            for t in TARGETS:
                results.setdefault(name, {}).setdefault(t, []).append(metrics[t]["auc"])
            print(f"seed {seed} {name}: " + "  ".join(f"{t} AUC {metrics[t]['auc']:.4f}" for t in TARGETS), flush=True)
    lines = [
        "| model | " + " | ".join(f"{t} test AUC" for t in TARGETS) + " |",
        "|---|" + "---:|" * len(TARGETS),
    ]
    for name, per_target in results.items():
        cells = [
            f"{statistics.mean(v):.4f} ± {statistics.stdev(v) if len(v) > 1 else 0.0:.4f}" for v in per_target.values()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", *paired_differences(results)]
    text = "\n".join(lines) + f"\n\n{len(args.seeds)} seeds, {time.perf_counter() - started:.0f} s in all.\n"
    write_atomic(RESULTS / "multitask.md", text)
    per_seed = {"seeds": args.seeds, "test_auc": results}
    write_atomic(RESULTS / "multitask.json", json.dumps(per_seed, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
