"""needmap tune --cv: each trial scored on k folds of the training rows (the test rows in none of them), pruned
after its 2nd fold at the earliest, its folds, mean and spread in tuning.json, and LightGBM tuned with as many
trials on the same folds; checked on small generated tables."""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import optuna
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import torch
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import needmap as nm
from needmap.cli import app
from needmap.errors import ConfigError
from needmap.estimator import Model, clone
from needmap.models import MLP, registry
from needmap.models.space import Choice
from needmap.workflows.baseline import LGBM_DEFAULTS
from needmap.workflows.study import trial_record
from needmap.workflows.tune import TuneOutcome, contenders_line, improvement_line, run_tune
from needmap.workflows.tune_cv import MIN_FOLDS_BEFORE_PRUNING, report_fold, search_summary

#: Small and quick to train, and enough to learn the generated signal (lr fixed: it is not searched).
FAST = {"epochs": 3, "hidden": (16,), "batch_size": 64, "lr": 0.01, "progress": False, "threads": 1}
K = 3


def generated(n: int = 900, seed: int = 0) -> pa.Table:
    """A binary target that two numeric columns and a category explain (logistic), and a row number."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue", "grey"], size=n)
    logit = 2.0 * x1 - 1.5 * x2 + np.where(colour == "red", 1.5, 0.0) - 1.0
    y = np.where(rng.random(n) < 1.0 / (1.0 + np.exp(-logit)), "yes", "no")
    return pa.table({"row_id": np.arange(n), "x1": x1, "x2": x2, "colour": colour, "y": y})


def cv_model(architecture: str = "mlp", **options: Any) -> Model:
    return Model(architecture, target="y", id=["row_id"], **{**FAST, **options})


class RowSpy:
    """Records the row numbers of every table a network fit, and LightGBM's preparation, trained on."""

    def __init__(self) -> None:
        self.fits: list[np.ndarray] = []
        self.prepared: list[np.ndarray] = []

    def wrap(self, method: Any, into: list[np.ndarray]) -> Any:
        def spy(model: Model, data: Any, *args: Any, **kwargs: Any) -> Any:
            table = data[0] if isinstance(data, list) else data  # Model._fit_taken's list (Model.fit, fit_taking)
            into.append(np.asarray(table.column("row_id").to_numpy()))
            return method(model, data, *args, **kwargs)

        return spy


@pytest.fixture(scope="module")
def rows() -> pa.Table:
    return generated()


@pytest.fixture(scope="module")
def cv_searched(
    tmp_path_factory: pytest.TempPathFactory, rows: pa.Table
) -> Iterator[tuple[TuneOutcome, RowSpy, list[dict[str, Any]]]]:
    """A 3-trial search, 3 folds per trial, LightGBM beside it; every fit's rows and every progress record kept."""
    spy, seen = RowSpy(), []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Model, "_fit_taken", spy.wrap(Model._fit_taken, spy.fits))
        patch.setattr(Model, "prepare", spy.wrap(Model.prepare, spy.prepared))
        outcome = run_tune(
            rows, cv_model(), trials=3, timeout_s=None, out=tmp_path_factory.mktemp("tune-cv"), cv=K,
            progress=seen.append, train_options={"n_boot": 50},
        )  # fmt: skip
    yield outcome, spy, seen


# -- fold by fold, without training ------------------------------------------------------------------------
def test_a_trial_reports_its_running_mean_and_is_pruned_from_its_second_fold_only() -> None:
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.9))
    trial = study.ask()
    report_fold(trial, [0.5], prune=True)  # the pruner would stop it already: one fold is not enough
    with pytest.raises(optuna.TrialPruned):
        report_fold(trial, [0.5, 0.7], prune=True)
    kept = study.ask()
    for n in (1, 2, 3):
        report_fold(kept, [0.5] * n, prune=False)  # the default configuration: never pruned
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    study.tell(kept, 0.5)
    assert MIN_FOLDS_BEFORE_PRUNING == 2
    assert study.trials[0].intermediate_values == {1: 0.5, 2: pytest.approx(0.6)}  # step = folds scored
    assert study.trials[0].user_attrs["folds"] == [0.5, 0.7]
    # The record of the pruned trial: its value is its last running mean, with the folds it was scored on.
    record = trial_record(study.trials[0])
    assert record["state"] == "pruned" and record["value"] == pytest.approx(0.6)
    assert record["folds"] == [0.5, 0.7] and record["mean"] == pytest.approx(0.6)
    assert record["std"] == pytest.approx(statistics.pstdev([0.5, 0.7]))


def test_a_trial_of_one_split_has_no_fold_keys() -> None:
    study = optuna.create_study()
    study.tell(study.ask(), 0.7)
    assert set(trial_record(study.trials[0])) == {"number", "state", "value", "params", "seconds"}


def test_the_summary_picks_the_best_complete_trial_in_the_studys_direction() -> None:
    for direction, best in (("maximize", 2), ("minimize", 1)):
        study = optuna.create_study(direction=direction)
        for values in ([0.6, 0.8], [0.5, 0.5], [0.9, 0.9]):
            trial = study.ask()
            trial.set_user_attr("folds", values)
            study.tell(trial, float(np.mean(values)))
        pruned = study.ask()
        pruned.set_user_attr("folds", [0.99, 0.99])
        study.tell(pruned, state=optuna.trial.TrialState.PRUNED)  # never the best, however good its folds
        summary = search_summary("s", direction, study.get_trials())
        assert summary["best_trial"] == best and len(summary["trials"]) == 4
        assert summary["best_std"] == pytest.approx(statistics.pstdev(summary["trials"][best]["folds"]))
    assert search_summary("s", "maximize", [])["best_value"] is None


# -- refused before any trial ---------------------------------------------------------------------------------
def test_cv_needs_two_folds_and_shuffled_rows(rows: pa.Table, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cv=1 folds; expected a whole number of folds >= 2"):
        run_tune(rows, cv_model(), trials=1, timeout_s=None, out=tmp_path, cv=1)
    with pytest.raises(ConfigError, match=r"split is 'time'; expected a split of stratified or random with cv"):
        run_tune(rows, cv_model(), trials=1, timeout_s=None, out=tmp_path, cv=3, split="time", time_column="row_id")
    with pytest.raises(ConfigError, match=r"cv=2000 folds for 720 rows"):  # the training part: 80% of 900
        run_tune(rows, cv_model(), trials=1, timeout_s=None, out=tmp_path, cv=2000)
    assert not (tmp_path / "study.db").exists() and not (tmp_path / "model").exists()


def test_cli_declares_cv_and_refuses_bad_uses(tmp_path: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(app, ["tune", "--help"], env={"COLUMNS": "200"}).output
    assert "--cv" in text and "tune scores each trial by their mean" in " ".join(text.replace("│", " ").split())
    assert "--tune-lightgbm" in text and "--no-tune-lightgbm" in text
    data = tmp_path / "rows.csv"
    pacsv.write_csv(generated(300), data)
    args = ["tune", str(data), "--target", "y", "--out", str(tmp_path / "t"), "--trials", "1"]
    for extra, message in (
        (["--cv", "1"], "cv=1 folds; expected a whole number of folds >= 2"),
        (["--cv", "3", "--split", "time", "--time-column", "row_id"], "split is 'time'"),
        (["--tune-lightgbm"], "--tune-lightgbm tunes LightGBM on the folds of --cv; expected --cv K"),
    ):
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 2 and message in " ".join(result.output.split()), (extra, result.output)
    assert not (tmp_path / "t" / "model").exists()


# -- a cross-validated search ---------------------------------------------------------------------------------
def _fold_parts(rows: pa.Table, outcome: TuneOutcome, f: int) -> tuple[pa.Table, pa.Table]:
    assert outcome.folds is not None
    train = outcome.train_index
    return rows.take(pa.array(train[outcome.folds != f])), rows.take(pa.array(train[outcome.folds == f]))


def test_a_trials_value_is_the_mean_of_its_folds_scored_again_here(
    cv_searched: tuple[TuneOutcome, RowSpy, list[dict[str, Any]]], rows: pa.Table
) -> None:
    outcome, _, _ = cv_searched
    assert outcome.folds is not None and len(outcome.folds) == len(outcome.train_index) == 720
    # Stratified folds: every row of the training part in one of K folds, each with its share of positives.
    positives = np.asarray(rows.column("y").to_pylist())[outcome.train_index] == "yes"
    assert sorted(np.bincount(outcome.folds)) == [240, 240, 240]
    assert np.ptp([positives[outcome.folds == f].sum() for f in range(K)]) <= 1
    for record in (outcome.trials[0], next(t for t in outcome.trials if t["number"] == outcome.document["best_trial"])):
        expected = []
        trial_model = cv_model().set_params(**record["params"], seed=0)
        # the schema is inferred from the whole table, as the search infers it, with the trial's buckets
        schema = trial_model.infer_schema(rows)
        for f in range(K):
            rest, held = _fold_parts(rows, outcome, f)
            model = clone(trial_model).fit(rest, validation=0.1, schema=schema)
            truth = np.asarray(held.column("y").to_pylist()) == "yes"
            expected.append(roc_auc_score(truth, model.predict_proba(held)))
        assert record["folds"] == pytest.approx(expected, abs=1e-9)
        assert record["value"] == pytest.approx(float(np.mean(expected)), abs=1e-9)
        assert record["std"] == pytest.approx(statistics.pstdev(expected), abs=1e-9)


def test_the_test_rows_are_in_no_fold_and_no_fit(
    cv_searched: tuple[TuneOutcome, RowSpy, list[dict[str, Any]]], rows: pa.Table
) -> None:
    outcome, spy, _ = cv_searched
    test_ids = set(outcome.test_index.tolist())
    train_ids = set(outcome.train_index.tolist())
    assert len(test_ids) == 180 and not test_ids & train_ids and len(train_ids | test_ids) == rows.num_rows
    # 3 trials x 3 folds, then the best configuration retrained on the whole training part.
    assert len(spy.fits) == 3 * K + 1
    for fit_rows in spy.fits[:-1]:
        assert not set(fit_rows.tolist()) & test_ids
        held = train_ids - set(fit_rows.tolist())
        assert len(held) == 240 and held in [set(outcome.train_index[outcome.folds == f].tolist()) for f in range(K)]
    assert set(spy.fits[-1].tolist()) == train_ids
    # LightGBM's rows are prepared once per fold, from the same rows as the network's fits.
    assert [set(r.tolist()) for r in spy.prepared] == [set(r.tolist()) for r in spy.fits[:K]]


def test_tuning_json_holds_each_trials_folds_and_lightgbm_beside_with_as_many_trials(
    cv_searched: tuple[TuneOutcome, RowSpy, list[dict[str, Any]]],
) -> None:
    outcome, _, seen = cv_searched
    document = json.loads((outcome.model_dir / "tuning.json").read_text())
    assert document == nm.load(outcome.model_dir).extras_["tuning.json"]
    assert document["study_name"] == "needmap-y-mlp-cv3"
    assert document["cv"] == {"folds": K, "split": "stratified", "seed": 0}
    for trial in document["trials"]:
        assert trial["state"] == "complete" and len(trial["folds"]) == K
        assert trial["mean"] == pytest.approx(np.mean(trial["folds"])) == pytest.approx(trial["value"])
        assert trial["std"] == pytest.approx(statistics.pstdev(trial["folds"]))
    best = next(t for t in document["trials"] if t["number"] == document["best_trial"])
    assert document["best_value"] == max(t["value"] for t in document["trials"]) == best["mean"]
    assert document["best_std"] == best["std"]
    # LightGBM: its own study, as many trials, its first the baseline's configuration, scored on the same folds.
    lightgbm = document["lightgbm"]
    assert lightgbm["study_name"] == "needmap-y-mlp-cv3-lightgbm"
    assert len(lightgbm["trials"]) == len(document["trials"]) == 3
    assert lightgbm["trials"][0]["default"] is True and lightgbm["trials"][0]["params"] == LGBM_DEFAULTS
    assert all(len(t["folds"]) == K for t in lightgbm["trials"] if t["state"] == "complete")
    assert lightgbm["best_value"] == max(t["value"] for t in lightgbm["trials"] if t["state"] == "complete")
    assert 0.75 < lightgbm["best_value"] <= 1 and 0.6 < document["best_value"] <= 1  # both learnt the signal
    # Progress: the network's trials, then LightGBM's, each record with its folds.
    assert [(r.get("search"), r["number"]) for r in seen] == [(None, 0), (None, 1), (None, 2)] + [
        ("LightGBM", n) for n in range(3)
    ]
    # The printed lines: the chosen trial's mean and spread, and both contenders.
    assert improvement_line(outcome) == (
        f"3-fold CV AUC: default {document['default_value']:.4f} -> best {best['mean']:.4f} ± {best['std']:.4f} "
        f"(trial {best['number']})"
    )
    assert contenders_line(outcome) == (
        f"network: AUC {best['mean']:.4f} ± {best['std']:.4f} over 3 folds; LightGBM (tuned, 3 trials): "
        f"{lightgbm['best_value']:.4f} ± {lightgbm['best_std']:.4f}"
    )


@pytest.mark.slow
def test_continuing_a_search_adds_as_many_lightgbm_trials_and_refuses_a_single_split_study(
    cv_searched: tuple[TuneOutcome, RowSpy, list[dict[str, Any]]], rows: pa.Table, tmp_path: Path
) -> None:
    outcome, _, _ = cv_searched
    shutil.copy(outcome.out / "study.db", tmp_path / "study.db")
    again = run_tune(rows, cv_model(), trials=1, timeout_s=None, out=tmp_path, cv=K, train_options={"baseline": False})
    assert [t["number"] for t in again.trials] == [0, 1, 2, 3]
    assert again.lightgbm is not None and [t["number"] for t in again.lightgbm["trials"]] == [0, 1, 2, 3]
    assert [t.get("default", False) for t in again.lightgbm["trials"]].count(True) == 1
    # Mean values over K folds and single-split values are not comparable: one study holds one kind.
    with pytest.raises(ConfigError, match="was made for"):
        run_tune(rows, cv_model(), trials=1, timeout_s=None, out=tmp_path, study_name="needmap-y-mlp-cv3")


class Silenced(MLP):
    """An MLP whose ``silent`` option multiplies its output by zero: every row gets the same score, AUC 0.5.
    Every searched trial is silent (the search space has no other value); the default configuration is not."""

    search_space: ClassVar = {**MLP.search_space, "silent": Choice((True,))}

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[dict] | None = None,
        embedding_dim: int = 16,
        hidden: Sequence[int] = (256, 128),
        activation: str = "relu",
        dropout: float = 0.1,
        batch_norm: bool = False,
        silent: bool = False,
    ) -> None:
        super().__init__(
            n_numeric, cardinalities, n_outputs, lists, embedding_dim, hidden, activation, dropout, batch_norm
        )
        self.hyper["silent"] = bool(silent)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()) -> Any:
        out = super().forward(numeric, categorical, lists)
        return out * 0.0 if self.hyper["silent"] else out


@pytest.mark.slow
def test_a_hopeless_trial_is_pruned_after_its_second_fold(
    rows: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry._MODELS, "test-silenced", Silenced)
    Silenced.model_name = "test-silenced"
    # The median rule from the 2nd trial, with no warm-up of its own: only the search's 2 folds hold it back.
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    outcome = run_tune(
        rows, cv_model("test-silenced"), trials=2, timeout_s=None, out=tmp_path, cv=4, pruner=pruner,
        tune_lightgbm=False, train_options={"baseline": False},
    )  # fmt: skip
    default, hopeless = outcome.trials
    assert default["default"] is True and default["state"] == "complete" and len(default["folds"]) == 4
    assert default["params"]["silent"] is False and default["mean"] > 0.75
    assert hopeless["params"]["silent"] is True and hopeless["state"] == "pruned"
    assert hopeless["folds"] == [0.5, 0.5] and hopeless["value"] == 0.5  # constant scores: AUC 0.5 exactly
    study = optuna.load_study(study_name=outcome.study_name, storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert study.trials[1].intermediate_values == {1: 0.5, 2: 0.5}  # stopped after fold 2, not fold 1
    assert outcome.lightgbm is None and "lightgbm" not in outcome.document
    assert contenders_line(outcome) == f"network: AUC {default['mean']:.4f} ± {default['std']:.4f} over 4 folds"


@pytest.mark.slow
def test_cli_tune_cv(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    pacsv.write_csv(generated(600), data)
    args = ["tune", str(data), "--target", "y", "--id", "row_id", "--out", str(tmp_path / "t"), "--trials", "2"]
    fast = ["--epochs", "2", "--param", "hidden=16,8", "--lr", "0.01", "--quiet", "--cv", "2"]
    result = CliRunner().invoke(app, [*args, *fast], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "trial 0 complete" in output and "(2 folds)" in output and "LightGBM trial 1" in output
    assert "2-fold CV AUC: default" in output and "over 2 folds; LightGBM (tuned, 2 trials):" in output
    document = json.loads((tmp_path / "t" / "model" / "tuning.json").read_text())
    assert document["cv"]["folds"] == 2 and len(document["lightgbm"]["trials"]) == 2
    # Off when asked: no LightGBM search, the network's CV search alone.
    result = CliRunner().invoke(app, [*args, *fast, "--no-tune-lightgbm", "--out", str(tmp_path / "u")])
    assert result.exit_code == 0, result.output
    assert "LightGBM (tuned" not in result.output
    assert "lightgbm" not in json.loads((tmp_path / "u" / "model" / "tuning.json").read_text())
