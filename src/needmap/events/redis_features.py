"""Online features: a feature table of one cutoff in Redis, one hash per customer, read back by customer id.

The feature-store pattern without a feature store: ``needmap features ... --to redis://HOST:PORT/DB`` (or
:func:`needmap.events.redis_write.write_online_features`) puts each customer's features where a service can read
them in one round trip (:class:`needmap.events.redis_read.OnlineFeatures`), so that a request carrying only a
customer id can be scored. This module holds what both sides share: the keys, the version of the definitions,
and the server's address and errors.

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
from collections.abc import Mapping
from numbers import Integral
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from needmap.errors import ConfigError, DataError
from needmap.events.table_info import EventSpec, FeatureTableInfo

#: Every key of the online features starts with this.
KEY_PREFIX = "needmap:features"
#: The hash of a version's column types, and the hash that marks its write complete.
SCHEMA = "__schema__"
META = "__meta__"
#: Seconds to wait for the server to connect (a reply's wait: the writer's and the reader's own).
CONNECT_TIMEOUT_S = 5.0
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
