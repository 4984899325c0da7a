"""The layout of a delimited text file, found from its first lines: delimiter, preamble lines, header row.

A file as downloaded may separate its values by a comma, a semicolon, a tab, a bar or by runs of
spaces that align the columns (``customer_id  date      number_of_cds  dollar_value``, the layout of
several classic marketing data sets such as the CDNOW purchase log); it may open with a line that is
no part of the table (``|1x3 Cross validator`` in the UCI census test file); and it may have no header
row at all (the UCI census files start with ``39, State-gov, 77516, ...``). :func:`sniff_layout` finds
each of these from a sample of the file, so that :mod:`needmap.data.read_text` reads the table as it is.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

#: Single-character delimiters tried when none is given, in order of preference.
CANDIDATE_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
#: The delimiter name of runs of spaces and tabs (whitespace-aligned columns).
WHITESPACE = "whitespace"
#: Spellings of :data:`WHITESPACE` accepted from the user.
WHITESPACE_NAMES: tuple[str, ...] = (WHITESPACE, r"\s+", "spaces")
#: Leading one-field lines a file may have before its table (a title, a comment) that are skipped.
MAX_PREAMBLE = 5
_SAMPLE_RECORDS = 50


@dataclass(frozen=True)
class Layout:
    """How a text file's table is laid out.

    Attributes:
        delimiter: a single character, or :data:`WHITESPACE` for runs of spaces and tabs.
        skip: lines before the table (a preamble such as ``|1x3 Cross validator``), skipped.
        fields: the number of fields of the table's first row.
    """

    delimiter: str
    skip: int = 0
    fields: int = 0


def records(text: str, delimiter: str) -> Iterator[list[str]]:
    """The records of ``text`` split by ``delimiter`` (an empty line gives an empty record)."""
    if delimiter == WHITESPACE:
        return (line.split() for line in text.splitlines())
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)


def _field_counts(sample: str, delimiter: str) -> list[int] | None:
    counts: list[int] = []
    try:
        for rec in records(sample, delimiter):
            if rec:
                counts.append(len(rec))
            if len(counts) >= _SAMPLE_RECORDS:
                break
    except csv.Error:
        return None
    return counts


def _preamble(counts: list[int]) -> int:
    """Leading one-field records before records of several fields: lines that are no part of the table."""
    skip = 0
    while skip < min(MAX_PREAMBLE, len(counts) - 1) and counts[skip] == 1:
        skip += 1
    return skip if skip < len(counts) and counts[skip] >= 2 else 0


def _score(counts: list[int]) -> tuple[float, int, int] | None:
    """(share of records with the table's field count, that count, preamble lines); None if one field."""
    skip = _preamble(counts)
    body = counts[skip:]
    if not body or body[0] < 2:
        return None
    return sum(c == body[0] for c in body) / len(body), body[0], skip


def sniff_layout(sample: str, preferred: str, delimiter: str | None = None) -> Layout:
    """The layout of the file whose first lines are ``sample`` (text).

    With ``delimiter`` None, the candidate that splits the first row into most fields with every record
    agreeing is taken (compared by the share of records whose field count equals the first row's, then
    by that count, then ``preferred`` first); runs of spaces are taken only when no single character
    splits the rows and they split every sampled row into the same number (two or more) of fields. A
    file that nothing splits reads as one column with ``preferred``. Up to :data:`MAX_PREAMBLE` leading
    lines of one field followed by rows of several are a preamble, skipped.
    """
    if delimiter is not None:
        counts = _field_counts(sample, delimiter) or []
        scored = _score(counts)
        return Layout(delimiter, scored[2] if scored else 0, scored[1] if scored else (counts[0] if counts else 0))
    best: tuple[float, int, int] | None = None
    choice = Layout(preferred, 0, 1)
    order = [preferred, *[d for d in CANDIDATE_DELIMITERS if d != preferred]]
    for rank, cand in enumerate(order):
        scored = _score(_field_counts(sample, cand) or [])
        if scored is None:
            continue
        key = (scored[0], scored[1], -rank)
        if best is None or key > best:
            best, choice = key, Layout(cand, scored[2], scored[1])
    if best is None:
        counts = _field_counts(sample, WHITESPACE) or []
        scored = _score(counts)
        if scored is not None and scored[0] == 1.0 and len(counts) - scored[2] >= 2:
            choice = Layout(WHITESPACE, scored[2], scored[1])
    return choice


def _kind(value: str, missing: Iterable[str]) -> str:
    """'missing', 'number' or 'text'."""
    text = value.strip()
    if text == "" or text in missing:
        return "missing"
    try:
        float(text)
    except ValueError:
        return "text"
    return "number"


def looks_headerless(sample: str, layout: Layout, missing: Iterable[str]) -> bool:
    """Whether the first row of the table in ``sample`` is data rather than column names.

    A header is taken to be absent when its values match the data's types: every column whose sampled
    values are all numbers has a number in the first row, and, where there are text columns, the first
    row's text recurs among the values below it in at least one of them (``State-gov``, ``<=50K``), or
    in half of them when no column is numeric. A number in the first row of a numeric column with no
    text column to confirm it (``region,2019,2020`` over numbers) is not enough; a text first value over
    a numeric column (``age`` over ``39``) always means a header.
    """
    markers = set(missing)
    rows = [rec for rec in records(sample, layout.delimiter) if rec][layout.skip : layout.skip + _SAMPLE_RECORDS]
    if len(rows) < 2:
        return False
    first, data = rows[0], rows[1:]
    numeric = matched = text_columns = recurring = 0
    for j, head in enumerate(first):
        values = [row[j] for row in data if j < len(row)]
        kinds = Counter(_kind(v, markers) for v in values)
        head_kind = _kind(head, markers)
        if kinds["number"] and not kinds["text"]:
            if head_kind == "text":
                return False
            numeric += 1
            matched += head_kind == "number"
        elif kinds["text"]:
            text_columns += 1
            recurring += head_kind == "text" and head.strip() in {v.strip() for v in values}
    if numeric:
        return matched == numeric and (text_columns == 0 or recurring > 0)
    return recurring > 0 and 2 * recurring >= text_columns


def generated_names(count: int) -> list[str]:
    """Names of the columns of a file without a header row: ``column_1`` ... ``column_<count>``."""
    return [f"column_{i}" for i in range(1, count + 1)]
