"""A lifetime-value target end to end: ``needmap train --task ltv`` on a simulated feature table (the network,
LightGBM with a Tweedie objective and BG/NBD + Gamma-Gamma, the verdict, btyd.json, the evaluation's deciles),
``needmap predict`` writing the expected spend and the chance to buy, and the errors and notes around it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import needmap as nm
from cli_run import run_cli
from ltv_simulation import ltv_table
from needmap.errors import ConfigError, DataError
from needmap.events.table_info import LABEL_SPEND
from needmap.preprocessing.target import encode_target

TRAIN = ("--target", LABEL_SPEND, "--task", "ltv", "--epochs", "2", "--drop", "label_bought,label_purchases",
         "--id", "customer_id")  # fmt: skip


@pytest.mark.slow
def test_train_and_predict_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "features.parquet"
    pq.write_table(ltv_table(400, seed=11), data)
    out = tmp_path / "model"
    code, text = run_cli("train", data, *TRAIN, "--out", out)
    assert code == 0, text
    metrics = json.loads((out / "metrics.json").read_text())
    assert "BG/NBD + Gamma-Gamma" in metrics["verdict"] and "normalized Gini" in metrics["verdict"]
    assert set(metrics["baselines"]) == {"LightGBM", "BG/NBD + Gamma-Gamma"}
    assert metrics["test"]["normalized_gini"] is not None and metrics["test"]["auc"] is not None
    btyd = json.loads((out / "btyd.json").read_text())
    assert btyd["fitted"] is True and btyd["horizon_days"] == 90 and set(btyd["bgnbd"]) == {"r", "alpha", "a", "b"}
    baselines = json.loads((out / "baselines.json").read_text())["baselines"]
    assert [b["fit"].get("objective") for b in baselines] == ["tweedie"]
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["task"] == "ltv"
    assert {c["metric"] for c in evaluation["comparisons"]} == {"normalized_gini", "spearman"}
    assert all(len(m["deciles"]) == 10 for m in evaluation["models"].values())
    # the verdict judges the spend ranking in both measures, each baseline with its paired interval
    for metric, name in (("normalized_gini", "normalized Gini"), ("spearman", "Spearman correlation")):
        shown = [c for c in evaluation["comparisons"] if c["metric"] == metric]
        parts = ", ".join(f"{c['baseline']} {c['other']:.4f} ({c['difference']:+.4f} [{c['low']:+.4f}, "
                          f"{c['high']:+.4f}])" for c in shown)  # fmt: skip
        assert f"{name} {shown[0]['deep']:.4f}; {parts}: " in metrics["verdict"]

    # the card says what the model gives, how the table was split, and what the spend metrics mean
    card = " ".join((out / "card.md").read_text().split())
    assert "as `buy_probability`" in card and "as `expected_spend`" in card and "as the column `prediction`" not in card
    split = metrics["split"]
    assert split["method"] == "cutoff"
    assert f"split by cutoff: the test rows are the customers at {split['cutoff']}; {split['horizon_gap_rows']}" in card
    assert "spend ranking (normalized Gini) (`normalized_gini`): how much of the spend" in card

    code, text = run_cli("evaluate", out, data)
    assert code == 0, text
    assert "BG/NBD + Gamma-Gamma" in text and "normalized_gini" in text

    code, text = run_cli("report", out, "--out", tmp_path / "report.html")
    assert code == 0, text
    page = (tmp_path / "report.html").read_text()
    start = page.index('id="ltv"')
    section = page[start : page.index("</section>", start)]
    assert "Lifetime value: metrics and decile calibration" in section and "BG/NBD + Gamma-Gamma" in section
    assert section.count("mean spend per decile of its prediction") == 3  # a decile table per model

    scores = tmp_path / "scores.csv"
    code, text = run_cli("predict", out, data, "--out", scores)
    assert code == 0, text
    written = pacsv.read_csv(scores)
    assert written.column_names == ["customer_id", "expected_spend", "buy_probability", "spend_if_bought"]
    assert written.column("customer_id").to_pylist() == [f"c{i:05d}" for i in range(400)]
    expected, chance = written.column("expected_spend").to_numpy(), written.column("buy_probability").to_numpy()
    assert np.all(expected >= 0) and np.all((chance > 0) & (chance < 1))
    assert expected == pytest.approx(chance * written.column("spend_if_bought").to_numpy())


@pytest.mark.slow
def test_without_a_feature_description_the_btyd_baseline_says_why(tmp_path: Path) -> None:
    table = ltv_table(300, seed=12)
    data = tmp_path / "plain.csv"
    pacsv.write_csv(table.replace_schema_metadata(None), data)
    code, text = run_cli("train", data, *TRAIN, "--out", tmp_path / "model")
    assert code == 0, text
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert "BG/NBD + Gamma-Gamma was not fitted: the table carries no feature description" in metrics["verdict"]
    assert set(metrics["baselines"]) == {"LightGBM"}


def test_a_negative_spend_is_named() -> None:
    table = ltv_table(50, seed=13)
    spend = table.column(LABEL_SPEND).to_numpy().copy()
    spend[7] = -4.5
    bad = table.set_column(table.column_names.index(LABEL_SPEND), LABEL_SPEND, pa.array(spend))
    model = nm.Model(target=LABEL_SPEND, task="ltv", epochs=1)
    with pytest.raises(Exception, match="negative") as caught:
        model.fit(bad)
    assert isinstance(caught.value, (DataError, nm.errors.SchemaError)) and LABEL_SPEND in str(caught.value)
    schema = nm.Model(target=LABEL_SPEND, task="regression").infer_schema(table)
    ltv_schema = type(schema)(schema.columns, target=LABEL_SPEND, task="ltv")
    with pytest.raises(DataError, match=r"'spend.csv', row 8, column 'label_spend': found -4.5, a negative amount"):
        encode_target(bad.column(LABEL_SPEND), ltv_schema, file="spend.csv", first_row=1)


def test_the_task_is_never_inferred_but_suggested() -> None:
    table = ltv_table(200, seed=14)
    schema = nm.Model(target=LABEL_SPEND).infer_schema(table)
    assert schema.task == "regression"
    reason = schema.column(LABEL_SPEND).reason
    assert "--task ltv" in reason
    spread = pa.table({"y": np.linspace(1, 100, 50), "x": np.arange(50.0)})
    assert "ltv" not in nm.Model(target="y").infer_schema(spread).column("y").reason


def test_the_spend_is_chosen_among_the_network_lightgbm_and_their_blend_and_the_chance_to_buy_stays() -> None:
    from needmap.workflows.selection import Choice, choose, combine

    rng = np.random.default_rng(3)
    y = rng.gamma(0.5, 50.0, 400) * (rng.random(400) < 0.4)
    noisy = y + rng.normal(0, 60.0, 400)  # the network ranks the spend badly, LightGBM well
    network = np.column_stack([np.clip(noisy, 0, None), rng.random(400), rng.random(400)])
    lightgbm = y + rng.normal(0, 1.0, 400)
    auto = choose("auto", LABEL_SPEND, "ltv", y, network, {"LightGBM": lightgbm})
    assert auto.scorer in ("LightGBM", "blend") and auto.metric == "normalized_gini"
    assert auto.validation["LightGBM"] > auto.validation["network"]  # chosen on the expected spend, column 0
    assert "the chance to buy is the network's" in auto.reason
    asked = choose("lightgbm", LABEL_SPEND, "ltv", y, network, {"LightGBM": lightgbm})
    assert asked.scorer == "LightGBM" and asked.how == "lightgbm"
    with pytest.raises(ConfigError, match="not trained"):
        choose("linear", LABEL_SPEND, "ltv", y, network, {"LightGBM": lightgbm})

    class Fixed:
        name = "LightGBM"

        def predict(self, x: object) -> np.ndarray:
            return np.array([10.0, -1.0, 6.0])

    outputs = np.array([[4.0, 0.5, 8.0], [2.0, 0.2, 10.0], [3.0, 0.0, 0.0]], dtype=np.float32)
    scored = combine(Choice(LABEL_SPEND, "LightGBM"), outputs, [Fixed()], None)
    # LightGBM's spend (a negative one clipped to 0), the network's chance, their quotient as spend if bought
    assert scored.dtype == np.float32
    np.testing.assert_allclose(scored, [[10.0, 0.5, 20.0], [0.0, 0.2, 0.0], [6.0, 0.0, 0.0]])
    blended = combine(Choice(LABEL_SPEND, "blend", 0.25), outputs, [Fixed()], None)
    np.testing.assert_allclose(blended[:, 0], [8.5, 0.0, 5.25])
    np.testing.assert_allclose(blended[:, 1], outputs[:, 1])
    assert combine(Choice(LABEL_SPEND), outputs, [Fixed()], None) is outputs
