"""The SQL of one cutoff: features from events strictly before it, labels from the horizon after it.

Run against the table ``events`` of :mod:`needmap.events.bad_rows`. Every column's meaning is in
docs/events.md; the names are built here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from needmap.events.source import literal, quote
from needmap.events.table_info import (
    BTYD_AGE,
    BTYD_FREQUENCY,
    BTYD_MONETARY,
    BTYD_RECENCY,
    CUTOFF_COLUMN,
    LABEL_BOUGHT,
    LABEL_PURCHASES,
    LABEL_SPEND,
)

SEQUENCE_COLUMN = "last_items"
MULTIHOT_COLUMN = "categories"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MS_PER_DAY = 86_400_000


def slug(value: str) -> str:
    """``value`` as part of a column name: lower case, runs of other characters than letters and digits as '_'."""
    return re.sub(r"[^0-9a-z]+", "_", value.lower()).strip("_") or "value"


def slugs(values: Sequence[str]) -> list[str]:
    """Distinct slugs of ``values`` in order (a repeated slug gets ``_2``, ``_3``, ...)."""
    out: list[str] = []
    for value in values:
        base, name, k = slug(value), slug(value), 1
        while name in out:
            k += 1
            name = f"{base}_{k}"
        out.append(name)
    return out


@dataclass(frozen=True)
class Layout:
    """What the columns of a feature table depend on beyond the spec: the event types and categories chosen."""

    windows: tuple[int, ...]
    event_types: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_amount: bool = False
    has_item: bool = False
    has_category: bool = False
    last_items: int = 20


def _ts(value: datetime) -> str:
    return f"TIMESTAMP {literal(value.isoformat(sep=' '))}"


@dataclass(frozen=True)
class CutoffQuery:
    """The queries of one cutoff: ``steps`` (name, SELECT), each made a temporary table in turn (``ev``, the
    events before the cutoff, a view), then ``final``, the row per customer sorted by customer."""

    steps: list[tuple[str, str]]
    final: str

    def run(self, con: Any) -> Any:
        """The cutoff's rows as an Arrow table; the temporary tables dropped after."""
        try:
            for name, select in self.steps:
                kind = "VIEW" if name == "ev" else "TABLE"
                con.execute(f"CREATE OR REPLACE TEMP {kind} {name} AS {select}")
            return con.sql(self.final).to_arrow_table()
        finally:
            for name, _ in reversed(self.steps):
                con.execute(f"DROP {'VIEW' if name == 'ev' else 'TABLE'} IF EXISTS {name}")


def feature_query(layout: Layout, cutoff: datetime, customer: str, horizon_days: int | None) -> CutoffQuery:
    """The queries of a row per customer with a good event before ``cutoff``, sorted by customer.

    Each step is materialized before the next (one query joining them all was many times slower on a
    log of millions of events), and each is a plain grouping or window that DuckDB can spill to disk (no DISTINCT
    aggregate): purchase occasions are grouped first and counted per window by the time of their first line;
    the last items are ranked by a window (sorted out of core; ``max_by(item, key, n)`` ran out of memory
    where the window spilled). Means and standard deviations are computed from exact integer and decimal
    sums (milliseconds between occasions, seconds of the day), so the table is the same whatever order
    DuckDB's threads add in."""
    c = _ts(cutoff)
    money = layout.has_amount
    agg: list[str] = [
        "min(ts) AS first_ts",
        "max(ts) AS last_ts",
        "max(ts) FILTER (is_purchase) AS last_purchase_ts",
        "count(*) AS n_events",
        "coalesce(sum(amount) FILTER (is_purchase OR is_return), 0) AS net_spend",
        "count(*) FILTER (is_return) AS n_returns",
        "coalesce(-sum(amount) FILTER (is_return), 0) AS returned",
        "sum(hour(ts) * 3600 + minute(ts) * 60 + second(ts)) / count(*) / 3600.0 AS hour_mean",
    ]
    occ_agg: list[str] = [
        "count(*) AS n",
        f"CASE WHEN count(gap) > 0 THEN sum(gap) / count(gap) / {MS_PER_DAY} END AS ipi_mean",
        "CASE WHEN count(gap) > 0 THEN sqrt(greatest(CAST(count(gap) * sum(CAST(gap AS HUGEINT) * gap) "
        f"- CAST(sum(gap) AS HUGEINT) * sum(gap) AS DOUBLE), 0)) / count(gap) / {MS_PER_DAY} END AS ipi_std",
        "avg(lines) AS basket",
        "avg(value) AS order_value",
    ]
    out: list[str] = [
        f"{c} AS {quote(CUTOFF_COLUMN)}",
        f"a.cust AS {quote(customer)}",
        f"(epoch({c}) - epoch(a.last_ts)) / 86400.0 AS recency_days",
        f"(epoch({c}) - epoch(a.last_purchase_ts)) / 86400.0 AS recency_purchase_days",
        f"(epoch({c}) - epoch(a.first_ts)) / 86400.0 AS tenure_days",
        "a.n_events AS events",
        "coalesce(o.n, 0) AS purchases",
    ]
    if money:
        out.append("CAST(a.net_spend AS DOUBLE) AS spend")
    for w in layout.windows:
        since = f"{c} - INTERVAL {int(w)} DAY"
        occ_agg.append(f"count(*) FILTER (t >= {since}) AS p_{w}")
        agg.append(f"coalesce(sum(amount) FILTER ((is_purchase OR is_return) AND ts >= {since}), 0) AS s_{w}")
        out.append(f"coalesce(o.p_{w}, 0) AS purchases_{w}d")
        if money:
            out.append(f"CAST(a.s_{w} AS DOUBLE) AS spend_{w}d")
    for k, (value, name) in enumerate(zip(layout.event_types, slugs(layout.event_types), strict=True)):
        agg.append(f"count(*) FILTER (etype = {literal(value)}) AS e_{k}")
        agg.append(f"coalesce(sum(amount) FILTER (etype = {literal(value)}), 0) AS ea_{k}")
        out.append(f"a.e_{k} AS events_{name}")
        if money:
            out.append(f"CAST(a.ea_{k} AS DOUBLE) AS amount_{name}")
    for k, (value, name) in enumerate(zip(layout.categories, slugs(layout.categories), strict=True)):
        agg.append(f"count(*) FILTER (cat = {literal(value)}) AS c_{k}")
        agg.append(f"coalesce(sum(amount) FILTER (cat = {literal(value)}), 0) AS ca_{k}")
        out.append(f"a.c_{k} AS category_{name}_events")
        if money:
            out.append(f"CAST(a.ca_{k} AS DOUBLE) AS category_{name}_amount")
    out += ["o.ipi_mean AS ipi_mean_days", "o.ipi_std AS ipi_std_days", "o.basket AS basket_lines_mean"]
    if money:
        out.append("CAST(o.order_value AS DOUBLE) AS order_value_mean")
    small, large = min(layout.windows), max(layout.windows)
    out.append(f"CASE WHEN o.p_{large} > 0 THEN o.p_{small} / o.p_{large} END AS trend")
    for day, name in enumerate(DAYS, start=1):
        agg.append(f"count(*) FILTER (isodow(ts) = {day}) / count(*) AS d_{day}")
        out.append(f"a.d_{day} AS dow_{name}_share")
    out += ["a.hour_mean AS hour_mean", "a.n_returns AS returns"]
    if money:
        out.append("CAST(a.returned AS DOUBLE) AS returned_amount")
    out += [
        f"coalesce(b.f, 0) AS {BTYD_FREQUENCY}",
        f"coalesce(b.r, 0) AS {BTYD_RECENCY}",
        f"date_diff('day', b.first_day, CAST({c} AS DATE)) AS {BTYD_AGE}",
        f"CAST(coalesce(b.m, 0) AS DOUBLE) AS {BTYD_MONETARY}",
    ]
    if layout.has_item:
        out.append(f"coalesce(i.seq, CAST([] AS VARCHAR[])) AS {SEQUENCE_COLUMN}")
    if layout.has_category:
        out.append(f"coalesce(k.cats, CAST([] AS VARCHAR[])) AS {MULTIHOT_COLUMN}")
    joins = ["LEFT JOIN occ_stats o USING (cust)", "LEFT JOIN btyd b USING (cust)"]
    ctes = [
        f"ev AS (SELECT * FROM events WHERE ts < {c})",
        f"agg AS (SELECT cust, {', '.join(agg)} FROM ev GROUP BY cust)",
        "occs AS (SELECT cust, occ, min(ts) AS t, count(*) AS lines, sum(amount) AS value "
        "FROM ev WHERE is_purchase GROUP BY cust, occ)",
        "gaps AS (SELECT *, epoch_ms(t) - epoch_ms(lag(t) OVER (PARTITION BY cust ORDER BY t, occ)) AS gap FROM occs)",
        f"occ_stats AS (SELECT cust, {', '.join(occ_agg)} FROM gaps GROUP BY cust)",
        "days AS (SELECT cust, CAST(ts AS DATE) AS d, coalesce(sum(amount), 0) AS value "
        "FROM ev WHERE is_purchase GROUP BY cust, CAST(ts AS DATE))",
        "btyd AS (SELECT cust, count(*) - 1 AS f, date_diff('day', min(d), max(d)) AS r, min(d) AS first_day, "
        "CASE WHEN count(*) > 1 THEN (sum(value) - arg_min(value, d)) / (count(*) - 1) END AS m "
        "FROM days GROUP BY cust)",
    ]
    if layout.has_item:
        ctes.append(
            "items AS (SELECT cust, list(item ORDER BY ts, rid) AS seq FROM (SELECT cust, item, ts, rid FROM ev "
            "WHERE item IS NOT NULL AND NOT is_return QUALIFY row_number() OVER (PARTITION BY cust "
            f"ORDER BY ts DESC, rid DESC) <= {int(layout.last_items)}) GROUP BY cust)"
        )
        joins.append("LEFT JOIN items i USING (cust)")
    if layout.has_category:
        top = "[" + ", ".join(literal(v) for v in layout.categories) + "]::VARCHAR[]"
        ctes.append(
            f"cats AS (SELECT cust, list(cat ORDER BY list_position({top}, cat)) AS cats FROM "
            f"(SELECT cust, cat FROM ev WHERE list_contains({top}, cat) GROUP BY cust, cat) GROUP BY cust)"
        )
        joins.append("LEFT JOIN cats k USING (cust)")
    if horizon_days is not None:
        during = f"ts >= {c} AND ts < {c} + INTERVAL {int(horizon_days)} DAY"
        ctes.append(
            "lab AS (SELECT cust, greatest(coalesce(sum(amount) FILTER (is_purchase OR is_return), 0), 0) AS s "
            f"FROM events WHERE {during} GROUP BY cust)"
        )
        ctes.append(
            "lab_occ AS (SELECT cust, count(*) AS n FROM "
            f"(SELECT cust, occ FROM events WHERE is_purchase AND {during} GROUP BY cust, occ) GROUP BY cust)"
        )
        joins.append("LEFT JOIN lab l USING (cust)")
        joins.append("LEFT JOIN lab_occ lo USING (cust)")
        out += [
            f"CAST(coalesce(lo.n, 0) > 0 AS BIGINT) AS {LABEL_BOUGHT}",
            f"coalesce(lo.n, 0) AS {LABEL_PURCHASES}",
            f"CAST({'coalesce(l.s, 0)' if money else '0'} AS DOUBLE) AS {LABEL_SPEND}",
        ]
    steps = []
    for text in ctes:
        name, body = text.split(" AS (", 1)
        steps.append((name, body[:-1]))
    return CutoffQuery(steps, f"SELECT {', '.join(out)} FROM agg a {' '.join(joins)} ORDER BY a.cust")
