"""Build the report files: a model's report (with or without new labelled data) and a data profile page.

:func:`build_report` reads a model directory (``needmap.load``): metrics.json, and where present
evaluation.json (curves and the comparison with the baselines on the test rows) and profile.json (the
training rows' profile). Given a labelled table, it also scores it: the deep model's curves on it (and,
when the model saved its baselines in baselines.json, their metrics, the paired comparison and the
verdict on it), its drift against the training profile and the permutation importance of each input
column.

:func:`build_profile_report` describes a table alone. Both write one self-contained HTML file,
atomically (a temporary file beside the target, then a rename).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from needmap.data.profile import drift, profile_table
from needmap.data.provenance import source_of
from needmap.errors import ConfigError
from needmap.output_files import create_temporary_file
from needmap.report.bar_charts import bar_chart
from needmap.report.content import ReportData, file_name, named_files, per_target
from needmap.report.data_sections import profile_section
from needmap.report.html import Section, facts, note, page
from needmap.report.sections import report_sections
from needmap.schema import Schema


def write_text_atomic(text: str, out: str | os.PathLike[str]) -> Path:
    """Write ``text`` (UTF-8) to ``out``: to a temporary file in the same directory, renamed into place."""
    target = Path(out)
    if target.is_dir():
        raise ConfigError(f"'{target}' is a directory; expected a file name such as report.html.")
    tmp_name = create_temporary_file(target)
    try:
        with open(tmp_name, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp_name, target)
    except BaseException:
        tmp_name.unlink(missing_ok=True)
        raise
    return target


def write_json_atomic(document: Any, out: str | os.PathLike[str]) -> Path:
    """Write a JSON-safe ``document`` to ``out``, atomically."""
    return write_text_atomic(json.dumps(document, indent=2, allow_nan=False) + "\n", out)


def _data_name(table: pa.Table) -> str:
    return file_name(source_of(table)) or "the given rows"


def _model_facts(model: Any) -> dict[str, Any]:
    schema = model.schema_
    facts_: dict[str, Any] = {"architecture": model.model, "task": schema.task, "target": schema.target}
    if schema.task == "binary" and len(schema.classes) == 2:
        facts_["positive class"] = schema.classes[1]
    elif schema.classes:
        facts_["classes"] = ", ".join(schema.classes)
    if len(schema.heads) > 1:
        facts_["targets"] = ", ".join(h.name for h in schema.heads)
    hidden = (model.params or {}).get("hidden")
    if hidden:
        facts_["hidden layers"] = ", ".join(str(h) for h in hidden)
    facts_["input columns"] = len(schema.features)
    return facts_


def _deep_curves_only(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the baselines' curves left out (their kind and metrics kept): the charts draw the
    deep model alone on the given data, as a dashed line beside every model on the test rows; the baselines
    section shows the baselines' metrics, the comparisons and the verdict on the data."""
    primary = document["primary"]
    models = {
        name: entry if name == primary else {"kind": entry["kind"], "metrics": entry["metrics"]}
        for name, entry in document["models"].items()
    }
    return {**document, "models": models}


def importance_rows(document: dict[str, Any]) -> str:
    """Which rows the importance of an evaluation document was measured on, in words: its rows (``data``), and
    when it was measured on a sample of them (``importance_rows``, written by training since it records it),
    how many of them."""
    rows = document.get("data") or "the test rows"
    measured, total = document.get("importance_rows"), document.get("rows")
    if isinstance(measured, int) and isinstance(total, int) and measured < total:
        return f"{rows}; {measured:,} of these {total:,} rows, drawn at random"
    return rows


def report_data(
    model_dir: str | os.PathLike[str],
    data: pa.Table | None = None,
    *,
    title: str | None = None,
    explain: pa.Table | None = None,
) -> ReportData:
    """What the report of the model in ``model_dir`` shows, computed on ``data`` (labelled rows) too when given;
    ``explain``: rows whose top-scored customers the reasons section explains when no ``data`` is given (the
    demo's test rows)."""
    from needmap.estimator import load  # the model's modules load torch: imported here, not by the profile page
    from needmap.workflows.evaluate import evaluate_with_baselines, saved_baselines
    from needmap.workflows.importance import IMPORTANCE_ROWS, permutation_importance

    model = load(model_dir)
    schema = model.schema_
    assert schema is not None
    directory = Path(model_dir)
    evaluation = model.extras_.get("evaluation.json")
    profile = model.extras_.get("profile.json")
    source = (model.metrics_.get("report") or {}).get("source")
    if profile and source:  # "training rows of bank.csv", not of the folder it was read from
        profile = {**profile, "source": named_files(profile.get("source"), source)}
    targets = {h.name: h.task for h in schema.heads}
    result = ReportData(
        title=title or f"needmap report: {directory.name}",
        subtitle=f"model directory {directory}",
        model=_model_facts(model),
        task=schema.task,
        targets=targets,
        metrics=model.metrics_,
        evaluations=per_target(targets, evaluation),
        profile=profile,
    )
    for target, document in result.evaluations.items():
        if document.get("importance"):
            result.importance[target] = document["importance"]
            result.importance_rows = importance_rows(document)
    result.notes["importance"] = "no importance in this model directory: give labelled data to measure it"
    if data is None:
        if explain is not None and len(targets) == 1 and next(iter(targets.values())) in ("binary", "regression"):
            _add_reasons(result, model, explain, _data_name(explain))
        return result
    name = _data_name(data)
    result.data_name = name
    result.subtitle += f"; data {name} ({data.num_rows:,} rows)"
    if profile:
        result.drift = drift(profile, data)
    else:
        result.notes["drift"] = "no profile.json in this model directory: no training profile to compare the data with"
    absent = [t for t in targets if t not in data.column_names]
    if absent:
        result.notes["curves"] = f"the data has no target column '{absent[0]}': no curves on it" + (
            "" if evaluation else "; and no evaluation.json in this model directory"
        )
        return result
    bases = saved_baselines(model, file=str(directory))
    # The deep model on the data, beside the saved baselines' metrics, comparisons and verdict (their curves
    # are not drawn), target by target.
    documents = per_target(targets, evaluate_with_baselines(model, data, baselines=bases)["evaluation"])
    result.data_evaluations = {t: _deep_curves_only(document) for t, document in documents.items()}
    result.importance = {t: permutation_importance(model, data, target=t) for t in targets}
    result.importance_rows = f"{name}, at most {IMPORTANCE_ROWS:,} rows"
    if len(targets) == 1 and next(iter(targets.values())) in ("binary", "regression"):
        _add_reasons(result, model, data, name)
    return result


#: The report explains this many of the given data's top-scored rows, and averages attributions over at most
#: :data:`ATTRIBUTION_ROWS` rows of it (drawn with a fixed seed).
REASON_ROWS = 5
ATTRIBUTION_ROWS = 1000


def _add_reasons(result: ReportData, model: Any, data: pa.Table, name: str) -> None:
    """The reasons of the data's top-scored rows and the mean absolute attribution per column."""
    import numpy as np

    from needmap.explain.dependence import dependence
    from needmap.explain.reasons import reason_table

    scores = np.asarray(model.predict_proba(data) if model.schema_.task == "binary" else
                        model.predict(data).column(-1).to_numpy(zero_copy_only=False), dtype=np.float64)  # fmt: skip
    if scores.ndim > 1:
        scores = scores[:, -1]
    top = np.argsort(-scores, kind="stable")[:REASON_ROWS]
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(data.num_rows, size=min(ATTRIBUTION_ROWS, data.num_rows), replace=False))
    population = data.take(pa.array(sample))
    chosen = data.take(pa.array(top))
    # the population the model was fitted on where it saved one (as needmap explain and the service use), else
    # the sample of the data
    saved = getattr(model, "population_", None)
    reference = saved if saved is not None else population
    # without ids the reasons name their row of ``chosen`` (``row``, from 1), which finds each customer's
    reasons = reason_table(model.attributions(chosen, background=reference), chosen, top=3,
                           population=reference).to_pylist()  # fmt: skip
    ids = [c for c in model.schema_.ids if c in data.column_names]
    for k, row in enumerate(top):
        label = ", ".join(f"{c} {data.column(c)[int(row)].as_py()}" for c in ids) or f"data row {int(row) + 1}"
        mine = [r for r in reasons if r["row"] == k + 1]
        result.reasons.append({"label": label, "score": float(scores[row]),
                               "reasons": [{"effect": r["effect"], "reason": r["reason"]} for r in mine]})  # fmt: skip
    found = model.attributions(population, background=reference)
    mean = np.abs(found.values).mean(axis=0)
    order = np.argsort(-mean, kind="stable")
    result.attribution = [{"feature": found.columns[j], "value": float(mean[j])} for j in order]
    result.attribution_rows = f"{name}, {len(sample):,} rows drawn at random"
    numeric = [found.columns[j] for j in order if _is_number(data, found.columns[j])][:DEPENDENCE_COLUMNS]
    rows = population.slice(0, DEPENDENCE_ROWS)
    for column in numeric:
        curves = dependence(model, rows, column)
        ice = curves.pop("ice")
        if ice.shape[1] > 1:
            curves["p10"], curves["p90"] = np.percentile(ice, [10, 90], axis=0).tolist()
            result.dependence.append(curves)


#: Partial dependence in the report: the numeric columns of largest attribution, over this many sampled rows.
DEPENDENCE_COLUMNS = 3
DEPENDENCE_ROWS = 300


def _is_number(table: pa.Table, column: str) -> bool:
    if column not in table.column_names:
        return False
    kind = table.schema.field(column).type
    return pa.types.is_integer(kind) or pa.types.is_floating(kind)


def build_report(
    model_dir: Path | str,
    data: pa.Table | None = None,
    *,
    out: Path | str,
    title: str | None = None,
    explain: pa.Table | None = None,
) -> Path:
    """Write the HTML report of the model in ``model_dir`` to ``out``; returns ``out``.

    Sections: summary, profile, drift, training, roc, pr, calibration, gains, lift, profit, baselines,
    importance (see :mod:`needmap.report.sections`). ``data``: labelled rows to evaluate the model on
    (curves, drift against the training profile, permutation importance); None: the model directory's
    documents alone.
    """
    content = report_data(model_dir, data, title=title, explain=explain)
    return write_text_atomic(page(content.title, content.subtitle, report_sections(content)), out)


def _target_chart(profile: dict[str, Any], target: str | None) -> str:
    entry = next((c for c in profile["columns"] if c["name"] == target), None)
    if entry is None or not entry.get("top"):
        return ""
    present = max(profile["rows"] - entry["missing"], 1)
    return bar_chart(
        "target",
        f"values of the target {target}",
        [t["value"] for t in entry["top"]],
        [t["count"] / present for t in entry["top"]],
        x_label="share of rows with a target",
        x_format="%",
    )


def build_profile_report(
    table: pa.Table,
    *,
    out: Path | str,
    source: str | None = None,
    schema: Schema | None = None,
    json_out: Path | str | None = None,
) -> Path:
    """Write the profile of ``table`` as an HTML page to ``out`` (and as JSON to ``json_out``); returns ``out``.

    ``schema`` gives the columns' roles (with a target, the page shows its values); default: roles
    from the Arrow types. ``source`` names the rows (default: the table's file).
    """
    profile = profile_table(table, schema, source=source)
    name = profile.get("source") or "the table"
    target = schema.target if schema is not None else None
    summary = facts(
        [
            ("rows", f"{profile['rows']:,}"),
            ("columns", len(profile["columns"])),
            ("file", name),
            ("target", target),
            ("task", schema.task if schema is not None else None),
        ]
    )
    summary += (
        _target_chart(profile, target) if target else note("no target given: roles are read from the column types")
    )
    sections = [Section("summary", "Summary", summary), profile_section(profile, "the table has no columns")]
    if json_out is not None:
        write_json_atomic(profile, json_out)
    return write_text_atomic(page(f"needmap profile: {Path(str(name)).name}", f"data profile of {name}", sections), out)


def build_recommender_report(
    model_dir: str | os.PathLike[str], data: str | None, *, out: str | os.PathLike[str], title: str | None = None
) -> Path:
    """The page of a recommender directory; with ``data`` (a later event log) also the model and popularity
    judged on it (:func:`needmap.recommend.evaluate.evaluate_on_log`)."""
    from needmap.recommend.evaluate import evaluate_on_log
    from needmap.recommend.recommender import load_recommender
    from needmap.report.recommend_page import recommender_page

    rec = load_recommender(model_dir)
    metrics = dict(rec.metrics_ or {})
    facts_ = {
        "model": rec.algorithm_.name,
        "customers": f"{rec.data_.n_customers:,}",
        "items": f"{rec.data_.n_items:,}",
        "events": f"{len(rec.data_):,}",
        "learned from": rec.data_.source,
    }
    if data is not None:
        found = evaluate_on_log(rec, data, k=int(metrics.get("k", 10)))
        metrics = {**metrics, "later": found}
    return write_text_atomic(recommender_page(metrics, facts_, title or f"Recommender {Path(model_dir).name}"), out)


def build_uplift_report(
    model_dir: str | os.PathLike[str], *, out: str | os.PathLike[str], title: str | None = None
) -> Path:
    """The page of an uplift model directory (:mod:`needmap.report.uplift_page`)."""
    from needmap.report.uplift_page import uplift_page
    from needmap.uplift.meta import META_LEARNERS
    from needmap.uplift.model import load_uplift

    predictor = load_uplift(model_dir)
    params = predictor.params
    facts_ = {
        "learner": predictor.learner + (f" over {params['base']}" if predictor.learner in META_LEARNERS else ""),
        "treatment": f"{params['treatment']} (control: {predictor.arms[0]})",
        "offers": ", ".join(predictor.offers),
        "outcome": f"{params['outcome']} ({'0/1' if predictor.task == 'binary' else 'an amount'})",
        "rows": ", ".join(f"{arm} {count:,}" for arm, count in (predictor.report_.get("arms") or {}).items()),
    }
    page_html = uplift_page(
        predictor.metrics_, predictor.report_, facts_, title or f"Uplift model {Path(model_dir).name}"
    )
    return write_text_atomic(page_html, out)
