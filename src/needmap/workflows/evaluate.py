"""The evaluate workflow with the baselines: a saved model and the baselines saved beside it
(``baselines.json``), scored on the same new labelled rows, compared as training compared them on its
test rows.

The rows are transformed once by the model's preprocessor; the deep model and each baseline score the
same features; :func:`needmap.workflows.evaluation.evaluation_document` gives every model's metrics and
curves, and for a binary target the paired bootstrap comparisons and the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.read import source_of
from needmap.errors import ConfigError, DataError, SchemaError
from needmap.estimator import Model
from needmap.metrics import task_metrics
from needmap.workflows.baseline import BASELINES_FILE, Baseline, load_baselines
from needmap.workflows.evaluation import evaluation_document


def saved_baselines(model: Model, *, file: str | None = None) -> list[Baseline]:
    """The baselines saved with ``model`` (``model.extras_["baselines.json"]``); [] when it has none.

    ``file``: the model directory, named in errors. Raises ArtifactError when baselines.json is corrupted.
    """
    document = model.extras_.get(BASELINES_FILE)
    return [] if document is None else load_baselines(document, file=file)


def _labelled(model: Model, table: pa.Table) -> tuple[pa.Table, int]:
    """The rows of ``table`` that have a value in the model's target, and how many were left out."""
    assert model.schema_ is not None
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
    model: Model,
    table: pa.Table,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    baselines: Sequence[Baseline] | None = None,
    data: str | None = None,
) -> dict[str, Any]:
    """The deep model and its saved baselines on the labelled rows of ``table``.

    Args:
        model: a fitted single-target model (from ``needmap.load`` or ``run_train``).
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
    model._check_fitted()
    assert model.schema_ is not None and model.preprocessor_ is not None
    if model.schema_.extra_targets:
        raise ConfigError(
            f"the baselines are saved for a model of one target; this model has {1 + len(model.schema_.extra_targets)}"
            " targets. Expected a single-target model (Model.evaluate gives a multi-task model's metrics)."
        )
    bases = saved_baselines(model) if baselines is None else list(baselines)
    labelled, dropped = _labelled(model, table)
    x = model.preprocessor_.transform(labelled)
    y = np.asarray(model.preprocessor_.encode_target(labelled))
    task = model.schema_.task or "binary"
    primary = f"{model.model} network"
    p_deep = model._outputs(x)
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
