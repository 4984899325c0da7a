"""The contact list under a budget: exactly N, fewer only when fewer gain, each customer's best offer."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.errors import ConfigError
from needmap.uplift.target import choose_contacts, offer_costs, realized_gain, response_contacts

EFFECT = np.array(
    [
        [0.10, 0.02],  # 0: discount
        [0.01, 0.08],  # 1: free shipping
        [-0.05, -0.01],  # 2: nothing pays
        [0.04, 0.05],  # 3: free shipping, barely
        [0.30, 0.00],  # 4: discount, the best customer
    ]
)


def test_exactly_the_budget_best_gain_first() -> None:
    contacts = choose_contacts(EFFECT, np.zeros(2), budget=3)
    assert contacts.rows.tolist() == [4, 0, 1] and contacts.offer.tolist() == [0, 0, 1]
    assert np.allclose(contacts.gain, [0.30, 0.10, 0.08]) and not contacts.short


def test_fewer_only_when_fewer_gain_and_it_says_so() -> None:
    contacts = choose_contacts(EFFECT, np.zeros(2), budget=5)
    assert contacts.rows.tolist() == [4, 0, 1, 3] and contacts.short and contacts.eligible == 4
    everyone = choose_contacts(EFFECT, np.zeros(2))
    assert everyone.rows.tolist() == [4, 0, 1, 3] and not everyone.short


def test_costs_and_value_decide_the_offer() -> None:
    # value 100 per conversion; free shipping costs 5 a contact: customer 3 gains 4 - 0 with the discount, 5 - 5 with it
    costs = offer_costs(("discount", "free_shipping"), 0.0, {"free_shipping": 5.0})
    contacts = choose_contacts(EFFECT, costs, value=100.0, budget=10)
    assert dict(zip(contacts.rows.tolist(), contacts.offer.tolist(), strict=True)) == {4: 0, 0: 0, 1: 1, 3: 0}
    assert contacts.rows.tolist() == [4, 0, 3, 1] and np.allclose(contacts.gain, [30.0, 10.0, 4.0, 3.0])
    truth = EFFECT / 2
    assert realized_gain(contacts, truth, costs, value=100.0) == pytest.approx(15 + 5 + (4 - 5) + 2)
    capped = choose_contacts(EFFECT, costs, value=100.0, max_contacts=2)
    assert capped.rows.tolist() == [4, 0]


def test_a_response_model_ranks_by_expected_value() -> None:
    contacts = response_contacts(np.array([0.2, 0.9, 0.5, 0.01]), 0.05, value=1.0, budget=3)
    assert contacts.rows.tolist() == [1, 2, 0]


def test_bad_budgets_and_costs() -> None:
    with pytest.raises(ConfigError, match="budget is 0"):
        choose_contacts(EFFECT, np.zeros(2), budget=0)
    with pytest.raises(ConfigError, match="both cap"):
        choose_contacts(EFFECT, np.zeros(2), budget=2, max_contacts=3)
    with pytest.raises(ConfigError, match="no offers of this model"):
        offer_costs(("discount",), 1.0, {"gift": 2.0})
    with pytest.raises(ConfigError, match="value is -1"):
        choose_contacts(EFFECT, np.zeros(2), value=-1.0)
