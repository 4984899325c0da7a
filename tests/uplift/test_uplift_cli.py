"""``needmap train --task uplift``, then ``predict``, ``evaluate`` and ``target``: a campaign file to a contact list."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pcsv
import pytest

from cli_run import run_cli
from needmap.uplift.generate import campaign

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def campaign_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("campaign") / "campaign.csv"
    pcsv.write_csv(campaign(6000, seed=2).table, path)
    return path


@pytest.fixture(scope="module")
def trained(campaign_file, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("models") / "campaign"
    code, text = run_cli("train", campaign_file, "--task", "uplift", "--target", "converted", "--treatment",
                         "treatment", "--control", "control", "--id", "customer_id", "--drop", "spend", "--model", "t",
                         "--out", out)  # fmt: skip
    assert code == 0, text
    return out, text


def test_train_prints_the_learners_and_the_response_model_and_a_verdict(trained) -> None:
    out, text = trained
    assert "uplift on 1,201 test rows" in text and "response model" in text and "verdict:" in text
    assert "t *" in text and "discount" in text and "free_shipping" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["chosen"] == "t" and set(metrics["candidates"]) == {"t", "response model"}
    assert metrics["rows"]["train"] + metrics["rows"]["test"] == 6000 and metrics["arms"]["control"] > 1900


def test_predict_evaluate_and_target(trained, campaign_file, tmp_path) -> None:
    out, _ = trained
    code, text = run_cli("predict", out, campaign_file, "--out", tmp_path / "scores.csv")
    assert code == 0, text
    scores = pcsv.read_csv(tmp_path / "scores.csv")
    assert scores.num_rows == 6000 and "uplift_discount" in scores.column_names
    code, text = run_cli("evaluate", out, campaign_file, "--json-out", tmp_path / "m.json")
    assert code == 0, text
    assert "Qini" in text and json.loads((tmp_path / "m.json").read_text())["arms"]["discount"]["rows_treated"] > 1900
    code, text = run_cli("target", out, campaign_file, "--budget", "300", "--cost", "0.5", "--value", "40",
                         "--out", tmp_path / "contacts.csv")  # fmt: skip
    assert code == 0, text
    contacts = pcsv.read_csv(tmp_path / "contacts.csv")
    assert contacts.column_names == ["customer_id", "offer", "predicted_uplift", "expected_gain", "rank"]
    assert contacts.num_rows == 300 and "300 contacts of 6,000 customers" in text
    gains = contacts.column("expected_gain").to_pylist()
    assert gains == sorted(gains, reverse=True) and min(gains) > 0
    code, text = run_cli("target", out, campaign_file, "--budget", "6000", "--cost", "3", "--value", "40",
                         "--out", tmp_path / "few.csv")  # fmt: skip
    assert code == 0 and "have a positive expected gain" in text
    assert pcsv.read_csv(tmp_path / "few.csv").num_rows < 6000


def test_uplift_options_need_the_uplift_task(campaign_file, tmp_path) -> None:
    code, text = run_cli("train", campaign_file, "--target", "converted", "--treatment", "treatment",
                         "--out", tmp_path / "m")  # fmt: skip
    assert code != 0 and "--treatment belong to an uplift model" in text
    code, text = run_cli("train", campaign_file, "--task", "uplift", "--target", "converted", "--treatment",
                         "treatment", "--out", tmp_path / "m")  # fmt: skip
    assert code != 0 and "needs --control" in text


def test_target_with_a_response_model_ranks_by_the_chance_to_buy_and_says_it_is_not_causal(
    campaign_file, tmp_path
) -> None:
    code, text = run_cli("train", campaign_file, "--target", "converted", "--id", "customer_id", "--drop",
                         "spend,treatment", "--epochs", "1", "--no-baseline", "--out", tmp_path / "buyers")  # fmt: skip
    assert code == 0, text
    code, text = run_cli("target", tmp_path / "buyers", campaign_file, "--budget", "50", "--out", tmp_path / "l.csv")
    assert code == 0, text
    assert "ranks by the chance to buy, not by what the contact" in text
    contacts = pcsv.read_csv(tmp_path / "l.csv")
    assert contacts.column_names == ["customer_id", "offer", "probability", "expected_gain", "rank"]
    assert contacts.num_rows == 50


def test_explain_gives_the_reasons_of_each_customers_best_offer(trained, campaign_file, tmp_path) -> None:
    model, _ = trained
    rows = pcsv.read_csv(campaign_file).slice(0, 30)
    pcsv.write_csv(rows, tmp_path / "some.csv")
    code, text = run_cli("explain", model, tmp_path / "some.csv", "--top", "2", "--out", tmp_path / "why.parquet")
    assert code == 0, text
    import pyarrow.parquet as pq

    why = pq.read_table(tmp_path / "why.parquet")
    assert why.column_names[:2] == ["customer_id", "offer"] and "reason" in why.column_names
    assert set(why.column("customer_id").to_pylist()) <= set(rows.column("customer_id").to_pylist())
    assert all("offer's effect" in r for r in why.column("reason").to_pylist())
