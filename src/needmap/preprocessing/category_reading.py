"""Category values read by the type their column had in training, so that one value means one category
whichever way it arrives.

A CSV file reads ``False``, ``FALSE`` and ``false`` as the boolean false and ``7.0`` as the number 7; a
row given as a dict, or a table made of such rows, holds the same values as text, and a data frame may
hold a 0/1 column for a true/false one. Named as they arrive (``"False"``, ``"7.0"``, ``"0"``), they would
match no category learned from the file (``"false"``, ``"7"``) and be scored as unseen. So a categorical
column trained on booleans reads the true/false spellings and 1/0 (numbers or text) as ``"true"`` /
``"false"``, and one trained on numbers reads text that is a number as that number's name (``" 7"``,
``"7.0"`` -> ``"7"``; a code with a leading zero, ``"007"``, keeps its text, as a file keeps it). Columns
trained on text read values as they are. :func:`as_trained` does this for a column, :func:`one_as_trained`
for one value (the one-row path), with the same result.

A value that a file reads as missing (``""``, ``NA``, ``null``, ...: the missing tokens of
:mod:`needmap.data.values`) and that is no category of the column is missing, not unseen
(:meth:`needmap.preprocessing.vocab.Vocabulary.encode`).
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.code_text import LEADING_ZERO
from needmap.data.values import NUMBER_PATTERN, WHOLE_FLOAT_LIMIT, stringify

BOOLEAN, NUMBER, TEXT = "boolean", "number", "text"
#: Spellings (trimmed, lower-cased) that a column trained on booleans reads as its two categories.
BOOLEAN_NAMES = {"true": "true", "1": "true", "false": "false", "0": "false"}

#: A whole number in ASCII digits with an optional sign (checked after the leading-zero codes).
INTEGER_PATTERN = r"^[+-]?[0-9]+$"

_NUMBER = re.compile(NUMBER_PATTERN)
_INTEGER = re.compile(INTEGER_PATTERN)
_LEADING_ZERO = re.compile(LEADING_ZERO)


def trained_kind(dtype: str) -> str:
    """``boolean``, ``number`` or ``text``: how a column read as the Arrow type ``dtype`` (``ColumnSpec.dtype``)
    in training names its categories."""
    if dtype == "bool":
        return BOOLEAN
    if dtype.startswith(("int", "uint", "float", "double", "halffloat", "decimal")):
        return NUMBER
    return TEXT


def as_trained(strings: pa.ChunkedArray, kind: str, source: pa.DataType) -> pa.ChunkedArray:
    """Category strings ``[n]`` (``category_strings`` of a column of Arrow type ``source``) named as a column
    of ``kind`` names them. Values of the trained type itself are left as they are."""
    text_source = pa.types.is_string(source) or pa.types.is_large_string(source) or pa.types.is_string_view(source)
    if kind == TEXT or len(strings) == 0 or not (text_source or kind == BOOLEAN):
        return strings
    text = pc.utf8_trim_whitespace(strings)
    if kind == BOOLEAN:
        if pa.types.is_boolean(source):
            return strings
        keys, names = pa.array(list(BOOLEAN_NAMES)), pa.array(list(BOOLEAN_NAMES.values()))
        found = pc.index_in(pc.utf8_lower(text), value_set=keys)
        return pc.if_else(pc.is_valid(found), pc.take(names, found), strings)
    coded = pc.match_substring_regex(text, LEADING_ZERO)
    whole = pc.and_(pc.match_substring_regex(text, INTEGER_PATTERN), pc.invert(coded))
    number = pc.and_(pc.match_substring_regex(text, NUMBER_PATTERN), pc.invert(pc.or_(coded, whole)))
    named = pc.if_else(whole, _integer_name(text), strings)
    if pc.any(number).as_py():
        kept = pc.if_else(number, text, pa.scalar(None, type=text.type))
        named = pc.if_else(number, stringify(pc.cast(kept, pa.float64())), named)
    return named


def _integer_name(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """Integers written without a leading zero, named as Python's ``str(int(text))``: no ``+``, ``-0`` is ``0``."""
    unsigned = pc.replace_substring_regex(text, pattern=r"^\+", replacement="")
    return pc.replace_substring_regex(unsigned, pattern=r"^-0$", replacement="0")


def one_as_trained(value: object, name: str, kind: str) -> str | None:
    """:func:`as_trained` of one raw ``value`` whose category string is ``name``; None where only the column
    path names it the same way (a number in text that is not whole: Arrow's own spelling of it)."""
    if kind == BOOLEAN and not isinstance(value, bool):
        return BOOLEAN_NAMES.get(name.strip().lower(), name)
    if kind != NUMBER or not isinstance(value, str):
        return name
    text = name.strip()
    if not _NUMBER.match(text) or _LEADING_ZERO.match(text):
        return name
    if _INTEGER.match(text):
        return str(int(text))
    number = float(text)
    if number.is_integer() and abs(number) < WHOLE_FLOAT_LIMIT:
        return str(int(number))
    return None
