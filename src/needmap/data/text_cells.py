"""Text values as read from a file, cleaned: spaces around them stripped, missing markers read as missing.

A file as downloaded often pads its values (``39, State-gov, ..., >50K``: a space after each comma)
and writes a missing value as a marker (``?``, ``NA``, ``null``). Kept as they are, ``' >50K'`` and
``'>50K'`` would be two classes, and ``?`` a category of its own. :func:`clean_text_columns` strips
the text values of every text column and turns the markers (and empty values) into nulls; a column
that held numbers, dates or true/false values only behind the padding or the markers gets the type
the reader gives such values. What it changed is counted per column, so that ``needmap schema`` can
say it, and recorded with the table (:func:`cleaned_of`).

Training and scoring read their files through the same function with the same options, so a model
sees its new rows as it saw its training rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from needmap.data.code_text import keeps_its_text

CLEANED_KEY = b"needmap.cleaned"
_NULL = "\x1e"  # stands for a null while a column is typed again: no value can hold it
_FORBIDDEN = ("\n", "\r", '"', "\x1f", _NULL)


def clean_text_columns(
    table: pa.Table, *, strip: bool, missing: Sequence[str], convert: pacsv.ConvertOptions
) -> pa.Table:
    """``table`` with its text columns stripped (``strip``) and ``missing`` markers and empty values made null.

    A column changed so gets the type ``convert`` (the reader's conversion options) infers for its
    cleaned values. The counts of values stripped and read as missing, per column, are stored in the
    schema metadata (:func:`cleaned_of`).
    """
    markers = pa.array(sorted({"", *missing}), pa.string())
    counts: dict[str, dict[str, int]] = {}
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if not pa.types.is_string(column.type):
            columns.append(column)
            continue
        # whole chunked columns: no copy into one array unless the column changes
        cleaned = pc.utf8_trim_whitespace(column) if strip else column
        stripped = (
            (pc.sum(pc.not_equal(pc.binary_length(cleaned), pc.binary_length(column))).as_py() or 0) if strip else 0
        )
        marked = pc.is_in(cleaned, value_set=markers)
        as_missing = pc.sum(marked).as_py() or 0
        if not stripped and not as_missing:
            columns.append(column)
            continue
        cleaned = pc.if_else(pc.fill_null(marked, False), pa.scalar(None, pa.string()), cleaned)
        counts[name] = {"stripped": int(stripped), "missing": int(as_missing)}
        columns.append(pa.chunked_array([_typed(cleaned.combine_chunks(), convert)]))
    if not counts:
        return table
    meta = dict(table.schema.metadata or {})
    meta[CLEANED_KEY] = json.dumps(counts).encode("utf-8")
    return pa.Table.from_arrays(columns, names=table.column_names).replace_schema_metadata(meta)


def _typed(values: pa.Array, convert: pacsv.ConvertOptions) -> pa.Array:
    """The cleaned text values with the type the reader infers for them (text stays text)."""
    present = pc.drop_null(values)
    if len(present) == 0:
        return pa.nulls(len(values), pa.null())  # as the reader types a column of empty fields
    if any(pc.any(pc.match_substring(present, ch)).as_py() for ch in _FORBIDDEN):
        return values  # a value holding a line break or a quote is text
    lines = pc.fill_null(values, _NULL).to_pylist()
    options = pacsv.ConvertOptions(
        null_values=[_NULL],
        strings_can_be_null=True,
        true_values=convert.true_values,
        false_values=convert.false_values,
        timestamp_parsers=convert.timestamp_parsers,
    )
    try:
        typed = pacsv.read_csv(
            pa.py_buffer("\n".join(lines).encode("utf-8") + b"\n"),
            read_options=pacsv.ReadOptions(column_names=["v"]),
            parse_options=pacsv.ParseOptions(delimiter="\x1f", quote_char=False, ignore_empty_lines=False),
            convert_options=options,
        ).column(0)
    except pa.ArrowInvalid:
        return values
    if len(typed) != len(values) or pa.types.is_string(typed.type) or keeps_its_text(present, typed):
        return values
    return typed.combine_chunks()


def cleaned_of(table: pa.Table) -> dict[str, dict[str, Any]]:
    """Per column, the counts of values stripped and read as missing when the table was read (``{}`` if none)."""
    value = (table.schema.metadata or {}).get(CLEANED_KEY)
    return json.loads(value) if value else {}
