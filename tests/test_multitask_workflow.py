"""Multi-task models end to end on a slice of the census (Adult) data: income > 50K and married."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from rich.console import Console
from sklearn.metrics import roc_auc_score

import needmap as nm
from needmap.display import metrics_table
from needmap.errors import ConfigError, NeedmapError, SchemaError
from needmap.model_place import write_manifest
from needmap.preprocessing.target import encode_targets
from needmap.schema import Head
from needmap.workflows.train import run_train
from reference_scores import run_train_parts, table_references, table_regression_references

# 12,000 random lines of adult.data (tests/datasets/ATTRIBUTION.md)
ADULT = Path(__file__).resolve().parent / "datasets" / "census_income_adult" / "adult.data.gz"
COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
FAST = {"epochs": 4, "batch_size": 256, "progress": False, "threads": 1, "lr": 3e-3, "seed": 0}
SMALL = {"embedding_dim": 4, "expert_hidden": [32], "tower_hidden": [16]}


#: What one column reaches, per target: the positive value, and the columns a model of that target does not
#: read (the other targets, and fnlwgt, which every model here drops).
POSITIVE = {"income": ">50K", "married": True}
NOT_READ = {"income": ["fnlwgt", "married", "hours_per_week"], "married": ["fnlwgt", "income"]}


def references(train: pa.Table, test: pa.Table, target: str) -> dict[str, object]:
    """The best single column of ``target`` on the rows of ``test`` that have it, fitted on those of
    ``train`` (:func:`reference_scores.table_references`)."""
    return table_references(train, test, target, drop=NOT_READ[target], positive=POSITIVE[target])


@pytest.fixture(scope="module")
def adult() -> pa.Table:
    """3,000 random rows of the adult.data slice: text trimmed, '?' as missing, ``married`` =
    Married-civ-spouse (true/false) in place of marital_status, which would give it away; relationship is
    left out too, as it gives it away (Husband and Wife are married)."""
    raw = pacsv.read_csv(ADULT, read_options=pacsv.ReadOptions(column_names=COLUMNS))
    columns = {}
    for name in raw.column_names:
        column = raw.column(name)
        if pa.types.is_string(column.type):
            column = pc.utf8_trim_whitespace(column)
            column = pc.if_else(pc.equal(column, "?"), pa.scalar(None, pa.string()), column)
        columns[name] = column
    table = pa.table(columns)
    index = np.sort(np.random.default_rng(7).choice(table.num_rows, size=3000, replace=False))
    table = table.take(pa.array(index))
    married = pc.equal(table.column("marital_status"), "Married-civ-spouse")
    return table.drop_columns(["marital_status", "relationship"]).append_column("married", married)


@pytest.fixture(scope="module")
def split(adult: pa.Table) -> tuple[pa.Table, pa.Table]:
    return adult.slice(0, 2400), adult.slice(2400)


@pytest.fixture(scope="module")
def mmoe(split: tuple[pa.Table, pa.Table]) -> nm.Model:
    model = nm.Model("mmoe", target=["income", "married"], drop="fnlwgt", num_experts=3, **SMALL, **FAST)
    return model.fit(split[0], validation=0.15)


def test_schema_holds_both_targets(mmoe: nm.Model, adult: pa.Table) -> None:
    schema = mmoe.schema_
    assert schema is not None
    assert (schema.target, schema.task, schema.classes) == ("income", "binary", ["<=50K", ">50K"])
    assert schema.heads[1:] == [Head("married", "binary", ["false", "true"])]
    assert schema.column("married").role == "target" and "married" not in schema.features
    assert "target 2 of a multi-task model" in schema.column("married").reason
    comma = nm.Model("mmoe", target="income,married", drop="fnlwgt").infer_schema(adult)
    assert comma.heads == schema.heads
    assert [(c.name, c.role) for c in comma.columns] == [(c.name, c.role) for c in schema.columns]
    y = encode_targets(adult.slice(0, 5), schema)
    assert y.shape == (5, 2) and y.dtype == np.float32
    assert mmoe.target == ["income", "married"]


def test_each_task_beats_the_best_single_column_on_held_out_rows(
    mmoe: nm.Model, split: tuple[pa.Table, pa.Table]
) -> None:
    metrics = mmoe.evaluate(split[1])
    assert sorted(metrics) == ["income", "married"]
    for target in ("income", "married"):
        reference = references(*split, target)  # fitted on the rows the model was fitted on
        assert metrics[target]["auc"] > reference["best_column_auc"], (target, metrics[target], reference)
    assert metrics["income"]["rows_without_target"] == 0 and metrics["married"]["n"] == 600
    history = mmoe.metrics_["training"]["history"]
    assert {"loss_income", "loss_married", "valid_income_auc", "valid_married_auc", "valid_mean_auc"} <= set(history[0])
    validation = mmoe.metrics_["validation"]
    assert sorted(validation) == ["income", "married"] and validation["income"]["n"] == 360


def test_evaluate_counts_missing_labels_per_target(mmoe: nm.Model, split: tuple[pa.Table, pa.Table]) -> None:
    test = split[1]
    i = test.column_names.index("married")
    married = pa.array([None, None, *test.column("married").to_pylist()[2:]], type=pa.bool_())
    metrics = mmoe.evaluate(test.set_column(i, "married", married))
    assert metrics["married"]["rows_without_target"] == 2 and metrics["married"]["n"] == 598
    assert metrics["income"]["rows_without_target"] == 0 and metrics["income"]["n"] == 600
    with pytest.raises(SchemaError, match="'married'"):
        mmoe.evaluate(test.drop_columns(["married"]))


def test_predict_gives_a_score_per_target(mmoe: nm.Model, split: tuple[pa.Table, pa.Table]) -> None:
    scores = mmoe.predict(split[1].drop_columns(["income", "married"]))
    assert scores.column_names == ["score_income", "score_married"]
    proba = mmoe.predict_proba(split[1])
    assert proba.shape == (600, 2) and np.all((proba > 0) & (proba < 1))
    np.testing.assert_array_equal(scores.column("score_married").to_numpy(), proba[:, 1])
    # each column is its own target's score: it ranks that target better than the other column does
    married = split[1].column("married").to_numpy(zero_copy_only=False).astype(bool)
    income = np.asarray(split[1].column("income").to_pylist()) == ">50K"
    assert roc_auc_score(married, proba[:, 1]) > roc_auc_score(married, proba[:, 0])
    assert roc_auc_score(income, proba[:, 0]) > roc_auc_score(income, proba[:, 1])


def test_save_load_gives_identical_predictions(
    mmoe: nm.Model, split: tuple[pa.Table, pa.Table], tmp_path: Path
) -> None:
    path = mmoe.save(tmp_path / "model")
    loaded = nm.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(split[1]), mmoe.predict_proba(split[1]))
    assert loaded.evaluate(split[1]) == mmoe.evaluate(split[1])
    description = json.loads((path / "model.json").read_text())
    assert description["targets"] == ["income", "married"] and description["n_outputs"] == 2
    card = (path / "card.md").read_text()
    assert "### `income` (binary)" in card and "### `married` (binary)" in card
    assert "`score_married`" in card


def test_a_model_directory_with_the_schema_of_several_targets_before_heads_is_refused_clearly(
    mmoe: nm.Model, tmp_path: Path
) -> None:
    path = mmoe.save(tmp_path / "model")
    schema = json.loads((path / "schema.json").read_text())
    heads = schema.pop("heads")
    schema["extra_targets"] = heads[1:]  # the form written before heads: the first target, then the others
    (path / "schema.json").write_text(json.dumps(schema))
    write_manifest(path)  # as an older needmap saved it: the schema's own check must refuse it
    with pytest.raises(NeedmapError, match="holds the key 'extra_targets', which needmap does not read"):
        nm.load(path)


@pytest.mark.slow
def test_run_train_reports_test_metrics_and_a_baseline_per_task(adult: pa.Table, tmp_path: Path) -> None:
    model = nm.Model(
        "ple", target=["income", "hours_per_week"], drop="fnlwgt", num_layers=2, num_task_experts=1, **SMALL, **FAST
    )
    outcome = run_train(adult, model, out=tmp_path / "ple", test_size=0.2)
    metrics = outcome.metrics
    assert outcome.schema.heads[1].task == "regression"
    train, test = run_train_parts(adult, outcome.schema, ["fnlwgt"])
    assert test.equals(outcome.test_table)
    income = references(train, test, "income")
    hours = table_regression_references(train, test, "hours_per_week", drop=["fnlwgt", "income"])
    assert metrics["test"]["income"]["auc"] > income["best_column_auc"], (metrics["test"], income)
    # better than the training mean on the test rows: the scaling is undone
    assert metrics["test"]["hours_per_week"]["rmse"] < hours["mean_rmse"], (metrics["test"], hours)
    # Both baselines per target: the linear model of the target's task and LightGBM, each on its test rows.
    baselines = metrics["baselines"]
    assert set(baselines) == {"logistic regression", "ridge regression", "LightGBM"}
    assert set(baselines["logistic regression"]) == {"income"}
    assert set(baselines["ridge regression"]) == {"hours_per_week"}
    assert set(baselines["LightGBM"]) == {"income", "hours_per_week"}
    assert baselines["LightGBM"]["income"]["auc"] > income["best_column_auc"], (baselines, income)
    assert baselines["LightGBM"]["hours_per_week"]["rmse"] < hours["mean_rmse"], (baselines, hours)
    assert set(metrics["baseline_rounds"]) == {"income", "hours_per_week"}  # LightGBM stopped early, per target
    assert all(set(r) == {"LightGBM"} and 1 <= r["LightGBM"] < 2000 for r in metrics["baseline_rounds"].values())
    # Each target is compared with its better baseline, and the verdict names that one.
    best = metrics["baseline"]
    assert best["income"] in ("logistic regression", "LightGBM")
    assert best["hours_per_week"] in ("ridge regression", "LightGBM")
    auc = {name: baselines[name]["income"]["auc"] for name in ("logistic regression", "LightGBM")}
    assert best["income"] == max(auc, key=auc.get)
    rmse = {name: baselines[name]["hours_per_week"]["rmse"] for name in ("ridge regression", "LightGBM")}
    assert best["hours_per_week"] == min(rmse, key=rmse.get)
    assert metrics["baseline_test"] == {t: baselines[best[t]][t] for t in ("income", "hours_per_week")}
    income_verdict, hours_verdict = metrics["verdict"].split(" hours_per_week: ")
    assert best["income"] in income_verdict
    # one verdict per target: the scorer it answers with, then the paired intervals on its test rows
    assert income_verdict.startswith("income: Scores with ") and "On the test rows: AUC " in income_verdict
    assert hours_verdict.startswith("Scores with ") and "On the test rows: rmse " in hours_verdict
    assert best["hours_per_week"] in hours_verdict
    # Each target has its own evaluation document (curves, comparisons, and its importance).
    evaluation = json.loads((outcome.out / "evaluation.json").read_text())
    assert set(evaluation) == {"income", "hours_per_week"}
    assert evaluation["income"]["task"] == "binary" and len(evaluation["income"]["comparisons"]) == 2
    assert evaluation["income"]["importance"][0].keys() == {"feature", "drop", "auc"}
    assert evaluation["hours_per_week"]["importance"][0].keys() == {"feature", "drop", "rmse"}  # the RMSE rise
    assert evaluation["hours_per_week"]["task"] == "regression"
    scores = nm.load(outcome.out).predict(adult.slice(0, 20))
    assert scores.column_names == ["score_income", "prediction_hours_per_week"]
    assert 20 < pc.mean(scores.column("prediction_hours_per_week")).as_py() < 60
    console = Console(width=140, record=True)
    console.print(metrics_table("binary", {"test": metrics["test"], "baseline": metrics["baseline_test"]}))
    text = console.export_text()
    assert "income auc" in text and "hours_per_week rmse" in text and "hours_per_week auc" not in text


def test_multitask_targets_are_checked(adult: pa.Table) -> None:
    with pytest.raises(ConfigError, match="'race' is a multiclass target"):
        nm.Model("mmoe", target=["income", "race"]).infer_schema(adult)
    with pytest.raises(SchemaError, match="two roles"):
        nm.Model("mmoe", target=["income", "married"], drop=["married"]).infer_schema(adult)
    with pytest.raises(ConfigError, match="3 tasks"):
        nm.Model("mmoe", target=["income", "married"], task=["binary", "binary", "binary"]).infer_schema(adult)
    with pytest.raises(SchemaError, match="'wealth' is not in the table"):
        nm.Model("mmoe", target=["income", "wealth"]).infer_schema(adult)
    schema = nm.Model("mmoe", target=["income", "age"], task="binary,regression").infer_schema(adult)
    assert schema.heads[1].task == "regression" and "age" not in schema.features


@pytest.mark.slow
def test_rows_missing_one_target_still_train_the_other(adult: pa.Table, tmp_path: Path) -> None:
    n = adult.num_rows
    rng = np.random.default_rng(3)
    no_married = rng.uniform(size=n) < 0.3
    no_income = rng.uniform(size=n) < 0.05
    married = pc.if_else(pa.array(no_married), pa.scalar(None, pa.bool_()), adult.column("married"))
    income = pc.if_else(pa.array(no_income), pa.scalar(None, pa.string()), adult.column("income"))
    table = adult.set_column(adult.column_names.index("married"), "married", married)
    table = table.set_column(table.column_names.index("income"), "income", income)
    both = int((no_married & no_income).sum())
    model = nm.Model("mmoe", target=["income", "married"], drop="fnlwgt", num_experts=3, **SMALL, **FAST)
    outcome = run_train(table, model, out=tmp_path / "mmoe", test_size=0.2)
    report = outcome.model.report_
    assert report["rows_without_target"] == both  # only rows without any target are left out
    kept = ~(no_married & no_income)
    assert report["rows_missing_target"] == {
        "income": int((no_income & kept).sum()),
        "married": int((no_married & kept).sum()),
    }
    assert report["train_rows"] + report["validation_rows"] + report["test_rows"] == n - both
    assert any("no value in the target 'married'" in note for note in outcome.notes)
    test = outcome.metrics["test"]
    assert test["married"]["n"] + test["married"]["rows_without_target"] == report["test_rows"]
    assert test["married"]["rows_without_target"] > 0
    # each target better than its best single column on the test rows that have it, fitted on the training
    # rows that have it
    train_rows, test_rows = run_train_parts(table, outcome.schema, ["fnlwgt"])
    reference = {target: references(train_rows, test_rows, target) for target in ("income", "married")}
    for target in ("income", "married"):
        assert test[target]["auc"] > reference[target]["best_column_auc"], (target, test[target], reference[target])
    baseline = outcome.metrics["baseline_test"]["married"]
    assert baseline["n"] == test["married"]["n"] and np.isfinite(baseline["auc"])
    for name, per_target in outcome.metrics["baselines"].items():  # each trained and scored where it is known
        assert per_target["married"]["n"] == test["married"]["n"]
        assert per_target["married"]["auc"] > reference["married"]["best_column_auc"], (name, per_target, reference)


@pytest.mark.slow
def test_saved_baselines_are_compared_again_target_by_target_on_new_rows(adult: pa.Table, tmp_path: Path) -> None:
    from needmap.workflows.baseline import LIGHTGBM, LOGISTIC
    from needmap.workflows.evaluate import evaluate_with_baselines, saved_baselines

    train, new = adult.slice(0, 2400), adult.slice(2400)
    model = nm.Model("mmoe", target=["income", "married"], drop="fnlwgt", num_experts=2, **SMALL, **FAST)
    outcome = run_train(train, model, out=tmp_path / "mmoe", test_size=0.2)
    saved = json.loads((tmp_path / "mmoe" / "baselines.json").read_text())["baselines"]
    assert [(b["name"], b["target"]) for b in saved] == [
        (LOGISTIC, "income"), (LIGHTGBM, "income"), (LOGISTIC, "married"), (LIGHTGBM, "married"),
    ]  # fmt: skip
    loaded = nm.load(tmp_path / "mmoe")
    # on the run's own test rows the saved baselines give the run's test metrics again
    again = evaluate_with_baselines(loaded, outcome.test_table, n_boot=50)
    for name in ("income", "married"):
        for base in (LOGISTIC, LIGHTGBM):
            expected = outcome.metrics["baselines"][base][name]["auc"]
            assert again["baselines"][base][name]["auc"] == pytest.approx(expected)
        assert again["metrics"][name]["auc"] == pytest.approx(outcome.metrics["test"][name]["auc"], abs=1e-6)
    # new rows, some without `married`: each target is scored on the rows that have it
    missing = np.arange(new.num_rows) % 4 == 0
    married = pc.if_else(pa.array(missing), pa.scalar(None, pa.bool_()), new.column("married"))
    new = new.set_column(new.column_names.index("married"), "married", married)
    result = evaluate_with_baselines(loaded, new, n_boot=50)
    assert result["rows_without_target"] == {"income": 0, "married": int(missing.sum())}
    assert result["baselines"][LIGHTGBM]["married"]["n"] == new.num_rows - int(missing.sum())
    assert set(result["comparisons"]) == {"income", "married"} and result["comparisons"]["income"]
    income, married_verdict = result["verdict"].split(" married: ")
    assert income.startswith("income: ") and "AUC" in income and "AUC" in married_verdict
    # the report on those rows shows each target against its saved baselines
    from needmap.report.build import build_report

    page = build_report(tmp_path / "mmoe", new, out=tmp_path / "report.html").read_text()
    for name in ("income", "married"):
        section = page.split(f"<h3>{name} on ")[1].split("<h3>")[0]
        assert "LightGBM" in section and "logistic regression" in section and "AUC" in section, section
    # each binary target is drawn in the curves, on the test rows and on the data, and has its own importance
    roc = page.split('id="roc"')[1].split("</section>")[0]
    for name in ("income", "married"):
        assert f"mmoe network ({name}) (AUC" in roc and f"LightGBM ({name}) (AUC" in roc
        primary = result["evaluation"][name]["primary"]  # each target's chosen scorer, drawn on the data
        assert f"{primary} on the given rows ({name}) (AUC" in roc
        assert f"permutation importance of {name}" in page
    summary = page.split('id="summary"')[1].split("</section>")[0]
    assert "<h3>income</h3>" in summary and "<h3>married</h3>" in summary
    # a baseline saved for another target, or for a multi-task model given to a single-target one, is refused
    bases = saved_baselines(loaded)
    bases[0].target = "wealth"
    with pytest.raises(ConfigError, match="'wealth'"):
        evaluate_with_baselines(loaded, new, baselines=bases)
    single = nm.Model("mlp", target="income", drop=["fnlwgt", "married"], **FAST).fit(train)
    with pytest.raises(ConfigError, match="found baselines for 'married', expected baselines of this model"):
        evaluate_with_baselines(single, new, baselines=saved_baselines(loaded))
