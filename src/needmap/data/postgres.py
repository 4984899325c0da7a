"""Read a PostgreSQL table or query into Arrow; write an Arrow table to PostgreSQL whole or not at all.

Data that lives in PostgreSQL is read where it lives and scores go back there, without an export to a file.
Reading and writing name a table by one URL form, the libpq connection URL with needmap's ``table`` parameter::

    postgresql://user[:password]@host[:port]/database?table=schema.name

(``postgres://`` too; ``table=name`` without a schema is found on the server's ``search_path``; other URL
parameters, such as ``sslmode``, go to the server as libpq reads them.) The names are quoted as identifiers,
so they are exact: ``table=public.Scores`` is the table ``"Scores"``, not ``scores``.

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

NULL is null in every type. :func:`write_postgres` writes a table in one transaction: ``replace`` creates a
new table under a temporary name, copies the rows into it (``COPY ... FROM STDIN`` in CSV, which Arrow's CSV
writer makes fast), then drops the old table and renames the new one; ``append`` copies into the existing
table (made when absent), after checking that every column is one of the table's, of a type that fits. A
failure at any step rolls everything back: the table that was there is left exactly as it was, and no
temporary table remains. Passwords never appear in a message, on the screen or in a table's recorded source
(:func:`needmap.data.masking.redact`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import io
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from needmap.data.masking import redact
from needmap.data.provenance import with_source
from needmap.errors import ConfigError, DataError

SCHEMES = ("postgresql://", "postgres://")
DEFAULT_CHUNK_ROWS = 50_000
#: Seconds to wait for a server that does not answer, unless the URL sets ``connect_timeout`` itself.
CONNECT_TIMEOUT_S = 10
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
MODES = ("replace", "append")
#: The columns a write adds when it is given the model (and its version) that made the scores.
STAMP_COLUMNS = ("model", "model_version", "scored_at")
_TEMPORARY_PREFIX = "_needmap_new_"
_CSV_ROWS = 65_536  # rows per piece of CSV sent to COPY


def is_postgres_url(text: Any) -> bool:
    """Whether ``text`` is a PostgreSQL URL (``postgresql://`` or ``postgres://``), the source or target
    that :func:`read_postgres` and :func:`write_postgres` take."""
    return isinstance(text, str) and text.startswith(SCHEMES)


# -- the URL -------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Location:
    """What a URL names: how to connect, how to show it, and the table (``name`` None when it names none)."""

    conninfo: str  # the URL without needmap's table parameter: what psycopg connects with
    shown: str  # the same, password masked: what messages and the recorded source show
    server: str  # host:port, for messages
    database: str
    user: str | None
    password: str | None
    schema: str | None
    name: str | None

    @property
    def table(self) -> str:
        """The table as the URL names it: ``schema.name`` or ``name``."""
        return f"{self.schema}.{self.name}" if self.schema else str(self.name)

    def hide(self, text: str) -> str:
        """``text`` (a server's message) with the password masked, wherever it appears."""
        text = redact(text)  # the URL forms; the password's own text too, unless so short it would mask words
        return text.replace(self.password, "***") if self.password and len(self.password) >= 4 else text


def _require_driver() -> None:
    """ConfigError, saying what to install, when psycopg (the PostgreSQL driver) is not installed."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None:
        raise ConfigError(
            "reading and writing PostgreSQL needs the psycopg driver, which is not installed; expected it: "
            "pip install 'psycopg[binary]'."
        )


def parse_url(url: str) -> Location:
    """The :class:`Location` of a ``postgresql://`` URL; ConfigError when it cannot be read (or when the
    PostgreSQL driver is not installed: every use of a URL starts here)."""
    _require_driver()
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    if not is_postgres_url(url):
        raise ConfigError(
            f"'{redact(str(url))}' is not a PostgreSQL URL; expected postgresql://user@host:port/database?table=name."
        )
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    tables = [value for key, value in pairs if key == "table"]
    database, slash, in_path = parts.path.lstrip("/").partition("/")
    if slash:  # the path form, postgresql://host/database/schema.table: the same as ?table=schema.table
        tables.append(unquote(in_path))
        parts = parts._replace(path="/" + database)
    conninfo = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in pairs if k != "table"])))
    try:
        info = conninfo_to_dict(conninfo)
    except ProgrammingError as err:
        raise ConfigError(
            f"'{redact(url)}' cannot be read as a PostgreSQL URL ({redact(_first_line(err))}); expected "
            "postgresql://user@host:port/database?table=schema.name."
        ) from None
    password = info.get("password")
    host = str(info.get("host") or "localhost")
    location = Location(
        conninfo=conninfo,
        shown=redact(conninfo),
        server=f"{host}:{info.get('port') or 5432}",
        database=str(info.get("dbname") or info.get("user") or "(the default database)"),
        user=None if info.get("user") is None else str(info["user"]),
        password=str(password) if password else None,
        schema=None,
        name=None,
    )
    if len(tables) > 1:
        raise ConfigError(
            f"'{location.shown}' names {len(tables)} tables; expected one: ?table=schema.name or /database/schema.name."
        )
    if not tables:
        return location
    schema, name = _table_name(tables[0], location.shown)
    return dataclasses.replace(location, schema=schema, name=name)


def _table_name(text: str, shown: str) -> tuple[str | None, str]:
    parts = text.split(".")
    if len(parts) > 2 or not all(p.strip() for p in parts):
        raise ConfigError(f"table={text!r} of '{shown}' is not a table name; expected table=name or table=schema.name.")
    return (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def same_table(url: str, other: Any) -> bool:
    """Whether ``other`` is a PostgreSQL URL naming the table that ``url`` names (the same server, database
    and table; a name without a schema matches that name in any schema): writing it would destroy an input."""
    if not is_postgres_url(other):
        return False
    one, two = parse_url(url), parse_url(other)
    if one.name is None or two.name is None or (one.server, one.database) != (two.server, two.database):
        return False
    return one.name == two.name and (one.schema is None or two.schema is None or one.schema == two.schema)


# -- connecting and the server's messages --------------------------------------------------------------
def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def _connect(location: Location) -> Any:
    """An open connection (autocommit: each block of work is one explicit transaction); DataError naming the
    server, never the password, when it cannot be made."""
    import psycopg

    given = psycopg.conninfo.conninfo_to_dict(location.conninfo)
    extra: dict[str, Any] = {"autocommit": True, "client_encoding": "utf8"}
    if "connect_timeout" not in given:
        extra["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in given:
        extra["application_name"] = "needmap"
    try:
        return psycopg.connect(location.conninfo, **extra)
    except psycopg.OperationalError as err:
        raise _connection_error(location, err) from None


def _connection_error(location: Location, err: BaseException) -> DataError:
    message = location.hide(_first_line(err)).removeprefix("connection failed: ")
    text = str(err)
    if "does not exist" in text and "database" in text:
        return DataError(
            f"the database '{location.database}' does not exist on the PostgreSQL server at {location.server}; "
            "expected the name of an existing database after the host in the URL."
        )
    if any(s in text for s in ("Connection refused", "timeout expired", "could not translate host", "No route")):
        return DataError(
            f"no PostgreSQL server answers at {location.server} ({message}); expected a running server at that "
            "host and port."
        )
    return DataError(
        f"the PostgreSQL server at {location.server} refused the connection to '{location.database}' "
        f"({message}); expected a user and database it accepts."
    )


def _server_message(location: Location, err: BaseException) -> str:
    """The server's own words for an error (its primary message, and its hint), password masked."""
    diag = getattr(err, "diag", None)
    primary = getattr(diag, "message_primary", None) or _first_line(err)
    hint = getattr(diag, "message_hint", None)
    return location.hide(f"{primary} ({hint})" if hint else primary)


# -- reading -------------------------------------------------------------------------------------------
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


#: Schema metadata that describes the rows themselves (a feature table's description: its cutoffs, labels and
#: customer column, which keep labels out of the inputs and split by cutoff when a model trains on it). It
#: travels with the rows as the table's comment, written in the same transaction and read back with the table.
DESCRIBING_KEYS = (b"needmap.features",)
_COMMENT_PREFIX = "needmap metadata: "


def _described(table: pa.Table) -> str | None:
    """The table comment that carries ``table``'s describing metadata, or None when it has none."""
    meta = table.schema.metadata or {}
    kept = {key.decode(): meta[key].decode("utf-8") for key in DESCRIBING_KEYS if key in meta}
    return _COMMENT_PREFIX + json.dumps(kept) if kept else None


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


def _identifier(schema: str | None, name: str) -> Any:
    from psycopg import sql

    return sql.Identifier(schema, name) if schema else sql.Identifier(name)


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


# -- writing -------------------------------------------------------------------------------------------
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
