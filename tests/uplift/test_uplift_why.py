"""Why this offer: every learner's per-column terms add up to its predicted effects (exactly over LightGBM, within
Integrated Gradients' promise for networks) and say what the generator planted."""

from __future__ import annotations

import numpy as np
import pytest

from needmap.uplift import tree_shap, why
from needmap.uplift.generate import campaign
from needmap.uplift.meta import with_arm
from needmap.uplift.model import UpliftModel, load_uplift
from needmap.uplift.why import offer_terms

#: The columns the generator's two offers' effects depend on (recency, frequency, region, channel, age).
PLANTED = {"recency_days", "frequency", "region", "channel", "age"}
TREES = ("s", "t", "x", "dr", "ensemble")


@pytest.fixture(scope="module")
def data():
    return campaign(20_000, seed=3).table


@pytest.fixture(scope="module")
def fitted(data):
    """The learners over LightGBM on the 0/1 outcome, each fitted once for the module."""
    done = {}

    def fit(learner):
        if learner not in done:
            done[learner] = UpliftModel(learner, treatment="treatment", control="control", outcome="converted",
                                        id="customer_id", drop="spend").fit(data).predictor_  # fmt: skip
        return done[learner]

    return fit


@pytest.mark.parametrize("learner", TREES)
def test_the_terms_add_up_to_the_effect_and_point_at_the_planted_columns(data, fitted, learner) -> None:
    predictor = fitted(learner)
    rows = data.slice(0, 800)
    columns, terms, mean = offer_terms(predictor, rows)
    np.testing.assert_allclose(terms.sum(axis=2) + mean, predictor.effects(rows), rtol=1e-6, atol=1e-9)
    share = np.abs(terms).sum(axis=(0, 1)) / np.abs(terms).sum()
    planted = sum(s for c, s in zip(columns, share, strict=True) if c in PLANTED)
    assert planted > 0.6, dict(zip(columns, share.round(3), strict=True))
    reasons = predictor.explain(rows.slice(0, 5), top=2, background=data).to_pylist()
    assert reasons and all(r["offer"] in ("discount", "free_shipping") for r in reasons)
    assert all(r["reason"].endswith(("raises the offer's effect", "lowers the offer's effect")) for r in reasons)
    assert {r["customer_id"] for r in reasons} <= set(rows.column("customer_id").to_pylist()[:5])


@pytest.mark.parametrize("learner", ["s", "t"])
def test_the_terms_say_what_the_generator_planted(data, fitted, learner) -> None:
    """The discount lifts lapsed customers and annoys recent ones (recency_days); free shipping lifts rural
    customers (region): the terms of those columns for those offers carry those signs, by segment."""
    rows = data.slice(0, 800)
    columns, terms, _ = offer_terms(fitted(learner), rows)
    recency = rows.column("recency_days").to_numpy()
    rural = np.asarray(rows.column("region").to_pylist()) == "rural"
    discount_by_recency = terms[:, 0, columns.index("recency_days")]
    shipping_by_region = terms[:, 1, columns.index("region")]
    assert discount_by_recency[recency > 180].mean() > 0.005 > -0.005 > discount_by_recency[recency <= 30].mean()
    assert np.corrcoef(recency, discount_by_recency)[0, 1] > 0.5
    assert shipping_by_region[rural].mean() > 0.01 > 0 > shipping_by_region[~rural].mean()


def test_the_s_learners_trees_are_read_as_lightgbm_reads_them(data, fitted, tmp_path, monkeypatch) -> None:
    """With nothing held fixed the trees' terms are LightGBM's own (both ways of computing them); with the arm
    held fixed the arm gets no term and the terms add up to LightGBM's score; a saved model explains the same."""
    predictor = fitted("s")
    rows = data.slice(0, 300)
    x = predictor.preprocessor.transform(rows)
    n_num = x.numeric.shape[1]
    baseline = predictor.fitted.models["mu"].fitted
    design = baseline._inputs(with_arm(x, 1, 3))
    booster = baseline._booster()
    own = booster.predict(design, pred_contrib=True)
    raw = booster.predict(design, raw_score=True)
    for cells in (tree_shap.CELLS, 1 << 10):  # a table of every leaf's patterns; then each row integrated
        monkeypatch.setattr(tree_shap, "CELLS", cells)
        terms, mean, score = tree_shap.Forest(booster).terms(design, set())
        np.testing.assert_allclose(terms, own[:, :-1], atol=1e-10)
        np.testing.assert_allclose(mean, own[:, -1], atol=1e-10)
        fixed = {n_num, n_num + 1}
        terms, mean, score = tree_shap.Forest(booster).terms(design, fixed)
        assert np.abs(terms[:, sorted(fixed)]).max() == 0.0
        np.testing.assert_allclose(terms.sum(axis=1) + mean, raw, atol=1e-10)
        np.testing.assert_allclose(score, raw, atol=1e-10)
        assert np.ptp(mean) < 1e-12  # the mean: the arm's prediction with no column known, the same for all
    monkeypatch.undo()
    predictor.save(tmp_path / "s")
    _, before, _ = offer_terms(predictor, rows.slice(0, 50))
    _, after, _ = offer_terms(load_uplift(tmp_path / "s"), rows.slice(0, 50))
    np.testing.assert_allclose(after, before, atol=1e-12)


@pytest.mark.parametrize("learner", ["s", "t"])
def test_amount_effects_add_up_too(data, learner) -> None:
    predictor = UpliftModel(learner, treatment="treatment", control="control", outcome="spend",
                            drop="converted").fit(data.slice(0, 4000)).predictor_  # fmt: skip
    assert predictor.task == "regression"
    rows = data.slice(0, 300)
    _, terms, mean = offer_terms(predictor, rows)
    np.testing.assert_allclose(terms.sum(axis=2) + mean, predictor.effects(rows), rtol=1e-6, atol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize(("learner", "base"), [("tarnet", "lightgbm"), ("dragonnet", "lightgbm"), ("x", "mlp")])
def test_networks_terms_add_up_within_the_promise(data, learner, base) -> None:
    """Integrated Gradients: within 1% of each effect's change from the reference row's (1e-4 under a point)."""
    train = data.slice(0, 4000)
    predictor = UpliftModel(learner, base=base, treatment="treatment", control="control", outcome="converted",
                            id="customer_id", drop="spend", epochs=2).fit(train).predictor_  # fmt: skip
    rows = data.slice(0, 200)
    columns, terms, mean = offer_terms(predictor, rows, background=train)
    effect = predictor.effects(rows)
    error = np.abs(terms.sum(axis=2) + mean - effect)
    assert (error <= why.allowed(effect - mean, "binary")).all(), error.max()
    assert np.ptp(mean, axis=0).max() == 0.0  # the reference row's effect
    assert np.abs(terms).sum() > 0 and terms.shape == (200, 2, len(columns))
    reasons = predictor.explain(rows.slice(0, 3), top=1, background=train).to_pylist()
    assert reasons and all(r["offer"] in ("discount", "free_shipping") for r in reasons)


@pytest.mark.slow
def test_one_customer_is_explained_against_the_saved_campaign(data, fitted, tmp_path) -> None:
    """The model saves its campaign summarized (population.json): one customer alone is compared with the
    campaign's customers, as if the campaign were given as the background, after a save and a load too; and a
    network measures its terms from the campaign's reference row."""
    predictor = fitted("x")
    assert predictor.population is not None and predictor.population.rows == data.num_rows
    one = data.slice(11, 1)
    alone = predictor.explain(one, top=3).to_pylist()
    given = predictor.explain(one, top=3, background=data).to_pylist()
    assert [r["column"] for r in alone] == [r["column"] for r in given]
    for a, b in zip(alone, given, strict=True):
        if a["compared"].startswith(("higher", "lower")):  # a number's rank among 1,001 quantiles
            assert abs(int(a["compared"].split()[2].rstrip("%")) - int(b["compared"].split()[2].rstrip("%"))) <= 1
        else:
            assert a["compared"] == b["compared"]
    predictor.save(tmp_path / "m")
    loaded = load_uplift(tmp_path / "m")
    assert loaded.explain(one, top=3).to_pylist() == alone
    train = data.slice(0, 3000)
    network = UpliftModel("tarnet", treatment="treatment", control="control", outcome="converted",
                          id="customer_id", drop="spend", epochs=1).fit(train).predictor_  # fmt: skip
    _, terms, mean = offer_terms(network, one, background=network.population)
    _, given_terms, given_mean = offer_terms(network, one, background=train)
    np.testing.assert_allclose(mean, given_mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(terms, given_terms, rtol=1e-4, atol=1e-6)
