"""`needmap train` with the validation options: both baselines, the verdict, --cv, --calibrate, --track,
--group-column and the profit settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import run_cli

FAST = ["--epochs", "2", "--batch-size", "256", "--hidden", "32,16", "--quiet"]


def run(*args: str | Path) -> tuple[int, str]:
    return run_cli(*args, env={"COLUMNS": "200"})


@pytest.mark.slow
def test_train_with_every_validation_option(bank_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, mlruns = tmp_path / "bank", tmp_path / "mlruns"
    code, output = run(
        "train", bank_csv, "--target", "y", "--drop", "duration", "--out", out, "--cv", "2", "--calibrate", "isotonic",
        "--validation", "0.2", "--group-column", "job", "--contact-cost", "1.5", "--conversion-value", "25",
        "--track", mlruns, *FAST,
    )  # fmt: skip
    assert code == 0, output
    metrics = json.loads((out / "metrics.json").read_text())
    for heading in ("test (logistic regression)", "test (LightGBM)", "2-fold cross-validation", "ece_uncalibrated"):
        assert heading in output
    assert f"verdict: {metrics['verdict']}" in " ".join(output.split())
    # one verdict: the scorer was chosen on the folds' out-of-fold scores, each candidate's figure there pooled
    assert "cross-validation verdict" not in output and "out-of-fold (2-fold cross-validation)" in metrics["verdict"]
    choice = metrics["selection"]
    assert choice["on"] == "out-of-fold (2-fold cross-validation)" and choice["rows"] == 2400
    for name in ("logistic regression", "LightGBM"):
        assert choice["validation"][name] == pytest.approx(metrics["cv"]["pooled"][name]["auc"], abs=1e-9)
    assert choice["validation"]["network"] == pytest.approx(metrics["cv"]["pooled"]["mlp network"]["auc"], abs=1e-9)
    assert [f["fold"] for f in metrics["cv"]["folds"]] == [1, 2] and metrics["cv"]["rows"] == 2400
    assert metrics["calibration"]["method"] == "isotonic" and (out / "calibration.json").is_file()
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["profit_settings"] == {"contact_cost": 1.5, "conversion_value": 25.0}
    assert evaluation["group_auc"]["column"] == "job"
    assert set(evaluation["models"]) - {"blend"} == {"mlp network", "logistic regression", "LightGBM"}
    run_id = output.split("run id ")[1].split()[0]
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run_ = MlflowClient(tracking_uri=mlruns.resolve().as_uri()).get_run(run_id)
    assert run_.data.metrics["test_auc"] == pytest.approx(metrics["test"]["auc"])
    assert run_.data.params["calibrate"] == "isotonic" and run_.data.tags["mlflow.runName"] == "bank"


def test_bad_validation_options_are_one_clear_line(bank_csv: Path, tmp_path: Path) -> None:
    base = ["train", bank_csv, "--target", "y", "--drop", "duration", "--out", tmp_path / "m", *FAST]
    code, output = run(*base, "--group-column", "branch")
    assert code == 2 and "column 'branch'" in output and "Traceback" not in output
    code, output = run(*base, "--calibrate", "sigmoid")
    assert code == 2 and "'isotonic', 'platt'" in output
    code, output = run(*base, "--cv", "1")
    assert code == 2 and "cv=1" in output
    code, output = run(*base, "--calibrate", "platt", "--validation", "0")
    assert code == 2 and "validation" in output
    assert not (tmp_path / "m").exists()
