"""needmap's BG/NBD + Gamma-Gamma baseline beside PyMC-Marketing's: the same customers, fit time, parameters,
log-likelihood and, on Online Retail, the spend ranking each gives the test customers.

needmap fits the lifetime-value baseline itself (:mod:`needmap.workflows.btyd`: the closed-form
log-likelihoods of Fader, Hardie & Lee, maximized by scipy) instead of calling PyMC-Marketing. This script is
the measurement behind that choice, run in the peers' environment (``make bench-env``), where PyMC-Marketing
is installed (it is not a dependency of needmap):

* simulated: customers drawn from the BG/NBD and Gamma-Gamma processes with the parameters Fader, Hardie &
  Lee estimated on CDNOW (r 0.243, alpha 4.414, a 0.793, b 2.426 per week; Gamma-Gamma p 6.25, q 3.74,
  gamma 15.44), observed for 39 weeks from a first purchase in the first 12 weeks: does each fit recover
  the parameters, and how long does it take;
* retail: the BTYD columns of ``needmap features`` on UCI Online Retail (the benchmark's cutoffs, the first
  of each month 2011-01..2011-09, 90-day horizon), fitted on the rows ``needmap train`` fits its baseline
  on (the training cutoffs of the split by cutoff) and scored on the test cutoff's customers: the expected
  spend of each fit, its normalized Gini and Spearman against what they spent, and how alike the two
  rankings are.

PyMC-Marketing is fitted by its maximum a posteriori method (``fit(method="map")``) with its default priors,
the closest of its methods to needmap's maximum likelihood; the time includes building the model, not the
import (reported apart).

Usage (peers' environment, idle machine):

    benchmarks/.venv-peers/bin/python -m benchmarks.bench_btyd --out benchmarks/results/btyd_YYYY-MM-DD.md
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from needmap.events.table_info import BTYD_AGE, BTYD_FREQUENCY, BTYD_MONETARY, BTYD_RECENCY
from needmap.metrics.ltv import normalized_gini, spearman
from needmap.workflows.btyd import (
    bgnbd_expected_purchases,
    bgnbd_log_likelihood,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_amount,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
#: needmap's Gamma-Gamma parameter names and PyMC-Marketing's
GAMMA_GAMMA_NAMES = {"p": "p", "q": "q", "gamma": "v"}
WEEKS_OBSERVED = 39.0
FIRST_PURCHASE_WEEKS = 12.0


def simulate(customers: int, seed: int) -> dict[str, np.ndarray]:
    """Repeat purchases ``x``, recency ``t_x`` and age ``T`` (weeks) and the mean repeat amount of
    ``customers`` customers drawn from BG/NBD and Gamma-Gamma with the CDNOW parameters."""
    rng = np.random.default_rng(seed)
    p = CDNOW_BGNBD
    lam = rng.gamma(p["r"], 1.0 / p["alpha"], customers)  # purchases per week while alive
    drop = rng.beta(p["a"], p["b"], customers)  # chance to drop out after each purchase
    big_t = WEEKS_OBSERVED - rng.uniform(0.0, FIRST_PURCHASE_WEEKS, customers)
    x = np.zeros(customers)
    t_x = np.zeros(customers)
    for i in range(customers):
        t = 0.0
        while True:
            t += rng.exponential(1.0 / lam[i])
            if t > big_t[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < drop[i]:
                break
    g = CDNOW_GAMMA_GAMMA
    nu = rng.gamma(g["q"], 1.0 / g["gamma"], customers)  # each customer's spend rate
    monetary = np.zeros(customers)
    for i in np.flatnonzero(x > 0):
        monetary[i] = rng.gamma(g["p"], 1.0 / nu[i], int(x[i])).mean()
    return {"x": x, "t_x": t_x, "T": big_t, "monetary": monetary}


def needmap_fit(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, monetary: np.ndarray) -> dict[str, Any]:
    started = time.perf_counter()
    bg, bg_ll, _ = fit_bgnbd(x, t_x, big_t)
    repeat = (x > 0) & (monetary > 0)
    gg, _, _ = fit_gamma_gamma(x[repeat], monetary[repeat])
    return {
        "seconds": time.perf_counter() - started,
        "bgnbd": dict(zip(("r", "alpha", "a", "b"), map(float, bg), strict=True)),
        "gamma_gamma": dict(zip(("p", "q", "gamma"), map(float, gg), strict=True)),
        "log_likelihood": float(bg_ll),
    }


def pymc_fit(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, monetary: np.ndarray) -> dict[str, Any]:
    import pandas as pd
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

    ids = np.arange(len(x))
    started = time.perf_counter()
    frame = pd.DataFrame({"customer_id": ids, "frequency": x, "recency": t_x, "T": big_t})
    bg = BetaGeoModel(data=frame)
    bg.fit(method="map", progressbar=False)
    repeat = (x > 0) & (monetary > 0)
    spend = pd.DataFrame({"customer_id": ids[repeat], "frequency": x[repeat], "monetary_value": monetary[repeat]})
    gg = GammaGammaModel(data=spend)
    gg.fit(method="map", progressbar=False)
    seconds = time.perf_counter() - started
    bg_post = bg.fit_result  # the posterior (one draw: the MAP)
    gg_post = gg.fit_result
    params = {k: float(bg_post[k].values.ravel()[0]) for k in ("r", "alpha", "a", "b")}
    return {
        "seconds": seconds,
        "bgnbd": params,
        "gamma_gamma": {name: float(gg_post[key].values.ravel()[0]) for name, key in GAMMA_GAMMA_NAMES.items()},
        "log_likelihood": float(
            np.sum(bgnbd_log_likelihood(np.array([params[k] for k in ("r", "alpha", "a", "b")]), x, t_x, big_t))
        ),
    }


def expected_spend(fit: dict[str, Any], horizon: float, columns: dict[str, np.ndarray]) -> np.ndarray:
    """Expected spend over ``horizon`` with a fit's parameters, by the same formulas for both fits (each
    library's own prediction formulas are those of the same papers)."""
    b, g = fit["bgnbd"], fit["gamma_gamma"]
    purchases = bgnbd_expected_purchases(np.array([b["r"], b["alpha"], b["a"], b["b"]]), horizon,
                                         columns["x"], columns["t_x"], columns["T"])  # fmt: skip
    x_money = np.where(columns["monetary"] > 0, columns["x"], 0.0)
    amount = gamma_gamma_expected_amount(np.array([g["p"], g["q"], g["gamma"]]), x_money, columns["monetary"])
    return np.clip(np.nan_to_num(purchases * amount, nan=0.0, posinf=0.0), 0.0, None)


def _btyd(table: pa.Table) -> dict[str, np.ndarray]:
    def col(name: str) -> np.ndarray:
        return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)

    x, t_x, big_t, m = col(BTYD_FREQUENCY), col(BTYD_RECENCY), col(BTYD_AGE), col(BTYD_MONETARY)
    usable = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(big_t) & (big_t > 0) & (t_x <= big_t)
    return {
        "x": np.where(usable, x, 0.0),
        "t_x": np.where(usable, t_x, 0.0),
        "T": np.where(usable, big_t, 0.0),
        "monetary": np.where(usable & np.isfinite(m), m, 0.0),
        "usable": usable,
    }


def retail(data: Path, work: Path) -> dict[str, Any]:
    from needmap.events.cutoffs import cutoff_values, split_latest
    from needmap.events.table_info import info_of

    features = work / "retail_features.parquet"
    as_of = [a for m in range(1, 10) for a in ("--as-of", f"2011-{m:02d}-01")]
    command = [sys.executable, "-m", "needmap", "features", str(data / "online_retail" / "online_retail.parquet"),
               "--customer", "CustomerID", "--time", "InvoiceDate", "--item", "StockCode", "--order", "InvoiceNo",
               "--amount", "Quantity * UnitPrice", "--horizon", "90d", *as_of, "--out", str(features)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    table = pq.read_table(features)
    info = info_of(table)
    assert info is not None
    cutoffs = cutoff_values(table, info)
    test_split = split_latest(cutoffs, np.arange(table.num_rows), info.spec.horizon_days)
    # the rows needmap train fits its baseline on: before the validation cutoff, their labels ending by it
    earlier = test_split.earlier
    valid_split = split_latest(cutoffs[earlier], earlier, info.spec.horizon_days)
    train = table.take(pa.array(valid_split.earlier))
    test = table.take(pa.array(test_split.latest))
    fit_columns, test_columns = _btyd(train), _btyd(test)
    keep = fit_columns["usable"]
    fit_args = [fit_columns[k][keep] for k in ("x", "t_x", "T", "monetary")]
    spent = np.asarray(test.column("label_spend").to_numpy(zero_copy_only=False), dtype=np.float64)
    result: dict[str, Any] = {"fit_rows": int(keep.sum()), "test_rows": test.num_rows, "fits": {}}
    predictions = {}
    for name, fit in (("needmap", needmap_fit), ("PyMC-Marketing", pymc_fit)):
        done = fit(*fit_args)
        predictions[name] = expected_spend(done, float(info.spec.horizon_days), test_columns)
        done["normalized_gini"] = normalized_gini(spent, predictions[name])
        done["spearman"] = spearman(spent, predictions[name])
        result["fits"][name] = done
    result["rank_correlation_of_the_two"] = spearman(predictions["needmap"], predictions["PyMC-Marketing"])
    return result


def simulated(customers: int, seed: int) -> dict[str, Any]:
    data = simulate(customers, seed)
    args = [data[k] for k in ("x", "t_x", "T", "monetary")]
    return {
        "customers": customers,
        "with_repeat": int((data["x"] > 0).sum()),
        "fits": {"needmap": needmap_fit(*args), "PyMC-Marketing": pymc_fit(*args)},
    }


def _params(fit: dict[str, Any]) -> str:
    b, g = fit["bgnbd"], fit["gamma_gamma"]
    return (f"{b['r']:.3f} / {b['alpha']:.3f} / {b['a']:.3f} / {b['b']:.3f} | "
            f"{g['p']:.2f} / {g['q']:.2f} / {g['gamma']:.2f}")  # fmt: skip


def table(import_s: float, sim: dict[str, Any], shop: dict[str, Any] | None) -> str:
    truth = {"bgnbd": CDNOW_BGNBD, "gamma_gamma": CDNOW_GAMMA_GAMMA}
    lines = [
        f"PyMC-Marketing import: {import_s:.1f} s (not in the fit times).",
        "",
        f"### Simulated ({sim['customers']:,} customers, {sim['with_repeat']:,} with a repeat purchase)",
        "",
        "| fit | s | r / alpha / a / b | p / q / gamma | BG/NBD log-likelihood |",
        "|---|---:|---|---|---:|",
        f"| the truth (CDNOW) | - | {_params(truth)} | - |",
    ]
    for name, fit in sim["fits"].items():
        lines.append(f"| {name} | {fit['seconds']:.2f} | {_params(fit)} | {fit['log_likelihood']:.1f} |")
    if shop:
        lines += [
            "",
            f"### Online Retail ({shop['fit_rows']:,} training rows, {shop['test_rows']:,} test customers)",
            "",
            "| fit | s | r / alpha / a / b | p / q / gamma | test normalized Gini | test Spearman |",
            "|---|---:|---|---|---:|---:|",
        ]
        for name, fit in shop["fits"].items():
            lines.append(
                f"| {name} | {fit['seconds']:.2f} | {_params(fit)} | {fit['normalized_gini']:.4f} | "
                f"{fit['spearman']:.4f} |"
            )
        alike = shop["rank_correlation_of_the_two"]
        lines += ["", f"Spearman correlation of the two fits' expected spends: {alike:.4f}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=5000, help="simulated customers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=SHARED)
    parser.add_argument("--no-retail", action="store_true", help="the simulation only")
    parser.add_argument("--out", type=Path, default=None, help="Markdown file (and .json beside)")
    args = parser.parse_args()
    started = time.perf_counter()
    import pymc_marketing.clv  # noqa: F401

    import_s = time.perf_counter() - started
    sim = simulated(args.customers, args.seed)
    shop = None
    if not args.no_retail:
        with tempfile.TemporaryDirectory() as work:
            shop = retail(args.data_dir, Path(work))
    text = table(import_s, sim, shop)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        document = {"import_s": import_s, "simulated": sim, "retail": shop}
        args.out.with_suffix(".json").write_text(json.dumps(document, indent=1, default=float))


if __name__ == "__main__":
    main()
