"""The scorer a trained model answers with, end to end: chosen on the network's validation rows and no
other (each candidate's figure worked out again here on exactly those rows, and a signal planted in the
test rows alone changing nothing), a blend that scores the same saved and loaded, batch and one row,
a model whose LightGBM was chosen predicting from the command line, and cross-validation and the test rows
disagreeing (on generated rows) stated in one verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import needmap as nm
from needmap.cli import app
from needmap.data.provenance import take_rows
from needmap.training_rows import clean_training_table
from needmap.workflows.baseline import LIGHTGBM, LOGISTIC, load_baselines
from needmap.workflows.selection import Choice
from needmap.workflows.train import TrainOutcome, run_train
from needmap.workflows.train_table import split_rows
from reference_scores import run_train_parts


class Planted(NamedTuple):
    """A table whose test rows' labels are one candidate's scores there (the median split into yes / no)."""

    table: pa.Table
    test_idx: np.ndarray
    x_test: Any
    scores: np.ndarray
    labels: np.ndarray


def plant_test_labels(
    table: pa.Table, fitted: nm.Predictor, target: str, dropped: list[str], candidate: str
) -> Planted:
    """``table`` with the labels of the test rows of run_train's random split (seed 0) replaced so that
    ``candidate`` ("network" or a baseline's name) of ``fitted`` is perfect on the test rows alone. The test
    rows of a random split do not depend on the labels: training again on the result splits the same rows."""
    clean, _ = clean_training_table(table, fitted.schema_, user_dropped=dropped)
    assert clean.num_rows == table.num_rows
    _, test_idx, _ = split_rows(clean, fitted.schema_, test_size=0.2, split="random", time_column=None, seed=0)
    x_test = fitted.preprocessor_.transform(take_rows(table, pa.array(test_idx)))
    scores = (
        fitted.network_score(x_test) if candidate == "network"
        else next(b for b in fitted.baselines_of(target) if b.name == candidate).predict(x_test)
    )  # fmt: skip
    labels = np.asarray(table.column(target).to_pylist(), dtype=object)
    labels[test_idx] = np.where(scores > np.median(scores), "yes", "no")
    planted = table.set_column(table.schema.get_field_index(target), target, pa.array(labels.tolist()))
    return Planted(planted, test_idx, x_test, scores, labels)


SMALL = {"epochs": 2, "progress": False, "batch_size": 256, "hidden": (16,), "embedding_dim": 4}
runner = CliRunner()


@pytest.mark.slow
def test_the_choice_is_made_on_the_networks_validation_rows_alone(bank_table: pa.Table, tmp_path: Path) -> None:
    """Each candidate's validation AUC in selection.json is its AUC on the rows the network validated on
    (found again here from the split), so no test row took part in the choice."""
    model = nm.Model("mlp", target="y", drop=["duration"], **SMALL)
    outcome = run_train(bank_table, model, out=tmp_path / "m", n_boot=50)
    fitted = outcome.model.predictor_
    assert fitted is not None and fitted.fit_rows_ is not None and fitted.selection_ is not None
    choice = fitted.selection_[0]
    saved = json.loads((tmp_path / "m" / "selection.json").read_text())
    assert saved == {"version": 1, "targets": [choice.to_dict()]}
    train, test = run_train_parts(bank_table, fitted.schema_, ["duration"])
    valid_rows = take_rows(train, pa.array(fitted.fit_rows_["validation"]))
    assert choice.rows == valid_rows.num_rows == outcome.model.report_["validation_rows"]
    x = fitted.preprocessor_.transform(valid_rows)
    y = np.asarray(fitted.preprocessor_.encode_target(valid_rows))
    expected = {"network": roc_auc_score(y, fitted.network_score(x))}
    for base in load_baselines(json.loads((tmp_path / "m" / "baselines.json").read_text())):
        expected[base.name] = roc_auc_score(y, base.predict(x))
    for name, value in expected.items():
        assert choice.validation[name] == pytest.approx(value, abs=1e-9), name
    # the test rows' figures differ from them: the choice did not read those
    x_test = fitted.preprocessor_.transform(test)
    y_test = np.asarray(fitted.preprocessor_.encode_target(test))
    assert roc_auc_score(y_test, fitted.network_score(x_test)) != pytest.approx(expected["network"], abs=1e-6)
    # the test metrics are those of the chosen scorer, which predict and evaluate use
    assert outcome.metrics["test"]["auc"] == pytest.approx(roc_auc_score(y_test, fitted.score(x_test)), abs=1e-9)
    assert nm.load(tmp_path / "m").evaluate(test)["auc"] == pytest.approx(outcome.metrics["test"]["auc"], abs=1e-9)


@pytest.mark.slow
def test_a_signal_planted_in_the_test_rows_alone_changes_no_choice(bank_table: pa.Table) -> None:
    """The test rows' labels are replaced by the candidate the validation rows rank last, so that on the
    test rows alone it is perfect: trained again on the same training rows, the model makes the same choice
    on the same validation figures, and its test figure is that of its chosen scorer, not the planted one."""

    def train(table: pa.Table) -> tuple[TrainOutcome, nm.Predictor]:
        outcome = run_train(table, nm.Model("mlp", target="y", drop=["duration"], **SMALL), out=None,
                            split="random", n_boot=50)  # fmt: skip
        assert outcome.model.predictor_ is not None and outcome.model.predictor_.selection_ is not None
        return outcome, outcome.model.predictor_

    first, fitted = train(bank_table)
    choice = fitted.selection_[0]
    singles = {name: value for name, value in choice.validation.items() if name != "blend" and value is not None}
    last = min(singles, key=lambda name: singles[name])
    assert last != choice.scorer
    planted = plant_test_labels(bank_table, fitted, "y", ["duration"], last)
    test_idx, x_test, planted_scores, labels = planted.test_idx, planted.x_test, planted.scores, planted.labels

    second, refitted = train(planted.table)
    again = refitted.selection_[0]
    assert again.to_dict() == choice.to_dict()
    y_test = (labels[test_idx] == "yes").astype(int)
    assert roc_auc_score(y_test, planted_scores) > 0.99  # the test rows point at the planted candidate
    chosen_test = roc_auc_score(y_test, refitted.score(x_test))
    assert chosen_test < 0.99
    assert second.metrics["test"]["auc"] == pytest.approx(chosen_test, abs=1e-9)
    assert first.metrics["test"]["auc"] != pytest.approx(chosen_test, abs=1e-3)


@pytest.mark.slow
def test_a_blend_scores_the_same_saved_and_loaded_batch_and_one_row(bank_table: pa.Table, tmp_path: Path) -> None:
    model = nm.Model("mlp", target="y", drop=["duration"], id=None, **SMALL)
    outcome = run_train(bank_table, model, out=tmp_path / "blend", n_boot=50, select="blend")
    fitted = outcome.model.predictor_
    assert fitted is not None and fitted.selection_ is not None
    choice = fitted.selection_[0]
    assert choice.scorer == "blend" and choice.how == "blend" and 0.0 <= choice.weight <= 1.0
    loaded = nm.load(tmp_path / "blend")
    rows = outcome.test_table
    assert rows is not None
    batch = loaded.predict_proba(rows)
    np.testing.assert_array_equal(batch, fitted.predict_proba(rows))
    # the blend is the weighted mean of the network's and LightGBM's probabilities
    x = loaded.preprocessor_.transform(rows)
    lightgbm = next(b for b in loaded.baselines_of("y") if b.name == LIGHTGBM)
    w = choice.weight
    np.testing.assert_allclose(batch, w * loaded.network_score(x) + (1 - w) * lightgbm.predict(x), rtol=1e-12)
    # one raw row through the online path gives the batch's score
    for i in (0, 17, 101):
        row = {name: rows.column(name)[i].as_py() for name in rows.column_names}
        np.testing.assert_allclose(loaded.predict_proba(row), batch[i : i + 1], rtol=1e-6, atol=1e-7)
    # the card says what the model answers with
    card = (tmp_path / "blend" / "card.md").read_text()
    assert f"Scores with a blend of the mlp network ({w:.2f}) and LightGBM ({1 - w:.2f})" in card


@pytest.mark.slow
def test_a_model_whose_lightgbm_was_chosen_predicts_from_the_command_line(bank_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    result = runner.invoke(
        app,
        ["train", str(bank_csv), "--target", "y", "--drop", "duration", "--epochs", "2", "--hidden", "16",
         "--quiet", "--select", "lightgbm", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())
    assert "verdict: Scores with LightGBM: as asked (select lightgbm)." in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"] == metrics["baselines"][LIGHTGBM] and metrics["network_test"] != metrics["test"]
    scores = tmp_path / "scores.csv"
    result = runner.invoke(app, ["predict", str(out), str(bank_csv), "--out", str(scores)])
    assert result.exit_code == 0, result.output
    predicted = pacsv.read_csv(scores).column("score").to_numpy()
    # LightGBM's own model text from baselines.json, scored by LightGBM itself on needmap's encoded rows
    document = json.loads((out / "baselines.json").read_text())
    entry = next(b for b in document["baselines"] if b["name"] == LIGHTGBM)
    booster = lgb.Booster(model_str=entry["model"])
    loaded = nm.load(out)
    table = nm.read(bank_csv, delimiter=";")
    x = loaded.preprocessor_.transform(table)  # LightGBM's inputs: the numerics, then the categories' ids
    design = np.hstack([x.numeric.astype(np.float64), x.categorical.astype(np.float64)])
    np.testing.assert_allclose(predicted, booster.predict(design), rtol=1e-9)
    assert LOGISTIC in {b["name"] for b in document["baselines"]}


def _campaign_table(rows: int, seed: int) -> pa.Table:
    """Seeded campaign-shaped rows: three numerics and a channel, a response whose log-odds are linear in them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    channel = rng.choice(["email", "sms", "push", "mail"], size=rows)
    logit = -1.5 + 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.4 * x[:, 0] * x[:, 2] + 0.6 * (channel == "sms")
    responded = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pa.table({
        "recency": x[:, 0], "spend": x[:, 1], "visits": x[:, 2], "channel": channel,
        "responded": np.where(responded, "yes", "no"),
    })  # fmt: skip


@pytest.mark.slow
def test_cross_validation_and_the_test_rows_disagreeing_give_one_verdict_that_says_both(tmp_path: Path) -> None:
    """With --cv the scorer is chosen on the out-of-fold scores of the training rows; when the test rows then
    favour another model (here planted: the test labels are another candidate's scores, so that on the test
    rows alone it is perfect), the command still prints one verdict: the choice, on what it was made, and that
    the other model did better on the test rows. No second, contradicting "cross-validation verdict"."""
    options = ["--target", "responded", "--split", "random", "--cv", "2", "--epochs", "2",
               "--batch-size", "256", "--hidden", "16", "--embedding-dim", "4", "--quiet"]  # fmt: skip
    table = _campaign_table(3000, seed=7)
    first_csv = tmp_path / "campaign.csv"
    pacsv.write_csv(table, first_csv)
    first = runner.invoke(app, ["train", str(first_csv), "--out", str(tmp_path / "first"), *options])
    assert first.exit_code == 0, first.output
    fitted = nm.load(tmp_path / "first")
    choice = json.loads((tmp_path / "first" / "selection.json").read_text())["targets"][0]
    assert choice["on"] == "out-of-fold (2-fold cross-validation)"
    other = next(name for name in ("LightGBM", "logistic regression", "network") if name != choice["scorer"])
    planted_csv = tmp_path / "planted.csv"
    pacsv.write_csv(plant_test_labels(table, fitted, "responded", [], other).table, planted_csv)

    second = runner.invoke(app, ["train", str(planted_csv), "--out", str(tmp_path / "second"), *options],
                           env={"COLUMNS": "400"})  # fmt: skip
    assert second.exit_code == 0, second.output
    # the same choice, on the same out-of-fold figures: the test rows took no part in it
    again = json.loads((tmp_path / "second" / "selection.json").read_text())["targets"][0]
    assert again == choice
    metrics = json.loads((tmp_path / "second" / "metrics.json").read_text())
    verdict = metrics["verdict"]
    named = "mlp network" if other == "network" else other
    assert verdict.startswith(f"Scores with {Choice.from_dict(again).label('mlp network')}: ")
    assert "(out-of-fold (2-fold cross-validation) auc: " in verdict
    aucs = [c for c in metrics["comparisons"] if c["metric"] == "auc"]
    assert next(c for c in aucs if c["baseline"] == named)["high"] < 0  # the planted one is better, beyond noise
    # the sentence names the strongest of those that did better beyond noise
    strongest = max((c for c in aucs if c["high"] < 0), key=lambda c: c["other"])["baseline"]
    names = [c["baseline"] for c in aucs if c["low"] > 0]
    beaten = f"; better than {_and(names)}" if names else ""
    assert verdict.endswith(f": {strongest} did better on the test rows{beaten}.")
    output = " ".join(second.output.split())
    assert output.count("verdict:") == 1 and "cross-validation verdict" not in output
    assert f"verdict: {verdict}" in output


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
