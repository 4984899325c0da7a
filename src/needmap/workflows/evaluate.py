"""The evaluate workflow with the baselines: a saved model and the baselines saved beside it
(``baselines.json``), scored on the same new labelled rows, compared as training compared them on its
test rows.

The rows are transformed once by the model's preprocessor; the deep model and each baseline score the
same features; :func:`needmap.workflows.evaluation.evaluation_document` gives every model's metrics and
curves, and for a binary target the paired comparisons and the verdict. A multi-task model is
compared target by target, with the baselines saved for each target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.data.provenance import source_of
from needmap.errors import ConfigError
from needmap.estimator import Model
from needmap.metrics import task_metrics
from needmap.predictor import Predictor, as_predictor, by_target, head_columns
from needmap.preprocessing.target import target_names
from needmap.workflows.baseline import BASELINES_FILE, Baseline, load_baselines
from needmap.workflows.btyd import btyd_scores
from needmap.workflows.evaluation import evaluation_document
from needmap.workflows.selection import NETWORK, Choice
from needmap.workflows.verdict_text import holds_up_sentence


def saved_baselines(model: Model | Predictor, *, file: str | None = None) -> list[Baseline]:
    """The baselines saved with ``model`` (``model.extras_["baselines.json"]``); [] when it has none.

    ``file``: the model directory, named in errors. Raises ArtifactError when baselines.json is corrupted.
    """
    document = model.extras_.get(BASELINES_FILE)
    return [] if document is None else load_baselines(document, file=file)


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
    """The model's chosen scorer, its network and its saved baselines on the labelled rows of ``table``.

    Each target is evaluated on the rows that have it, beside the baselines saved for it; a model of
    several targets gives each result by target (``{target: ...}``, the verdict one sentence per target,
    "income: ...").

    Args:
        model: a fitted model: a Predictor (from ``needmap.load``) or a fitted Model (from ``run_train``).
        table: rows with the model's input columns and its target; rows without a target are left out
            and counted.
        n_boot: resamples of the paired bootstrap (binary; none on many rows, where the interval is the
            asymptotic one: :data:`needmap.metrics.compare.ASYMPTOTIC_CELLS`).
        seed: seed of the resampling: the same seed gives the same intervals.
        baselines: the baselines to score; None: those saved with the model (:func:`saved_baselines`,
            none when it has no baselines.json).
        data: which rows these are, in words (default: the file's name and the labelled rows' count).

    Returns:
        ``metrics``: the model's metrics as :meth:`Predictor.evaluate` gives them (its chosen scorer's, with
        ``rows_without_target``); ``baselines``: ``{name: metrics}`` on the same rows ({} without
        baselines); ``comparisons``: the paired comparisons of the chosen scorer's AUC with each
        other model's (binary; else []); ``verdict``: one sentence, how the saved choice holds up on these
        rows (:func:`needmap.workflows.verdict_text.holds_up_sentence`; a model saved without a choice: the
        paired-interval verdict), None without baselines; ``primary``: the chosen scorer's name (the first
        target's); ``rows``, ``rows_without_target``; ``evaluation``: the whole evaluation
        document (curves per model, :func:`needmap.workflows.evaluation.evaluation_document`).
    """
    model = as_predictor(model)
    bases = saved_baselines(model) if baselines is None else list(baselines)
    names = target_names(model.schema_)
    owners = [_owner(b, names) for b in bases]
    labelled = model.labelled_targets(table)  # checks every target column
    scored = np.logical_or.reduce([keep for _, _, keep, _ in labelled])  # rows with at least one target
    rows = table.filter(pa.array(scored)) if not scored.all() else table
    x = model.preprocessor_.transform(rows)
    outputs = head_columns(model.schema_, model.score(x))  # each target's chosen scorer
    networks = head_columns(model.schema_, model.network_score(x)) if model.selection_ else outputs
    choices = model.selection_ or [Choice(n) for n in names]
    predictions = [b.predict(x) for b in bases]
    network = f"{model.model} network"
    primaries = {c.target: network if c.scorer == NETWORK else c.scorer for c in choices}
    settings = (model.extras_.get("evaluation.json") or {}).get("profit_settings") or {}
    metrics: dict[str, dict[str, Any]] = {}
    by_name: dict[str, dict[str, Any]] = {}
    comparisons: dict[str, list[Any]] = {}
    documents: dict[str, Any] = {}
    verdicts: dict[str, Any] = {}
    for t, ((name, task, keep, y), output) in enumerate(zip(labelled, outputs, strict=True)):
        mask = keep[scored]
        metrics[name] = {**task_metrics(task, y, output[mask]), "rows_without_target": int((~keep).sum())}
        mine = [(b, p) for b, p, owner in zip(bases, predictions, owners, strict=True) if owner == name]
        if task == "ltv" and mine:  # the buy-till-you-die baseline reads the rows' BTYD columns, not the inputs
            mine += [(_Named(n), p) for n, p in btyd_scores(model.extras_, rows).items()]
        models = {primaries[name]: output, network: networks[t], **{b.name: p for b, p in mine}}  # chosen first
        where = data or _rows_description(table, int(keep.sum()))
        document = evaluation_document(
            y,
            {m: p[mask] for m, p in models.items()},
            task=task,
            primary=primaries[name],
            data=where,
            contact_cost=settings.get("contact_cost", 1.0),
            conversion_value=settings.get("conversion_value", 10.0),
            n_boot=n_boot,
            seed=seed,
        )
        documents[name] = document
        comparisons[name] = document.get("comparisons") or []
        for b, _ in mine:
            by_name.setdefault(b.name, {})[name] = document["models"][b.name]["metrics"]
        if mine and model.selection_:
            document["verdict"] = holds_up_sentence(choices[t], network, document, where)
        if mine:
            verdicts[name] = document.get("verdict")
    return {
        "primary": primaries[names[0]],
        "rows": rows.num_rows,
        "rows_without_target": by_target(model.schema_, {n: metrics[n]["rows_without_target"] for n in names}),
        "metrics": by_target(model.schema_, metrics),
        "baselines": {b: by_target(model.schema_, m) for b, m in by_name.items()},
        "comparisons": by_target(model.schema_, comparisons),
        "verdict": _verdict(names, verdicts),
        "evaluation": by_target(model.schema_, documents),
    }


@dataclass(frozen=True)
class _Named:
    """A baseline known here by its name alone (the BTYD baseline, scored from ``btyd.json``)."""

    name: str


def _owner(baseline: Baseline, names: Sequence[str]) -> str:
    """The target a saved baseline predicts: the one it was saved for, or the model's only target."""
    if baseline.target is None and len(names) == 1:
        return names[0]
    if baseline.target is None:
        raise ConfigError(
            f"the baseline {baseline.name} was saved for a model of one target; expected baselines saved for each "
            f"target of this model ({', '.join(names)})."
        )
    if baseline.target not in names:
        raise ConfigError(
            f"found baselines for {baseline.target!r}, expected baselines of this model's targets ({', '.join(names)})."
        )
    return baseline.target


def _verdict(names: Sequence[str], verdicts: dict[str, Any]) -> str | None:
    """One sentence: the only target's verdict, or each target's after its name ("income: ..."); None without
    baselines."""
    if not verdicts:
        return None
    return verdicts[names[0]] if len(names) == 1 else " ".join(f"{n}: {v}" for n, v in verdicts.items())
