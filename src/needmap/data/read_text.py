"""Reading text files: CSV (layout sniffing, encodings, the errors that name what went wrong) and JSON lines.

:func:`needmap.data.read.read` dispatches here for ``.csv``, ``.tsv``, ``.txt`` and ``.jsonl`` files (and
any other file that holds text), gzipped or not. The layout (delimiter, runs of spaces, a preamble line,
whether the first row is a header) comes from :mod:`needmap.data.text_layout`; the text values are then
stripped and their missing markers made null by :mod:`needmap.data.text_cells`, as :class:`ReadOptions` say.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import re
import warnings
import zlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from needmap.data.code_text import as_text_options, keep_code_text
from needmap.data.digit_dates import read_digit_dates
from needmap.data.read_options import ReadOptions
from needmap.data.text_cells import clean_text_columns
from needmap.data.text_layout import (
    CANDIDATE_DELIMITERS,
    WHITESPACE,
    WHITESPACE_NAMES,
    Layout,
    generated_names,
    looks_headerless,
    records,
    sniff_layout,
)
from needmap.errors import ConfigError, DataError, ReadingNote

TRUE_VALUES: list[str] = ["true", "True", "TRUE"]


FALSE_VALUES: list[str] = ["false", "False", "FALSE"]


_ENCODING_HINT = (
    'If the file uses another encoding, pass it, e.g. encoding="latin-1" (command line: --encoding latin-1).'
)


_SAMPLE_BYTES = 1 << 16


_GZIP_MAGIC = b"\x1f\x8b"


def _open_binary(path: Path, compressed: bool) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _read_head(path: Path, compressed: bool, size: int = _SAMPLE_BYTES) -> tuple[bytes, bool]:
    """The first ``size`` bytes of the (decompressed) file and whether that is the whole file."""
    try:
        with _open_binary(path, compressed) as fh:
            head = fh.read(size + 1)
    except (OSError, EOFError, zlib.error) as err:
        if compressed:
            raise DataError(
                f"could not be decompressed ({_short(err)}); expected a valid gzip file", file=str(path)
            ) from None
        raise DataError(f"could not be opened ({_short(err)})", file=str(path)) from None
    return head[:size], len(head) <= size


def _read_all(path: Path, compressed: bool) -> bytes:
    with _open_binary(path, compressed) as fh:
        return fh.read()


def _arrow_input(path: Path, compressed: bool) -> pa.NativeFile:
    return pa.input_stream(str(path), compression="gzip" if compressed else None)


# -- CSV ---------------------------------------------------------------------------------------------
def _check_delimiter(delimiter: str | None) -> str | None:
    if delimiter is None:
        return None
    if delimiter in ("\\t", "tab", "TAB"):
        return "\t"
    if delimiter.lower() in WHITESPACE_NAMES:
        return WHITESPACE
    if len(delimiter) != 1 or delimiter in ('"', "\n", "\r"):
        raise ConfigError(
            f"delimiter {delimiter!r} is not accepted; expected one character such as ',', ';', '|' or '\\t', "
            "or 'whitespace' for columns separated by runs of spaces"
        )
    return delimiter


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(
            f"unknown text encoding {encoding!r}; expected a Python codec name such as 'utf-8' or 'latin-1'"
        ) from None


def convert_options() -> pacsv.ConvertOptions:
    """How the reader types the values of a column (markers are read as text: :mod:`text_cells` nulls them)."""
    return pacsv.ConvertOptions(
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        true_values=TRUE_VALUES,
        false_values=FALSE_VALUES,
    )


def _read_csv(
    path: Path,
    compressed: bool,
    delimiter: str | None,
    encoding: str,
    tsv: bool,
    reading: ReadOptions,
) -> tuple[pa.Table, int]:
    """The table of a delimited text file and the display number of its first data row."""
    name = str(path)
    codec = _codec_name(encoding)
    head, whole = _read_head(path, compressed)
    sample = head.decode(codec, errors="replace").lstrip("\ufeff")
    if not whole:
        sample = sample[: sample.rfind("\n") + 1] or sample
    if whole and not sample.strip():
        size = len(head)
        found = "0 bytes" if size == 0 else f"only whitespace ({size} bytes)"
        raise DataError(f"is empty: found {found}; expected a header line and data rows", file=name)
    layout = sniff_layout(sample, "\t" if tsv else ",", delimiter)
    used = layout.delimiter
    header = reading.header
    if header is None:
        header = not looks_headerless(sample, layout, reading.missing)
        if not header:
            _note_headerless(name, layout, reading)
    column_names = reading.names or (None if header else generated_names(layout.fields))
    if reading.names is not None and layout.fields and len(reading.names) != layout.fields:
        raise ConfigError(
            f"names gives {len(reading.names)} column names but the file's rows have {layout.fields} fields; "
            "expected one name per field.",
            file=name,
        )
    skip = layout.skip + (1 if header and reading.names is not None else 0)
    read_options = pacsv.ReadOptions(
        encoding="utf8" if codec == "utf-8" else codec,
        use_threads=True,
        skip_rows=skip,
        column_names=column_names,
    )
    if used == WHITESPACE:
        source = _whitespace_as_tabs(path, compressed, codec)
        parse_options = pacsv.ParseOptions(delimiter="\t", quote_char=False)
        read_options.encoding = "utf8"
    else:
        source = _arrow_input(path, compressed)
        parse_options = pacsv.ParseOptions(delimiter=used, quote_char='"', double_quote=True, newlines_in_values=True)
    try:
        table = pacsv.read_csv(
            source, read_options=read_options, parse_options=parse_options, convert_options=convert_options()
        )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as err:
        text = str(err)
        if "Expected" in text and "columns, got" in text:
            _raise_wrong_delimiter(name, sample, used, given=delimiter is not None)
            _raise_ragged(path, compressed, codec, used, text, layout.skip)
        if "Empty CSV file" in text:  # a header line without a line break and no data
            raise DataError("has a header but no data rows; expected at least one data row", file=name) from None
        if isinstance(err, UnicodeDecodeError):
            raise DataError(
                f"is not valid {encoding} text ({_short(err)}).",
                file=name,
                hint=_ENCODING_HINT,
            ) from None
        raise DataError(f"could not be read as CSV: {_short(err)}", file=name) from None
    try:
        names = table.column_names
    except UnicodeDecodeError:  # the header itself is not valid in the encoding
        _raise_invalid_utf8(path, compressed, used, [], [])
        raise
    if table.num_columns == 1:
        _raise_wrong_delimiter(name, sample, used, given=delimiter is not None, header=names[0])
    if codec == "utf-8":
        binary = [f.name for f in table.schema if pa.types.is_binary(f.type)]
        if binary:
            _raise_invalid_utf8(path, compressed, used, names, binary)

    def read_as_text(columns: list[str]) -> pa.Table:  # the same rows again, ``columns`` as text
        again = _whitespace_as_tabs(path, compressed, codec) if used == WHITESPACE else _arrow_input(path, compressed)
        options = as_text_options(convert_options(), columns)
        return pacsv.read_csv(again, read_options=read_options, parse_options=parse_options, convert_options=options)

    table = keep_code_text(table, read_as_text)  # "00001" stays "00001": integer columns kept as text where zeros lead
    if header and reading.names is None:
        table = table.rename_columns([n.strip() or n for n in names]) if reading.strip else table
    table = clean_text_columns(table, strip=reading.strip, missing=reading.missing, convert=convert_options())
    return read_digit_dates(table), layout.skip + (2 if header else 1)


def _note_headerless(name: str, layout: Layout, reading: ReadOptions) -> None:
    named = "the names given" if reading.names else f"column_1 ... column_{layout.fields}"
    warnings.warn(
        f"file '{name}': the first row looks like data, not column names (its values have the types of the "
        f"values below them), so it is read as data and the columns are named {named}. If it is a header, "
        "pass header=True (command line: --header); to name the columns, names=[...] (command line: --names).",
        ReadingNote,
        stacklevel=5,
    )


def _whitespace_as_tabs(path: Path, compressed: bool, codec: str) -> pa.BufferReader:
    """The file with each run of spaces and tabs between values made one tab (and none at line ends), UTF-8."""
    raw = _read_all(path, compressed)
    if codec != "utf-8":
        raw = raw.decode(codec, errors="replace").encode("utf-8")
    raw = _RUNS.sub(b"\t", raw)
    raw = _LINE_ENDS.sub(b"", raw)
    return pa.BufferReader(raw)


_RUNS = re.compile(rb"[ \t]+")
_LINE_ENDS = re.compile(rb"(?m)^\t|\t(?=\r?$)")


def _show(delimiter: str) -> str:
    if delimiter == WHITESPACE:
        return "runs of spaces"
    return "'\\t' (tab)" if delimiter == "\t" else repr(delimiter)


def _raise_wrong_delimiter(name: str, sample: str, used: str, *, given: bool, header: str | None = None) -> None:
    """Raise DataError when the header splits into one field but holds another candidate delimiter."""
    if header is None:
        first = next((rec for rec in records(sample, used) if rec), [])
        if len(first) != 1:
            return
        header = first[0]
    others = [d for d in CANDIDATE_DELIMITERS if d != used and d in header]
    if not others:
        return
    best = max(others, key=header.count)
    how = "the delimiter you passed" if given else "the sniffed delimiter"
    shown = header if len(header) <= 80 else header[:77] + "..."
    raise DataError(
        f"the header splits into a single column {shown!r} with {how} {_show(used)}, but it contains "
        f"{_show(best)}; expected several columns: the delimiter seems to be {_show(best)}.",
        file=name,
        row=1,
        hint=f"Pass delimiter={best!r} (command line: --delimiter '{best}').",
    )


def _raise_ragged(path: Path, compressed: bool, codec: str, delimiter: str, arrow_text: str, skip: int = 0) -> None:
    """Find the first record whose field count differs from the header's and raise DataError."""
    name = str(path)
    text = _read_all(path, compressed).decode(codec, errors="replace").lstrip("\ufeff")
    expected: int | None = None
    hint = "Check the delimiter and that fields containing it are quoted."
    if delimiter == " " and "  " in text:
        hint = (
            "The columns seem aligned by runs of spaces: pass delimiter='whitespace' "
            "(command line: --delimiter whitespace)."
        )
    for index, rec in enumerate(records(text, delimiter)):
        if not rec or index < skip:
            continue
        if expected is None:
            expected = len(rec)
            continue
        if len(rec) != expected:
            line = (" " if delimiter == WHITESPACE else delimiter).join(rec)
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise DataError(
                f"row {index + 1} has {len(rec)} fields, the header has {expected} (found {shown!r}); "
                f"expected every row to have {expected} fields separated by {_show(delimiter)}.",
                file=name,
                hint=hint,
            )
    raise DataError(f"has rows of different lengths: {_short(arrow_text)}", file=name)


def _raise_invalid_utf8(path: Path, compressed: bool, delimiter: str, columns: list[str], binary: list[str]) -> None:
    """Locate the first byte that is not UTF-8 (row, column, byte) and raise DataError."""
    name = str(path)
    hint = _ENCODING_HINT
    raw = _read_all(path, compressed)
    start = 3 if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        raw[start:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = start + err.start
    else:  # pragma: no cover - Arrow only returns binary columns for invalid UTF-8
        raise DataError(f"column(s) {binary} are not valid UTF-8 text.", file=name, hint=hint) from None
    line_start = raw.rfind(b"\n", 0, offset) + 1
    line_end = raw.find(b"\n", offset)
    line = raw[line_start : line_end if line_end >= 0 else len(raw)]
    before = raw[start:line_start].decode("utf-8", errors="replace")
    row = sum(1 for _ in records(before, delimiter)) + 1
    column = binary[0] if binary else None
    for i, field in enumerate(next(records(line.decode("latin-1"), delimiter), [])):
        try:
            field.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            if i < len(columns):
                column = columns[i]
            break
    after = " after decompression" if compressed else ""
    raise DataError(
        f"found byte 0x{raw[offset]:02x} (at byte offset {offset}{after}), which is not valid UTF-8; "
        "expected UTF-8 text.",
        file=name,
        row=row,
        column=column,
        hint=hint,
    )


def _read_jsonl(path: Path, compressed: bool) -> pa.Table:
    name = str(path)
    head, whole = _read_head(path, compressed)
    if whole and not head.strip():
        raise DataError(f"is empty: found {len(head)} bytes; expected one JSON object per line", file=name)
    try:
        return pajson.read_json(_arrow_input(path, compressed))
    except pa.ArrowInvalid as err:
        _raise_json_problem(path, compressed, head)
        raise DataError(f"could not be read as JSON lines: {_short(err)}", file=name) from None


def _json_kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    return "object" if isinstance(value, dict) else "list"


def _raise_json_problem(path: Path, compressed: bool, head: bytes) -> None:
    """Find the first line that is not a JSON object, or a field whose JSON type changes, and raise."""
    name = str(path)
    hint = "needmap reads JSON lines: one JSON object per line, each field with one type."
    if head.lstrip(codecs.BOM_UTF8).lstrip().startswith(b"["):
        raise DataError(
            "holds a JSON array; expected JSON lines (one object per line).",
            file=name,
            hint="Rewrite it as JSON lines, or load it with pandas.read_json and pass the DataFrame.",
        )
    kinds: dict[str, tuple[str, int]] = {}
    text = _read_all(path, compressed).decode("utf-8", errors="replace").lstrip("\ufeff")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"is not valid JSON ({err.msg} at character {err.colno}); expected one JSON object.",
                file=name,
                row=number,
                hint=hint,
            ) from None
        if not isinstance(obj, dict):
            raise DataError(
                f"holds a JSON {_json_kind(obj) or 'null'}; expected one JSON object", file=name, row=number
            )
        for key, value in obj.items():
            kind = _json_kind(value)
            if kind is None:
                continue
            seen = kinds.setdefault(key, (kind, number))
            if seen[0] != kind:
                raise DataError(
                    f"found {kind} {_clip(value)} where row {seen[1]} holds a {seen[0]}; expected one "
                    "JSON type per field.",
                    file=name,
                    row=number,
                    column=key,
                    hint="Write every value of this field with the same type (e.g. all as text).",
                )


def _short(err: BaseException) -> str:
    """The first line of an error's text, without the 'In CSV column #..' style prefixes, clipped."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    for prefix in ("Could not open Parquet input source",):
        if text.startswith(prefix) and "': " in text:
            text = text.split("': ", 1)[1]
    return text if len(text) <= 200 else text[:197] + "..."


def _clip(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
