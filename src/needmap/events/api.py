"""``needmap.features``: the keyword face of :func:`needmap.events.build.build_features`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from needmap.events import defaults
from needmap.events.durations import parse_days, parse_windows
from needmap.events.table_info import EventSpec, FeatureTableInfo


def features(
    source: Any = None,
    *,
    customer: str,
    time: str,
    as_of: Sequence[date | datetime | str] | date | datetime | str,
    item: str | None = None,
    event: str | None = None,
    amount: str | None = None,
    category: str | None = None,
    order: str | None = None,
    horizon: str | int = defaults.HORIZON_DAYS,
    windows: str | Sequence[str | int] = defaults.WINDOWS,
    purchase_events: Sequence[str] | str = (),
    top_categories: int = defaults.TOP_CATEGORIES,
    last_items: int = defaults.LAST_ITEMS,
    sql: str | None = None,
    labels: bool = True,
    like: FeatureTableInfo | pa.Table | None = None,
    progress: bool = False,
    memory_limit: str | None = None,
) -> pa.Table:
    """A feature table from an event log: one row per customer and cutoff (see docs/events.md).

    Durations (``horizon``, ``windows``) are days as an int, ``"90d"`` or ``"12w"``. ``like`` is an earlier
    feature table (or its :class:`FeatureTableInfo`) whose event types and categories are reused, so the
    columns are identical. The other arguments are those of :class:`EventSpec` and
    :func:`needmap.events.build.build_features`.
    """
    from needmap.events.build import build_features
    from needmap.events.table_info import info_of

    if isinstance(purchase_events, str):
        purchase_events = (purchase_events,)
    spec = EventSpec(
        customer=customer,
        time=time,
        item=item,
        event=event,
        amount=amount,
        category=category,
        order=order,
        purchase_events=tuple(str(v) for v in purchase_events),
        windows=parse_windows(windows),
        horizon_days=parse_days(horizon, "horizon"),
        top_categories=int(top_categories),
        last_items=int(last_items),
    )
    if isinstance(like, pa.Table):
        found = info_of(like)
        if found is None:
            from needmap.errors import ConfigError

            raise ConfigError("like= is a table without a feature description; expected a table built by features().")
        like = found
    return build_features(
        source, spec, as_of, labels=labels, like=like, progress=progress, memory_limit=memory_limit, sql=sql
    )
