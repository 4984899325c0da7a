"""How much the held-out rows can tell: warnings that keep a verdict from saying more than its rows hold.

A verdict ranks models by their test figures; two things make that ranking empty, and training says so in a
note (``TrainOutcome.notes``, printed by ``needmap train``) and in ``metrics["evidence"]``:

Few rows of a class (:func:`class_evidence`). An AUC rests on the rarer class: with 44 positives among 5,000
rows it is known only to about ±0.09. The rule: warn when the 95% interval of an AUC of 0.5 on these counts,
by Hanley and McNeil's standard error, is wider than ±:data:`MAX_HALF_WIDTH` (0.05, larger than the gaps
between models that usually decide a verdict). With many rows of the other class that is fewer than
:data:`FEW_RARER` (129) rows of the rarer class; with fewer of the other class, more. The rule reads the
counts alone, so the same rows get the same warning whatever the models scored; it applies to a binary
target's test and validation rows and to the rarest class of a multiclass target (that class against the
others). A regression target's test rows are few when the paired bootstrap interval of a model's R² (below)
is wider than ±0.05: heavy-tailed amounts such as spend can need many thousands of rows for that.

No signal (:func:`binary_signal`, :func:`regression_signal`). A model predicts better than the trivial
predictor only when the interval of its test figure excludes the trivial one's: for a binary target the
DeLong interval of its AUC (from the placement values of the rows; no resampling, no assumption on the
scores' distribution) must lie above 0.5, the AUC of a constant such as the base rate; for a regression
target the paired bootstrap interval of its R² against the mean of the training rows
(``1 - SSE(model) / SSE(training mean)`` on the same resampled rows) must lie above 0. A multiclass target
is not checked for signal.

Everything here is a pure function of labels, scores and counts returning JSON-safe values (Python floats,
ints, bools, None), except :func:`record_evidence`, which reads the validation rows of a fitted model and
turns the evidence into notes for :func:`needmap.workflows.train.run_train`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.metrics.delong import placements
from needmap.preprocessing.target import target_names

#: Coverage of every interval here.
LEVEL = 0.95
#: The normal quantile of :data:`LEVEL` (1.96).
Z = NormalDist().inv_cdf(0.5 + LEVEL / 2)
#: Half-width of the 95% interval of a figure (an AUC, an R²) above which the rows are called few.
MAX_HALF_WIDTH = 0.05
#: Rows of the rarer class below which :data:`MAX_HALF_WIDTH` is exceeded when the other class is plentiful:
#: Hanley-McNeil at AUC 0.5 is ``sqrt((n1 + n0 + 1) / (12 n1 n0))``, about ``1 / sqrt(12 n1)`` for large n0.
FEW_RARER = math.ceil(Z**2 / (12 * MAX_HALF_WIDTH**2))
#: Bytes of resampled row positions drawn at a time by the regression bootstrap.
CHUNK_BYTES = 2**24


def auc_half_width(n_pos: int, n_neg: int, auc: float = 0.5, level: float = LEVEL) -> float | None:
    """Half-width of the normal ``level`` interval of an AUC on ``n_pos`` positives and ``n_neg`` negatives by
    Hanley and McNeil's standard error (Radiology 1982)::

        Q1 = A / (2 - A),  Q2 = 2 A² / (1 + A)
        SE² = (A (1 - A) + (n_pos - 1)(Q1 - A²) + (n_neg - 1)(Q2 - A²)) / (n_pos n_neg)

    At A = 0.5 this is the exact null variance of the Mann-Whitney statistic, ``(n_pos + n_neg + 1) /
    (12 n_pos n_neg)``. None when a class has no row (no AUC)."""
    if n_pos < 1 or n_neg < 1:
        return None
    a = float(auc)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    variance = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return float(NormalDist().inv_cdf(0.5 + level / 2) * math.sqrt(max(variance, 0.0)))


def delong_interval(y: np.ndarray, scores: np.ndarray, level: float = LEVEL) -> dict[str, Any]:
    """The AUC of ``scores`` for binary labels ``y`` with DeLong's standard error and its normal interval.

    DeLong, DeLong and Clarke-Pearson (Biometrics 1988): each positive's placement value is the share of the
    negatives it outranks (ties count 1/2), each negative's the share of positives that outrank it; the AUC is
    the mean placement of the positives and its variance ``var(V_pos) / n_pos + var(V_neg) / n_neg``.

    Returns ``{"auc", "se", "low", "high"}`` (the interval clipped to [0, 1]); ``se``, ``low`` and ``high``
    are None with fewer than 2 rows of a class, and everything is None with none.
    """
    labels = np.asarray(y).astype(np.int64)
    s = np.asarray(scores, dtype=np.float64)
    positive = labels == 1
    m, n = int(positive.sum()), int((~positive).sum())
    if m == 0 or n == 0:
        return {"auc": None, "se": None, "low": None, "high": None}
    v_pos, v_neg = placements(positive, s)
    auc = float(v_pos.mean())
    if m < 2 or n < 2:
        return {"auc": auc, "se": None, "low": None, "high": None}
    se = math.sqrt(float(v_pos.var(ddof=1)) / m + float(v_neg.var(ddof=1)) / n)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return {"auc": auc, "se": se, "low": max(0.0, auc - z * se), "high": min(1.0, auc + z * se)}


def r2_intervals(
    y: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    mean: float,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = LEVEL,
) -> dict[str, dict[str, Any]]:
    """Per model, its R² against the constant ``mean`` (the training rows' mean) and the percentile interval
    of a paired bootstrap: each resample draws the rows once for every model, and its R² is
    ``1 - sum(resampled squared errors of the model) / sum(resampled squared errors of the mean)``.

    Returns ``{name: {"r2", "low", "high"}}``; all None when every target equals ``mean`` (the mean's errors
    are all 0). Resamples whose mean's errors are all 0 are left out of the interval."""
    target = np.asarray(y, dtype=np.float64)
    base = (target - float(mean)) ** 2
    total = float(base.sum())
    errors = {name: (target - np.asarray(p, dtype=np.float64)) ** 2 for name, p in predictions.items()}
    if total <= 0:
        return {name: {"r2": None, "low": None, "high": None} for name in predictions}
    n = len(target)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, CHUNK_BYTES // (8 * n)))
    sums: dict[str, list[np.ndarray]] = {name: [] for name in predictions}
    base_sums: list[np.ndarray] = []
    drawn = 0
    while drawn < n_boot:
        rows = rng.integers(0, n, size=(min(chunk, n_boot - drawn), n))
        base_sums.append(base[rows].sum(axis=1))
        for name, e in errors.items():
            sums[name].append(e[rows].sum(axis=1))
        drawn += len(rows)
    denominator = np.concatenate(base_sums)
    kept = denominator > 0
    tail = (1 - level) / 2
    out = {}
    for name, e in errors.items():
        resampled = 1.0 - np.concatenate(sums[name])[kept] / denominator[kept]
        low, high = np.quantile(resampled, [tail, 1 - tail]) if len(resampled) else (math.nan, math.nan)
        out[name] = {"r2": 1.0 - float(e.sum()) / total, "low": _finite(low), "high": _finite(high)}
    return out


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def class_evidence(task: str, y: np.ndarray, classes: Sequence[str] | None = None) -> dict[str, Any]:
    """What the labels ``y`` (the rows that have the target, encoded) can tell, from their counts alone.

    Binary: ``rows``, ``positives``, ``negatives``, ``base_rate``, ``half_width`` (Hanley-McNeil at AUC 0.5:
    :func:`auc_half_width`) and ``few`` (``half_width`` above :data:`MAX_HALF_WIDTH`, or a class missing).
    Multiclass: ``rows``, ``counts`` by class, the ``rarest`` class and its ``half_width`` against the other
    rows, and ``few``. Regression: ``rows`` (its test rows are judged by :func:`regression_signal`)."""
    labels = np.asarray(y, dtype=np.float64)
    out: dict[str, Any] = {"task": task, "rows": len(labels)}
    if task == "binary":
        positives = int((labels == 1).sum())
        negatives = len(labels) - positives
        width = auc_half_width(positives, negatives)
        out.update(
            positives=positives,
            negatives=negatives,
            base_rate=positives / len(labels) if len(labels) else None,
            half_width=width,
            few=width is None or width > MAX_HALF_WIDTH,
        )
    elif task == "multiclass":
        names = list(classes) if classes else [str(k) for k in range(int(labels.max()) + 1)]
        counts = np.bincount(labels.astype(np.int64), minlength=len(names))
        rarest = int(np.argmin(counts))
        width = auc_half_width(int(counts[rarest]), len(labels) - int(counts[rarest]))
        out.update(
            counts={str(c): int(k) for c, k in zip(names, counts, strict=True)},
            rarest=str(names[rarest]),
            half_width=width,
            few=width is None or width > MAX_HALF_WIDTH,
        )
    return out


def binary_signal(y: np.ndarray, scores: Mapping[str, np.ndarray], level: float = LEVEL) -> dict[str, Any]:
    """Per model its test AUC with the DeLong interval (:func:`delong_interval`) and ``signal``: True when the
    interval lies above 0.5, False when it holds 0.5 (or lies below it), None when it is undefined."""
    out = {}
    for name, s in scores.items():
        found = delong_interval(y, s, level)
        low, high = found["low"], found["high"]
        found["signal"] = None if low is None or high is None else bool(low > 0.5)
        out[name] = found
    return out


def regression_signal(
    y: np.ndarray, predictions: Mapping[str, np.ndarray], mean: float, *, n_boot: int, seed: int
) -> dict[str, Any]:
    """Per model its R² against the training mean with the paired bootstrap interval (:func:`r2_intervals`)
    and ``signal``: True when the interval lies above 0, False when it holds 0, None when undefined."""
    out = r2_intervals(y, predictions, mean, n_boot=n_boot, seed=seed)
    for found in out.values():
        found["signal"] = None if found["low"] is None else bool(found["low"] > 0)
    return out


def held_out_evidence(
    task: str,
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    classes: Sequence[str] | None = None,
    train_mean: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The evidence of one target's test rows: :func:`class_evidence` of the labels ``y`` with, per model of
    ``scores`` (name -> its scores on the same rows), the test figure, its interval and ``signal``
    (``models``), and ``signal``: whether any model predicts better than the trivial predictor (None when it
    cannot be told). A regression target needs ``train_mean``, the trivial predictor (``trivial``); its
    ``half_width`` is the widest of the models' R² intervals and ``few`` says whether it exceeds
    :data:`MAX_HALF_WIDTH`."""
    out = class_evidence(task, y, classes)
    out["level"] = LEVEL
    if task == "binary" and out["positives"] and out["negatives"]:
        out["models"] = binary_signal(y, scores)
        out["trivial"] = {"base_rate": out["base_rate"], "auc": 0.5}
    elif task == "regression" and train_mean is not None:
        out["models"] = regression_signal(y, scores, float(train_mean), n_boot=n_boot, seed=seed)
        out["trivial"] = {"mean": float(train_mean), "r2": 0.0}
        widths = [(m["high"] - m["low"]) / 2 for m in out["models"].values() if m["low"] is not None]
        out["half_width"] = max(widths) if widths else None
        out["few"] = bool(widths) and max(widths) > MAX_HALF_WIDTH
    if "models" in out:
        found = [m["signal"] for m in out["models"].values() if m["signal"] is not None]
        out["signal"] = any(found) if found else None
    return out


# -- notes ---------------------------------------------------------------------------------------------------
def _rarer(evidence: Mapping[str, Any]) -> str:
    pos, neg = evidence["positives"], evidence["negatives"]
    if pos <= neg:
        return f"{pos:,} positive{'s' * (pos != 1)} (and {neg:,} negatives)"
    return f"{neg:,} negative{'s' * (neg != 1)} (and {pos:,} positives)"


def _few_note(target: str, evidence: Mapping[str, Any], rows: str) -> str | None:
    """The note on few rows of ``evidence`` (:func:`class_evidence` / :func:`held_out_evidence`), or None."""
    if not evidence.get("few"):
        return None
    width, task = evidence.get("half_width"), evidence["task"]
    if task == "binary":
        if width is None:
            return f"target '{target}': the {rows} hold {_rarer(evidence)}: no AUC can be computed on them."
        known = f"an AUC is known only to ±{width:.2f} (95%) on so few"
        if rows == "validation rows":
            return (
                f"target '{target}': the validation rows hold {_rarer(evidence)}: {known}, and early stopping "
                "(and the calibrator, with --calibrate) rests on them; the epoch kept may be chance."
            )
        return (
            f"target '{target}': the test rows hold {_rarer(evidence)}: {known}; a gap between two models' AUCs "
            "smaller than that decides nothing, and a model picked on it may rank otherwise on fresh rows."
        )
    if task == "multiclass":
        rarest = evidence["rarest"]
        count = evidence["counts"][rarest]
        if width is None:
            return f"target '{target}': the {rows} hold no row of the class '{rarest}': its AUC is undefined."
        return (
            f"target '{target}': the {rows} hold {count:,} rows of the class '{rarest}' (of {evidence['rows']:,}): "
            f"its one-vs-rest AUC is known only to ±{width:.2f} (95%) on so few; gaps between models smaller "
            "than that decide nothing."
        )
    if task == "regression" and width is not None:
        return (
            f"target '{target}': the {evidence['rows']:,} test rows give an R² only to ±{width:.2f} (95%, paired "
            "bootstrap of the squared errors); gaps between models smaller than that decide nothing."
        )
    return None


def _figures(models: Mapping[str, Any], key: str) -> str:
    def text(value: float) -> str:
        return f"{round(value, 3) + 0.0:.3f}"  # + 0.0: no "-0.000"

    return "; ".join(f"{name} {text(m[key])} [{text(m['low'])}, {text(m['high'])}]" for name, m in models.items())


def _signal_note(target: str, evidence: Mapping[str, Any]) -> str | None:
    """The note on the models of ``evidence`` (:func:`held_out_evidence`) that predict no better than the trivial
    predictor, or None when every model does (or none can be told)."""
    models = evidence.get("models") or {}
    empty = {name: m for name, m in models.items() if m.get("signal") is False}
    if not empty:
        return None
    task = evidence["task"]
    if task == "binary":
        trivial = f"the base rate ({evidence['base_rate']:.2%})"
        figure, key, trivial_figure = "AUC", "auc", "0.5"
    else:
        trivial = f"the mean of the training rows ({evidence['trivial']['mean']:.4g})"
        figure, key, trivial_figure = "R² against it", "r2", "0"
    if len(empty) == len(models):
        return (
            f"target '{target}': no model predicts better than {trivial} on the test rows: no model's 95% interval "
            f"of its {figure} lies above {trivial_figure} ({_figures(empty, key)}). Whichever model the verdict "
            "names, these rows do not show it doing better than that constant."
        )
    names = " and the ".join(empty)
    return (
        f"target '{target}': the {names} {'does' if len(empty) == 1 else 'do'} not predict better than {trivial} "
        f"on the test rows: the 95% interval of the {figure} does not lie above {trivial_figure} "
        f"({_figures(empty, key)})."
    )


def evidence_notes(target: str, evidence: Mapping[str, Any]) -> list[str]:
    """The notes of one target's evidence (:func:`held_out_evidence`, with its ``validation``
    :func:`class_evidence` when there is one): few test rows, few validation rows, no signal."""
    found = [_few_note(target, evidence, "test rows")]
    if evidence.get("validation"):
        found.append(_few_note(target, evidence["validation"], "validation rows"))
    found.append(_signal_note(target, evidence))
    return [note for note in found if note]


def record_evidence(fitted: Any, train_table: pa.Table, metrics: dict[str, Any]) -> list[str]:
    """Add to each target's ``metrics["evidence"]`` (from :func:`needmap.workflows.held_out.judge_on_test`)
    the :func:`class_evidence` of the fitted model's validation rows (``validation``, rows of ``train_table``
    at ``fitted.fit_rows_["validation"]``), and return the notes of every target (:func:`evidence_notes`)."""
    if "evidence" not in metrics:
        return []
    schema = fitted.schema_
    names = target_names(schema)
    per_target = {names[0]: metrics["evidence"]} if len(names) == 1 else metrics["evidence"]
    rows = (fitted.fit_rows_ or {}).get("validation")
    if rows is not None and len(rows):
        valid = train_table.take(pa.array(rows))
        y = np.asarray(fitted.preprocessor_.encode_target(valid), dtype=np.float64).reshape(len(rows), -1)
        for t, head in enumerate(schema.heads):
            column = y[:, t][~np.isnan(y[:, t])]
            if head.task not in ("regression", "ltv") and head.name in per_target and len(column):
                per_target[head.name]["validation"] = class_evidence(str(head.task), column, head.classes)
    notes = []
    for name in names:
        if name in per_target:
            notes.extend(evidence_notes(name, per_target[name]))
    return notes
