"""Why this offer: exact per-column terms of the X and DR learners' effects, pointing at the planted columns."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.errors import ConfigError
from needmap.uplift.generate import campaign
from needmap.uplift.model import UpliftModel
from needmap.uplift.why import offer_terms

#: The columns the generator's two offers' effects depend on (recency, frequency, region, channel, age).
PLANTED = {"recency_days", "frequency", "region", "channel", "age"}


@pytest.fixture(scope="module")
def data():
    return campaign(20_000, seed=3).table


@pytest.mark.parametrize("learner", ["x", "dr"])
def test_the_terms_add_up_to_the_effect_and_point_at_the_planted_columns(data, learner) -> None:
    predictor = UpliftModel(learner, treatment="treatment", control="control", outcome="converted",
                            id="customer_id", drop="spend").fit(data).predictor_  # fmt: skip
    rows = data.slice(0, 800)
    columns, terms, mean = offer_terms(predictor, rows)
    np.testing.assert_allclose(terms.sum(axis=2) + mean, predictor.effects(rows), atol=1e-9)
    share = np.abs(terms).sum(axis=(0, 1)) / np.abs(terms).sum()
    planted = sum(s for c, s in zip(columns, share, strict=True) if c in PLANTED)
    assert planted > 0.6, dict(zip(columns, share.round(3), strict=True))
    reasons = predictor.explain(rows.slice(0, 5), top=2, background=data).to_pylist()
    assert reasons and all(r["offer"] in ("discount", "free_shipping") for r in reasons)
    assert all(r["reason"].endswith(("raises the offer's effect", "lowers the offer's effect")) for r in reasons)
    assert {r["customer_id"] for r in reasons} <= set(rows.column("customer_id").to_pylist()[:5])


def test_other_learners_say_they_cannot(data) -> None:
    predictor = UpliftModel("t", treatment="treatment", control="control", outcome="converted",
                            drop="spend").fit(data.slice(0, 3000)).predictor_  # fmt: skip
    with pytest.raises(ConfigError, match="explain works for the x and dr learners over lightgbm"):
        predictor.explain(data.slice(0, 5))
