"""The buy-till-you-die baseline of a lifetime-value target: BG/NBD for the purchases in the horizon and
Gamma-Gamma for the spend per purchase, fitted by maximum likelihood on a feature table's BTYD columns.

BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"): while alive, a customer buys at a
Poisson rate ``lambda ~ Gamma(r, alpha)``; after each purchase the customer dies with probability
``p ~ Beta(a, b)``. A customer is summarized by ``x`` (repeat purchases, :data:`BTYD_FREQUENCY`), ``t_x``
(days from the first to the last purchase, :data:`BTYD_RECENCY`) and ``T`` (days from the first purchase to
the cutoff, :data:`BTYD_AGE`); the log-likelihood of these is closed-form (their equation 6) and so is the
expected number of purchases in the next ``t`` days (equation 10).

Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis", and
Fader & Hardie's note "The Gamma-Gamma Model of Monetary Value"): the amounts of a customer's purchases are
``Gamma(p, nu)`` with ``nu ~ Gamma(q, gamma)``; fitted on the customers with ``x > 0`` from their mean repeat
amount ``m_x`` (:data:`BTYD_MONETARY`); a customer's expected amount per purchase is
``(gamma + m_x x) p / (p x + q - 1)`` (the population mean ``p gamma / (q - 1)`` for ``x = 0``).

The expected spend in the horizon is the product of the two. Both are fitted with ``scipy.optimize`` (L-BFGS-B
on the logs of the parameters), so the baseline needs no sampling library; its parameters are saved as JSON
(:meth:`BtydBaseline.to_dict`, ``btyd.json`` of a model directory). A feature table holds one row per
customer and cutoff: a customer of several cutoffs counts once per cutoff, as the rows the network trains on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.errors import ArtifactError, DataError
from needmap.events.table_info import BTYD_AGE, BTYD_COLUMNS, BTYD_FREQUENCY, BTYD_MONETARY, BTYD_RECENCY

#: The baseline's name in metrics, verdicts and reports.
BTYD_NAME = "BG/NBD + Gamma-Gamma"
#: Where a model directory keeps the fitted parameters (or why none were fitted).
BTYD_FILE = "btyd.json"
BTYD_VERSION = 1
#: Fewer usable training rows than this, or fewer with a repeat purchase, and the baseline is not fitted.
MIN_ROWS = 20


def _gammaln(x: Any) -> Any:
    from scipy.special import gammaln

    return gammaln(x)


def _betaln(a: Any, b: Any) -> Any:
    from scipy.special import betaln

    return betaln(a, b)


def bgnbd_log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """Each customer's BG/NBD log-likelihood ``[n]`` for ``params`` = (r, alpha, a, b) (Fader, Hardie & Lee
    2005, equation 6), written as the log of a sum of two terms, the second only for ``x > 0``."""
    r, alpha, a, b = (float(v) for v in params)
    common = _gammaln(r + x) - _gammaln(r) + r * math.log(alpha)
    first = common - (r + x) * np.log(alpha + big_t) + _betaln(a, b + x) - _betaln(a, b)
    repeat = x > 0
    second = np.full_like(first, -np.inf)
    xr = x[repeat]
    second[repeat] = (
        common[repeat] - (r + xr) * np.log(alpha + t_x[repeat]) + _betaln(a + 1, b + xr - 1) - _betaln(a, b)
    )
    return np.logaddexp(first, second)


def bgnbd_expected_purchases(
    params: np.ndarray, t: float, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """The expected purchases ``[n]`` in the next ``t`` days of customers (x, t_x, T) (equation 10)."""
    from scipy.special import hyp2f1

    r, alpha, a, b = (float(v) for v in params)
    z = t / (alpha + big_t + t)
    hyper = hyp2f1(r + x, b + x, a + b + x - 1.0, z)
    numerator = (a + b + x - 1.0) / (a - 1.0) * (1.0 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyper)
    alive_term = np.where(x > 0, a / np.maximum(b + x - 1.0, 1e-12) * ((alpha + big_t) / (alpha + t_x)) ** (r + x), 0.0)
    return numerator / (1.0 + alive_term)


def gamma_gamma_log_likelihood(params: np.ndarray, x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    """Each customer's Gamma-Gamma log-likelihood ``[n]`` of the mean amount ``m_x`` of ``x > 0`` purchases
    for ``params`` = (p, q, gamma) (the density of the mean of x Gamma(p, nu) amounts, nu ~ Gamma(q, gamma))."""
    p, q, gamma = (float(v) for v in params)
    return (
        _gammaln(p * x + q)
        - _gammaln(p * x)
        - _gammaln(q)
        + q * math.log(gamma)
        + (p * x - 1.0) * np.log(m_x)
        + p * x * np.log(x)
        - (p * x + q) * np.log(gamma + m_x * x)
    )


def gamma_gamma_expected_amount(params: np.ndarray, x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    """The expected amount per purchase ``[n]``: ``(gamma + m_x x) p / (p x + q - 1)``; for ``x = 0`` that is the
    population mean ``p gamma / (q - 1)``."""
    p, q, gamma = (float(v) for v in params)
    return (gamma + m_x * x) * p / (p * x + q - 1.0)


def _maximize(log_likelihood: Any, start: np.ndarray) -> tuple[np.ndarray, float, dict[str, Any]]:
    """The parameters (positive) maximizing the summed ``log_likelihood(params)``, found by L-BFGS-B on their
    logs from ``start``; (params, the maximum, how the search ended)."""
    from scipy.optimize import minimize

    def objective(log_params: np.ndarray) -> float:
        value = float(np.sum(log_likelihood(np.exp(log_params))))
        return -value if math.isfinite(value) else 1e300

    found = minimize(objective, np.log(start), method="L-BFGS-B", bounds=[(-12.0, 12.0)] * len(start))
    how = {"converged": bool(found.success), "iterations": int(found.nit), "message": str(found.message)}
    return np.exp(found.x), -float(found.fun), how


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Maximum-likelihood (r, alpha, a, b) of BG/NBD on customers (x, t_x, T); with the log-likelihood reached
    and how the search ended."""
    scale = max(float(np.mean(big_t)), 1.0)
    return _maximize(lambda v: bgnbd_log_likelihood(v, x, t_x, big_t), np.array([1.0, scale / 10, 1.0, 1.0]))


def fit_gamma_gamma(x: np.ndarray, m_x: np.ndarray) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Maximum-likelihood (p, q, gamma) of Gamma-Gamma on customers with ``x > 0`` purchases of mean ``m_x > 0``."""
    start = np.array([2.0, 3.0, max(float(np.mean(m_x)), 1e-3)])
    return _maximize(lambda v: gamma_gamma_log_likelihood(v, x, m_x), start)


def btyd_columns(table: pa.Table) -> dict[str, np.ndarray]:
    """The BTYD columns of ``table`` as float64 ``[n]`` (missing as NaN); DataError naming the columns absent."""
    absent = [name for name in BTYD_COLUMNS if name not in table.column_names]
    if absent:
        raise DataError(f"the table has no column {', '.join(absent)}; expected the BTYD columns {BTYD_COLUMNS}.")
    return {
        name: np.asarray(table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        for name in BTYD_COLUMNS
    }


def _usable(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Rows whose summary BG/NBD can read: finite, ``x >= 0``, ``0 <= t_x <= T`` and ``T > 0``."""
    x, t_x, big_t = columns[BTYD_FREQUENCY], columns[BTYD_RECENCY], columns[BTYD_AGE]
    finite = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(big_t)
    with np.errstate(invalid="ignore"):
        return finite & (x >= 0) & (t_x >= 0) & (t_x <= big_t) & (big_t > 0)


@dataclass
class BtydBaseline:
    """A fitted BG/NBD + Gamma-Gamma: ``bgnbd`` (r, alpha, a, b), ``gamma_gamma`` (p, q, gamma), the horizon
    in days it predicts over, and ``fit`` (rows used, rows left out and why, log-likelihoods, convergence)."""

    bgnbd: dict[str, float]
    gamma_gamma: dict[str, float]
    horizon_days: float
    fit: dict[str, Any] = field(default_factory=dict)
    name: str = BTYD_NAME

    def predict_table(self, table: pa.Table) -> np.ndarray:
        """The expected spend ``[n]`` over the horizon of each row of ``table`` from its BTYD columns. A row
        whose summary BG/NBD cannot read (a customer without a purchase before the cutoff: missing or zero
        age) is scored as a new customer (x = 0, T = 0), the population's expectation."""
        columns = btyd_columns(table)
        usable = _usable(columns)
        x = np.where(usable, columns[BTYD_FREQUENCY], 0.0)
        t_x = np.where(usable, columns[BTYD_RECENCY], 0.0)
        big_t = np.where(usable, columns[BTYD_AGE], 0.0)
        monetary = np.where(usable & np.isfinite(columns[BTYD_MONETARY]), columns[BTYD_MONETARY], 0.0)
        x_money = np.where(monetary > 0, x, 0.0)
        b = self.bgnbd
        g = self.gamma_gamma
        purchases = bgnbd_expected_purchases(np.array([b["r"], b["alpha"], b["a"], b["b"]]), self.horizon_days,
                                             x, t_x, big_t)  # fmt: skip
        amount = gamma_gamma_expected_amount(np.array([g["p"], g["q"], g["gamma"]]), x_money, monetary)
        return np.clip(np.nan_to_num(purchases * amount, nan=0.0, posinf=0.0), 0.0, None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``btyd.json``): version, name, fitted true, the parameters, the horizon and ``fit``."""
        return {
            "version": BTYD_VERSION,
            "name": self.name,
            "fitted": True,
            "bgnbd": dict(self.bgnbd),
            "gamma_gamma": dict(self.gamma_gamma),
            "horizon_days": float(self.horizon_days),
            "fit": dict(self.fit),
        }

    @classmethod
    def from_dict(cls, document: Any, *, file: str | None = None) -> BtydBaseline:
        """The baseline of :meth:`to_dict`; ArtifactError naming ``btyd.json`` when it is not one."""
        try:
            bgnbd = {k: float(document["bgnbd"][k]) for k in ("r", "alpha", "a", "b")}
            gamma = {k: float(document["gamma_gamma"][k]) for k in ("p", "q", "gamma")}
            horizon = float(document["horizon_days"])
        except (KeyError, TypeError, ValueError) as err:
            raise ArtifactError(
                f"'{BTYD_FILE}' could not be read ({err}); expected the fitted BG/NBD and Gamma-Gamma parameters.",
                file=file,
            ) from None
        return cls(bgnbd, gamma, horizon, dict(document.get("fit", {})))


def btyd_scores(extras: Mapping[str, Any], table: pa.Table) -> dict[str, np.ndarray]:
    """The expected spend on ``table`` of the BTYD baseline saved in a model's documents ``extras`` (its
    ``btyd.json``), by the baseline's name; empty when none was fitted."""
    document = extras.get(BTYD_FILE)
    if not isinstance(document, dict) or not document.get("fitted"):
        return {}
    baseline = BtydBaseline.from_dict(document)
    return {baseline.name: baseline.predict_table(table)}


def not_fitted(reason: str) -> dict[str, Any]:
    """The ``btyd.json`` of a baseline that was not fitted: ``{"version", "name", "fitted": false, "reason"}``."""
    return {"version": BTYD_VERSION, "name": BTYD_NAME, "fitted": False, "reason": reason}


def fit_btyd(table: pa.Table, horizon_days: float) -> BtydBaseline | dict[str, Any]:
    """BG/NBD and Gamma-Gamma fitted on the BTYD columns of ``table`` (the training rows), predicting over
    ``horizon_days``; the :func:`not_fitted` document, with its reason, when the rows cannot fit it (too few
    usable rows, too few with a repeat purchase and a positive amount). Rows BG/NBD cannot read are left out
    and counted in ``fit["rows_left_out"]``."""
    columns = btyd_columns(table)
    usable = _usable(columns)
    x, t_x, big_t = columns[BTYD_FREQUENCY][usable], columns[BTYD_RECENCY][usable], columns[BTYD_AGE][usable]
    if usable.sum() < MIN_ROWS:
        return not_fitted(f"{int(usable.sum())} training rows have a purchase history BG/NBD can read; at least "
                          f"{MIN_ROWS} are needed")  # fmt: skip
    monetary = columns[BTYD_MONETARY][usable]
    with np.errstate(invalid="ignore"):
        repeat = (x > 0) & np.isfinite(monetary) & (monetary > 0)
    if repeat.sum() < MIN_ROWS:
        return not_fitted(f"{int(repeat.sum())} training rows have a repeat purchase with a positive amount; at "
                          f"least {MIN_ROWS} are needed for Gamma-Gamma")  # fmt: skip
    bg, bg_ll, bg_how = fit_bgnbd(x, t_x, big_t)
    gg, gg_ll, gg_how = fit_gamma_gamma(x[repeat], monetary[repeat])
    fit = {
        "rows": int(usable.sum()),
        "rows_left_out": int((~usable).sum()),
        "left_out_because": "no purchase history BG/NBD can read (missing values, age 0, recency above age)",
        "gamma_gamma_rows": int(repeat.sum()),
        "bgnbd_log_likelihood": bg_ll,
        "gamma_gamma_log_likelihood": gg_ll,
        "bgnbd_search": bg_how,
        "gamma_gamma_search": gg_how,
        "method": "maximum likelihood, scipy.optimize L-BFGS-B on the parameters' logs",
    }
    if gg[1] <= 1.0:
        fit["note"] = "Gamma-Gamma's q is at most 1: a new customer's expected amount is unbounded, taken as 0"
    return BtydBaseline(
        {"r": float(bg[0]), "alpha": float(bg[1]), "a": float(bg[2]), "b": float(bg[3])},
        {"p": float(gg[0]), "q": float(gg[1]), "gamma": float(gg[2])},
        float(horizon_days),
        fit,
    )
