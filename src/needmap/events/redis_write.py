"""Writing online features: a feature table of one cutoff into Redis, one hash per customer, under the version
of its definitions (the key layout and encoding: :mod:`needmap.events.redis_features`). The schema hash goes
first and the meta hash last, so a reader never takes a write that did not finish."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from datetime import time as day_time
from decimal import Decimal
from typing import Any

from needmap.errors import ConfigError, DataError
from needmap.events.durations import parse_days
from needmap.events.redis_features import KEY_PREFIX, META, SCHEMA, _connect, _server_error, features_version, shown_url
from needmap.events.table_info import FeatureTableInfo

#: Customers sent in one pipelined batch (one round trip), and rows encoded at once.
BATCH_ROWS = 1000
BLOCK_ROWS = 20_000
#: A write of at least this many customers shows a progress bar (on a terminal).
PROGRESS_ROWS = 10_000
#: Seconds to wait for the server's reply to a batch.
WRITE_TIMEOUT_S = 60.0


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
