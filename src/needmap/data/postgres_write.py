"""Write an Arrow table to PostgreSQL whole or not at all (the table named as :mod:`needmap.data.postgres` reads it).

``replace`` creates a new table under a temporary name, copies the rows into it (``COPY ... FROM STDIN`` in CSV,
which Arrow's CSV writer makes fast), then drops the old table and renames the new one; ``append`` copies into the
existing table (made when absent), after checking that every column is one of the table's, of a type that fits.
Both in one transaction: a failure at any step rolls everything back, the table that was there is left exactly as
it was, and no temporary table remains. A feature table's description travels as the table's comment, which
:func:`needmap.data.postgres_read.read_postgres` reads back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import secrets
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from needmap.data.postgres import (
    _COMMENT_PREFIX,
    DESCRIBING_KEYS,
    Location,
    _connect,
    _identifier,
    _server_message,
    parse_url,
)
from needmap.errors import ConfigError, DataError

MODES = ("replace", "append")
#: The columns a write adds when it is given the model (and its version) that made the scores.
STAMP_COLUMNS = ("model", "model_version", "scored_at")
_TEMPORARY_PREFIX = "_needmap_new_"
_CSV_ROWS = 65_536  # rows per piece of CSV sent to COPY


def _described(table: pa.Table) -> str | None:
    """The table comment that carries ``table``'s describing metadata, or None when it has none."""
    meta = table.schema.metadata or {}
    kept = {key.decode(): meta[key].decode("utf-8") for key in DESCRIBING_KEYS if key in meta}
    return _COMMENT_PREFIX + json.dumps(kept) if kept else None


@dataclasses.dataclass(frozen=True)
class _Column:
    """A column as it goes to PostgreSQL: its name, its type (``typname`` to compare, ``sql`` to create),
    and its values as the text COPY reads (Arrow's CSV writer writes them)."""

    name: str
    typname: str
    sql: str
    values: pa.ChunkedArray


def write_postgres(
    table: pa.Table | pa.RecordBatch,
    url: str,
    *,
    mode: str = "replace",
    model: str | None = None,
    version: str | None = None,
) -> int:
    """Write ``table`` to the PostgreSQL table that ``url`` names, in one transaction; returns the rows written.

    Args:
        table: the rows.
        url: ``postgresql://user@host:port/database?table=schema.name`` (the form :func:`read_postgres` reads).
        mode: ``"replace"``: a new table takes the old one's place (its columns and types those of ``table``;
            the old table's indexes, grants and comments go with it); ``"append"``: the rows are added to the
            existing table (made when absent), whose columns must include every column of ``table``, in
            types that fit (an integer column into a bigint, numeric or double precision column, ...).
        model, version: the model that made the rows and its version: the columns ``model`` and
            ``model_version`` are added with them, and ``scored_at``, the one time (UTC) of this write.

    A failure at any step (a value the column cannot hold, a lost connection, an interruption) rolls the
    whole write back: the table that was there keeps its rows, and no temporary table remains.

    Raises:
        ConfigError: an unknown ``mode``, or a URL that names no table.
        DataError: the server cannot be reached, a column does not fit the existing table (named), a
            column name of the stamp is taken, or the server refuses a value (its message).
    """
    import psycopg
    from psycopg import sql

    if mode not in MODES:
        raise ConfigError(f"mode {mode!r} is not a way to write a table; expected one of {', '.join(MODES)}.")
    location = parse_url(url)
    if location.name is None:
        raise ConfigError(f"'{location.shown}' names no table to write; expected ?table=schema.name in the URL.")
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    described = _described(table)
    table = _stamped(table, model, version, location)
    if table.num_columns == 0:
        raise DataError(f"there are no columns to write to {location.table}; expected at least one column.")
    columns = [_column(name, table.column(i)) for i, name in enumerate(table.column_names)]
    shown = f"{location.table} on {location.shown}"
    temporary = f"{_TEMPORARY_PREFIX}{secrets.token_hex(6)}"
    with _connect(location) as conn:
        try:
            with conn.transaction():
                schema, existing = _existing(conn, location)
                target = _identifier(schema, location.name)
                if mode == "append" and existing is not None:
                    _check_append(columns, existing, shown)
                    into = target
                elif mode == "append":
                    into = target
                    conn.execute(_create(into, columns))
                else:
                    into = _identifier(schema, temporary)
                    conn.execute(_create(into, columns))
                _copy(conn, into, columns)
                if described is not None:
                    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(into, sql.Literal(described)))
                if mode == "replace":
                    if existing is not None:
                        conn.execute(sql.SQL("DROP TABLE {}").format(target))
                    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(into, sql.Identifier(location.name)))
        except psycopg.Error as err:
            message = _server_message(location, err).replace(temporary, location.name)
            context = getattr(getattr(err, "diag", None), "context", None)
            where = ""
            if context and context.startswith("COPY"):
                where = f" ({location.hide(context.splitlines()[0]).replace(temporary, location.name)})"
            raise DataError(
                f"PostgreSQL could not write the table {shown}: {message}{where}; nothing was written, the table "
                "is as it was."
            ) from None
    return table.num_rows


def _stamped(table: pa.Table, model: str | None, version: str | None, location: Location) -> pa.Table:
    """``table`` with ``model``, ``model_version`` and ``scored_at`` added (those given; ``scored_at`` with
    either), the same values in every row."""
    if model is None and version is None:
        return table.replace_schema_metadata(None)
    added = dict(zip(STAMP_COLUMNS, (model, version), strict=False))
    names = [name for name, value in added.items() if value is not None] + [STAMP_COLUMNS[-1]]
    taken = [name for name in names if name in table.column_names]
    if taken:
        raise DataError(
            f"the rows to write to {location.table} already have a column {', '.join(map(repr, taken))}, which "
            "the write adds (the model, its version and the time of scoring); expected the rows without it."
        )
    rows = table.num_rows
    for name, value in added.items():
        if value is not None:
            table = table.append_column(name, pa.repeat(pa.scalar(str(value), pa.string()), rows))
    now = dt.datetime.now(dt.timezone.utc)
    table = table.append_column(STAMP_COLUMNS[-1], pa.repeat(pa.scalar(now, pa.timestamp("us", tz="UTC")), rows))
    return table.replace_schema_metadata(None)


#: Arrow integer and float types: the PostgreSQL type name (to compare) and type (to create) of each.
_NUMBERS: dict[pa.DataType, tuple[str, str]] = {
    pa.int8(): ("int2", "smallint"),
    pa.int16(): ("int2", "smallint"),
    pa.uint8(): ("int2", "smallint"),
    pa.int32(): ("int4", "integer"),
    pa.uint16(): ("int4", "integer"),
    pa.int64(): ("int8", "bigint"),
    pa.uint32(): ("int8", "bigint"),
    pa.uint64(): ("numeric", "numeric"),
    pa.float16(): ("float4", "real"),
    pa.float32(): ("float4", "real"),
    pa.float64(): ("float8", "double precision"),
}


def _scalar_type(typ: pa.DataType) -> tuple[str, str] | None:
    """The PostgreSQL type of an Arrow scalar type that has one of its own; None for the others."""
    if typ in _NUMBERS:
        return _NUMBERS[typ]
    checks: list[tuple[Callable[[pa.DataType], bool], tuple[str, str]]] = [
        (pa.types.is_decimal, ("numeric", "numeric")),
        (pa.types.is_boolean, ("bool", "boolean")),
        (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or t == pa.string_view(), ("text", "text")),
        (pa.types.is_date, ("date", "date")),
        (lambda t: pa.types.is_timestamp(t) and t.tz is None, ("timestamp", "timestamp")),
        (pa.types.is_timestamp, ("timestamptz", "timestamptz")),
        (pa.types.is_time, ("time", "time")),
    ]
    for check, found in checks:
        if check(typ):
            return found
    return None


def _column(name: str, values: pa.ChunkedArray) -> _Column:
    """The column as PostgreSQL gets it: a type of its own where Arrow's has one (a list of such a type is an
    array), else ``text`` holding each value as JSON."""
    typ = values.type
    if pa.types.is_dictionary(typ):
        return _column(name, values.cast(typ.value_type))
    if typ == pa.string_view():
        values = values.cast(pa.string())
    elif pa.types.is_float16(typ):
        values = values.cast(pa.float32())
    scalar = _scalar_type(values.type)
    if scalar is not None:
        return _Column(name, scalar[0], scalar[1], values)
    if pa.types.is_null(typ):
        return _Column(name, "null", "text", values)
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or pa.types.is_fixed_size_binary(typ):
        text = [None if v is None else "\\x" + v.hex() for v in values.to_pylist()]
        return _Column(name, "bytea", "bytea", pa.chunked_array([pa.array(text, pa.string())]))
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        element = typ.value_type
        if pa.types.is_dictionary(element):
            element = element.value_type
        inner = _scalar_type(element)
        if inner is not None:
            return _Column(name, "_" + inner[0], inner[1] + "[]", _array_literals(values, element))
    text = [None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in values.to_pylist()]
    return _Column(name, "text", "text", pa.chunked_array([pa.array(text, pa.string())], pa.string()))


def _array_literals(values: pa.ChunkedArray, element: pa.DataType) -> pa.ChunkedArray:
    """Each list as PostgreSQL's array literal, ``{"a","b\\"c",NULL}`` (every element quoted, its ``\\`` and
    ``"`` escaped), computed column-wise by Arrow; a null list stays null."""
    chunks = []
    for chunk in values.chunks:
        lists = chunk.cast(pa.list_(element))
        text = pc.cast(lists.values, pa.string())
        escaped = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
        items = pc.fill_null(pc.binary_join_element_wise('"', escaped, '"', ""), "NULL")
        rebuilt = pa.ListArray.from_arrays(lists.offsets, items, mask=lists.is_null())
        chunks.append(pc.binary_join_element_wise("{", pc.binary_join(rebuilt, ","), "}", ""))
    return pa.chunked_array(chunks, pa.string())


def _existing(conn: Any, location: Location) -> tuple[str, list[tuple[str, str, str, bool]] | None]:
    """The schema of the target table (where it is, else where a new one goes: the URL's schema, else the first
    of the search path) and, when it exists, its columns: ``(name, type name, type as written, required)``
    (required: NOT NULL without a default)."""
    found = conn.execute(
        "SELECT n.nspname, c.relkind, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = to_regclass(%s)",
        [_identifier(location.schema, str(location.name)).as_string(conn)],
    ).fetchone()
    if found is None:
        schema = location.schema or conn.execute("SELECT current_schema()").fetchone()[0]
        if schema is None:
            raise DataError(
                f"the table {location.table} names no schema and the server's search_path has none; expected "
                "?table=schema.name."
            )
        return schema, None
    schema, kind, oid = found
    if kind not in ("r", "p"):
        raise DataError(
            f"{location.table} on {location.shown} is not a table (a view or another relation); expected a table "
            "name, or a new one."
        )
    columns = conn.execute(
        "SELECT a.attname, t.typname, format_type(a.atttypid, a.atttypmod), "
        "a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '' "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [oid],
    ).fetchall()
    return schema, columns


#: Which PostgreSQL types a column of each type (the key) may be appended to.
_FITS: dict[str, tuple[str, ...]] = {
    "int2": ("int2", "int4", "int8", "numeric", "float4", "float8"),
    "int4": ("int2", "int4", "int8", "numeric", "float4", "float8"),
    "int8": ("int2", "int4", "int8", "numeric", "float4", "float8"),
    "numeric": ("numeric", "float4", "float8", "int2", "int4", "int8"),
    "float4": ("float4", "float8", "numeric"),
    "float8": ("float4", "float8", "numeric"),
    "bool": ("bool",),
    "date": ("date", "timestamp", "timestamptz"),
    "timestamp": ("timestamp", "timestamptz"),
    "timestamptz": ("timestamptz", "timestamp"),
    "time": ("time",),
    "bytea": ("bytea",),
}
#: PostgreSQL types that hold something else than text: a text column does not go into one of them.
_NOT_TEXT = frozenset({t for fits in _FITS.values() for t in fits})


def _fits(ours: str, theirs: str) -> bool:
    if ours == "null" or ours == theirs:
        return True
    if ours.startswith("_") and theirs.startswith("_"):
        return _fits(ours[1:], theirs[1:])
    if ours.startswith("_") or theirs.startswith("_"):
        return False
    if ours == "text":  # text goes into text, and into types read from text (json, uuid, an enum, ...)
        return theirs not in _NOT_TEXT
    return theirs in _FITS.get(ours, ())


def _check_append(columns: list[_Column], existing: list[tuple[str, str, str, bool]], shown: str) -> None:
    """DataError naming the first column that is not one of the existing table's or whose type does not fit
    it, or a column the table requires (NOT NULL, no default) that the rows lack."""
    by_name = {name: (typname, written, required) for name, typname, written, required in existing}
    for column in columns:
        if column.name not in by_name:
            raise DataError(
                f"column '{column.name}' is not a column of the table {shown} (its columns: "
                f"{', '.join(by_name)}); expected only the table's columns when appending, or replace the table."
            )
        typname, written, _ = by_name[column.name]
        if not _fits(column.typname, typname):
            raise DataError(
                f"column '{column.name}' holds {column.sql} values and the table {shown} has it as {written}; "
                "expected values that the table's column holds, or replace the table."
            )
    names = {column.name for column in columns}
    lacking = [name for name, (_, _, required) in by_name.items() if required and name not in names]
    if lacking:
        raise DataError(
            f"the table {shown} requires the column '{lacking[0]}' (NOT NULL, no default) and the rows lack it; "
            "expected it among the rows' columns."
        )


def _create(into: Any, columns: list[_Column]) -> Any:
    from psycopg import sql

    fields = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.sql)) for c in columns)
    return sql.SQL("CREATE TABLE {} ({})").format(into, fields)


def _copy(conn: Any, into: Any, columns: list[_Column]) -> None:
    """Send every row to ``into`` by ``COPY ... FROM STDIN`` in CSV (Arrow writes the text; an empty field is
    NULL, an empty text is written quoted)."""
    from psycopg import sql
    from psycopg.copy import QueuedLibpqWriter

    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    table = pa.table({f"c{i}": c.values for i, c in enumerate(columns)})
    options = pacsv.WriteOptions(include_header=False, batch_size=_CSV_ROWS)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(into, names)
    with conn.cursor() as cursor, cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        for batch in table.to_batches(max_chunksize=_CSV_ROWS):
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, write_options=options)
            copy.write(buffer.getbuffer())
