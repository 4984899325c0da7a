"""Read a table from a file, a data frame or a DuckDB query into one Arrow table.

:func:`read` is the single entry point (``needmap.read``). Whatever the source, it returns a
``pyarrow.Table`` with plain column types (dictionaries decoded, large and view strings turned into
``string``, decimals into ``float64``), unique column names and at least one row, and it records in
the schema metadata where the table came from (:func:`source_of`) and the display number of its first
data row (:func:`first_row_of`), so that later errors can name the file and the row.

CSV files are read with ``pyarrow.csv`` and its type inference: integer columns come back as
``int64``, decimal numbers as ``float64``, ISO dates and times as ``date32`` / ``timestamp``,
``true``/``false`` (any case of the first letter, or all capitals) as ``bool``, and any column that
holds some text that is not a number keeps its raw text as ``string``. Empty fields and the strings
in :data:`NULL_VALUES` become null. Reading with inference was timed against reading every column as
text and casting it afterwards, on the bundled bank-additional-full: inference was several times
faster, so it is used (it already falls back to text for a column that holds text in a later block).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import io
import json
import os
import sys
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from needmap.errors import ConfigError, DataError

SOURCE_KEY = b"needmap.source"
FIRST_ROW_KEY = b"needmap.first_row"
UNKNOWN_ROWS = b"unknown"  # FIRST_ROW_KEY value of a reordered or subsampled table

CANDIDATE_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
NULL_VALUES: list[str] = ["", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "null", "NULL"]
TRUE_VALUES: list[str] = ["true", "True", "TRUE"]
FALSE_VALUES: list[str] = ["false", "False", "FALSE"]

FORMATS: dict[str, str] = {
    "csv": "csv",
    "tsv": "csv",
    "txt": "csv",
    "parquet": "parquet",
    "pq": "parquet",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "json": "jsonl",
}
_SUPPORTED = ".csv, .tsv, .txt, .parquet, .pq, .jsonl, .ndjson, .json (JSON lines), each text format also gzipped (.gz)"
_ENCODING_HINT = (
    'If the file uses another encoding, pass it, e.g. encoding="latin-1" (command line: --encoding latin-1).'
)
_SAMPLE_BYTES = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"


# -- public helpers --------------------------------------------------------------------------------
def source_of(table: pa.Table) -> str | None:
    """Where ``table`` came from (a file path or a description), as stored by :func:`read`; else None."""
    meta = table.schema.metadata or {}
    value = meta.get(SOURCE_KEY)
    return value.decode("utf-8") if value is not None else None


def first_row_of(table: pa.Table) -> int | None:
    """Display number of the table's data row 0 (2 for a CSV file with a header); 0 when not stored;
    None when the rows were reordered or subsampled (:func:`take_rows`), so row numbers are unknown."""
    meta = table.schema.metadata or {}
    value = meta.get(FIRST_ROW_KEY)
    if value == UNKNOWN_ROWS:
        return None
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def take_rows(table: pa.Table, indices: Any) -> pa.Table:
    """The rows of ``table`` at ``indices``, with the source kept and the row numbering marked
    unknown: an error about a row of a split part then names the file and column but no wrong row."""
    part = table.take(indices)
    meta = dict(part.schema.metadata or {})
    meta[FIRST_ROW_KEY] = UNKNOWN_ROWS
    return part.replace_schema_metadata(meta)


def with_source(table: pa.Table, source: str, first_row: int | None) -> pa.Table:
    """``table`` with ``source`` and ``first_row`` stored in its schema metadata (other keys kept)."""
    meta = dict(table.schema.metadata or {})
    meta[SOURCE_KEY] = source.encode("utf-8")
    meta[FIRST_ROW_KEY] = UNKNOWN_ROWS if first_row is None else str(first_row).encode("ascii")
    return table.replace_schema_metadata(meta)


# -- entry point -------------------------------------------------------------------------------------
def read(
    source: Any = None,
    *,
    format: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    sql: str | None = None,
) -> pa.Table:
    """Read ``source`` into an Arrow table of ``n >= 1`` rows with unique column names.

    Args:
        source: a path (``str`` or ``Path``) to a CSV / TSV / .txt file (delimiter sniffed among
            ``,`` ``;`` tab ``|``), a Parquet file or a JSON-lines file, each text format optionally
            gzipped; a pandas or polars DataFrame; a ``pyarrow.Table`` or ``RecordBatch``; with ``sql``,
            None or a DuckDB connection.
        format: ``"csv"``, ``"tsv"``, ``"txt"``, ``"parquet"``, ``"json"``, ``"jsonl"`` or
            ``"ndjson"``; taken from the file extension when None.
        delimiter: the CSV field delimiter (one character; ``"\\t"`` or ``"tab"`` for a tab); sniffed
            from the first 64 KiB when None.
        encoding: the text encoding of a CSV file (``"utf-8"`` accepts a leading BOM).
        sql: a query run in an embedded DuckDB, e.g. ``"SELECT * FROM 'file.parquet'"``.

    Returns:
        The table. Its schema metadata holds ``needmap.source`` and ``needmap.first_row``.

    Raises:
        DataError: the source is missing, empty, unreadable or malformed (the message names the
            file, the row and the column where known).
        ConfigError: an option has a value that needmap does not accept.
    """
    is_file = False
    if sql is not None:
        table, name, first = _read_sql(source, sql)
    elif isinstance(source, pa.Table):  # a table that read() returned keeps its source and row numbers
        table, name, first = source, source_of(source) or "Arrow table", first_row_of(source)
    elif isinstance(source, pa.RecordBatch):
        table, name, first = pa.Table.from_batches([source]), "Arrow record batch", 0
    elif _is_instance(source, "pandas", "DataFrame"):
        table, name, first = _from_pandas(source), "pandas DataFrame", 0
    elif _is_instance(source, "polars", "DataFrame"):
        table, name, first = source.to_arrow(), "polars DataFrame", 0
    elif isinstance(source, (str, os.PathLike)):
        table, name, first = _read_file(Path(source), format, delimiter, encoding)
        is_file = True
    elif isinstance(source, Mapping) or (
        isinstance(source, (list, tuple)) and source and all(isinstance(r, Mapping) for r in source)
    ):
        records = [source] if isinstance(source, Mapping) else list(source)
        table, name, first = _from_records(records), "records", 0
    else:
        raise DataError(
            f"cannot read a source of type {type(source).__name__}; expected a file path, a pandas or "
            "polars DataFrame, a pyarrow Table or RecordBatch, a row as a dict (column -> value) or a "
            "list of such rows, or sql= with a DuckDB query"
        )
    table = _normalize(table)
    _check_table(table, name, first, is_file)
    return with_source(table, name, first)


def _from_records(records: list[Mapping[str, Any]]) -> pa.Table:
    """Rows given as dicts (column -> value; a column missing from a row is missing there)."""
    try:
        return pa.Table.from_pylist([dict(r) for r in records])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"rows given as dicts mix value types in a column: {exc}; expected one type per column."
        ) from None


# -- files -------------------------------------------------------------------------------------------
def _read_file(path: Path, format: str | None, delimiter: str | None, encoding: str) -> tuple[pa.Table, str, int]:
    name = str(path)
    if not path.exists():
        hint = _closest_file_hint(path)
        raise DataError("file not found; expected an existing file to read.", file=name, hint=hint)
    if path.is_dir():
        raise DataError("is a directory; expected a file", file=name)
    suffixes = [s.lower().lstrip(".") for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == "gz"
    if compressed:
        suffixes = suffixes[:-1]
    if format is None:
        ext = suffixes[-1] if suffixes else ""
        if ext not in FORMATS:
            shown = f"'.{ext}'" if ext else "no extension"
            raise DataError(
                f"unsupported file type ({shown}); needmap reads {_SUPPORTED}.",
                file=name,
                hint='Pass format="csv" (command line: --format csv) if it is a text table, or load it '
                "into a pandas DataFrame and pass that.",
            )
        kind, tsv = FORMATS[ext], ext == "tsv"
    else:
        key = format.lower().lstrip(".")
        if key not in FORMATS:
            raise ConfigError(f"format {format!r} is not supported; expected one of {', '.join(FORMATS)}")
        kind, tsv = FORMATS[key], key == "tsv"
    if not compressed:
        compressed = _read_head(path, False, 2)[0] == _GZIP_MAGIC
    if kind == "csv":
        return _read_csv(path, compressed, _check_delimiter(delimiter), encoding, tsv), name, 2
    if kind == "parquet":
        return _read_parquet(path, compressed), name, 0
    return _read_jsonl(path, compressed), name, 1


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
    return table


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


# -- Parquet and JSON lines --------------------------------------------------------------------------
def _read_parquet(path: Path, compressed: bool) -> pa.Table:
    name = str(path)
    try:
        if compressed:
            return pq.read_table(pa.BufferReader(_read_all(path, compressed)))
        return pq.read_table(str(path))
    except (pa.ArrowException, OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"could not be read as Parquet ({_short(err)}); expected a valid Parquet file", file=name
        ) from None


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


# -- DuckDB and data frames --------------------------------------------------------------------------
def _read_sql(connection: Any, sql: str) -> tuple[pa.Table, str, int]:
    import duckdb

    shown = " ".join(sql.split())
    label = f"DuckDB query: {shown if len(shown) <= 120 else shown[:117] + '...'}"
    if connection is not None and not isinstance(connection, duckdb.DuckDBPyConnection):
        raise DataError(f"with sql=, the source must be None or a DuckDB connection, found {type(connection).__name__}")
    con = connection if connection is not None else duckdb.connect()
    try:
        relation = con.sql(sql)
        if relation is None:
            raise DataError(f"the query returned no table; expected a SELECT ({label})")
        table = relation.to_arrow_table()
    except duckdb.Error as err:
        raise DataError(f"DuckDB could not run the query: {_short(err)} ({label})") from None
    finally:
        if connection is None:
            con.close()
    return table, label, 0


def _is_instance(obj: Any, module: str, cls: str) -> bool:
    mod = sys.modules.get(module)
    return mod is not None and isinstance(obj, getattr(mod, cls))


def _from_pandas(frame: Any) -> pa.Table:
    """Arrow table of a pandas DataFrame; a named index becomes columns, object columns that mix
    types keep their values as text."""
    if any(n is not None for n in frame.index.names):
        frame = frame.reset_index()
    names = [str(c) for c in frame.columns]
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return table.rename_columns(names)
    except (ValueError, TypeError):  # mixed object columns, duplicate names
        pass
    arrays = []
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        try:
            arrays.append(pa.array(series, from_pandas=True))
        except (ValueError, TypeError):
            arrays.append(pa.array(series.astype("string"), from_pandas=True))
    return pa.Table.from_arrays(arrays, names=names)


# -- checks shared by every source -------------------------------------------------------------------
def _plain_type(typ: pa.DataType) -> pa.DataType | None:
    """The plain type a column of ``typ`` is cast to, or None to keep it."""
    if pa.types.is_dictionary(typ):
        return _plain_type(typ.value_type) or typ.value_type
    if pa.types.is_large_string(typ) or typ == pa.string_view():
        return pa.string()
    if pa.types.is_decimal(typ):
        return pa.float64()
    return None


def _normalize(table: pa.Table) -> pa.Table:
    """Decode dictionaries, make every text column ``string`` and decimals ``float64``."""
    fields = []
    changed = False
    for field in table.schema:
        target = _plain_type(field.type)
        changed = changed or target is not None or field.metadata is not None
        fields.append(pa.field(field.name, target or field.type))
    if not changed:
        return table
    columns = [
        pc.cast(col, f.type) if col.type != f.type else col for col, f in zip(table.columns, fields, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def _check_table(table: pa.Table, name: str, first_row: int, is_file: bool) -> None:
    file = name if is_file else None
    where = "" if file else f" ({name})"
    if table.num_columns == 0:
        raise DataError(f"has no columns{where}; expected at least one column", file=file)
    positions: dict[str, list[int]] = {}
    for i, col in enumerate(table.column_names, start=1):
        positions.setdefault(col, []).append(i)
    dups = {col: pos for col, pos in positions.items() if len(pos) > 1}
    if dups:
        shown = "; ".join(f"{col!r} (columns {', '.join(map(str, pos))})" for col, pos in dups.items())
        raise DataError(
            f"has duplicate column names{where}: {shown}; expected every column name once.",
            file=file,
            row=1 if first_row == 2 else None,
            hint="Rename or drop the repeated columns.",
        )
    if table.num_rows == 0:
        n_cols = table.num_columns
        found = "a header" if first_row == 2 else f"{n_cols} column{'s' if n_cols != 1 else ''}"
        raise DataError(
            f"has {found} but no data rows{where}; expected at least one data row",
            file=file,
        )


def _closest_file_hint(path: Path) -> str | None:
    try:
        siblings = [p.name for p in path.parent.iterdir()] if path.parent.is_dir() else []
    except OSError:
        return None
    close = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.75)
    return f"Did you mean '{path.parent / close[0]}'?" if close else None


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
