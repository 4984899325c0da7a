"""The options of a generated purchase log and its season: what :mod:`needmap.events.generate` draws from
and :mod:`needmap.events.truth` computes with (docs/generator.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from needmap.declare import Options, number, option, whole

SECONDS_PER_DAY = 86_400
#: Relative activity by hour of day (0 to 23): quiet at night, a midday and an evening peak.
_NIGHT_AND_MORNING = [0.2, 0.12, 0.08, 0.06, 0.06, 0.1, 0.25, 0.5, 0.8, 1.0, 1.15, 1.3]  # 0h to 11h
_AFTERNOON_AND_EVENING = [1.45, 1.35, 1.25, 1.2, 1.2, 1.3, 1.5, 1.75, 1.9, 1.7, 1.15, 0.55]  # 12h to 23h
HOUR_PROFILE = np.concatenate([_NIGHT_AND_MORNING, _AFTERNOON_AND_EVENING])
#: Relative activity by weekday, Monday first: Sunday busiest, Friday and Saturday quietest.
WEEKDAY_PROFILE = np.array([1.05, 1.0, 1.0, 0.95, 0.9, 0.85, 1.25])


def _iso_day(value: Any) -> str | None:
    try:
        np.datetime64(value, "D")
    except (ValueError, TypeError):
        return "a date in ISO form, such as '2020-01-01'"
    return None


@dataclass
class LogOptions(Options):
    """The options of a generated purchase log: its size, the seed and the latent model's parameters."""

    kind = "generator"

    customers: int = option(2000, help="how many customers the log holds", check=whole(1))
    start: str = option("2020-01-01", help="the first day of the log (ISO date)", check=_iso_day)
    days: int = option(730, help="how many days the log covers", check=whole(1))
    seed: int = option(0, help="the seed: the same options and seed give the same log", check=whole(0))
    rate_shape: float = option(
        0.6, help="shape of the Gamma law of the purchase rates (below 1: heavy-tailed)", check=number(0, strict=True)
    )
    rate_scale: float = option(
        0.04, help="scale of the Gamma law of the purchase rates, per day", check=number(0, strict=True)
    )
    dropout_a: float = option(0.8, help="first Beta parameter of the dropout probability", check=number(0, strict=True))
    dropout_b: float = option(
        4.0, help="second Beta parameter of the dropout probability", check=number(0, strict=True)
    )
    spend_mu: float = option(0.0, help="mean of log spend level (quantity per line is 1 + Poisson(level))")
    spend_sigma: float = option(0.8, help="standard deviation of log spend level", check=number(0))
    categories: int = option(12, help="how many item categories", check=whole(1))
    items_per_category: int = option(40, help="how many items in each category", check=whole(1))
    taste_concentration: float = option(
        0.4,
        help="Dirichlet concentration of category tastes per category (small: a few favourites)",
        check=number(0, strict=True),
    )
    basket_lines: float = option(2.5, help="mean lines per order (1 + Poisson)", check=number(1))
    views_per_line: float = option(1.5, help="mean views before each purchased line (1 + Poisson)", check=number(1))
    cart_share: float = option(0.8, help="share of purchased lines put in the cart first", check=number(0, high=1))
    browse_ratio: float = option(
        1.0, help="browsing sessions without purchase per expected purchase while active", check=number(0)
    )
    browse_views: float = option(3.0, help="mean views in a browsing session (1 + Poisson)", check=number(1))
    browse_cart_share: float = option(
        0.15, help="share of browsing sessions that end with an abandoned cart", check=number(0, high=1)
    )
    return_share: float = option(0.03, help="share of purchased lines returned later", check=number(0, high=1))
    return_days: float = option(14.0, help="mean days from a purchase to its return (after one day)", check=number(0))
    seasonality: float = option(
        1.0,
        help="strength of the weekly and daily seasonality (0: flat, 1: the full profiles)",
        check=number(0, high=1),
    )
    chunk_customers: int = option(
        20_000, help="customers made at a time (bounds memory; part of what the seed reproduces)", check=whole(1)
    )


class Clock:
    """The season: operational time ``U(t) = integral of w`` (days) and its inverse, exact for the hourly profile."""

    def __init__(self, start: np.datetime64, days: int, seasonality: float) -> None:
        weekday0 = int((start.astype("datetime64[D]").astype(np.int64) + 3) % 7)  # 1970-01-01 was a Thursday
        profile = np.outer(WEEKDAY_PROFILE / WEEKDAY_PROFILE.mean(), HOUR_PROFILE / HOUR_PROFILE.mean()).ravel()
        weights = 1.0 + seasonality * (profile - 1.0)
        hours = np.arange(days * 24)
        w = weights[(weekday0 * 24 + hours) % 168]
        self.grid = np.arange(days * 24 + 1) / 24.0
        self.operational = np.concatenate([[0.0], np.cumsum(w) / 24.0])
        self.end = self.operational[-1]

    def forward(self, days: np.ndarray | float) -> np.ndarray:
        return np.interp(days, self.grid, self.operational)

    def inverse(self, operational: np.ndarray) -> np.ndarray:
        return np.interp(operational, self.operational, self.grid)
