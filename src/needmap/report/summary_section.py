"""The summary section of a model's report: the model, its data, its held-out metrics beside the baselines'
(a table per target for a model of several targets) and the verdict."""

from __future__ import annotations

from typing import Any

from needmap.report.content import ReportData, file_name, per_target, target_label, verdict_of
from needmap.report.html import Section, facts, note, verdict_box
from needmap.report.metric_tables import columns_table
from needmap.report.text import esc


def _count(value: Any) -> str | None:
    """A count of rows with thousands separators ("1,440"); None stays None (the fact is left out)."""
    return f"{value:,}" if isinstance(value, int) else value


def summary_section(data: ReportData) -> Section:
    """The model, its data, its held-out metrics beside the baseline's, and the verdict."""
    metrics = data.metrics
    report = metrics.get("report") or {}
    training = metrics.get("training") or {}
    parts = [
        facts(
            [
                *data.model.items(),
                ("training data", file_name(report.get("source"))),
                ("training rows", _count(report.get("train_rows"))),
                ("validation rows", _count(report.get("validation_rows"))),
                ("test rows", _count(report.get("test_rows"))),
                ("epochs run", training.get("epochs_run")),
                ("best epoch", training.get("best_epoch")),
                ("stopped by", training.get("stopped_reason")),
            ]
        )
    ]
    verdict = verdict_of(data)
    parts.append(verdict_box(verdict) if verdict else note("no verdict: the model was trained without a baseline"))
    validation = per_target(data.targets, metrics.get("validation"))
    test = per_target(data.targets, metrics.get("test"))
    best = per_target(data.targets, metrics.get("baseline"))
    baseline_test = per_target(data.targets, metrics.get("baseline_test"))
    for target, task in data.targets.items():
        columns = {
            "validation": validation.get(target),
            "test": test.get(target),
            f"test ({best.get(target, 'baseline')})": baseline_test.get(target),
        }
        document = data.data_evaluations.get(target)
        if document:
            primary = document.get("primary")
            columns[f"on {data.data_name or 'the data'}"] = (document.get("models", {}).get(primary) or {}).get(
                "metrics"
            )
        label = target_label(data, target)
        if label:
            parts.append(f"<h3>{esc(label)}</h3>")
        parts.append(columns_table(task or "binary", columns))
    return Section("summary", "Summary", "".join(parts))
