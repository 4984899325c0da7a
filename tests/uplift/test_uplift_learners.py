"""Every uplift learner recovers the planted effects: their sign by segment, and the best offer per segment."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.uplift.generate import campaign
from needmap.uplift.model import LEARNER_NAMES, UpliftModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    return campaign(30_000, seed=11)


@pytest.fixture(scope="module")
def scored(data):
    """Each learner's predicted effects on the campaign's own customers (fitted on them: the planted effects are
    large enough that recovering them needs no held-out rows)."""
    out = {}
    for learner in LEARNER_NAMES:
        model = UpliftModel(learner, treatment="treatment", control="control", outcome="converted",
                            id="customer_id", drop="spend", epochs=8, seed=0, threads=2)  # fmt: skip
        out[learner] = model.fit(data.table).predictor_.effects(data.table)
    return out


@pytest.mark.parametrize("learner", LEARNER_NAMES)
def test_the_sign_of_each_planted_effect_by_segment(data, scored, learner) -> None:
    effect = scored[learner]
    seg = data.segment
    discount, shipping = effect[:, 0], effect[:, 1]
    assert discount[seg == "lapsed"].mean() > 0.01, "the discount lifts lapsed customers"
    assert discount[seg == "loyal"].mean() < 0, "the discount lowers recent frequent buyers' chance"
    assert shipping[seg == "rural"].mean() > 0.01, "free shipping lifts rural customers"


@pytest.mark.parametrize("learner", LEARNER_NAMES)
def test_the_best_offer_per_segment(data, scored, learner) -> None:
    effect = scored[learner]
    seg = data.segment
    for segment, best in (("lapsed", 0), ("rural", 1)):
        means = effect[seg == segment].mean(axis=0)
        assert int(np.argmax(means)) == best, f"{segment}: {means}"


def test_learners_beat_a_random_order_against_the_truth(data, scored) -> None:
    truth = np.column_stack([data.true_uplift(a) for a in data.arms[1:]])
    for learner, effect in scored.items():
        for k in range(2):
            assert np.corrcoef(effect[:, k], truth[:, k])[0, 1] > 0.3, learner


@pytest.mark.parametrize("learner", LEARNER_NAMES)
def test_most_customers_of_a_segment_get_its_planted_best_offer(data, scored, learner) -> None:
    best = np.argmax(scored[learner], axis=1)  # the offer predict() names in best_offer (0: discount)
    seg = data.segment
    assert np.mean(best[seg == "lapsed"] == 0) > 0.6
    assert np.mean(best[seg == "rural"] == 1) > 0.5
