"""The summary section of a model's report: the model, its data, its held-out metrics beside the baselines'
(a table per target for a multi-task model) and the verdict."""

from __future__ import annotations

from typing import Any

from needmap.report.content import ReportData, verdict_of
from needmap.report.html import Section, facts, note, verdict_box
from needmap.report.metric_tables import columns_table
from needmap.report.text import esc


def summary_section(data: ReportData) -> Section:
    """The model, its data, its held-out metrics beside the baseline's, and the verdict."""
    metrics = data.metrics
    report = metrics.get("report") or {}
    training = metrics.get("training") or {}
    parts = [
        facts(
            [
                *data.model.items(),
                ("training data", report.get("source")),
                ("training rows", report.get("train_rows")),
                ("validation rows", report.get("validation_rows")),
                ("test rows", report.get("test_rows")),
                ("epochs run", training.get("epochs_run")),
                ("best epoch", training.get("best_epoch")),
                ("stopped by", training.get("stopped_reason")),
            ]
        )
    ]
    verdict = verdict_of(data)
    parts.append(verdict_box(verdict) if verdict else note("no verdict: the model was trained without a baseline"))
    task = data.task or "binary"
    test = metrics.get("test")
    if isinstance(test, dict) and test and all(isinstance(v, dict) for v in test.values()):
        for name, values in test.items():  # several targets: one table per target
            columns = {"test": values, **_target_baselines(metrics, name)}
            parts.append(f"<h3>{esc(name)}</h3>")
            parts.append(columns_table(task_of(values), columns))
        return Section("summary", "Summary", "".join(parts))
    columns = {
        "validation": metrics.get("validation"),
        "test": test,
        f"test ({metrics.get('baseline', 'baseline')})": metrics.get("baseline_test"),
    }
    if data.data_evaluation:
        primary = data.data_evaluation.get("primary")
        columns[f"on {data.data_name or 'the data'}"] = (data.data_evaluation.get("models", {}).get(primary) or {}).get(
            "metrics"
        )
    parts.append(columns_table(task, columns))
    return Section("summary", "Summary", "".join(parts))


def _target_baselines(metrics: dict[str, Any], target: str) -> dict[str, Any]:
    """Target ``target``'s test metrics of each baseline of a multi-task model, as ``{"test (name)": metrics}``
    (a model directory written before both baselines were trained per target has only ``baseline_test``)."""
    baselines = metrics.get("baselines")
    if isinstance(baselines, dict):
        return {
            f"test ({name})": per[target] for name, per in baselines.items() if isinstance(per, dict) and target in per
        }
    return {f"test ({metrics.get('baseline', 'baseline')})": (metrics.get("baseline_test") or {}).get(target)}


def task_of(values: dict[str, Any]) -> str:
    """The task whose metrics ``values`` holds (by its keys)."""
    if "rmse" in values:
        return "regression"
    if "macro_auc" in values:
        return "multiclass"
    return "binary"
