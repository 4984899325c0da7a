"""Reading text files: CSV (delimiter sniffing, encodings, the errors that name what went wrong) and JSON lines.

:func:`needmap.data.read.read` dispatches here for ``.csv``, ``.tsv``, ``.txt`` and ``.jsonl`` files,
gzipped or not.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from needmap.data.code_text import as_text_options, keep_code_text
from needmap.errors import ConfigError, DataError

CANDIDATE_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")


NULL_VALUES: list[str] = ["", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "null", "NULL"]


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
    if len(delimiter) != 1 or delimiter in ('"', "\n", "\r"):
        raise ConfigError(
            f"delimiter {delimiter!r} is not accepted; expected one character such as ',', ';', '|' or '\\t'"
        )
    return delimiter


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(
            f"unknown text encoding {encoding!r}; expected a Python codec name such as 'utf-8' or 'latin-1'"
        ) from None


def _read_csv(path: Path, compressed: bool, delimiter: str | None, encoding: str, tsv: bool) -> pa.Table:
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
    sniffed = _sniff(sample, "\t" if tsv else ",")
    used = delimiter or sniffed
    read_options = pacsv.ReadOptions(encoding="utf8" if codec == "utf-8" else codec, use_threads=True)
    parse_options = pacsv.ParseOptions(delimiter=used, quote_char='"', double_quote=True, newlines_in_values=True)
    convert_options = pacsv.ConvertOptions(
        null_values=NULL_VALUES,
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        true_values=TRUE_VALUES,
        false_values=FALSE_VALUES,
    )
    try:
        table = pacsv.read_csv(
            _arrow_input(path, compressed),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as err:
        text = str(err)
        if "Expected" in text and "columns, got" in text:
            _raise_wrong_delimiter(name, sample, used, given=delimiter is not None)
            _raise_ragged(path, compressed, codec, used, text)
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
    return keep_code_text(  # "00001" stays "00001": integer columns read again as text, kept where zeros lead
        table,
        lambda columns: pacsv.read_csv(
            _arrow_input(path, compressed),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=as_text_options(convert_options, columns),
        ),
    )


def _records(text: str, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)


def _sniff(sample: str, preferred: str) -> str:
    """The candidate delimiter that splits the header into most fields, with every record agreeing.

    Looks at up to the first 50 records of ``sample`` (text). Candidates are compared by the share of
    records whose field count equals the header's, then by the header's field count, then by
    ``preferred`` first. A file that no candidate splits reads as one column with ``preferred``.
    """
    best: tuple[float, int, int] | None = None
    choice = preferred
    order = [preferred, *[d for d in CANDIDATE_DELIMITERS if d != preferred]]
    for rank, cand in enumerate(order):
        counts: list[int] = []
        try:
            for rec in _records(sample, cand):
                if rec:
                    counts.append(len(rec))
                if len(counts) >= 50:
                    break
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        share = sum(c == counts[0] for c in counts) / len(counts)
        score = (share, counts[0], -rank)
        if best is None or score > best:
            best, choice = score, cand
    return choice


def _show(delimiter: str) -> str:
    return "'\\t' (tab)" if delimiter == "\t" else repr(delimiter)


def _raise_wrong_delimiter(name: str, sample: str, used: str, *, given: bool, header: str | None = None) -> None:
    """Raise DataError when the header splits into one field but holds another candidate delimiter."""
    if header is None:
        first = next((rec for rec in _records(sample, used) if rec), [])
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


def _raise_ragged(path: Path, compressed: bool, codec: str, delimiter: str, arrow_text: str) -> None:
    """Find the first record whose field count differs from the header's and raise DataError."""
    name = str(path)
    text = _read_all(path, compressed).decode(codec, errors="replace").lstrip("\ufeff")
    expected: int | None = None
    for index, rec in enumerate(_records(text, delimiter)):
        if not rec:
            continue
        if expected is None:
            expected = len(rec)
            continue
        if len(rec) != expected:
            line = delimiter.join(rec)
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise DataError(
                f"row {index + 1} has {len(rec)} fields, the header has {expected} (found {shown!r}); "
                f"expected every row to have {expected} fields separated by {_show(delimiter)}.",
                file=name,
                hint="Check the delimiter and that fields containing it are quoted.",
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
    row = sum(1 for _ in _records(before, delimiter)) + 1
    column = binary[0] if binary else None
    for i, field in enumerate(next(_records(line.decode("latin-1"), delimiter), [])):
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
