"""The purchase-log generator: reproducible, its truth agrees with what happens in the log, and the log has
the documented shapes (docs/generator.md)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from needmap.errors import ConfigError
from needmap.events.generate import event_spec, main, purchase_log, write_purchase_log
from needmap.events.log_model import Clock, LogOptions
from needmap.events.table_info import LABEL_BOUGHT, LABEL_PURCHASES, LABEL_SPEND
from needmap.events.truth import true_outcomes

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def log():
    """About a million events: enough customers for the statistical checks to be sharp."""
    return purchase_log(customers=20_000, days=730, seed=11)


@pytest.fixture(scope="module")
def truth(log):
    return log.truth("2021-01-01", 90)


def seconds(column: pa.ChunkedArray) -> np.ndarray:
    return pc.cast(column, pa.int64()).to_numpy() // 1_000_000


def test_the_log_has_the_documented_columns_and_types(log) -> None:
    assert log.events.schema.names == [
        "customer_id", "time", "item_id", "category", "quantity", "unit_price", "event", "order_id"
    ]  # fmt: skip
    types = dict(zip(log.events.schema.names, log.events.schema.types, strict=True))
    assert types["time"] == pa.timestamp("us") and types["quantity"] == pa.int64()
    assert set(pc.unique(log.events.column("event")).to_pylist()) == {"view", "cart", "purchase"}
    ids = log.customers.column("customer_id").to_pylist()
    assert ids[:3] == ["C000000", "C000001", "C000002"] and len(set(ids)) == 20_000
    assert set(pc.unique(log.events.column("customer_id")).to_pylist()) == set(ids)  # every customer buys once
    purchases = log.events.filter(pc.equal(log.events.column("event"), "purchase"))
    assert purchases.column("order_id").null_count == 0
    assert log.events.filter(pc.not_equal(log.events.column("event"), "purchase")).column("order_id").null_count == (
        log.events.num_rows - purchases.num_rows
    )
    times = seconds(log.events.column("time"))
    start = int(np.datetime64("2020-01-01", "s").astype(np.int64))
    assert times.min() >= start and times.max() < start + 730 * 86_400


def test_the_same_seed_gives_the_same_log_and_another_seed_another() -> None:
    one, two = purchase_log(customers=500, seed=3), purchase_log(customers=500, seed=3)
    assert one.events.equals(two.events) and one.customers.equals(two.customers)
    other = purchase_log(customers=500, seed=4)
    assert not one.events.equals(other.events)
    assert not np.allclose(one.customers.column("purchase_rate").to_numpy(), other.customers.column("purchase_rate"))


def test_the_latent_traits_follow_their_documented_laws(log) -> None:
    opts = LogOptions()
    rate = log.customers.column("purchase_rate").to_numpy()
    dropout = log.customers.column("dropout_prob").to_numpy()
    n = rate.size
    gamma_mean, gamma_sd = opts.rate_shape * opts.rate_scale, np.sqrt(opts.rate_shape) * opts.rate_scale
    assert abs(rate.mean() - gamma_mean) < 4 * gamma_sd / np.sqrt(n)
    a, b = opts.dropout_a, opts.dropout_b
    beta_mean, beta_sd = a / (a + b), np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert abs(dropout.mean() - beta_mean) < 4 * beta_sd / np.sqrt(n)
    taste = np.asarray(log.customers.column("category_taste").to_pylist())
    assert taste.shape == (n, opts.categories) and np.allclose(taste.sum(axis=1), 1.0)
    assert np.median(taste.max(axis=1)) > 0.3  # concentrated tastes: a favourite category, not an even spread


def test_the_true_probability_matches_the_realized_rate(truth) -> None:
    prob = truth.column("true_prob_buy").to_numpy()
    bought = truth.column(LABEL_BOUGHT).to_numpy()
    n = prob.size
    assert n > 5_000  # customers acquired before the cutoff
    standard_error = np.sqrt((prob * (1 - prob)).sum()) / n
    assert abs(bought.mean() - prob.mean()) < 4 * standard_error


def test_the_truth_is_calibrated_by_decile(truth) -> None:
    prob = truth.column("true_prob_buy").to_numpy()
    bought = truth.column(LABEL_BOUGHT).to_numpy()
    order = np.argsort(prob, kind="stable")
    for group in np.array_split(order, 10):
        p = prob[group]
        se = max(np.sqrt((p * (1 - p)).sum()) / group.size, 1e-9)
        assert abs(bought[group].mean() - p.mean()) < 4.5 * se, (p.mean(), bought[group].mean())


def test_the_expected_purchases_and_spend_match_the_realized_ones(truth) -> None:
    for expected, realized in (("true_expected_purchases", LABEL_PURCHASES), ("true_expected_spend", "gross_spend")):
        e = truth.column(expected).to_numpy()
        r = truth.column(realized).to_numpy()
        standard_error = r.std() / np.sqrt(r.size)
        assert abs(r.mean() - e.mean()) < 4 * standard_error, (expected, e.mean(), r.mean())


def test_a_customer_gone_at_the_cutoff_has_probability_zero_and_buys_nothing(truth) -> None:
    alive = truth.column("alive").to_numpy(zero_copy_only=False)
    assert 0.2 < (~alive).mean() < 0.8
    assert np.all(truth.column("true_prob_buy").to_numpy()[~alive] == 0)
    assert np.all(truth.column(LABEL_BOUGHT).to_numpy()[~alive] == 0)
    assert np.all(truth.column("true_prob_buy").to_numpy()[alive] > 0)


def test_a_churned_customer_never_buys_after_churning(log) -> None:
    bought = log.events.filter(
        pc.and_(pc.equal(log.events.column("event"), "purchase"), pc.greater(log.events.column("quantity"), 0))
    )
    last = bought.group_by("customer_id").aggregate([("time", "max")])
    latent = log.customers.select(["customer_id", "churned", "purchases"])
    churned = latent.filter(pc.is_valid(latent.column("churned")))
    assert churned.num_rows > 5_000
    joined = churned.join(last, "customer_id")
    # the purchase after which a customer leaves is their last one
    assert np.array_equal(seconds(joined.column("churned")), seconds(joined.column("time_max")))
    # nor comes back to browse (a session begun before leaving may end a few minutes after)
    browsed = log.events.filter(pc.not_equal(log.events.column("event"), "purchase"))
    last_seen = (
        browsed.group_by("customer_id").aggregate([("time", "max")]).join(churned, "customer_id", join_type="inner")
    )
    assert np.all(seconds(last_seen.column("time_max")) < seconds(last_seen.column("churned")) + 86_400)
    count = bought.group_by("customer_id").aggregate([("order_id", "count_distinct")])
    joined = latent.join(count, "customer_id")
    assert np.array_equal(joined.column("purchases").to_numpy(), joined.column("order_id_count_distinct").to_numpy())


def test_views_and_carts_come_before_each_purchase(log) -> None:
    ev = log.events
    purchased = ev.filter(pc.and_(pc.equal(ev.column("event"), "purchase"), pc.greater(ev.column("quantity"), 0)))
    viewed = ev.filter(pc.equal(ev.column("event"), "view"))
    keys = ["customer_id", "item_id"]
    first_buy = purchased.group_by(keys).aggregate([("time", "min")]).rename_columns([*keys, "bought"])
    first_view = viewed.group_by(keys).aggregate([("time", "min")]).rename_columns([*keys, "viewed"])
    joined = first_buy.join(first_view, keys, join_type="left outer")
    assert joined.column("viewed").null_count == 0  # every bought item was viewed by its buyer
    assert np.all(seconds(joined.column("viewed")) < seconds(joined.column("bought")))
    carts = ev.filter(pc.equal(ev.column("event"), "cart")).num_rows
    assert 0.6 * purchased.num_rows < carts < 1.1 * purchased.num_rows


def test_recent_behaviour_predicts_buying(log, truth) -> None:
    """Customers who viewed something in the 30 days before the cutoff buy more often in the horizon."""
    ev = log.events
    times = seconds(ev.column("time"))
    cutoff = int(np.datetime64("2021-01-01", "s").astype(np.int64))
    recent = pc.equal(ev.column("event"), "view").to_numpy(zero_copy_only=False)
    recent &= (times >= cutoff - 30 * 86_400) & (times < cutoff)
    viewers = pc.is_in(truth.column("customer_id"), pc.unique(ev.column("customer_id").filter(pa.array(recent))))
    viewed = viewers.to_numpy(zero_copy_only=False)
    bought = truth.column(LABEL_BOUGHT).to_numpy()
    assert 0.1 < viewed.mean() < 0.9
    assert bought[viewed].mean() > 1.5 * bought[~viewed].mean()


def test_the_event_spec_names_the_log_columns(log) -> None:
    spec = event_spec(30)
    names = set(log.events.schema.names)
    assert {spec.customer, spec.time, spec.item, spec.event, spec.category} <= names
    assert spec.purchase_events == ("purchase",) and spec.horizon_days == 30
    assert spec.amount == "quantity * unit_price"


def test_returns_follow_their_purchases(log) -> None:
    ev = log.events
    returns = ev.filter(pc.less(ev.column("quantity"), 0))
    assert returns.num_rows > 100
    assert set(pc.unique(returns.column("event")).to_pylist()) == {"purchase"}
    assert all(v.startswith("R") for v in returns.column("order_id").to_pylist())
    bought = ev.filter(pc.and_(pc.equal(ev.column("event"), "purchase"), pc.greater(ev.column("quantity"), 0)))
    share = returns.num_rows / bought.num_rows
    assert 0.015 < share < 0.035  # 3% of lines, less those whose return falls after the end
    originals = bought.select(["customer_id", "item_id", "order_id", "time", "quantity"]).rename_columns(
        ["customer_id", "item_id", "order", "bought", "bought_quantity"]
    )
    returned = returns.append_column("order", pc.utf8_replace_slice(returns.column("order_id"), 0, 1, "O"))
    joined = returned.join(originals, ["customer_id", "item_id", "order"], join_type="left outer")
    assert joined.num_rows >= returns.num_rows and joined.column("bought").null_count == 0
    # each return has a line of its order bought at least a day before with the same quantity
    grouped = (
        joined.append_column(
            "ok",
            pc.and_(
                pc.greater_equal(
                    pc.cast(joined.column("time"), pa.int64()),
                    pc.add(pc.cast(joined.column("bought"), pa.int64()), 86_400 * 1_000_000 - 1_000_000),
                ),
                pc.equal(joined.column("quantity"), pc.negate(joined.column("bought_quantity"))),
            ),
        )
        .group_by(["customer_id", "item_id", "order", "time"])
        .aggregate([("ok", "any")])
    )
    assert pc.all(grouped.column("ok_any")).as_py()


def test_the_shapes_lie_in_their_documented_ranges(log, truth) -> None:
    spend = truth.column(LABEL_SPEND).to_numpy()
    assert 0.55 < (spend == 0).mean() < 0.8  # most customers spend nothing in a quarter
    ranked = np.sort(spend)[::-1]
    assert ranked[: ranked.size // 10].sum() > 0.6 * ranked.sum()  # the top tenth spends most of the money
    purchases = log.customers.column("purchases").to_numpy()
    assert 0.25 < (purchases == 1).mean() < 0.5  # many buy once
    assert np.percentile(purchases, 99) > 10 * np.median(purchases)  # a heavy tail
    hours = (seconds(log.events.column("time")) % 86_400) // 3600
    assert (hours == 20).sum() > 5 * (hours == 3).sum()  # daily season: evenings busy, nights quiet
    acquired = seconds(log.customers.column("acquired"))
    start = int(np.datetime64("2020-01-01", "s").astype(np.int64))
    by_quarter = np.bincount((acquired - start) // (86_400 * 365 // 4), minlength=8)[:8]
    assert by_quarter.min() > 0.8 * by_quarter.mean()  # acquisition spread over the period


def test_the_clock_keeps_a_week_a_week_and_inverts() -> None:
    clock = Clock(np.datetime64("2020-01-01"), 70, 1.0)
    assert clock.forward(7.0) == pytest.approx(7.0) and clock.forward(70.0) == pytest.approx(70.0)
    t = np.linspace(0, 70, 1001)
    assert np.allclose(clock.inverse(clock.forward(t)), t)
    night, evening = (
        clock.forward(3.0 + 4 / 24) - clock.forward(3.0 + 3 / 24),
        clock.forward(3 + 21 / 24) - clock.forward(3 + 20 / 24),
    )
    assert evening > 5 * night
    flat = Clock(np.datetime64("2020-01-01"), 70, 0.0)
    assert np.allclose(flat.forward(t), t)


def test_the_truth_follows_the_formulas_for_a_customer_by_hand() -> None:
    """One active customer with rate 0.1/day and dropout 0.25, a 14-day window without season: expected
    arrivals L = 1.4; P(buy) = 1 - exp(-1.4) = 0.75340; E[N] = (1 - exp(-0.35)) / 0.25 = 1.18125."""
    opts = LogOptions(customers=1, days=100, seasonality=0.0)
    us = 1_000_000
    start = np.datetime64("2020-01-01", "us").astype(np.int64)
    customers = pa.table(
        {
            "customer_id": ["C000000", "C000001"],
            "acquired": pa.array(start + np.array([10, 60]) * 86_400 * us, pa.timestamp("us")),
            "purchase_rate": [0.1, 0.1],
            "dropout_prob": [0.25, 0.25],
            "expected_order_value": [40.0, 40.0],
            "churned": pa.array([None, None], pa.timestamp("us")),
        }
    )
    table = true_outcomes(customers, opts, "2020-02-20", 14)  # day 50: the second customer comes later
    assert table.column("customer_id").to_pylist() == ["C000000"]
    assert table.column("true_prob_buy")[0].as_py() == pytest.approx(0.753403, abs=1e-6)
    assert table.column("true_expected_purchases")[0].as_py() == pytest.approx(1.181247, abs=1e-6)
    assert table.column("true_expected_spend")[0].as_py() == pytest.approx(40 * 1.181247, abs=1e-4)
    gone = customers.set_column(5, "churned", pa.array(start + np.array([49, 49]) * 86_400 * us, pa.timestamp("us")))
    assert true_outcomes(gone, opts, "2020-02-20", 14).column("true_prob_buy").to_pylist() == [0.0]


def test_bad_options_and_windows_are_clear_errors(log) -> None:
    with pytest.raises(ConfigError, match="customers is 0; expected a positive integer"):
        purchase_log(customers=0)
    with pytest.raises(ConfigError, match="start is 'soon'; expected a date in ISO form"):
        purchase_log(start="soon")
    with pytest.raises(ConfigError, match="unknown generator option 'customer'; closest: 'customers'"):
        purchase_log(customer=10)
    with pytest.raises(ConfigError, match="options is 2000; expected LogOptions or nothing"):
        purchase_log(2000)
    with pytest.raises(
        ConfigError, match=r"leaves the log .* expected a cutoff after 2020-01-01 and at most 2021-10-02"
    ):
        log.truth("2021-12-01", 90)
    with pytest.raises(ConfigError, match="cutoff is 'tomorrow'"):
        log.truth("tomorrow", 90)
    with pytest.raises(ConfigError, match="horizon_days is 0"):
        log.truth("2021-01-01", 0)


def test_writing_to_parquet_gives_the_same_log_in_row_groups(tmp_path) -> None:
    written = write_purchase_log(tmp_path / "log.parquet", customers=900, chunk_customers=300, seed=5)
    in_memory = purchase_log(customers=900, chunk_customers=300, seed=5)
    read = pq.read_table(tmp_path / "log.parquet")
    assert read.equals(in_memory.events) and written.events == read.num_rows
    assert pq.ParquetFile(tmp_path / "log.parquet").metadata.num_row_groups == 3
    assert written.customers.equals(in_memory.customers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.parquet"]  # written under a temporary name, renamed
    with pytest.raises(ConfigError, match=r"is a directory; expected a file name such as log\.parquet"):
        write_purchase_log(tmp_path, customers=10)
    assert written.truth("2021-01-01", 30).equals(
        in_memory.truth("2021-01-01", 30).select(written.truth("2021-01-01", 30).schema.names)
    )


def test_the_command_line_writes_the_log_and_its_latent_traits(tmp_path, capsys) -> None:
    out, latent = tmp_path / "log.parquet", tmp_path / "latent.parquet"
    assert main(["--customers", "200", "--days", "365", "--seed", "2", "--out", str(out), "--latent", str(latent)]) == 0
    expected = purchase_log(customers=200, days=365, seed=2)
    assert pq.read_table(out).equals(expected.events) and pq.read_table(latent).equals(expected.customers)
    assert f"{expected.events.num_rows} events of 200 customers" in capsys.readouterr().out
    assert main(["--customers", "0", "--out", str(out)]) == 2
    assert "customers is 0; expected a positive integer" in capsys.readouterr().err
    run = subprocess.run(
        [sys.executable, "-m", "needmap.events.generate", "--customers", "50", "--out", str(tmp_path / "m.parquet")],
        capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert pq.read_table(tmp_path / "m.parquet").equals(purchase_log(customers=50).events)


def test_a_million_events_in_a_few_seconds() -> None:
    began = time.perf_counter()
    made = purchase_log(customers=20_000, seed=1)
    took = time.perf_counter() - began
    print(f"{made.events.num_rows} events in {took:.2f} s")
    assert made.events.num_rows > 800_000
    assert took < 30  # about 1 s on one core; generous for a shared machine
