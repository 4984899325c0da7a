"""The baselines (needmap.workflows.baseline) on small synthetic batches: the design matrices written out by
hand, the fitted models against scikit-learn's fitted on those matrices, LightGBM's documented settings,
and every check of a baselines.json document.

Fast (no deep model is trained): the mutation tests (make mutants) run these for each change of the module.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import warnings
from types import SimpleNamespace
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss

from needmap.errors import ArtifactError
from needmap.preprocessing.batch import FeatureBatch
from needmap.workflows import baseline as bl
from needmap.workflows.baseline import (
    LGBM_DEFAULTS,
    LGBM_ROUNDS,
    LIGHTGBM,
    LOGISTIC,
    RIDGE,
    Baseline,
    baselines_document,
    fit_baseline,
    fit_baselines,
    fit_lightgbm,
    fit_single_baselines,
    load_baselines,
)

# Four rows: two numerics, two categorical columns of 3 and 2 ids, one list feature of 4 ids (0 = padding).
TINY = FeatureBatch(
    np.array([[0.5, -1.0], [2.0, 0.0], [1.5, 3.0], [0.0, 0.0]], dtype=np.float32),
    np.array([[0, 1], [2, 0], [1, 1], [0, 0]], dtype=np.int64),
    (np.array([[3, 2, 0], [2, 0, 0], [1, 1, 2], [0, 0, 0]], dtype=np.int64),),
)
# The design of TINY, by hand: numerics | one-hot of column 1 (3 ids) | one-hot of column 2 (2 ids) | the
# share of each list id among the row's non-padding positions (4 ids).
TINY_DESIGN = np.array(
    [
        [0.5, -1.0, 1, 0, 0, 0, 1, 0, 0, 1 / 2, 1 / 2],
        [2.0, 0.0, 0, 0, 1, 1, 0, 0, 0, 1, 0],
        [1.5, 3.0, 0, 1, 0, 0, 1, 0, 2 / 3, 1 / 3, 0],
        [0.0, 0.0, 1, 0, 0, 1, 0, 0, 0, 0, 0],
    ]
)


def _dense_design(x: FeatureBatch, cards: list[int], list_cards: list[int]) -> np.ndarray:
    """The linear models' design, one cell at a time (the module builds it with sparse blocks)."""
    rows = []
    for i in range(len(x)):
        row = [float(v) for v in x.numeric[i]]
        for j, card in enumerate(cards):
            row += [1.0 if x.categorical[i, j] == k else 0.0 for k in range(card)]
        for ids, card in zip(x.lists, list_cards, strict=True):
            present = [int(v) for v in ids[i] if v != 0]
            row += [present.count(k) / len(present) if present else 0.0 for k in range(card)]
        rows.append(row)
    return np.array(rows)


def _batch(n: int, seed: int) -> tuple[FeatureBatch, np.ndarray]:
    """``n`` rows of two numerics, a categorical column of 4 ids and a list of 5 ids; and a score that depends
    on all three."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, 2)).astype(np.float32)
    cats = rng.integers(0, 4, size=(n, 1))
    lists = rng.integers(0, 5, size=(n, 3))
    score = numeric[:, 0] - 0.5 * numeric[:, 1] + (cats[:, 0] == 2) - (lists == 3).sum(axis=1) * 0.7
    return FeatureBatch(numeric, cats, (lists,)), score


# -- design matrices ---------------------------------------------------------------------------------
def test_linear_design_is_numerics_one_hots_and_list_shares() -> None:
    design = bl._design(TINY, [3, 2], [4])
    assert design.shape == (4, 11)
    np.testing.assert_allclose(design.toarray(), TINY_DESIGN, rtol=0, atol=1e-15)
    np.testing.assert_allclose(design.toarray(), _dense_design(TINY, [3, 2], [4]), rtol=0, atol=1e-15)


def test_every_category_gets_its_column_even_one_no_row_has() -> None:
    # column 2 has 3 ids and no row holds id 2: its column is there, all zeros, so that rows scored later
    # with that id meet the column the model was fitted with
    design = bl._design(TINY, [3, 3], [4])
    assert design.format == "csr" and design.shape == (4, 12)
    np.testing.assert_array_equal(design.toarray(), _dense_design(TINY, [3, 3], [4]))
    assert not design.toarray()[:, 7].any()


def test_linear_design_leaves_out_lists_without_a_cardinality_and_works_without_categoricals() -> None:
    np.testing.assert_array_equal(bl._design(TINY, [3, 2]).toarray(), TINY_DESIGN[:, :7])
    numeric_only = FeatureBatch(TINY.numeric, np.zeros((4, 0), dtype=np.int64))
    np.testing.assert_array_equal(bl._design(numeric_only, []).toarray(), TINY_DESIGN[:, :2])


def test_tree_design_keeps_numerics_and_ids_as_they_are_then_adds_the_list_shares() -> None:
    dense = bl._tree_design(TINY)
    assert isinstance(dense, np.ndarray) and dense.dtype == np.float32  # exact: float32 numerics, small ids
    np.testing.assert_array_equal(dense, [[0.5, -1, 0, 1], [2, 0, 2, 0], [1.5, 3, 1, 1], [0, 0, 0, 0]])
    with_lists = bl._tree_design(TINY, [4])
    assert with_lists.shape == (4, 8)
    np.testing.assert_allclose(with_lists.toarray()[:, :4], dense, rtol=0, atol=0)
    np.testing.assert_allclose(with_lists.toarray()[:, 4:], TINY_DESIGN[:, 7:], rtol=0, atol=1e-15)
    assert bl._categorical_columns(TINY) == [2, 3]
    assert bl._categorical_columns(FeatureBatch(TINY.numeric, np.zeros((4, 0), dtype=np.int64))) == []


# -- the linear baselines ----------------------------------------------------------------------------
def test_ridge_is_scikit_learns_ridge_with_alpha_one_on_the_design() -> None:
    x, score = _batch(120, 0)
    base = fit_baseline(x, score, "regression", [4], list_cardinalities=[5])
    assert (base.name, base.task, base.cardinalities, base.list_cardinalities, base.rounds) == (
        RIDGE,
        "regression",
        [4],
        [5],
        None,
    )
    reference = Ridge(alpha=1.0).fit(_dense_design(x, [4], [5]), score)
    np.testing.assert_allclose(base.predict(x), reference.predict(_dense_design(x, [4], [5])), rtol=1e-9, atol=1e-9)
    assert base.predict(x).dtype == np.float64


def test_logistic_regression_is_scikit_learns_with_c_one_on_the_design() -> None:
    x, score = _batch(200, 1)
    y = (score > 0).astype(np.float32)
    base = fit_baseline(x, y, "binary", [4], seed=3, list_cardinalities=[5])
    assert (base.name, base.task) == (LOGISTIC, "binary")
    assert base.estimator.C == 1.0 and base.estimator.max_iter == 2000 and base.estimator.random_state == 3
    reference = LogisticRegression(C=1.0, max_iter=2000).fit(_dense_design(x, [4], [5]), y)
    p = base.predict(x)
    assert p.shape == (200,) and p.dtype == np.float64
    np.testing.assert_allclose(p, reference.predict_proba(_dense_design(x, [4], [5]))[:, 1], rtol=0, atol=1e-4)


def test_multiclass_logistic_regression_gives_a_probability_per_class() -> None:
    x, score = _batch(240, 2)
    classes = np.digitize(score, [-0.5, 0.5])
    base = fit_baseline(x, classes, "multiclass", [4], list_cardinalities=[5])
    p = base.predict(x)
    reference = LogisticRegression(C=1.0, max_iter=2000).fit(_dense_design(x, [4], [5]), classes)
    assert p.shape == (240, 3)
    np.testing.assert_allclose(p, reference.predict_proba(_dense_design(x, [4], [5])), rtol=0, atol=1e-4)


# -- LightGBM ------------------------------------------------------------------------------------------
def test_lightgbm_without_validation_rows_runs_the_documented_settings() -> None:
    assert (bl.LGBM_ROUNDS, bl.LGBM_MAX_ROUNDS, bl.LGBM_STOPPING_ROUNDS, bl.ROWS_PER_THREAD) == (200, 2000, 30, 10_000)
    x, score = _batch(150, 3)
    base = fit_lightgbm(x, score, "regression", [4], seed=7, list_cardinalities=[5])
    assert (base.name, base.task, base.rounds, base.list_cardinalities) == (LIGHTGBM, "regression", 200, [5])
    assert isinstance(base.estimator, lgb.LGBMRegressor)
    params = base.estimator.get_params()
    expected = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 31, "random_state": 7, "n_jobs": 1}
    assert {k: params[k] for k in expected} == expected
    assert (params["deterministic"], params["force_row_wise"], params["verbosity"]) == (True, True, -1)
    assert base.estimator.booster_.num_trees() == 200
    # the numerics are plain features, the categorical column a LightGBM categorical feature, then the list
    infos = base.estimator.booster_.dump_model()["feature_infos"]
    assert base.estimator.booster_.num_feature() == 2 + 1 + 5
    assert [bool(infos[f"Column_{i}"]["values"]) for i in range(3)] == [False, False, True]
    np.testing.assert_array_equal(base.predict(x), base.estimator.predict(bl._tree_design(x, [5])))


def test_lightgbm_takes_its_tuned_options_by_lightgbms_names() -> None:
    """``params`` sets LightGBM's options by its own names (a tuning trial's); the defaults written out give
    the baseline itself, and each option reaches the booster."""
    rng = np.random.default_rng(1)
    x = FeatureBatch(rng.normal(size=(600, 3)).astype(np.float32), rng.integers(1, 5, size=(600, 1)))
    y = (x.numeric[:, 0] + 0.5 * rng.normal(size=600) > 0).astype(np.float32)
    plain = fit_lightgbm(x, y, "binary", [5], seed=2)
    spelled = fit_lightgbm(x, y, "binary", [5], seed=2, params=dict(LGBM_DEFAULTS))
    np.testing.assert_array_equal(plain.predict(x), spelled.predict(x))
    tuned = {"num_leaves": 4, "learning_rate": 0.2, "min_child_samples": 50, "feature_fraction": 0.5, "lambda_l2": 3.0}
    base = fit_lightgbm(x, y, "binary", [5], seed=2, params=tuned)
    # LightGBM's own parameters as the booster saw them, read back from its model text.
    text = base.estimator.booster_.model_to_string()
    assert "[num_leaves: 4]" in text and "[learning_rate: 0.2]" in text and "[min_data_in_leaf: 50]" in text
    assert "[feature_fraction: 0.5]" in text and "[lambda_l2: 3]" in text
    assert max(t["num_leaves"] for t in base.estimator.booster_.dump_model()["tree_info"]) <= 4
    # The same model as LightGBM's own estimator with these options (the scikit-learn API's names).
    reference = lgb.LGBMClassifier(
        n_estimators=LGBM_ROUNDS, num_leaves=4, learning_rate=0.2, min_child_samples=50, colsample_bytree=0.5,
        reg_lambda=3.0, random_state=2, n_jobs=1, deterministic=True, force_row_wise=True, verbosity=-1,
    ).fit(np.hstack([x.numeric, x.categorical]).astype(np.float64), y, categorical_feature=[3])  # fmt: skip
    design = np.hstack([x.numeric, x.categorical]).astype(np.float64)
    np.testing.assert_allclose(base.predict(x), reference.predict_proba(design)[:, 1], rtol=1e-12)
    with pytest.raises(ValueError, match="bagging_fraction"):
        fit_lightgbm(x, y, "binary", [5], params={"bagging_fraction": 0.5})


def test_lightgbm_threads_one_per_ten_thousand_rows_at_most_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    x, score = _batch(60, 4)
    monkeypatch.setattr(bl, "LGBM_ROUNDS", 5)  # the threads are set before the first round: 5 rounds will do
    assert fit_lightgbm(x, score, "regression", [4], num_threads=3).estimator.get_params()["n_jobs"] == 3
    monkeypatch.setattr(bl, "ROWS_PER_THREAD", 20)  # 60 rows: 3 threads' worth
    monkeypatch.setattr(bl, "usable_cores", lambda: 2)
    assert fit_lightgbm(x, score, "regression", [4]).estimator.get_params()["n_jobs"] == 2
    monkeypatch.setattr(bl, "usable_cores", lambda: 8)
    assert fit_lightgbm(x, score, "regression", [4]).estimator.get_params()["n_jobs"] == 3
    monkeypatch.setattr(bl, "ROWS_PER_THREAD", 100)  # fewer rows than one thread's worth: still one
    assert fit_lightgbm(x, score, "regression", [4]).estimator.get_params()["n_jobs"] == 1


def test_lightgbm_stops_early_on_validation_rows_and_keeps_its_best_round() -> None:
    x, score = _batch(300, 5)
    y = (score > 0).astype(np.float32)
    xv, sv = _batch(200, 6)
    noise = np.random.default_rng(0).integers(0, 2, size=200)  # validation labels unrelated to x: overfits fast
    base = fit_lightgbm(x, y, "binary", [4], list_cardinalities=[5], x_valid=xv, y_valid=noise)
    assert base.estimator.get_params()["n_estimators"] == 2000
    assert base.rounds == base.estimator.best_iteration_
    assert 1 <= base.rounds < 200
    # the model trained for its best round plus the 30 rounds without improvement, then stopped
    assert len(base.estimator.evals_result_["valid_0"]["binary_logloss"]) == base.rounds + 30
    kept = lgb.Booster(model_str=base.estimator.booster_.model_to_string(num_iteration=base.rounds))
    np.testing.assert_allclose(base.predict(xv), kept.predict(bl._tree_design(xv, [5])), rtol=1e-12, atol=0)
    # validation rows of its own target: the same model either way
    fitted = fit_lightgbm(x, y, "binary", [4], list_cardinalities=[5], x_valid=xv, y_valid=(sv > 0).astype(int))
    assert fitted.rounds == fitted.estimator.best_iteration_ > base.rounds
    assert len(fitted.estimator.evals_result_["valid_0"]["binary_logloss"]) == fitted.rounds + 30


def test_early_stopping_scores_the_validation_rows_with_their_list_columns() -> None:
    # the validation loss LightGBM records for a round is sklearn's log loss of that round's predictions on
    # the validation rows' full design (LightGBM accepts a validation matrix without the list columns and
    # then scores rows it misreads, which moves the round kept)
    x, score = _batch(300, 5)
    xv, sv = _batch(200, 6)
    yv = (sv > 0).astype(int)
    base = fit_lightgbm(x, (score > 0).astype(np.float32), "binary", [4], list_cardinalities=[5], x_valid=xv,
                        y_valid=yv)  # fmt: skip
    recorded = base.estimator.evals_result_["valid_0"]["binary_logloss"]
    design = bl._tree_design(xv, [5])
    for k in (1, base.rounds // 2, base.rounds):  # the fitted booster keeps the trees up to its best round
        p = base.estimator.booster_.predict(design, num_iteration=k)
        assert recorded[k - 1] == pytest.approx(log_loss(yv, p), rel=1e-9)
    assert base.rounds == int(np.argmin(recorded)) + 1


def test_one_validation_row_is_enough_to_stop_early() -> None:
    x, score = _batch(120, 11)
    xv, sv = _batch(1, 12)
    base = fit_lightgbm(x, score, "regression", [4], list_cardinalities=[5], x_valid=xv, y_valid=sv)
    assert base.estimator.get_params()["n_estimators"] == 2000
    assert base.rounds == base.estimator.best_iteration_ < 2000


def test_lightgbm_with_validation_rows_prints_and_warns_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    # quiet as documented: no early-stopping log lines, and no LightGBM deprecation warning (LightGBM >= 4.7
    # takes the validation rows as eval_X / eval_y and warns about eval_set)
    x, score = _batch(120, 11)
    xv, sv = _batch(60, 12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        base = fit_lightgbm(x, score, "regression", [4], list_cardinalities=[5], x_valid=xv, y_valid=sv)
    assert [str(w.message) for w in caught] == []
    assert capfd.readouterr() == ("", "")
    assert base.rounds == base.estimator.best_iteration_ < 2000


def test_lightgbm_before_4_7_gets_the_validation_rows_as_eval_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # a LightGBM whose fit has no eval_X (4.0 to 4.6, which pyproject allows): the same rows as eval_set
    x, score = _batch(120, 11)
    xv, sv = _batch(60, 12)
    expected = fit_lightgbm(x, score, "regression", [4], list_cardinalities=[5], x_valid=xv, y_valid=sv)

    def signature(f: Any) -> SimpleNamespace:
        return SimpleNamespace(parameters={k: v for k, v in inspect.signature(f).parameters.items() if k != "eval_X"})

    monkeypatch.setattr(bl, "inspect", SimpleNamespace(signature=signature))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LightGBM >= 4.7 says eval_set is deprecated
        base = fit_lightgbm(x, score, "regression", [4], list_cardinalities=[5], x_valid=xv, y_valid=sv)
    assert base.rounds == base.estimator.best_iteration_ == expected.rounds < 2000
    assert base.estimator.evals_result_["valid_0"]["l2"] == expected.estimator.evals_result_["valid_0"]["l2"]


@pytest.mark.parametrize("valid", ["empty", "no labels"])
def test_lightgbm_without_usable_validation_rows_runs_the_fixed_rounds(valid: str) -> None:
    x, score = _batch(80, 7)
    y = (score > 0).astype(np.float32)
    if valid == "empty":
        kwargs: dict[str, Any] = {"x_valid": x.take(np.arange(0)), "y_valid": y[:0]}
    else:
        kwargs = {"x_valid": x, "y_valid": None}
    base = fit_lightgbm(x, y, "binary", [4], **kwargs)
    assert base.rounds == 200 and base.estimator.get_params()["n_estimators"] == 200
    assert isinstance(base.estimator, lgb.LGBMClassifier)


def test_lightgbm_without_categorical_columns_and_for_several_classes() -> None:
    x, score = _batch(150, 8)
    numeric_only = FeatureBatch(x.numeric, np.zeros((150, 0), dtype=np.int64))
    base = fit_lightgbm(numeric_only, np.digitize(score, [-0.5, 0.5]), "multiclass", [])
    p = base.predict(numeric_only)
    assert p.shape == (150, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert base.estimator.booster_.num_model_per_iteration() == 3


# -- several targets ---------------------------------------------------------------------------------
def test_each_target_fits_on_its_labelled_rows_and_names_its_target() -> None:
    x, score = _batch(160, 9)
    response = (score > 0).astype(np.float64)
    amount = score * 2.0
    amount[::4] = np.nan  # a quarter of the rows lack the amount
    y = np.column_stack([response, amount])
    xv, sv = _batch(100, 10)
    yv = np.column_stack([(sv > 0).astype(np.float64), np.full(100, np.nan)])  # no validation amount
    per_target = fit_baselines(x, y, ["binary", "regression"], [4], list_cardinalities=[5], x_valid=xv, y_valid=yv,
                               targets=["buys", "amount"])  # fmt: skip
    assert [[(b.name, b.target) for b in bases] for bases in per_target] == [
        [(LOGISTIC, "buys"), (LIGHTGBM, "buys")],
        [(RIDGE, "amount"), (LIGHTGBM, "amount")],
    ]
    (logistic, response_trees), (ridge, amount_trees) = per_target
    assert response_trees.rounds == response_trees.estimator.best_iteration_  # stopped on the response's rows
    assert response_trees.estimator.get_params()["n_estimators"] == 2000
    assert amount_trees.rounds == 200  # no validation row has an amount
    labelled = ~np.isnan(amount)
    rows = np.flatnonzero(labelled)
    reference = Ridge(alpha=1.0).fit(_dense_design(x.take(rows), [4], [5]), amount[labelled])
    np.testing.assert_allclose(ridge.predict(x), reference.predict(_dense_design(x, [4], [5])), rtol=1e-9, atol=1e-9)
    root = amount_trees.estimator.booster_.dump_model()["tree_info"][0]["tree_structure"]
    assert root["internal_count"] == labelled.sum() == 120
    reference = LogisticRegression(C=1.0, max_iter=2000).fit(_dense_design(x, [4], [5]), response)
    np.testing.assert_allclose(
        logistic.predict(x), reference.predict_proba(_dense_design(x, [4], [5]))[:, 1], rtol=0, atol=1e-4
    )
    unnamed = fit_baselines(x, y, ["binary", "regression"], [4], list_cardinalities=[5])
    assert [b.target for bases in unnamed for b in bases] == [None] * 4
    assert [b.rounds for bases in unnamed for b in bases] == [None, 200, None, 200]


def test_single_target_baselines_are_the_linear_model_then_lightgbm_on_the_same_rows() -> None:
    x, score = _batch(120, 11)
    xv, sv = _batch(60, 12)
    bases = fit_single_baselines(x, score, "regression", [4], seed=2, list_cardinalities=[5], x_valid=xv, y_valid=sv)
    assert [b.name for b in bases] == [RIDGE, LIGHTGBM]
    assert [b.list_cardinalities for b in bases] == [[5], [5]]
    assert bases[1].estimator.get_params()["random_state"] == 2
    assert bases[1].estimator.get_params()["n_estimators"] == 2000  # it stopped early on the given rows


def test_the_seed_reaches_every_baseline_and_defaults_to_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bl, "LGBM_ROUNDS", 5)  # the seed is set before the first round: 5 rounds will do
    x, score = _batch(80, 15)
    y = (score > 0).astype(np.float64)

    def seeds(bases: list[Baseline]) -> list[Any]:
        return [b.estimator.get_params().get("random_state") for b in bases]

    assert fit_baseline(x, y, "binary", [4]).estimator.random_state == 0
    assert fit_lightgbm(x, y, "binary", [4]).estimator.get_params()["random_state"] == 0
    assert seeds(fit_single_baselines(x, y, "binary", [4])) == [0, 0]
    single = fit_single_baselines(x, y, "binary", [4], seed=6)
    assert seeds(single) == [6, 6]
    assert [b.cardinalities for b in single] == [[4], [4]]
    targets = np.column_stack([y, score])
    assert [seeds(bases) for bases in fit_baselines(x, targets, ["binary", "regression"], [4])] == [[0, 0], [None, 0]]
    # validation rows without their targets are no validation rows: the fixed rounds
    per_target = fit_baselines(x, targets, ["binary", "regression"], [4], seed=6, x_valid=x)
    assert [seeds(bases) for bases in per_target] == [[6, 6], [None, 6]]  # Ridge has no seed
    assert [bases[1].rounds for bases in per_target] == [5, 5]


def test_a_multiclass_lightgbm_model_of_two_classes_is_accepted() -> None:
    x, score = _batch(60, 16)
    params = {"objective": "multiclass", "num_class": 2, "num_leaves": 4, "min_data_in_leaf": 5, "verbosity": -1}
    booster = lgb.train(params, lgb.Dataset(bl._tree_design(x), (score > 0).astype(int)), num_boost_round=3)
    text = booster.model_to_string()
    entry = {"name": LIGHTGBM, "task": "multiclass", "cardinalities": [4], "rounds": 3, "model": text,
             "model_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}  # fmt: skip
    (base,) = load_baselines({"version": 1, "baselines": [entry]})
    assert base.predict(x).shape == (60, 2)
    _refused({"version": 1, "baselines": [{**entry, "task": "binary"}]}, r"binary baseline whose LightGBM model has 2")


def test_labelled_rows_are_those_with_a_value() -> None:
    y = np.array([1.0, np.nan, 0.0, np.nan])
    x, kept = bl._labelled(TINY, y)
    np.testing.assert_array_equal(kept, [1.0, 0.0])
    np.testing.assert_array_equal(x.numeric, TINY.numeric[[0, 2]])
    np.testing.assert_array_equal(x.lists[0], TINY.lists[0][[0, 2]])
    full = np.array([1.0, 0.0, 1.0, 1.0])
    x, kept = bl._labelled(TINY, full)
    assert x is TINY
    np.testing.assert_array_equal(kept, full)


# -- baselines.json ------------------------------------------------------------------------------------
class _Fitted(dict):
    """Baselines of one batch by kind, each fitted when a test first asks for it (a test that needs one
    baseline does not wait for the others)."""

    def __missing__(self, kind: str) -> Baseline:
        x, score = _batch(150, 13)
        y = (score > 0).astype(np.float32)
        classes = np.digitize(score, [-0.5, 0.5])
        fits = {
            "binary LR": lambda: fit_baseline(x, y, "binary", [4], list_cardinalities=[5]),
            "multiclass LR": lambda: fit_baseline(x, classes, "multiclass", [4], list_cardinalities=[5]),
            "ridge": lambda: fit_baseline(x, score, "regression", [4], list_cardinalities=[5]),
            "binary LightGBM": lambda: fit_lightgbm(x, y, "binary", [4], list_cardinalities=[5]),
            "multiclass LightGBM": lambda: fit_lightgbm(x, classes, "multiclass", [4], list_cardinalities=[5]),
        }
        self[kind] = fits[kind]()
        return self[kind]


@pytest.fixture(scope="module")
def fitted() -> dict[str, Baseline]:
    return _Fitted()


def _json(document: Any) -> Any:
    return json.loads(json.dumps(document))


def test_a_linear_baseline_is_written_as_its_coefficients(fitted: dict[str, Baseline]) -> None:
    logistic = fitted["binary LR"]
    document = logistic.to_dict()
    assert set(document) == {"name", "task", "cardinalities", "list_cardinalities", "rounds", "fit", "coef",
                             "intercept", "classes"}  # fmt: skip
    assert (document["name"], document["task"], document["rounds"]) == (LOGISTIC, "binary", None)
    assert document["fit"]["solver"] == "L-BFGS" and document["fit"]["rows"] == 150
    assert (document["cardinalities"], document["list_cardinalities"], document["classes"]) == ([4], [5], [0.0, 1.0])
    assert document["coef"] == logistic.estimator.coef_.tolist() and len(document["coef"]) == 1
    assert document["intercept"] == logistic.estimator.intercept_.tolist()
    ridge = fitted["ridge"].to_dict()
    assert "classes" not in ridge and "target" not in ridge
    assert ridge["coef"] == fitted["ridge"].estimator.coef_.tolist() and isinstance(ridge["intercept"], float)
    assert _json(document) == document  # plain JSON already


def test_lightgbm_is_written_as_its_model_text_and_that_texts_sha256(fitted: dict[str, Baseline]) -> None:
    base = fitted["binary LightGBM"]
    base.target = "buys"
    try:
        document = base.to_dict()
    finally:
        base.target = None
    assert set(document) == {"name", "task", "cardinalities", "list_cardinalities", "rounds", "target", "fit",
                             "model", "model_sha256"}  # fmt: skip
    assert (document["rounds"], document["target"]) == (200, "buys")
    assert document["fit"]["max_bin"] == 255 and document["fit"]["learning_rate"] == 0.05  # few rows: the defaults
    assert document["model"] == base.estimator.booster_.model_to_string()
    assert document["model_sha256"] == hashlib.sha256(document["model"].encode("utf-8")).hexdigest()


@pytest.mark.parametrize("kind", ["binary LR", "multiclass LR", "ridge", "binary LightGBM", "multiclass LightGBM"])
def test_every_baseline_predicts_the_same_after_a_json_round_trip(fitted: dict[str, Baseline], kind: str) -> None:
    base = fitted[kind]
    document = baselines_document([base])
    assert document["version"] == 1 and len(document["baselines"]) == 1
    (again,) = load_baselines(_json(document))
    assert (again.name, again.task, again.cardinalities, again.list_cardinalities, again.rounds, again.target) == (
        base.name,
        base.task,
        base.cardinalities,
        base.list_cardinalities,
        base.rounds,
        None,
    )
    x, _ = _batch(40, 14)
    np.testing.assert_array_equal(again.predict(x), base.predict(x))
    if base.name == LIGHTGBM:
        assert isinstance(again.estimator, lgb.Booster)
    else:
        assert type(again.estimator) is type(base.estimator)
        assert again.estimator.n_features_in_ == 2 + 4 + 5


def test_a_document_of_several_baselines_keeps_their_order_and_targets(fitted: dict[str, Baseline]) -> None:
    entries = [fitted["ridge"].to_dict(), fitted["binary LightGBM"].to_dict()]
    entries[0]["target"] = "amount"
    loaded = load_baselines({"version": 1, "baselines": entries}, file="/models/m")
    assert [(b.name, b.target) for b in loaded] == [(RIDGE, "amount"), (LIGHTGBM, None)]
    assert load_baselines({"version": 1, "baselines": []}) == []
    legacy = fitted["ridge"].to_dict()
    del legacy["list_cardinalities"]  # written before list features: none
    ridge = Baseline.from_dict(legacy)
    assert ridge.list_cardinalities == []
    assert ridge.rounds is None


def _refused(document: Any, pattern: str, **kwargs: Any) -> ArtifactError:
    with pytest.raises(ArtifactError, match=pattern) as error:
        load_baselines(document, **kwargs)
    return error.value


def test_the_document_must_be_version_one_with_a_list(fitted: dict[str, Baseline]) -> None:
    error = _refused([], r"'baselines.json': the document is list", file="/models/m")
    assert error.file == "/models/m" and "train the model again" in error.hint
    _refused({"baselines": []}, "has version None; expected version 1")
    _refused({"version": 2, "baselines": []}, "has version 2; expected version 1")
    _refused({"version": 1, "baselines": {}}, "has baselines {}; expected a list of baselines")
    _refused({"version": 1}, "has baselines None")
    _refused({"version": 1, "baselines": [fitted["ridge"].to_dict(), 3]}, r"baseline 2 is int")


def _entry(fitted: dict[str, Baseline], kind: str, **changes: Any) -> dict[str, Any]:
    entry = _json(fitted[kind].to_dict())
    for key, value in changes.items():
        if value is _DROP:
            del entry[key]
        else:
            entry[key] = value
    return {"version": 1, "baselines": [entry]}


_DROP = object()


@pytest.mark.parametrize(
    ("kind", "changes", "pattern"),
    [
        ("ridge", {"name": "lasso"}, r"baseline 1 \(lasso\) has the name 'lasso'"),
        ("ridge", {"name": _DROP}, r"baseline 1 has the name None"),
        ("ridge", {"task": "binary"}, r"baseline 1 \(ridge regression\) \(ridge regression\) has the task 'binary'"),
        ("binary LR", {"task": "regression"}, r"\(logistic regression\) has the task 'regression'"),
        ("binary LightGBM", {"task": "ranking"}, r"\(LightGBM\) has the task 'ranking'"),
        ("ridge", {"cardinalities": [4, -1]}, r"has cardinalities \[4, -1\]; expected a list of whole numbers"),
        ("ridge", {"cardinalities": [True]}, r"has cardinalities \[True\]"),
        ("ridge", {"cardinalities": "4"}, r"has cardinalities 4"),
        ("ridge", {"cardinalities": _DROP}, r"has cardinalities None"),
        ("ridge", {"list_cardinalities": [2.0]}, r"has list_cardinalities \[2.0\]"),
        ("binary LightGBM", {"rounds": -1}, r"has rounds -1; expected a whole number of boosting rounds or null"),
        ("binary LightGBM", {"rounds": 2.5}, r"has rounds 2.5"),
        ("binary LightGBM", {"rounds": True}, r"has rounds True"),
        ("ridge", {"target": ""}, r"has the target ''"),
        ("ridge", {"target": 3}, r"has the target 3"),
        ("ridge", {"coef": [[1.0, 2.0]]}, r"has coef \[\[1.0, 2.0\]\]; expected a list of numbers, all finite"),
        ("ridge", {"coef": [1.0, None]}, r"has coef \[1.0, None\]"),
        ("ridge", {"coef": ["a"]}, r"has coef \['a'\]"),
        ("ridge", {"intercept": [0.5]}, r"has intercept \[0.5\]; expected a number, all finite"),
        ("binary LR", {"coef": [1.0, 2.0]}, r"has coef \[1.0, 2.0\]; expected a list of rows of numbers"),
        ("binary LR", {"intercept": 0.5}, r"has intercept 0.5; expected a list of numbers"),
        ("binary LR", {"classes": [0]}, r"has classes \[0\]; expected a list of at least two classes"),
        ("binary LR", {"classes": "01"}, r"has classes 01"),
        ("binary LR", {"classes": [0, 1, 2]}, r"has coef of shape \(1, 11\) and intercept of shape \(1,\) for 3 "),
        ("multiclass LR", {"classes": [0, 1]}, r"has coef of shape \(3, 11\) and intercept of shape \(3,\) for 2 "),
        ("multiclass LR", {"intercept": [0.0, 0.0]}, r"and intercept of shape \(2,\) for 3 classes; expected 3 row"),
        ("binary LightGBM", {"model": ""}, r"has no 'model' text; expected LightGBM's model text"),
        ("binary LightGBM", {"model": _DROP}, r"has no 'model' text"),
        ("binary LightGBM", {"model_sha256": "0" * 64}, r"the file recorded 000000000000…"),
        ("binary LightGBM", {"model_sha256": _DROP}, r"the file recorded None…"),
        ("binary LightGBM", {"task": "multiclass"}, r"is a multiclass baseline whose LightGBM model has 1 tree\(s\)"),
        ("multiclass LightGBM", {"task": "binary"}, r"is a binary baseline whose LightGBM model has 3 tree\(s\)"),
    ],
)
def test_each_malformed_entry_is_refused_naming_the_baseline_and_what_is_wrong(
    fitted: dict[str, Baseline], kind: str, changes: dict[str, Any], pattern: str
) -> None:
    error = _refused(_entry(fitted, kind, **changes), pattern, file="/models/m")
    assert str(error).startswith("file '/models/m': 'baselines.json': baseline 1")
    assert error.file == "/models/m"


def test_entry_label_names_the_position_and_the_name() -> None:
    with pytest.raises(ArtifactError, match=r"'baselines.json': baseline 1 \(ridge regression\) has cardinalities"):
        load_baselines({"version": 1, "baselines": [{"name": RIDGE, "task": "regression"}]})
    with pytest.raises(ArtifactError, match=r"'baselines.json': baseline 1 has the name 5"):
        load_baselines({"version": 1, "baselines": [{"name": 5}]})
    with pytest.raises(ArtifactError, match=r"'baselines.json': the baseline is list"):
        Baseline.from_dict([])


def test_model_text_that_lightgbm_cannot_read_is_refused_after_its_checksum_matched(
    fitted: dict[str, Baseline],
) -> None:
    text = "not a LightGBM model"
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    entry = _entry(fitted, "binary LightGBM", model=text, model_sha256=sha)
    _refused(entry, r"has LightGBM model text that LightGBM's parser must not see")


def test_valid_optional_fields_are_accepted(fitted: dict[str, Baseline]) -> None:
    (base,) = load_baselines(_entry(fitted, "binary LightGBM", rounds=0, target="t"))
    assert (base.rounds, base.target) == (0, "t")
    (base,) = load_baselines(_entry(fitted, "ridge", rounds=None, cardinalities=[0, 7]))
    assert (base.rounds, base.cardinalities) == (None, [0, 7])
    (base,) = load_baselines(_entry(fitted, "binary LR", classes=["no", "yes"]))
    assert base.estimator.classes_.tolist() == ["no", "yes"]
    assert base.estimator.coef_.shape == (1, 11) and base.estimator.intercept_.shape == (1,)
