"""One raw row (a dict) to features in plain Python: the online-scoring path of a fitted Preprocessor.

:meth:`Preprocessor.transform` works column by column on Arrow arrays, with a fixed cost per call and
column whatever the row count, which dominates for one row. :class:`RowEncoder` computes the same
features for one row with dict lookups and float arithmetic, without that fixed cost. It covers the
common values: numbers, booleans, numeric text, missing values (None, NaN, blanks, the missing-value
tokens) and categories as text, integers, booleans or whole floats, for numeric columns (their value
fields and zero flags included), bucketized numbers, vocabulary and hashed categoricals, and multi-hot and
sequence lists (a list of text, integers or booleans, or text split at the column's separator; a sequence keeps
its last ``max_len`` items, a multi-hot list its first). For anything else (a value it does not cover, a feature
column absent from the row, text that is not a number in a numeric column) :meth:`RowEncoder.encode` returns None
and the caller runs ``Preprocessor.transform``, which gives the same features or the same error: the two paths
are tested to agree row for row. Categories are read by
the type their column had in training (:mod:`needmap.preprocessing.category_reading`: ``"FALSE"`` and ``0`` for
false, ``"7.0"`` for 7), so a row of CSV text gets the features of that row in a file.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from needmap.data.overflow import standardized_one
from needmap.data.read_options import MISSING_MARKERS
from needmap.data.values import MISSING_TOKENS, NUMBER_PATTERN, WHOLE_FLOAT_LIMIT
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.buckets import BucketColumn
from needmap.preprocessing.category_reading import one_as_trained, trained_kind
from needmap.preprocessing.hashing import HashedColumn
from needmap.preprocessing.lists import LIST_OOV_ID, ListColumn
from needmap.preprocessing.numeric import NumericColumn, _quantile_rank
from needmap.preprocessing.string_ids import fnv1a_64_text
from needmap.preprocessing.values import ValueColumn
from needmap.preprocessing.vocab import MISSING_ID, OOV_ID, RESERVED_IDS, IdMap, Vocabulary

_NUMBER = re.compile(NUMBER_PATTERN)
_MISSING = frozenset(MISSING_TOKENS)
_MARKERS = frozenset(MISSING_MARKERS)


class _Unsupported(Exception):
    """A value the row path does not cover: the caller uses the batch path."""


def _number(value: Any) -> float:
    """A numeric column's raw value as a float (NaN = missing), as ``parse_numeric`` reads it."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        number = float(value)
        if math.isinf(number):
            raise _Unsupported
        return number
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _MISSING:
            return math.nan
        if _NUMBER.match(text):
            number = float(text)
            if math.isfinite(number):
                return number
        raise _Unsupported  # not a number: the batch path counts it and applies max_unparseable
    raise _Unsupported


def _category(value: Any) -> str | None:
    """A categorical value as its category string (None = missing), as ``category_strings`` names it once
    ``read`` has cleaned it (text stripped, the default missing markers missing: the batch path of a dict)."""
    if value is None:
        return None
    if isinstance(value, str):  # as read() cleans a dict's text: stripped, a missing marker ("?", "#N/A") missing
        text = value.strip()
        return None if not text or text in _MARKERS else text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < WHOLE_FLOAT_LIMIT:
            return str(int(value))
    raise _Unsupported


def _hashed_id(value: Any, kind: str, buckets: int) -> int:
    """The id of one value of a hashed column: ``2 + fnv1a_64(name) mod buckets``, 1 when missing
    (:mod:`needmap.preprocessing.hashing`), the value named as its column was in training."""
    name = _category(value)
    if name is None:
        return MISSING_ID
    named = one_as_trained(value, name, kind)
    if named is None:
        raise _Unsupported
    return RESERVED_IDS + fnv1a_64_text(named) % buckets


def _token(item: Any) -> str | None:
    """One element of a list cell as ``list_tokens`` names it (trimmed; None: dropped)."""
    if item is None:
        return None
    if isinstance(item, str):
        return item.strip() or None
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    raise _Unsupported  # a float's name is Arrow's: the batch path names it


def _list_ids(value: Any, column: ListColumn, ids: IdMap | HashedColumn) -> np.ndarray:
    """The padded ids ``[1, max_len]`` of one list cell (:class:`~needmap.preprocessing.lists.ListColumn`): a list
    of text, integers or booleans, or text split at the column's separator; None (or text ``read`` makes missing)
    is a missing list, all padding."""
    out = np.zeros((1, column.max_len), dtype=np.int64)
    if value is None:
        return out
    if isinstance(value, str):
        text = value.strip()
        if not text or text in _MARKERS:  # read() makes such a cell missing
            return out
        items: list[Any] = value.split(column.separator)
    elif isinstance(value, (list, tuple)):
        kinds = {type(v) for v in value if v is not None}
        if len(kinds) > 1:  # one Arrow type per list: the batch path says what it makes of a mix
            raise _Unsupported
        items = list(value)
    else:
        raise _Unsupported
    tokens = [t for t in (_token(item) for item in items) if t is not None]
    kept = tokens[-column.max_len :] if column.keep_last else tokens[: column.max_len]
    for k, token in enumerate(kept):
        if isinstance(ids, HashedColumn):
            out[0, k] = RESERVED_IDS + fnv1a_64_text(token) % ids.buckets
        else:
            found = ids.get(token, OOV_ID)
            out[0, k] = LIST_OOV_ID if found == OOV_ID else found
    return out


def _category_id(value: Any, kind: str, ids: IdMap) -> int:
    """The id of one categorical value, read by the type its column had in training
    (:mod:`needmap.preprocessing.category_reading`); an unseen missing token is missing, as in ``Vocabulary.encode``."""
    name = _category(value)
    if name is None:
        return MISSING_ID
    named = one_as_trained(value, name, kind)
    if named is None:
        raise _Unsupported
    found = ids.get(named, OOV_ID)
    if found == OOV_ID and named.strip().lower() in _MISSING:
        return MISSING_ID
    return found


def _scaled(column: NumericColumn, raw: float) -> float:
    """``NumericColumn.transform`` of one value: clip to the training bounds, impute, scale."""
    x = raw
    if not math.isnan(x) and column.clip_low is not None and column.clip_high is not None:
        x = min(max(x, column.clip_low), column.clip_high)
    if math.isnan(x):
        x = column.impute_value
    if column.scaling == "standard":
        return standardized_one(x, column.center, column.scale)
    if column.scaling == "log1p":
        signed = math.copysign(math.log1p(abs(x)), x) if x != 0 else 0.0
        return (signed - column.center) / column.scale
    if column.scaling == "quantile":
        return float(_quantile_rank(np.array([x]), np.asarray(column.quantiles, dtype=np.float64))[0])
    return x


class RowEncoder:
    """Features of one raw row for a fitted ``Preprocessor`` (see the module docstring).

    ``covered`` is False for a preprocessor with list features, hashed or bucketized columns: then
    every row goes to the batch path.
    """

    def __init__(self, preprocessor: Any) -> None:
        self.numeric: list[NumericColumn] = list(preprocessor.numeric_columns_)
        self.encoders = list(preprocessor.vocabularies_)
        self.n_numeric = int(preprocessor.n_numeric_)
        self.lists = list(getattr(preprocessor, "list_columns_", []))
        specs = list(getattr(preprocessor, "list_specs_", []))
        self.covered = all(isinstance(e, (Vocabulary, ValueColumn, HashedColumn, BucketColumn)) for e in self.encoders)
        self._ids: list[IdMap | dict[float, int] | None] = []
        self._list_ids: list[IdMap | HashedColumn] = []
        if self.covered:
            self._ids = [e.id_map() if isinstance(e, (Vocabulary, ValueColumn)) else None for e in self.encoders]
            for column, spec in zip(self.lists, specs, strict=True):
                shared = None if spec["share"] is None else self.encoders[spec["share"]]
                if isinstance(shared, HashedColumn):
                    self._list_ids.append(shared)
                elif isinstance(shared, Vocabulary):
                    self._list_ids.append(shared.id_map())
                elif shared is None:
                    self._list_ids.append(column._vocabulary.id_map())
                else:
                    self.covered = False
        dtypes = {c.name: c.dtype for c in preprocessor.schema.columns}
        self._kinds = [trained_kind(dtypes.get(e.name, "")) for e in self.encoders]

    def encode(self, row: Mapping[str, Any]) -> FeatureBatch | None:
        """The row's features (numeric float32 ``[1, n_numeric]``, ids int64 ``[1, n_cat]``), or None
        when the batch path must handle this row."""
        if not self.covered:
            return None
        numeric = np.empty((1, self.n_numeric), dtype=np.float32)
        categorical = np.empty((1, len(self.encoders)), dtype=np.int64)
        try:
            indicator_at = len(self.numeric)
            zero_at = indicator_at + sum(c.indicator for c in self.numeric)
            for j, column in enumerate(self.numeric):
                raw = _number(row[column.name])
                numeric[0, j] = _scaled(column, raw)
                if column.indicator:
                    numeric[0, indicator_at] = 1.0 if math.isnan(raw) else 0.0
                    indicator_at += 1
                if column.zero_flag:
                    numeric[0, zero_at] = 1.0 if raw == 0.0 else 0.0
                    zero_at += 1
            for j, (encoder, ids) in enumerate(zip(self.encoders, self._ids, strict=True)):
                if isinstance(encoder, ValueColumn):
                    value = _number(row[encoder.name])
                    categorical[0, j] = MISSING_ID if math.isnan(value) else ids.get(value, OOV_ID)  # type: ignore[union-attr, call-overload]
                elif isinstance(encoder, BucketColumn):
                    value = _number(row[encoder.name])
                    categorical[0, j] = (
                        MISSING_ID if math.isnan(value) else RESERVED_IDS + bisect.bisect_right(encoder.edges, value)
                    )
                elif isinstance(encoder, HashedColumn):
                    categorical[0, j] = _hashed_id(row[encoder.name], self._kinds[j], encoder.buckets)
                else:
                    categorical[0, j] = _category_id(row[encoder.name], self._kinds[j], ids)  # type: ignore[arg-type]
            lists = tuple(
                _list_ids(row[column.name], column, ids) for column, ids in zip(self.lists, self._list_ids, strict=True)
            )
        except (_Unsupported, KeyError):
            return None
        return FeatureBatch(numeric, categorical, lists)
