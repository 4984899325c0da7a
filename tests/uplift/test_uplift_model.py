"""UpliftModel and its predictor: the campaign's checks, predictions, files that load without code."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from needmap.errors import ConfigError, DataError
from needmap.uplift.generate import campaign
from needmap.uplift.model import UpliftModel, is_uplift, load_uplift


@pytest.fixture(scope="module")
def data():
    return campaign(6000, seed=5).table.drop_columns(["spend"])


def model(**kw):
    base = {"treatment": "treatment", "control": "control", "outcome": "converted", "id": "customer_id"}
    return UpliftModel(kw.pop("learner", "t"), **{**base, **kw})


def test_predict_gives_ids_as_they_came_an_uplift_per_offer_and_the_best(data) -> None:
    predictor = model().fit(data).predictor_
    out = predictor.predict(data.slice(0, 50))
    assert out.column_names == ["customer_id", "uplift_discount", "uplift_free_shipping", "best_offer", "best_uplift"]
    assert out.column("customer_id").to_pylist() == data.column("customer_id").to_pylist()[:50]
    effect = np.column_stack([out.column("uplift_discount"), out.column("uplift_free_shipping")])
    best = out.column("best_offer").to_pylist()
    for row in range(50):
        expected = "control" if effect[row].max() <= 0 else ("discount", "free_shipping")[int(np.argmax(effect[row]))]
        assert best[row] == expected
    assert np.allclose(out.column("best_uplift").to_numpy(), np.maximum(effect.max(axis=1), 0))
    arms = data.column("treatment").to_pylist()
    assert predictor.report_["arms"] == {a: arms.count(a) for a in ("control", "discount", "free_shipping")}
    assert {row["column"] for row in predictor.report_["balance"]} >= {"recency_days", "channel"}
    assert not any(row["flag"] for row in predictor.report_["balance"]), "a randomized test is balanced"


@pytest.mark.parametrize("learner", ["x", "ensemble", "dragonnet"])
def test_save_load_round_trip_gives_identical_effects(data, tmp_path, learner) -> None:
    predictor = model(learner=learner, epochs=2).fit(data).predictor_
    predictor.save(tmp_path / "m")
    assert is_uplift(tmp_path / "m")
    loaded = load_uplift(tmp_path / "m")
    assert np.array_equal(loaded.effects(data), predictor.effects(data))
    assert loaded.arms == predictor.arms
    document = json.loads((tmp_path / "m" / "uplift.json").read_text())
    assert document["kind"] == "uplift" and document["params"]["learner"] == learner
    import os
    import stat

    previous = os.umask(0o022)
    try:
        predictor.save(tmp_path / "m")  # replaces its own directory
    finally:
        os.umask(previous)
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o644 for f in (tmp_path / "m").iterdir())
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted(
        ["uplift.json", "weights.safetensors", "metrics.json", "card.md", "manifest.json", "population.json"]
    )


def test_the_checks_of_a_campaign(data) -> None:
    with pytest.raises(DataError, match="no row has the control value 'none'"):
        model(control="none").fit(data)
    few = data.filter(pa.compute.not_equal(data.column("treatment"), "discount"))
    few = pa.concat_tables([few, data.filter(pa.compute.equal(data.column("treatment"), "discount")).slice(0, 20)])
    with pytest.raises(DataError, match=r"'discount' \(20 rows\).*fewer than 50 rows"):
        model().fit(few)
    flat = data.set_column(
        data.column_names.index("converted"), "converted",
        pa.array(np.where(np.asarray(data.column("treatment").to_pylist()) == "discount", 0,
                          data.column("converted").to_numpy())),
    )  # fmt: skip
    with pytest.raises(DataError, match="'converted' is 0 in every row of arm 'discount'"):
        model().fit(flat)
    with pytest.raises(DataError, match=r"arm 'control' holds 33\.5% of the rows; 50\.0% were declared"):
        model(shares={"control": 0.5, "discount": 0.25, "free_shipping": 0.25}).fit(data)
    text = data.set_column(data.column_names.index("converted"), "converted",
                           pa.array(["yes"] * data.num_rows))  # fmt: skip
    with pytest.raises(DataError, match="outcome column 'converted' is string"):
        model().fit(text)
    with pytest.raises(DataError, match="no column 'bought'"):
        model(outcome="bought").fit(data)
    with pytest.raises(ConfigError, match="learner 'z' is not an uplift learner"):
        model(learner="z")


def test_rows_without_treatment_or_outcome_are_left_out_and_counted(data) -> None:
    treatment = data.column("treatment").to_pylist()
    treatment[3] = None
    outcome = data.column("converted").to_pylist()
    outcome[7] = None
    holed = data.set_column(data.column_names.index("treatment"), "treatment", pa.array(treatment))
    holed = holed.set_column(holed.column_names.index("converted"), "converted", pa.array(outcome))
    report = model().fit(holed).predictor_.report_
    assert report["rows_without_treatment"] == 1 and report["rows_without_outcome"] == 1
    assert report["train_rows"] + report["validation_rows"] == data.num_rows - 2


def test_a_propensity_column_is_checked(data) -> None:
    p = np.full(data.num_rows, 1 / 3)
    p[10] = 0.0
    with pytest.raises(DataError, match=r"propensity column 'p' holds 0\.0 in data row 11"):
        model(learner="dr", propensity="p").fit(data.append_column("p", pa.array(p)))


def test_params_are_stored_as_given() -> None:
    m = model(learner="x", shares={"control": 0.5, "discount": 0.5})
    assert m.get_params()["learner"] == "x" and m.get_params()["shares"] == {"control": 0.5, "discount": 0.5}
    assert m.set_params(learner="dr").learner == "dr" and m.learner == "x"
    with pytest.raises(ConfigError, match="unknown parameter"):
        m.set_params(colour="red")


@pytest.mark.slow
def test_a_zoo_network_as_the_meta_learners_outcome_model(data) -> None:
    predictor = model(learner="t", base="mlp", epochs=2, params={"hidden": [16]}).fit(data).predictor_
    assert [fit.kind for fit in predictor.fitted.models.values()] == ["mlp", "mlp", "mlp"]
    effect = predictor.effects(data.slice(0, 100))
    assert effect.shape == (100, 2) and np.isfinite(effect).all() and effect.std() > 0


@pytest.mark.slow
@pytest.mark.parametrize("learner", ["x", "tarnet"])
def test_an_amount_as_the_outcome(learner) -> None:
    spend = campaign(6000, seed=8)
    table = spend.table.drop_columns(["converted"])
    predictor = model(learner=learner, outcome="spend", epochs=3).fit(table).predictor_
    assert predictor.task == "regression"
    effect = predictor.effects(table)
    truth = spend.true_uplift("discount", outcome="spend")
    assert abs(effect[:, 0].mean() - truth.mean()) < 1.0  # in the outcome's units (spend), not points
    result = predictor.evaluate(table)
    assert result["arms"]["discount"]["auuc"] is None and np.isfinite(result["arms"]["discount"]["qini_coefficient"])
