"""Read a table from a file, a data frame, a DuckDB query or PostgreSQL into one Arrow table.

:func:`read` is the single entry point (``needmap.read``). Whatever the source, it returns a
``pyarrow.Table`` with plain column types (dictionaries decoded, large and view strings turned into
``string``, decimals into ``float64``), unique column names and at least one row, and it records in
the schema metadata where the table came from (:func:`source_of`) and the display number of its first
data row (:func:`first_row_of`), so that later errors can name the file and the row.

A ``postgresql://`` URL reads a PostgreSQL table (``?table=schema.name``) or, with ``sql=``, a query run in
the database it names (:mod:`needmap.data.postgres`: a server-side cursor read in chunks).

CSV files are read with ``pyarrow.csv`` and its type inference: integer columns come back as
``int64``, decimal numbers as ``float64``, ISO dates and times as ``date32`` / ``timestamp``,
``true``/``false`` (any case of the first letter, or all capitals) as ``bool``, and any column that
holds some text that is not a number keeps its text as ``string``. The layout is found from the first
lines (:mod:`needmap.data.text_layout`: the delimiter, columns aligned by runs of spaces, a preamble
line, a missing header row), and text values are stripped of the spaces around them and their missing
markers (``?``, ``NA``, ``null``, ...) and empty fields made null (:mod:`needmap.data.text_cells`), as
:class:`~needmap.data.read_options.ReadOptions` say; rows given as dicts are cleaned the same way.
Reading with inference was timed against reading every column as
text and casting it afterwards, on the bundled bank-additional-full: inference was several times
faster, so it is used (it already falls back to text for a column that holds text in a later block).
"""

from __future__ import annotations

import difflib
import os
import sys
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from needmap.data.postgres import is_postgres_url, parse_url
from needmap.data.postgres_read import read_postgres
from needmap.data.provenance import (
    first_row_of,
    source_of,
    with_source,
)
from needmap.data.read_options import ReadOptions
from needmap.data.read_text import (
    _GZIP_MAGIC,
    _check_delimiter,
    _read_all,
    _read_csv,
    _read_head,
    _read_jsonl,
    _short,
    convert_options,
)
from needmap.data.text_cells import clean_text_columns
from needmap.errors import ConfigError, DataError

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


# -- entry point -------------------------------------------------------------------------------------
def read(
    source: Any = None,
    *,
    format: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    sql: str | None = None,
    header: bool | None = None,
    names: list[str] | None = None,
    strip: bool = True,
    missing: list[str] | None = None,
) -> pa.Table:
    """Read ``source`` into an Arrow table of ``n >= 1`` rows with unique column names.

    Args:
        source: a path (``str`` or ``Path``) to a CSV / TSV / .txt file (delimiter sniffed among
            ``,`` ``;`` tab ``|``), a Parquet file or a JSON-lines file, each text format optionally
            gzipped; a pandas or polars DataFrame; a ``pyarrow.Table`` or ``RecordBatch``; with ``sql``,
            None or a DuckDB connection; a PostgreSQL URL, ``postgresql://user@host:port/db?table=schema.name``
            (or, with ``sql``, a URL naming the database: the query runs there).
        format: ``"csv"``, ``"tsv"``, ``"txt"``, ``"parquet"``, ``"json"``, ``"jsonl"`` or
            ``"ndjson"``; taken from the file extension when None.
        delimiter: the CSV field delimiter (one character; ``"\\t"`` or ``"tab"`` for a tab;
            ``"whitespace"`` for columns separated by runs of spaces and tabs); sniffed from the first
            64 KiB when None (runs of spaces are recognized too).
        encoding: the text encoding of a CSV file (``"utf-8"`` accepts a leading BOM).
        sql: a query run in an embedded DuckDB, e.g. ``"SELECT * FROM 'file.parquet'"``; with a PostgreSQL
            URL as the source, a query run in that database.
        header: whether a text file's first row names the columns; None detects it (a first row
            whose values look like the data below is read as data, with a :class:`ReadingNote`).
        names: column names, in order: they replace a header row, or name the columns of a file
            without one (else ``column_1``, ``column_2``, ...).
        strip: strip spaces and tabs around the text values of a file or of rows given as dicts.
        missing: texts read as missing in a file or rows given as dicts (an empty text always is);
            None for the defaults of :data:`~needmap.data.read_options.MISSING_MARKERS` (``?``, ``NA``, ...).

    Returns:
        The table. Its schema metadata holds ``needmap.source`` and ``needmap.first_row``.

    Raises:
        DataError: the source is missing, empty, unreadable or malformed (the message names the
            file, the row and the column where known).
        ConfigError: an option has a value that needmap does not accept.
    """
    reading = ReadOptions(header=header, names=names, strip=strip, **({} if missing is None else {"missing": missing}))
    if is_postgres_url(source):
        return _read_postgres(source, sql, format, reading)
    if sql is not None or not isinstance(source, (str, os.PathLike)):
        kind = "DuckDB query" if sql is not None else type(source).__name__
        layout_options_not_for("the source", f"a {kind}", reading)
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
        table, name, first = _read_file(Path(source), format, delimiter, encoding, reading)
        is_file = True
    elif isinstance(source, Mapping) or (
        isinstance(source, (list, tuple)) and source and all(isinstance(r, Mapping) for r in source)
    ):
        records = [source] if isinstance(source, Mapping) else list(source)
        table, name, first = _clean(_from_records(records), reading), "records", 0
    else:
        raise DataError(
            f"cannot read a source of type {type(source).__name__}; expected a file path, a pandas or "
            "polars DataFrame, a pyarrow Table or RecordBatch, a row as a dict (column -> value) or a "
            "list of such rows, or sql= with a DuckDB query"
        )
    table = _normalize(table)
    _check_table(table, name, first, is_file)
    return with_source(table, name, first)


_INT64 = (-(2**63), 2**63 - 1)


def _huge_as_float(value: Any) -> Any:
    """An integer beyond int64 as the nearest float (a CSV or JSON-lines reader reads it so); others unchanged."""
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
        return float(value)
    return value


def _from_records(records: list[Mapping[str, Any]]) -> pa.Table:
    """Rows given as dicts (column -> value; a column missing from a row is missing there).

    An integer beyond int64 (``2**70``) is read as the nearest float, as in a file; Arrow would raise
    ``OverflowError`` on it."""
    rows = [dict(r) for r in records]
    try:
        try:
            return pa.Table.from_pylist(rows)
        except OverflowError:
            return pa.Table.from_pylist([{k: _huge_as_float(v) for k, v in r.items()} for r in rows])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"rows given as dicts mix value types in a column: {exc}; expected one type per column."
        ) from None


# -- files -------------------------------------------------------------------------------------------
def _clean(table: pa.Table, reading: ReadOptions) -> pa.Table:
    return clean_text_columns(table, strip=reading.strip, missing=reading.missing, convert=convert_options())


def _read_file(
    path: Path, format: str | None, delimiter: str | None, encoding: str, reading: ReadOptions
) -> tuple[pa.Table, str, int]:
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
        if ext not in FORMATS and _holds_text(path, compressed):
            ext = "txt"  # adult.data, a log without an extension: a text table, its layout sniffed
        if ext not in FORMATS:
            shown = f"'.{ext}'" if ext else "no extension"
            raise DataError(
                f"unsupported file type ({shown}); needmap reads {_SUPPORTED}.",
                file=name,
                hint='If it is a text table, pass format="csv" to needmap.read, or on the command line give the '
                "file a .csv (or .txt) name; or load it into a pandas DataFrame and pass that.",
            )
        kind, tsv = FORMATS[ext], ext == "tsv"
    else:
        key = format.lower().lstrip(".")
        if key not in FORMATS:
            raise ConfigError(f"format {format!r} is not supported; expected one of {', '.join(FORMATS)}")
        kind, tsv = FORMATS[key], key == "tsv"
    if not compressed:
        compressed = _read_head(path, False, 2)[0] == _GZIP_MAGIC
    if kind != "csv":
        layout_options_not_for(name, "a Parquet file" if kind == "parquet" else "a JSON-lines file", reading)
    if kind == "csv":
        table, first = _read_csv(path, compressed, _check_delimiter(delimiter), encoding, tsv, reading)
        return table, name, first
    if kind == "parquet":
        return _read_parquet(path, compressed), name, 0
    return _clean(_read_jsonl(path, compressed), reading), name, 1


def layout_options_not_for(name: str, what: str, reading: ReadOptions) -> None:
    """Raise ConfigError when header or names are given for a source that has no header row to read."""
    given = [k for k in ("header", "names") if getattr(reading, k) is not None]
    if given:
        raise ConfigError(
            f"{' and '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to delimited text files (CSV, TSV, "
            "columns aligned by spaces); "
            f"{name} is {what}, whose columns are named in the file. Leave {' and '.join(given)} out.",
        )


def _holds_text(path: Path, compressed: bool) -> bool:
    """Whether the file's first bytes are text of several lines (no NUL byte, valid UTF-8 or Latin-1 text)."""
    try:
        head, _ = _read_head(path, compressed)
    except DataError:
        return False
    if not head or b"\x00" in head or b"\n" not in head:
        return False
    printable = sum(b >= 32 or b in (9, 10, 13) for b in head)
    return printable / len(head) > 0.99


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


# -- PostgreSQL --------------------------------------------------------------------------------------
def _read_postgres(url: str, query: str | None, format: str | None, reading: ReadOptions) -> pa.Table:
    """A PostgreSQL table or query (:func:`needmap.data.postgres_read.read_postgres`), checked as every source is.
    Its columns are typed by the database, so the options of text files (header, names) do not apply to it,
    nor a file format; the delimiter and encoding of a text file are not used."""
    what = "a PostgreSQL query" if query is not None else "a PostgreSQL table"
    shown = parse_url(url).shown
    if format is not None:
        raise ConfigError(f"format {format!r} applies to files; {shown} is {what}. Leave it out.")
    layout_options_not_for(shown, what, reading)
    table = read_postgres(url, query)
    name = source_of(table) or what
    table = _normalize(table)
    _check_table(table, name, 0, False)
    return with_source(table, name, 0)


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
