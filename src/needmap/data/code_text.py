"""Codes written with leading zeros keep their text: ``00001``, ``007``, ``02134`` are labels, not numbers.

A CSV reader that infers types reads a column of ``00001``, ``00002``, ... as the integers 1, 2, ...: an id
column loses its zeros, and the scores no longer join back to the customer table they came from. Nobody
writes a count with a leading zero, so an integer column of a text file in which any value starts with
one (``0`` followed by a digit, after an optional sign) is read as the text of the file instead: schema
inference then sees codes (an id when every value is unique, else a category), and the scores carry the
ids exactly as they were written, in every output format. A column that is a number after all (a
fixed-width export, ``000125``) is read as one with ``--numeric``.

The same goes for a column of whole numbers too long for int64 (order ids of 20 digits): a reader makes
them floats, which keep about 16 digits, so that two ids become one number; they keep their text too.

Only integer columns (and float columns of such long whole numbers) are checked, by reading those columns
of the file again as text: reading a CSV file with integer columns takes up to about twice as long (the
bundled bank file: 0.04 s to 0.08 s; 541,909 rows of Online Retail: 0.25 s to 0.45 s), one without them
no longer; Parquet and JSON lines keep the type they were written with and are not read again.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

#: Text of a whole number with a leading zero: ``007``, ``-01``, `` 00001`` (not ``0``, ``0.5``, ``007 Bond``).
LEADING_ZERO = r"^\s*[+-]?0[0-9]+\s*$"
#: Text of a whole number in digits, with an optional sign.
DIGITS = r"^\s*[+-]?[0-9]+\s*$"
#: Float values at or beyond this magnitude did not fit an int64 (2^63).
WIDEST_INTEGER = 2.0**63


def has_leading_zero(text: pa.Array | pa.ChunkedArray) -> bool:
    """Whether any value of the text array ``[n]`` is a whole number written with a leading zero."""
    return bool(pc.any(pc.match_substring_regex(text, LEADING_ZERO)).as_py())


def as_text_options(options: pacsv.ConvertOptions, names: list[str]) -> pacsv.ConvertOptions:
    """``options`` (what is missing stays missing) for reading only the columns ``names``, as text."""
    return pacsv.ConvertOptions(
        null_values=options.null_values,
        strings_can_be_null=options.strings_can_be_null,
        quoted_strings_can_be_null=options.quoted_strings_can_be_null,
        include_columns=names,
        column_types={name: pa.string() for name in names},
    )


def _beyond_int64(column: pa.ChunkedArray) -> bool:
    """Whether a float column holds only whole numbers, one of them beyond the int64 range: digits that a
    reader could not fit in an integer (a 20-digit order id), which a float keeps only to 16 or so."""
    extremes = pc.min_max(column).as_py()  # cheap first: almost every float column stays inside int64's range
    if extremes["min"] is None or max(abs(extremes["min"]), abs(extremes["max"])) < WIDEST_INTEGER:
        return False
    finite = pc.drop_null(pc.if_else(pc.is_finite(column), column, pa.scalar(None, pa.float64())))
    if len(finite) == 0 or not pc.all(pc.equal(pc.floor(finite), finite)).as_py():
        return False
    return bool(pc.max(pc.abs(finite)).as_py() >= WIDEST_INTEGER)


def keep_code_text(table: pa.Table, read_as_text: Callable[[list[str]], pa.Table]) -> pa.Table:
    """``table`` as read from a text file with inferred types, each integer column whose text has a
    leading zero replaced by that text, and each float column whose text is all whole numbers too long for
    int64 (ids of 20 digits, which a float would round to the same number). ``read_as_text(names)`` reads
    the columns ``names`` of the same file as text (same rows, same missing values)."""
    if len(set(table.column_names)) != table.num_columns:
        return table  # duplicate names: reading reports them
    integers = [f.name for f in table.schema if pa.types.is_integer(f.type)]
    long_digits = [f.name for f in table.schema if pa.types.is_float64(f.type) and _beyond_int64(table[f.name])]
    if not integers and not long_digits:
        return table
    text = read_as_text(integers + long_digits)
    for name in integers + long_digits:
        column = text.column(name)
        if _is_code_text(column, integer=name in integers):
            table = table.set_column(table.schema.get_field_index(name), name, column)
    return table


def _is_code_text(text: pa.Array | pa.ChunkedArray, *, integer: bool) -> bool:
    """The text of an integer column: whether a value has a leading zero; of a float column of whole numbers
    beyond int64: whether every value is digits (an id, not a number written as ``1e20``)."""
    if integer:
        return has_leading_zero(text)
    return bool(pc.all(pc.match_substring_regex(pc.drop_null(text), DIGITS)).as_py())


def keeps_its_text(text: pa.Array | pa.ChunkedArray, typed: pa.Array | pa.ChunkedArray) -> bool:
    """Whether text values ``[n]`` that a reader typed as ``typed`` are codes that must stay text: integers with
    a leading zero, or whole numbers too long for int64 (the rule of :func:`keep_code_text`, for a column typed
    again after its text was cleaned)."""
    if pa.types.is_integer(typed.type):
        return _is_code_text(text, integer=True)
    return pa.types.is_float64(typed.type) and _beyond_int64(typed) and _is_code_text(text, integer=False)
