"""Read a PostgreSQL table or query (named as :mod:`needmap.data.postgres` says) into Arrow.

:func:`read_postgres` runs ``SELECT * FROM`` the table, or a query given in its place, through a server-side
(named) cursor in a read-only transaction and fetches it in chunks of ``chunk_rows`` rows, each turned into an
Arrow record batch: memory holds the rows fetched, never a second copy on the server's side of the
connection. The Arrow types come from the PostgreSQL column types (:data:`ARROW_TYPES`):

==========================================  =====================================================
PostgreSQL                                  Arrow
==========================================  =====================================================
smallint, integer, bigint                   int64
real, double precision, numeric             float64 (numeric loses digits beyond a double's 15-17)
text, varchar, char(n), name                string
boolean                                     bool
date                                        date32
timestamp                                   timestamp[us]
timestamp with time zone                    timestamp[us, tz=UTC]
an array of one of the above                list of that type (one-dimensional arrays)
anything else (json, uuid, interval, ...)   string: the value's text as PostgreSQL writes it
==========================================  =====================================================

NULL is null in every type. Writing a table back, in one transaction, whole or not at all:
:func:`~needmap.data.postgres_write.write_postgres`. Passwords never appear in a message, on the screen or in a
table's recorded source (:func:`needmap.data.masking.redact`).
"""

from __future__ import annotations

import contextlib
import difflib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from needmap.data.postgres import (
    _COMMENT_PREFIX,
    DESCRIBING_KEYS,
    Location,
    _connect,
    _first_line,
    _identifier,
    _server_message,
    parse_url,
)
from needmap.data.provenance import with_source
from needmap.errors import ConfigError, DataError

DEFAULT_CHUNK_ROWS = 50_000
#: The Arrow type each PostgreSQL type name is read as; an array of one of these is read as a list of it. A
#: numeric column is read as double precision (float64); any other type as its text.
ARROW_TYPES: dict[str, pa.DataType] = {
    "int2": pa.int64(),
    "int4": pa.int64(),
    "int8": pa.int64(),
    "float4": pa.float64(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}


def read_postgres(
    url: str, query: str | None = None, *, chunk_rows: int = DEFAULT_CHUNK_ROWS, progress: bool = True
) -> pa.Table:
    """The rows of the table that ``url`` names (``?table=schema.name``), or of ``query`` run in the database
    that ``url`` names, as an Arrow table (types as the module's table says).

    Args:
        url: ``postgresql://user@host:port/database?table=schema.name``; with ``query``, without ``table``.
        query: a ``SELECT`` (or ``WITH ... SELECT``, ``VALUES``) run in the database instead of reading a table.
        chunk_rows: rows fetched from the server-side cursor at a time (one Arrow record batch each).
        progress: on a terminal, show the rows read so far on stderr while reading (never elsewhere).

    Returns:
        The table; its schema metadata records the source (the URL without its password, and the table or
        the query) as :func:`needmap.data.read.read` records a file's.

    Raises:
        ConfigError: both or neither of ``table=`` and ``query``, an unreadable URL, ``chunk_rows`` < 1.
        DataError: no server answers, the database or table does not exist, the query fails (the server's
            message), a value cannot be read, or there are no rows.
    """
    import psycopg
    from psycopg import sql

    location = parse_url(url)
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows is {chunk_rows!r}; expected a positive number of rows.")
    if query is not None and not query.strip().rstrip(";").strip():
        raise ConfigError("the query is empty; expected a SELECT statement.")
    if location.name is not None and query is not None:
        raise ConfigError(
            f"'{location.shown}' names the table {location.table} and a query was given too; expected one of them: "
            "?table=schema.name in the URL, or a query with a URL naming only the database."
        )
    if location.name is None and query is None:
        raise ConfigError(
            f"'{location.shown}' names no table and no query was given; expected ?table=schema.name in the URL "
            "(or a query to run in that database)."
        )
    if query is not None:
        shown_query = " ".join(query.split())
        shown_query = shown_query if len(shown_query) <= 120 else shown_query[:117] + "..."
        label = location.hide(f"{location.shown} query: {shown_query}")
        statement: Any = sql.SQL(query.strip().rstrip(";").strip())  # type: ignore[arg-type]
    else:
        label = location.hide(url)
        statement = sql.SQL("SELECT * FROM {}").format(_identifier(location.schema, str(location.name)))
    batches: list[pa.RecordBatch] = []
    with _connect(location) as conn:
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                conn.execute("SET LOCAL TIME ZONE 'UTC'")
                with conn.cursor(name="needmap_describe", binary=True) as cursor:
                    try:
                        cursor.execute(statement)
                    except psycopg.errors.UndefinedTable as err:
                        if query is not None:
                            raise _query_error(location, err, label) from None
                        raise _missing_table(location) from None
                    schema, casts = _plan(cursor.description or [])
                if not schema:
                    raise DataError(f"the query returns no columns ({label}); expected at least one column.")
                if any(casts):
                    statement = _cast_statement(statement, schema, casts)
                with conn.cursor(name="needmap_read", binary=True) as cursor:
                    cursor.itersize = chunk_rows
                    cursor.execute(statement)
                    with _progress(location.table if query is None else "the query", progress) as done:
                        while rows := cursor.fetchmany(chunk_rows):
                            batches.append(_batch(rows, schema, label))
                            done(len(rows))
        except psycopg.DataError as err:  # a value psycopg cannot turn into Python (a date of 'infinity')
            raise DataError(
                f"a value cannot be read from PostgreSQL ({location.hide(_first_line(err))}); expected dates and "
                f"timestamps within the years 1 to 9999: select such a column as text in a query ({label})"
            ) from None
        except psycopg.Error as err:
            if query is not None:
                raise _query_error(location, err, label) from None
            raise DataError(
                f"PostgreSQL could not read the table {location.table}: {_server_message(location, err)} ({label})"
            ) from None
        description = _description(conn, location) if query is None else None
    if not batches:
        what = "the query returned no rows" if query is not None else f"the table {location.table} has no rows"
        raise DataError(f"{what} ({label}); expected at least one row.")
    table = pa.Table.from_batches(batches, schema)
    if description:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **description})
    return with_source(table, label, 0)


def _description(conn: Any, location: Location) -> dict[bytes, bytes]:
    """The describing metadata a table's comment carries (written by :func:`write_postgres`), else {}."""
    name = ".".join(f'"{part}"' for part in (location.schema, location.name) if part is not None)
    row = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (name,)).fetchone()
    text = row[0] if row else None
    if not isinstance(text, str) or not text.startswith(_COMMENT_PREFIX):
        return {}
    try:
        kept = json.loads(text[len(_COMMENT_PREFIX) :])
    except ValueError:
        return {}
    return {key.encode(): str(value).encode("utf-8") for key, value in kept.items() if key.encode() in DESCRIBING_KEYS}


def _missing_table(location: Location) -> DataError:
    """The error for a table that is not there, naming the closest table names of the database."""
    names: list[str] = []
    with contextlib.suppress(Exception), _connect(location) as conn:
        rows = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        names = [f"{s}.{n}" for s, n in rows] + [n for _, n in rows]
    close = difflib.get_close_matches(location.table, names, n=1, cutoff=0.6)
    hint = f" Did you mean table={close[0]}? (names are exact: quoted as written)" if close else ""
    return DataError(
        f"the table {location.table} does not exist in the database '{location.database}' at {location.server}; "
        f"expected an existing table (?table=schema.name).{hint}"
    )


def _query_error(location: Location, err: BaseException, label: str) -> DataError:
    return DataError(
        f"PostgreSQL could not run the query: {_server_message(location, err)} ({label}); expected a SELECT "
        "that runs in that database."
    )


def _plan(description: Any) -> tuple[pa.Schema, list[str | None]]:
    """The Arrow schema of a query's columns, from their PostgreSQL types, and for each column the cast that
    makes it a type psycopg reads in binary as needmap maps it (None: none needed): ``float8`` for numeric
    (``float8[]`` for its arrays), ``text`` for every type not in :data:`ARROW_TYPES` (json, uuid, ...)."""
    from psycopg import postgres

    native: dict[int, pa.DataType] = {}
    for name, arrow in ARROW_TYPES.items():
        info = postgres.types[name]
        native[info.oid] = arrow
        native[info.array_oid] = pa.list_(arrow)
    numeric = postgres.types["numeric"]
    fields, casts = [], []
    for column in description:
        oid = column.type_code
        if oid in native:
            arrow, cast = native[oid], None
        elif oid in (numeric.oid, numeric.array_oid):
            arrow, cast = (pa.float64(), "float8") if oid == numeric.oid else (pa.list_(pa.float64()), "float8[]")
        else:
            arrow, cast = pa.string(), "text"
        fields.append(pa.field(column.name, arrow))
        casts.append(cast)
    return pa.schema(fields), casts


def _cast_statement(statement: Any, schema: pa.Schema, casts: list[str | None]) -> Any:
    """``statement`` with the columns that need it cast: its columns are named by position (``c0``, ``c1``,
    ... so that repeated or odd names need no quoting rules), then given their own names back."""
    from psycopg import sql

    aliases = [sql.Identifier(f"c{i}") for i in range(len(casts))]
    shown = [
        sql.SQL("{} AS {}").format(alias if cast is None else sql.SQL("{}::{}").format(alias, sql.SQL(cast)),
                                   sql.Identifier(field.name))
        for alias, cast, field in zip(aliases, casts, schema, strict=True)
    ]  # fmt: skip
    return sql.SQL("SELECT {} FROM (\n{}\n) AS needmap_rows ({})").format(
        sql.SQL(", ").join(shown), statement, sql.SQL(", ").join(aliases)
    )


def _batch(rows: list[tuple[Any, ...]], schema: pa.Schema, label: str) -> pa.RecordBatch:
    """One fetched chunk of rows as a record batch of ``schema`` (Arrow turns the rows into columns at once;
    column by column only to name a column whose values do not fit)."""
    if len(set(schema.names)) == len(schema.names):
        try:
            return pa.RecordBatch.from_struct_array(pa.array(rows, type=pa.struct(list(schema))))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    arrays = [_array(values, field, label) for values, field in zip(zip(*rows, strict=True), schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _array(values: tuple[Any, ...], field: pa.Field, label: str) -> pa.Array:
    try:
        return pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    if field.type == pa.string():  # a type whose values psycopg loaded as Python objects: their text
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())
    if pa.types.is_list(field.type):
        raise DataError(
            f"column '{field.name}' holds a multi-dimensional array ({label}); expected one-dimensional arrays: "
            "select the column as text (column::text) in a query."
        )
    raise DataError(f"column '{field.name}': values do not fit {field.type} ({label}).")


@contextlib.contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A transient line on a terminal's stderr counting the rows read; a no-op elsewhere."""
    from rich.console import Console

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda rows: None
        return
    from rich.markup import escape
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"reading {escape(label)}", total=None)
        yield lambda rows: bar.advance(task, rows)
