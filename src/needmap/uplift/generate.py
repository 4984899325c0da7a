"""A seeded randomized campaign with several offers and known heterogeneous effects.

Real randomized campaigns are rare in public and never come with the true effect of each offer on each
customer, so a method's recovery of the truth can only be watched on generated data. This generator imitates
the shapes of the public ones:

- **arms**: a control and one or more offers, drawn at random in fixed shares (by default a third each, as in
  Kevin Hillstrom's MineThatData e-mail test: 64,000 customers, no e-mail / men's / women's e-mail);
- **base rates**: the chance to convert without an offer runs from about 1% (lapsed one-time buyers) to about
  20% (frequent, recent buyers), 6-7% on average, as visits and conversions do in the Hillstrom and Criteo
  uplift data;
- **effects of a few points that differ by segment**: the discount lifts lapsed customers most (+4 to +6
  points) and lowers the chance of recent frequent buyers (the "sleeping dogs" whom a contact annoys); free
  shipping lifts rural and app customers; older customers react less. So each offer has segments where it is
  best, segments where it does harm, and customers for whom no offer pays;
- **amounts**: a converting customer spends a Gamma-distributed basket whose mean grows with their past spend;
  the discount makes baskets 15% smaller, so the best offer for revenue can differ from the best for
  conversions.

The effects act on the log-odds of converting, so they are larger in points where the base rate is larger,
as in real campaigns. Every column a model needs is observed; the truth (each customer's chance to convert
and expected spend under every arm) is returned beside the table, never in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from needmap.errors import ConfigError

#: The offers, in order, when a campaign has this many; more than three get generic names.
OFFER_NAMES = ("discount", "free_shipping", "gift")
CONTROL = "control"
#: How much smaller a basket is under the discount.
DISCOUNT_BASKET = 0.85


@dataclass(frozen=True)
class Campaign:
    """A generated campaign: the observed table and the truth behind it.

    Attributes:
        table: one row per customer: ``customer_id``, the covariates, ``treatment`` (the arm drawn),
            ``converted`` (0/1) and ``spend`` (0 when not converted).
        arms: the arm names, control first (the values of ``treatment``).
        conversion: float64 ``[n, len(arms)]``: each customer's true chance to convert under each arm.
        spend: float64 ``[n, len(arms)]``: each customer's true expected spend under each arm.
        segment: each customer's planted segment (``lapsed``, ``loyal``, ``rural``, ``app``, ``other``), the
            groups whose effects the module docstring describes.
    """

    table: pa.Table
    arms: tuple[str, ...]
    conversion: np.ndarray
    spend: np.ndarray
    segment: np.ndarray

    def true_uplift(self, arm: str, outcome: str = "converted") -> np.ndarray:
        """Each customer's true effect of ``arm`` against control: points of conversion chance
        (``outcome="converted"``) or expected spend (``outcome="spend"``)."""
        if arm not in self.arms[1:]:
            raise ConfigError(f"arm {arm!r} is not an offer of this campaign; expected one of {list(self.arms[1:])}.")
        truth = self._truth(outcome)
        return truth[:, self.arms.index(arm)] - truth[:, 0]

    def best_arm(
        self, outcome: str = "converted", cost: Sequence[float] | None = None, value: float = 1.0
    ) -> np.ndarray:
        """Each customer's best arm by true expected gain, ``value * effect - cost`` (control when no offer gains)."""
        truth = self._truth(outcome)
        gain = value * (truth - truth[:, :1])
        if cost is not None:
            gain[:, 1:] -= np.asarray(cost, dtype=np.float64)
        return np.asarray(self.arms, dtype=object)[np.argmax(gain, axis=1)]

    def _truth(self, outcome: str) -> np.ndarray:
        if outcome == "converted":
            return self.conversion
        if outcome == "spend":
            return self.spend
        raise ConfigError(f"outcome {outcome!r} is not one of this campaign's; expected 'converted' or 'spend'.")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def campaign(
    customers: int = 100_000,
    *,
    offers: int = 2,
    shares: Sequence[float] | None = None,
    seed: int = 0,
) -> Campaign:
    """A randomized campaign of ``customers`` rows with a control and ``offers`` offers (1 to 3).

    ``shares``: the chance of each arm, control first (default: equal). Same seed, same campaign."""
    if customers < 1:
        raise ConfigError(f"customers is {customers}; expected at least 1.")
    if not 1 <= offers <= len(OFFER_NAMES):
        raise ConfigError(f"offers is {offers}; expected 1 to {len(OFFER_NAMES)}.")
    arms = (CONTROL, *OFFER_NAMES[:offers])
    if shares is None:
        p = np.full(len(arms), 1.0 / len(arms))
    else:
        p = np.asarray(shares, dtype=np.float64)
        if p.shape != (len(arms),) or (p <= 0).any() or not np.isclose(p.sum(), 1.0):
            raise ConfigError(
                f"shares is {list(shares)}; expected {len(arms)} positive shares (control first) summing to 1."
            )
    rng = np.random.default_rng(seed)
    n = customers
    frequency = 1 + rng.negative_binomial(2, 0.35, size=n)  # purchases in the past year
    recency = np.minimum(365, np.ceil(rng.exponential(40 + 300 / frequency))).astype(np.int64)
    tenure = recency + rng.integers(30, 2000, size=n)
    history = np.round(frequency * rng.lognormal(3.6, 0.5, size=n), 2)
    channel = rng.choice(np.array(["web", "app", "store"]), size=n, p=[0.45, 0.25, 0.30])
    region = rng.choice(np.array(["urban", "suburban", "rural"]), size=n, p=[0.40, 0.35, 0.25])
    age = np.clip(np.round(rng.normal(44, 14, size=n)), 18, 90).astype(np.int64)
    newsletter = rng.random(n) < 0.55
    visits = rng.poisson(np.where(recency < 30, 3.0, np.where(recency < 120, 1.2, 0.3)))
    noise_a = rng.normal(size=n)
    noise_b = rng.choice(np.array(["a", "b", "c", "d"]), size=n)

    base = -3.3 + 0.55 * np.log1p(frequency) - 0.004 * recency + 0.25 * np.log1p(visits) + 0.15 * newsletter
    lapsed = recency > 180
    loyal = (recency <= 30) & (frequency >= 6)
    rural = region == "rural"
    app = channel == "app"
    older = age > 60
    effects = [
        # discount: lapsed customers most, then middling recency; a contact annoys recent frequent buyers.
        np.where(lapsed, 1.0, np.where(recency > 60, 0.45, 0.1)) - 0.75 * loyal - 0.2 * older,
        # free shipping: rural and app customers; little for the rest.
        0.05 + 0.55 * rural + 0.4 * app - 0.15 * loyal - 0.25 * older,
        # gift: a small lift everywhere, a little more for newsletter readers.
        0.15 + 0.2 * newsletter - 0.1 * older,
    ][:offers]
    conversion = np.column_stack([_sigmoid(base)] + [_sigmoid(base + tau) for tau in effects])
    basket = 25.0 + 9.0 * np.log1p(history)
    scale = np.ones(len(arms))
    if offers >= 1:
        scale[1] = DISCOUNT_BASKET
    spend_truth = conversion * basket[:, None] * scale[None, :]

    arm_index = rng.choice(len(arms), size=n, p=p)
    chance = conversion[np.arange(n), arm_index]
    converted = (rng.random(n) < chance).astype(np.int64)
    shape = 2.0
    amounts = rng.gamma(shape, basket * scale[arm_index] / shape)
    spend = np.where(converted == 1, np.round(amounts, 2), 0.0)

    segment = np.where(
        lapsed, "lapsed", np.where(loyal, "loyal", np.where(rural, "rural", np.where(app, "app", "other")))
    )
    table = pa.table(
        {
            "customer_id": pa.array([f"C{i:06d}" for i in range(n)]),
            "recency_days": pa.array(recency),
            "frequency": pa.array(frequency.astype(np.int64)),
            "history_spend": pa.array(history),
            "tenure_days": pa.array(tenure.astype(np.int64)),
            "visits_30d": pa.array(visits.astype(np.int64)),
            "channel": pa.array(channel),
            "region": pa.array(region),
            "age": pa.array(age),
            "newsletter": pa.array(newsletter.astype(np.int64)),
            "noise_a": pa.array(np.round(noise_a, 4)),
            "noise_b": pa.array(noise_b),
            "treatment": pa.array(np.asarray(arms, dtype=object)[arm_index].astype(str)),
            "converted": pa.array(converted),
            "spend": pa.array(spend),
        }
    )
    return Campaign(table, arms, conversion, spend_truth, segment)
