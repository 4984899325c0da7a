"""From a behaviour log to next-purchase propensity and lifetime value, as a user runs it, beside the baselines.

For each dataset the log becomes a feature table with ``needmap features`` (one row per customer and cutoff,
labels from the horizon after each cutoff), then ``needmap train`` fits, on the same table:

* next-purchase propensity: ``--target label_bought`` (the network beside logistic regression and LightGBM;
  the test rows are the latest cutoff's, the earlier cutoffs train);
* lifetime value: ``--target label_spend --task ltv`` (the spend scored by the zero-inflated log-normal
  network, LightGBM or their blend, chosen on the validation cutoff, beside each of them and BG/NBD +
  Gamma-Gamma fitted on the same cutoffs), where the log has money.

Each command runs in a fresh process, as a user would run it; its wall time and peak memory (the child's
maximum resident set, from ``wait4``) are measured, the figures come from the model directory's metrics.json
and evaluation.json. On the generated log the truth is known: the true probability of buying and the true
expected spend of each test customer (from the generator's latent traits) are scored with the same metrics,
the ceiling beside each model.

Datasets (logs from ``../shared/data`` and the package's generator):

* retail: UCI Online Retail (541,909 invoice lines, 2010-12-01..2011-12-09); customer ``CustomerID``, time
  ``InvoiceDate``, item ``StockCode``, order ``InvoiceNo``, amount ``Quantity * UnitPrice``; cutoffs the first
  of each month 2011-01..2011-09, horizon 90 days.
* movielens: MovieLens 100K ratings taken as events (``u.data``: user, item, rating, time); the label is any
  rating in the 30 days after the cutoff (next-month activity); cutoffs the first of each month 1997-10..1998-03.
* generated: ``needmap.events.generate`` (``--customers``, seed 0, 730 days from 2020-01-01); views, carts,
  purchases and returns; cutoffs the first of each month 2021-01..2021-09, horizon 90 days.

``--memory-events N`` adds the out-of-core case: a generated log of about N events written to Parquet and
turned into features at 6 monthly cutoffs, its time and peak memory reported.

Usage (on an otherwise idle machine; the times depend on it, the accuracies do not):

    .venv/bin/python -m benchmarks.bench_events --datasets retail,movielens,generated \\
        --memory-events 20000000 --out benchmarks/results/events_YYYY-MM-DD.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def _months(first: str, last: str) -> list[str]:
    """The first day of each month from ``first`` to ``last`` (ISO dates), both included."""
    start, end = np.datetime64(first[:7], "M"), np.datetime64(last[:7], "M")
    return [f"{m}-01" for m in np.arange(start, end + 1)]


def _setup(name: str, work: Path, data: Path, customers: int) -> dict[str, Any]:
    """The log file of a dataset and the options of its ``needmap features`` command."""
    if name == "retail":
        return {
            "log": data / "online_retail" / "online_retail.parquet",
            "options": [
                "--customer",
                "CustomerID",
                "--time",
                "InvoiceDate",
                "--item",
                "StockCode",
                "--order",
                "InvoiceNo",
                "--amount",
                "Quantity * UnitPrice",
                "--horizon",
                "90d",
            ],
            "as_of": _months("2011-01", "2011-09"),
            "money": True,
        }
    if name == "movielens":
        path = work / "movielens100k_events.parquet"
        if not path.exists():
            table = pacsv.read_csv(
                data / "movielens_100k" / "u.data",
                read_options=pacsv.ReadOptions(column_names=["user_id", "item_id", "rating", "timestamp"]),
                parse_options=pacsv.ParseOptions(delimiter="\t"),
            )
            pq.write_table(table, path)
        return {
            "log": path,
            "options": ["--customer", "user_id", "--time", "timestamp", "--item", "item_id", "--horizon", "30d"],
            "as_of": _months("1997-10", "1998-03"),
            "money": False,
        }
    if name == "generated":
        from needmap.events.generate import write_purchase_log

        path, latent = work / f"generated_{customers}.parquet", work / f"generated_{customers}_latent.parquet"
        written = write_purchase_log(path, customers=customers, seed=0, latent_path=latent)
        return {
            "log": path,
            "options": [
                "--customer",
                "customer_id",
                "--time",
                "time",
                "--item",
                "item_id",
                "--event",
                "event",
                "--purchase-events",
                "purchase",
                "--category",
                "category",
                "--amount",
                "quantity * unit_price",
                "--horizon",
                "90d",
            ],
            "as_of": _months("2021-01", "2021-09"),
            "money": True,
            "written": written,
        }
    raise SystemExit(f"unknown dataset {name!r}; expected retail, movielens or generated")


def run(command: list[str]) -> dict[str, Any]:
    """Run ``command`` in a child process; its wall time, peak resident memory (MB) and output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{shlex.join(command)} failed:\n{text[-3000:]}")
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "output": text}


def _needmap(*args: str) -> list[str]:
    return [sys.executable, "-m", "needmap", *args]


def _comparison(evaluation: dict[str, Any], baseline: str) -> list[float] | None:
    found = next((c for c in evaluation.get("comparisons") or [] if c["baseline"] == baseline), None)
    return None if found is None else [found["difference"], found["low"], found["high"]]


def propensity(features: Path, work: Path, seed: int) -> dict[str, Any]:
    """``needmap train FEATURES --target label_bought``: the chosen scorer, the network and the baselines."""
    out = work / "bought"
    args = ["train", str(features), "--target", "label_bought", "--seed", str(seed), "--quiet", "--out", str(out)]
    done = run(_needmap(*args))
    metrics = json.loads((out / "metrics.json").read_text())
    evaluation = json.loads((out / "evaluation.json").read_text())
    return {
        "command": shlex.join(["needmap", *args[:-3], "--out", "m"]),
        "seconds": done["seconds"],
        "peak_mb": done["peak_mb"],
        "scorer": metrics["selection"]["scorer"],
        "chosen": metrics["test"]["auc"],
        "network": (metrics.get("network_test") or metrics["test"])["auc"],
        "logistic": metrics["baselines"]["logistic regression"]["auc"],
        "lightgbm": metrics["baselines"]["LightGBM"]["auc"],
        "vs_lightgbm": _comparison(evaluation, "LightGBM"),
        "vs_logistic": _comparison(evaluation, "logistic regression"),
        "test_rows": metrics.get("rows", {}).get("test"),
        "verdict": evaluation.get("verdict") or metrics.get("verdict"),
    }


def lifetime_value(features: Path, work: Path, seed: int) -> dict[str, Any]:
    """``needmap train FEATURES --target label_spend --task ltv``: spend ranking of the network and baselines."""
    out = work / "spend"
    args = [
        "train",
        str(features),
        "--target",
        "label_spend",
        "--task",
        "ltv",
        "--seed",
        str(seed),
        "--quiet",
        "--out",
        str(out),
    ]
    done = run(_needmap(*args))
    metrics = json.loads((out / "metrics.json").read_text())
    evaluation = json.loads((out / "evaluation.json").read_text())
    scorer = metrics.get("selection", {}).get("scorer", "network")
    models = {f"chosen: {scorer}": metrics["test"], "network": metrics.get("network_test") or metrics["test"]}
    models.update(metrics.get("baselines", {}))
    return {
        "command": shlex.join(["needmap", *args[:-3], "--out", "m"]),
        "seconds": done["seconds"],
        "peak_mb": done["peak_mb"],
        "scorer": scorer,
        "models": {
            name: {k: m.get(k) for k in ("normalized_gini", "spearman", "decile_mape", "aggregate_error", "auc")}
            for name, m in models.items()
            if isinstance(m, dict)
        },
        "comparisons": evaluation.get("comparisons") or [],
        "verdict": evaluation.get("verdict") or metrics.get("verdict"),
    }


def truth_scores(setup: dict[str, Any], features: Path) -> dict[str, float]:
    """The generated log's truth on the test rows (the latest cutoff): the scores of a model that knew it."""
    from needmap.metrics import binary_metrics
    from needmap.metrics.ltv import ltv_metrics

    table = pq.read_table(features)
    last = pc.max(table.column("cutoff")).as_py()
    test = table.filter(pc.equal(table.column("cutoff"), pa.scalar(last, table.schema.field("cutoff").type)))
    truth = setup["written"].truth(last, 90)
    where = {c: i for i, c in enumerate(truth.column("customer_id").to_pylist())}
    found = [where.get(c) for c in test.column("customer_id").to_pylist()]
    known = np.array([i is not None for i in found])
    rows = np.array([i for i in found if i is not None], dtype=np.int64)
    p = truth.column("true_prob_buy").to_numpy()[rows]
    spend = truth.column("true_expected_spend").to_numpy()[rows]
    y = test.column("label_bought").to_numpy()[known]
    y_spend = test.column("label_spend").to_numpy()[known]
    value = ltv_metrics(y_spend, spend)
    return {
        "rows": int(known.sum()),
        "of": test.num_rows,
        "auc": float(binary_metrics(y, p)["auc"]),
        "normalized_gini": float(value["normalized_gini"]),
        "spearman": float(value["spearman"]),
    }


def one_dataset(name: str, work: Path, data: Path, seed: int, customers: int) -> dict[str, Any]:
    setup = _setup(name, work, data, customers)
    features = work / f"{name}_features.parquet"
    as_of = [a for day in setup["as_of"] for a in ("--as-of", day)]
    args = ["features", str(setup["log"]), *setup["options"], *as_of, "--out", str(features)]
    built = run(_needmap(*args))
    table = pq.read_table(features, columns=["cutoff", "label_bought"])
    result: dict[str, Any] = {
        "dataset": name,
        "features": {
            "command": shlex.join(["needmap", *args[:-1], f"{name}_features.parquet"]),
            "seconds": built["seconds"],
            "peak_mb": built["peak_mb"],
            "rows": table.num_rows,
            "cutoffs": len(setup["as_of"]),
            "summary": built["output"].strip().splitlines()[-4:],
        },
    }
    (work / name).mkdir(exist_ok=True)
    result["propensity"] = propensity(features, work / name, seed)
    if setup["money"]:
        result["ltv"] = lifetime_value(features, work / name, seed)
    if name == "generated":
        result["truth"] = truth_scores(setup, features)
    return result


def memory_case(events: int, work: Path) -> dict[str, Any]:
    """A generated log of about ``events`` events, written to Parquet, turned into features at 6 cutoffs."""
    from needmap.events.generate import write_purchase_log

    customers = max(1000, events // 49)  # the generator's default customer makes about 49 events
    path = work / f"memory_{events}.parquet"
    started = time.perf_counter()
    write_purchase_log(path, customers=customers, seed=1)
    written_s = time.perf_counter() - started
    n_events = pq.ParquetFile(path).metadata.num_rows
    out = work / "memory_features.parquet"
    as_of = [a for day in _months("2021-04", "2021-09") for a in ("--as-of", day)]
    args = [
        "features",
        str(path),
        "--customer",
        "customer_id",
        "--time",
        "time",
        "--item",
        "item_id",
        "--event",
        "event",
        "--purchase-events",
        "purchase",
        "--category",
        "category",
        "--amount",
        "quantity * unit_price",
        *as_of,
        "--out",
        str(out),
    ]
    done = run(_needmap(*args))
    return {
        "events": n_events,
        "customers": customers,
        "log_mb": path.stat().st_size / 1e6,
        "generate_s": written_s,
        "command": shlex.join(["needmap", *args[:-1], "features.parquet"]),
        "seconds": done["seconds"],
        "peak_mb": done["peak_mb"],
        "rows": pq.ParquetFile(out).metadata.num_rows,
    }


def _interval(values: list[float] | None) -> str:
    return "-" if values is None else f"{values[0]:+.4f} [{values[1]:+.4f}, {values[2]:+.4f}]"


def _num(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(results: list[dict[str, Any]], memory: dict[str, Any] | None) -> str:
    """The Markdown tables: features, propensity, lifetime value, truth, memory."""
    lines = ["### Features", "", "| dataset | cutoffs | rows | s | peak MB |", "|---|---:|---:|---:|---:|"]
    for r in results:
        f = r["features"]
        lines.append(f"| {r['dataset']} | {f['cutoffs']} | {f['rows']:,} | {f['seconds']:.1f} | {f['peak_mb']:,.0f} |")
    lines += [
        "",
        "### Next-purchase propensity (test AUC on the latest cutoff)",
        "",
        "| dataset | chosen | network | logistic | LightGBM | chosen - LightGBM [95%] | chosen - logistic [95%] | s |",
        "|---|---|---:|---:|---:|---|---|---:|",
    ]
    for r in results:
        p = r["propensity"]
        lines.append(
            f"| {r['dataset']} | {p['scorer']} {p['chosen']:.4f} | {p['network']:.4f} | {p['logistic']:.4f} | "
            f"{p['lightgbm']:.4f} | {_interval(p['vs_lightgbm'])} | {_interval(p['vs_logistic'])} | "
            f"{p['seconds']:.0f} |"
        )
    lines += [
        "",
        "### Lifetime value (spend in the horizon, test rows of the latest cutoff)",
        "",
        "| dataset | model | normalized Gini | Spearman | decile MAPE | aggregate error |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        for model, m in (r.get("ltv") or {}).get("models", {}).items():
            lines.append(
                f"| {r['dataset']} | {model} | {_num(m['normalized_gini'])} | {_num(m['spearman'])} | "
                f"{_num(m['decile_mape'], 3)} | {_num(m['aggregate_error'], 3)} |"
            )
    lines += [
        "",
        "The chosen scorer minus each other model on the same test rows (paired bootstrap, 95%):",
        "",
        "| dataset | other model | normalized Gini | Spearman |",
        "|---|---|---|---|",
    ]
    for r in results:
        comparisons = (r.get("ltv") or {}).get("comparisons") or []
        for baseline in dict.fromkeys(c["baseline"] for c in comparisons):
            found = {c["metric"]: c for c in comparisons if c["baseline"] == baseline}
            cells = [
                _interval(None if c is None or c["low"] is None else [c["difference"], c["low"], c["high"]])
                for c in (found.get("normalized_gini"), found.get("spearman"))
            ]
            lines.append(f"| {r['dataset']} | {baseline} | {cells[0]} | {cells[1]} |")
    truths = [r for r in results if "truth" in r]
    if truths:
        lines += [
            "",
            "### The truth on the generated log (a model that knew each customer's latent traits)",
            "",
            "| test rows with a truth | AUC | normalized Gini | Spearman |",
            "|---|---:|---:|---:|",
        ]
        for r in truths:
            t = r["truth"]
            lines.append(
                f"| {t['rows']:,} of {t['of']:,} | {t['auc']:.4f} | {t['normalized_gini']:.4f} | {t['spearman']:.4f} |"
            )
    if memory:
        lines += [
            "",
            "### Out of core",
            "",
            "| events | log MB | cutoffs | rows | s | peak MB |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {memory['events']:,} | {memory['log_mb']:.0f} | 6 | {memory['rows']:,} | "
            f"{memory['seconds']:.1f} | {memory['peak_mb']:,.0f} |",
        ]
    lines += ["", "Verdicts:", ""]
    for r in results:
        for part in ("propensity", "ltv"):
            if r.get(part, {}).get("verdict"):
                lines.append(f"- {r['dataset']}, {part}: {r[part]['verdict']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="retail,movielens,generated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--customers", type=int, default=5000, help="customers of the generated log")
    parser.add_argument("--memory-events", type=int, default=0, help="events of the out-of-core case (0: none)")
    parser.add_argument("--data-dir", type=Path, default=SHARED)
    parser.add_argument("--work", type=Path, default=None, help="folder for the logs, tables and models")
    parser.add_argument("--out", type=Path, default=None, help="Markdown file for the tables (and .json beside)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        results = []
        for name in args.datasets.split(","):
            if name:
                results.append(one_dataset(name, work, args.data_dir, args.seed, args.customers))
                print(json.dumps(results[-1], default=str)[:3000], flush=True)
        memory = memory_case(args.memory_events, work) if args.memory_events else None
        text = table(results, memory)
        print(text)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text + "\n")
            args.out.with_suffix(".json").write_text(
                json.dumps({"results": results, "memory": memory}, indent=1, default=str)
            )


if __name__ == "__main__":
    main()
