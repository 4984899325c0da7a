"""The sections of the report page, each from plain dicts: metrics.json, evaluation.json, profile.json.

:class:`~needmap.report.content.ReportData` gathers what a page shows; one function per section turns
it into HTML (the evaluation charts are in :mod:`needmap.report.curve_sections`, the page around them in
:mod:`needmap.report.html`, the charts in :mod:`needmap.report.charts`). A section whose data is
missing says so in one line instead of drawing an empty chart.
"""

from __future__ import annotations

import math
from typing import Any

from needmap.report.charts import Marker, Series, bar_chart, esc, histogram_pair, line_chart, number, spark_histogram
from needmap.report.content import NO_EVALUATION, ReportData, percent
from needmap.report.curve_sections import CURVES, curve_section
from needmap.report.html import Raw, Section, badge, explain, facts, note, table, verdict_box

#: Metrics shown in the tables, per task, in order.
TABLE_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("auc", "pr_auc", "logloss", "lift_at_10", "capture_at_10", "ece", "accuracy"),
    "multiclass": ("accuracy", "logloss", "macro_auc"),
    "regression": ("rmse", "mae", "r2"),
}
#: The validation metric drawn per epoch beside the loss, per task.
HISTORY_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("valid_auc", "valid_pr_auc"),
    "multiclass": ("valid_accuracy", "valid_macro_auc"),
    "regression": ("valid_rmse", "valid_mae"),
}
MOST_BARS = 30
DRIFT_CHARTS = 3


def metric_value(value: float | None) -> str:
    """A metric in a table: four decimals below 10 (``0.7800``, so that AUCs line up and differences of
    0.001 show), else :func:`number`'s short form; "–" for None."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.4f}" if abs(value) < 10 else number(value)


def _metric_rows(task: str, columns: dict[str, Any]) -> list[list[object]]:
    keys = TABLE_METRICS.get(task, ())
    present = {k: v for k, v in columns.items() if isinstance(v, dict)}
    return [[key, *(metric_value(values.get(key)) for values in present.values())] for key in keys]


def _verdict(data: ReportData) -> str | None:
    if data.evaluation and data.evaluation.get("verdict"):
        return str(data.evaluation["verdict"])
    return data.metrics.get("verdict")


# -- summary -------------------------------------------------------------------------------------------
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
    verdict = _verdict(data)
    parts.append(verdict_box(verdict) if verdict else note("no verdict: the model was trained without a baseline"))
    task = data.task or "binary"
    test = metrics.get("test")
    if isinstance(test, dict) and test and all(isinstance(v, dict) for v in test.values()):
        for name, values in test.items():  # several targets: one table per target
            columns = {"test": values, **_target_baselines(metrics, name)}
            parts.append(f"<h3>{esc(name)}</h3>")
            parts.append(_columns_table(task_of(values), columns))
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
    parts.append(_columns_table(task, columns))
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


def _columns_table(task: str, columns: dict[str, Any]) -> str:
    present = {k: v for k, v in columns.items() if isinstance(v, dict)}
    if not present:
        return note("no held-out metrics in metrics.json")
    return table(["metric", *present], _metric_rows(task, present), numeric=range(1, len(present) + 1))


# -- profile -------------------------------------------------------------------------------------------
def _column_summary(entry: dict[str, Any]) -> str:
    kind = entry.get("kind")
    if kind == "numeric" and entry.get("mean") is not None:
        q = entry.get("quantiles") or {}
        return (
            f"mean {number(entry['mean'])}, std {number(entry['std'])}; min {number(entry['min'])}, "
            f"median {number(q.get('p50'))}, max {number(entry['max'])}; 1%–99%: {number(q.get('p1'))} – "
            f"{number(q.get('p99'))}"
        )
    if kind in ("categorical", "list") and entry.get("top"):
        total = sum(t["count"] for t in entry["top"]) + entry.get("other", 0)
        shown = ", ".join(f"{t['value']} ({t['count'] / max(total, 1) * 100:.0f}%)" for t in entry["top"][:5])
        more = (entry.get("distinct") or len(entry["top"])) - len(entry["top"][:5])
        return shown + (f", … {more} more" if more > 0 else "")
    return ""


def profile_section(profile: dict[str, Any] | None, missing_note: str) -> Section:
    """Each column of the profiled rows: role, missing share, distinct values, a summary, a histogram."""
    if not profile:
        return Section("profile", "Data profile", note(missing_note))
    columns = profile.get("columns") or []
    parts = [
        facts([("rows", f"{profile.get('rows', 0):,}"), ("columns", len(columns)), ("rows of", profile.get("source"))]),
        explain(
            "Missing counts values that are absent (or, in a numeric column, not numbers); outliers are the values "
            "outside the quantiles the preprocessor clips to. Histograms span the 1% to 99% quantiles, with one "
            "bar for the values below and one for those above."
        ),
    ]
    rows = []
    for i, entry in enumerate(columns):
        histogram = entry.get("histogram")
        spark = (
            Raw(spark_histogram(f"hist-{i}", f"histogram of {entry['name']}", histogram["counts"]))
            if histogram and sum(histogram["counts"])
            else ""
        )
        rows.append(
            [
                entry["name"],
                entry.get("role", ""),
                entry.get("dtype", ""),
                percent(entry.get("missing_share")),
                "–" if entry.get("distinct") is None else f"{entry['distinct']:,}",
                "" if entry.get("outliers") is None else f"{entry['outliers']:,}",
                _column_summary(entry),
                spark,
            ]
        )
    parts.append(
        table(
            ["column", "role", "type", "missing", "distinct", "outliers", "values", "histogram"],
            rows,
            numeric=(3, 4, 5),
        )
    )
    with_missing = sorted((c for c in columns if c.get("missing")), key=lambda c: -c["missing_share"])[:MOST_BARS]
    parts.append("<h3>Missing values</h3>")
    if with_missing:
        parts.append(
            bar_chart(
                "missing",
                "share of rows missing, per column",
                [c["name"] for c in with_missing],
                [c["missing_share"] for c in with_missing],
                x_label="share of rows missing",
                x_format="%",
            )
        )
    else:
        parts.append(note("no column has missing values"))
    return Section("profile", "Data profile", "".join(parts))


# -- drift ---------------------------------------------------------------------------------------------
def drift_section(drift: list[dict[str, Any]] | None, missing_note: str, data_name: str | None) -> Section:
    """PSI per column of the given rows against the training profile, and the most moved distributions."""
    if drift is None:
        return Section("drift", "Drift", note(missing_note))
    if not drift:
        return Section(
            "drift", "Drift", note("no column to compare: the profile has no numeric, categorical or list column")
        )
    parts = [
        explain(
            "Population stability index (PSI) of each column of "
            f"{data_name or 'the given rows'} against the training rows, over the training profile's bins "
            "(missing values are a bin of their own): below 0.1 stable, below 0.25 moderate, else large."
        ),
        table(
            ["column", "role", "PSI", "drift"],
            [[d["column"], d.get("role") or "", number(d["psi"]), badge(d["label"])] for d in drift],
            numeric=(2,),
        ),
    ]
    drawn = [d for d in drift if d.get("psi") is not None and d.get("bins")][:DRIFT_CHARTS]
    for k, d in enumerate(drawn, start=1):
        parts.append(f"<h3>{esc(d['column'])}: PSI {number(d['psi'])} ({esc(d['label'])})</h3>")
        parts.append(
            histogram_pair(
                f"drift-{k}",
                f"distribution of {d['column']}: training rows and {data_name or 'the given rows'}",
                d["bins"],
                d["expected"],
                d["actual"],
                names=("training rows", data_name or "given rows"),
            )
        )
    return Section("drift", "Drift", "".join(parts))


# -- training ------------------------------------------------------------------------------------------
def training_section(metrics: dict[str, Any], task: str | None) -> Section:
    """The loss and the validation metrics per epoch, the best epoch marked."""
    training = metrics.get("training") or {}
    history = training.get("history") or []
    if not history:
        return Section("training", "Training", note("no training history in metrics.json"))
    epochs = [h.get("epoch") for h in history]
    best = training.get("best_epoch")
    loss_series = [Series("training loss", epochs, [h.get("loss") for h in history])]
    if any(h.get("valid_logloss") is not None for h in history):
        loss_series.append(Series("validation logloss", epochs, [h.get("valid_logloss") for h in history]))
    parts = [
        explain(
            f"{len(history)} epochs; the model keeps the weights of epoch {best} "
            f"(stopped by {training.get('stopped_reason', 'the epoch limit')})."
        ),
        line_chart("training-loss", "loss per epoch", loss_series, x_label="epoch", y_label="loss", x_integer=True),
    ]
    keys = [k for k in HISTORY_METRICS.get(task or "binary", ()) if any(h.get(k) is not None for h in history)]
    if keys:
        series = [Series(k.removeprefix("valid_").replace("_", " "), epochs, [h.get(k) for h in history]) for k in keys]
        first = history[[h.get("epoch") for h in history].index(best)] if best in epochs else None
        markers = (
            [Marker(float(best), float(first[keys[0]]), f"best epoch {best}")]
            if first is not None and first.get(keys[0]) is not None
            else []
        )
        parts.append(
            line_chart(
                "training-metric",
                "validation metrics per epoch",
                series,
                x_label="epoch",
                y_label="validation metric",
                markers=markers,
                x_integer=True,
            )
        )
    return Section("training", "Training", "".join(parts))


# -- baselines and importance --------------------------------------------------------------------------
def _interval(comparison: dict[str, Any]) -> str:
    low, high = comparison.get("low"), comparison.get("high")
    return "–" if low is None or high is None else f"[{low:+.4f}, {high:+.4f}]"


def _models_table(document: dict[str, Any], task: str | None) -> str:
    """Every model of an evaluation document (the deep one first): its kind and the task's table metrics."""
    keys = TABLE_METRICS.get(document.get("task") or task or "binary", ())
    rows = [
        [name, model.get("kind", ""), *(metric_value((model.get("metrics") or {}).get(k)) for k in keys)]
        for name, model in document["models"].items()
    ]
    return table(["model", "kind", *keys], rows, numeric=range(2, 2 + len(keys)))


def _comparisons_table(comparisons: list[dict[str, Any]]) -> str:
    """One row per paired bootstrap comparison of the deep model with a baseline."""
    return table(
        ["baseline", "metric", "deep", "baseline's", "difference", "interval", "level", "resamples"],
        [
            [
                c.get("baseline"), c.get("metric"),
                metric_value(c.get("deep")), metric_value(c.get("other")),
                f"{c['difference']:+.4f}" if c.get("difference") is not None else "–",
                _interval(c),
                percent(c.get("level")), c.get("n_boot", ""),
            ]
            for c in comparisons
        ],
        numeric=(2, 3, 4, 6, 7),
    )  # fmt: skip


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
    parts.append(_models_table(document, data.task))
    comparisons = document.get("comparisons") or []
    if comparisons:
        parts.append(f"<h3>Paired bootstrap over {esc(name)}</h3>")
        parts.append(_comparisons_table(comparisons))
    return "".join(parts)


def baselines_section(data: ReportData) -> Section:
    """The deep model against traditional models on the same rows: metrics, paired intervals, verdict; on the
    test rows (evaluation.json) and, when given data and the model saved its baselines, on that data too."""
    parts = []
    verdict = _verdict(data)
    parts.append(verdict_box(verdict) if verdict else note("no verdict: the model was trained without a baseline"))
    evaluation = data.evaluation
    if evaluation and evaluation.get("models"):
        parts.append(explain(f"on {evaluation.get('data') or 'the test rows'}"))
        parts.append(_models_table(evaluation, data.task))
        comparisons = evaluation.get("comparisons") or []
        if comparisons:
            parts.append("<h3>Paired bootstrap over the test rows</h3>")
            parts.append(_comparisons_table(comparisons))
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
            parts.append(_columns_table(task, columns))
        else:
            parts.append(note("no baseline in this model directory: train it with a baseline to compare"))
    parts.append(_on_data(data))
    return Section("baselines", "Against traditional models", "".join(parts))


def importance_section(importance: list[dict[str, Any]] | None, rows: str | None, missing_note: str) -> Section:
    """Permutation importance: the AUC drop when each input column is shuffled."""
    if not importance:
        return Section("importance", "Feature importance", note(missing_note))
    shown = importance[:MOST_BARS]
    parts = [
        explain(
            f"How much the AUC drops when one column's values are shuffled across the rows ({rows or 'the rows'}); "
            "near zero or below: the model does not rely on it."
        ),
        bar_chart(
            "importance",
            "permutation importance: AUC drop per column",
            [r["feature"] for r in shown],
            [r["drop"] for r in shown],
            x_label="AUC drop when shuffled",
        ),
    ]
    return Section("importance", "Feature importance", "".join(parts))


def report_sections(data: ReportData) -> list[Section]:
    """Every section of a model's report, in page order."""
    notes = data.notes
    return [
        summary_section(data),
        profile_section(data.profile, notes.get("profile", "no profile.json in this model directory")),
        drift_section(
            data.drift, notes.get("drift", "no data given to compare with the training rows"), data.data_name
        ),
        training_section(data.metrics, data.task),
        *(curve_section(curve, data) for curve in CURVES),
        baselines_section(data),
        importance_section(data.importance, data.importance_rows, notes.get("importance", "no importance measured")),
    ]
