"""The train workflow: test split methods, the baseline beside the model, the verdict."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import needmap as nm
from needmap.preprocessing.batch import FeatureBatch
from needmap.workflows.baseline import fit_baseline
from needmap.workflows.held_out import verdict
from needmap.workflows.train import run_train
from reference_scores import run_train_parts, table_references

FAST = {"epochs": 3, "progress": False, "batch_size": 256}


@pytest.mark.slow
def test_time_split_puts_the_latest_rows_in_the_test_part(bank_table: pa.Table) -> None:
    start = date(2009, 1, 1)
    order = np.random.default_rng(5).permutation(bank_table.num_rows)
    days = pa.array([start + timedelta(days=int(d)) for d in order], type=pa.date32())
    table = bank_table.append_column("contact_date", days)
    model = nm.Model("mlp", target="y", drop=["duration"], **FAST)
    outcome = run_train(table, model, out=None, split="time", time_column="contact_date", test_size=0.25)
    assert outcome.test_table is not None and outcome.metrics["split"]["method"] == "time"
    test_dates = outcome.test_table.column("contact_date")
    assert outcome.test_table.num_rows == 750
    assert pc.min(test_dates).as_py() == start + timedelta(days=2250)
    assert outcome.schema.column("contact_date").role == "datetime"  # a date is never an input


@pytest.mark.slow
def test_stratified_split_keeps_the_positive_share(bank_table: pa.Table) -> None:
    model = nm.Model("mlp", target="y", drop=["duration"], **FAST)
    outcome = run_train(bank_table, model, out=None, test_size=0.2)
    assert outcome.test_table is not None
    share_all = pc.mean(pc.equal(bank_table.column("y"), "yes")).as_py()
    share_test = pc.mean(pc.equal(outcome.test_table.column("y"), "yes")).as_py()
    assert abs(share_all - share_test) < 0.005
    assert set(outcome.metrics["baselines"]) == {"logistic regression", "LightGBM"}
    assert outcome.metrics["baseline_test"] == outcome.metrics["baselines"][outcome.metrics["baseline"]]
    # the baseline ranks the test rows better than the best single column fitted on the same training rows
    train, test = run_train_parts(bank_table, outcome.schema, ["duration"])
    assert test.equals(outcome.test_table)
    reference = table_references(train, test, "y", drop=["duration"])
    auc = outcome.metrics["baselines"]["logistic regression"]["auc"]
    assert auc > reference["best_column_auc"], (auc, reference)
    assert outcome.model.report_["test_rows"] == 600 and outcome.model.report_["rows_in"] == 3000


@pytest.mark.slow
def test_rows_without_target_are_counted_not_silently_lost(bank_table: pa.Table) -> None:
    y = bank_table.column("y").to_pylist()
    y[:30] = [None] * 30
    table = bank_table.set_column(bank_table.column_names.index("y"), "y", pa.array(y))
    outcome = run_train(table, nm.Model("mlp", target="y", drop=["duration"], **FAST), out=None)
    assert outcome.model.report_["rows_without_target"] == 30
    assert any("30 of 3000 rows" in note for note in outcome.notes)
    assert (
        outcome.model.report_["test_rows"]
        + outcome.model.report_["train_rows"]
        + outcome.model.report_["validation_rows"]
        == 2970
    )


def test_baseline_learns_from_one_hot_categories() -> None:
    rng = np.random.default_rng(0)
    cats = rng.integers(2, 6, size=(2000, 1))
    y = (cats[:, 0] >= 4).astype(np.float32)  # the label is a function of the category alone
    x = FeatureBatch(np.zeros((2000, 0), dtype=np.float32), cats)
    base = fit_baseline(x, y, "binary", [6])
    p = base.predict(x)
    assert p[y == 1].min() > 0.8 and p[y == 0].max() < 0.2


def test_verdict_names_the_better_model_and_the_margin() -> None:
    assert "mlp is better than the logistic regression by 0.0120" in verdict(
        "binary", "mlp", {"auc": 0.80}, "logistic regression", {"auc": 0.788}
    )
    text = verdict("binary", "mlp", {"auc": 0.78}, "logistic regression", {"auc": 0.79})
    assert text.startswith("The logistic regression is better") and "simpler model" in text
    assert "ridge regression is better" in verdict(
        "regression", "mlp", {"rmse": 5.0}, "ridge regression", {"rmse": 4.0}
    )


@pytest.mark.slow
def test_baselines_read_the_training_rows_encoded_not_their_raw_features(bank_table: pa.Table, monkeypatch) -> None:
    """Once the fit keeps the training rows encoded, the raw training table handed to the baselines, the choice
    of scorer and the evidence holds no feature column (their memory can go) but the target."""
    from needmap.workflows import train as train_workflow

    seen: dict[str, list[str]] = {}
    real = train_workflow.train_baselines

    def spy(fitted, train_table, seed, max_rows=None):
        seen["columns"] = train_table.column_names
        return real(fitted, train_table, seed, max_rows)

    monkeypatch.setattr(train_workflow, "train_baselines", spy)
    model = nm.Model("mlp", target="y", drop=["duration"], **FAST)
    outcome = run_train(bank_table, model, out=None, test_size=0.2)
    features = set(outcome.schema.features)
    assert features and not features & set(seen["columns"]) and "y" in seen["columns"]
    assert set(outcome.metrics["baselines"]) == {"logistic regression", "LightGBM"}


def test_no_raw_rows_are_held_while_the_network_trains(bank_table: pa.Table, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's raw rows go before the network trains: the fit's whole table once it is split into its
    training and validation parts, the training part once encoded, the test part to a file until training ends."""
    import gc
    import weakref

    import needmap.data.spill as spill
    import needmap.explain.population as population
    import needmap.training.trainer as trainer
    import needmap.training_rows as training_rows
    import needmap.workflows.train_table as train_table
    from needmap.preprocessing.preprocess import Preprocessor

    monkeypatch.setattr(spill, "SPILL_MIN_BYTES", 0)  # the bank slice is small: spill it all the same
    monkeypatch.setattr(population, "SAMPLE_ROWS", 500)  # the population's own sample, not the whole table
    parts: list[weakref.ref] = []
    whole: list[weakref.ref] = []
    alive: dict[str, list[bool]] = {}
    take, clean, fit_transform, fit = (
        train_table.take_rows,
        training_rows.clean_training_table,
        Preprocessor.fit_transform,
        trainer.Trainer.fit,
    )

    def split_part(table: pa.Table, indices: pa.Array) -> pa.Table:
        part = take(table, indices)
        parts.append(weakref.ref(part))
        return part

    def cleaned(table: pa.Table, *args: object, **kwargs: object) -> object:
        whole.append(weakref.ref(table))
        return clean(table, *args, **kwargs)

    def fitting(self: Preprocessor, *args: object, **kwargs: object) -> object:
        gc.collect()
        alive["encoding"] = [ref() is not None for ref in whole]
        return fit_transform(self, *args, **kwargs)

    def training(self: object, *args: object, **kwargs: object) -> object:
        gc.collect()
        alive["training"] = [ref() is not None for ref in parts]
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(train_table, "take_rows", split_part)
    monkeypatch.setattr(training_rows, "clean_training_table", cleaned)
    monkeypatch.setattr(Preprocessor, "fit_transform", fitting)
    monkeypatch.setattr(trainer.Trainer, "fit", training)
    model = nm.Model("mlp", target="y", drop=["duration"], **FAST)
    outcome = run_train(bank_table, model, out=None, test_size=0.2)
    assert alive == {"encoding": [False], "training": [False, False]}  # train part, test part
    assert outcome.test_table is not None and outcome.test_table.num_rows == 600  # read back whole
    assert outcome.metrics["test"]["auc"] > 0.8
