"""Simulated customers for the lifetime-value tests: a BG/NBD purchase process with known parameters and
gamma-distributed amounts (Gamma-Gamma), summarized at a cutoff as a feature table is (the BTYD columns and
the labels of the horizon after the cutoff), so that what the models should find is known."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from needmap.events.table_info import (
    BTYD_AGE,
    BTYD_FREQUENCY,
    BTYD_MONETARY,
    BTYD_RECENCY,
    LABEL_BOUGHT,
    LABEL_PURCHASES,
    LABEL_SPEND,
    EventSpec,
    FeatureTableInfo,
    with_info,
)

#: BG/NBD on CDNOW (Fader, Hardie & Lee 2005): r, alpha (weeks), a, b.
CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def simulate_bgnbd(
    n: int,
    params: dict[str, float],
    age: float | np.ndarray,
    horizon: float,
    seed: int = 0,
    spend: tuple[float, float, float] = (6.0, 4.0, 15.0),
) -> dict[str, np.ndarray]:
    """``n`` customers of a BG/NBD process, watched for ``age`` time units from their first purchase (at 0),
    then ``horizon`` more. Purchase amounts are Gamma(p, nu) with nu ~ Gamma(q, gamma) (``spend`` = p, q,
    gamma). A customer may drop out after each repeat purchase (not after the first, as in BG/NBD). Returns the BTYD
    summary at the cutoff (x repeat purchases, t_x, T, mean repeat amount) and the
    purchases and spend in the horizon."""
    rng = np.random.default_rng(seed)
    p_shape, q, gamma = spend
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    drop = rng.beta(params["a"], params["b"], n)
    nu = rng.gamma(q, 1.0 / gamma, n)
    ages = np.broadcast_to(np.asarray(age, dtype=np.float64), (n,))
    out = {k: np.zeros(n) for k in ("x", "t_x", "T", "monetary", "purchases", "spend")}
    for i in range(n):
        t, alive, x, last, amounts, future, future_spend = 0.0, True, 0, 0.0, [], 0, 0.0
        while alive and lam[i] > 0:
            t += rng.exponential(1.0 / lam[i])
            if t > ages[i] + horizon:
                break
            amount = rng.gamma(p_shape, 1.0 / nu[i])
            if t <= ages[i]:
                x, last = x + 1, t
                amounts.append(amount)
            else:
                future, future_spend = future + 1, future_spend + amount
            if rng.random() < drop[i]:
                alive = False
        out["x"][i], out["t_x"][i], out["T"][i] = x, last, ages[i]
        out["monetary"][i] = float(np.mean(amounts)) if amounts else 0.0
        out["purchases"][i], out["spend"][i] = future, future_spend
    return out


def ltv_table(n: int = 400, seed: int = 0, horizon_days: int = 90) -> pa.Table:
    """A feature table of ``n`` simulated customers at three cutoffs (days as the time unit): an id, the BTYD
    columns, two numeric features a network can learn from (the recent count and the mean amount), a noise column, the
    labels of the next ``horizon_days`` days, and a :class:`FeatureTableInfo` in its schema metadata."""
    params = {"r": 0.8, "alpha": 40.0, "a": 0.6, "b": 3.0}
    rng = np.random.default_rng(seed + 1)
    age = rng.uniform(60.0, 360.0, n)
    sim = simulate_bgnbd(n, params, age, float(horizon_days), seed=seed, spend=(4.0, 5.0, 200.0))
    gap = np.timedelta64(horizon_days + 30, "D")  # cutoffs further apart than the horizon: none is left out
    cutoffs = np.datetime64("2023-01-01") + gap * np.arange(3)
    table = pa.table(
        {
            "cutoff": pa.array(cutoffs[np.arange(n) % 3].astype("datetime64[us]")),
            "customer_id": pa.array([f"c{i:05d}" for i in range(n)]),
            "purchases_per_day": pa.array((sim["x"] + 1) / sim["T"]),
            "mean_amount": pa.array(sim["monetary"]),
            "noise": pa.array(rng.normal(size=n)),
            BTYD_FREQUENCY: pa.array(sim["x"]),
            BTYD_RECENCY: pa.array(sim["t_x"]),
            BTYD_AGE: pa.array(sim["T"]),
            BTYD_MONETARY: pa.array(sim["monetary"]),
            LABEL_BOUGHT: pa.array((sim["purchases"] > 0).astype(np.int64)),
            LABEL_PURCHASES: pa.array(sim["purchases"].astype(np.int64)),
            LABEL_SPEND: pa.array(np.round(sim["spend"], 2)),
        }
    )
    spec = EventSpec(customer="customer_id", time="time", amount="amount", horizon_days=horizon_days)
    as_of = tuple(str(c) for c in cutoffs)
    return with_info(table, FeatureTableInfo(spec=spec, as_of=as_of))
