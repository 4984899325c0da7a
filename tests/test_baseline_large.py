"""The baselines on many rows: logistic regression by averaged SGD stopped on the validation rows
(needmap.workflows.linear_sgd), LightGBM with capped bins and a faster rate, and the record of how each was fitted.

The row thresholds are lowered for the tests (monkeypatch), so that a few thousand generated rows take the
large-data path in well under a second.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

from needmap.preprocessing.batch import FeatureBatch
from needmap.workflows import baseline as bl
from needmap.workflows import linear_sgd
from needmap.workflows.baseline import LIGHTGBM, LOGISTIC, fit_baseline, fit_lightgbm, load_baselines


def _rows(n: int, seed: int) -> tuple[FeatureBatch, np.ndarray]:
    """``n`` rows of three numerics and two categorical columns (20 and 5 ids) whose labels follow a logistic
    model of all of them."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, 3)).astype(np.float32)
    cats = np.stack([rng.integers(0, 20, n), rng.integers(0, 5, n)], axis=1)
    effect = np.linspace(-1.5, 1.5, 20)[cats[:, 0]] + np.array([0, 0.5, -0.5, 1, 0])[cats[:, 1]]
    logit = 1.2 * numeric[:, 0] - 0.8 * numeric[:, 1] + effect - 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return FeatureBatch(numeric, cats), y


CARDS = [20, 5]


@pytest.fixture()
def many_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bl, "SGD_MIN_ROWS", 2_000)
    monkeypatch.setattr(bl, "LGBM_LARGE_ROWS", 2_000)


def test_few_rows_keep_the_exact_solver() -> None:
    x, y = _rows(1_500, 0)
    base = fit_baseline(x, y, "binary", CARDS)
    assert base.fit["solver"] == "L-BFGS" and base.fit["rows"] == 1_500


def test_many_rows_fit_logistic_regression_by_averaged_sgd_as_well_as_lbfgs(many_rows: None) -> None:
    x, y = _rows(6_000, 1)
    xv, yv = _rows(2_000, 2)
    xt, yt = _rows(4_000, 3)
    base = fit_baseline(x, y, "binary", CARDS, seed=0, x_valid=xv, y_valid=yv)
    assert base.name == LOGISTIC and base.fit["solver"] == "averaged SGD" and base.fit["rows"] == 6_000
    assert 1 <= base.fit["epochs"] <= linear_sgd.SGD_MAX_EPOCHS
    exact = LogisticRegression(C=1.0, max_iter=2000).fit(bl._design(x, CARDS), y)
    p_sgd, p_exact = base.predict(xt), exact.predict_proba(bl._design(xt, CARDS))[:, 1]
    assert roc_auc_score(yt, p_sgd) > roc_auc_score(yt, p_exact) - 0.005
    assert log_loss(yt, p_sgd) < log_loss(yt, p_exact) + 0.01  # probabilities, not only a ranking


def test_sgd_keeps_the_pass_with_the_lowest_validation_loss(many_rows: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linear_sgd, "SGD_STEP", 0.1)  # a larger step: the validation loss turns up after 2 passes
    x, y = _rows(6_000, 4)
    xv, yv = _rows(2_000, 5)
    base = fit_baseline(x, y, "binary", CARDS, seed=0, x_valid=xv, y_valid=yv)
    # the kept weights are the ones whose validation loss is reported, and no pass run did better
    assert base.fit["validation_logloss"] == pytest.approx(log_loss(yv, base.predict(xv)), abs=1e-6)
    design, valid = bl._design(x, CARDS), (bl._design(xv, CARDS), yv)
    losses = []
    ran = min(base.fit["epochs"] + 1, linear_sgd.SGD_MAX_EPOCHS)  # the pass that did not improve was run too
    for epochs in range(1, ran + 1):
        model, _ = _fixed_passes(design, y, valid, epochs)
        losses.append(log_loss(yv, model.predict_proba(valid[0])[:, 1]))
    assert base.fit["validation_logloss"] == pytest.approx(min(losses), abs=1e-6)
    assert base.fit["epochs"] < linear_sgd.SGD_MAX_EPOCHS and losses[-1] > min(losses)  # it stopped early


def _fixed_passes(design, y, valid, epochs):  # type: ignore[no-untyped-def]
    """The SGD fit run for exactly ``epochs`` passes: without validation rows it runs the fixed count."""
    saved = linear_sgd.SGD_EPOCHS_WITHOUT_VALIDATION
    linear_sgd.SGD_EPOCHS_WITHOUT_VALIDATION = epochs
    try:
        return linear_sgd.fit_logistic_sgd(design, y, seed=0)
    finally:
        linear_sgd.SGD_EPOCHS_WITHOUT_VALIDATION = saved


def test_sgd_without_validation_rows_runs_its_fixed_passes(many_rows: None) -> None:
    x, y = _rows(3_000, 6)
    base = fit_baseline(x, y, "binary", CARDS)
    assert base.fit["epochs"] == linear_sgd.SGD_EPOCHS_WITHOUT_VALIDATION and base.fit["validation_logloss"] is None


def test_a_sgd_baseline_round_trips_with_its_fit(many_rows: None) -> None:
    x, y = _rows(3_000, 7)
    base = fit_baseline(x, y, "binary", CARDS, x_valid=_rows(500, 8)[0], y_valid=_rows(500, 8)[1])
    (again,) = load_baselines(json.loads(json.dumps(bl.baselines_document([base]))))
    assert again.fit == base.fit
    np.testing.assert_allclose(again.predict(x), base.predict(x), rtol=0, atol=1e-12)


def test_many_rows_give_lightgbm_capped_bins_and_the_faster_rate(many_rows: None) -> None:
    x, y = _rows(3_000, 9)
    xv, yv = _rows(1_000, 10)
    base = fit_lightgbm(x, y, "binary", CARDS, x_valid=xv, y_valid=yv)
    params = base.estimator.get_params()
    assert base.name == LIGHTGBM and params["max_bin"] == bl.LGBM_LARGE_DATA["max_bin"] == 63
    assert params["learning_rate"] == base.fit["learning_rate"] == bl.LGBM_LARGE_RATE
    assert params["cat_smooth"] == bl.LGBM_LARGE_DATA["cat_smooth"]
    assert params["min_data_in_bin"] == base.fit["min_data_in_bin"] == bl.LGBM_LARGE_DATA["min_data_in_bin"] == 100
    assert params["force_col_wise"] is True and "force_row_wise" not in params
    assert params["use_quantized_grad"] is True and params["num_grad_quant_bins"] == base.fit["gradient_levels"] == 16
    assert base.estimator.booster_.params["use_quantized_grad"] is True
    again = fit_lightgbm(x, y, "binary", CARDS, x_valid=xv, y_valid=yv)  # the quantization's rounding is seeded
    np.testing.assert_array_equal(again.predict(x), base.predict(x))
    assert base.fit["max_bin"] == 63 and base.fit["rows"] == 3_000
    assert base.fit["early_stopping"] == bl.LGBM_LARGE_STOPPING_ROUNDS  # the patience on many rows
    assert base.estimator.booster_.params["max_bin"] == 63  # reached the Dataset, not only the estimator


def _categories_split_on(base: bl.Baseline, feature: int) -> set[int]:
    """The categories of column ``feature`` that any split of the fitted LightGBM sends one way by name."""
    found: set[int] = set()

    def visit(node: dict) -> None:
        if "split_index" not in node:
            return
        if node["split_feature"] == feature and node["decision_type"] == "==":
            found.update(int(c) for c in str(node["threshold"]).split("||"))
        visit(node["left_child"])
        visit(node["right_child"])

    for tree in base.estimator.booster_.dump_model()["tree_info"]:
        visit(tree["tree_structure"])
    return found


def test_many_rows_give_rare_categories_no_splits_of_their_own(
    many_rows: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """120 categories of 50 rows each (enough for LightGBM's ``cat_smooth`` to consider them), each with its own
    effect on the label: with LightGBM's default binning every one gets a bin and the splits name dozens; from many
    rows, a category seen fewer than ``min_data_in_bin`` times shares a bin with the others like it, and no split
    names it (LightGBM keeps the two most frequent in bins of their own whatever their count)."""
    rng = np.random.default_rng(21)
    n = 6_000
    ids = np.repeat(np.arange(120), 50)
    rng.shuffle(ids)
    numeric = rng.normal(size=(n, 3)).astype(np.float32)
    logit = rng.normal(scale=2.0, size=120)[ids] + numeric[:, 0]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    x = FeatureBatch(numeric, np.stack([ids, ids % 5], axis=1))
    column = x.numeric.shape[1]  # the categorical column's position in LightGBM's design
    rare = fit_lightgbm(x, y, "binary", [120, 5])
    assert len(_categories_split_on(rare, column)) <= 2
    monkeypatch.setitem(bl.LGBM_LARGE_DATA, "min_data_in_bin", 3)  # LightGBM's own default
    plain = fit_lightgbm(x, y, "binary", [120, 5])
    assert len(_categories_split_on(plain, column)) > 20


def test_a_tuned_rate_is_kept_on_many_rows(many_rows: None) -> None:
    x, y = _rows(3_000, 11)
    base = fit_lightgbm(x, y, "binary", CARDS, params={"learning_rate": 0.03})
    assert base.fit["learning_rate"] == 0.03 and base.fit["max_bin"] == 63


def test_few_rows_keep_lightgbms_settings() -> None:
    x, y = _rows(1_000, 12)
    base = fit_lightgbm(x, y, "binary", CARDS)
    params = base.estimator.get_params()
    assert "max_bin" not in params or params["max_bin"] in (None, 255)
    assert base.fit["learning_rate"] == 0.05 and base.fit["max_bin"] == 255


def test_the_linear_design_is_written_as_scipy_would_build_it() -> None:
    """The design's CSR arrays are written directly; the same matrix as one-hot blocks stacked by scipy."""
    import scipy.sparse as sp

    x, _ = _rows(500, 13)
    built = bl._design(x, CARDS)
    one_hot = [sp.csr_matrix((np.ones(500), (np.arange(500), x.categorical[:, j])), shape=(500, c)) for j, c in
               enumerate(CARDS)]  # fmt: skip
    expected = sp.hstack([sp.csr_matrix(x.numeric.astype(np.float64)), *one_hot], format="csr")
    assert built.shape == expected.shape and built.has_sorted_indices
    np.testing.assert_array_equal(built.toarray(), expected.toarray())


def test_a_fit_keeps_its_encoded_rows_only_when_asked() -> None:
    """Model.fit frees its encoded rows unless the caller (the train workflow, for its baselines) asks to keep
    them; kept, they are the rows of fit_rows_ as the preprocessor encodes them, ids held as int32."""
    import pyarrow as pa

    from needmap.estimator import Model

    rng = np.random.default_rng(0)
    n = 400
    table = pa.table({"a": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n), "y": rng.integers(0, 2, n)})
    options = {"target": "y", "hidden": [4], "epochs": 1, "progress": False, "seed": 0}
    plain = Model("mlp", **options).fit(table, validation=0.2)
    assert plain.predictor_.encoded_fit_rows_ is None
    kept = Model("mlp", **options).fit(table, validation=0.2, keep_encoded_rows=True).predictor_
    encoded, rows = kept.encoded_fit_rows_, kept.fit_rows_
    again = kept.preprocessor_.transform(table)
    np.testing.assert_array_equal(encoded["train"].numeric, again.take(rows["train"]).numeric)
    np.testing.assert_array_equal(encoded["validation"].categorical, again.take(rows["validation"]).categorical)
    assert encoded["train"].categorical.dtype == encoded["validation"].categorical.dtype == np.int32  # compact
    # fit_part serves the kept rows, and without them encodes the same rows again
    assert kept.fit_part(table, "train") is encoded["train"]
    kept.encoded_fit_rows_ = None
    for part in ("train", "validation"):
        np.testing.assert_array_equal(kept.fit_part(table, part).numeric, encoded[part].numeric)
        np.testing.assert_array_equal(kept.fit_part(table, part).categorical, encoded[part].categorical)


def test_lightgbm_reads_float32_where_exact_and_fits_the_same_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    """float32 holds every value of the design here (float32 numerics, small ids): the same model as float64's,
    in half the memory; an id beyond float32's exact integers keeps float64."""
    x, y = _rows(3000, seed=3)
    assert bl._tree_design(x).dtype == np.float32
    narrow = fit_lightgbm(x, y, "binary", [40, 25], seed=0)
    monkeypatch.setattr(bl, "FLOAT32_IDS", 0)  # every id "too large": the float64 design
    assert bl._tree_design(x).dtype == np.float64
    wide = fit_lightgbm(x, y, "binary", [40, 25], seed=0)
    assert narrow._booster().model_to_string() == wide._booster().model_to_string()
    np.testing.assert_array_equal(narrow.predict(x), wide.predict(x))
    monkeypatch.undo()
    big = FeatureBatch(x.numeric, np.where(x.categorical == 1, (1 << 24) + 1, x.categorical))
    design = bl._tree_design(big)
    assert design.dtype == np.float64 and design[:, x.numeric.shape[1] :].max() == (1 << 24) + 1


def test_many_more_rows_build_the_linear_design_a_part_at_a_time(
    many_rows: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above SGD_WHOLE_ROWS each pass builds the design a part at a time (never whole), and the model is as good
    as the one fitted on the whole design."""
    x, y = _rows(6_000, seed=5)
    xv, yv = _rows(3_000, seed=6)
    xt, yt = _rows(4_000, seed=7)
    whole = fit_baseline(x, y, "binary", CARDS, seed=0, x_valid=xv, y_valid=yv)
    monkeypatch.setattr(bl, "SGD_WHOLE_ROWS", 2_500)
    monkeypatch.setattr(bl, "SGD_PART_ROWS", 1_000)
    monkeypatch.setattr(linear_sgd, "SGD_PART_ROWS", 1_000)
    built: list[int] = []
    real = bl._design

    def counted(batch: FeatureBatch, *args: object) -> object:
        built.append(len(batch))
        return real(batch, *args)

    monkeypatch.setattr(bl, "_design", counted)
    parts = fit_baseline(x, y, "binary", CARDS, seed=0, x_valid=xv, y_valid=yv)
    assert built and max(built) <= 1_000 and sum(built) >= 6_000 + 3_000  # every row, in parts, each pass
    assert parts.fit["design_part_rows"] == 1_000 and parts.fit["solver"] == "averaged SGD"
    assert parts.estimator.coef_.shape == whole.estimator.coef_.shape
    assert np.corrcoef(parts.estimator.coef_.ravel(), whole.estimator.coef_.ravel())[0, 1] > 0.95  # the same model
    auc_whole, auc_parts = roc_auc_score(yt, whole.predict(xt)), roc_auc_score(yt, parts.predict(xt))
    assert auc_parts > auc_whole - 0.01
    saved = load_baselines(json.loads(json.dumps(bl.baselines_document([parts]))))[0]
    np.testing.assert_array_equal(saved.predict(xt), parts.predict(xt))


@pytest.mark.parametrize("name", [LOGISTIC, LIGHTGBM])
def test_many_rows_are_scored_a_part_at_a_time_with_the_same_scores(
    name: str, many_rows: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = _rows(3_000, seed=8)
    fitted = (fit_baseline if name == LOGISTIC else fit_lightgbm)(x, y, "binary", CARDS, seed=0)
    whole = fitted.predict(x)
    monkeypatch.setattr(bl, "PREDICT_PART_ROWS", 700)
    np.testing.assert_array_equal(fitted.predict(x), whole)


def test_sgd_reads_a_float32_design_and_keeps_float64_weights(many_rows: None) -> None:
    """The SGD design is float32 (a third less memory than float64 on a million rows); the weights saved and
    scored are float64, and the fit ranks as one on the float64 design does."""
    x, y = _rows(6_000, 11)
    xv, yv = _rows(2_000, 12)
    xt, yt = _rows(4_000, 13)
    design = bl._sgd_design(x, CARDS, [])
    assert design.dtype == np.float32 and bl._design(x, CARDS).dtype == np.float64
    base = fit_baseline(x, y, "binary", CARDS, seed=0, x_valid=xv, y_valid=yv)
    assert base.estimator.coef_.dtype == np.float64 and base.estimator.intercept_.dtype == np.float64
    wide, _ = linear_sgd.fit_logistic_sgd(bl._design(x, CARDS), y, seed=0, valid=(bl._design(xv, CARDS), yv))
    p32, p64 = base.predict(xt), wide.predict_proba(bl._design(xt, CARDS))[:, 1]
    assert abs(roc_auc_score(yt, p32) - roc_auc_score(yt, p64)) < 1e-3
