"""``needmap.Model``: the Python face of training, evaluation, prediction and saving.

In the habits of scikit-learn and Keras::

    model = needmap.Model("mlp", target="y", drop=["duration"], hidden=(256, 128))
    model.fit(table, validation=0.1, epochs=30)
    model.evaluate(test)          # {'auc': ..., 'logloss': ..., 'lift_at_10': ...}
    model.predict(new_rows)       # Arrow table: id columns + score
    model.save("models/campaign-7")
    needmap.load("models/campaign-7").predict(new_rows)

Constructor keywords are sorted into three groups by name: column roles (target, drop, id, ...),
training options (the fields of :class:`needmap.training.TrainConfig`: epochs, lr, batch_size, ...),
preprocessing options (the fields of :class:`needmap.features.preprocess.PreprocessConfig`:
scaling, clip_quantiles, min_frequency, ...), and the rest are the network's hyper-parameters
(for "mlp": hidden, embedding_dim, dropout, activation, batch_norm).

Several targets make a multi-task model (one output per target, each binary or regression)::

    model = needmap.Model("mmoe", target=["income", "married"], num_experts=4)
    model.fit(table).evaluate(test)   # {'income': {'auc': ...}, 'married': {'auc': ...}}
    model.predict(new_rows)           # id columns + score_income, score_married
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from needmap._version import __version__
from needmap.artifact import load_artifact, save_artifact
from needmap.data.infer import infer_schema
from needmap.data.overrides import parse_column_options, parse_feature_columns
from needmap.data.parquet_rows import ParquetRows
from needmap.data.read import first_row_of, read, source_of, take_rows
from needmap.data.split import split_indices
from needmap.data.values import parse_numeric, stringify
from needmap.errors import ArtifactError, ConfigError, DataError, NeedmapError, SchemaError, no_values_error
from needmap.features.preprocess import PreprocessConfig, Preprocessor
from needmap.features.row import RowEncoder
from needmap.features.target import (
    add_extra_targets,
    encode_target,
    head_schema,
    strata,
    target_names,
    target_tasks,
)
from needmap.metrics import task_metrics
from needmap.models.registry import build_model
from needmap.runtime.arrow_memory import release_unused_memory, system_arrow_pool, uses_system_arrow_pool
from needmap.schema import Schema
from needmap.training.from_file import SCHEMA_SAMPLE_ROWS, prepare_file_training
from needmap.training.multitask import head_outputs, labelled_metrics
from needmap.training.one_row import OneRowForward
from needmap.training.stream import TrainingStream
from needmap.training.trainer import TrainConfig, Trainer, predict_raw

ALL_NUMERIC = "*"  # bucketize={"*": k} buckets every numeric column
CALIBRATION_METHODS = (None, "isotonic", "platt")
TableLike = Any  # a path, an Arrow table, a pandas / polars frame: whatever needmap.read accepts


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def _field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _as_table(data: TableLike) -> pa.Table:
    return data if isinstance(data, pa.Table) else read(data)


#: ``Model.fit(stream=None)`` streams a Parquet file of at least this many rows.
STREAM_MIN_ROWS = 2_000_000


def _is_parquet_path(data: Any) -> bool:
    return isinstance(data, (str, os.PathLike)) and Path(data).suffix.lower() in (".parquet", ".pq")


def _parquet_rows(data: Any, stream: bool | None) -> ParquetRows | None:
    """The Parquet file ``data`` to stream, or None to read ``data`` whole (see ``Model.fit``'s ``stream``)."""
    if stream is None:
        if not _is_parquet_path(data) or not Path(data).is_file():
            return None
        rows = ParquetRows(data)
        return rows if rows.num_rows >= STREAM_MIN_ROWS else None
    if not stream:
        return None
    if not _is_parquet_path(data):
        raise ConfigError(
            f"stream=True reads a Parquet file a part at a time; got {type(data).__name__} {str(data)[:80]!r}.",
            hint="Convert the data to Parquet first (needmap.read(...) then pyarrow.parquet.write_table), or "
            "use stream=False.",
        )
    if not Path(data).is_file():
        raise DataError("does not exist; expected a Parquet file", file=str(data))
    return ParquetRows(data)


class Model:
    """A deep model for a customer table: preprocessing, network and training options in one object.

    Args:
        model: architecture name from the registry (``needmap.models.available_models()``).
        target: the outcome column to predict; several columns (a list, or "a,b" when no column
            has that name) make a multi-task model with one output per target, in that order, each
            binary or regression ("mmoe", "ple", or any model as a shared-bottom network).
        task: "binary", "multiclass" or "regression"; inferred from the target when None. For
            several targets, one task for all or one per target (a list or "binary,regression").
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
            fields) and network hyper-parameters, sorted by name.

    Learned state after :meth:`fit`: ``schema_``, ``preprocessor_``, ``network_``, ``result_``
    (training history), ``metrics_`` (validation metrics and training speed), ``report_``,
    ``calibrator_`` (with ``calibrate``), ``fit_rows_`` (which rows trained and which validated).
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
        if calibrate not in CALIBRATION_METHODS:
            raise ConfigError(
                f"calibrate={calibrate!r} is not a calibration method; expected one of "
                f"{', '.join(repr(m) for m in CALIBRATION_METHODS)}."
            )
        self.model = model
        self.calibrate = calibrate
        self.target = target
        self.task = task
        self.drop = _as_list(drop)
        self.id = _as_list(id)
        self.categorical = _as_list(categorical)
        self.numeric = _as_list(numeric)
        self.datetime = _as_list(datetime)
        self.multihot = parse_feature_columns("multihot", multihot)
        self.sequence = parse_feature_columns("sequence", sequence)
        self.hash = parse_feature_columns("hash", hash)
        self.bucketize = parse_feature_columns("bucketize", bucketize)
        self.column_options = parse_column_options(column_options)
        prep = dict(preprocess.to_dict() if isinstance(preprocess, PreprocessConfig) else preprocess or {})
        train: dict[str, Any] = {}
        params: dict[str, Any] = {}
        train_keys, prep_keys = _field_names(TrainConfig), _field_names(PreprocessConfig)
        for key, value in options.items():
            if key in train_keys:
                train[key] = value
            elif key in prep_keys:
                prep[key] = value
            else:
                params[key] = value
        self.train_options = train
        self.preprocess_options = prep
        self.params = params
        self.schema_: Schema | None = None
        self.preprocessor_: Preprocessor | None = None
        self.network_: torch.nn.Module | None = None
        self.result_: Any = None
        self.metrics_: dict[str, Any] = {}
        self.report_: dict[str, Any] = {}
        # Optional JSON documents saved beside the model, by file name (needmap.artifact.OPTIONAL_FILES):
        # e.g. "evaluation.json" (test curves and the baseline comparison), "tuning.json" (a search's history).
        self.extras_: dict[str, Any] = {}
        self.train_config_: TrainConfig | None = None
        self._row_encoder: tuple[Any, RowEncoder] | None = None
        self._one_row: OneRowForward | None = None
        # {"mean", "std"} of a regression target; for a multi-task model one such dict or None per target.
        self.target_scaling_: dict[str, float] | list[dict[str, float] | None] | None = None
        # With calibrate: the fitted calibrator of a binary model's probabilities (also in extras_).
        self.calibrator_: Any = None
        # Positions, in the training table after rows without a target were left out, of the rows that
        # trained the network ("train") and of its validation rows ("validation"); None when the rows were
        # read from a file in parts or validated on a table of their own.
        self.fit_rows_: dict[str, np.ndarray] | None = None

    # -- fitting -------------------------------------------------------------------------------
    def _targets(self, table: pa.Table) -> list[str]:
        """The target column names: one name, a list, or a comma-separated string of names."""
        if self.target is None:
            return []
        if isinstance(self.target, str):
            return [self.target] if self.target in table.column_names else _as_list(self.target)
        return list(self.target)

    def _tasks(self, n_targets: int) -> list[str | None]:
        """One task (or None: infer it) per target, from ``task``: one for all or one per target."""
        given = _as_list(self.task) if self.task is not None else []
        n = max(n_targets, 1)
        if not given:
            return [None] * n
        if len(given) == 1:
            return given * n
        if len(given) != n:
            raise ConfigError(
                f"task gives {len(given)} tasks ({', '.join(given)}) for {n_targets} targets; expected one task "
                "for all of them or one per target."
            )
        return list(given)

    def infer_schema(self, table: pa.Table) -> Schema:
        """The schema this model would use for ``table``: inferred roles plus this model's overrides.

        With several targets, the first is the schema's ``target`` and the others its
        ``extra_targets`` (see :func:`needmap.features.target.add_extra_targets`).
        """
        names = self._targets(table)
        tasks = self._tasks(len(names))
        overridden = {*self.drop, *self.id, *self.categorical, *self.numeric, *self.datetime}
        overridden |= {*self.multihot, *self.sequence, *self.hash, *self.bucketize}
        for name in names[1:]:
            if name in overridden:
                raise SchemaError(
                    "column is given two roles, a target and a feature override; expected one role per column.",
                    file=source_of(table),
                    column=name,
                )
        schema = self._infer_first_target(table, names[0] if names else None, tasks[0])
        return add_extra_targets(schema, table, names[1:], tasks[1:]) if len(names) > 1 else schema

    def _infer_first_target(self, table: pa.Table, target: str | None, task: str | None) -> Schema:
        bucketize = dict(self.bucketize)
        every = bucketize.pop(ALL_NUMERIC, None)

        def infer(buckets: dict[str, Any]) -> Schema:
            return infer_schema(
                table,
                target,
                drop=self.drop,
                ids=self.id,
                categorical=self.categorical,
                numeric=self.numeric,
                datetime=self.datetime,
                multihot=self.multihot,
                sequence=self.sequence,
                hash=self.hash,
                bucketize=buckets,
                options=self.column_options,
                task=task,
            )

        schema = infer(bucketize)
        if every is None:
            return schema
        # bucketize={"*": k}: every numeric column (inferred or set) becomes k quantile buckets.
        return infer({**{name: dict(every) for name in schema.numeric}, **bucketize})

    @uses_system_arrow_pool
    def fit(
        self,
        data: TableLike,
        *,
        validation: float | TableLike = 0.1,
        schema: Schema | None = None,
        stream: bool | None = None,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
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
                None (default): stream a Parquet file of at least :data:`STREAM_MIN_ROWS` rows.
            on_epoch: called after each epoch with its history entry (see
                :meth:`needmap.training.trainer.Trainer.fit`); an exception it raises ends the fit.
            **train: training options for this call (TrainConfig fields: epochs, lr, ...).
        Returns: self.
        """
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
        rows = _parquet_rows(data, stream)
        self.fit_rows_ = None
        if rows is not None:
            if not isinstance(validation, int | float):
                raise ConfigError(
                    f"fit streams the Parquet file {rows.path!r} ({rows.num_rows:,} rows; stream={stream!r}), which "
                    "holds its validation rows out of the file itself; expected validation as a share "
                    f"(0 <= validation < 1), got a {type(validation).__name__}.",
                    hint="Pass stream=False to read the file whole and validate on this table.",
                )
            prepared = self._prepare_file(rows, schema, prep_config, config, validation)
        else:
            prepared = self._prepare_table(_as_table(data), schema, prep_config, config, validation)
        schema, preprocessor, x_train, y_train, x_valid, y_valid, report = prepared
        multi = bool(schema.extra_targets)
        self._check_calibration(schema, x_valid)
        self.train_config_ = config
        n_outputs = _n_outputs(schema)
        torch.manual_seed(config.seed)
        try:
            network = build_model(
                self.model,
                n_numeric=preprocessor.n_numeric_,
                cardinalities=list(preprocessor.cardinalities_),
                n_outputs=n_outputs,
                lists=list(getattr(preprocessor, "list_specs_", [])),
                **self.params,
            )
        except TypeError as exc:
            raise ConfigError(f"model '{self.model}' does not accept these options: {exc}.") from None
        if multi:
            trainer = Trainer(network, target_tasks(schema), config, names=target_names(schema))
        else:
            trainer = Trainer(network, schema.task, config)
        result = trainer.fit(x_train, y_train, x_valid, y_valid, on_epoch=on_epoch)
        self.schema_, self.preprocessor_, self.network_, self.result_ = schema, preprocessor, network, result
        self.target_scaling_ = getattr(trainer, "target_scaling", None)
        report["train_rows"] = len(x_train)
        report["validation_rows"] = 0 if x_valid is None else len(x_valid)
        # How the rows were read: whole ('table'), or from a Parquet file in parts ('file'); and whether
        # training read them from the file again each epoch (too large to hold encoded) or held them.
        report["read"] = "table" if rows is None else "file"
        report["streamed_each_epoch"] = isinstance(x_train, TrainingStream)
        report["preprocessing"] = preprocessor.report_
        self.report_ = report
        self.metrics_ = {
            "validation": self._calibrate(x_valid, y_valid) if x_valid is not None else None,
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
                "history": result.history,
            },
        }
        if self.calibrator_ is not None:
            self.metrics_["calibration"] = {"method": self.calibrate, "fitted_on": "validation rows"}
        return self

    def _check_calibration(self, schema: Schema, x_valid: Any) -> None:
        """ConfigError, before training, when ``calibrate`` is set for a model it cannot calibrate."""
        if self.calibrate is None:
            return
        if schema.extra_targets or schema.task != "binary":
            task = "multi-task" if schema.extra_targets else schema.task
            raise ConfigError(
                f"calibrate={self.calibrate!r} recalibrates the probability of a binary target; this model is "
                f"{task}. Expected calibrate=None."
            )
        if x_valid is None:
            raise ConfigError(
                f"calibrate={self.calibrate!r} fits the calibrator on the validation rows, and there are none "
                "(validation=0); expected a validation share such as validation=0.1 or a validation table."
            )

    def _calibrate(self, x_valid: Any, y_valid: np.ndarray) -> dict[str, Any]:
        """The validation metrics; with ``calibrate``, fit the calibrator on the validation rows first.

        The calibrated model's metrics come with the network's own calibration error and log loss
        (``ece_uncalibrated``, ``logloss_uncalibrated``); the calibrator is kept in ``calibrator_`` and
        in ``extras_["calibration.json"]``.
        """
        self.calibrator_ = None
        if self.calibrate is None:
            self.extras_.pop("calibration.json", None)
            return self._score(x_valid, y_valid)
        from needmap.calibration import Calibrator

        raw = self._outputs(x_valid)  # the network's probabilities [n]: no calibrator yet
        self.calibrator_ = Calibrator(self.calibrate).fit(raw, y_valid)
        self.extras_["calibration.json"] = self.calibrator_.to_dict()
        uncalibrated = task_metrics("binary", y_valid, raw)
        metrics = task_metrics("binary", y_valid, self.calibrator_.transform(raw))
        metrics["ece_uncalibrated"] = uncalibrated["ece"]
        metrics["logloss_uncalibrated"] = uncalibrated["logloss"]
        return metrics

    def _prepare_table(
        self,
        table: pa.Table,
        schema: Schema | None,
        prep_config: PreprocessConfig,
        config: TrainConfig,
        validation: float | TableLike,
    ) -> tuple[Any, ...]:
        """Schema, fitted preprocessor, encoded training and validation rows and report, from a table."""
        schema = schema or self.infer_schema(table)
        if schema.target is None:
            raise SchemaError("the schema has no target column; expected one column with role 'target'.")
        self.target = target_names(schema) if schema.extra_targets else schema.target
        table, report = clean_training_table(
            table, schema, user_dropped=self.drop, max_unparseable=prep_config.max_unparseable
        )
        n = table.num_rows
        valid_given = None
        if not isinstance(validation, int | float):
            valid_given, valid_report = clean_training_table(
                _as_table(validation), schema, user_dropped=self.drop, max_unparseable=prep_config.max_unparseable
            )
            report["validation_rows_without_target"] = valid_report["rows_without_target"]
        if valid_given is not None:
            train_idx, valid_idx = np.arange(n), np.arange(valid_given.num_rows)
        elif validation > 0:
            labels = strata(table, schema)
            method = "random" if schema.task == "regression" else "stratified"
            train_idx, valid_idx = split_indices(n, method=method, test_size=validation, seed=config.seed, y=labels)
        else:
            train_idx, valid_idx = np.arange(n), np.array([], dtype=np.int64)
        if valid_given is None:
            self.fit_rows_ = {"train": train_idx, "validation": valid_idx}
        # Every row in order (validation=0 or a validation table of its own): the table itself, no copy.
        everything = len(train_idx) == n and bool(np.all(train_idx == np.arange(n)))
        train_table = table if everything else take_rows(table, pa.array(train_idx))
        preprocessor = Preprocessor(schema, prep_config)
        x_train = preprocessor.fit_transform(train_table)
        y_train = preprocessor.encode_target(train_table)
        x_valid = y_valid = None
        if len(valid_idx):
            valid_table = valid_given if valid_given is not None else take_rows(table, pa.array(valid_idx))
            x_valid = preprocessor.transform(valid_table)
            y_valid = preprocessor.encode_target(valid_table)
        return schema, preprocessor, x_train, y_train, x_valid, y_valid, report

    def _prepare_file(
        self,
        rows: ParquetRows,
        schema: Schema | None,
        prep_config: PreprocessConfig,
        config: TrainConfig,
        validation: float,
    ) -> tuple[Any, ...]:
        """:meth:`_prepare_table` for a Parquet file read in parts (:mod:`needmap.training.from_file`)."""
        if schema is None:
            schema = self.infer_schema(rows.sample(SCHEMA_SAMPLE_ROWS))
            release_unused_memory()
        if schema.target is None:
            raise SchemaError("the schema has no target column; expected one column with role 'target'.")
        self.target = target_names(schema) if schema.extra_targets else schema.target

        def check_targets(targets: pa.Table) -> tuple[pa.Table, dict[str, Any]]:
            return clean_training_table(targets, schema, max_unparseable=prep_config.max_unparseable)

        prepared = prepare_file_training(
            rows,
            schema,
            prep_config,
            validation=validation,
            seed=config.seed,
            check_targets=check_targets,
            user_dropped=self.drop,
        )
        report = {"rows_in": prepared.rows_in, "rows_without_target": prepared.rows_without_target}
        return (
            schema,
            prepared.preprocessor,
            prepared.train,
            prepared.y_train,
            prepared.x_valid,
            prepared.y_valid,
            report,
        )

    # -- using a fitted model ------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.network_ is None or self.preprocessor_ is None or self.schema_ is None:
            raise ConfigError("this model is not fitted yet; call fit() first or needmap.load() a saved model.")

    def _raw(self, x: Any) -> np.ndarray:
        assert self.network_ is not None and self.schema_ is not None
        forward = None
        if len(x) == 1:  # online scoring: the network's traced one-row graph
            if self._one_row is None or self._one_row.model is not self.network_:
                self._one_row = OneRowForward(self.network_)
            forward = self._one_row
        if self.schema_.extra_targets:  # per-head scaling is applied by _outputs
            return predict_raw(self.network_, x, target_scaling={"mean": 0.0, "std": 1.0}, forward=forward)
        return predict_raw(
            self.network_, x, task=self.schema_.task, target_scaling=self.target_scaling_, forward=forward
        )

    def _outputs(self, x: Any) -> np.ndarray:
        """Probabilities ([n] binary, [n, K] multiclass) or predictions in target units ([n]); for a
        multi-task model ``[n, T]``, column t as the task of target t gives."""
        raw = self._raw(x)
        if self.schema_ is not None and self.schema_.extra_targets:
            scaling = self.target_scaling_ if isinstance(self.target_scaling_, list) else None
            return head_outputs(raw, target_tasks(self.schema_), scaling)
        task = self.schema_.task if self.schema_ else None
        if task == "binary":
            p = 1.0 / (1.0 + np.exp(-raw.reshape(-1).astype(np.float64)))
            return p if self.calibrator_ is None else self.calibrator_.transform(p)
        if task == "multiclass":
            z = raw - raw.max(axis=1, keepdims=True)
            e = np.exp(z)
            return e / e.sum(axis=1, keepdims=True)
        return raw.reshape(-1)

    def _score(self, x: Any, y: np.ndarray) -> dict[str, Any]:
        """Metrics of the outputs on ``x`` against ``y``; per target name for a multi-task model."""
        out = self._outputs(x)
        if self.schema_ is not None and self.schema_.extra_targets:
            tasks = target_tasks(self.schema_)
            names = target_names(self.schema_)
            return {name: labelled_metrics(tasks[t], y[:, t], out[:, t]) for t, name in enumerate(names)}
        return task_metrics(self.schema_.task if self.schema_ else "binary", y, out)

    def predict_proba(self, data: TableLike) -> np.ndarray:
        """Scores as an array: P(positive) ``[n]`` (binary), class probabilities ``[n, K]``
        (multiclass) or predictions in the target's units ``[n]`` (regression); ``[n, T]`` for a
        multi-task model (column t: target t's probability or prediction).

        One raw row given as a dict takes the online path (:class:`needmap.features.row.RowEncoder`,
        the same features without Arrow's per-call cost) where it covers the row's values.
        """
        self._check_fitted()
        assert self.preprocessor_ is not None
        if isinstance(data, Mapping):
            if self._row_encoder is None or self._row_encoder[0] is not self.preprocessor_:
                self._row_encoder = (self.preprocessor_, RowEncoder(self.preprocessor_))
            batch = self._row_encoder[1].encode(data)
            if batch is not None:
                return self._outputs(batch)
        with system_arrow_pool():
            return self._outputs(self.preprocessor_.transform(_as_table(data)))

    def predict(self, data: TableLike) -> pa.Table:
        """Score every row of ``data`` (no row is dropped); returns an Arrow table.

        Columns: the id column(s) of the schema, then ``score`` (binary: probability of
        ``schema.classes[1]``), or ``predicted`` and ``proba_<class>`` per class (multiclass), or
        ``prediction`` (regression, in the target's units); for a multi-task model one column per
        target: ``score_<target>`` (binary) or ``prediction_<target>`` (regression). Extra columns
        in ``data`` are ignored, their order does not matter, unseen categories go to the
        out-of-vocabulary id.
        """
        self._check_fitted()
        assert self.schema_ is not None
        table = _as_table(data)
        out = self.predict_proba(table)
        return scores_table(table, self.schema_, out)

    @uses_system_arrow_pool
    def evaluate(self, data: TableLike) -> dict[str, Any]:
        """Metrics of this model on labelled rows: AUC, logloss, PR-AUC, accuracy, precision,
        recall, calibration error, lift and capture in the top 10% (binary); accuracy, logloss,
        macro AUC (multiclass); RMSE, MAE, R² (regression). Rows with a missing target are left
        out and counted in ``rows_without_target``. A multi-task model returns ``{target: metrics}``,
        each target's metrics over the rows that have a value for it."""
        self._check_fitted()
        assert self.schema_ is not None and self.preprocessor_ is not None
        table = _as_table(data)
        if self.schema_.extra_targets:
            return self._evaluate_tasks(table)
        target = self.schema_.target
        if target not in table.column_names:
            raise SchemaError(
                f"the evaluation data has no target column '{target}'; expected the outcome to compare "
                "the scores with.",
                file=source_of(table),
                column=target,
            )
        keep = pc.is_valid(table.column(target))
        dropped = table.num_rows - int(pc.sum(keep).as_py() or 0)
        if dropped:
            table = table.filter(keep)
        if table.num_rows == 0:
            raise DataError(
                f"no row has a value in the target column '{target}'; expected labelled rows.",
                file=source_of(table),
                column=target,
            )
        metrics = self._score(self.preprocessor_.transform(table), self.preprocessor_.encode_target(table))
        metrics["rows_without_target"] = dropped
        return metrics

    def _evaluate_tasks(self, table: pa.Table) -> dict[str, dict[str, Any]]:
        """evaluate() of a multi-task model: the outputs of every row, then each target's labelled rows."""
        assert self.preprocessor_ is not None
        labelled = self._labelled_targets(table)
        out = self._outputs(self.preprocessor_.transform(table))
        result: dict[str, dict[str, Any]] = {}
        for t, (name, task, keep, y) in enumerate(labelled):
            metrics = task_metrics(task, y, out[keep, t])
            metrics["rows_without_target"] = int((~keep).sum())
            result[name] = metrics
        return result

    def _labelled_targets(self, table: pa.Table) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
        """Per target of a multi-task model, in target order: its name, its task, the mask bool ``[n]`` of
        the rows of ``table`` that have a value for it, and those values encoded ``[k]``.

        SchemaError when a target column is absent, DataError when no row has a value for a target."""
        assert self.schema_ is not None
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

    # -- persistence ---------------------------------------------------------------------------
    def model_description(self) -> dict[str, Any]:
        """The content of model.json (without format version and checksum)."""
        self._check_fitted()
        assert self.network_ is not None and self.preprocessor_ is not None and self.schema_ is not None
        config = self.network_.config() if hasattr(self.network_, "config") else dict(self.params)
        return {
            "needmap_version": __version__,
            "architecture": self.model,
            "params": config,
            "n_numeric": int(self.preprocessor_.n_numeric_),
            "cardinalities": [int(c) for c in self.preprocessor_.cardinalities_],
            "lists": list(getattr(self.network_, "lists", [])),
            "n_outputs": _n_outputs(self.schema_),
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

        self._check_fitted()
        assert self.network_ is not None and self.preprocessor_ is not None and self.schema_ is not None
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


def clean_training_table(
    table: pa.Table, schema: Schema, *, user_dropped: Sequence[str] = (), max_unparseable: float = 0.05
) -> tuple[pa.Table, dict[str, Any]]:
    """Check a whole training table, before any split, and drop rows without a target, counting them.

    Raises DataError for an empty table, a feature column with no values at all that the user
    did not drop, a numeric column with more than ``max_unparseable`` text values (naming the
    first such row of the file), or a target with a single class. Returns the table and a report dict with
    ``rows_in`` and ``rows_without_target``. With several targets (a multi-task schema), only a row
    without a value for every one of them is dropped and counted; a row that lacks some targets is
    kept (multi-task training leaves those targets out of its loss) and ``rows_missing_target``
    counts, per target, the kept rows without it.
    """
    source = source_of(table)
    if table.num_rows == 0:
        raise DataError("the table has a header but no data rows; expected at least one row.", file=source)
    target = schema.target
    assert target is not None
    targets, tasks = target_names(schema), target_tasks(schema)
    absent = [name for name in targets if name not in table.column_names]
    if absent:
        raise SchemaError(
            f"found no target column {', '.join(map(repr, absent))} in the table; expected the targets "
            f"{', '.join(targets)}.",
            file=source,
            column=absent[0],
        )
    for name in table.column_names:
        if name in user_dropped or name in targets:
            continue
        col = table.column(name)
        if col.null_count == table.num_rows:
            raise no_values_error(table.num_rows, file=source, column=name)
    for name in schema.numeric:
        if name in table.column_names:
            parsed = parse_numeric(table.column(name), column=name, file=source)
            parsed.check_unparseable(max_unparseable, column=name, file=source, first_row=first_row_of(table))
    keep = pc.is_valid(table.column(target))
    for name in targets[1:]:
        keep = pc.or_(keep, pc.is_valid(table.column(name)))
    rows_in = table.num_rows
    missing = rows_in - int(pc.sum(keep).as_py() or 0)
    if missing:
        table = table.filter(keep)
    if table.num_rows == 0:
        which = "the target column" if len(targets) == 1 else f"any target column ({', '.join(targets)})"
        raise DataError(f"no row has a value in {which}; expected labelled rows.", file=source)
    for name, task in zip(targets, tasks, strict=True):
        if table.column(name).null_count == table.num_rows:
            raise DataError(
                f"no row has a value in the target column; expected labelled rows for each of {', '.join(targets)}.",
                file=source,
                column=name,
            )
        if task in ("binary", "multiclass"):
            values = pc.unique(stringify(table.column(name)).drop_null())
            if len(values) < 2:
                raise DataError(
                    f"the target has a single class {values.to_pylist()!r} in {table.num_rows} rows; "
                    "expected at least two classes to learn from.",
                    file=source,
                    column=name,
                )
    report: dict[str, Any] = {"rows_in": rows_in, "rows_without_target": missing}
    if len(targets) > 1:
        report["rows_missing_target"] = {name: int(table.column(name).null_count) for name in targets}
    return table, report


def _n_outputs(schema: Schema) -> int:
    """Outputs of the network: one per target of a multi-task model, K for K classes, else 1."""
    if schema.extra_targets:
        return len(target_names(schema))
    return len(schema.classes) if schema.task == "multiclass" else 1


def scores_table(table: pa.Table, schema: Schema, out: np.ndarray) -> pa.Table:
    """Id columns of ``table`` followed by the score column(s) for ``out`` (see Model.predict)."""
    columns: dict[str, Any] = {}
    for name in schema.ids:
        if name in table.column_names:
            columns[name] = table.column(name)
    if schema.extra_targets:
        for t, (name, task) in enumerate(zip(target_names(schema), target_tasks(schema), strict=True)):
            key = f"score_{name}" if task == "binary" else f"prediction_{name}"
            columns[key] = pa.array(out[:, t].astype(np.float64))
    elif schema.task == "binary":
        columns["score"] = pa.array(out.astype(np.float64))
    elif schema.task == "multiclass":
        classes = np.asarray(schema.classes, dtype=object)
        columns["predicted"] = pa.array(classes[out.argmax(axis=1)].tolist(), type=pa.string())
        for k, name in enumerate(schema.classes):
            columns[f"proba_{name}"] = pa.array(out[:, k].astype(np.float64))
    else:
        columns["prediction"] = pa.array(out.astype(np.float64))
    return pa.table(columns)


def load(path: str | os.PathLike[str]) -> Model:
    """Load a model directory written by :meth:`Model.save` (or ``needmap train``).

    Reads JSON and safetensors only; no code from the directory is executed. Raises ArtifactError
    when a file is missing or corrupted or the format version does not match.
    """
    contents = load_artifact(path)
    desc = contents.model
    try:
        schema = Schema.from_dict(contents.schema)
        preprocessor = Preprocessor.from_dict(contents.preprocessor)
        if schema.extra_targets:
            model = Model(desc["architecture"], target=target_names(schema), task=target_tasks(schema))
        else:
            model = Model(desc["architecture"], target=schema.target, task=schema.task)
        network = build_model(
            desc["architecture"],
            n_numeric=desc["n_numeric"],
            cardinalities=desc["cardinalities"],
            n_outputs=desc["n_outputs"],
            lists=desc.get("lists") or [],
            **desc["params"],
        )
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
    model.params = dict(desc["params"])
    model.schema_, model.preprocessor_, model.network_ = schema, preprocessor, network
    model.metrics_ = contents.metrics
    model.extras_ = dict(contents.extras)
    if "calibration.json" in model.extras_:
        from needmap.calibration import Calibrator

        try:
            model.calibrator_ = Calibrator.from_dict(model.extras_["calibration.json"])
        except NeedmapError as err:
            raise ArtifactError(err.detail, file=str(path), hint=err.hint) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(
                f"'calibration.json' cannot be read ({type(exc).__name__}: {exc}); expected the calibrator that "
                "needmap wrote.",
                file=str(path),
            ) from None
        model.calibrate = getattr(model.calibrator_, "method", None)
    model.target_scaling_ = desc.get("target_scaling")
    model.train_config_ = TrainConfig.from_dict(desc.get("train") or {})
    return model
