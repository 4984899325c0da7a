"""Online features: a feature table of one cutoff in Redis, one hash per customer, read back by customer id.

The feature-store pattern without a feature store: ``needmap features ... --to redis://HOST:PORT/DB`` (or
:func:`write_online_features`) puts each customer's features where a service can read them in one round trip
(:class:`OnlineFeatures`), so that a request carrying only a customer id can be scored.

The keys, all under ``needmap:features:<version>:`` (docs/events.md, "Online features in Redis"):

* ``<customer id>``: a hash, one field per feature column (the customer, cutoff and label columns are left
  out), each value the JSON text of the value (``12``, ``19.18``, ``"web"``, ``true``, ``null``,
  ``["I00032","I00018"]``; NaN and infinities as ``NaN``, ``Infinity``, ``-Infinity``; dates, times and
  timestamps as ISO text, decimals as text). The id is the customer's exact text: an int id 7 and a text
  ``"7"`` name the same key.
* ``__schema__``: a hash, one field per feature column, its Arrow type as text (``int64``, ``double``,
  ``list<item: string>``): JSON alone does not tell ``1`` the float from ``1`` the int, nor a timestamp from
  text, so the reader decodes each value by its column's type and gives back exactly the types written.
* ``__meta__``: a hash set LAST, when every customer is written: rows, cutoff, written_at, columns (a JSON
  list, in the table's order), customer_column, ttl_days, version. A reader refuses a version without it.

``<version>`` (:func:`features_version`) is a short hash of the feature definitions: the
:class:`EventSpec` and the event types and categories that got columns, never the cutoff. A table built with
the same definitions (a model's ``events.json`` included) has the same version, so a model finds its
features; other definitions (other windows, another amount) write other keys, never over a model's.

A rewrite of a version replaces each customer's hash in one command (a reader sees the old row or the new
one, never a mix) and leaves the earlier ``__meta__`` in place until the new one is set. Customers of the
earlier write that the new one lacks stay until their time-to-live ends.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from datetime import time as day_time
from decimal import Decimal
from numbers import Integral
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from needmap.errors import ConfigError, DataError
from needmap.events.durations import parse_days
from needmap.events.table_info import EventSpec, FeatureTableInfo

#: Every key of the online features starts with this.
KEY_PREFIX = "needmap:features"
#: The hash of a version's column types, and the hash that marks its write complete.
SCHEMA = "__schema__"
META = "__meta__"
#: Customers sent in one pipelined batch (one round trip), and rows encoded at once.
BATCH_ROWS = 1000
BLOCK_ROWS = 20_000
#: A write of at least this many customers shows a progress bar (on a terminal).
PROGRESS_ROWS = 10_000
#: Seconds to wait for the server: to connect, and for a reply (a writer's batch, a reader's row).
CONNECT_TIMEOUT_S = 5.0
WRITE_TIMEOUT_S = 60.0
READ_TIMEOUT_S = 2.0
_HASH_CHARS = 12


# -- the version --------------------------------------------------------------------------------------------
def features_version(source: Any) -> str:
    """The version of the feature definitions of ``source``: 12 hex characters of a SHA-256 of their JSON.

    ``source``: a :class:`FeatureTableInfo`; a feature table (an Arrow table with its description, or the path
    of a Parquet file or of a text table with its ``.features.json``); a model's ``events.json`` (its path,
    the model directory holding it, its parsed document, or the loaded model itself, whose ``events_info``
    is used); or an :class:`EventSpec` alone where it has no event or category column (otherwise the event
    types and categories that got columns are unknown). What counts: the spec (its columns, amount, purchase
    events, windows, horizon, top categories, last items), the event types and categories chosen, and the
    description's format version; never the cutoffs, the labels, the bad rows or the log's time span."""
    info = _definitions(source)
    spec = info.spec.to_dict()
    spec["purchase_events"] = sorted(spec["purchase_events"])
    document = {
        "format": info.version,
        "spec": spec,
        "event_types": sorted(str(v) for v in info.extra.get("event_types", ())),
        "categories": sorted(str(v) for v in info.extra.get("categories", ())),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_CHARS]


def _definitions(source: Any) -> FeatureTableInfo:
    import pyarrow as pa

    from needmap.events.table_info import info_of

    if isinstance(source, FeatureTableInfo):
        return source
    if isinstance(source, EventSpec):
        if source.event or (source.category and source.top_categories):
            raise ConfigError(
                "an EventSpec with an event or category column does not say which event types and categories "
                "got columns; expected the feature table's description (info_of(table)) or a model's events.json."
            )
        return FeatureTableInfo(spec=source, as_of=())
    if isinstance(source, pa.Table):
        found = info_of(source)
        if found is None:
            raise DataError("the table has no feature description; expected a table built by needmap features.")
        return found
    if isinstance(source, Mapping):
        if "spec" in source:
            return FeatureTableInfo.from_json(json.dumps(source), where="the feature description")
        try:
            spec = EventSpec.from_dict(dict(source))
        except (TypeError, ValueError) as err:
            raise ConfigError(
                f"the feature definitions could not be read ({err}); expected a model's events.json document."
            ) from None
        return _definitions(spec)
    if isinstance(source, str | os.PathLike):
        return _definitions_of_file(Path(source))
    if hasattr(source, "events_info"):
        info = source.events_info
        if info is None:
            raise ConfigError(
                "the model was not trained on a table built from an event log (it has no events.json), so its "
                "inputs have no feature version."
            )
        return info
    raise ConfigError(
        f"features_version() got {type(source).__name__}; expected a feature description, a feature table, a "
        "model's events.json (its path or document) or a model."
    )


def _definitions_of_file(path: Path) -> FeatureTableInfo:
    from needmap.events.table_info import info_of_file

    if path.is_dir():
        path = path / "events.json"
    if not path.exists():
        raise DataError(f"{path} does not exist; expected a model's events.json, its model directory or a table.")
    if path.suffix == ".json":
        return FeatureTableInfo.from_json(path.read_text(encoding="utf-8"), where=str(path))
    found = None
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        from needmap.events.table_info import FEATURES_KEY

        text = (pq.read_schema(path).metadata or {}).get(FEATURES_KEY)
        found = None if text is None else FeatureTableInfo.from_json(text, where=str(path))
    found = found or info_of_file(path)
    if found is None:
        raise DataError(f"{path} has no feature description; expected a table built by needmap features.")
    return found


def customer_key(version: str, customer_id: Any) -> str:
    """The key of a customer's hash: ``needmap:features:<version>:<id as exact text>``."""
    return f"{KEY_PREFIX}:{version}:{_id_text(customer_id)}"


def _id_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Integral) and not isinstance(value, bool):
        return str(int(value))
    raise ConfigError(f"customer id {value!r} is a {type(value).__name__}; expected text or a whole number.")


# -- the server ----------------------------------------------------------------------------------------------
def shown_url(url: str) -> str:
    """``url`` without its user and password: ``redis://HOST:PORT/DB``, safe to print."""
    try:
        parts = urlsplit(url)
        port = parts.port or 6379
        host = parts.hostname or "localhost"
    except ValueError:
        return url.split("://", 1)[0] + "://***" if "@" in url else url
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}:{port}{parts.path or '/0'}"


def _check_url(url: str) -> None:
    shown = shown_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError:
        parts = None
    db = (parts.path or "/0").lstrip("/") if parts else ""
    if parts is None or parts.scheme not in ("redis", "rediss") or not parts.hostname or not db.isdigit():
        raise ConfigError(
            f"the Redis address {shown!r} is not of the form redis://HOST:PORT/DB (rediss:// for TLS, a password "
            "as redis://:PASSWORD@HOST:PORT/DB)."
        )


def _connect(url: str, timeout_s: float) -> Any:
    """A client of the server at ``url`` that has answered a PING."""
    _check_url(url)
    try:
        import redis
    except ImportError:
        raise ConfigError(
            "the redis package is missing; install it with pip install 'needmap[serve]' (or pip install redis)."
        ) from None
    client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=timeout_s)
    try:
        client.ping()
    except redis.RedisError as err:
        client.close()
        raise _server_error(err, url) from None
    return client


def _server_error(err: Exception, url: str) -> DataError:
    """A Redis failure as one sentence that names the server (never its password)."""
    import redis

    shown = shown_url(url)
    reason = str(err).strip().rstrip(".")
    password = urlsplit(url).password
    if password:
        reason = reason.replace(password, "***")
    if isinstance(err, redis.ConnectionError | redis.TimeoutError) and not isinstance(err, redis.AuthenticationError):
        return DataError(f"no Redis server answers at {shown} ({reason}); expected one running there.")
    if isinstance(err, redis.AuthenticationError) or "AUTH" in reason.upper():
        return DataError(
            f"Redis at {shown} refused the connection's password ({reason}); expected the server's password "
            "in the URL as redis://:PASSWORD@HOST:PORT/DB."
        )
    return DataError(f"Redis at {shown} answered with an error: {reason}.")


def check_server(url: str) -> str:
    """Connect to the server at ``url`` and close again: a clear error now rather than after a long build.
    Returns the URL as it may be printed (:func:`shown_url`)."""
    _connect(url, CONNECT_TIMEOUT_S).close()
    return shown_url(url)


# -- writing -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OnlineWrite:
    """What :func:`write_online_features` wrote: the version, the rows, the cutoff, the columns, the
    time-to-live in days (None: the keys stay), the server as it may be printed, and the seconds it took."""

    version: str
    rows: int
    cutoff: str
    columns: tuple[str, ...]
    ttl_days: int | None
    where: str
    seconds: float

    @property
    def key_pattern(self) -> str:
        return f"{KEY_PREFIX}:{self.version}:<customer>"


def write_online_features(
    table: Any, url: str, *, ttl: str | int | None = None, progress: bool = False, batch_rows: int = BATCH_ROWS
) -> OnlineWrite:
    """Write the features of ``table`` (one cutoff) into Redis at ``url``, one hash per customer.

    Args:
        table: a feature table of one cutoff with its description (the output of needmap features, or of
            ``needmap.features(..., as_of=DATE)``); its feature columns are written, not the customer, the
            cutoff nor the labels.
        url: ``redis://HOST:PORT/DB`` (``rediss://`` for TLS, ``redis://:PASSWORD@HOST:PORT/DB``).
        ttl: the time-to-live of every key of the write (days as an int, ``"30d"``, ``"12w"``); None: the keys
            stay (and lose a time-to-live an earlier write gave them).
        progress: show a progress bar on a terminal for a write of many customers.
        batch_rows: customers per pipelined batch.

    The column types go first (``__schema__``), then the customers in pipelined batches (HSET, then EXPIRE
    or PERSIST), then ``__meta__`` last: a reader takes a version without it for an incomplete write.
    """
    import pyarrow.compute as pc

    from needmap.events.durations import iso
    from needmap.events.table_info import info_of

    started = time.perf_counter()
    info = info_of(table)
    if info is None:
        raise DataError("the table has no feature description; expected a table built by needmap features.")
    ttl_days = None if ttl is None else parse_days(ttl, "the time-to-live")
    cutoff = _one_cutoff(table, info, iso)
    customer = info.customer_column
    columns = [c for c in table.column_names if c not in (customer, info.cutoff_column, *info.labels)]
    if not columns:
        raise DataError("the table has no feature column besides the customer, the cutoff and the labels.")
    unreadable = [name for name in columns if any(ord(ch) < 32 for ch in name)]
    if unreadable:
        raise DataError(f"column {unreadable[0]!r} has a control character in its name; expected printable names.")
    ids = _customer_texts(table, customer)
    version = features_version(info)
    schema = {name: _written_type(table.column(name).type, name) for name in columns}
    client = _connect(url, WRITE_TIMEOUT_S)
    prefix = f"{KEY_PREFIX}:{version}:"
    try:
        earlier = {k.decode(): v.decode() for k, v in client.hgetall(prefix + SCHEMA).items()}
        _replace_hash(client, prefix + SCHEMA, schema, ttl_days)
        expire = ttl_days * 86_400 if ttl_days else None
        bar = _Bar(progress and table.num_rows >= PROGRESS_ROWS, table.num_rows, version)
        with bar, _Pipeline(client, url, batch_rows, bar) as pipeline:
            for start in range(0, table.num_rows, BLOCK_ROWS):
                block = table.slice(start, BLOCK_ROWS)
                keys = pc.binary_join_element_wise(prefix, ids.slice(start, BLOCK_ROWS), "")
                commands = _commands(block, columns, keys, expire, replace=bool(earlier) and earlier != schema)
                pipeline.send(commands)
        meta = {
            "version": version,
            "rows": str(table.num_rows),
            "cutoff": cutoff,
            "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "columns": json.dumps(columns, ensure_ascii=False),
            "customer_column": customer,
            "ttl_days": "" if ttl_days is None else str(ttl_days),
        }
        _replace_hash(client, prefix + META, meta, ttl_days)
    except Exception as err:
        import redis

        if isinstance(err, redis.RedisError):
            raise _server_error(err, url) from None
        raise
    finally:
        client.close()
    return OnlineWrite(
        version=version,
        rows=table.num_rows,
        cutoff=cutoff,
        columns=tuple(columns),
        ttl_days=ttl_days,
        where=shown_url(url),
        seconds=time.perf_counter() - started,
    )


def _one_cutoff(table: Any, info: FeatureTableInfo, iso: Callable[[datetime], str]) -> str:
    import pyarrow.compute as pc

    if info.cutoff_column in table.column_names and table.num_rows:
        found = pc.unique(table.column(info.cutoff_column)).to_pylist()
        cutoffs = sorted(iso(v) if isinstance(v, datetime) else str(v) for v in found if v is not None)
    else:
        cutoffs = list(info.as_of)
    if len(cutoffs) != 1:
        shown = ", ".join(cutoffs[:5]) + (", ..." if len(cutoffs) > 5 else "")
        raise ConfigError(
            f"the table has {len(cutoffs)} cutoffs ({shown or 'none'}); Redis holds one row per customer, so "
            "expected a table of one cutoff (built with one as_of date)."
        )
    return cutoffs[0]


def _customer_texts(table: Any, customer: str) -> Any:
    """The customer ids as text (exact: an int 7 is ``"7"``), refused where null, repeated or reserved."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.column(customer)
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)):
        raise DataError(
            f"the customer column {customer!r} has type {kind}; expected text or whole numbers as customer ids."
        )
    texts = pc.cast(column, pa.string()).combine_chunks()
    if texts.null_count:
        raise DataError(f"the customer column {customer!r} has {texts.null_count:,} empty ids; expected an id each.")
    if pc.count_distinct(texts).as_py() != len(texts):
        raise DataError(
            f"the customer column {customer!r} has a customer on several rows; expected one row per customer."
        )
    reserved = pc.is_in(texts, pa.array([SCHEMA, META])) if len(texts) else pa.array([], pa.bool_())
    if pc.any(reserved).as_py():
        raise DataError(f"a customer id is {SCHEMA!r} or {META!r}, the names of needmap's own keys; expected others.")
    return texts


def _written_type(kind: Any, name: str) -> str:
    """The Arrow type a column is written as, as text; a type without a JSON form refused."""
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_floating(kind):
        return "double"
    if pa.types.is_large_string(kind):
        return "string"
    if pa.types.is_timestamp(kind) and kind.unit == "ns":
        return str(pa.timestamp("us", kind.tz))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"list<item: {_written_type(kind.value_type, name)}>"
    simple = (pa.types.is_null, pa.types.is_boolean, pa.types.is_integer, pa.types.is_string, pa.types.is_timestamp)
    more = (pa.types.is_date, pa.types.is_time, pa.types.is_decimal)
    if any(check(kind) for check in simple + more):
        return str(kind)
    raise DataError(
        f"column {name!r} has type {kind}, which has no form in Redis; expected numbers, text, booleans, dates, "
        "times, timestamps, decimals or lists of them."
    )


def _replace_hash(client: Any, key: str, fields: Mapping[str, str], ttl_days: int | None) -> None:
    """Replace the hash at ``key`` in one transaction (with its time-to-live)."""
    pipe = client.pipeline(transaction=True)
    pipe.delete(key)
    if fields:
        pipe.hset(key, mapping=dict(fields))
        if ttl_days:
            pipe.expire(key, ttl_days * 86_400)
    pipe.execute()


def _json_column(column: Any) -> Any:
    """A column as JSON text per value (Arrow string array), computed column-wise where the type allows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = kind.value_type
    if pa.types.is_null(kind):
        return pa.array(["null"] * len(column), pa.string())
    if pa.types.is_boolean(kind):
        text = pc.if_else(column, "true", "false")
    elif pa.types.is_integer(kind):
        text = pc.cast(column, pa.string())
    elif pa.types.is_floating(kind):
        column = pc.cast(column, pa.float64())
        text = pc.cast(column, pa.string())  # the shortest text that reads back exactly (2.0 as 2)
        if pc.any(pc.invert(pc.is_finite(column))).as_py():
            for arrow, js in (("nan", "NaN"), ("-inf", "-Infinity"), ("inf", "Infinity")):
                text = pc.replace_substring_regex(text, f"^{arrow}$", js)
    elif (pa.types.is_string(kind) or pa.types.is_large_string(kind)) and _plain(column):
        text = pc.binary_join_element_wise('"', _escaped(column), '"', "")
    elif (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and _plain_list(column):
        inner = pc.binary_join(column, '","')
        text = pc.binary_join_element_wise('["', inner, '"]', "")
        text = pc.if_else(pc.equal(pc.list_value_length(column), 0), "[]", text)
    else:
        if pa.types.is_timestamp(kind) and kind.unit == "ns":
            try:
                column = column.cast(pa.timestamp("us", kind.tz))
            except pa.ArrowInvalid:
                raise DataError("a timestamp has nanoseconds; expected microseconds at most.") from None
        values = column.to_pylist()
        text = pa.array([None if v is None else _json(v) for v in values], pa.string())
    return pc.fill_null(text, "null")


def _plain(column: Any) -> bool:
    """Text without control characters: JSON-escaped by escaping quotes and backslashes alone."""
    import pyarrow.compute as pc

    return not pc.any(pc.match_substring_regex(column, "[\\x00-\\x1f]")).as_py()


def _plain_list(column: Any) -> bool:
    """A list column of text items that need no escaping in JSON (no quote, backslash or control character)
    and are never null: joined column-wise; any other list is written value by value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.list_flatten(column)
    kind = values.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)) or values.null_count:
        return False
    return len(values) == 0 or not pc.any(pc.match_substring_regex(values, '[\\x00-\\x1f"\\\\]')).as_py()


def _escaped(column: Any) -> Any:
    import pyarrow.compute as pc

    return pc.replace_substring(pc.replace_substring(column, "\\", "\\\\"), '"', '\\"')


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | day_time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no JSON form")


def _commands(block: Any, columns: Sequence[str], keys: Any, expire: int | None, *, replace: bool) -> tuple[Any, int]:
    """The commands of each customer of ``block`` in Redis's wire format (RESP), one binary value per customer,
    and how many commands each holds: [DEL,] HSET of every column, then EXPIRE or PERSIST (so that a key keeps
    no time-to-live of an earlier write). Packed column-wise by Arrow: several times faster than packing each
    argument in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def bulk(text: Any) -> Any:
        return pc.binary_join_element_wise("$", pc.cast(pc.binary_length(text), pa.string()), "\r\n", text, "\r\n", "")

    key = bulk(keys)
    parts: list[Any] = [f"*{2 + 2 * len(columns)}\r\n$4\r\nHSET\r\n", key]
    for name in columns:
        parts += [_bulk_text(name), bulk(_json_column(block.column(name)))]
    if replace:
        parts = ["*2\r\n$3\r\nDEL\r\n", key, *parts]
    if expire:
        parts += ["*3\r\n$6\r\nEXPIRE\r\n", key, _bulk_text(str(expire))]
    else:
        parts += ["*2\r\n$7\r\nPERSIST\r\n", key]
    joined = pc.binary_join_element_wise(*parts, "")
    return pc.cast(joined, pa.binary()), (3 if replace else 2)


def _bulk_text(text: str) -> str:
    data = text.encode("utf-8")
    return f"${len(data)}\r\n{text}\r\n"


class _Pipeline:
    """Batches of packed commands on one connection, one batch ahead: a batch is sent before the replies of
    the one before it are read, so that the server works on it while those replies (and the next block's
    encoding) are handled here. A reply that is an error fails the write once its batch is read."""

    def __init__(self, client: Any, url: str, batch_rows: int, bar: _Bar) -> None:
        self._pool = client.connection_pool
        self._url = url
        self._batch_rows = batch_rows
        self._bar = bar
        self._pending: tuple[int, int] | None = None  # customers and commands of the batch not yet read
        self._connection: Any = None

    def __enter__(self) -> _Pipeline:
        self._connection = self._pool.get_connection()
        return self

    def send(self, commands: tuple[Any, int]) -> None:
        packed, per_row = commands
        for start in range(0, len(packed), self._batch_rows):
            batch = packed.slice(start, self._batch_rows)
            self._connection.send_packed_command([b"".join(batch.to_pylist())])
            self._read()
            self._pending = (len(batch), len(batch) * per_row)

    def _read(self) -> None:
        import redis

        if self._pending is None:
            return
        rows, replies = self._pending
        self._pending = None
        failure = None
        for _ in range(replies):
            try:
                self._connection.read_response()
            except redis.ResponseError as err:
                failure = failure or err
        if failure is not None:
            raise _server_error(failure, self._url)
        self._bar.advance(rows)

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        failed = exc_type is not None
        try:
            if not failed:
                self._read()
        except BaseException:
            failed = True
            raise
        finally:
            if failed:
                self._connection.disconnect()  # replies may be left unread: never reuse the connection
            self._pool.release(self._connection)


class _Bar:
    """A progress bar of the customers written, on stderr when it is a terminal; silent otherwise."""

    def __init__(self, enabled: bool, total: int, version: str) -> None:
        self._bar: Any = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn(f"writing features {version} to Redis"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._bar.add_task("", total=total)

    def __enter__(self) -> _Bar:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, rows: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, rows)


# -- reading -------------------------------------------------------------------------------------------------
class OnlineFeatures:
    """The features of one version in Redis, read by customer id.

    ``OnlineFeatures("redis://127.0.0.1:6379/0", version).rows(["C000042"])`` gives ``[{"recency_days":
    12.5, ..., "last_items": ["I00032", ...]}]``, each value of the type written (ints, floats, text, booleans,
    None, lists, dates and timestamps as datetime objects), ``None`` for a customer without features. Opening
    reads the version's ``__meta__`` and ``__schema__`` once (an error where the write is missing or
    incomplete); each :meth:`rows` is then one round trip. Safe to share between threads (a connection pool).
    """

    def __init__(self, url: str, version: str, *, timeout_s: float = READ_TIMEOUT_S) -> None:
        if not isinstance(version, str) or not version or ":" in version:
            raise ConfigError(f"feature version {version!r} is not one; expected the text features_version() gives.")
        self.version = version
        self.where = shown_url(url)
        self._url = url
        self._prefix = f"{KEY_PREFIX}:{version}:"
        self._client = _connect(url, timeout_s)
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.hgetall(self._prefix + META)
            pipe.hgetall(self._prefix + SCHEMA)
            meta, schema = pipe.execute()
        except Exception as err:
            self.close()
            raise self._error(err) from None
        if not meta:
            self.close()
            begun = " (a write of it began but did not finish)" if schema else ""
            raise DataError(
                f"no features of version {version} in Redis at {self.where}{begun}; write them with "
                f"needmap features ... --to {self.where}"
            )
        # Each hash read as one text (fields and values joined by a character that JSON text never holds
        # raw): one value to parse per customer instead of two per column, about 40% faster in pure Python.
        self._joined: Any = self._client.register_script(_JOINED)
        try:
            columns = json.loads(meta[b"columns"])
            self._columns = [
                (name, name.encode("utf-8"), _decoder(schema[name.encode("utf-8")].decode())) for name in columns
            ]
        except (KeyError, ValueError) as err:
            self.close()
            raise DataError(
                f"the features of version {version} in Redis at {self.where} have no readable column types "
                f"({err}); expected them written by needmap features ... --to {self.where}"
            ) from None
        self.columns = tuple(name for name, _, _ in self._columns)

    def rows(self, customer_ids: Sequence[Any]) -> list[dict[str, Any] | None]:
        """Each customer's features as a dict (the columns in the table's order), None for a customer absent;
        one round trip for all of them."""
        import redis

        if isinstance(customer_ids, str | bytes) or not isinstance(customer_ids, Iterable):
            raise ConfigError(f"rows() got {customer_ids!r}; expected a list of customer ids, e.g. rows([id]).")
        texts = [_id_text(v) for v in customer_ids]
        keys = [self._prefix + text for text in texts if text not in (SCHEMA, META)]
        found: list[Any] = []
        try:
            if keys and self._joined is not None:
                try:
                    found = [dict(_pairs(raw)) for raw in self._joined(keys=keys)]
                except redis.ResponseError:  # a server that runs no scripts: hashes as they are, from now on
                    self._joined = None
            if keys and self._joined is None:
                pipe = self._client.pipeline(transaction=False)
                for key in keys:
                    pipe.hgetall(key)
                found = pipe.execute()
        except redis.RedisError as err:
            raise self._error(err) from None
        rows = iter(found)
        return [None if text in (SCHEMA, META) else self._row(next(rows)) for text in texts]

    def _row(self, raw: Mapping[bytes, bytes]) -> dict[str, Any] | None:
        if not raw:
            return None
        return {name: decode(raw.get(key, b"null")) for name, key, decode in self._columns}

    def meta(self) -> dict[str, Any]:
        """The version's ``__meta__`` as written by the last complete write: version, rows, cutoff, written_at,
        columns, customer_column, ttl_days (None: no time-to-live). Read anew at each call."""
        try:
            found = self._client.hgetall(self._prefix + META)
        except Exception as err:
            raise self._error(err) from None
        if not found:
            raise DataError(
                f"no features of version {self.version} in Redis at {self.where} any more; write them with "
                f"needmap features ... --to {self.where}"
            )
        meta = {k.decode(): v.decode() for k, v in found.items()}
        ttl = meta.get("ttl_days", "")
        return {
            **meta,
            "rows": int(meta.get("rows", 0)),
            "columns": json.loads(meta.get("columns", "[]")),
            "ttl_days": int(ttl) if ttl else None,
        }

    def _error(self, err: Exception) -> Exception:
        import redis

        return _server_error(err, self._url) if isinstance(err, redis.RedisError) else err

    def close(self) -> None:
        """Close the connections to the server."""
        self._client.close()

    def __enter__(self) -> OnlineFeatures:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The hashes of KEYS, each as its fields and values joined by the unit separator (an empty text: no hash).
_JOINED = """
local joined = {}
for i, key in ipairs(KEYS) do
  joined[i] = table.concat(redis.call('HGETALL', key), '\\31')
end
return joined
"""
_SEPARATOR = b"\x1f"


def _pairs(raw: bytes) -> Iterable[tuple[bytes, bytes]]:
    if not raw:
        return ()
    parts = raw.split(_SEPARATOR)
    return zip(parts[0::2], parts[1::2], strict=True)


def _decoder(kind: str) -> Callable[[bytes], Any]:
    """How a value written as JSON text reads back as a value of the Arrow type ``kind`` (as text)."""
    if kind.startswith("int") or kind.startswith("uint"):
        return lambda raw: None if raw == b"null" else int(raw)
    if kind == "double":
        return lambda raw: None if raw == b"null" else float(raw)
    if kind in ("string", "bool", "null"):
        return json.loads
    convert = _converter(kind)
    return lambda raw: None if raw == b"null" else convert(json.loads(raw))


def _converter(kind: str) -> Callable[[Any], Any]:
    """How a value parsed from JSON becomes a value of the Arrow type ``kind``."""
    if kind.startswith("list<"):
        item = _converter(kind[len("list<") : -1].split(": ", 1)[1])
        return lambda values: [None if v is None else item(v) for v in values]
    if kind.startswith("int") or kind.startswith("uint"):
        return int
    if kind == "double":
        return float
    if kind.startswith("timestamp"):
        return datetime.fromisoformat
    if kind.startswith("date"):
        return date.fromisoformat
    if kind.startswith("time"):
        return day_time.fromisoformat
    if kind.startswith("decimal"):
        return Decimal
    return lambda value: value
