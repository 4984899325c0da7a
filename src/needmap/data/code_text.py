"""Codes written with leading zeros keep their text: ``00001``, ``007``, ``02134`` are labels, not numbers.

A CSV reader that infers types reads a column of ``00001``, ``00002``, ... as the integers 1, 2, ...: an id
column loses its zeros, and the scores no longer join back to the customer table they came from. Nobody
writes a count with a leading zero, so an integer column of a text file in which any value starts with
one (``0`` followed by a digit, after an optional sign) is read as the text of the file instead: schema
inference then sees codes (an id when every value is unique, else a category), and the scores carry the
ids exactly as they were written, in every output format. A column that is a number after all (a
fixed-width export, ``000125``) is read as one with ``--numeric``.

Only integer columns are checked, by reading those columns of the file again as text (about 40% more
time to read a CSV that has integer columns; nothing for one without, nor for Parquet and JSON lines,
which keep the type they were written with).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

#: Text of a whole number with a leading zero: ``007``, ``-01``, `` 00001`` (not ``0``, ``0.5``, ``007 Bond``).
LEADING_ZERO = r"^\s*[+-]?0[0-9]+\s*$"


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


def keep_code_text(table: pa.Table, read_as_text: Callable[[list[str]], pa.Table]) -> pa.Table:
    """``table`` as read from a text file with inferred types, each integer column whose text has a
    leading zero replaced by that text. ``read_as_text(names)`` reads the columns ``names`` of the same
    file as text (same rows, same missing values)."""
    names = [f.name for f in table.schema if pa.types.is_integer(f.type)]
    if not names or len(set(table.column_names)) != table.num_columns:
        return table  # duplicate names: reading reports them
    text = read_as_text(names)
    for name in names:
        column = text.column(name)
        if has_leading_zero(column):
            table = table.set_column(table.schema.get_field_index(name), name, column)
    return table
