"""The evaluate workflow with the baselines: a saved model and the baselines saved beside it
(``baselines.json``), scored on the same new labelled rows, compared as training compared them on its
test rows.

The rows are transformed once by the model's preprocessor; the deep model and each baseline score the
same features; :func:`needmap.workflows.evaluation.evaluation_document` gives every model's metrics and
curves, and for a binary target the paired bootstrap comparisons and the verdict. A multi-task model is
compared target by target, with the baselines saved for each target.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.provenance import source_of
from needmap.errors import ConfigError, DataError, SchemaError
from needmap.estimator import Model
from needmap.features.target import target_names
from needmap.metrics import task_metrics
from needmap.predictor import Predictor, as_predictor
from needmap.workflows.baseline import BASELINES_FILE, Baseline, load_baselines
from needmap.workflows.evaluation import evaluation_document


def saved_baselines(model: Model | Predictor, *, file: str | None = None) -> list[Baseline]:
    """The baselines saved with ``model`` (``model.extras_["baselines.json"]``); [] when it has none.

    ``file``: the model directory, named in errors. Raises ArtifactError when baselines.json is corrupted.
    """
    document = model.extras_.get(BASELINES_FILE)
    return [] if document is None else load_baselines(document, file=file)


def _labelled(model: Predictor, table: pa.Table) -> tuple[pa.Table, int]:
    """The rows of ``table`` that have a value in the model's target, and how many were left out."""
    target = model.schema_.target
    if target not in table.column_names:
        raise SchemaError(
            f"the evaluation data has no target column '{target}'; expected the outcome to compare the scores with.",
            file=source_of(table),
            column=target,
        )
    keep = pc.is_valid(table.column(target))
    dropped = table.num_rows - int(pc.sum(keep).as_py() or 0)
    labelled = table.filter(keep) if dropped else table
    if labelled.num_rows == 0:
        raise DataError(
            f"no row has a value in the target column '{target}'; expected labelled rows.",
            file=source_of(table),
            column=target,
        )
    return labelled, dropped


def _rows_description(table: pa.Table, rows: int) -> str:
    """Which rows were evaluated, in words: "holdout.csv: 600 labelled rows"."""
    source = source_of(table)
    return f"{Path(source).name if source else 'the given rows'}: {rows:,} labelled rows"


def evaluate_with_baselines(
    model: Model | Predictor,
    table: pa.Table,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    baselines: Sequence[Baseline] | None = None,
    data: str | None = None,
) -> dict[str, Any]:
    """The deep model and its saved baselines on the labelled rows of ``table``.

    A multi-task model is evaluated target by target (:func:`_evaluate_targets`): each target on the rows
    that have it, beside the baselines saved for it.

    Args:
        model: a fitted model: a Predictor (from ``needmap.load``) or a fitted Model (from ``run_train``).
        table: rows with the model's input columns and its target; rows without a target are left out
            and counted.
        n_boot: resamples of the paired bootstrap (binary).
        seed: seed of the resampling: the same seed gives the same intervals.
        baselines: the baselines to score; None: those saved with the model (:func:`saved_baselines`,
            none when it has no baselines.json).
        data: which rows these are, in words (default: the file's name and the labelled rows' count).

    Returns:
        ``metrics``: the deep model's metrics as :meth:`Model.evaluate` gives them (with
        ``rows_without_target``); ``baselines``: ``{name: metrics}`` on the same rows ({} without
        baselines); ``comparisons``: the paired bootstrap comparisons of the deep model's AUC with each
        baseline's (binary; else []); ``verdict``: one sentence, None without baselines; ``primary``:
        the deep model's name; ``rows``, ``rows_without_target``; ``evaluation``: the whole evaluation
        document (curves per model, :func:`needmap.workflows.evaluation.evaluation_document`).
    """
    model = as_predictor(model)
    bases = saved_baselines(model) if baselines is None else list(baselines)
    if len(model.schema_.heads) > 1:
        return _evaluate_targets(model, table, bases, n_boot=n_boot, seed=seed, data=data)
    targeted = [b for b in bases if b.target is not None]
    if targeted:
        raise ConfigError(
            f"the baseline {targeted[0].name} was saved for the target {targeted[0].target!r} of a multi-task "
            "model; expected the baselines of this single-target model."
        )
    labelled, dropped = _labelled(model, table)
    x = model.preprocessor_.transform(labelled)
    y = np.asarray(model.preprocessor_.encode_target(labelled))
    task = model.schema_.task or "binary"
    primary = f"{model.model} network"
    p_deep = model.score(x)
    metrics = task_metrics(task, y, p_deep)
    metrics["rows_without_target"] = dropped
    settings = (model.extras_.get("evaluation.json") or {}).get("profit_settings") or {}
    document = evaluation_document(
        y,
        {primary: p_deep, **{b.name: b.predict(x) for b in bases}},
        task=task,
        primary=primary,
        data=data or _rows_description(table, labelled.num_rows),
        contact_cost=settings.get("contact_cost", 1.0),
        conversion_value=settings.get("conversion_value", 10.0),
        n_boot=n_boot,
        seed=seed,
    )
    return {
        "primary": primary,
        "rows": labelled.num_rows,
        "rows_without_target": dropped,
        "metrics": metrics,
        "baselines": {b.name: document["models"][b.name]["metrics"] for b in bases},
        "comparisons": document.get("comparisons") or [],
        "verdict": document.get("verdict") if bases else None,
        "evaluation": document,
    }


def _evaluate_targets(
    model: Predictor, table: pa.Table, bases: Sequence[Baseline], *, n_boot: int, seed: int, data: str | None
) -> dict[str, Any]:
    """:func:`evaluate_with_baselines` of a multi-task model: per target, the deep model's output and the
    baselines saved for that target (``Baseline.target``), on the rows of ``table`` that have the target.

    Returns the keys of the single-target result, each by target: ``metrics`` ``{target: metrics}`` (as
    :meth:`Model.evaluate` gives them), ``baselines`` ``{name: {target: metrics}}``, ``comparisons``
    ``{target: [...]}``, ``evaluation`` ``{target: document}``, ``verdict`` one sentence per target
    ("income: ..."; None without baselines); ``rows_without_target`` ``{target: count}``.
    """
    names = target_names(model.schema_)
    strays = sorted({str(b.target) for b in bases if b.target not in names})
    if strays:
        raise ConfigError(
            f"found baselines for {', '.join(map(repr, strays))}, expected baselines of this model's targets "
            f"({', '.join(names)})."
        )
    labelled = model.labelled_targets(table)  # checks every target column
    x = model.preprocessor_.transform(table)
    outputs = model.score(x)
    predictions = {id(b): b.predict(x) for b in bases}
    primary = f"{model.model} network"
    settings = (model.extras_.get("evaluation.json") or {}).get("profit_settings") or {}
    metrics: dict[str, dict[str, Any]] = {}
    by_name: dict[str, dict[str, Any]] = {}
    comparisons: dict[str, list[Any]] = {}
    documents: dict[str, Any] = {}
    verdicts: list[str] = []
    for t, (name, task, keep, y) in enumerate(labelled):
        metrics[name] = {**task_metrics(task, y, outputs[keep, t]), "rows_without_target": int((~keep).sum())}
        mine = [b for b in bases if b.target == name]
        document = evaluation_document(
            y,
            {primary: outputs[keep, t], **{b.name: predictions[id(b)][keep] for b in mine}},
            task=task,
            primary=primary,
            data=data or _rows_description(table, int(keep.sum())),
            contact_cost=settings.get("contact_cost", 1.0),
            conversion_value=settings.get("conversion_value", 10.0),
            n_boot=n_boot,
            seed=seed,
        )
        documents[name] = document
        comparisons[name] = document.get("comparisons") or []
        for b in mine:
            by_name.setdefault(b.name, {})[name] = document["models"][b.name]["metrics"]
        if mine:
            verdicts.append(f"{name}: {document.get('verdict')}")
    return {
        "primary": primary,
        "rows": table.num_rows,
        "rows_without_target": {name: metrics[name]["rows_without_target"] for name in names},
        "metrics": metrics,
        "baselines": by_name,
        "comparisons": comparisons,
        "verdict": " ".join(verdicts) if verdicts else None,
        "evaluation": documents,
    }
