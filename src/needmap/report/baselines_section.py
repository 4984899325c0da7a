"""The baselines section of a model's report: the deep model against traditional models on the same rows:
their metrics, the paired intervals (bootstrap, or asymptotic on many rows) and the verdict, on the test rows
(evaluation.json) and, when labelled data is given and the model saved its baselines, on that data too; target
by target."""

from __future__ import annotations

from typing import Any

from needmap.report.content import NO_EVALUATION, ReportData, per_target, target_label, verdict_of
from needmap.report.html import Section, explain, note, verdict_box
from needmap.report.metric_tables import columns_table, comparisons_heading, comparisons_table, models_table
from needmap.report.text import esc, number


def _on_data(data: ReportData, target: str) -> str:
    """The deep model against the saved baselines on the given data, for ``target``: its verdict, metrics and
    intervals; "" unless the given data's evaluation holds baselines."""
    document = data.data_evaluations.get(target)
    if not document or len(document.get("models") or {}) < 2:
        return ""
    name = data.data_name or "the data"
    label = target_label(data, target)
    parts = [f"<h3>{esc(label)} on {esc(name)}</h3>" if label else f"<h3>On {esc(name)}</h3>"]
    if document.get("verdict"):
        parts.append(verdict_box(str(document["verdict"])))
    parts.append(explain(f"the baselines saved with the model (baselines.json), on {document.get('data') or name}"))
    parts.append(models_table(document, data.targets[target]))
    comparisons = document.get("comparisons") or []
    if comparisons:
        parts.append(f"<h3>{esc(comparisons_heading(comparisons, name))}</h3>")
        parts.append(comparisons_table(comparisons))
    return "".join(parts)


def _on_test_rows(data: ReportData, target: str, evaluation: dict[str, Any]) -> str:
    """``target``'s models on the test rows (its evaluation document): metrics, paired intervals, group AUC."""
    label = target_label(data, target)
    parts = [f"<h3>{esc(label)}</h3>"] if label else []
    parts.append(explain(f"on {evaluation.get('data') or 'the test rows'}"))
    parts.append(models_table(evaluation, data.targets[target]))
    comparisons = evaluation.get("comparisons") or []
    if comparisons:
        parts.append(f"<h3>{esc(comparisons_heading(comparisons, 'the test rows'))}</h3>")
        parts.append(comparisons_table(comparisons))
    group = evaluation.get("group_auc")
    if group:
        parts.append(
            explain(
                f"group AUC by {group.get('column')}: {number(group.get('gauc'))} over "
                f"{group.get('groups_used')} groups ({group.get('groups_skipped')} groups with one class left out)"
            )
        )
    return "".join(parts)


def _from_metrics(data: ReportData, target: str) -> str:
    """``target``'s test metrics beside its better baseline's, from metrics.json (no evaluation.json)."""
    test = per_target(data.targets, data.metrics.get("test")).get(target)
    baseline_test = per_target(data.targets, data.metrics.get("baseline_test")).get(target)
    if not isinstance(test, dict) or not isinstance(baseline_test, dict):
        return ""
    best = per_target(data.targets, data.metrics.get("baseline")).get(target, "baseline")
    label = target_label(data, target)
    heading = f"<h3>{esc(label)}</h3>" if label else ""
    return heading + columns_table(data.targets[target] or "binary", {"deep model": test, best: baseline_test})


def baselines_section(data: ReportData) -> Section:
    """The deep model against traditional models on the same rows: metrics, paired intervals, verdict; on the
    test rows (evaluation.json) and, when given data and the model saved its baselines, on that data too."""
    parts = []
    verdict = verdict_of(data)
    parts.append(verdict_box(verdict) if verdict else note("no verdict: the model was trained without a baseline"))
    tested = {t: doc for t, doc in data.evaluations.items() if doc.get("models")}
    if tested:
        parts.extend(_on_test_rows(data, target, evaluation) for target, evaluation in tested.items())
    else:
        tables = "".join(_from_metrics(data, target) for target in data.targets)
        if tables:
            parts.append(note(NO_EVALUATION + "; the test metrics from metrics.json:"))
            parts.append(tables)
        else:
            parts.append(note("no baseline in this model directory: train it with a baseline to compare"))
    parts.extend(_on_data(data, target) for target in data.targets)
    return Section("baselines", "Against traditional models", "".join(parts))
