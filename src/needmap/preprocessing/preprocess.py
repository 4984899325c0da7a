"""The preprocessor: from a customer table to the arrays a model reads.

:class:`Preprocessor` learns, from the training rows only, how to clip, impute and scale each
numeric column (or its quantile buckets), which categories each categorical column keeps (or how
many hash buckets it uses) and the vocabulary and length of each multi-hot or sequence list;
:meth:`Preprocessor.transform` then turns any table with those columns into a
:class:`~needmap.preprocessing.batch.FeatureBatch`.
Its learned state is plain JSON (:meth:`Preprocessor.to_dict`), saved with the model.

The module is over 400 lines on purpose: fit, transform and the saved form of one object, whose fit/transform
boundary (what is learned from the training rows only, and how it is applied) reads best in one place; the
per-kind encoders live in their own modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from needmap.data.options import check_options
from needmap.data.provenance import first_row_of, source_of
from needmap.data.values import category_strings, parse_numeric
from needmap.errors import ArtifactError, ConfigError, DataError, SchemaError
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.buckets import BucketColumn
from needmap.preprocessing.category_reading import as_trained, trained_kind
from needmap.preprocessing.config import PreprocessConfig
from needmap.preprocessing.hashing import HashedColumn
from needmap.preprocessing.lists import ListColumn
from needmap.preprocessing.numeric import NumericColumn
from needmap.preprocessing.target import encode_targets
from needmap.preprocessing.values import (
    MIN_KEPT_VALUES,
    ValueColumn,
    chooses_value_field,
)
from needmap.preprocessing.vocab import OOV_ID, Vocabulary
from needmap.preprocessing.zero_flags import chooses_zero_flag, zero_flags, zero_share
from needmap.schema import Schema

FORMAT = "needmap.preprocessor"
VERSION = 2
READABLE_VERSIONS = (1, 2)
#: Rows from which ``transform(..., threads > 1)`` encodes columns in parallel (below, threads cost more
#: than they save).
PARALLEL_MIN_ROWS = 20_000


def _columns(table: pa.Table, names: list[str], file: str | None) -> dict[str, pa.ChunkedArray]:
    """Look up ``names`` in ``table`` by name; raise :class:`SchemaError` when any is absent or repeated."""
    found = {name: table.schema.get_all_field_indices(name) for name in names}
    absent = [name for name, idx in found.items() if not idx]
    if absent:
        raise SchemaError(
            f"found no column {', '.join(repr(a) for a in absent)} in the table, expected every feature "
            f"column of the schema ({len(names)} columns).",
            file=file,
            column=absent[0] if len(absent) == 1 else None,
        )
    repeated = [name for name, idx in found.items() if len(idx) > 1]
    if repeated:
        raise SchemaError(
            f"found the column name {repeated[0]!r} {len(found[repeated[0]])} times, expected each "
            "feature column once.",
            file=file,
            column=repeated[0],
        )
    return {name: table.column(idx[0]) for name, idx in found.items()}


def _duplicate_rows(table: pa.Table) -> int:
    """Number of rows equal, in every column, to an earlier row (nested-type columns not compared)."""
    keep = [i for i, f in enumerate(table.schema) if not pa.types.is_nested(f.type)]
    if not keep or table.num_rows == 0:
        return 0
    flat = table.select(keep).rename_columns([f"c{i}" for i in range(len(keep))]).replace_schema_metadata(None)
    columns = ", ".join(flat.column_names)
    with duckdb.connect() as con:
        con.register("t", flat)
        # Distinct row hashes prove distinct rows: the exact DISTINCT runs only when some hashes repeat.
        # DuckDB: 0.6 s on 1M rows x 40 columns, where Arrow's group_by took 9 s.
        distinct_hashes = con.execute(f"SELECT count(DISTINCT hash({columns})) FROM t").fetchone()[0]
        if distinct_hashes == flat.num_rows:
            return 0
        distinct = con.execute("SELECT count(*) FROM (SELECT DISTINCT * FROM t)").fetchone()[0]
    return flat.num_rows - int(distinct)


class Preprocessor:
    """Turns tables into :class:`FeatureBatch` es with statistics learned by :meth:`fit`.

    Feature types, from the schema's roles and per-column ``options``:
        numeric: clipped, imputed and scaled into ``FeatureBatch.numeric``; with option
            ``bucketize: K`` a categorical field of quantile-bucket ids instead
            (:mod:`needmap.preprocessing.buckets`). A column whose values are levels or amounts
            (``value_fields``, or option ``values: true``) also gets a categorical field of its exact
            values (:mod:`needmap.preprocessing.values`). A column that is mostly zero over a long range
            (``zero_flags``, or option ``zero_flag: true``) also gets a 0/1 "is zero" column
            (:mod:`needmap.preprocessing.zero_flags`).
        categorical: a vocabulary of training categories; with option ``hash_buckets: N`` hashed
            ids instead (:mod:`needmap.preprocessing.hashing`).
        multihot, sequence: padded id lists in ``FeatureBatch.lists`` (:mod:`needmap.preprocessing.lists`).

    After ``fit`` (attributes end with ``_``):
        numeric_columns_: per scaled numeric column, its clipping, imputation and scaling.
        vocabularies_: per column of ``FeatureBatch.categorical``, its encoder: a
            :class:`Vocabulary`, :class:`HashedColumn`, :class:`BucketColumn` or :class:`ValueColumn`.
        list_columns_: per list feature, its :class:`ListColumn`.
        n_numeric_: width of ``FeatureBatch.numeric`` (scaled columns, then missing indicators, then
            zero flags).
        numeric_names_: names of those columns; indicators are named ``<col>__missing``, zero flags
            ``<col>__zero``.
        categorical_names_: names of the columns of ``FeatureBatch.categorical``: the categorical
            columns (hashed ones included) in schema order, then the bucketized numeric columns, then
            the numeric columns with a value field (each named after its column, whose scaled
            number is also in ``numeric_names_``).
        cardinalities_: ids per categorical column, the 2 reserved ids (OOV, missing) included.
        list_specs_: per list feature, in the order of ``FeatureBatch.lists``, the model's list spec
            ``{name, kind, cardinality, max_len, pooling, share}`` (``share``: index in
            ``categorical_names_`` of the column whose ids a ``vocabulary_of`` list uses, else None).
        report_: JSON-safe counts from the training rows (see :meth:`fit`).
    After ``transform``: last_transform_report_, counts from the rows just transformed.
    """

    def __init__(self, schema: Schema, config: PreprocessConfig | None = None) -> None:
        self.schema = schema
        self.config = config if config is not None else PreprocessConfig()
        strays = [c for c in self.config.column_scaling if c not in schema.numeric]
        if strays:
            raise ConfigError(
                f"column_scaling names {', '.join(repr(c) for c in strays)}, expected numeric columns "
                f"of the schema ({', '.join(schema.numeric) or 'there are none'})."
            )
        self._options = {
            name: check_options(name, schema.column(name).role, schema.column(name).options) for name in schema.features
        }
        for name in schema.lists:
            shared = self._options[name].get("vocabulary_of")
            if shared is not None and shared not in schema.categorical:
                raise SchemaError(
                    f"vocabulary_of names {shared!r}, expected a categorical column of the schema "
                    f"({', '.join(schema.categorical) or 'there are none'}) whose ids the list shares.",
                    column=name,
                )

    # -- learning ----------------------------------------------------------------------------------
    def fit(self, table: pa.Table, *, threads: int = 1) -> Preprocessor:
        """Learn every statistic from the rows of ``table`` (the training rows) and nothing else.

        ``threads`` > 1 learns the categorical columns' vocabularies of a table of at least
        :data:`PARALLEL_MIN_ROWS` rows that many at a time (as :meth:`transform` encodes them): the same
        state, in less time where the cores are otherwise idle (before training starts).

        ``report_`` then holds ``rows``, ``duplicate_rows`` (rows equal in every column of ``table``
        to an earlier row; counted, kept) and ``columns``: per feature column, numeric then
        categorical then list columns, ``role`` and counts: numeric ``missing``, ``unparseable``
        (text, made missing), ``clipped_low``, ``clipped_high`` (bucketized: ``bucketize``,
        ``edges``, ``bucket_rows`` instead of the clip counts; with a value field, ``value_field``:
        see :meth:`ValueColumn.fit`); categorical ``missing``,
        ``vocabulary_size``, ``folded_categories`` and ``folded_rows`` (rare categories sent to OOV)
        (hashed: ``hash_buckets``, ``distinct``, ``colliding_values`` instead); multihot and
        sequence: see :meth:`ListColumn.fit`.
        """
        self._check_features()
        file = source_of(table)
        columns = _columns(table, self.schema.features, file)
        if table.num_rows == 0:
            raise DataError("found no rows, expected at least one training row.", file=file)
        return self.fit_columns(
            columns,
            rows=table.num_rows,
            duplicate_rows=_duplicate_rows(table),
            file=file,
            first_row=first_row_of(table),
            threads=threads,
        )

    def _check_features(self) -> None:
        if not self.schema.features:
            raise SchemaError(
                "the schema has no numeric, categorical, multihot or sequence column, expected at least one feature."
            )

    def fit_columns(
        self,
        columns: Mapping[str, pa.ChunkedArray],
        *,
        rows: int,
        duplicate_rows: int,
        file: str | None = None,
        first_row: int | None = None,
        threads: int = 1,
    ) -> Preprocessor:
        """:meth:`fit` from the training rows' feature columns, each looked up once, one after another.

        ``columns[name]`` is ``rows`` values of the feature column ``name``; a mapping that reads each
        column when it is looked up (from a Parquet file, say) keeps one column in memory at a time, so
        give it ``threads=1`` (the default): more threads look up that many categorical columns at once.
        ``duplicate_rows`` is counted by the caller; ``file`` and ``first_row`` name rows in errors.
        """
        self._check_features()
        cfg = self.config
        numeric: list[NumericColumn] = []
        buckets: list[BucketColumn] = []
        value_fields: list[ValueColumn] = []
        column_report: dict[str, dict[str, Any]] = {}
        for name in self.schema.numeric:
            parsed = parse_numeric(columns[name], column=name, file=file)
            parsed.check_unparseable(cfg.max_unparseable, column=name, file=file, first_row=first_row)
            if "bucketize" in self._options[name]:
                for option in ("values", "zero_flag"):
                    if self._options[name].get(option):
                        raise ConfigError(
                            f"found the options bucketize and {option}: true together, expected one of them "
                            "(buckets replace the scaled number; the other sits beside it).",
                            column=name,
                        )
                bucketed, column_report[name] = BucketColumn.fit(name, parsed, buckets=self._options[name]["bucketize"])
                buckets.append(bucketed)
                continue
            column, column_report[name] = NumericColumn.fit(
                name,
                parsed,
                scaling=cfg.scaling_of(name),
                impute=cfg.impute,
                clip_quantiles=cfg.clip_quantiles,
                n_bins=cfg.n_bins,
                add_indicator=cfg.add_missing_indicator,
            )
            numeric.append(column)
            if chooses_zero_flag(parsed, option=self._options[name].get("zero_flag"), share=cfg.zero_flags):
                column.zero_flag = True
                column_report[name]["zero_flag"] = {"zero_share": round(zero_share(parsed), 4)}
            if chooses_value_field(parsed, option=self._options[name].get("values"), limit=cfg.value_fields):
                valued, column_report[name]["value_field"] = ValueColumn.fit(name, parsed, min_rows=cfg.value_min_rows)
                if len(valued.values) >= MIN_KEPT_VALUES or self._options[name].get("values"):
                    value_fields.append(valued)
                else:  # every value rare: the field would hold little more than the missing flag
                    column_report[name]["value_field"]["used"] = False

        def fit_categorical(name: str) -> tuple[CategoricalEncoder, dict[str, Any]]:
            strings = category_strings(columns[name], column=name, file=file)
            if "hash_buckets" in self._options[name]:
                return HashedColumn.fit(name, strings, buckets=self._options[name]["hash_buckets"])
            return Vocabulary.fit(name, strings, min_frequency=cfg.min_frequency, max_categories=cfg.max_categories)

        names = list(self.schema.categorical)
        if threads > 1 and rows >= PARALLEL_MIN_ROWS and len(names) > 1:
            # pyarrow's kernels release the GIL; map() returns (and raises) in column order, as the loop would
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="needmap-fit") as pool:
                fitted = list(pool.map(fit_categorical, names))
        else:
            fitted = [fit_categorical(name) for name in names]
        encoders: list[CategoricalEncoder] = []
        for name, (encoder, counts) in zip(names, fitted, strict=True):
            encoders.append(encoder)
            column_report[name] = counts
        encoders.extend(buckets)
        by_name = {e.name: e for e in encoders}
        encoders.extend(value_fields)
        lists: list[ListColumn] = []
        for name in self.schema.lists:
            options = self._options[name]
            shared = by_name[options["vocabulary_of"]] if "vocabulary_of" in options else None
            listed, column_report[name] = ListColumn.fit(
                name,
                self.schema.column(name).role,
                columns[name],
                options,
                shared=shared,
                min_frequency=cfg.min_frequency,
                max_categories=cfg.max_categories,
                file=file,
            )
            lists.append(listed)
        report = {"rows": rows, "duplicate_rows": duplicate_rows, "columns": column_report}
        self._set_state(numeric, encoders, lists, report)
        return self

    def _set_state(
        self, numeric: list[NumericColumn], encoders: list[CategoricalEncoder], lists: list[ListColumn], report: dict
    ) -> None:
        self.numeric_columns_ = numeric
        self.vocabularies_ = encoders
        self.list_columns_ = lists
        self.numeric_names_ = (
            [c.name for c in numeric]
            + [f"{c.name}__missing" for c in numeric if c.indicator]
            + [f"{c.name}__zero" for c in numeric if c.zero_flag]
        )
        self.n_numeric_ = len(self.numeric_names_)
        self.categorical_names_ = [e.name for e in encoders]
        self.cardinalities_ = [e.cardinality for e in encoders]
        specs = []
        for column in lists:
            share = None if column.vocabulary_of is None else self.categorical_names_.index(column.vocabulary_of)
            shared = None if share is None else encoders[share]
            specs.append(
                {
                    "name": column.name,
                    "kind": column.kind,
                    "cardinality": column.cardinality(shared),
                    "max_len": column.max_len,
                    "pooling": column.pooling,
                    "share": share,
                }
            )
        self.list_specs_ = specs
        self.report_ = report

    def _check_fitted(self) -> None:
        if not hasattr(self, "report_"):
            raise RuntimeError("this Preprocessor is not fitted yet: call fit(table) or from_dict(state) first")

    # -- applying ----------------------------------------------------------------------------------
    def transform(self, table: pa.Table, *, threads: int = 1) -> FeatureBatch:
        """Features of every row of ``table``: numeric float32 ``[n, n_numeric_]``, ids int64
        ``[n, n_cat]`` and one int64 ``[n, max_len_k]`` array per entry of ``list_specs_``.

        ``threads`` > 1 encodes the categorical columns of a table of at least
        :data:`PARALLEL_MIN_ROWS` rows that many at a time (worth it where the cores are otherwise idle,
        e.g. scoring that reads, encodes and multiplies in turns, so that encoding a chunk does not
        leave a core waiting).

        Columns are found by name; their order and any other column do not matter. Records
        ``last_transform_report_``: ``rows`` and ``columns``: per feature column ``role`` and counts:
        numeric ``missing``, ``unparseable``, ``clipped_low``, ``clipped_high`` (bucketized:
        ``missing`` and ``unparseable``; with a value field also ``value_oov``, rows whose value has no
        id of its own: rare in training or unseen); categorical ``missing`` and ``oov`` (rows whose category
        is outside the vocabulary: unseen in training or folded as rare; always 0 when hashed);
        multihot and sequence ``missing``, ``tokens``, ``truncated_rows``, ``oov_tokens``.
        """
        self._check_fitted()
        file, first_row = source_of(table), first_row_of(table)
        list_names = [c.name for c in self.list_columns_]
        columns = _columns(table, [c.name for c in self.numeric_columns_] + self.categorical_names_ + list_names, file)
        n = table.num_rows
        numeric_out = np.empty((n, self.n_numeric_), dtype=np.float32)
        column_report: dict[str, dict[str, Any]] = {}
        indicator_at = len(self.numeric_columns_)
        zero_at = indicator_at + sum(c.indicator for c in self.numeric_columns_)
        valued = {e.name for e in self.vocabularies_ if isinstance(e, ValueColumn)}
        values_of: dict[str, np.ndarray] = {}  # parsed once, read again by the column's value field
        for j, column in enumerate(self.numeric_columns_):
            parsed = parse_numeric(columns[column.name], column=column.name, file=file)
            parsed.check_unparseable(self.config.max_unparseable, column=column.name, file=file, first_row=first_row)
            if column.name in valued:
                values_of[column.name] = parsed.values
            scaled, clipped_low, clipped_high = column.transform(parsed.values)
            numeric_out[:, j] = scaled
            if column.indicator:
                numeric_out[:, indicator_at] = np.isnan(parsed.values)
                indicator_at += 1
            if column.zero_flag:
                numeric_out[:, zero_at] = zero_flags(parsed.values)
                zero_at += 1
            column_report[column.name] = {
                "role": "numeric",
                "missing": int(parsed.missing.sum()),
                "unparseable": int(parsed.unparseable.sum()),
                "clipped_low": clipped_low,
                "clipped_high": clipped_high,
            }
        categorical_out = np.empty((n, len(self.vocabularies_)), dtype=np.int64)

        def encode_column(j: int) -> tuple[str, dict[str, Any]]:
            encoder = self.vocabularies_[j]
            if isinstance(encoder, ValueColumn):
                ids = encoder.encode_values(values_of[encoder.name])
                categorical_out[:, j] = ids
                return encoder.name, {"value_oov": int((ids == OOV_ID).sum())}
            if isinstance(encoder, BucketColumn):
                parsed = parse_numeric(columns[encoder.name], column=encoder.name, file=file)
                parsed.check_unparseable(
                    self.config.max_unparseable, column=encoder.name, file=file, first_row=first_row
                )
                categorical_out[:, j] = encoder.encode_values(parsed.values)
                counts = {"missing": int(parsed.missing.sum()), "unparseable": int(parsed.unparseable.sum())}
                return encoder.name, {"role": "numeric", **counts}
            source = columns[encoder.name]
            strings = category_strings(source, column=encoder.name, file=file)
            strings = as_trained(strings, trained_kind(self.schema.column(encoder.name).dtype), source.type)
            categorical_out[:, j], missing, oov = encoder.encode(strings)
            return encoder.name, {"role": "categorical", "missing": missing, "oov": oov}

        positions = range(len(self.vocabularies_))
        if threads > 1 and n >= PARALLEL_MIN_ROWS and len(positions) > 1:
            # pyarrow, numpy and DuckDB release the GIL in their kernels; map() returns (and raises) in
            # column order, so the report and the first error are those of the serial loop.
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="needmap-encode") as pool:
                encoded = list(pool.map(encode_column, positions))
        else:
            encoded = [encode_column(j) for j in positions]
        for name, counts in encoded:  # a value field adds its count to its numeric column's entry
            column_report[name] = {**column_report[name], **counts} if name in valued else counts
        lists_out = []
        for column, spec in zip(self.list_columns_, self.list_specs_, strict=True):
            shared = None if spec["share"] is None else self.vocabularies_[spec["share"]]
            ids, column_report[column.name] = column.encode(columns[column.name], shared=shared, file=file)
            lists_out.append(ids)
        self.last_transform_report_ = {"rows": n, "columns": column_report}
        return FeatureBatch(numeric_out, categorical_out, tuple(lists_out))

    def column_positions(self, name: str) -> tuple[list[int], list[int], list[int]]:
        """Where :meth:`transform` writes what it reads from the input column ``name``: its columns of
        ``FeatureBatch.numeric`` (scaled number, missing indicator, zero flag), of ``FeatureBatch.categorical``
        (category ids, buckets, value field) and its entries of ``FeatureBatch.lists``; empty lists for a
        column that is not a feature. Every one of them is a function of that column's value in the same row
        alone, so shuffling the column's rows shuffles exactly these (permutation importance encodes once)."""
        self._check_fitted()
        numeric = [j for j, c in enumerate(self.numeric_columns_) if c.name == name]
        indicator_at = len(self.numeric_columns_)
        zero_at = indicator_at + sum(c.indicator for c in self.numeric_columns_)
        for column in self.numeric_columns_:  # the same order as transform writes them
            if column.indicator:
                numeric += [indicator_at] if column.name == name else []
                indicator_at += 1
            if column.zero_flag:
                numeric += [zero_at] if column.name == name else []
                zero_at += 1
        categorical = [j for j, e in enumerate(self.vocabularies_) if e.name == name]
        lists = [k for k, c in enumerate(self.list_columns_) if c.name == name]
        return sorted(numeric), categorical, lists

    def fit_transform(self, table: pa.Table, *, threads: int = 1) -> FeatureBatch:
        """``fit(table)`` then ``transform(table)``, each with ``threads``."""
        return self.fit(table, threads=threads).transform(table, threads=threads)

    def encode_target(self, table: pa.Table) -> np.ndarray:
        """The target column of ``table`` for the schema's task.

        float32 ``[n]`` of 0/1 (binary, ``schema.classes[1]`` = 1), int64 ``[n]`` class indices
        (multiclass) or float32 ``[n]`` values (regression); for a schema of several targets
        float32 ``[n, T]``, one column per target (:func:`needmap.preprocessing.target.encode_targets`).
        Raises :class:`DataError` for an empty target or a label outside ``schema.classes``; drop rows
        without a target first.
        """
        return encode_targets(table, self.schema)

    # -- persistence -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Schema, options and learned state as plain JSON types (no NaN), for ``from_dict``."""
        self._check_fitted()
        return {
            "format": FORMAT,
            "version": VERSION,
            "schema": self.schema.to_dict(),
            "config": self.config.to_dict(),
            "numeric": [c.to_dict() for c in self.numeric_columns_],
            "categorical": [e.to_dict() for e in self.vocabularies_],
            "lists": [c.to_dict() for c in self.list_columns_],
            "report": self.report_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        """A fitted preprocessor from :meth:`to_dict` output; :class:`ArtifactError` if it is not one.

        Reads versions 1 (no list features, vocabularies only) and 2.
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ArtifactError(f"the preprocessor state is not in the {FORMAT!r} format, expected to_dict output.")
        if data.get("version") not in READABLE_VERSIONS:
            raise ArtifactError(
                f"found preprocessor state version {data.get('version')!r}, expected version {VERSION}.",
                hint="Train the model again with this version of needmap.",
            )
        try:
            preprocessor = cls(Schema.from_dict(data["schema"]), PreprocessConfig.from_dict(data["config"]))
            numeric = [NumericColumn.from_dict(c) for c in data["numeric"]]
            encoders = [_encoder_from_dict(e) for e in data["categorical"]]
            lists = [ListColumn.from_dict(c) for c in data.get("lists", [])]
            report = dict(data["report"])
        except (KeyError, TypeError, ValueError) as err:
            raise ArtifactError(
                f"the preprocessor state is incomplete or malformed ({type(err).__name__}: {err}), "
                "expected to_dict output."
            ) from err
        scaled = {c.name for c in numeric}
        unread = [e.name for e in encoders if isinstance(e, ValueColumn) and e.name not in scaled]
        if unread:
            raise ArtifactError(
                f"the state has a value field of {unread[0]!r} but no scaled numeric column of that name; "
                "expected to_dict output."
            )
        names = {e.name for e in encoders}
        absent = [c.vocabulary_of for c in lists if c.vocabulary_of is not None and c.vocabulary_of not in names]
        if absent:
            raise ArtifactError(
                f"a list feature shares the ids of column {absent[0]!r}, which the state does not hold; "
                "expected to_dict output."
            )
        preprocessor._set_state(numeric, encoders, lists, report)
        return preprocessor


CategoricalEncoder = Vocabulary | HashedColumn | BucketColumn | ValueColumn
_ENCODERS: dict[str, type[Vocabulary] | type[HashedColumn] | type[BucketColumn] | type[ValueColumn]] = {
    Vocabulary.kind: Vocabulary,
    HashedColumn.kind: HashedColumn,
    BucketColumn.kind: BucketColumn,
    ValueColumn.kind: ValueColumn,
}


def _encoder_from_dict(data: dict[str, Any]) -> CategoricalEncoder:
    """A categorical encoder from its ``to_dict`` output (entries without ``kind`` are vocabularies)."""
    kind = data.get("kind", Vocabulary.kind)
    if kind not in _ENCODERS:
        raise ValueError(f"unknown categorical encoder kind {kind!r}; expected one of {', '.join(_ENCODERS)}")
    return _ENCODERS[kind].from_dict(data)
