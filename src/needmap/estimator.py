"""``needmap.Model``: the Python face of training, evaluation, prediction and saving.

In the habits of scikit-learn and Keras::

    model = needmap.Model("mlp", target="y", drop=["duration"], hidden=(256, 128))
    model.fit(table, validation=0.1, epochs=30)
    model.evaluate(test)          # {'auc': ..., 'logloss': ..., 'lift_at_10': ...}
    model.predict(new_rows)       # Arrow table: id columns + score
    model.save("models/campaign-7")
    needmap.load("models/campaign-7").predict(new_rows)   # a needmap.predictor.Predictor

A Model holds its parameters only (``get_params``, ``set_params``, :func:`clone`); ``fit`` returns the
model with what it learned in one object, ``model.predictor_`` (:class:`needmap.predictor.Predictor`:
preprocessor, network, calibrator, metrics), to which ``predict``, ``evaluate`` and ``save`` defer.

Constructor keywords are sorted into three groups by name: column roles (target, drop, id, ...),
training options (the fields of :class:`needmap.training.TrainConfig`: epochs, lr, batch_size, ...),
preprocessing options (the fields of :class:`needmap.preprocessing.preprocess.PreprocessConfig`:
scaling, clip_quantiles, min_frequency, ...), and the rest are the network's hyper-parameters
(for "mlp": hidden, embedding_dim, dropout, activation, batch_norm).

Several targets make a multi-task model (one output per target, each binary or regression)::

    model = needmap.Model("mmoe", target=["income", "married"], num_experts=4)
    model.fit(table).evaluate(test)   # {'income': {'auc': ...}, 'married': {'auc': ...}}
    model.predict(new_rows)           # id columns + score_income, score_married

The module is over 400 lines on purpose: it is the one Python face of a model, whose constructor names and
documents every parameter in its signature (as scikit-learn's estimators do) and whose fit ties the other
layers together. What fit does to the rows lives in :mod:`needmap.training_rows`, what it produces in
:mod:`needmap.predictor`.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from needmap.data.parquet_rows import ParquetRows
from needmap.data.roles import ColumnRoles
from needmap.data.split import sample_positions
from needmap.declare import unknown_message
from needmap.errors import ConfigError
from needmap.events.table_info import info_of, with_info
from needmap.explain.population import POPULATION_FILE, Population
from needmap.explain.population import SAMPLE_ROWS as POPULATION_SAMPLE_ROWS
from needmap.metrics import task_metrics
from needmap.models.options import NetworkOptions
from needmap.models.registry import architecture_options, available_models, build_model
from needmap.predictor import (  # noqa: F401
    EVENTS_FILE,
    NOT_FITTED,
    VALIDATION_SCORES,
    Predictor,
    info_document,
    load,
    network_outputs,
    scores_table,
)
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.preprocess import PreprocessConfig
from needmap.preprocessing.roles_schema import as_list, column_roles, schema_with_roles
from needmap.preprocessing.target import (
    target_names,
    target_tasks,
)
from needmap.runtime.arrow_memory import release_unused_memory, uses_system_arrow_pool
from needmap.schema import Schema
from needmap.training.from_file import SCHEMA_SAMPLE_ROWS
from needmap.training.stream import TrainingStream
from needmap.training.trainer import TrainConfig, Trainer
from needmap.training_rows import (
    STREAM_MIN_ROWS,
    PreparedRows,
    TableLike,
    as_table,
    clean_training_table,
    info_of_parquet,
    parquet_rows,
    prepare_file,
    prepare_table,
)
from needmap.workflows.run_options import ModelOptions

CALIBRATION_METHODS = (None, "isotonic", "platt")


def _field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def fit_taking(model: Model, rows: list[pa.Table], **options: Any) -> Model:
    """``model.fit(table, **options)`` on the one table in ``rows``, taken out of the list: where the caller holds
    no other reference to it (the train workflow), the raw rows' memory goes once they are encoded, before the
    network trains. ``options``: :meth:`Model.fit`'s keywords, its defaults for those not given."""
    keywords = inspect.signature(Model.fit).parameters.values()
    defaults = {p.name: p.default for p in keywords if p.kind is inspect.Parameter.KEYWORD_ONLY}
    return model._fit_taken(rows, **{**defaults, **options})


def _population_rows(rows: ParquetRows, parts: tuple[Any, Any] | None, seed: int) -> pa.Table:
    """The rows of a streamed file that the population reasons compare with: a sample of the fit's rows (spread
    over the file; with ``parts``, drawn from its training and validation rows alone, never the rows left out)."""
    if parts is None:
        return rows.sample(POPULATION_SAMPLE_ROWS)
    fit = np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])
    sample = sample_positions(len(fit), POPULATION_SAMPLE_ROWS, seed)
    return rows.take(np.unique(fit if sample is None else fit[sample]))


def _checked_parts(parts: tuple[Any, Any], rows: ParquetRows) -> tuple[np.ndarray, np.ndarray]:
    """``Model.fit``'s ``parts`` as two int64 arrays of the file's row numbers; ConfigError for anything else."""
    try:
        train, valid = (np.asarray(p, dtype=np.int64).reshape(-1) for p in parts)
    except (TypeError, ValueError):
        raise ConfigError(
            "parts is not (training rows, validation rows); expected two arrays of the file's row numbers."
        ) from None
    for name, part in (("training", train), ("validation", valid)):
        if len(part) and (part.min() < 0 or part.max() >= rows.num_rows):
            raise ConfigError(
                f"parts names {name} row {int(part.min() if part.min() < 0 else part.max())}, outside the file "
                f"{rows.path!r}; expected row numbers 0 to {rows.num_rows - 1}."
            )
    if len(train) == 0:
        raise ConfigError("parts names no training row; expected at least one of the file's row numbers.")
    return train, valid


#: The constructor's named parameters, in order; every other keyword is one of ``options``.
PARAMETERS = (
    "model",
    "target",
    "task",
    "drop",
    "id",
    "categorical",
    "numeric",
    "datetime",
    "multihot",
    "sequence",
    "hash",
    "bucketize",
    "column_options",
    "preprocess",
    "calibrate",
)
_NOTHING: Mapping[str, Any] = MappingProxyType({})


def _fitted_attribute(name: str, doc: str) -> property:
    """A read-only attribute of a Model that reads its Predictor's ``name``: None before fit (an empty
    read-only mapping for the documents metrics_, report_ and extras_)."""
    empty = _NOTHING if name in ("metrics_", "report_", "extras_") else None

    def get(model: Model) -> Any:
        return empty if model.predictor_ is None else getattr(model.predictor_, name)

    return property(get, doc=f"{doc} (Read from ``predictor_``.)")


class Model:
    """A deep model for a customer table: preprocessing, network and training options in one object.

    Args:
        model: architecture name from the registry (``needmap.models.available_models()``).
        target: the outcome column to predict; several columns (a list, or "a,b" when no column
            has that name) make a multi-task model with one output per target, in that order, each
            binary or regression ("mmoe", "ple", or any model as a shared-bottom network).
        task: "binary", "multiclass" or "regression"; inferred from the target when None; or "ltv" (never
            inferred): a spend over a horizon, mostly 0, learned by a zero-inflated log-normal head whose scores
            are the expected spend, the chance to buy and the spend of a buyer (docs/ltv.md). For several targets,
            one task for all or one per target (a list or "binary,regression").
        drop, id, categorical, numeric, datetime: column-role overrides (names or a comma list).
        multihot, sequence: list columns (multi-hot sets, ordered behaviour sequences): names or
            ``{name: {separator, max_len, pooling, vocabulary_of}}``.
        hash: categorical columns hashed into buckets: names (100,000 buckets) or ``{name: buckets}``.
        bucketize: numeric columns turned into quantile-bucket ids: names (10) or ``{name: buckets}``;
            the name ``"*"`` stands for every numeric column (``bucketize={"*": 20}``).
        column_options: ``{name: {option: value}}``, further per-column options (``ColumnSpec.options``).
        preprocess: a PreprocessConfig or a dict of its fields.
        calibrate: "isotonic" or "platt" to recalibrate a binary model's probabilities on the
            validation rows after training (:class:`needmap.calibration.Calibrator`); None keeps the
            network's own.
        **options: training options (TrainConfig fields), preprocessing options (PreprocessConfig
            fields) and network hyper-parameters, sorted by name (``train_options``,
            ``preprocess_options``, ``params``).

    In the habits of scikit-learn, the constructor stores its parameters as given (``get_params``,
    ``set_params``, :func:`clone`) and :meth:`fit` never changes them: fitting produces a
    :class:`needmap.predictor.Predictor`, kept in ``predictor_``, which holds every piece of learned
    state. ``schema_``, ``preprocessor_``, ``network_``, ``result_`` (training history), ``metrics_``
    (validation metrics and training speed), ``report_``, ``extras_``, ``calibrator_`` (with
    ``calibrate``), ``target_scaling_``, ``train_config_`` and ``fit_rows_`` (which rows trained and
    which validated) read it (None, or an empty read-only mapping, before :meth:`fit`).
    """

    def __init__(
        self,
        model: str = "mlp",
        *,
        target: str | Sequence[str] | None = None,
        task: str | Sequence[str] | None = None,
        drop: str | Iterable[str] | None = None,
        id: str | Iterable[str] | None = None,
        categorical: str | Iterable[str] | None = None,
        numeric: str | Iterable[str] | None = None,
        datetime: str | Iterable[str] | None = None,
        multihot: str | Iterable[str] | Mapping[str, Any] | None = None,
        sequence: str | Iterable[str] | Mapping[str, Any] | None = None,
        hash: str | Iterable[str] | Mapping[str, Any] | None = None,
        bucketize: str | Iterable[str] | Mapping[str, Any] | None = None,
        column_options: Mapping[str, Mapping[str, Any]] | None = None,
        preprocess: PreprocessConfig | Mapping[str, Any] | None = None,
        calibrate: str | None = None,
        **options: Any,
    ) -> None:
        self.model = model
        self.target = target
        self.task = task
        self.drop = drop
        self.id = id
        self.categorical = categorical
        self.numeric = numeric
        self.datetime = datetime
        self.multihot = multihot
        self.sequence = sequence
        self.hash = hash
        self.bucketize = bucketize
        self.column_options = column_options
        self.preprocess = preprocess
        self.calibrate = calibrate
        self.options = dict(options)
        self._validate_params()
        # What fit() produces: the one place of the fitted state.
        self.predictor_: Predictor | None = None

    # -- parameters ---------------------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters, by name: ``Model(**model.get_params())`` is an unfitted copy.

        The keyword options (training, preprocessing and network options) come flat, after the named
        parameters. ``deep`` is accepted for scikit-learn's signature; a Model holds no estimators."""
        return {**{name: getattr(self, name) for name in PARAMETERS}, **self.options}

    def set_params(self, **params: Any) -> Model:
        """Set constructor parameters by name (any other name is a keyword option); returns self.

        The values are checked as the constructor checks them; a fitted model keeps its fitted state
        until the next :meth:`fit`."""
        for name, value in params.items():
            if name in PARAMETERS:
                setattr(self, name, value)
            else:
                self.options[name] = value
        self._validate_params()
        return self

    def clone(self) -> Model:
        """An unfitted copy with equal parameters (see :func:`clone`)."""
        return clone(self)

    def _validate_params(self) -> None:
        """ConfigError for a parameter the constructor cannot take (the same checks as fit's)."""
        if self.calibrate not in CALIBRATION_METHODS:
            raise ConfigError(
                f"calibrate={self.calibrate!r} is not a calibration method; expected one of "
                f"{', '.join(repr(m) for m in CALIBRATION_METHODS)}."
            )
        self._roles()
        PreprocessConfig.from_dict(self.preprocess_options)
        TrainConfig.from_dict(self.train_options)
        self._check_network_options()

    def _check_network_options(self) -> None:
        """ConfigError for a keyword that is no option of any kind, naming the closest of every kind, and for
        a common network option with a value it does not take (:class:`needmap.models.options.NetworkOptions`)."""
        NetworkOptions(**{k: v for k, v in self.params.items() if k in NetworkOptions.declared()})
        if self.model not in available_models():
            return  # fit names the unknown architecture
        own = architecture_options(self.model)
        unknown = [key for key in self.params if key not in own]
        if unknown:
            raise ConfigError(
                unknown_message(
                    unknown,
                    (ColumnRoles, ModelOptions, PreprocessConfig, NetworkOptions, TrainConfig),
                    others={f"{self.model} network": [k for k in own if k not in NetworkOptions.declared()]},
                )
            )

    @property
    def train_options(self) -> dict[str, Any]:
        """The keyword options that are training options (TrainConfig fields)."""
        keys = _field_names(TrainConfig)
        return {key: value for key, value in self.options.items() if key in keys}

    @property
    def preprocess_options(self) -> dict[str, Any]:
        """``preprocess`` with the keyword options that are preprocessing options (PreprocessConfig fields)
        over it."""
        given = self.preprocess
        prep = dict(given.to_dict() if isinstance(given, PreprocessConfig) else given or {})
        train_keys, prep_keys = _field_names(TrainConfig), _field_names(PreprocessConfig)
        prep.update({k: v for k, v in self.options.items() if k in prep_keys and k not in train_keys})
        return prep

    @property
    def params(self) -> dict[str, Any]:
        """The keyword options that are the network's hyper-parameters (neither training nor preprocessing)."""
        known = _field_names(TrainConfig) | _field_names(PreprocessConfig)
        return {key: value for key, value in self.options.items() if key not in known}

    def _roles(self) -> dict[str, Any]:
        """The column-role parameters in one form: lists of names and ``{name: options}`` mappings."""
        return column_roles(**self._role_params())

    def _role_params(self) -> dict[str, Any]:
        names = ("drop", "id", "categorical", "numeric", "datetime", "multihot", "sequence", "hash", "bucketize")
        return {**{name: getattr(self, name) for name in names}, "column_options": self.column_options}

    # -- the schema and the training table -------------------------------------------------------
    def infer_schema(self, table: pa.Table) -> Schema:
        """The schema this model would use for ``table``: inferred roles plus this model's overrides
        (:func:`needmap.preprocessing.roles_schema.schema_with_roles`).

        Each target is one of the schema's ``heads``, in the order given (see
        :func:`needmap.preprocessing.target.add_targets`).
        """
        return schema_with_roles(table, self.target, self.task, **self._role_params())

    def clean(self, table: pa.Table, schema: Schema) -> tuple[pa.Table, dict[str, Any]]:
        """:func:`clean_training_table` with this model's dropped columns and ``max_unparseable``: the
        checks of a whole training table before any split, the rows without a target left out and counted."""
        max_unparseable = PreprocessConfig.from_dict(self.preprocess_options).max_unparseable
        return clean_training_table(table, schema, user_dropped=as_list(self.drop), max_unparseable=max_unparseable)

    def prepare(self, table: pa.Table, *, validation: float = 0.1, schema: Schema | None = None) -> PreparedRows:
        """The rows :meth:`fit` would train and validate on, without training a network: the same checks,
        the same validation share drawn with this model's seed, a preprocessor fitted on the training part
        and both parts encoded (:class:`needmap.training_rows.PreparedRows`).

        For a model fitted beside the network on the same features and rows, such as LightGBM in a
        cross-validated search (:mod:`needmap.workflows.tune_cv`)."""
        schema = schema or self.infer_schema(table)
        config = TrainConfig.from_dict(self.train_options)
        prep_config = PreprocessConfig.from_dict(self.preprocess_options)
        return prepare_table(table, schema, prep_config, config, validation, as_list(self.drop))

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        data: TableLike,
        *,
        validation: float | TableLike = 0.1,
        schema: Schema | None = None,
        stream: bool | None = None,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        keep_encoded_rows: bool = False,
        parts: tuple[Any, Any] | None = None,
        **train: Any,
    ) -> Model:
        """Fit preprocessing on ``data`` and train the network by backpropagation.

        Args:
            data: the training rows (anything :func:`needmap.read` accepts).
            validation: share of ``data`` held out (stratified for classification) for early
                stopping and validation metrics; 0 trains on every row without early stopping; or
                a table of its own (rows without a target are left out and counted).
            schema: a schema to use instead of inferring one.
            stream: read ``data``, a Parquet file, a part at a time instead of whole: statistics one
                column at a time, training rows a slice of a row group at a time through a shuffle
                buffer (:mod:`needmap.training.from_file`), so that the file need not fit in memory.
                None (default): stream a Parquet file of at least :data:`needmap.training_rows.STREAM_MIN_ROWS` rows.
            on_epoch: called after each epoch with its history entry (see
                :meth:`needmap.training.trainer.Trainer.fit`); an exception it raises ends the fit.
            keep_encoded_rows: keep the encoded training and validation rows on the predictor
                (``predictor_.encoded_fit_rows_``) for the caller to reuse and then release, as the train
                workflow does for its baselines; by default they are freed with the fit. A streamed file's
                training rows are not kept (the validation rows and their scores are).
            parts: for a streamed Parquet file, the row numbers of the file (0-based) that train and those that
                validate, instead of a ``validation`` share; the other rows are left out (the held-out test rows of
                :func:`needmap.workflows.train.run_train`).
            **train: training options for this call (TrainConfig fields: epochs, lr, ...), over the
                model's own; the model's parameters stay as they are.
        Returns: self, with the fitted :class:`~needmap.predictor.Predictor` in ``predictor_``.

        A table built from an event log (one that carries a :class:`needmap.events.table_info.FeatureTableInfo`)
        keeps its labels other than the target, its cutoff and its customer out of the inputs, validates on its
        latest cutoff instead of a share (:func:`needmap.training_rows.validation_by_cutoff`, a file read in parts
        too), and its description is saved with the model (``extras_["events.json"]``) for
        :meth:`needmap.predictor.Predictor.predict_events`.
        """
        return self._fit_taken(
            [data], validation=validation, schema=schema, stream=stream, on_epoch=on_epoch,
            keep_encoded_rows=keep_encoded_rows, parts=parts, **train,
        )  # fmt: skip

    @uses_system_arrow_pool
    def _fit_taken(
        self,
        given: list[TableLike],
        *,
        validation: float | TableLike,
        schema: Schema | None,
        stream: bool | None,
        on_epoch: Callable[[dict[str, Any]], None] | None,
        keep_encoded_rows: bool,
        parts: tuple[Any, Any] | None,
        **train: Any,
    ) -> Model:
        """:meth:`fit` on the rows in ``given``, a list the rows are taken out of: where the caller holds no other
        reference (the train workflow, :func:`needmap.workflows.train_table.fit_table`), the raw rows' memory goes
        once they are encoded, before training."""
        data = given.pop()
        if self.target is None and schema is None:
            raise ConfigError("no target column given; expected Model(..., target='column').")
        unknown = set(train) - _field_names(TrainConfig)
        if unknown:
            raise ConfigError(
                f"unknown training option(s) {sorted(unknown)}; expected some of {sorted(_field_names(TrainConfig))}."
            )
        config = TrainConfig.from_dict({**self.train_options, **train})
        prep_config = PreprocessConfig.from_dict(self.preprocess_options)
        if isinstance(validation, int | float) and not 0 <= validation < 1:
            raise ConfigError(f"validation={validation} is not a share of the rows; expected 0 <= validation < 1.")
        rows = parquet_rows(data, stream)
        dropped = as_list(self.drop)
        info = None
        if parts is not None and rows is None:
            raise ConfigError(
                "parts names row numbers of a streamed Parquet file; expected a Parquet file and stream=True (or a "
                f"file of at least {STREAM_MIN_ROWS:,} rows), got {type(data).__name__}."
            )
        if rows is not None:
            if not isinstance(validation, int | float):
                raise ConfigError(
                    f"fit streams the Parquet file {rows.path!r} ({rows.num_rows:,} rows; stream={stream!r}), which "
                    "holds its validation rows out of the file itself; expected validation as a share "
                    f"(0 <= validation < 1), got a {type(validation).__name__}.",
                    hint="Pass stream=False to read the file whole and validate on this table.",
                )
            info = info_of_parquet(rows.path)
            if schema is None:
                sample = rows.sample(SCHEMA_SAMPLE_ROWS)
                schema = self.infer_schema(sample if info is None else with_info(sample, info))
                release_unused_memory()
            if parts is not None and info is not None:
                raise ConfigError(
                    f"parts chooses the validation rows, and {rows.path!r} is a table built from an event log, which "
                    "validates on its latest cutoff; expected no parts for it."
                )
            if parts is not None:
                parts = _checked_parts(parts, rows)
            prepared = prepare_file(rows, schema, prep_config, config, validation, dropped, info, parts)
            fitted_rows = _population_rows(rows, parts, config.seed)
        else:
            table = as_table(data)
            info = info_of(table)
            schema = schema or self.infer_schema(table)
            fitted_rows = Population.rows_of(table, seed=config.seed)  # summarized once the preprocessor is fitted
            whole, data, table = [table], None, None  # the preparation lets it go once split (the caller holds none)
            prepared = prepare_table(whole, schema, prep_config, config, validation, dropped)
        schema, preprocessor, report = prepared.schema, prepared.preprocessor, prepared.report
        x_train, y_train, x_valid, y_valid = prepared.x_train, prepared.y_train, prepared.x_valid, prepared.y_valid
        self._check_calibration(schema, x_valid)
        # the population reasons compare a customer with, and the reference row of attributions
        population = Population.of(fitted_rows, preprocessor, seed=config.seed).to_dict()
        fitted_rows = None
        torch.manual_seed(config.seed)
        try:
            network = build_model(
                self.model,
                n_numeric=preprocessor.n_numeric_,
                cardinalities=list(preprocessor.cardinalities_),
                n_outputs=network_outputs(schema),
                lists=list(getattr(preprocessor, "list_specs_", [])),
                **self.params,
            )
        except TypeError as exc:
            raise ConfigError(f"model '{self.model}' does not accept these options: {exc}.") from None
        trainer = Trainer(network, target_tasks(schema), config, names=target_names(schema))
        result = trainer.fit(x_train, y_train, x_valid, y_valid, on_epoch=on_epoch)
        report["train_rows"] = len(x_train)
        report["validation_rows"] = 0 if x_valid is None else len(x_valid)
        # How the rows were read: whole ('table'), or from a Parquet file in parts ('file'); and whether
        # training read them from the file again each epoch (too large to hold encoded) or held them.
        report["read"] = "table" if rows is None else "file"
        report["streamed_each_epoch"] = isinstance(x_train, TrainingStream)
        report["preprocessing"] = preprocessor.report_
        params = network.config() if hasattr(network, "config") else dict(self.params)
        predictor = Predictor(
            self.model,
            schema,
            preprocessor,
            network,
            params=params,
            target_scaling=trainer.target_scaling,
            train_config=config,
            report=report,
            result=result,
            fit_rows=prepared.fit_rows,
        )
        if info is not None:  # how the inputs were built from a log: predict builds today's the same way
            predictor.extras_[EVENTS_FILE] = info_document(info)
        predictor.extras_[POPULATION_FILE] = population
        valid_metrics, valid_scores = (
            self._calibrate(predictor, x_valid, y_valid, trainer.validation_outputs)
            if x_valid is not None
            else (None, None)
        )
        if keep_encoded_rows and isinstance(x_train, FeatureBatch) and prepared.fit_rows is not None:
            # with the network's scores of the validation rows, so that choosing the scorer does not score them again
            predictor.encoded_fit_rows_ = {"train": x_train, "validation": x_valid, VALIDATION_SCORES: valid_scores}
        elif keep_encoded_rows and rows is not None:  # the file's training rows are not held: the caller encodes some
            predictor.encoded_fit_rows_ = {"validation": x_valid, VALIDATION_SCORES: valid_scores}
        predictor.metrics_ = {
            "validation": valid_metrics,
            "training": {
                "wall_time_s": result.wall_time_s,
                "train_time_s": result.train_time_s,
                "rows_per_s": result.rows_per_s,
                "embedding_updates": result.embedding_updates,
                "precision": config.precision,
                "device": result.device,
                "cpu_matmul": result.cpu_matmul,
                "epochs_run": len(result.history),
                "best_epoch": result.best_epoch,
                "stopped_reason": result.stopped_reason,
                "world_size": result.world_size,  # processes that trained the network together (torchrun)
                "peak_memory_mb_at_start": result.peak_memory_mb_at_start,  # before the training loop
                "history": result.history,
            },
        }
        if predictor.calibrator_ is not None:
            predictor.metrics_["calibration"] = {"method": self.calibrate, "fitted_on": "validation rows"}
        self.predictor_ = predictor
        return self

    def _check_calibration(self, schema: Schema, x_valid: Any) -> None:
        """ConfigError, before training, when ``calibrate`` is set for a model it cannot calibrate."""
        if self.calibrate is None:
            return
        if len(schema.heads) > 1 or schema.task != "binary":
            task = "multi-task" if len(schema.heads) > 1 else schema.task
            raise ConfigError(
                f"calibrate={self.calibrate!r} recalibrates the probability of a binary target; this model is "
                f"{task}. Expected calibrate=None."
            )
        if x_valid is None:
            raise ConfigError(
                f"calibrate={self.calibrate!r} fits the calibrator on the validation rows, and there are none "
                "(validation=0); expected a validation share such as validation=0.1 or a validation table."
            )

    def _calibrate(
        self, predictor: Predictor, x_valid: Any, y_valid: np.ndarray, raw: torch.Tensor | None = None
    ) -> tuple[dict[str, Any], np.ndarray]:
        """The validation metrics and the network's scores of the validation rows
        (:meth:`~needmap.predictor.Predictor.network_score`'s), from ``raw``, the network's outputs there that the
        trainer kept (:attr:`~needmap.training.trainer.Trainer.validation_outputs`), else scored here; with
        ``calibrate``, the predictor's calibrator is fitted on the validation rows first and the scores are
        calibrated.

        The calibrated model's metrics come with the network's own calibration error and log loss
        (``ece_uncalibrated``, ``logloss_uncalibrated``); the calibrator is kept in ``calibrator_`` and
        in ``extras_["calibration.json"]``.
        """
        # no calibrator yet: the network's own scores; a single row takes the one-row path, which scores it anew
        kept = raw is not None and len(x_valid) > 1
        scores = predictor.network_score_of_raw(raw) if kept else predictor.network_score(x_valid)
        if self.calibrate is None:
            return predictor.evaluate_scores(scores, y_valid), scores
        from needmap.calibration import Calibrator

        predictor.calibrator_ = Calibrator(self.calibrate).fit(scores, y_valid)
        predictor.extras_["calibration.json"] = predictor.calibrator_.to_dict()
        calibrated = predictor.calibrator_.transform(scores)
        uncalibrated = task_metrics("binary", y_valid, scores)
        metrics = task_metrics("binary", y_valid, calibrated)
        metrics["ece_uncalibrated"] = uncalibrated["ece"]
        metrics["logloss_uncalibrated"] = uncalibrated["logloss"]
        return metrics, calibrated

    # -- using the fitted model ------------------------------------------------------------------
    def _fitted(self) -> Predictor:
        if self.predictor_ is None:
            raise ConfigError(NOT_FITTED)
        return self.predictor_

    def predict_proba(self, data: TableLike) -> np.ndarray:
        """:meth:`needmap.predictor.Predictor.predict_proba` of the fitted model (one raw row may be a dict)."""
        return self._fitted().predict_proba(data)

    def predict(self, data: TableLike) -> pa.Table:
        """:meth:`needmap.predictor.Predictor.predict`: id columns and scores of every row of ``data``."""
        return self._fitted().predict(data)

    def predict_events(self, log: Any, *, as_of: Any) -> pa.Table:
        """:meth:`needmap.predictor.Predictor.predict_events`: every customer of an event log scored at ``as_of``
        (a model fitted on a table built from an event log)."""
        return self._fitted().predict_events(log, as_of=as_of)

    def evaluate(self, data: TableLike) -> dict[str, Any]:
        """:meth:`needmap.predictor.Predictor.evaluate`: metrics on labelled rows (per target for several)."""
        return self._fitted().evaluate(data)

    def model_description(self) -> dict[str, Any]:
        """The content of model.json (without format version and checksum)."""
        return self._fitted().model_description()

    def save(self, path: str | os.PathLike[str], *, extra_metrics: Mapping[str, Any] | None = None) -> Path:
        """Write the model directory (see needmap.artifact) atomically; returns its path."""
        return self._fitted().save(path, extra_metrics=extra_metrics)

    schema_ = _fitted_attribute("schema_", "The schema the model was fitted with.")
    preprocessor_ = _fitted_attribute("preprocessor_", "The fitted preprocessor.")
    network_ = _fitted_attribute("network_", "The trained network (a torch.nn.Module).")
    result_ = _fitted_attribute("result_", "The training history (needmap.training.trainer.TrainResult).")
    metrics_ = _fitted_attribute("metrics_", "Validation metrics and training speed.")
    report_ = _fitted_attribute("report_", "Row counts and the preprocessing report of the fit.")
    extras_ = _fitted_attribute("extras_", "Optional JSON documents saved beside the model, by file name.")
    train_config_ = _fitted_attribute("train_config_", "The training options the network was trained with.")
    target_scaling_ = _fitted_attribute(
        "target_scaling_",
        "The scaling of a regression target, the positives' weight of a binary target trained with class "
        "weights (per target).",
    )
    calibrator_ = _fitted_attribute("calibrator_", "The fitted calibrator, with calibrate; else None.")
    fit_rows_ = _fitted_attribute("fit_rows_", "The positions of the training and validation rows of the fit.")


def clone(model: Model) -> Model:
    """An unfitted copy of ``model`` with equal parameters (deep copies of them): ``Model(**get_params())``."""
    return type(model)(**copy.deepcopy(model.get_params()))
