"""The campaign generator: seeded, shaped like real randomized tests, its truth consistent with its table."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.errors import ConfigError
from needmap.uplift.generate import campaign


@pytest.fixture(scope="module")
def big():
    return campaign(60_000, seed=3)


def test_same_seed_same_campaign_and_other_seed_another() -> None:
    one, two, other = campaign(500, seed=1), campaign(500, seed=1), campaign(500, seed=2)
    assert one.table.equals(two.table)
    assert np.array_equal(one.conversion, two.conversion)
    assert not one.table.equals(other.table)


def test_shapes_of_real_campaigns(big) -> None:
    t = big.table
    assert big.arms == ("control", "discount", "free_shipping")
    arms = np.asarray(t.column("treatment").to_pylist())
    shares = [np.mean(arms == a) for a in big.arms]
    assert np.allclose(shares, 1 / 3, atol=0.01)
    base = big.conversion[:, 0]
    assert np.percentile(base, 1) >= 0.01 and np.percentile(base, 99) <= 0.21  # base rates of 1-20%
    assert 0.05 < base.mean() < 0.10
    effect = big.true_uplift("discount")
    assert 0.01 < np.abs(effect).mean() < 0.06  # effects of a few points
    converted = np.asarray(t.column("converted"))
    for k, arm in enumerate(big.arms):  # observed rates follow the truth
        assert abs(converted[arms == arm].mean() - big.conversion[arms == arm, k].mean()) < 0.006
    spend = np.asarray(t.column("spend"))
    assert (spend[converted == 0] == 0).all() and (spend[converted == 1] > 0).all()


def test_planted_effects_by_segment(big) -> None:
    seg = big.segment
    discount, shipping = big.true_uplift("discount"), big.true_uplift("free_shipping")
    assert discount[seg == "lapsed"].mean() > 0.03
    assert discount[seg == "loyal"].mean() < -0.03  # sleeping dogs
    assert shipping[seg == "rural"].mean() > discount[seg == "rural"].mean() + 0.02
    best = big.best_arm()
    assert np.mean(best[seg == "lapsed"] == "discount") > 0.9
    assert np.mean(best[seg == "rural"] == "free_shipping") > 0.7
    assert big.true_uplift("discount", outcome="spend").shape == (60_000,)


def test_shares_offers_and_bad_arguments() -> None:
    c = campaign(4000, offers=1, shares=(0.8, 0.2), seed=0)
    arms = np.asarray(c.table.column("treatment").to_pylist())
    assert c.arms == ("control", "discount") and abs(np.mean(arms == "control") - 0.8) < 0.03
    assert campaign(100, offers=3).arms[-1] == "gift"
    with pytest.raises(ConfigError, match="expected 2 positive shares"):
        campaign(100, offers=1, shares=(0.5, 0.3, 0.2))
    with pytest.raises(ConfigError, match="offers is 4"):
        campaign(100, offers=4)
    with pytest.raises(ConfigError, match="not an offer"):
        c.true_uplift("control")
