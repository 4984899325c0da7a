"""Interactions: who touched which item when, read from the same logs as ``needmap features``.

A log (a file, a frame, an Arrow table or a DuckDB query) is read through DuckDB; the customers and items
become dense indices (``customer_ids[i]`` and ``item_ids[j]`` keep the values exactly as they were in the
log, type included), and the events are kept sorted by customer, then time, then their place in the log,
so that each customer's history is one slice in time order.

Implicit feedback: every event of the log is a positive unless ``positive_events`` names the values of the
``event`` column that count (``purchase``, ``cart``). A row without a customer, an item or a readable time
is bad: counted by reason and reported, never dropped silently.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.errors import ConfigError, DataError

BAD_REASONS = ("missing customer", "missing item", "missing time", "unparseable time")


@dataclass
class Interactions:
    """The positive events of a log as dense indices, sorted by customer, time and place in the log.

    Attributes:
        customer_ids: the distinct customers, as in the log (index ``i`` is ``customer_ids[i]``).
        item_ids: the distinct items, as in the log.
        customer: per event, the customer's index (int32, non-decreasing).
        item: per event, the item's index (int32).
        time: per event, microseconds since 1970-01-01 UTC (int64); all zero for a log without times.
        bad_rows: rows left out, by reason.
        source: what was read, for messages.
    """

    customer_ids: pa.Array
    item_ids: pa.Array
    customer: np.ndarray
    item: np.ndarray
    time: np.ndarray
    bad_rows: dict[str, int] = field(default_factory=dict)
    source: str = "interactions"

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.item)

    def starts(self) -> np.ndarray:
        """``starts[i]:starts[i + 1]`` are customer ``i``'s events (length ``n_customers + 1``)."""
        return np.searchsorted(self.customer, np.arange(self.n_customers + 1)).astype(np.int64)

    def matrix(self) -> Any:
        """The customer x item matrix of the events (scipy CSR, float32, 1 where a customer touched an item)."""
        import scipy.sparse as sp

        ones = np.ones(len(self.item), dtype=np.float32)
        shape = (self.n_customers, self.n_items)
        matrix = sp.csr_matrix((ones, (self.customer, self.item)), shape=shape, dtype=np.float32)
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix

    def popularity(self) -> np.ndarray:
        """Distinct customers per item (float64)."""
        pairs = np.unique(self.customer.astype(np.int64) * self.n_items + self.item)
        return np.bincount(pairs % self.n_items, minlength=self.n_items).astype(np.float64)

    def subset(self, keep: np.ndarray) -> Interactions:
        """The events where ``keep`` is true, with the same customer and item indices."""
        return Interactions(
            self.customer_ids,
            self.item_ids,
            self.customer[keep],
            self.item[keep],
            self.time[keep],
            dict(self.bad_rows),
            self.source,
        )


def ids_like(values: pa.Array, ids: pa.Array) -> pa.Array | None:
    """``values`` read as ids of the type of ``ids`` (as they are when already of it); None when they cannot be
    read so (text that is no number for numeric ids): the caller says what was expected."""
    import pyarrow.compute as pc

    if values.type == ids.type:
        return values
    try:
        return pc.cast(values, ids.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def from_arrays(
    customer: Sequence[Any] | np.ndarray,
    item: Sequence[Any] | np.ndarray,
    time: Sequence[Any] | np.ndarray | None = None,
    *,
    source: str = "interactions",
) -> Interactions:
    """Interactions from parallel sequences (ids of any type; times as numbers or datetime64)."""
    table = {"customer": pa.array(customer), "item": pa.array(item)}
    if time is not None:
        values = np.asarray(time)
        if np.issubdtype(values.dtype, np.datetime64):
            values = values.astype("datetime64[us]").astype(np.int64)
        table["time"] = pa.array(np.asarray(values, dtype=np.int64))
    return _indexed(pa.table(table), {}, source)


def read_interactions(
    source: Any = None,
    *,
    customer: str,
    item: str,
    time: str | None = None,
    event: str | None = None,
    positive_events: Sequence[str] = (),
    sql: str | None = None,
    memory_limit: str | None = None,
) -> Interactions:
    """The positive events of a log (see the module's docstring).

    Args:
        source: a CSV / Parquet / JSON-lines file, a pandas or polars frame, a pyarrow Table, or a DuckDB
            connection with ``sql``.
        customer, item: the columns naming the customer and the item.
        time: the column of the event's time; without it, the log's order is the time order.
        event: the event type column; ``positive_events``: its values that count (empty: every event).
        sql: a DuckDB query giving the log.
        memory_limit: DuckDB's memory.
    """
    from needmap.events.bad_rows import columns_of, time_expression
    from needmap.events.source import connect, literal, quote, register

    if positive_events and not event:
        raise ConfigError("positive events were named but no event column; expected --event COLUMN with them.")
    con, spill = connect(memory_limit)
    try:
        label = register(con, source, sql, customer)
        columns = columns_of(con)
        for role, name in (("customer", customer), ("item", item), ("time", time), ("event", event)):
            if name is not None and name not in columns:
                import difflib

                close = difflib.get_close_matches(name, list(columns), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"{label}: the {role} column {name!r} is not in the log; expected one of "
                    f"{', '.join(columns)}.{hint}"
                )
        ts = time_expression(time, columns[time], label) if time else "CAST(NULL AS TIMESTAMP)"
        time_null = f"{quote(time)} IS NULL" if time else "false"
        if time and columns[time].upper() == "VARCHAR":
            time_null += f" OR trim({quote(time)}) = ''"
        unreadable = "ts IS NULL" if time else "false"
        keep = "true"
        if positive_events:
            chosen = ", ".join(literal(str(v)) for v in positive_events)
            keep = f"coalesce(CAST({quote(event)} AS VARCHAR) IN ({chosen}), false)"
        # preserve_insertion_order (set by connect) keeps the log's order through this scan and filter
        query = f"""
            SELECT cust, itm, ts, reason FROM (
                SELECT cust, itm, ts,
                       CASE WHEN cust IS NULL THEN 'missing customer' WHEN itm IS NULL THEN 'missing item'
                            WHEN time_null THEN 'missing time' WHEN {unreadable} THEN 'unparseable time' END
                           AS reason
                FROM (SELECT {quote(customer)} AS cust, {quote(item)} AS itm, {ts} AS ts, ({time_null}) AS time_null,
                             {keep} AS positive FROM raw_log)
                WHERE positive)
        """
        import duckdb

        try:
            found = con.sql(query).to_arrow_table()
        except duckdb.Error as err:
            from needmap.events.source import duckdb_message

            raise DataError(f"{label}: DuckDB could not read the events: {duckdb_message(err)}") from None
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    import pyarrow.compute as pc

    reasons = found.column("reason")
    bad = {}
    for reason in BAD_REASONS:
        count = pc.sum(pc.equal(reasons, reason)).as_py() or 0
        if count:
            bad[reason] = int(count)
    good = found.filter(pc.is_null(reasons))
    times = good.column("ts")
    if time:
        micros = pc.cast(times, pa.timestamp("us")).cast(pa.int64())
    else:
        micros = pa.array(np.zeros(good.num_rows, dtype=np.int64))
    table = pa.table({"customer": good.column("cust"), "item": good.column("itm"), "time": micros})
    if table.num_rows == 0:
        raise DataError(
            f"{label}: no positive event to learn from"
            + (f" (positive events {list(positive_events)} of column {event!r})" if positive_events else "")
            + (f"; bad rows left out: {bad}" if bad else "")
            + "; expected rows with a customer, an item and a time."
        )
    return _indexed(table, bad, label)


def _indexed(table: pa.Table, bad: dict[str, int], source: str) -> Interactions:
    """Dense indices for a table of customer, item and (optional) time; events sorted by customer and time."""
    import pyarrow.compute as pc

    customer = table.column("customer").combine_chunks()
    item = table.column("item").combine_chunks()
    if customer.null_count or item.null_count:
        raise DataError(f"{source}: a customer or an item is missing; expected every event to name both.")
    customer_ids = pc.unique(customer)
    item_ids = pc.unique(item)
    cust_index = pc.index_in(customer, value_set=customer_ids).to_numpy().astype(np.int32)
    item_index = pc.index_in(item, value_set=item_ids).to_numpy().astype(np.int32)
    if "time" in table.column_names:
        times = table.column("time").to_numpy().astype(np.int64)
    else:
        times = np.zeros(len(cust_index), dtype=np.int64)
    order = np.lexsort((np.arange(len(cust_index)), times, cust_index))
    return Interactions(customer_ids, item_ids, cust_index[order], item_index[order], times[order], bad, source)
