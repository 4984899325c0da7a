"""Whom to contact, with which offer: the contact list of largest expected incremental profit.

For customer i and offer k the expected gain of a contact is ``value * effect[i, k] - cost[k]`` (``value``:
what one unit of the outcome is worth, a conversion or a unit of spend; ``cost[k]``: the offer's cost per
contact). Each customer gets at most one offer, the one of largest gain, and only when that gain is above 0.
Under a budget of N contacts, the N customers of largest gain are chosen: since every contact uses one unit of
the budget whatever its offer, that choice maximizes the total expected gain. Without a budget, every customer
with a positive gain is chosen (``max_contacts`` caps them).

A response model (one that predicts who buys, not who is changed) can rank too, by ``value * P(buy) - cost``;
:func:`response_contacts` does, and its result says that it is not causal: such a list spends the budget on
many who would have bought anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from needmap.errors import ConfigError


@dataclass(frozen=True)
class Contacts:
    """The chosen contacts, best first: ``rows`` (positions in the scored table), ``offer`` (the offer's index
    into the offers, 0-based), ``uplift`` (the predicted effect of that offer), ``gain`` (expected gain);
    ``eligible``: how many customers had a positive expected gain; ``requested``: the budget (None: none)."""

    rows: np.ndarray
    offer: np.ndarray
    uplift: np.ndarray
    gain: np.ndarray
    eligible: int
    requested: int | None

    @property
    def short(self) -> bool:
        """Fewer contacts than the budget, because fewer customers had a positive expected gain."""
        return self.requested is not None and len(self.rows) < self.requested


def offer_costs(
    offers: Sequence[str], cost: float = 0.0, cost_per_arm: Mapping[str, float] | None = None
) -> np.ndarray:
    """The cost per contact of each offer: ``cost_per_arm[offer]`` where given, else ``cost``."""
    per_arm = dict(cost_per_arm or {})
    unknown = sorted(set(per_arm) - set(offers))
    if unknown:
        raise ConfigError(
            f"--cost-per-arm names {unknown}, which are no offers of this model; expected some of {list(offers)}."
        )
    costs = np.array([float(per_arm.get(name, cost)) for name in offers], dtype=np.float64)
    if (costs < 0).any() or not np.isfinite(costs).all():
        raise ConfigError(f"offer costs {costs.tolist()}; expected numbers of 0 or more.")
    return costs


def choose_contacts(
    effect: np.ndarray,
    costs: np.ndarray,
    *,
    value: float = 1.0,
    budget: int | None = None,
    max_contacts: int | None = None,
) -> Contacts:
    """The contact list (see the module) from each customer's predicted effect of each offer ``[n, offers]``."""
    if budget is not None and max_contacts is not None:
        raise ConfigError("--budget and --max-contacts both cap the contacts; expected one of them.")
    for name, given in (("budget", budget), ("max_contacts", max_contacts)):
        if given is not None and given < 1:
            raise ConfigError(f"{name} is {given}; expected at least 1 contact.")
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"value is {value}; expected a positive worth of one unit of the outcome.")
    effect = np.asarray(effect, dtype=np.float64)
    gain = value * effect - costs[None, :]
    best = np.argmax(gain, axis=1) if gain.shape[1] else np.zeros(len(gain), dtype=np.int64)
    best_gain = gain[np.arange(len(gain)), best]
    positive = np.flatnonzero(best_gain > 0)
    order = positive[np.argsort(-best_gain[positive], kind="stable")]
    cap = budget if budget is not None else max_contacts
    chosen = order[:cap] if cap is not None else order
    return Contacts(chosen, best[chosen], effect[chosen, best[chosen]], best_gain[chosen], len(positive), budget)


def response_contacts(
    probability: np.ndarray, cost: float, *, value: float = 1.0, budget: int | None = None,
    max_contacts: int | None = None,
) -> Contacts:  # fmt: skip
    """The contact list of a response model: ranked by ``value * P(buy) - cost`` (not causal: see the module)."""
    return choose_contacts(np.asarray(probability, dtype=np.float64)[:, None], np.array([float(cost)]), value=value,
                           budget=budget, max_contacts=max_contacts)  # fmt: skip


def realized_gain(contacts: Contacts, true_effect: np.ndarray, costs: np.ndarray, value: float = 1.0) -> float:
    """The incremental profit a contact list really brings, from the true effects ``[n, offers]`` (known only on
    generated data): ``sum(value * true_effect[row, offer] - cost[offer])`` over the contacts."""
    if not len(contacts.rows):
        return 0.0
    return float(np.sum(value * true_effect[contacts.rows, contacts.offer] - costs[contacts.offer]))
