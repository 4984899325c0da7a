"""PostgreSQL URLs and connections: how needmap names a table, connects, and words the server's errors.

Data that lives in PostgreSQL is read where it lives and scores go back there, without an export to a file.
Reading and writing name a table by one URL form, the libpq connection URL with needmap's ``table`` parameter::

    postgresql://user[:password]@host[:port]/database?table=schema.name

(or ``.../database/schema.name``; ``postgres://`` too; ``table=name`` without a schema is found on the
server's ``search_path``; other URL parameters, such as ``sslmode``, go to the server as libpq reads them.) The
names are quoted as identifiers, so they are exact: ``table=public.Scores`` is the table ``"Scores"``, not
``scores``.

Reading: :mod:`needmap.data.postgres_read`; writing: :mod:`needmap.data.postgres_write`. Passwords never appear in a
message, on the screen or in a table's recorded source (:func:`needmap.data.masking.redact`).
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from needmap.data.masking import redact
from needmap.errors import ConfigError, DataError

SCHEMES = ("postgresql://", "postgres://")
#: Seconds to wait for a server that does not answer, unless the URL sets ``connect_timeout`` itself.
CONNECT_TIMEOUT_S = 10


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
#: Schema metadata that describes the rows themselves (a feature table's description: its cutoffs, labels and
#: customer column, which keep labels out of the inputs and split by cutoff when a model trains on it). It
#: travels with the rows as the table's comment, written in the same transaction and read back with the table.
DESCRIBING_KEYS = (b"needmap.features",)
_COMMENT_PREFIX = "needmap metadata: "


def _identifier(schema: str | None, name: str) -> Any:
    from psycopg import sql

    return sql.Identifier(schema, name) if schema else sql.Identifier(name)
