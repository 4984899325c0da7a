"""The model card: a Markdown page that says what a model predicts, from what data, how well, and
what to be careful about."""

from __future__ import annotations

from typing import Any

from needmap.metrics.names import METRIC_NAMES, metric_text, plain_name
from needmap.preprocessing.target import head_schema, target_names, target_tasks
from needmap.schema import Schema

_SHOWN = {
    "binary": ("auc", "logloss", "pr_auc", "ece", "lift_at_10", "capture_at_10", "accuracy", "n"),
    "multiclass": ("accuracy", "logloss", "macro_auc", "n"),
    "regression": ("rmse", "mae", "r2", "n"),
    "ltv": ("normalized_gini", "spearman", "auc", "decile_mape", "aggregate_error", "rmse", "mae", "n"),
}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "n/a" if value is None else str(value)


def _metric_rows(task: str, metrics: dict[str, Any], target: str | None = None) -> list[str]:
    """A Markdown table of the validation (the network's), test (the chosen scorer's), the network's test when
    another scorer was chosen, and baseline metrics (of ``target`` for a multi-task model); each baseline of
    ``metrics["baselines"]`` has a column of its own ("test LightGBM"), per target too. Each metric is named
    in words with its key (:mod:`needmap.metrics.names`), its values written as the report writes them, and
    a line under the table says what each means."""
    sets = [(name, metrics.get(name)) for name in ("validation", "test", "network_test", "baseline_test")]
    if target is not None:
        sets = [(name, m.get(target) if isinstance(m, dict) else None) for name, m in sets]
        if isinstance(metrics.get("baselines"), dict):  # a multi-task model: {baseline: {target: metrics}}
            baselines = [(f"test {name}", m) for name, m in metrics["baselines"].items() if isinstance(m, dict)]
            sets = sets[:3] + [(name, m.get(target)) for name, m in baselines]
    elif isinstance(metrics.get("baselines"), dict):
        sets = sets[:3] + [(f"test {name}", m) for name, m in metrics["baselines"].items()]
    sets = [(name, m) for name, m in sets if isinstance(m, dict)]
    if not sets:
        return ["No held-out metrics were recorded."]
    keys = [k for k in _SHOWN.get(task, ()) if any(k in m for _, m in sets)]
    header = "| metric | " + " | ".join(name.replace("_", " ") for name, _ in sets) + " |"
    rows = [header, "|---|" + "---|" * len(sets)]
    for key in keys:
        rows.append(
            f"| {plain_name(key)} `{key}` | " + " | ".join(metric_text(key, m.get(key)) for _, m in sets) + " |"
        )
    meanings = [
        f"- {plain_name(k)} (`{k}`): {METRIC_NAMES[k].meaning}." for k in keys if k in METRIC_NAMES and k != "n"
    ]
    return [*rows, "", *meanings] if meanings else rows


def _cv_lines(cv: Any, *, verdict: bool = True) -> list[str]:
    """The cross-validation section: each model's mean and standard deviation over the folds, and (``verdict``)
    the pooled verdict: left out when the model chose its scorer on these folds and its verdict says so."""
    if not isinstance(cv, dict) or not cv.get("models"):
        return []
    lines = [
        "## Cross-validation",
        f"{cv.get('k')} folds of the training part ({cv.get('split')}, seed {cv.get('seed')}, {cv.get('rows')} rows), "
        f"{cv.get('metric')} per fold:",
        "",
        "| model | mean | std |",
        "|---|---|---|",
    ]
    for name in cv["models"]:
        lines.append(f"| {name} | {_fmt((cv.get('mean') or {}).get(name))} | {_fmt((cv.get('std') or {}).get(name))} |")
    if verdict and cv.get("verdict"):
        lines += ["", f"Verdict on the pooled out-of-fold scores: {cv['verdict']}"]
    return [*lines, ""]


def _cutoff_lines(split: Any, validation: Any) -> list[str]:
    """How a table built from an event log was split by cutoff (test on the latest cutoff, validation on the
    latest before it) and how many rows were left out because their label window reached into the next part;
    nothing for another split."""
    lines = []
    if isinstance(split, dict) and split.get("method") == "cutoff":
        lines.append(
            f"- split by cutoff: the test rows are the customers at {split.get('cutoff')}; "
            f"{split.get('horizon_gap_rows', 0)} rows of earlier cutoffs were left out, their label window "
            f"({split.get('horizon_days')} days) reaching past it"
        )
    if isinstance(validation, dict) and validation.get("method") == "cutoff":
        lines.append(
            f"- validation on the cutoff {validation.get('cutoff')}; {validation.get('horizon_gap_rows', 0)} "
            "training rows were left out, their label window reaching past it"
        )
    return lines


def model_card(model: dict[str, Any], schema: Schema, metrics: dict[str, Any]) -> str:
    """Markdown text of the card for a fitted model.

    Args:
        model: the model.json content (architecture, params, task, target, train).
        schema: the column roles.
        metrics: the metrics.json content (validation/test/baseline metrics, training, report).
    """
    task = model.get("task") or ""
    target = model.get("target")
    report = metrics.get("report", {}) or {}
    names, tasks = target_names(schema), target_tasks(schema)
    multi = len(names) > 1
    shown = ", ".join(f"`{n}`" for n in names) if multi else f"`{target}`"
    lines = [f"# Model card: {model.get('architecture', '?')} predicting {shown}", ""]
    if multi:
        parts = []
        for name, head in zip(names, tasks, strict=True):
            classes = head_schema(schema, name).classes
            if head == "binary":
                parts.append(f"- the probability that `{name}` is `{classes[1]}`, as the column `score_{name}`")
            else:
                parts.append(f"- the value of `{name}`, in its own units, as the column `prediction_{name}`")
        what = "A multi-task model, one output per target, trained together:\n" + "\n".join(parts)
    elif task == "binary":
        what = (
            f"The probability that `{target}` is `{schema.classes[1]}` (the other class: "
            f"`{schema.classes[0]}`), as the column `score`."
        )
    elif task == "multiclass":
        labels = ", ".join(f"`{c}`" for c in schema.classes)
        what = f"The class of `{target}` among {labels}, with a probability per class."
    elif task == "ltv":
        horizon = (metrics.get("split") or {}).get("horizon_days")
        over = f"the {horizon} days after the cutoff" if horizon else "the horizon"
        what = (
            f"What each customer will spend over {over}, in the units of `{target}`: the chance to buy as "
            "`buy_probability`, the spend if they buy as `spend_if_bought`, and their product, the expected spend, "
            "as `expected_spend` (the figure the metrics judge)."
        )
    else:
        what = f"The value of `{target}`, in its own units, as the column `prediction`."
    lines += ["## What it predicts", what, ""]
    lines += ["## Data", f"- source: {report.get('source') or 'a table given in Python'}"]
    for key, label in (
        ("rows_in", "rows read"),
        ("rows_without_target", "rows left out for a missing target"),
        ("train_rows", "training rows"),
        ("validation_rows", "validation rows (early stopping)"),
        ("test_rows", "test rows (never seen in training)"),
    ):
        if key in report:
            lines.append(f"- {label}: {report[key]}")
    lines += _cutoff_lines(metrics.get("split"), report.get("validation_split"))

    fitted = (report.get("preprocessing") or {}).get("columns") or {}

    def described(names: list[str]) -> str:
        parts = []
        for name in names:
            options = schema.column(name).options
            field = (fitted.get(name) or {}).get("value_field")
            if isinstance(field, dict) and field.get("used", True):
                parts.append(f"{name} (and a value field: an embedding for each of its {field['values']} values)")
            elif "hash_buckets" in options:
                parts.append(f"{name} (hashed, {options['hash_buckets']:,} buckets)")
            elif "bucketize" in options:
                parts.append(f"{name} ({options['bucketize']} quantile buckets)")
            elif "vocabulary_of" in options:
                parts.append(f"{name} (items of {options['vocabulary_of']})")
            else:
                parts.append(name)
        return ", ".join(parts) or "none"

    lines.append(f"- numeric inputs: {described(schema.numeric)}")
    lines.append(f"- categorical inputs: {described(schema.categorical)}")
    if schema.names("multihot"):
        lines.append(f"- multi-hot list inputs: {described(schema.names('multihot'))}")
    if schema.names("sequence"):
        lines.append(f"- behaviour-sequence inputs: {described(schema.names('sequence'))}")
    left_out = [f"`{c.name}` ({c.role}: {c.reason})" for c in schema.columns if c.role in ("ignored", "id", "datetime")]
    if left_out:
        lines.append(f"- not used as inputs: {'; '.join(left_out)}")
    if multi:
        lines += ["", "## How well"]
        for name, head in zip(names, tasks, strict=True):
            lines += [f"### `{name}` ({head})", *_metric_rows(head, metrics, name), ""]
    else:
        lines += ["", "## How well", *_metric_rows(task, metrics), ""]
    verdict = metrics.get("verdict")
    if verdict:
        lines += [f"Verdict on the test rows: {verdict}", ""]
    lines += _cv_lines(metrics.get("cv"), verdict=not metrics.get("selection"))  # a choice states it once, above
    training = metrics.get("training") or {}
    if training:
        lines += [
            "## Training",
            f"- {training.get('epochs_run')} epochs, best epoch {training.get('best_epoch')}, stopped by "
            f"{training.get('stopped_reason')}; {float(training.get('wall_time_s') or 0):.1f} s, "
            f"{float(training.get('rows_per_s') or 0):,.0f} training rows/s",
            f"- options: {model.get('train')}",
            f"- network: {model.get('params')}",
            "",
        ]
    lines += [
        "## Caveats",
        "- The scores describe customers like those in the training data; check them again before using "
        "the model on another market, channel or period.",
        "- Columns known only after the outcome (such as a call's duration) must not be inputs: they inflate "
        "the metrics and are unavailable when the model is used.",
        "- The test metrics come from one split; small differences between models (a few thousandths of AUC) "
        "can be noise.",
    ]
    if multi and "binary" in tasks:
        lines.append(
            "- each `score_<target>` is the network's probability; check the calibration error (ece) before "
            "reading it as an exact rate."
        )
    elif task == "binary" and isinstance(metrics.get("calibration"), dict):
        validation = metrics.get("validation") or {}
        lines.append(
            f"- `score` is the network's probability recalibrated ({metrics['calibration'].get('method')}) on the "
            f"validation rows: calibration error {metric_text('ece', validation.get('ece_uncalibrated'))} before, "
            f"{metric_text('ece', validation.get('ece'))} after, on those same rows; the test ece is the fair figure."
        )
    elif task == "binary":
        lines.append(
            "- `score` is the network's probability; check the calibration error (ece) before reading it as an "
            "exact response rate."
        )
    return "\n".join(lines) + "\n"
