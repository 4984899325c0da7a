"""`needmap tune --cv K` against `needmap tune` (one validation split) on UCI Bank Marketing
(bank-additional-full, without `duration`), over several seeds: the test AUC of the model each search chose.

The question (issue 20): a search that picks its best trial on one validation split of ~3,300 rows often
crowns noise; scored by K-fold cross-validation of the training rows, does it choose a model that does
better on rows it never saw? Each seed draws its own stratified 80/20 split (the split of `needmap train
--seed S`); both searches run on the same 80% with the same number of trials and seed, and their chosen
configurations are retrained on it (`run_tune` does) and scored on the same 20%. Beside them: the untuned
LightGBM baseline of the CV search's final training, and LightGBM tuned by the CV search on the same folds
(with as many trials), retrained with its best options on the same training rows (the same validation rows
for early stopping) and scored on the same test rows.

Writes a Markdown table (per seed, then mean and spread over the seeds) to
`benchmarks/results/bank_tune_cv_<date>.md` (or --results) and prints it.

Usage (the full run; the machine should be otherwise idle):
    .venv/bin/python -m benchmarks.bank_tune_cv --seeds 0 1 2 3 4 --trials 30 --cv 5
A check that it runs (minutes):
    .venv/bin/python -m benchmarks.bank_tune_cv --seeds 0 --trials 3 --cv 2 --results /tmp/bank_tune_cv.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

import needmap as nm
from benchmarks.datasets import SHARED_DATA
from needmap.metrics import binary_metrics
from needmap.workflows.baseline import fit_lightgbm
from needmap.workflows.tune import TuneOutcome, run_tune

BANK_FILE = Path("bank_marketing") / "bank-additional-full.csv.gz"
RESULTS = Path(__file__).resolve().parent / "results"
VALIDATION = 0.1


def bank_model(model: str, threads: int | None, epochs: int | None) -> nm.Model:
    """The searched model: every option left to the search but the columns (and --threads / --epochs)."""
    fixed: dict[str, Any] = {"progress": False}
    if threads is not None:
        fixed["threads"] = threads
    if epochs is not None:
        fixed["epochs"] = epochs
    return nm.Model(model, target="y", drop=["duration"], **fixed)


def tuned_lightgbm_test_auc(table: pa.Table, model: nm.Model, outcome: TuneOutcome, seed: int) -> float | None:
    """Test AUC of LightGBM with the CV search's best LightGBM options, trained on the search's training rows
    (early stopping on the validation rows a network fit would keep), encoded as the network's features are."""
    search = outcome.lightgbm
    if search is None or search["best_params"] is None:
        return None
    model = model.clone().set_params(seed=seed)
    schema = model.infer_schema(table)
    clean, _ = model.clean(table, schema)
    train = clean.take(pa.array(outcome.train_index))
    test = clean.take(pa.array(outcome.test_index))
    prepared = model.prepare(train, validation=VALIDATION, schema=schema)
    prep = prepared.preprocessor
    lists = [int(spec["cardinality"]) for spec in getattr(prep, "list_specs_", [])]
    base = fit_lightgbm(
        prepared.x_train, prepared.y_train, "binary", list(prep.cardinalities_), seed=seed, list_cardinalities=lists,
        x_valid=prepared.x_valid, y_valid=prepared.y_valid, params=search["best_params"],
    )  # fmt: skip
    return float(binary_metrics(prep.encode_target(test), base.predict(prep.transform(test)))["auc"])


def _fmt(value: float | None, spread: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if spread is None else f"{value:.4f} ± {spread:.4f}"


def _mean_spread(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "-"
    return f"{statistics.mean(known):.4f} ({statistics.pstdev(known):.4f})"


COLUMNS = (
    ("seed", "seed"),
    ("tune: validation AUC of the best", "plain_valid"),
    ("tune --cv: CV AUC of the best (± over folds)", "cv_mean"),
    ("tune: test AUC", "plain_test"),
    ("tune --cv: test AUC", "cv_test"),
    ("test AUC, --cv minus plain", "gain"),
    ("LightGBM (untuned): test AUC", "lgbm_test"),
    ("LightGBM tuned on the folds: CV AUC (± over folds)", "lgbm_cv"),
    ("LightGBM tuned: test AUC", "lgbm_tuned_test"),
    ("seconds: tune / tune --cv", "seconds"),
    ("scorer chosen: tune / tune --cv", "scorers"),
    ("tune: network test AUC", "plain_net_test"),
    ("tune --cv: network test AUC", "cv_net_test"),
    ("network test AUC, --cv minus plain", "net_gain"),
)
#: The columns averaged over the seeds (the others are per seed only).
AVERAGED = (
    "plain_valid", "cv_mean", "plain_test", "cv_test", "gain", "lgbm_test", "lgbm_cv", "lgbm_tuned_test",
    "plain_net_test", "cv_net_test", "net_gain",
)  # fmt: skip


def network_test_auc(metrics: dict[str, Any]) -> float:
    """The searched network's own test AUC: ``metrics["test"]`` is the chosen scorer's, and when that is not the
    network, train keeps the network's in ``metrics["network_test"]``."""
    return float(metrics.get("network_test", metrics["test"])["auc"])


def chosen_scorer(metrics: dict[str, Any]) -> str:
    """The scorer the final model answers with (the selection's), "network" when train chose none."""
    selection = metrics.get("selection")
    return str(selection["scorer"]) if selection else "network"


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace, command: str) -> str:
    """The report: command, date, machine, one row per seed and the mean (population std) over the seeds."""
    lines = [
        f"# `needmap tune --cv {args.cv}` against `needmap tune` on bank marketing, {len(rows)} seed(s)",
        "",
        f"{datetime.date.today().isoformat()}, {platform.machine()} {platform.processor() or ''}".rstrip()
        + f", {os.cpu_count()} cores, Python {platform.python_version()}, needmap {nm.__version__}.",
        "",
        "```",
        command,
        "```",
        "",
        f"UCI Bank Marketing (bank-additional-full, {rows[0]['rows']:,} rows) without `duration`; model "
        f"{args.model}, {args.trials} trials per search, seed = the split's, the sampler's and the training's. "
        "Test AUC on the 20% of the rows that neither search saw; ± is the standard deviation over the folds. "
        '"test AUC" is the scorer the retrained model answers with (chosen on its validation rows: the network, '
        'a baseline or a blend); "network test AUC" is the searched network\'s own.',
        "",
        "| " + " | ".join(title for title, _ in COLUMNS) + " |",
        "|" + "---:|" * len(COLUMNS),
    ]
    for r in rows:
        cells = {
            "seed": str(r["seed"]),
            "plain_valid": _fmt(r["plain_valid"]),
            "cv_mean": _fmt(r["cv_mean"], r["cv_std"]),
            "plain_test": _fmt(r["plain_test"]),
            "cv_test": _fmt(r["cv_test"]),
            "gain": f"{r['gain']:+.4f}",
            "lgbm_test": _fmt(r["lgbm_test"]),
            "lgbm_cv": _fmt(r["lgbm_cv"], r["lgbm_cv_std"]),
            "lgbm_tuned_test": _fmt(r["lgbm_tuned_test"]),
            "seconds": f"{r['plain_seconds']:.0f} / {r['cv_seconds']:.0f}",
            "scorers": f"{r['plain_scorer']} / {r['cv_scorer']}",
            "plain_net_test": _fmt(r["plain_net_test"]),
            "cv_net_test": _fmt(r["cv_net_test"]),
            "net_gain": f"{r['net_gain']:+.4f}",
        }
        lines.append("| " + " | ".join(cells[key] for _, key in COLUMNS) + " |")
    summary = {key: _mean_spread([r[key] for r in rows]) for key in AVERAGED}
    lines.append("| mean (std over seeds) | " + " | ".join(summary.get(key, "") for _, key in COLUMNS[1:]) + " |")
    lines += ["", "Chosen configurations:", ""]
    for r in rows:
        lines.append(f"- seed {r['seed']}: tune {r['plain_params']}; tune --cv {r['cv_params']}; "
                     f"LightGBM {r['lgbm_params']}")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of every fit (default: needmap's)")
    parser.add_argument("--epochs", type=int, default=None, help="fix the epochs (default: the trainer's)")
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    parser.add_argument("--out", type=Path, default=Path("runs/bank-tune-cv"), help="the studies and models")
    parser.add_argument("--results", type=Path, default=None, help="the Markdown table (default: dated, in results)")
    args = parser.parse_args()
    command = "python -m benchmarks.bank_tune_cv " + " ".join(sys.argv[1:])
    path = args.data_dir / BANK_FILE
    if not path.is_file():
        raise SystemExit(f"{path} does not exist; expected the UCI bank marketing file (--data-dir).")
    table = nm.read(path)
    rows = []
    for seed in args.seeds:
        model = bank_model(args.model, args.threads, args.epochs)
        searches: dict[str, tuple[TuneOutcome, float]] = {}
        for name, cv in (("plain", None), ("cv", args.cv)):
            out = args.out / f"seed-{seed}" / name
            shutil.rmtree(out, ignore_errors=True)
            started = time.perf_counter()
            outcome = run_tune(
                table, model, trials=args.trials, timeout_s=None, out=out, seed=seed, validation=VALIDATION, cv=cv,
                train_options={"n_boot": 200},
            )  # fmt: skip
            searches[name] = (outcome, time.perf_counter() - started)
        (plain, plain_s), (cv, cv_s) = searches["plain"], searches["cv"]
        lgbm = cv.lightgbm or {}
        row = {
            "seed": seed,
            "rows": table.num_rows,
            "plain_valid": plain.best_value,
            "cv_mean": cv.best_value,
            "cv_std": cv.document.get("best_std"),
            "plain_test": plain.train.metrics["test"]["auc"],
            "cv_test": cv.train.metrics["test"]["auc"],
            "lgbm_test": cv.train.metrics["baselines"]["LightGBM"]["auc"],
            "lgbm_cv": lgbm.get("best_value"),
            "lgbm_cv_std": lgbm.get("best_std"),
            "lgbm_tuned_test": tuned_lightgbm_test_auc(table, model, cv, seed),
            "plain_params": plain.best_params,
            "cv_params": cv.best_params,
            "lgbm_params": lgbm.get("best_params"),
            "plain_seconds": plain_s,
            "cv_seconds": cv_s,
        }
        row["gain"] = row["cv_test"] - row["plain_test"]
        row["plain_scorer"], row["cv_scorer"] = chosen_scorer(plain.train.metrics), chosen_scorer(cv.train.metrics)
        row["plain_net_test"] = network_test_auc(plain.train.metrics)
        row["cv_net_test"] = network_test_auc(cv.train.metrics)
        row["net_gain"] = row["cv_net_test"] - row["plain_net_test"]
        rows.append(row)
        print(
            f"seed {seed}: test AUC tune {row['plain_test']:.4f}, tune --cv {row['cv_test']:.4f} "
            f"({row['gain']:+.4f}; {row['plain_scorer']} / {row['cv_scorer']}); network {row['plain_net_test']:.4f} / "
            f"{row['cv_net_test']:.4f} ({row['net_gain']:+.4f}); "
            f"LightGBM untuned {row['lgbm_test']:.4f}, tuned {_fmt(row['lgbm_tuned_test'])}; "
            f"{plain_s:.0f} s / {cv_s:.0f} s",
            flush=True,
        )
    text = markdown(rows, args, command)
    results = args.results or RESULTS / f"bank_tune_cv_{datetime.date.today().isoformat()}.md"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"written to {results}")


if __name__ == "__main__":
    main()
