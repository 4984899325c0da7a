"""``build_features``: a behaviour log becomes one row per customer and cutoff, strictly point in time.

The log is read by an embedded DuckDB (:mod:`needmap.events.source`), its bad rows counted
(:mod:`needmap.events.bad_rows`), and each cutoff's features and labels computed by a few queries, each
materialized before the next (:mod:`needmap.events.sql`). The boundary
(:data:`needmap.events.table_info.BOUNDARY`): features of a row use only events with time < cutoff; labels
use events with cutoff <= time < cutoff + horizon.
"""

from __future__ import annotations

import shutil
import sys
import time as clock
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa

from needmap.errors import ConfigError, DataError
from needmap.events.bad_rows import stage
from needmap.events.durations import expand_cutoffs, iso
from needmap.events.source import connect, duckdb_message, register
from needmap.events.sql import MULTIHOT_COLUMN, SEQUENCE_COLUMN, CutoffQuery, Layout, feature_query
from needmap.events.table_info import LABELS, EventSpec, FeatureTableInfo, with_info

#: At most this many event types get columns of their own (the most frequent before the first cutoff).
MAX_EVENT_TYPES = 50


def build_features(
    source: Any,
    spec: EventSpec,
    as_of: Sequence[date | datetime | str] | date | datetime | str,
    *,
    labels: bool = True,
    like: FeatureTableInfo | None = None,
    progress: bool = False,
    memory_limit: str | None = None,
    sql: str | None = None,
) -> pa.Table:
    """One row per customer with a good event before each cutoff, the cutoffs stacked.

    Args:
        source: a CSV / Parquet / JSON-lines path, a pandas or polars frame, a pyarrow Table, or (with
            ``sql``) None or a DuckDB connection.
        spec: the columns and feature options (:class:`EventSpec`).
        as_of: the cutoffs (dates, datetimes, ISO text, or ``START..END/1m`` ranges).
        labels: add the label columns (outcomes in the horizon); a cutoff whose horizon passes the log's
            last event is then an error (its labels would be censored).
        like: the description of an earlier table: the same event types and categories, so the columns
            are identical and a model trained on that table scores this one.
        progress: print one line per cutoff to stderr.
        memory_limit: DuckDB's memory limit (default 1GB); beyond it DuckDB spills to a temporary directory.
        sql: a DuckDB query giving the log.

    Returns:
        The table sorted by cutoff then customer, with its :class:`FeatureTableInfo` in the schema metadata.
    """
    cutoffs = expand_cutoffs(as_of)
    _check_spec(spec, like)
    import duckdb

    con, spill = connect(memory_limit)
    label = "the event log"
    try:
        label = register(con, source, sql, spec.customer)
        bad = stage(con, spec, spec.order, label)
        first, last, n_events = con.execute("SELECT min(ts), max(ts), count(*) FROM events").fetchall()[0]
        if not n_events:
            raise DataError(f"{label}: no good event in the log (bad rows: {_bad_text(bad)}); expected some.")
        horizon = spec.horizon_days if labels else None
        if horizon is not None:
            _check_censoring(cutoffs, horizon, last, label)
        layout = _layout(con, spec, cutoffs[0], like)
        parts = []
        for cutoff in cutoffs:
            started = clock.perf_counter()
            part = _run(feature_query(layout, cutoff, spec.customer, horizon), con, cutoff, label)
            parts.append(part)
            if progress:
                print(
                    f"cutoff {iso(cutoff)}: {part.num_rows:,} customers ({clock.perf_counter() - started:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    except duckdb.Error as err:  # what the steps above do not name themselves (running out of memory, above all)
        raise DataError(f"{label}: DuckDB could not read the events: {duckdb_message(err)}") from None
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    table = pa.concat_tables(parts)
    _check_names(table.column_names, spec.customer)
    extra = {
        "event_types": list(layout.event_types),
        "categories": list(layout.categories),
        "list_columns": _list_columns(layout),
        "log_first_time": first.isoformat(sep=" "),
        "log_last_time": last.isoformat(sep=" "),
        "good_events": int(n_events),
        "source": label,
    }
    info = FeatureTableInfo(
        spec=spec,
        as_of=tuple(iso(c) for c in cutoffs),
        labels=LABELS if labels else (),
        bad_rows=bad,
        extra=extra,
    )
    return with_info(table, info)


def _run(query: CutoffQuery, con: Any, cutoff: datetime, label: str) -> pa.Table:
    """The rows of one cutoff; DuckDB's failure (out of memory, above all) as a DataError naming the cutoff."""
    import duckdb

    try:
        return query.run(con)
    except duckdb.Error as err:
        raise DataError(
            f"{label}: DuckDB could not compute the features of cutoff {iso(cutoff)}: {duckdb_message(err)}"
        ) from None


def _check_spec(spec: EventSpec, like: FeatureTableInfo | None) -> None:
    if spec.purchase_events and not spec.event:
        raise ConfigError("purchase events are given but no event column; expected event= naming the event type.")
    if spec.top_categories < 0 or spec.last_items < 1:
        raise ConfigError(
            f"top_categories is {spec.top_categories} and last_items {spec.last_items}; expected at least 0 and 1."
        )
    if not spec.windows or min(spec.windows) < 1:
        raise ConfigError(f"windows are {list(spec.windows)}; expected days of at least 1, e.g. 7,30,90,365.")
    if like is None:
        return
    mine, theirs = _shape(spec), _shape(like.spec)
    for key, value in mine.items():
        if theirs[key] != value:
            raise ConfigError(
                f"like= describes a table built with {key} {theirs[key]!r}, this build has {value!r}; expected the "
                "same, so that the columns are identical."
            )


def _shape(spec: EventSpec) -> dict[str, Any]:
    """What of a spec decides the columns."""
    return {
        "windows": list(spec.windows),
        "last_items": spec.last_items,
        "an item column": spec.item is not None,
        "an event column": spec.event is not None,
        "an amount": spec.amount is not None,
        "a category column": spec.category is not None,
        "customer column": spec.customer,
    }


def _check_names(names: list[str], customer: str) -> None:
    """Every column name once: a customer column named like a feature column would make two columns."""
    if names.count(customer) > 1:
        raise ConfigError(
            f"the customer column {customer!r} has the name of a feature column; expected another name "
            f'(rename it in the log, or with sql=, e.g. SELECT *, "{customer}" AS customer_id FROM ...).'
        )


def _check_censoring(cutoffs: Sequence[datetime], horizon: int, last: datetime, label: str) -> None:
    for cutoff in cutoffs:
        end = cutoff + timedelta(days=horizon)
        if end > last:
            raise DataError(
                f"{label}: cutoff {iso(cutoff)} with a horizon of {horizon} days needs events up to {iso(end)}, "
                f"but the log's last event is at {last.isoformat(sep=' ')}: its labels would be censored. Expected "
                f"a cutoff on or before {iso(last - timedelta(days=horizon))}, or no labels "
                "(labels=False, --no-labels)."
            )


def _layout(con: Any, spec: EventSpec, first_cutoff: datetime, like: FeatureTableInfo | None) -> Layout:
    """The event types and categories that get columns: those of ``like``, else the most frequent before the
    first cutoff (ties by value)."""
    if like is not None:
        types = tuple(like.extra.get("event_types", ()))
        cats = tuple(like.extra.get("categories", ()))
    else:
        before = f"ts < TIMESTAMP '{first_cutoff.isoformat(sep=' ')}'"
        types = cats = ()
        if spec.event:
            types = _most_frequent(con, "etype", before, MAX_EVENT_TYPES)
        if spec.category and spec.top_categories:
            cats = _most_frequent(con, "cat", before, spec.top_categories)
    return Layout(
        windows=tuple(spec.windows),
        event_types=types,
        categories=cats,
        has_amount=spec.amount is not None,
        has_item=spec.item is not None,
        has_category=spec.category is not None,
        last_items=spec.last_items,
    )


def _most_frequent(con: Any, column: str, where: str, limit: int) -> tuple[str, ...]:
    rows = con.execute(
        f"SELECT {column} FROM events WHERE {where} AND {column} IS NOT NULL GROUP BY {column} "
        f"ORDER BY count(*) DESC, {column} LIMIT {int(limit)}"
    ).fetchall()
    return tuple(str(r[0]) for r in rows)


def _list_columns(layout: Layout) -> dict[str, str]:
    """The list columns and the role needmap's schema inference gives them."""
    found = {}
    if layout.has_item:
        found[SEQUENCE_COLUMN] = "sequence"
    if layout.has_category:
        found[MULTIHOT_COLUMN] = "multihot"
    return found


def _bad_text(bad: dict[str, int]) -> str:
    return ", ".join(f"{reason} {count:,}" for reason, count in bad.items()) or "none"
