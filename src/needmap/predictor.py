"""``needmap.Predictor``: what fitting a :class:`needmap.Model` produces, and what ``needmap.load`` returns.

A Predictor holds the fitted state in one place: the schema, the fitted preprocessor, the trained
network, the calibrator (with ``calibrate``), the scaling of a regression target, the training options,
and the documents about the fit (metrics, report, the optional files saved beside the model). Its public
methods are the one way the workflows, the report and the command line use a fitted model::

    predictor = needmap.Model("mlp", target="y").fit(table).predictor_   # or needmap.load("models/bank")
    predictor.predict(new_rows)          # Arrow table: id columns + score
    predictor.evaluate(test)             # {'auc': ..., 'logloss': ..., ...}
    predictor.score(predictor.preprocessor_.transform(rows))   # outputs of rows encoded once
    predictor.save("models/bank")

Each target's scores come from the scorer chosen for it when the model was trained (``selection_``: the
network, one of the baselines saved beside it, or a blend of the network with LightGBM;
:mod:`needmap.workflows.selection`); ``network_score`` gives the network's own.

The module is over 400 lines on purpose: the fitted object's public face (scores, metrics, persistence) and
``load``, which rebuilds it from a model directory, change together whenever the fitted state does; the
per-head helpers at the top are how every caller cuts :meth:`Predictor.score`'s outputs by target.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from needmap._version import __version__
from needmap.artifact import load_artifact, save_artifact
from needmap.data.provenance import first_row_of, source_of, take_rows
from needmap.data.read import read
from needmap.errors import ArtifactError, ConfigError, DataError, NeedmapError, SchemaError
from needmap.events.table_info import FeatureTableInfo
from needmap.metrics import task_metrics
from needmap.models.registry import build_model, check_saved_sizes
from needmap.preprocessing.preprocess import Preprocessor
from needmap.preprocessing.row import RowEncoder
from needmap.preprocessing.target import encode_target, head_schema, target_names, target_tasks
from needmap.runtime.arrow_memory import system_arrow_pool, uses_system_arrow_pool
from needmap.schema import Schema
from needmap.score_columns import head_columns, scores_notes, scores_table
from needmap.training.heads import head_kind
from needmap.training.one_row import OneRowForward
from needmap.training.predict import outputs_array
from needmap.training.target_heads import labelled_metrics
from needmap.training.trainer import TrainConfig, predict_raw
from needmap.workflows.baseline import BASELINES_FILE, Baseline, baselines_document, load_baselines
from needmap.workflows.selection import SELECTION_FILE, Choice, combine, load_selection

NOT_FITTED = "this model is not fitted yet; call fit() first or needmap.load() a saved model."
#: The model file holding how the inputs were built from an event log (a FeatureTableInfo as JSON).
EVENTS_FILE = "events.json"
#: The key of ``Predictor.encoded_fit_rows_`` that holds the network's scores of the validation rows.
VALIDATION_SCORES = "validation_network_scores"


def info_document(info: FeatureTableInfo) -> dict[str, Any]:
    """``info`` as the JSON document saved beside a model (:data:`EVENTS_FILE`)."""
    return json.loads(info.to_json())


def network_outputs(schema: Schema) -> int:
    """Outputs of the network: each head's in turn (K for a multiclass target of K classes, else 1)."""
    return sum(h.n_outputs for h in schema.heads)


def joined(parts: list[np.ndarray]) -> np.ndarray:
    """Per-head outputs as :meth:`Predictor.score` returns them: one head's as they are, several side by side."""
    return parts[0] if len(parts) == 1 else np.column_stack(parts)


def by_target(schema: Schema, per_head: Mapping[str, Any]) -> Any:
    """Per-target results as a model returns them: the one target's as they are, ``{target: ...}`` for several."""
    return per_head[schema.heads[0].name] if len(schema.heads) == 1 else dict(per_head)


def per_head_scaling(target_scaling: Any, n_heads: int) -> list[dict[str, float] | None]:
    """``target_scaling`` as one entry per head: a list as it is; one dict (a regression target's pair, as model
    files of one target held it) or None as that one head's, or None for every head."""
    if isinstance(target_scaling, list):
        return target_scaling
    if target_scaling is None:
        return [None] * n_heads
    return [dict(target_scaling)]


def _as_table(data: Any) -> pa.Table:
    return data if isinstance(data, pa.Table) else read(data)


class Predictor:
    """A fitted model: preprocessing, network, calibration and the documents about its fit.

    Args:
        model: the architecture's name in the registry (``needmap.models.available_models()``).
        schema: the columns' roles the model was fitted with.
        preprocessor: the fitted preprocessor.
        network: the trained network, in eval mode.
        params: the network's hyper-parameters (its ``config()``; saved in model.json).
        target_scaling: per target (head), ``{"mean", "std"}`` of a regression target's standardization,
            ``{"pos_weight": w}`` of a binary target trained with class weights (its scores undo the weight),
            None for the others (a single dict or None, as model files of one target hold it, is read as
            that one head's).
        calibrator: a fitted :class:`needmap.calibration.Calibrator` of a binary model's probabilities.
        train_config: the training options the network was trained with.
        metrics: validation metrics and training speed (saved as metrics.json, with ``report``).
        report: row counts and the preprocessing report of the fit.
        extras: optional JSON documents saved beside the model, by file name
            (:data:`needmap.artifact.OPTIONAL_FILES`), e.g. "evaluation.json", "tuning.json".
        result: the training history (:class:`needmap.training.trainer.TrainResult`); None when loaded.
        fit_rows: positions, in the training table after rows without a target were left out, of the
            rows that trained the network (``"train"``) and of its validation rows (``"validation"``);
            None when the rows were read from a file in parts, validated on a table of their own, or loaded.

    The attributes keep the names a fitted :class:`needmap.Model` shows: ``model``, ``params``,
    ``schema_``, ``preprocessor_``, ``network_``, ``calibrator_``, ``target_scaling_``,
    ``train_config_``, ``metrics_``, ``report_``, ``extras_``, ``result_``, ``fit_rows_``.
    """

    def __init__(
        self,
        model: str,
        schema: Schema,
        preprocessor: Preprocessor,
        network: torch.nn.Module,
        *,
        params: Mapping[str, Any] | None = None,
        target_scaling: dict[str, float] | list[dict[str, float] | None] | None = None,
        calibrator: Any = None,
        train_config: TrainConfig | None = None,
        metrics: Mapping[str, Any] | None = None,
        report: Mapping[str, Any] | None = None,
        extras: Mapping[str, Any] | None = None,
        result: Any = None,
        fit_rows: dict[str, np.ndarray] | None = None,
        selection: list[Choice] | None = None,
    ) -> None:
        self.model = model
        self.params = dict(params if params is not None else getattr(network, "config", dict)())
        self.schema_ = schema
        self.preprocessor_ = preprocessor
        self.network_ = network
        self.target_scaling_ = per_head_scaling(target_scaling, len(schema.heads))
        self.calibrator_ = calibrator
        #: The network in ONNX Runtime when set (:func:`needmap.workflows.onnx.use_onnxruntime`): scores come from it.
        self.onnx_: Any = None
        self.train_config_ = train_config
        self.metrics_: dict[str, Any] = dict(metrics or {})
        self.report_: dict[str, Any] = dict(report or {})
        self.extras_: dict[str, Any] = dict(extras or {})
        self.result_ = result
        self.fit_rows_ = fit_rows
        # The fit's encoded training and validation rows ({"train": FeatureBatch, "validation": FeatureBatch or
        # None}, and the network's scores of the validation rows under VALIDATION_SCORES), held only until the
        # training workflow has fitted the baselines on them and chosen the scorer; never saved.
        self.encoded_fit_rows_: dict[str, Any] | None = None
        self.selection_: list[Choice] | None = selection
        self._baselines: tuple[Any, list[Baseline]] | None = None
        self._row_encoder: tuple[Any, RowEncoder] | None = None
        self._one_row: OneRowForward | None = None

    @property
    def calibrate(self) -> str | None:
        """The calibration method of the calibrator ("isotonic", "platt"), or None without one."""
        return getattr(self.calibrator_, "method", None)

    # -- scores ------------------------------------------------------------------------------------
    def _raw(self, x: Any) -> np.ndarray:
        if self.onnx_ is not None:
            out = self.onnx_.raw(x)
            return out[:, 0] if out.shape[1] == 1 else out
        forward = None
        if len(x) == 1:  # online scoring: the network's traced one-row graph
            if self._one_row is None or self._one_row.model is not self.network_:
                self._one_row = OneRowForward(self.network_)
            forward = self._one_row
        # Each head's scaling is applied by score(), not by the network's buffer.
        return predict_raw(self.network_, x, target_scaling={"mean": 0.0, "std": 1.0}, forward=forward)

    def score(self, x: Any) -> np.ndarray:
        """The outputs of rows already encoded by ``preprocessor_`` (a FeatureBatch, or a training stream):
        probabilities (``[n]`` binary, calibrated with a calibrator; ``[n, K]`` multiclass) or predictions in
        the target's units (``[n]``); for a multi-task model ``[n, T]``, column t as the task of target t gives.
        Each target's from its chosen scorer (``selection_``: the network, a baseline or a blend; the network
        without a selection).

        Encoding once and scoring the batch is the path for chunks, folds and batches scored repeatedly."""
        network = self.network_score(x)
        if not self.selection_ or not any(c.needs_baselines for c in self.selection_):
            return network
        parts = head_columns(self.schema_, network)
        return joined(
            [
                combine(choice, part, self.baselines_of(choice.target), x)
                for choice, part in zip(self.selection_, parts, strict=True)
            ]
        )

    def baselines_of(self, target: str) -> list[Baseline]:
        """The baselines saved with the model (baselines.json) for ``target``; [] without any."""
        document = self.extras_.get(BASELINES_FILE)
        if document is None:
            return []
        if self._baselines is None or self._baselines[0] is not document:
            self._baselines = (document, load_baselines(document))
        single = len(self.schema_.heads) == 1
        return [b for b in self._baselines[1] if b.target == target or (single and b.target is None)]

    def use_baselines(self, baselines: list[Baseline]) -> None:
        """Save ``baselines`` with the model (baselines.json) and score with these objects as they are."""
        document = baselines_document(baselines)
        self.extras_[BASELINES_FILE] = document
        self._baselines = (document, list(baselines))

    def fit_part(self, table: pa.Table, part: str) -> Any:
        """The encoded rows of one part of the fit (``part``: "train" or "validation"): those the fit kept
        (``encoded_fit_rows_``), else the rows of ``table`` (the table the fit was given) at ``fit_rows_[part]``
        encoded again."""
        if self.encoded_fit_rows_ is not None:
            return self.encoded_fit_rows_[part]
        assert self.fit_rows_ is not None
        return self.preprocessor_.transform(take_rows(table, pa.array(self.fit_rows_[part])))

    def network_score(self, x: Any) -> np.ndarray:
        """The network's outputs (calibrated with a calibrator) of rows already encoded, whatever scorer was
        chosen: :meth:`score`'s layout."""
        return self.network_score_of_raw(self._raw(x))

    def network_score_of_raw(self, raw: np.ndarray | torch.Tensor) -> np.ndarray:
        """:meth:`network_score` from the network's raw outputs of the rows (``[n]`` or ``[n, K]``, as the
        network gives them: a tensor, or the float64 array :func:`~needmap.training.predict.predict_raw` makes
        of it), computed already."""
        raw = outputs_array(raw) if isinstance(raw, torch.Tensor) else np.asarray(raw).astype(np.float64, copy=False)
        heads, scaling = self.schema_.heads, self.target_scaling_
        parts = [
            head_kind(str(head.task)).scores(part.reshape(len(part), -1), scaling[t])
            for t, (head, part) in enumerate(zip(heads, head_columns(self.schema_, raw), strict=True))
        ]
        if self.calibrator_ is not None:  # a calibrator belongs to a model of one binary target
            parts[0] = self.calibrator_.transform(parts[0])
        return joined(parts)

    def evaluate_batch(self, x: Any, y: np.ndarray) -> dict[str, Any]:
        """Metrics of the outputs on encoded rows ``x`` against encoded targets ``y``
        (``preprocessor_.encode_target``), each target's over the rows that have it (:func:`by_target`)."""
        return self.evaluate_scores(self.score(x), y)

    def evaluate_scores(self, scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        """:meth:`evaluate_batch` of outputs already computed (``scores``: :meth:`score`'s layout) against encoded
        targets ``y``."""
        targets = np.asarray(y).reshape(len(y), -1)
        per_head = {
            head.name: labelled_metrics(str(head.task), targets[:, t], part)
            for t, (head, part) in enumerate(zip(self.schema_.heads, head_columns(self.schema_, scores), strict=True))
        }
        return by_target(self.schema_, per_head)

    def fit_validation_scores(self) -> np.ndarray | None:
        """The network's scores of the fit's validation rows (:meth:`network_score`'s, calibrated with a
        calibrator) while the fit's encoded rows are kept (``encoded_fit_rows_``); None otherwise."""
        return None if self.encoded_fit_rows_ is None else self.encoded_fit_rows_.get(VALIDATION_SCORES)

    def predict_proba(self, data: Any) -> np.ndarray:
        """Scores as an array: P(positive) ``[n]`` (binary), class probabilities ``[n, K]``
        (multiclass), predictions in the target's units ``[n]`` (regression) or ``[n, 3]`` for a lifetime-value
        target (the expected spend, the chance to buy, the expected spend of a buyer); ``[n, T]`` for a
        multi-task model (column t: target t's probability or prediction).

        One raw row given as a dict takes the online path (:class:`needmap.preprocessing.row.RowEncoder`,
        the same features without Arrow's per-call cost) where it covers the row's values.
        """
        if isinstance(data, Mapping):
            if self._row_encoder is None or self._row_encoder[0] is not self.preprocessor_:
                self._row_encoder = (self.preprocessor_, RowEncoder(self.preprocessor_))
            batch = self._row_encoder[1].encode(data)
            if batch is not None:
                return self.score(batch)
        with system_arrow_pool():
            return self.score(self.preprocessor_.transform(_as_table(data)))

    def predict(self, data: Any) -> pa.Table:
        """Score every row of ``data`` (no row is dropped); returns an Arrow table.

        Columns: the id column(s) of the schema, then ``score`` (binary: probability of
        ``schema.classes[1]``), or ``predicted`` and ``proba_<class>`` per class (multiclass), or
        ``prediction`` (regression, in the target's units); for a multi-task model one column per
        target: ``score_<target>`` (binary) or ``prediction_<target>`` (regression). Extra columns
        in ``data`` are ignored, their order does not matter, unseen categories go to the
        out-of-vocabulary id. Rows without the id columns are scored without them, and an output that an
        id column's name takes is written as ``needmap_<name>`` (:mod:`needmap.score_columns`); each with
        a ``UserWarning``.
        """
        table = _as_table(data)
        for note in scores_notes(self.schema_, table.column_names):
            warnings.warn(note, UserWarning, stacklevel=2)
        return scores_table(table, self.schema_, self.predict_proba(table))

    @property
    def events_info(self) -> FeatureTableInfo | None:
        """How the model's inputs were built from an event log (saved as ``events.json``), or None for a model
        trained on any other table."""
        document = self.extras_.get(EVENTS_FILE)
        if document is None:
            return None
        return FeatureTableInfo.from_json(json.dumps(document), where=EVENTS_FILE)

    def predict_events(self, log: Any, *, as_of: Any, progress: bool = False) -> pa.Table:
        """Score every customer of an event log at the cutoff ``as_of``: the log's features are built as the
        training table's were (:func:`needmap.events.build.build_features` with the saved spec, no labels, the
        training table's choices such as its top categories), then scored.

        Args:
            log: the event log (a path or anything the feature builder reads).
            as_of: the cutoff (a date, a datetime or ISO text): features from events strictly before it.
            progress: show the builder's progress.

        Returns: one row per customer: the customer column exactly as in the log, the cutoff, then the scores
        (:meth:`predict`'s columns). ConfigError for a model not trained on a table built from an event log.
        """
        info = self.events_info
        if info is None:
            raise ConfigError(
                f"this model was not trained on a table built from an event log (it has no {EVENTS_FILE}), so it "
                "does not know how to build its inputs from one; expected a model trained on the output of "
                "needmap features, or a table of rows to score."
            )
        from needmap.events.build import build_features

        table = build_features(log, info.spec, [as_of], labels=False, like=info, progress=progress)
        scores = self.predict(table)
        name = info.cutoff_column
        if name in table.column_names and name not in scores.column_names:
            at = len([c for c in scores.column_names if c in self.schema_.ids])
            scores = scores.add_column(at, name, table.column(name))
        return scores

    # -- reasons -----------------------------------------------------------------------------------
    @property
    def population_(self) -> Any:
        """The rows the model was fitted on, summarized (``population.json``:
        :class:`needmap.explain.population.Population`), or None for a model saved without one."""
        from needmap.explain.population import POPULATION_FILE, Population

        document = self.extras_.get(POPULATION_FILE)
        if document is None:
            return None
        cached = getattr(self, "_population", None)
        if cached is None or cached[0] is not document:
            found = Population.from_dict(document, file=POPULATION_FILE).check(self.preprocessor_, file=POPULATION_FILE)
            cached = self._population = (document, found)
        return cached[1]

    def attributions(self, data: Any, *, background: Any = None) -> Any:
        """Each row's attribution per input column (Integrated Gradients on the network's output, summed to the
        columns: :func:`needmap.explain.attributions.column_attributions`). ``background``: the rows whose
        means and most frequent categories make the reference row; by default the population the model was
        fitted on (:attr:`population_`), or ``data`` for a model saved without one."""
        from needmap.explain.attributions import column_attributions

        return column_attributions(self, data, background=self.population_ if background is None else background)

    def explain(self, data: Any, *, top: int = 5, background: Any = None) -> pa.Table:
        """The reason codes of each row: the ``top`` columns that raise its score and the ``top`` that lower it,
        with the customer's value and how it compares with the population (``background``; by default the one
        the model was fitted on, :attr:`population_`, or ``data`` for a model saved without one), as sentences
        (:func:`needmap.explain.reasons.reason_table`); the id columns as they came in. One customer alone is
        explained against the saved population."""
        from needmap.explain.reasons import reason_table

        table = _as_table(data)
        population = self.population_ if background is None else _as_table(background)
        found = self.attributions(table, background=population)
        task = self.schema_.heads[0].task if self.schema_.heads else self.schema_.task
        outcome = "score" if task in ("binary", "multiclass") else "prediction"
        return reason_table(found, table, ids=self.schema_.ids, top=top, population=population, outcome=outcome)

    # -- metrics -----------------------------------------------------------------------------------
    @uses_system_arrow_pool
    def evaluate(self, data: Any) -> dict[str, Any]:
        """Metrics on labelled rows: AUC, logloss, PR-AUC, accuracy, precision, recall, calibration
        error, lift and capture in the top 10% (binary); accuracy, logloss, macro AUC (multiclass);
        RMSE, MAE, R² (regression). Rows with a missing target are left out and counted in
        ``rows_without_target``. A multi-task model returns ``{target: metrics}``, each target's
        metrics over the rows that have a value for it."""
        table = _as_table(data)
        labelled = self.labelled_targets(table)  # checks every target column before scoring
        scored = np.logical_or.reduce([keep for _, _, keep, _ in labelled])  # rows with at least one target
        if not scored.all():
            table = table.filter(pa.array(scored))
        parts = head_columns(self.schema_, self.score(self.preprocessor_.transform(table)))
        per_head: dict[str, dict[str, Any]] = {}
        for (name, task, keep, y), part in zip(labelled, parts, strict=True):
            metrics = task_metrics(task, y, part[keep[scored]])
            metrics["rows_without_target"] = int((~keep).sum())
            per_head[name] = metrics
        return by_target(self.schema_, per_head)

    def labelled_targets(self, table: pa.Table) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
        """Per target of a multi-task model, in target order: its name, its task, the mask bool ``[n]`` of
        the rows of ``table`` that have a value for it, and those values encoded ``[k]``.

        SchemaError when a target column is absent, DataError when no row has a value for a target."""
        names, tasks = target_names(self.schema_), target_tasks(self.schema_)
        file = source_of(table)
        absent = [name for name in names if name not in table.column_names]
        if absent:
            raise SchemaError(
                f"the evaluation data has no target column {', '.join(map(repr, absent))}; expected every target "
                f"({', '.join(names)}) to compare the scores with.",
                file=file,
                column=absent[0],
            )
        labelled = []
        for name, task in zip(names, tasks, strict=True):
            column = table.column(name)
            keep = np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)
            if not keep.any():
                raise DataError(
                    f"no row has a value in the target column '{name}'; expected labelled rows.", file=file, column=name
                )
            dropped = int((~keep).sum())
            values = column.filter(pa.array(keep)) if dropped else column
            first_row = None if dropped else first_row_of(table)
            y = encode_target(values, head_schema(self.schema_, name), file=file, first_row=first_row)
            labelled.append((name, task, keep, y))
        return labelled

    # -- persistence -------------------------------------------------------------------------------
    def model_description(self) -> dict[str, Any]:
        """The content of model.json (without format version and checksum)."""
        config = self.network_.config() if hasattr(self.network_, "config") else dict(self.params)
        return {
            "needmap_version": __version__,
            "architecture": self.model,
            "params": config,
            "n_numeric": int(self.preprocessor_.n_numeric_),
            "cardinalities": [int(c) for c in self.preprocessor_.cardinalities_],
            "lists": list(getattr(self.network_, "lists", [])),
            "n_outputs": network_outputs(self.schema_),
            "task": self.schema_.task,
            "target": self.schema_.target,
            "targets": target_names(self.schema_),
            "tasks": target_tasks(self.schema_),
            "train": self.train_config_.to_dict() if self.train_config_ else {},
            "target_scaling": self.target_scaling_,
        }

    def save(self, path: str | os.PathLike[str], *, extra_metrics: Mapping[str, Any] | None = None) -> Path:
        """Write the model directory (see needmap.artifact) atomically; returns its path."""
        from needmap.card import model_card

        metrics = {**self.metrics_, **(extra_metrics or {}), "report": self.report_}
        description = self.model_description()
        return save_artifact(
            path,
            model=description,
            schema=self.schema_.to_dict(),
            preprocessor=self.preprocessor_.to_dict(),
            state_dict=self.network_.state_dict(),
            metrics=metrics,
            card=model_card(description, self.schema_, metrics),
            extras=self.extras_,
        )


def as_predictor(fitted: Any) -> Predictor:
    """``fitted`` when it is a Predictor, else the Predictor of a fitted :class:`needmap.Model`
    (its ``predictor_``); ConfigError for a model not fitted yet."""
    if isinstance(fitted, Predictor):
        return fitted
    predictor = getattr(fitted, "predictor_", None)
    if not isinstance(predictor, Predictor):
        raise ConfigError(NOT_FITTED)
    return predictor


def load(path: str | os.PathLike[str]) -> Any:
    """Load a model directory written by :meth:`Predictor.save` (or ``needmap train``); a recommender's
    directory (``needmap train --task recommend``, :meth:`needmap.Recommender.save`) gives a Recommender, an
    uplift model's (``needmap train --task uplift``) an :class:`~needmap.uplift.model.UpliftPredictor`.

    Reads JSON and safetensors only; no code from the directory is executed. Raises ArtifactError
    when a file is missing or corrupted or the format version does not match.
    """
    if (Path(path) / "recommender.json").is_file() and not (Path(path) / "model.json").exists():
        from needmap.recommend.recommender import load_recommender

        return load_recommender(path)
    if (Path(path) / "uplift.json").is_file() and not (Path(path) / "model.json").exists():
        from needmap.uplift.model import load_uplift

        return load_uplift(path)
    contents = load_artifact(path)
    desc = contents.model
    try:
        schema = Schema.from_dict(contents.schema)
        try:
            preprocessor = Preprocessor.from_dict(contents.preprocessor)
        except ArtifactError as err:  # the file and the directory, which the preprocessor does not know
            raise ArtifactError(f"'preprocessor.json': {err.detail}", file=str(path), hint=err.hint) from None
        sizes = _saved_sizes(desc, preprocessor, path)
        check_saved_sizes(  # before anything is allocated: an edited model.json must not build a huge network
            desc["architecture"], {k: tuple(t.shape) for k, t in contents.state_dict.items()}, file=str(path), **sizes
        )
        network = build_model(desc["architecture"], **sizes)
        network.load_state_dict(contents.state_dict)
    except NeedmapError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ArtifactError(
            f"the model files do not fit together ({type(exc).__name__}: {exc}); expected the files that "
            "one needmap training run wrote.",
            file=str(path),
        ) from None
    network.eval()
    extras = dict(contents.extras)
    predictor = Predictor(
        desc["architecture"],
        schema,
        preprocessor,
        network,
        params=desc["params"],
        target_scaling=desc.get("target_scaling"),
        calibrator=_calibrator(extras, path),
        train_config=TrainConfig.from_dict(desc.get("train") or {}),
        metrics=contents.metrics,
        extras=extras,
        selection=_selection(extras, schema, path),
    )
    predictor.population_  # noqa: B018  read now: a broken population.json is an error of loading, not of explaining
    if predictor.selection_ and any(c.needs_baselines for c in predictor.selection_):
        document = extras[BASELINES_FILE]  # read now, so that a broken file is an error of loading, not of scoring
        predictor._baselines = (document, load_baselines(document, file=str(path)))
    return predictor


def _saved_sizes(desc: Any, preprocessor: Preprocessor, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The arguments of ``build_model`` that ``model.json`` records, checked for their types and against the
    preprocessor (the network must take the inputs it makes: a wrong count would fail, or index outside an
    embedding table, at scoring); ArtifactError naming what differs."""

    def fail(found: str, expected: str) -> NoReturn:
        raise ArtifactError(
            f"'model.json' {found}; expected {expected}.",
            file=str(path),
            hint="The model files do not belong together or were edited: restore them or train the model again.",
        )

    if not isinstance(desc, dict):
        fail(f"is {type(desc).__name__}", "an object")
    if not isinstance(desc.get("architecture"), str):
        fail(f"has the architecture {str(desc.get('architecture'))[:40]!r}", "the name of an architecture")
    params, lists = desc.get("params"), desc.get("lists") or []
    if not isinstance(params, dict) or not isinstance(lists, list):
        fail(f"has params {str(params)[:60]} and lists {str(lists)[:60]}", "an object and a list")
    clash = sorted(set(params) & {"n_numeric", "cardinalities", "n_outputs", "lists"})
    if clash:
        fail(f"has {clash} among the hyper-parameters", "them beside the hyper-parameters only")
    n_numeric, cardinalities, n_outputs = desc.get("n_numeric"), desc.get("cardinalities"), desc.get("n_outputs")
    if n_numeric != preprocessor.n_numeric_ or type(n_numeric) is not int:
        fail(f"has n_numeric {str(n_numeric)[:40]}", f"{preprocessor.n_numeric_}, the preprocessor's numeric inputs")
    if cardinalities != list(preprocessor.cardinalities_) or not all(type(c) is int for c in cardinalities):
        fail(
            f"has cardinalities {str(cardinalities)[:80]}",
            f"{str(list(preprocessor.cardinalities_))[:80]}, the ids of the preprocessor's categorical columns",
        )
    if type(n_outputs) is not int or n_outputs < 1:
        fail(f"has n_outputs {str(n_outputs)[:40]}", "a whole number of outputs, at least 1")
    return {"n_numeric": n_numeric, "cardinalities": cardinalities, "n_outputs": n_outputs, "lists": lists, **params}


def _selection(extras: Mapping[str, Any], schema: Schema, path: str | os.PathLike[str]) -> list[Choice] | None:
    """The scorers chosen per target (selection.json), or None (the network) without one; ArtifactError when
    it cannot be read or names a baseline the directory lacks."""
    if SELECTION_FILE not in extras:
        return None
    choices = load_selection(extras[SELECTION_FILE], target_names(schema), file=str(path))
    if any(c.needs_baselines for c in choices) and BASELINES_FILE not in extras:
        raise ArtifactError(
            f"'{SELECTION_FILE}' scores with a baseline and the directory has no '{BASELINES_FILE}'; expected both "
            "files as needmap train wrote them.",
            file=str(path),
        )
    return choices


def _calibrator(extras: Mapping[str, Any], path: str | os.PathLike[str]) -> Any:
    """The calibrator saved as calibration.json, or None without one; ArtifactError when it cannot be read."""
    if "calibration.json" not in extras:
        return None
    from needmap.calibration import Calibrator

    try:
        return Calibrator.from_dict(extras["calibration.json"])
    except NeedmapError as err:
        raise ArtifactError(err.detail, file=str(path), hint=err.hint) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(
            f"'calibration.json' cannot be read ({type(exc).__name__}: {exc}); expected the calibrator that "
            "needmap wrote.",
            file=str(path),
        ) from None
