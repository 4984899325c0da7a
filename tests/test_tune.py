"""needmap tune: the search space, pruning, the study's storage and resumption, the held-out test rows,
and the best model saved with its tuning history (on a slice of the bank data)."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import inspect
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

import needmap
import needs
from needmap.cli import app
from needmap.data.split import split_indices
from needmap.errors import ConfigError
from needmap.estimator import Model
from needmap.models.registry import build_model, model_class
from needmap.preprocessing.target import strata
from needmap.training.config import TrainConfig
from needmap.workflows.search_space import default_options, default_params, funnel, searched_options, suggest_options
from needmap.workflows.study import database_url, redact
from needmap.workflows.tune import (
    PRUNER_WARMUP_EPOCHS,
    TuneOutcome,
    default_study_name,
    pruning_callback,
    run_tune,
    short_params,
)

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
FAST = {"epochs": 2, "hidden": (32, 16), "progress": False, "threads": 1}
TRAINING = {f.name for f in dataclasses.fields(TrainConfig)}
ALWAYS_PRUNE = optuna.pruners.ThresholdPruner(lower=2.0)  # no AUC reaches 2: every reported epoch is pruned


def bank_model(**options: Any) -> Model:
    return Model("mlp", target="y", drop=["duration"], id=["row_id"], **{**FAST, **options})


@pytest.fixture(scope="module")
def bank_rows(bank_table: pa.Table) -> pa.Table:
    """The bank slice with a row number (an id column: never an input) to follow the rows."""
    return bank_table.append_column("row_id", pa.array(np.arange(bank_table.num_rows)))


class FitSpy:
    """Records the row numbers of every table Model.fit trains on, and the numeric columns' buckets it was asked
    for (the Model's ``bucketize``) beside those of the schema it trained with."""

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []
        self.buckets: list[tuple[int, set[int]]] = []

    def wrap(self, fit: Any) -> Any:
        def spy(model: Model, given: list[Any], *args: Any, **kwargs: Any) -> Model:
            data = given[0]  # Model.fit's table, and the train workflow's (estimator.fit_taking)
            self.calls.append(np.asarray(data.column("row_id").to_numpy()))
            schema = kwargs.get("schema") or model.infer_schema(data)
            asked = int((model.bucketize or {}).get("*", 0))
            self.buckets.append((asked, {int(schema.column(c).options.get("bucketize", 0)) for c in schema.numeric}))
            return fit(model, given, *args, **kwargs)

        return spy


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory, bank_rows: pa.Table) -> Iterator[tuple[TuneOutcome, FitSpy]]:
    """A 4-trial search (default configuration first), with every fit's rows recorded."""
    spy = FitSpy()
    seen: list[dict[str, Any]] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Model, "_fit_taken", spy.wrap(Model._fit_taken))
        outcome = run_tune(
            bank_rows, bank_model(), trials=4, timeout_s=None, out=tmp_path_factory.mktemp("tune"), progress=seen.append
        )
    assert [r["number"] for r in seen] == [0, 1, 2, 3]
    yield outcome, spy


# -- the search space ---------------------------------------------------------------------------
@pytest.mark.parametrize("architecture", ["mlp", "deepfm", "dcnv2"])
def test_search_space_holds_only_options_the_model_accepts(architecture: str) -> None:
    model = Model(architecture, target="y")
    accepted = set(inspect.signature(model_class(architecture).__init__).parameters) | set(TRAINING) | {"bucketize"}
    options = searched_options(model)
    assert set(options) <= accepted
    assert {"lr", "batch_size", "weight_decay", "dropout", "embedding_dim", "hidden"} <= set(options)
    assert ("cross_layers" in options) == (architecture == "dcnv2")
    # Any sampled configuration builds the network.
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(5):
        values = suggest_options(study.ask(), model)
        assert values["bucketize"] in ({}, {"*": 10}, {"*": 20}, {"*": 50})
        network = {k: v for k, v in values.items() if k not in TRAINING and k != "bucketize"}
        build_model(architecture, n_numeric=3, cardinalities=[4, 5], n_outputs=1, **network)
        TrainConfig.from_dict({k: v for k, v in values.items() if k in TRAINING})
    # The default configuration, as the parameters enqueued for the first trial, gives the defaults back.
    assert suggest_options(optuna.trial.FixedTrial(default_params(model)), model) == default_options(model)


def test_the_default_study_is_named_after_the_data_file_the_target_and_the_model(tmp_path: Path) -> None:
    rows = pa.table({"age": [30, 41, 52, 63], "responded": ["no", "yes", "no", "yes"], "bought": [0, 1, 1, 0]})
    assert default_study_name(rows, Model("mlp", target="responded")) == "needmap-responded-mlp"  # read from no file
    path = tmp_path / "campaign_2024.csv.gz"
    with gzip.open(path, "wb") as out:
        pacsv.write_csv(rows, out)
    table = needmap.read(path)
    assert default_study_name(table, Model("deepfm", target="responded")) == "needmap-campaign_2024-responded-deepfm"
    assert default_study_name(table, Model("mlp", target="bought")) == "needmap-campaign_2024-bought-mlp"


def test_search_space_keeps_the_users_options_fixed() -> None:
    options = searched_options(Model("dcnv2", target="y", epochs=3, lr=0.01, hidden=(64,), cross_layers=2))
    assert not {"lr", "hidden", "cross_layers", "epochs"} & set(options)
    assert {"batch_size", "dropout", "embedding_dim", "structure"} <= set(options)
    assert searched_options(Model("lr", target="y")) == ["bucketize", "lr", "batch_size", "weight_decay"]
    # Numeric columns the user bucketized stay as given.
    assert "bucketize" not in searched_options(Model("mlp", target="y", bucketize={"age": 10}))


def test_a_trial_can_bucketize_every_numeric_column(bank_table: pa.Table) -> None:
    trial_model = Model("mlp", target="y", drop=["duration"], **FAST).clone().set_params(bucketize={"*": 10}, lr=0.01)
    assert trial_model.bucketize == Model("mlp", bucketize={"*": 10}).bucketize
    assert trial_model.train_options["lr"] == 0.01
    schema = trial_model.infer_schema(bank_table)
    # Every numeric column becomes 10 quantile-bucket ids.
    assert schema.numeric and all(schema.column(c).options.get("bucketize") == 10 for c in schema.numeric)


def test_funnel_widths() -> None:
    assert funnel(256, 2) == [256, 128]
    assert funnel(100, 4) == [104, 48, 24, 16]
    assert all(w % 8 == 0 and w >= 8 for w in funnel(33, 4))


# -- pruning --------------------------------------------------------------------------------------
def test_pruning_callback_reports_each_epoch_and_prunes_a_bad_trial() -> None:
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.7))
    trial = study.ask()
    on_epoch = pruning_callback(trial, "auc")
    on_epoch({"epoch": 1, "loss": 0.3, "valid_auc": 0.75})  # above the threshold: goes on
    with pytest.raises(optuna.TrialPruned):
        on_epoch({"epoch": 2, "loss": 0.3, "valid_auc": 0.55})
    kept = study.ask()
    pruning_callback(kept, "auc", prune=False)({"epoch": 1, "valid_auc": 0.55})  # the default trial: never pruned
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert study.trials[0].intermediate_values == {0: 0.75, 1: 0.55}  # step = epoch - 1
    assert study.trials[1].intermediate_values == {0: 0.55}


def test_the_median_rule_spares_a_trials_first_two_epochs() -> None:
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=PRUNER_WARMUP_EPOCHS)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    good = study.ask()
    for epoch in (1, 2, 3):
        pruning_callback(good, "auc")({"epoch": epoch, "valid_auc": 0.8})
    study.tell(good, 0.8)
    bad = pruning_callback(study.ask(), "auc")
    bad({"epoch": 1, "valid_auc": 0.5})
    bad({"epoch": 2, "valid_auc": 0.5})
    with pytest.raises(optuna.TrialPruned):
        bad({"epoch": 3, "valid_auc": 0.5})


# -- a search -------------------------------------------------------------------------------------
def test_search_saves_the_best_model_with_every_trial(searched: tuple[TuneOutcome, FitSpy]) -> None:
    outcome, _ = searched
    loaded = needmap.load(outcome.model_dir)
    document = loaded.extras_["tuning.json"]
    assert set(loaded.extras_) == set(outcome.train.model.extras_)  # merged beside what training wrote
    assert document == json.loads((outcome.model_dir / "tuning.json").read_text())
    assert [t["number"] for t in document["trials"]] == [0, 1, 2, 3]
    assert {t["state"] for t in document["trials"]} == {"complete"}  # the median rule starts after 5 trials
    assert document["direction"] == "maximize" and document["metric"] == "auc"
    assert document["storage"].startswith("sqlite:///") and document["storage"].endswith("study.db")
    assert (outcome.out / "study.db").is_file()
    for trial in document["trials"]:
        assert set(trial["params"]) <= set(searched_options(bank_model()))
        assert trial["seconds"] > 0 and 0 < trial["value"] <= 1
    # Trial 0 is the default configuration, and the best is at least as good.
    first = document["trials"][0]
    assert first["default"] is True and first["params"] == default_options(bank_model())
    assert document["default_value"] == first["value"]
    assert document["best_value"] == max(t["value"] for t in document["trials"]) >= document["default_value"]
    best = next(t for t in document["trials"] if t["number"] == document["best_trial"])
    assert document["best_params"] == best["params"]
    # The saved model is the best configuration, retrained with the same rows and seed.
    assert loaded.params["embedding_dim"] == best["params"]["embedding_dim"]
    assert loaded.train_config_ is not None and loaded.train_config_.lr == pytest.approx(best["params"]["lr"])
    assert outcome.train.metrics["validation"]["auc"] == pytest.approx(document["best_value"], abs=1e-6)
    assert "auc" in outcome.train.metrics["test"] and outcome.train.metrics.get("verdict")


def test_each_trial_trains_with_the_buckets_it_searched(searched: tuple[TuneOutcome, FitSpy]) -> None:
    outcome, spy = searched
    searched_buckets = [int((t["params"].get("bucketize") or {}).get("*", 0)) for t in outcome.trials]
    assert any(searched_buckets) and not all(searched_buckets)  # the search tried both, so the check below can fail
    # every fit (the trials, then the best retrained) bucketized every numeric column as its options said
    assert [asked for asked, _ in spy.buckets] == [*searched_buckets, searched_buckets[outcome.document["best_trial"]]]
    for asked, trained in spy.buckets:
        assert trained == {asked}, (asked, trained)


def test_search_never_trains_on_the_test_rows(searched: tuple[TuneOutcome, FitSpy], bank_rows: pa.Table) -> None:
    outcome, spy = searched
    assert len(spy.calls) == 4 + 1  # four trials and the best configuration retrained
    test_ids = set(outcome.train.test_table.column("row_id").to_pylist())
    # The test rows are the ones `needmap train` holds out with this seed ...
    schema = bank_model().infer_schema(bank_rows)
    _, expected = split_indices(
        bank_rows.num_rows, method="stratified", test_size=0.2, seed=0, y=strata(bank_rows, schema)
    )
    assert test_ids == set(expected.tolist()) == set(outcome.test_index.tolist())
    # ... and no fit saw any of them.
    seen = set(np.concatenate(spy.calls).tolist())
    assert not seen & test_ids
    assert seen == set(outcome.train_index.tolist())


@pytest.mark.slow
def test_resuming_adds_trials_and_keeps_the_earlier_ones(
    searched: tuple[TuneOutcome, FitSpy], bank_rows: pa.Table, tmp_path: Path
) -> None:
    outcome, _ = searched
    shutil.copy(outcome.out / "study.db", tmp_path / "study.db")
    again = run_tune(
        bank_rows, bank_model(), trials=2, timeout_s=None, out=tmp_path, study_name=outcome.study_name,
        pruner=ALWAYS_PRUNE,
    )  # fmt: skip
    assert [t["number"] for t in again.trials] == [0, 1, 2, 3, 4, 5]
    assert again.trials[:4] == outcome.trials  # kept as they were
    assert [t.get("default", False) for t in again.trials].count(True) == 1  # the default ran once
    assert [t["state"] for t in again.trials[4:]] == ["pruned", "pruned"]
    assert all(t["value"] is not None for t in again.trials[4:])  # the epoch the trial was pruned at
    assert again.best_value == outcome.best_value and again.default_value == outcome.default_value


@pytest.mark.slow
def test_a_time_limit_alone_ends_the_search(bank_rows: pa.Table, tmp_path: Path) -> None:
    outcome = run_tune(
        bank_rows, bank_model(), trials=None, timeout_s=0.01, out=tmp_path, train_options={"baseline": False}
    )
    assert [t["number"] for t in outcome.trials] == [0]  # no new trial starts once the time is spent
    assert "baseline" not in outcome.train.metrics  # run_train's options reach the final training
    assert outcome.best_value == outcome.default_value and (outcome.model_dir / "tuning.json").is_file()


def test_a_study_made_for_another_model_is_refused(
    searched: tuple[TuneOutcome, FitSpy], bank_rows: pa.Table, tmp_path: Path
) -> None:
    outcome, _ = searched
    shutil.copy(outcome.out / "study.db", tmp_path / "study.db")
    other = Model("deepfm", target="y", drop=["duration"], id=["row_id"], **FAST)
    with pytest.raises(ConfigError, match="was made for"):
        run_tune(bank_rows, other, trials=1, timeout_s=None, out=tmp_path, study_name=outcome.study_name)


def test_bad_options_are_refused_before_any_trial(bank_rows: pa.Table, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--trials N"):
        run_tune(bank_rows, bank_model(), trials=None, timeout_s=None, out=tmp_path)
    with pytest.raises(ConfigError, match="validation"):
        run_tune(bank_rows, bank_model(), trials=1, timeout_s=None, out=tmp_path, validation=0.0)
    with pytest.raises(ConfigError, match="not a database URL"):
        run_tune(bank_rows, bank_model(), trials=1, timeout_s=None, out=tmp_path, storage="study.db")
    with pytest.raises(ConfigError, match="one target"):
        run_tune(bank_rows, Model("mlp", target=["y", "age"], **FAST), trials=1, timeout_s=None, out=tmp_path)
    assert not (tmp_path / "model").exists()


@pytest.mark.slow
def test_a_failing_default_configuration_stops_the_search(bank_rows: pa.Table, tmp_path: Path) -> None:
    # An option the architecture cannot take is refused when the Model is made, naming the closest one ...
    with pytest.raises(ConfigError, match="unknown option 'cross_layers'"):
        bank_model(cross_layers=2)
    # ... a value only the network can check fails every trial when its network is built: the search stops.
    model = Model("dcnv2", target="y", drop=["duration"], id=["row_id"], structure="diagonal", **FAST)
    with pytest.raises(ConfigError, match=r"no trial .* completed .*structure"):
        run_tune(bank_rows, model, trials=3, timeout_s=None, out=tmp_path)
    study = optuna.load_study(study_name="needmap-y-dcnv2", storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL]


def test_redact_database_url_and_short_params() -> None:
    assert database_url("sqlite:////tmp/study.db") == "sqlite:////tmp/study.db"
    assert database_url("postgres://u@h/db").split("://")[0] in ("postgresql", "postgresql+psycopg2")
    assert redact("postgresql://user:secret@db.example:5432/x") == "postgresql://user:***@db.example:5432/x"
    assert redact("postgresql://postgres@127.0.0.1:5432/test") == "postgresql://postgres@127.0.0.1:5432/test"
    assert short_params({"lr": 0.000312, "hidden": [128, 64], "weight_decay_on": False, "bucketize": {}}) == (
        "lr=0.000312 hidden=128,64 weight_decay_on=False bucketize=none"
    )


# -- PostgreSQL storage -----------------------------------------------------------------------------
@pytest.mark.slow
def test_postgresql_storage(bank_rows: pa.Table, tmp_path: Path) -> None:
    needs.server("PostgreSQL", "127.0.0.1", 5432, POSTGRES)
    name = f"needmap-test-{uuid.uuid4().hex[:12]}"
    try:
        outcome = run_tune(
            bank_rows, bank_model(), trials=2, timeout_s=None, out=tmp_path, storage=POSTGRES, study_name=name,
            pruner=ALWAYS_PRUNE,
        )  # fmt: skip
        assert outcome.storage == POSTGRES and not (tmp_path / "study.db").exists()
        stored = optuna.load_study(study_name=name, storage=database_url(POSTGRES))
        assert [t.number for t in stored.trials] == [0, 1]
        # The default configuration is measured in full, even where the pruner would stop every trial.
        assert [t["state"] for t in outcome.trials] == ["complete", "pruned"]
        assert needmap.load(outcome.model_dir).extras_["tuning.json"]["study_name"] == name
    finally:
        with contextlib.suppress(KeyError):  # the study was never made
            optuna.delete_study(study_name=name, storage=database_url(POSTGRES))


# -- the command line -------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_tune(bank_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["tune", str(bank_csv), "--target", "y", "--drop", "duration", "--out", str(tmp_path / "t")]
    fast = ["--epochs", "2", "--param", "hidden=16,8", "--quiet"]
    result = runner.invoke(app, [*args, "--trials", "2", *fast])
    assert result.exit_code == 0, result.output
    assert "trial   0 complete" in result.output and "(default)" in result.output
    assert "validation AUC: default" in result.output and "verdict" in result.output
    document = json.loads((tmp_path / "t" / "model" / "tuning.json").read_text())
    assert document["study_name"] == "needmap-bank_slice-y-mlp" and len(document["trials"]) == 2
    assert "hidden" not in document["best_params"]  # given with --param: fixed
    result = runner.invoke(app, [*args, *fast])
    assert result.exit_code == 2 and "--trials N" in result.output
    result = runner.invoke(app, [*args, "--time", "ten minutes", *fast])
    assert result.exit_code == 2 and "--time 'ten minutes'" in result.output


def test_cli_tune_interrupted_says_the_trials_are_kept(
    bank_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import needmap.workflows.tune as tune_module

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tune_module, "run_tune", interrupted)
    args = ["tune", str(bank_csv), "--target", "y", "--out", str(tmp_path / "t"), "--trials", "2", "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130
    assert "finished trials are kept in the study" in result.output and "nothing was written" not in result.output


@pytest.mark.slow
def test_a_tracked_search_logs_the_best_model_and_every_trial(
    bank_rows: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    folder = tmp_path / "mlruns"
    outcome = run_tune(
        bank_rows, bank_model(), trials=3, timeout_s=None, out=tmp_path / "t",
        train_options={"track": str(folder), "n_boot": 50},
    )  # fmt: skip
    run_id = outcome.train.run_id
    assert run_id is not None
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=folder.resolve().as_uri())
    run = client.get_run(run_id)
    values = {t["number"]: t["value"] for t in outcome.trials if t["value"] is not None}
    logged = {m.step: m.value for m in client.get_metric_history(run_id, "trial_value")}
    assert logged == pytest.approx(values) and len(logged) == 3
    assert run.data.metrics["tune_best_value"] == pytest.approx(outcome.best_value)
    assert run.data.metrics["tune_default_value"] == pytest.approx(outcome.default_value)
    assert run.data.params["tune.study_name"] == outcome.study_name and run.data.params["tune.trials"] == "3"
    assert "model/tuning.json" in {a.path for a in client.list_artifacts(run_id, "model")}
