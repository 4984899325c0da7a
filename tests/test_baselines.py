"""The baselines beside every deep model: LightGBM and logistic regression on the same features and rows."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from needmap.errors import SchemaError
from needmap.metrics import binary_metrics, task_metrics
from needmap.preprocessing.batch import FeatureBatch
from needmap.workflows.baseline import (
    LGBM_ROUNDS,
    LIGHTGBM,
    LOGISTIC,
    RIDGE,
    fit_baseline,
    fit_baselines,
    fit_lightgbm,
    fit_single_baselines,
    load_baselines,
)
from needmap.workflows.held_out import best_baseline
from needmap.workflows.train import TrainOutcome, run_train
from reference_scores import run_train_parts, table_references

FAST = {"epochs": 2, "progress": False, "batch_size": 256, "hidden": (32, 16)}


@pytest.fixture(scope="module")
def encoded(bank_table: pa.Table) -> dict[str, object]:
    """The bank slice preprocessed by a fitted model: training, validation and test rows."""
    idx = np.random.default_rng(0).permutation(bank_table.num_rows)
    parts = {name: bank_table.take(pa.array(idx[a:b])) for name, (a, b) in
             {"train": (0, 1800), "valid": (1800, 2400), "test": (2400, 3000)}.items()}  # fmt: skip
    model = nm.Model("mlp", target="y", drop=["duration"], epochs=1, progress=False).fit(parts["train"], validation=0)
    prep = model.preprocessor_
    assert prep is not None
    out: dict[str, object] = {"cards": list(prep.cardinalities_)}
    for name, table in parts.items():
        out[f"x_{name}"], out[f"y_{name}"] = prep.transform(table), prep.encode_target(table)
    # what the obvious reaches on the test rows, fitted on the training and validation rows the baselines see
    out["reference"] = table_references(pa.concat_tables([parts["train"], parts["valid"]]), parts["test"], "y",
                                        drop=["duration"])  # fmt: skip
    return out


@pytest.fixture(scope="module")
def bank_run(bank_table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> TrainOutcome:
    """run_train on the bank slice: a small MLP beside both baselines, saved."""
    model = nm.Model("mlp", target="y", drop=["duration"], **FAST)
    out = tmp_path_factory.mktemp("run") / "bank"
    return run_train(bank_table, model, out=out, n_boot=200, contact_cost=2.0, conversion_value=30.0)


def _parts_of_run(table: pa.Table, outcome: TrainOutcome) -> tuple[pa.Table, pa.Table]:
    """The training and test rows of a run_train with the default split, found again from the table; the
    test rows are checked against the run's own."""
    model = outcome.model
    assert model.schema_ is not None
    train, test = run_train_parts(table, model.schema_, model.drop)
    assert outcome.test_table is not None and test.equals(outcome.test_table)
    return train, test


def test_lightgbm_stops_early_on_the_validation_rows_and_ranks_the_test_rows(encoded: dict) -> None:
    base = fit_lightgbm(
        encoded["x_train"], encoded["y_train"], "binary", encoded["cards"], x_valid=encoded["x_valid"],
        y_valid=encoded["y_valid"],
    )  # fmt: skip
    assert base.name == LIGHTGBM and base.rounds is not None and 1 <= base.rounds < 2000
    p = base.predict(encoded["x_test"])
    assert p.shape == (600,) and ((p >= 0) & (p <= 1)).all()
    reference = encoded["reference"]
    assert binary_metrics(encoded["y_test"], p)["auc"] > reference["best_column_auc"], reference
    # the categorical columns are LightGBM categorical features (split by sets of ids), the numerics are not
    infos = base.estimator.booster_.dump_model()["feature_infos"]
    n_num, n_cat = encoded["x_train"].numeric.shape[1], encoded["x_train"].categorical.shape[1]
    assert [bool(infos[f"Column_{i}"]["values"]) for i in range(n_num + n_cat)] == [False] * n_num + [True] * n_cat


def test_lightgbm_without_validation_runs_a_fixed_number_of_rounds_seeded(encoded: dict) -> None:
    args = (encoded["x_train"], encoded["y_train"], "binary", encoded["cards"])
    a, b = fit_lightgbm(*args, seed=3), fit_lightgbm(*args, seed=3)
    assert a.rounds == LGBM_ROUNDS and a.estimator.booster_.num_trees() == LGBM_ROUNDS
    np.testing.assert_array_equal(a.predict(encoded["x_test"]), b.predict(encoded["x_test"]))


def test_both_baselines_learn_a_label_that_depends_on_a_category_alone() -> None:
    rng = np.random.default_rng(0)
    cats = rng.integers(2, 8, size=(3000, 1))
    y = np.isin(cats[:, 0], [2, 5, 7]).astype(np.float32)  # not monotone in the id: a categorical split is needed
    x = FeatureBatch(rng.normal(size=(3000, 1)).astype(np.float32), cats)
    bases = fit_single_baselines(x, y, "binary", [8])
    for base in bases:
        p = base.predict(x)
        assert p[y == 1].min() > 0.8 and p[y == 0].max() < 0.2, base.name
    splits = bases[1].estimator.booster_.dump_model()["tree_info"][0]
    assert splits["tree_structure"]["decision_type"] == "=="  # a categorical split, by a set of ids


@pytest.mark.slow
def test_multiclass_and_regression_baselines(encoded: dict) -> None:
    x, cards = encoded["x_train"], encoded["cards"]
    rng = np.random.default_rng(1)
    classes = rng.integers(0, 3, size=len(x))
    bases = fit_single_baselines(x, classes, "multiclass", cards, x_valid=encoded["x_valid"],
                                 y_valid=rng.integers(0, 3, size=len(encoded["x_valid"])))  # fmt: skip
    for base in bases:
        p = base.predict(encoded["x_test"])
        assert p.shape == (600, 3) and np.allclose(p.sum(axis=1), 1)
    values = x.numeric[:, 0] * 3.0 + rng.normal(scale=0.1, size=len(x))
    names = []
    for base in fit_single_baselines(x, values, "regression", cards):
        pred = base.predict(x)
        assert pred.shape == (len(x),) and task_metrics("regression", values, pred)["r2"] > 0.9
        names.append(base.name)
    assert names == ["ridge regression", LIGHTGBM]


def test_multitask_baselines_train_and_stop_on_the_rows_that_have_each_target(encoded: dict) -> None:
    x, y, cards = encoded["x_train"], encoded["y_train"], encoded["cards"]
    rng = np.random.default_rng(2)
    amount = x.numeric[:, 0] * 2.0 + rng.normal(scale=0.1, size=len(x))  # a regression target
    amount[rng.uniform(size=len(x)) < 0.3] = np.nan  # 30% of the rows lack it
    targets = np.column_stack([y, amount])
    valid = np.column_stack([encoded["y_valid"], np.full(len(encoded["x_valid"]), np.nan)])  # no valid amounts
    per_target = fit_baselines(x, targets, ["binary", "regression"], cards, x_valid=encoded["x_valid"], y_valid=valid)
    assert [[b.name for b in bases] for bases in per_target] == [[LOGISTIC, LIGHTGBM], [RIDGE, LIGHTGBM]]
    (_, response), (ridge, amounts) = per_target
    assert 1 <= response.rounds < LGBM_ROUNDS  # stopped early on the validation rows of the response
    assert amounts.rounds == LGBM_ROUNDS  # no validation row has an amount: a fixed number of rounds
    root = amounts.estimator.booster_.dump_model()["tree_info"][0]["tree_structure"]
    assert root["internal_count"] == int((~np.isnan(amount)).sum())  # the rows without an amount are left out
    reference = encoded["reference"]
    auc = binary_metrics(encoded["y_test"], response.predict(encoded["x_test"]))["auc"]
    assert auc > reference["best_column_auc"], (auc, reference)
    labelled = ~np.isnan(amount)
    for base in (ridge, amounts):
        assert task_metrics("regression", amount[labelled], base.predict(x)[labelled])["r2"] > 0.9, base.name


def test_best_baseline_by_the_primary_metric() -> None:
    assert best_baseline("binary", {LOGISTIC: {"auc": 0.78}, LIGHTGBM: {"auc": 0.79}}) == LIGHTGBM
    assert best_baseline("binary", {LOGISTIC: {"auc": 0.78}, LIGHTGBM: {"auc": None}}) == LOGISTIC
    assert (
        best_baseline("regression", {"ridge regression": {"rmse": 2.0}, LIGHTGBM: {"rmse": 3.0}}) == "ridge regression"
    )


@pytest.mark.slow
def test_run_train_reports_both_baselines_the_best_one_and_one_verdict(
    bank_run: TrainOutcome, bank_table: pa.Table
) -> None:
    outcome = bank_run
    assert outcome.out is not None
    saved = json.loads((outcome.out / "metrics.json").read_text())
    assert set(saved["baselines"]) == {LOGISTIC, LIGHTGBM}
    aucs = {name: m["auc"] for name, m in saved["baselines"].items()}
    # both beat the best single column on the same test rows (fitted on the same training rows)
    reference = table_references(*_parts_of_run(bank_table, outcome), "y", drop=["duration"])
    assert min(aucs.values()) > reference["best_column_auc"], (aucs, reference)
    assert saved["baseline"] == max(aucs, key=aucs.get)
    assert saved["baseline_test"] == saved["baselines"][saved["baseline"]]
    assert 1 <= saved["baseline_rounds"][LIGHTGBM] < 2000  # stopped early on the network's validation rows
    # the baselines learnt from the rows that trained the network: its preprocessed features, the same split
    assert saved["baselines"][LOGISTIC]["n"] == saved["test"]["n"] == outcome.model.report_["test_rows"] == 600
    evaluation = json.loads((outcome.out / "evaluation.json").read_text())
    # the scorer chosen on the validation rows comes first, then every other model once
    choice = saved["selection"]
    chosen = "mlp network" if choice["scorer"] == "network" else choice["scorer"]
    assert evaluation["primary"] == chosen
    assert list(evaluation["models"]) == [chosen, *(m for m in ("mlp network", LOGISTIC, LIGHTGBM) if m != chosen)]
    assert evaluation["models"][LIGHTGBM]["kind"] == ("deep" if chosen == LIGHTGBM else "baseline")
    assert evaluation["models"][LIGHTGBM]["metrics"]["auc"] == pytest.approx(aucs[LIGHTGBM])
    assert evaluation["models"][chosen]["metrics"]["auc"] == pytest.approx(saved["test"]["auc"])
    assert evaluation["profit_settings"] == {"contact_cost": 2.0, "conversion_value": 30.0}
    assert evaluation["data"].startswith("test rows (20% of") and "stratified, seed 0" in evaluation["data"]
    # the one verdict: the choice and its reason, then the paired bootstrap against each other model
    assert saved["verdict"] == evaluation["verdict"]
    assert saved["verdict"].startswith("Scores with ")
    parts, worse, all_better = [], None, True
    for c in evaluation["comparisons"]:
        assert c["deep"] == pytest.approx(saved["test"]["auc"])
        assert c["other"] == pytest.approx(evaluation["models"][c["baseline"]]["metrics"]["auc"])
        parts.append(f"{c['baseline']} {c['other']:.4f} ({c['difference']:+.4f} [{c['low']:+.4f}, {c['high']:+.4f}])")
        if c["high"] < 0 and (worse is None or c["other"] > worse["other"]):
            worse = c  # the strongest of those that did better
        all_better = all_better and c["low"] > 0
    beaten = [c["baseline"] for c in evaluation["comparisons"] if c["low"] > 0]
    ties = [c["baseline"] for c in evaluation["comparisons"] if c["low"] <= 0 <= c["high"]]
    if worse:
        end = f"{worse['baseline']} did better on the test rows" + (f"; better than {_and(beaten)}" if beaten else "")
    elif all_better:
        end = "better than each on the test rows"
    elif beaten:
        end = f"better than {_and(beaten)} on the test rows; "
        end += f"no clear winner against {_and(ties)} (an interval holds zero)"
    else:
        end = "no clear winner on the test rows (an interval holds zero)"
    assert saved["verdict"].endswith(f" On the test rows: AUC {saved['test']['auc']:.4f}; {', '.join(parts)}: {end}.")
    header = "| metric | validation | test | network test | test logistic regression | test LightGBM |"
    if choice["scorer"] == "network":
        header = "| metric | validation | test | test logistic regression | test LightGBM |"
    assert header in (outcome.out / "card.md").read_text()
    assert "evaluation.json" in nm.load(outcome.out).extras_


@pytest.mark.slow
def test_the_baselines_learn_from_the_networks_training_rows_and_no_other(
    bank_run: TrainOutcome, bank_table: pa.Table
) -> None:
    """Which rows each baseline saw: the rows that trained the network (not its validation rows, not the
    test rows). A baseline that also saw the test rows would win the verdict it is meant to referee."""
    model = bank_run.model
    assert model.preprocessor_ is not None and model.fit_rows_ is not None
    train_table, test_table = _parts_of_run(bank_table, bank_run)
    prep, cards = model.preprocessor_, list(model.preprocessor_.cardinalities_)
    x, y = prep.transform(train_table), prep.encode_target(train_table)
    train, valid = model.fit_rows_["train"], model.fit_rows_["validation"]
    assert len(train) + len(valid) == train_table.num_rows and len(valid) > 0
    logistic, lightgbm = load_baselines(model.extras_["baselines.json"])  # the baselines as saved with the model
    # LightGBM (no bagging): the root of every tree holds every row it was trained on
    roots = {tree["tree_structure"]["internal_count"] for tree in lightgbm.estimator.dump_model()["tree_info"]}
    assert roots == {len(train)}
    # each baseline is the one fitted on exactly those rows (LightGBM stopping early on the validation rows)
    alone = fit_baseline(x.take(train), y[train], "binary", cards, seed=0)
    np.testing.assert_allclose(logistic.estimator.coef_, alone.estimator.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(logistic.estimator.intercept_, alone.estimator.intercept_, rtol=1e-9, atol=1e-12)
    trees = fit_lightgbm(x.take(train), y[train], "binary", cards, seed=0, x_valid=x.take(valid), y_valid=y[valid])
    assert trees.rounds == lightgbm.rounds
    x_test = prep.transform(test_table)
    np.testing.assert_allclose(lightgbm.predict(x_test), trees.predict(x_test), rtol=1e-12)


@pytest.mark.slow
def test_group_column_gives_the_group_auc_and_must_exist(bank_table: pa.Table) -> None:
    model = nm.Model("mlp", target="y", drop=["duration"], **FAST)
    with pytest.raises(SchemaError, match=r"column 'branch'.*not in the table"):
        run_train(bank_table, model, out=None, group_column="branch")
    outcome = run_train(bank_table, model, out=None, group_column="job", n_boot=50)
    group = outcome.model.extras_["evaluation.json"]["group_auc"]
    assert group["column"] == "job" and group["groups_used"] >= 5 and 0.5 < group["gauc"] < 1
    assert outcome.metrics["group_auc"] == group


@pytest.mark.slow
def test_multiclass_run_keeps_the_plain_verdict_and_both_baselines(bank_table: pa.Table) -> None:
    model = nm.Model("mlp", target="marital", drop=["duration"], **FAST)
    outcome = run_train(bank_table, model, out=None)
    metrics = outcome.metrics
    assert outcome.schema.task == "multiclass" and set(metrics["baselines"]) == {LOGISTIC, LIGHTGBM}
    losses = {name: m["logloss"] for name, m in metrics["baselines"].items()}
    assert metrics["baseline"] == min(losses, key=losses.get)
    evaluation = outcome.model.extras_["evaluation.json"]
    assert evaluation["task"] == "multiclass" and evaluation["comparisons"] == []
    assert metrics["baseline"] in metrics["verdict"]


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
