"""What a report page shows, gathered in one object: :class:`ReportData`; the wording and limits the sections share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
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
        task: the first target's task, "binary", "multiclass" or "regression".
        targets: the model's targets in output order, each with its task (``{target: task}``).
        metrics: the model's metrics.json (``validation``, ``test``, ``training``, ``baseline_test``, ``verdict``;
            each by target for a model of several targets: read them with :func:`per_target`).
        evaluations: per target, its evaluation document on the test rows (evaluation.json): curves of the deep
            model and the baselines.
        data_evaluations: per target, the same document on the given data: the deep model's curves and metrics,
            and, when the model directory has ``baselines.json``, the saved baselines' metrics, the paired
            bootstrap comparisons and the verdict on those rows (their curves are not drawn).
        data_name: how to name the given data in legends ("holdout.csv").
        profile: the training rows' profile (profile.json).
        drift: the given data's drift against ``profile`` (:func:`needmap.data.profile.drift`).
        importance: per binary target, its permutation importance, ``[{"feature", "drop"}]`` largest first.
        importance_rows: which rows the importance was measured on.
        reasons: the reasons of the given data's top-scored rows: ``[{"label", "score", "reasons": [{"effect",
            "reason"}]}]`` (:mod:`needmap.explain.reasons`).
        attribution: the mean absolute attribution of each input column over a sample of the given data,
            ``[{"feature", "value"}]`` largest first; ``attribution_rows`` says which rows.
        dependence: partial dependence of the numeric columns of largest attribution, ``[{"column", "values",
            "pd", "p10", "p90"}]`` (p10, p90: the 10th and 90th percentile of the ICE curves at each value).
        notes: per section id, the line to show when its data is missing (overrides the default).
    """

    title: str
    subtitle: str = ""
    model: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    targets: dict[str, str | None] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_name: str | None = None
    profile: dict[str, Any] | None = None
    drift: list[dict[str, Any]] | None = None
    importance: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    importance_rows: str | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    attribution: list[dict[str, Any]] = field(default_factory=list)
    attribution_rows: str | None = None
    dependence: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)


def percent(value: Any) -> str:
    """A share of 1 as a percentage with one decimal ("12.5%"); "–" for None."""
    return "–" if value is None else f"{value * 100:.1f}%"


def file_name(source: str | None) -> str | None:
    """How the page names a file: its name alone ("bank.csv"), not the folders it was read from (an install
    path, a home directory mean nothing to the reader and need not be shared); None stays None."""
    return PurePath(source).name or source if source else source


def named_files(text: str | None, source: str | None) -> str | None:
    """``text`` (such as "training rows of /home/ana/data/bank.csv") with the path ``source`` in it written
    as :func:`file_name`'s name."""
    if not text or not source or source not in text:
        return text
    return text.replace(source, file_name(source) or source)


def per_target(targets: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """An entry of metrics.json or evaluation.json as ``{target: value}``: a model of one target writes its
    target's value as it is, a model of several ``{target: value}`` (an entry of another form gives {})."""
    names = list(targets)
    if value is None or not names:
        return {}
    if len(names) == 1:
        return {names[0]: value}
    return {t: v for t, v in value.items() if t in targets} if isinstance(value, Mapping) else {}


def target_label(data: ReportData, target: str) -> str:
    """How a section names a target's part: "" for a model of one target, the target's name among several."""
    return "" if len(data.targets) < 2 else target


def verdict_of(data: ReportData) -> str | None:
    """The verdict the summary and baselines sections show: the test rows' evaluation.json's (each target's
    after its name when there are several) when every target has one, else metrics.json's; None when trained
    without a baseline."""
    verdicts = {t: (data.evaluations.get(t) or {}).get("verdict") for t in data.targets}
    if verdicts and all(verdicts.values()):
        return " ".join(f"{label}: {v}" if (label := target_label(data, t)) else str(v) for t, v in verdicts.items())
    return data.metrics.get("verdict")
