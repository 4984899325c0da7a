"""What a report page shows, gathered in one object: :class:`ReportData`; the wording and limits the sections share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from needmap._version import __version__

NO_EVALUATION = f"no evaluation.json in this model directory: train it with needmap {__version__}'s train to get curves"
#: The most bars one bar chart of a section draws (columns with missing values, importance); the rest are left out.
MOST_BARS = 30


@dataclass
class ReportData:
    """What the report page shows; every part but the title may be missing.

    Attributes:
        title: the page's title.
        subtitle: one line under it (the model directory, the data).
        model: facts about the model: ``architecture``, ``task``, ``target``, ``classes``, ... (shown as given).
        task: "binary", "multiclass" or "regression".
        metrics: the model's metrics.json (``validation``, ``test``, ``training``, ``baseline_test``, ``verdict``).
        evaluation: evaluation.json: curves of the deep model and the baselines on the test rows.
        data_evaluation: the same document on the given data: the deep model's curves and metrics, and,
            when the model directory has ``baselines.json``, the saved baselines' metrics, the paired
            bootstrap comparisons and the verdict on those rows (their curves are not drawn).
        target_evaluations: a multi-task model's saved baselines against it on the given data, one
            evaluation document per target (``{target: document}``, :func:`needmap.workflows.evaluate.
            evaluate_with_baselines`); None otherwise.
        data_name: how to name the given data in legends ("holdout.csv").
        profile: the training rows' profile (profile.json).
        drift: the given data's drift against ``profile`` (:func:`needmap.data.profile.drift`).
        importance: permutation importance, ``[{"feature", "drop"}]`` largest first.
        importance_rows: which rows the importance was measured on.
        notes: per section id, the line to show when its data is missing (overrides the default).
    """

    title: str
    subtitle: str = ""
    model: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] | None = None
    data_evaluation: dict[str, Any] | None = None
    target_evaluations: dict[str, dict[str, Any]] | None = None
    data_name: str | None = None
    profile: dict[str, Any] | None = None
    drift: list[dict[str, Any]] | None = None
    importance: list[dict[str, Any]] | None = None
    importance_rows: str | None = None
    notes: dict[str, str] = field(default_factory=dict)


def percent(value: Any) -> str:
    """A share of 1 as a percentage with one decimal ("12.5%"); "–" for None."""
    return "–" if value is None else f"{value * 100:.1f}%"


def verdict_of(data: ReportData) -> str | None:
    """The verdict the summary and baselines sections show: the test rows' evaluation.json's, else
    metrics.json's; None when the model was trained without a baseline."""
    if data.evaluation and data.evaluation.get("verdict"):
        return str(data.evaluation["verdict"])
    return data.metrics.get("verdict")
