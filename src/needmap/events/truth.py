"""The truth of a generated purchase log: each customer's true chance of buying and expected spend after a
cutoff, from the latent traits alone, and the labels that actually happened in the log (docs/generator.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.errors import ConfigError
from needmap.events.log_model import SECONDS_PER_DAY, Clock, LogOptions
from needmap.events.table_info import LABEL_BOUGHT, LABEL_PURCHASES, LABEL_SPEND


def window(opts: LogOptions, cutoff: Any, horizon_days: int) -> tuple[int, int]:
    """The window ``[cutoff, cutoff + horizon)`` in epoch seconds, checked to lie inside the log."""
    if not isinstance(horizon_days, (int, np.integer)) or isinstance(horizon_days, bool) or horizon_days < 1:
        raise ConfigError(f"horizon_days is {horizon_days!r}; expected a positive whole number of days.")
    try:
        at = np.datetime64(cutoff, "s") if not isinstance(cutoff, dt.date) else np.datetime64(cutoff).astype("M8[s]")
    except (ValueError, TypeError):
        raise ConfigError(f"cutoff is {cutoff!r}; expected a date or time in ISO form, such as '2021-01-01'.") from None
    start = np.datetime64(opts.start, "D").astype("datetime64[s]")
    lo = int(at.astype(np.int64))
    hi = lo + int(horizon_days) * SECONDS_PER_DAY
    end = int(start.astype(np.int64)) + opts.days * SECONDS_PER_DAY
    if lo <= int(start.astype(np.int64)) or hi > end:
        last = (start + np.timedelta64(opts.days - int(horizon_days), "D")).astype("datetime64[D]")
        raise ConfigError(
            f"cutoff {at} with a horizon of {horizon_days} days leaves the log ({opts.start} to "
            f"{(start + np.timedelta64(opts.days, 'D')).astype('datetime64[D]')}, end excluded); "
            f"expected a cutoff after {opts.start} and at most {last}."
        )
    return lo, hi


def true_outcomes(customers: pa.Table, options: LogOptions, cutoff: Any, horizon_days: int) -> pa.Table:
    """The true outcomes in ``[cutoff, cutoff + horizon)`` of each customer acquired before ``cutoff``.

    From the latent traits alone: ``alive`` (the customer had not left at the cutoff), ``true_prob_buy`` =
    ``alive * (1 - exp(-L))`` with ``L = rate * (U(cutoff + horizon) - U(cutoff))`` the expected arrivals in
    the window under the season, ``true_expected_purchases`` = ``alive * (1 - exp(-p L)) / p`` (each purchase
    may be the last, with probability ``p``) and ``true_expected_spend`` = expected purchases times the
    expected order value (purchases only; returns are not subtracted).
    """
    lo, hi = window(options, cutoff, horizon_days)
    start = np.datetime64(options.start, "D")
    start_s = int(start.astype("datetime64[s]").astype(np.int64))
    clock = Clock(start, options.days, options.seasonality)
    acquired = pc.cast(customers.column("acquired"), pa.int64()).to_numpy() // 1_000_000
    rows = np.flatnonzero(acquired < lo)
    table = customers.take(pa.array(rows))
    churned = pc.fill_null(pc.cast(table.column("churned"), pa.int64()), np.iinfo(np.int64).max).to_numpy()
    alive = churned // 1_000_000 >= lo  # still active at the cutoff: the last purchase is at or after it
    rate = table.column("purchase_rate").to_numpy()
    p = table.column("dropout_prob").to_numpy()
    arrivals = rate * (
        clock.forward((hi - start_s) / SECONDS_PER_DAY) - clock.forward((lo - start_s) / SECONDS_PER_DAY)
    )
    prob = np.where(alive, -np.expm1(-arrivals), 0.0)
    count = np.where(alive, -np.expm1(-p * arrivals) / p, 0.0)
    spend = count * table.column("expected_order_value").to_numpy()
    return pa.table(
        {
            "customer_id": table.column("customer_id"),
            "alive": pa.array(alive),
            "purchase_rate": pa.array(rate),
            "dropout_prob": pa.array(p),
            "true_prob_buy": pa.array(prob),
            "true_expected_purchases": pa.array(count),
            "true_expected_spend": pa.array(spend),
        }
    )


def realized_labels(events: pa.Table, customer_ids: pa.Array | pa.ChunkedArray, lo: int, hi: int) -> pa.Table:
    """What happened in ``[lo, hi)`` (epoch seconds) to each of ``customer_ids``, from the events of the log:
    label_bought, label_purchases (distinct orders with a purchased line), label_spend (purchases less
    returns, at least 0) and gross_spend (purchases alone)."""
    unit = events.schema.field("time").type.unit
    times = pc.cast(events.column("time"), pa.int64()).to_numpy() // {"s": 1, "ms": 10**3, "us": 10**6}[unit]
    bought = pc.equal(events.column("event"), "purchase").to_numpy(zero_copy_only=False)
    inside = events.filter(pa.array(bought & (times >= lo) & (times < hi)))
    amount = pc.multiply(pc.cast(inside.column("quantity"), pa.float64()), inside.column("unit_price"))
    positive = pc.greater(inside.column("quantity"), 0)
    keyed = pa.table(
        {
            "customer_id": inside.column("customer_id"),
            "amount": amount,
            "gross": pc.if_else(positive, amount, 0.0),
            "order": pc.if_else(positive, inside.column("order_id"), pa.scalar(None, pa.string())),
        }
    )
    sums = keyed.group_by("customer_id").aggregate([("amount", "sum"), ("gross", "sum"), ("order", "count_distinct")])
    at = pc.index_in(customer_ids, sums.column("customer_id"))
    found = pc.is_valid(at).to_numpy(zero_copy_only=False)
    idx = pc.fill_null(at, 0).to_numpy()

    def per_customer(column: str) -> np.ndarray:
        values = sums.column(column).to_numpy()
        return np.where(found, values[idx] if values.size else 0, 0)

    orders, net, gross = per_customer("order_count_distinct"), per_customer("amount_sum"), per_customer("gross_sum")
    return pa.table(
        {
            LABEL_BOUGHT: pa.array((orders > 0).astype(np.int64)),
            LABEL_PURCHASES: pa.array(orders.astype(np.int64)),
            LABEL_SPEND: pa.array(np.maximum(np.round(net.astype(float), 2), 0.0)),
            "gross_spend": pa.array(np.round(gross.astype(float), 2)),
        }
    )
