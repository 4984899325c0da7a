"""The baselines section of a model's report: the deep model against traditional models on the same rows:
their metrics, the paired bootstrap intervals and the verdict, on the test rows (evaluation.json) and, when
labelled data is given and the model saved its baselines, on that data too (per target for a multi-task model)."""

from __future__ import annotations

from typing import Any

from needmap.report.content import NO_EVALUATION, ReportData, verdict_of
from needmap.report.html import Section, explain, note, verdict_box
from needmap.report.metric_tables import columns_table, comparisons_table, models_table
from needmap.report.text import esc, number


def _on_data(data: ReportData) -> str:
    """The deep model against the saved baselines on the given data: its verdict, metrics and intervals
    (per target for a multi-task model); "" unless the given data's evaluation holds baselines."""
    if data.target_evaluations:
        per_target = data.target_evaluations.items()
        return "".join(_on_data_document(data, document, target) for target, document in per_target)
    return _on_data_document(data, data.data_evaluation)


def _on_data_document(data: ReportData, document: dict[str, Any] | None, target: str | None = None) -> str:
    """:func:`_on_data` of one evaluation document (of ``target``, for a multi-task model)."""
    if not document or len(document.get("models") or {}) < 2:
        return ""
    name = data.data_name or "the data"
    parts = [f"<h3>{esc(target)} on {esc(name)}</h3>" if target else f"<h3>On {esc(name)}</h3>"]
    if document.get("verdict"):
        parts.append(verdict_box(str(document["verdict"])))
    parts.append(explain(f"the baselines saved with the model (baselines.json), on {document.get('data') or name}"))
    parts.append(models_table(document, data.task))
    comparisons = document.get("comparisons") or []
    if comparisons:
        parts.append(f"<h3>Paired bootstrap over {esc(name)}</h3>")
        parts.append(comparisons_table(comparisons))
    return "".join(parts)


def baselines_section(data: ReportData) -> Section:
    """The deep model against traditional models on the same rows: metrics, paired intervals, verdict; on the
    test rows (evaluation.json) and, when given data and the model saved its baselines, on that data too."""
    parts = []
    verdict = verdict_of(data)
    parts.append(verdict_box(verdict) if verdict else note("no verdict: the model was trained without a baseline"))
    evaluation = data.evaluation
    if evaluation and evaluation.get("models"):
        parts.append(explain(f"on {evaluation.get('data') or 'the test rows'}"))
        parts.append(models_table(evaluation, data.task))
        comparisons = evaluation.get("comparisons") or []
        if comparisons:
            parts.append("<h3>Paired bootstrap over the test rows</h3>")
            parts.append(comparisons_table(comparisons))
        group = evaluation.get("group_auc")
        if group:
            parts.append(
                explain(
                    f"group AUC by {group.get('column')}: {number(group.get('gauc'))} over "
                    f"{group.get('groups_used')} groups ({group.get('groups_skipped')} groups with one class left out)"
                )
            )
    else:
        metrics = data.metrics
        if isinstance(metrics.get("baseline_test"), dict) and metrics.get("test"):
            parts.append(note(NO_EVALUATION + "; the test metrics from metrics.json:"))
            columns = {"deep model": metrics["test"], metrics.get("baseline", "baseline"): metrics["baseline_test"]}
            task = data.task or "binary"
            if all(isinstance(v, dict) for v in metrics["test"].values()):  # several targets: tables by target
                parts.append(_on_data(data))
                return Section("baselines", "Against traditional models", "".join(parts))
            parts.append(columns_table(task, columns))
        else:
            parts.append(note("no baseline in this model directory: train it with a baseline to compare"))
    parts.append(_on_data(data))
    return Section("baselines", "Against traditional models", "".join(parts))
