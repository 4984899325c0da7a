"""``needmap.features``: the keyword face of :func:`needmap.events.build.build_features`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from needmap.events.durations import parse_days, parse_windows
from needmap.events.table_info import EventSpec, FeatureTableInfo


def features(
    source: Any = None,
    *,
    customer: str,
    time: str,
    as_of: Sequence[date | datetime | str] | date | datetime | str,
    sql: str | None = None,
    like: FeatureTableInfo | pa.Table | None = None,
    progress: bool = False,
    **options: Any,
) -> pa.Table:
    """A feature table from an event log: one row per customer and cutoff (see docs/events.md).

    Args:
        source: the log: a CSV / Parquet / JSON-lines file, a pandas or polars frame, a pyarrow Table, or a
            DuckDB connection with ``sql``.
        customer: the column naming the customer (its values come out exactly as they went in).
        time: the column of each event's time (a timestamp, a date, ISO text or seconds since 1970).
        as_of: the cutoffs: a date, ISO text, a monthly range ``"2011-01-01..2011-09-01/1m"``, or several.
        sql: a DuckDB query giving the log.
        like: an earlier feature table (or its :class:`FeatureTableInfo`) whose event types and categories are
            reused, so that the columns are identical.
        progress: show each cutoff's progress.
        **options: the :class:`needmap.events.options.FeatureOptions`: ``item``, ``event``,
            ``purchase_events``, ``amount``, ``category``, ``order``, ``horizon`` (days as an int, ``"90d"`` or
            ``"12w"``), ``windows``, ``top_categories``, ``last_items``, ``labels``, ``memory_limit``; an
            unknown name is an error naming the closest one.
    """
    from needmap.events.build import build_features
    from needmap.events.options import FeatureOptions
    from needmap.events.table_info import info_of

    chosen = FeatureOptions.from_dict(options)
    assert isinstance(chosen, FeatureOptions)
    spec = EventSpec(
        customer=customer,
        time=time,
        item=chosen.item,
        event=chosen.event,
        amount=chosen.amount,
        category=chosen.category,
        order=chosen.order,
        purchase_events=tuple(chosen.purchase_events),
        windows=parse_windows(chosen.windows),
        horizon_days=parse_days(chosen.horizon, "horizon"),
        top_categories=chosen.top_categories,
        last_items=chosen.last_items,
    )
    if isinstance(like, pa.Table):
        found = info_of(like)
        if found is None:
            from needmap.errors import ConfigError

            raise ConfigError("like= is a table without a feature description; expected a table built by features().")
        like = found
    return build_features(
        source,
        spec,
        as_of,
        labels=chosen.labels,
        like=like,
        progress=progress,
        memory_limit=chosen.memory_limit,
        sql=sql,
    )
