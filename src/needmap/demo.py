"""The main job (``needmap demo``, ``make demo``): the whole path on the bundled bank data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console

from needmap.data.read import read
from needmap.datasets import bank_marketing_path
from needmap.display import metrics_table, schema_table
from needmap.estimator import Model
from needmap.preprocessing.describe import describe_schema
from needmap.report.build import build_report
from needmap.workflows.predict import predict_to_file
from needmap.workflows.train import run_train


def _preprocessing_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    prep = report.get("preprocessing") or {}
    if "duplicate_rows" in prep:
        lines.append(f"duplicate rows in the training part (counted, kept): {prep['duplicate_rows']}")
    for name, col in (prep.get("columns") or {}).items():
        parts = [f"{k}={v}" for k, v in col.items() if isinstance(v, int | float) and v and k != "vocabulary_size"]
        if col.get("scaling") not in (None, "standard"):
            parts.append(f"scaling={col['scaling']}")  # 'auto' chose it (or it was asked for)
        field = col.get("value_field")
        if isinstance(field, dict) and field.get("used", True):
            parts.append(f"value field of {field['values']} values")  # levels or codes: an embedding each
        zero = col.get("zero_flag")
        if isinstance(zero, dict):
            parts.append(f"zero flag ({zero['zero_share']:.0%} zeros)")  # a 0/1 'is zero' column beside it
        if parts:
            lines.append(f"{name}: {', '.join(parts)}")
    return lines


def run_demo(*, out: Path, seed: int = 0, epochs: int | None, quiet: bool, console: Console) -> dict[str, Any]:
    """Train the MLP beside logistic regression and LightGBM on UCI Bank Marketing (without ``duration``),
    score the held-out customers, write the HTML report, print everything and return the metrics."""
    started = time.perf_counter()
    source = bank_marketing_path()
    console.rule("needmap demo: who will subscribe a term deposit?")
    console.print(
        "Data: UCI Bank Marketing (bank-additional-full), Moro, Cortez and Rita 2014, CC BY 4.0; "
        "shipped with needmap. The column 'duration' is dropped: it is known only after the call."
    )
    table = read(source)
    table = table.append_column("customer", pa.array(range(2, table.num_rows + 2), type=pa.int64()))
    model_options: dict[str, Any] = {"seed": seed, "progress": not quiet}
    if epochs is not None:
        model_options["epochs"] = epochs
    model = Model("mlp", target="y", drop=["duration"], id=["customer"], **model_options)
    schema = model.infer_schema(table)
    console.print(schema_table(describe_schema(schema, table), title=f"Schema: {table.num_rows} rows"))
    outcome = run_train(table, model, out=out / "model", test_size=0.2, split="stratified", validation=0.1)
    for line in _preprocessing_lines(outcome.model.report_):
        console.print(f"  preprocessing: {line}")
    metrics = outcome.metrics
    baselines = metrics.get("baselines") or {}
    network = metrics.get("network_test") or metrics["test"]
    chosen = (metrics.get("selection") or {}).get("scorer", "network")
    columns = {"MLP network (test)": network, **{f"{name} (test)": m for name, m in baselines.items()}}
    if chosen == "blend":
        columns["blend (test)"] = metrics["test"]
    console.print(
        metrics_table("binary", columns, title="The same 20% test split (8,238 customers never seen in training)")
    )
    assert outcome.test_table is not None
    scores_path, scores = predict_to_file(outcome.model, outcome.test_table, out / "test_scores.csv")
    report_path = build_report(outcome.out, out=out / "report.html", title="needmap demo: bank marketing",
                               explain=outcome.test_table)  # fmt: skip
    console.rule("summary")
    console.print(f"MLP network test AUC: {network['auc']:.4f}")
    for name, m in baselines.items():
        console.print(f"{name} test AUC: {m['auc']:.4f}")
    console.print(
        f"the model answers with: {chosen} (test AUC {metrics['test']['auc']:.4f}), chosen on the validation rows"
    )
    console.print(f"verdict: {metrics['verdict']}", soft_wrap=True, markup=False)
    console.print(f"model directory: {outcome.out} (card.md, metrics.json, weights.safetensors)")
    console.print(f"scores of the {scores.num_rows} held-out customers: {scores_path}")
    console.print(f"report (open it in a browser): {report_path}")
    console.print(f"whole demo: {time.perf_counter() - started:.1f} s")
    return metrics
