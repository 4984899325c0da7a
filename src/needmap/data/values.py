"""How needmap reads the values of a column, of any Arrow type: as labels, numbers or lists of tokens.

- :func:`stringify` and :func:`category_strings`: values as category and class labels (strings).
- :func:`parse_numeric`: a numeric column as float64, text numbers parsed and missing tokens recognized.
- :func:`list_tokens`: a list column (Arrow lists, or text split at a separator) flattened into tokens.

Schema inference, the data profile and the preprocessor all read columns through these, so that a
value means the same thing to each of them. Everything runs on whole columns (``pyarrow.compute``
and numpy), without a Python loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.errors import DataError, SchemaError

# A decimal number in ASCII digits, with optional sign, point and exponent ("1e5", "+.5", "5.").
NUMBER_PATTERN = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
# Text that means "no value" in a numeric column (compared after trimming and lower-casing).
MISSING_TOKENS: tuple[str, ...] = ("", "na", "n/a", "nan", "null", "none")
#: Whole floats below this magnitude are named by their integer digits (:func:`stringify`): the int64 range.
WHOLE_FLOAT_LIMIT = 2.0**63
#: The separator of a text multi-hot column unless its ``separator`` option says otherwise.
MULTIHOT_SEPARATOR = "|"


def stringify(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Cast an array of any type to strings, the way needmap names categories and classes.

    Booleans become ``"true"``/``"false"``, integers their decimal digits, floats that hold whole
    numbers within the int64 range lose the ``.0`` (``1.0`` -> ``"1"``), other floats (``1.5``, ``1e+308``,
    ``inf``) Arrow's shortest repr; strings are kept as they are. Nulls stay null. Shape: same length as
    ``array``.
    """
    typ = array.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return array
    if pa.types.is_dictionary(typ):
        return stringify(pc.cast(array, typ.value_type))
    if pa.types.is_boolean(typ):
        return pc.if_else(array, "true", "false")
    if pa.types.is_floating(typ):
        # |x| < 2^63: a whole float beyond int64 (the sentinel 1e308, inf) keeps its own name instead of
        # one wrapped-around integer that several values would share
        whole = pc.and_(pc.equal(pc.floor(array), array), pc.less(pc.abs(array), WHOLE_FLOAT_LIMIT))
        as_int = pc.cast(pc.if_else(whole, array, 0.0), pa.int64(), safe=False)
        return pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(array, pa.string()))
    return pc.cast(array, pa.string())


def category_strings(array: pa.Array | pa.ChunkedArray, *, column: str, file: str | None) -> pa.ChunkedArray:
    """A categorical column of any scalar Arrow type as strings ``[n]``, blank strings made null.

    Values are named by the shared :func:`needmap.data.values.stringify` (``1.0`` -> ``"1"``,
    ``True`` -> ``"true"``), so an int code read as float elsewhere still finds its category.
    Raises :class:`SchemaError` for types that have no string form (lists, structs, ...).
    """
    chunked = array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])
    if pa.types.is_null(chunked.type):
        return pa.chunked_array([pa.nulls(len(chunked), pa.string())])
    try:
        strings = stringify(chunked)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as err:
        raise SchemaError(
            f"the column has Arrow type {chunked.type}, expected values that can be named as "
            "categories (text, numbers, booleans, dates).",
            file=file,
            column=column,
            hint="Give this column another role (ignored, for example).",
        ) from err
    blank = pc.equal(pc.utf8_trim_whitespace(strings), "")
    return pc.if_else(blank, pa.scalar(None, type=strings.type), strings)


@dataclass
class ParsedNumbers:
    """A numeric column as float64, with the masks that say why a value is NaN.

    Attributes:
        values: float64 ``[n]``; NaN where the value is missing or unparseable.
        missing: bool ``[n]``; null, blank, a missing token ("NA", "nan", ...) or a float NaN.
        unparseable: bool ``[n]``; present but not a finite number (text, or +-inf).
        source: the column as it arrived, to quote an offending value in an error.
    """

    values: np.ndarray
    missing: np.ndarray
    unparseable: np.ndarray
    source: pa.ChunkedArray

    def check_unparseable(self, max_fraction: float, *, column: str, file: str | None, first_row: int | None) -> None:
        """Raise :class:`DataError` if more than ``max_fraction`` of the non-null values are not numbers.

        ``first_row`` is the display number of data row 0, used to name the first offending row.
        """
        bad = int(self.unparseable.sum())
        present = len(self.values) - int(self.missing.sum())
        if bad == 0 or bad <= max_fraction * present:
            return
        first = int(np.flatnonzero(self.unparseable)[0])
        found = self.source[first].as_py()
        raise DataError(
            f"found {found!r}, expected a number; {bad} of {present} non-empty values "
            f"({bad / present:.1%}) in this numeric column are not numbers, more than "
            f"max_unparseable = {max_fraction:.1%}.",
            file=file,
            row=None if first_row is None else first_row + first,
            column=column,
            hint="Fix those values, mark the column categorical, or raise max_unparseable.",
        )


def _as_chunked(array: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def to_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow array as numpy ``[n]`` (a copy for chunked arrays).

    Joining the chunks first keeps to plain Arrow (``ChunkedArray.to_numpy`` goes through pandas).
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.to_numpy(zero_copy_only=False)


def _bools(array: pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as a numpy bool ``[n]``, nulls read as False."""
    return np.asarray(to_numpy(pc.fill_null(array, False)), dtype=bool)


def parse_numeric(array: pa.Array | pa.ChunkedArray, *, column: str, file: str | None) -> ParsedNumbers:
    """Read one numeric column of any supported Arrow type as float64 (shape ``[n]``).

    Numbers, booleans (0/1) and decimals are cast; an integer beyond 2^53 (a nanosecond timestamp) becomes
    the nearest float64, as Python's ``float()`` gives it. Text is trimmed; blanks and the tokens
    ``NA``, ``N/A``, ``nan``, ``null``, ``none`` (any case) are missing; other text is parsed when it
    is a decimal number (``"-1.5e3"``) and counted as unparseable otherwise. Infinities are
    unparseable too. Raises :class:`SchemaError` for types that cannot hold numbers (lists, ...).
    """
    source = _as_chunked(array)
    typ = source.type
    if pa.types.is_dictionary(typ):
        return parse_numeric(pc.cast(source, typ.value_type), column=column, file=file)
    n = len(source)
    if pa.types.is_null(typ):
        values = np.full(n, np.nan)
        return ParsedNumbers(values, np.ones(n, dtype=bool), np.zeros(n, dtype=bool), source)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        text = pc.utf8_trim_whitespace(source)
        blank = _bools(pc.is_in(pc.utf8_lower(text), value_set=pa.array(MISSING_TOKENS)))
        missing = _bools(pc.is_null(text)) | blank
        number_like = pc.match_substring_regex(text, NUMBER_PATTERN)
        kept = pc.if_else(number_like, text, pa.scalar(None, type=text.type))
        values = to_numpy(pc.fill_null(pc.cast(kept, pa.float64()), np.nan))
    elif pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ) or pa.types.is_decimal(typ):
        # safe=False: an int64 beyond 2^53 has no exact float64; the nearest one is the number a feature needs
        values = to_numpy(pc.fill_null(pc.cast(source, pa.float64(), safe=False), np.nan))
        missing = np.isnan(values)
    else:
        raise SchemaError(
            f"the column has Arrow type {typ}, expected numbers or text for a numeric column.",
            file=file,
            column=column,
            hint="Give this column another role (categorical, datetime or ignored).",
        )
    values = np.array(values, dtype=np.float64)
    unparseable = ~missing & ~np.isfinite(values)
    values[unparseable] = np.nan
    return ParsedNumbers(values, missing, unparseable, source)


@dataclass
class ListTokens:
    """The tokens of ``n`` list cells, flattened.

    Attributes:
        tokens: string ``[t]``, no nulls, no empty strings, row by row in cell order.
        rows: int64 ``[t]``, the row of each token (non-decreasing).
        lengths: int64 ``[n]``, tokens per row.
        missing: bool ``[n]``, true where the cell is null.
    """

    tokens: pa.Array
    rows: np.ndarray
    lengths: np.ndarray
    missing: np.ndarray


def is_list_type(typ: pa.DataType) -> bool:
    """Whether ``typ`` is an Arrow list type (list, large list, fixed-size list, list view)."""
    return (
        pa.types.is_list(typ)
        or pa.types.is_large_list(typ)
        or pa.types.is_fixed_size_list(typ)
        or pa.types.is_list_view(typ)
        or pa.types.is_large_list_view(typ)
    )


def is_text_type(typ: pa.DataType) -> bool:
    """Whether ``typ`` is an Arrow string type (string, large string, string view)."""
    return pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ)


def plain_array(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array, dictionaries decoded and string views as strings.

    List views are kept: ``list_value_length`` and ``list_flatten`` read them directly (casting a
    taken list view to a list gives an invalid array in pyarrow 26).
    """
    plain = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    if pa.types.is_dictionary(plain.type):
        plain = plain.cast(plain.type.value_type)
    if pa.types.is_string_view(plain.type):
        plain = plain.cast(pa.string())
    return plain


def list_tokens(array: pa.Array | pa.ChunkedArray, *, separator: str, column: str, file: str | None) -> ListTokens:
    """Flatten a list column of ``n`` cells (Arrow lists, or text split at ``separator``).

    Raises :class:`SchemaError` when the column is neither, or its elements cannot be named (lists
    of lists, structs, ...).
    """
    plain = plain_array(array)
    n = len(plain)
    typ = plain.type
    if pa.types.is_null(typ):  # e.g. an empty column of a CSV file: every list is missing
        plain = pa.nulls(n, pa.list_(pa.string()))
    elif is_text_type(typ):
        plain = pc.split_pattern(plain, pattern=separator)
    elif not is_list_type(typ):
        raise SchemaError(
            f"the column has Arrow type {typ}, expected Arrow lists or text that a separator splits "
            "into lists for a multihot or sequence column.",
            file=file,
            column=column,
            hint="Give the column another role, or set its separator option.",
        )
    missing = np.asarray(to_numpy(plain.is_null()), dtype=bool)
    lengths = np.asarray(to_numpy(pc.fill_null(pc.list_value_length(plain), 0)), dtype=np.int64)
    flat = pc.list_flatten(plain)
    if len(flat) != int(lengths.sum()):  # list_flatten skips null cells; their lengths are 0 above
        raise SchemaError(
            f"the column's list lengths add up to {int(lengths.sum())} items but {len(flat)} were found, "
            "expected a well-formed Arrow list column.",
            file=file,
            column=column,
        )
    element = flat.type
    if pa.types.is_nested(element) or pa.types.is_binary(element) or pa.types.is_large_binary(element):
        raise SchemaError(
            f"the column's list elements have Arrow type {element}, expected text, numbers or true/false values.",
            file=file,
            column=column,
        )
    try:
        strings = pc.utf8_trim_whitespace(stringify(flat))
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as err:
        raise SchemaError(
            f"the column's list elements have Arrow type {element}, expected text, numbers or true/false values.",
            file=file,
            column=column,
        ) from err
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    keep = pc.and_(pc.is_valid(strings), pc.not_equal(pc.fill_null(strings, ""), ""))
    keep_np = np.asarray(to_numpy(keep), dtype=bool)
    if not keep_np.all():
        strings = strings.filter(keep)
        rows = rows[keep_np]
        lengths = np.bincount(rows, minlength=n).astype(np.int64)
    return ListTokens(strings, rows, lengths, missing)
