"""A seeded generator of purchase logs whose truth is known: every customer's latent traits are kept.

Real logs never say whether a customer is still active or how often they buy; a generated one does. Each
customer draws latent traits (docs/generator.md gives the model and its defaults):

* an acquisition time, spread over the period with the season's shape; their first purchase happens then;
* a purchase rate ``lambda`` per day, Gamma(``rate_shape``, scale ``rate_scale``): heavy-tailed across
  customers, as the NBD model of repeat buying has it;
* a dropout probability ``p``, Beta(``dropout_a``, ``dropout_b``): after every purchase (the first too) the
  customer leaves for good with probability ``p`` (the BG/NBD model's churn);
* category tastes, Dirichlet over the categories (concentrated on a few, popular categories more likely);
* a spend level ``s``, log-normal: the quantity of an order line is ``1 + Poisson(s)``.

While active, purchases arrive as a Poisson process of rate ``lambda * w(t)``, where ``w`` (mean 1) is the
hour-of-week profile of the season (weekly and daily seasonality). Views and carts precede each purchased
line; browsing sessions without a purchase come at a rate proportional to ``lambda`` while the customer is
active; a share of purchased lines is returned later (the same line with negative quantity). Since the
traits are kept, :func:`needmap.events.truth.true_outcomes` gives, for a cutoff and horizon, each
customer's true probability of buying and true expected spend from the traits alone, and
:meth:`PurchaseLog.truth` sets the realized labels beside them. The options and the season are in
:mod:`needmap.events.log_model`.

The log is made in chunks of customers, so memory stays bounded; :func:`write_purchase_log` writes each
chunk as Parquet row groups. The same options and seed give the same log, byte for byte.

Command line::

    python -m needmap.events.generate --customers 20000 --days 730 --seed 0 --out log.parquet
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from needmap.declare import base_type, type_hints, unknown_message
from needmap.errors import ConfigError, NeedmapError
from needmap.events.log_model import SECONDS_PER_DAY, Clock, LogOptions
from needmap.events.table_info import EventSpec
from needmap.events.truth import realized_labels, true_outcomes, window
from needmap.output_files import create_temporary_file

EVENTS = ("view", "cart", "purchase")
VIEW, CART, PURCHASE = 0, 1, 2


@dataclass(frozen=True)
class Catalogue:
    """The items: their ids, categories, prices and popularity within their category."""

    item_ids: pa.Array
    category_names: pa.Array
    item_category: np.ndarray
    price: np.ndarray
    cdf_in_category: np.ndarray  # (categories, items_per_category) cumulative popularity
    category_mean_price: np.ndarray  # popularity-weighted mean price of each category


@dataclass(frozen=True)
class PurchaseLog:
    """A generated log: ``events`` (one row per event) and ``customers`` (the latent traits, one row each).

    ``customers`` columns: customer_id, acquired (timestamp of the first purchase), purchase_rate (per
    day), dropout_prob, spend_level, category_taste (list of shares, category order of ``categories``),
    expected_order_value, churned (timestamp of the purchase after which the customer left; null while
    active at the end of the log), purchases (in the log).
    """

    events: pa.Table
    customers: pa.Table
    options: LogOptions
    categories: tuple[str, ...]
    returns_after_end: int

    def truth(self, cutoff: Any, horizon_days: int) -> pa.Table:
        """The true outcomes of every customer with history before ``cutoff`` (:func:`true_outcomes`) and the
        realized labels from the events: label_bought, label_purchases (distinct orders with a purchased
        line), label_spend (purchases less returns in the window, at least 0) and gross_spend (purchases
        alone, what ``true_expected_spend`` predicts)."""
        table = true_outcomes(self.customers, self.options, cutoff, horizon_days)
        lo, hi = window(self.options, cutoff, horizon_days)
        labels = realized_labels(self.events, table.column("customer_id"), lo, hi)
        for name in labels.schema.names:
            table = table.append_column(name, labels.column(name))
        return table


def event_spec(horizon_days: int = 90) -> EventSpec:
    """How a generated log reads into features: its columns, money as quantity times unit price (returns
    negative), ``purchase`` the purchase event."""
    return EventSpec(
        customer="customer_id",
        time="time",
        item="item_id",
        event="event",
        amount="quantity * unit_price",
        category="category",
        purchase_events=("purchase",),
        horizon_days=horizon_days,
    )


# -- the catalogue and the latent traits --------------------------------------------------------------
def _catalogue(opts: LogOptions) -> Catalogue:
    rng = np.random.default_rng([opts.seed, 7])
    n_cat, per = opts.categories, opts.items_per_category
    item_cat = np.repeat(np.arange(n_cat), per)
    level = rng.normal(np.log(8.0), 0.6, n_cat)
    price = np.round(np.exp(rng.normal(level[item_cat], 0.7)), 2).clip(0.05)
    popularity = 1.0 / np.arange(1, per + 1) ** 1.1  # Zipf within a category
    popularity = popularity / popularity.sum()
    order = np.argsort(rng.random((n_cat, per)), axis=1)  # which item of a category is its bestseller
    weights = popularity[order]
    cdf = np.cumsum(weights, axis=1)
    cdf[:, -1] = 1.0
    mean_price = (weights * price.reshape(n_cat, per)).sum(axis=1)
    width = max(5, len(str(n_cat * per)))
    ids = pa.array([f"I{i:0{width}d}" for i in range(n_cat * per)])
    cat_width = max(2, len(str(n_cat)))
    names = pa.array([f"cat_{c + 1:0{cat_width}d}" for c in range(n_cat)])
    return Catalogue(ids, names, item_cat, price, cdf, mean_price)


def _category_popularity(n_cat: int) -> np.ndarray:
    pop = 1.0 / np.arange(1, n_cat + 1) ** 0.8
    return pop / pop.sum()


def _latent(opts: LogOptions, clock: Clock, cat: Catalogue) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([opts.seed, 0])
    n = opts.customers
    acquired_op = rng.uniform(0.0, clock.end, n)
    rate = rng.gamma(opts.rate_shape, opts.rate_scale, n)
    dropout = rng.beta(opts.dropout_a, opts.dropout_b, n).clip(1e-9, 1.0)
    level = rng.lognormal(opts.spend_mu, opts.spend_sigma, n)
    alpha = opts.taste_concentration * opts.categories * _category_popularity(opts.categories)
    taste = rng.gamma(alpha, 1.0, (n, opts.categories))  # Dirichlet, by normalised Gammas (safe for small alpha)
    sums = taste.sum(axis=1, keepdims=True)
    empty = sums[:, 0] == 0
    taste[empty] = alpha / alpha.sum()
    taste = taste / np.where(empty[:, None], 1.0, sums)
    lifetime = rng.geometric(dropout)  # purchases up to and including the one after which the customer leaves
    order_value = opts.basket_lines * (1.0 + level) * (taste @ cat.category_mean_price)
    return {
        "acquired_op": acquired_op,
        "rate": rate,
        "dropout": dropout,
        "level": level,
        "taste": taste,
        "lifetime": lifetime,
        "order_value": order_value,
    }


def _pick(cdf_rows: np.ndarray, row: np.ndarray, u: np.ndarray) -> np.ndarray:
    """For each draw, the index chosen by ``u`` under the cumulative distribution ``cdf_rows[row]`` (vectorized)."""
    k = cdf_rows.shape[1]
    flat = (cdf_rows + np.arange(cdf_rows.shape[0])[:, None]).ravel()
    return np.minimum(np.searchsorted(flat, row + u, side="right") - row * k, k - 1)


# -- one chunk of customers ----------------------------------------------------------------------------
def _chunk(
    opts: LogOptions, clock: Clock, cat: Catalogue, lat: dict[str, np.ndarray], lo: int, hi: int, order_base: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, int, int]:
    """The events of customers ``lo:hi`` as arrays, their churn times (operational days, NaN: active at the end),
    their purchase counts, the number of orders made and the returns that fell after the end."""
    rng = np.random.default_rng([opts.seed, 1, lo])
    n = hi - lo
    a_op, rate, life = lat["acquired_op"][lo:hi], lat["rate"][lo:hi], lat["lifetime"][lo:hi]
    level, taste_cdf = lat["level"][lo:hi], np.cumsum(lat["taste"][lo:hi], axis=1)
    taste_cdf[:, -1] = 1.0
    # repeat purchases: Poisson arrivals in operational time after acquisition, cut after the lifetime's last
    span = clock.end - a_op
    m = rng.poisson(rate * span)
    owner = np.repeat(np.arange(n), m)
    arrivals = a_op[owner] + span[owner] * rng.random(owner.size)
    arrivals = arrivals[np.lexsort((arrivals, owner))]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(m) - m, m)
    keep = rank < (life[owner] - 1)
    churn = np.full(n, np.nan)
    churn[life == 1] = a_op[life == 1]
    last = keep & (rank == life[owner] - 2)
    churn[owner[last]] = arrivals[last]
    order_cust = np.concatenate([np.arange(n), owner[keep]])
    order_op = np.concatenate([a_op, arrivals[keep]])
    by = np.lexsort((order_op, order_cust))
    order_cust, order_op = order_cust[by], order_op[by]
    purchases = np.bincount(order_cust, minlength=n)
    order_day = clock.inverse(order_op)
    n_orders = order_cust.size
    order_no = order_base + np.arange(n_orders)
    # order lines: category by taste, item by popularity, quantity by spend level
    lines = 1 + rng.poisson(opts.basket_lines - 1.0, n_orders)
    line_order = np.repeat(np.arange(n_orders), lines)
    line_cust = order_cust[line_order]
    line_cat = _pick(taste_cdf, line_cust, rng.random(line_order.size))
    line_item = line_cat * opts.items_per_category + _pick(cat.cdf_in_category, line_cat, rng.random(line_order.size))
    quantity = 1 + rng.poisson(level[line_cust])
    line_day = order_day[line_order]
    # views and carts before each purchased line
    carted = rng.random(line_order.size) < opts.cart_share
    cart_day = line_day - (60.0 + 60.0 * rng.random(line_order.size)) / SECONDS_PER_DAY
    views = 1 + rng.poisson(opts.views_per_line - 1.0, line_order.size)
    view_line = np.repeat(np.arange(line_order.size), views)
    view_day = line_day[view_line] - (120.0 + rng.exponential(1800.0, view_line.size)) / SECONDS_PER_DAY
    # browsing sessions while active (from acquisition to churn or the end)
    active_end = np.where(np.isnan(churn), clock.end, churn)
    sessions = rng.poisson(opts.browse_ratio * rate * (active_end - a_op))
    s_cust = np.repeat(np.arange(n), sessions)
    s_day = clock.inverse(a_op[s_cust] + (active_end - a_op)[s_cust] * rng.random(s_cust.size))
    s_views = 1 + rng.poisson(opts.browse_views - 1.0, s_cust.size)
    sv_session = np.repeat(np.arange(s_cust.size), s_views)
    sv_cust = s_cust[sv_session]
    step = rng.exponential(90.0, sv_session.size) / SECONDS_PER_DAY
    first = np.cumsum(s_views) - s_views
    offsets = np.cumsum(step)
    sv_day = s_day[sv_session] + offsets - np.repeat(offsets[first] - step[first], s_views)
    sv_cat = _pick(taste_cdf, sv_cust, rng.random(sv_session.size))
    sv_item = sv_cat * opts.items_per_category + _pick(cat.cdf_in_category, sv_cat, rng.random(sv_session.size))
    abandoned = rng.random(s_cust.size) < opts.browse_cart_share
    last_view = np.cumsum(s_views) - 1
    ab_idx = last_view[abandoned]
    ab_day = sv_day[ab_idx] + (30.0 + rng.exponential(60.0, ab_idx.size)) / SECONDS_PER_DAY
    # returns: a share of purchased lines, some days later, inside the log only
    returned = np.flatnonzero(rng.random(line_order.size) < opts.return_share)
    ret_day = line_day[returned] + 1.0 + rng.exponential(opts.return_days, returned.size)
    inside = ret_day < opts.days
    returned, ret_day = returned[inside], ret_day[inside]
    late = int((~inside).sum())
    end_day = opts.days - 1.0 / SECONDS_PER_DAY
    parts = [  # (customer, day, item, quantity, event, order number, returned?)
        (line_cust, line_day, line_item, quantity, PURCHASE, order_no[line_order], 0),
        (line_cust[carted], cart_day[carted], line_item[carted], quantity[carted], CART, None, 0),
        (line_cust[view_line], view_day, line_item[view_line], np.ones(view_line.size, np.int64), VIEW, None, 0),
        (sv_cust, sv_day, sv_item, np.ones(sv_cust.size, np.int64), VIEW, None, 0),
        (sv_cust[ab_idx], ab_day, sv_item[ab_idx], np.ones(ab_idx.size, np.int64), CART, None, 0),
        (
            line_cust[returned],
            ret_day,
            line_item[returned],
            -quantity[returned],
            PURCHASE,
            order_no[line_order[returned]],
            1,
        ),
    ]
    out = {
        "cust": np.concatenate([p[0] for p in parts]),
        "day": np.clip(np.concatenate([p[1] for p in parts]), 0.0, end_day),
        "item": np.concatenate([p[2] for p in parts]),
        "quantity": np.concatenate([p[3] for p in parts]).astype(np.int64),
        "event": np.concatenate([np.full(p[0].size, p[4], np.int8) for p in parts]),
        "order": np.concatenate([p[5] if p[5] is not None else np.full(p[0].size, -1) for p in parts]),
        "is_return": np.concatenate([np.full(p[0].size, p[6], np.int8) for p in parts]),
    }
    return out, churn, purchases, n_orders, late


def _customer_ids(lo: int, hi: int, total: int) -> pa.Array:
    width = max(6, len(str(total - 1)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(lo, hi)), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise("C", digits, "")


def _table(arrays: dict[str, np.ndarray], ids: pa.Array, cat: Catalogue, start_s: int) -> pa.Table:
    """The events of a chunk as the log's table, sorted by customer, then time (views before carts before buys)."""
    seconds = start_s + np.floor(arrays["day"] * SECONDS_PER_DAY).astype(np.int64)
    by = np.lexsort((arrays["event"], seconds, arrays["cust"]))
    item = pa.array(arrays["item"][by])
    order = arrays["order"][by]
    has_order = order >= 0
    prefix = pc.take(pa.array(["O", "R"]), pa.array(arrays["is_return"][by]))
    order_text = pc.binary_join_element_wise(prefix, pc.cast(pa.array(order), pa.string()), "")
    return pa.table(
        {
            "customer_id": ids.take(pa.array(arrays["cust"][by])),
            "time": pa.array(seconds[by] * 1_000_000, pa.timestamp("us")),
            "item_id": cat.item_ids.take(item),
            "category": cat.category_names.take(pa.array(cat.item_category[arrays["item"][by]])),
            "quantity": pa.array(arrays["quantity"][by]),
            "unit_price": pa.array(cat.price[arrays["item"][by]]),
            "event": pa.array(np.array(EVENTS, dtype=object)[arrays["event"][by]], pa.string()),
            "order_id": pc.if_else(pa.array(has_order), order_text, pa.scalar(None, pa.string())),
        }
    )


def _generate(opts: LogOptions) -> Iterator[tuple[pa.Table, pa.Table, int]]:
    """Each chunk's events and latent rows, and the returns left out because they fell after the end."""
    start = np.datetime64(opts.start, "D")
    start_s = int(start.astype("datetime64[s]").astype(np.int64))
    clock = Clock(start, opts.days, opts.seasonality)
    cat = _catalogue(opts)
    lat = _latent(opts, clock, cat)
    order_base = 1
    for lo in range(0, opts.customers, opts.chunk_customers):
        hi = min(lo + opts.chunk_customers, opts.customers)
        arrays, churn, purchases, n_orders, late = _chunk(opts, clock, cat, lat, lo, hi, order_base)
        order_base += n_orders
        ids = _customer_ids(lo, hi, opts.customers)
        events = _table(arrays, ids, cat, start_s)

        def stamp(op: np.ndarray) -> pa.Array:
            days = clock.inverse(np.nan_to_num(op))
            micro = (start_s + np.floor(days * SECONDS_PER_DAY).astype(np.int64)) * 1_000_000
            return pa.array(micro, pa.timestamp("us"), mask=np.isnan(op))

        taste = lat["taste"][lo:hi]
        latent = pa.table(
            {
                "customer_id": ids,
                "acquired": stamp(lat["acquired_op"][lo:hi]),
                "purchase_rate": pa.array(lat["rate"][lo:hi]),
                "dropout_prob": pa.array(lat["dropout"][lo:hi]),
                "spend_level": pa.array(lat["level"][lo:hi]),
                "category_taste": pa.FixedSizeListArray.from_arrays(pa.array(taste.ravel()), taste.shape[1]),
                "expected_order_value": pa.array(lat["order_value"][lo:hi]),
                "churned": stamp(churn),
                "purchases": pa.array(purchases.astype(np.int64)),
            }
        )
        yield events, latent, late


def _options(options: LogOptions | None, given: dict[str, Any]) -> LogOptions:
    if options is not None and not isinstance(options, LogOptions):
        raise ConfigError(
            f"options is {options!r}; expected LogOptions or nothing, with the options given by name "
            "(purchase_log(customers=2000, seed=0))."
        )
    if options is not None and given:
        raise ConfigError("give either options or keyword options, not both.")
    unknown = [name for name in given if name not in LogOptions.declared()]
    if unknown:
        raise ConfigError(unknown_message(unknown, [LogOptions]))
    return options if options is not None else LogOptions(**given)


def purchase_log(options: LogOptions | None = None, **given: Any) -> PurchaseLog:
    """A generated purchase log in memory, with its latent traits (keywords: the fields of :class:`LogOptions`).

    ``purchase_log(customers=2000, days=730, seed=0)``; for logs too large for memory, :func:`write_purchase_log`.
    """
    opts = _options(options, given)
    parts = list(_generate(opts))
    return PurchaseLog(
        events=pa.concat_tables([p[0] for p in parts]),
        customers=pa.concat_tables([p[1] for p in parts]),
        options=opts,
        categories=tuple(_catalogue(opts).category_names.to_pylist()),
        returns_after_end=sum(p[2] for p in parts),
    )


@dataclass(frozen=True)
class WrittenLog:
    """What :func:`write_purchase_log` wrote: the events' count and the latent traits (kept in memory)."""

    path: Path
    events: int
    customers: pa.Table
    options: LogOptions
    returns_after_end: int

    def truth(self, cutoff: Any, horizon_days: int) -> pa.Table:
        """The true outcomes from the latent traits (:func:`true_outcomes`); no realized labels (not in memory)."""
        return true_outcomes(self.customers, self.options, cutoff, horizon_days)


def write_purchase_log(
    path: str | Path, options: LogOptions | None = None, *, latent_path: str | Path | None = None, **given: Any
) -> WrittenLog:
    """Generate a log straight into the Parquet file ``path`` (zstd, one row group per chunk of customers),
    optionally the latent traits into ``latent_path``; memory stays that of one chunk. Each file is written
    under a temporary name beside it and renamed into place, so it appears whole or not at all."""
    opts = _options(options, given)
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"'{path}' is a directory; expected a file name such as log.parquet.")
    written, latent, late = 0, [], 0
    tmp = create_temporary_file(path)
    try:
        writer = None
        try:
            for events, part, chunk_late in _generate(opts):
                if writer is None:
                    writer = pq.ParquetWriter(tmp, events.schema, compression="zstd")
                writer.write_table(events, row_group_size=1 << 20)
                written += events.num_rows
                latent.append(part)
                late += chunk_late
        finally:
            if writer is not None:
                writer.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    customers = pa.concat_tables(latent)
    if latent_path is not None:
        latent_path = Path(latent_path)
        tmp = create_temporary_file(latent_path)
        try:
            pq.write_table(customers, tmp, compression="zstd")
            os.replace(tmp, latent_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return WrittenLog(path, written, customers, opts, late)


# -- command line -------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m needmap.events.generate",
        description="Write a generated purchase log (with known latent traits) to a Parquet file.",
    )
    parser.add_argument("--out", required=True, type=Path, help="the Parquet file of events to write")
    parser.add_argument("--latent", type=Path, help="also write each customer's latent traits to this Parquet file")
    hints = type_hints(LogOptions)
    for name, f in LogOptions.declared().items():
        kind = base_type(hints[name])
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=f.default,
            help=f.metadata["needmap"].help + " [%(default)s]",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    given = {name: getattr(args, name) for name in LogOptions.declared()}
    try:
        written = write_purchase_log(args.out, latent_path=args.latent, **given)
    except (NeedmapError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"{written.path}: {written.events} events of {written.customers.num_rows} customers "
        f"({written.returns_after_end} returns fell after the end and are not in the log)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
