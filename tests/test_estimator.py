"""The Python face: fit, evaluate, predict, save and load, on a slice of the real bank data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import needmap as nm
from needmap.errors import ArtifactError, ConfigError, DataError, SchemaError
from needmap.estimator import clean_training_table
from needmap.model_place import write_manifest
from reference_scores import majority_share, table_references

FAST = {"epochs": 4, "progress": False, "batch_size": 256}


@pytest.fixture(scope="module")
def split(bank_table: pa.Table) -> tuple[pa.Table, pa.Table]:
    idx = np.random.default_rng(0).permutation(bank_table.num_rows)
    return bank_table.take(pa.array(idx[:2400])), bank_table.take(pa.array(idx[2400:]))


@pytest.fixture(scope="module")
def fitted(split: tuple[pa.Table, pa.Table]) -> nm.Model:
    return nm.Model("mlp", target="y", drop=["duration"], seed=3, **FAST).fit(split[0], validation=0.15)


def test_fit_learns_and_evaluate_reports_the_metrics(fitted: nm.Model, split: tuple[pa.Table, pa.Table]) -> None:
    metrics = fitted.evaluate(split[1])
    reference = table_references(*split, "y", drop=["duration"])  # what one column reaches on these rows
    assert metrics["auc"] > reference["best_column_auc"], (metrics["auc"], reference)
    for key in ("logloss", "pr_auc", "accuracy", "precision", "recall", "ece", "lift_at_10", "capture_at_10"):
        assert key in metrics
    # its top tenth holds a larger share of the buyers than the top tenth of any one column
    assert metrics["lift_at_10"] > reference["best_lift_at_10"], (metrics["lift_at_10"], reference)
    assert fitted.metrics_["training"]["rows_per_s"] > 0
    assert fitted.schema_ is not None and "duration" not in fitted.schema_.features


def test_save_load_gives_identical_predictions(
    fitted: nm.Model, split: tuple[pa.Table, pa.Table], tmp_path: Path
) -> None:
    before = fitted.predict_proba(split[1])
    path = fitted.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == sorted(
        [
            "card.md",
            "manifest.json",
            "metrics.json",
            "model.json",
            "population.json",
            "preprocessor.json",
            "schema.json",
            "weights.safetensors",
        ]
    )
    after = nm.load(path).predict_proba(split[1])
    np.testing.assert_array_equal(before, after)


def test_predict_ignores_column_order_and_extra_columns(fitted: nm.Model, split: tuple[pa.Table, pa.Table]) -> None:
    test = split[1]
    shuffled = test.select(list(reversed(test.column_names))).append_column("extra", pa.array(["x"] * test.num_rows))
    np.testing.assert_array_equal(fitted.predict_proba(test), fitted.predict_proba(shuffled))


def test_unseen_categories_share_the_out_of_vocabulary_id(fitted: nm.Model, split: tuple[pa.Table, pa.Table]) -> None:
    test = split[1].slice(0, 50)
    job = test.column_names.index("job")
    a = fitted.predict_proba(test.set_column(job, "job", pa.array(["astronaut"] * 50)))
    b = fitted.predict_proba(test.set_column(job, "job", pa.array(["lion tamer"] * 50)))
    known = fitted.predict_proba(test)
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, known)


def test_missing_values_are_imputed_not_dropped(fitted: nm.Model, split: tuple[pa.Table, pa.Table]) -> None:
    """The documented rule (docs/preprocessing.md): a missing number becomes the median of the column's training
    rows (clipping to training quantiles leaves the median where it is), a missing category the id 1."""
    test = split[1].slice(0, 40)
    age = test.column_names.index("age")
    job = test.column_names.index("job")
    holes = test.set_column(age, "age", pa.array([None] * 40, type=pa.int64()))
    holes = holes.set_column(job, "job", pa.array([None] * 40, type=pa.string()))
    scores = fitted.predict(holes)
    assert scores.num_rows == 40
    assert pc.all(pc.is_finite(scores.column("score"))).as_py()
    # the rows the preprocessor was fitted on: the fit's training rows, without its validation rows
    schema, prep = fitted.schema_, fitted.preprocessor_
    assert schema is not None and prep is not None and fitted.fit_rows_ is not None
    clean, _ = clean_training_table(split[0], schema, user_dropped=["duration"])
    ages = clean.column("age").take(pa.array(fitted.fit_rows_["train"])).to_numpy().astype(np.float64)
    median = float(np.median(ages))
    assert abs(median - ages.mean()) > 1  # the mean would be told apart
    filled = test.set_column(age, "age", pa.array([median] * 40, type=pa.float64()))
    x_holes, x_filled, x_test = prep.transform(holes), prep.transform(filled), prep.transform(test)
    a, j = prep.numeric_names_.index("age"), prep.categorical_names_.index("job")
    np.testing.assert_array_equal(x_holes.numeric[:, a], x_filled.numeric[:, a])  # age: as if it were the median
    assert (x_holes.categorical[:, j] == 1).all() and (x_test.categorical[:, j] > 1).all()  # job: the missing id
    others = [k for k in range(x_test.numeric.shape[1]) if k != a]
    np.testing.assert_array_equal(x_holes.numeric[:, others], x_test.numeric[:, others])  # the rest unchanged


def test_missing_required_column_is_named(fitted: nm.Model, split: tuple[pa.Table, pa.Table]) -> None:
    with pytest.raises(SchemaError, match="euribor3m"):
        fitted.predict(split[1].drop_columns(["euribor3m"]))


@pytest.mark.slow
def test_same_seed_gives_identical_metrics(split: tuple[pa.Table, pa.Table]) -> None:
    runs = [
        nm.Model("mlp", target="y", drop=["duration"], seed=11, **FAST).fit(split[0]).evaluate(split[1])
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


@pytest.mark.slow
def test_other_tasks_multiclass_and_regression(split: tuple[pa.Table, pa.Table]) -> None:
    multi = nm.Model("mlp", target="marital", drop=["duration"], **FAST).fit(split[0])
    assert multi.schema_ is not None and multi.schema_.task == "multiclass"
    out = multi.predict(split[1])
    assert out.column_names[0] == "predicted" and out.num_columns == 1 + len(multi.schema_.classes)
    accuracy = multi.evaluate(split[1])["accuracy"]
    assert accuracy > majority_share(split[1].column("marital").to_pylist()), accuracy  # always 'married'
    reg = nm.Model("mlp", target="age", task="regression", drop=["duration"], **FAST).fit(split[0])
    metrics = reg.evaluate(split[1])
    naive = float(np.std(split[1].column("age").to_numpy()))
    assert metrics["rmse"] < naive  # better than predicting the mean
    assert 25 < float(np.mean(reg.predict(split[1]).column("prediction").to_numpy())) < 55  # in years


def test_unfitted_model_and_bad_options_are_clear(split: tuple[pa.Table, pa.Table]) -> None:
    with pytest.raises(ConfigError, match="not fitted"):
        nm.Model("mlp", target="y").predict(split[1])
    with pytest.raises(ConfigError, match="unknown training option"):
        nm.Model("mlp", target="y").fit(split[0], epochz=3)
    with pytest.raises(ConfigError):
        nm.Model("no_such_net", target="y", **FAST).fit(split[0])


def test_single_class_target_and_all_missing_column_are_errors(split: tuple[pa.Table, pa.Table]) -> None:
    only_no = split[0].filter(pc.equal(split[0].column("y"), "no"))
    with pytest.raises((DataError, SchemaError), match="class"):
        nm.Model("mlp", target="y", **FAST).fit(only_no)
    empty_col = split[0].append_column("notes", pa.array([None] * split[0].num_rows, type=pa.string()))
    with pytest.raises(DataError, match="notes"):
        nm.Model("mlp", target="y", **FAST).fit(empty_col)


def test_load_checks_files_and_version(fitted: nm.Model, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "m")
    (path / "weights.safetensors").write_bytes(b"\0" * 64)
    with pytest.raises(ArtifactError, match=r"'weights\.safetensors' was edited or damaged"):
        nm.load(path)
    path = fitted.save(tmp_path / "m2")
    (path / "weights.safetensors").unlink()
    with pytest.raises(ArtifactError, match=r"weights\.safetensors"):
        nm.load(path)
    path = fitted.save(tmp_path / "m3")
    text = (path / "model.json").read_text().replace('"format_version": 1', '"format_version": 99')
    (path / "model.json").write_text(text)
    write_manifest(path)  # sealed again: the version check itself must refuse it
    with pytest.raises(ArtifactError, match="format version 99"):
        nm.load(path)


@pytest.mark.slow
def test_prepare_gives_the_rows_and_features_fit_trains_on_without_training(fitted: nm.Model, split: tuple) -> None:
    """What LightGBM is tuned on beside a network (needmap tune --cv): fit's own split and encoding."""
    model = nm.Model("mlp", target="y", drop=["duration"], seed=3, **FAST)
    prepared = model.prepare(split[0], validation=0.15)
    assert model.predictor_ is None  # no network trained, no state kept
    assert fitted.fit_rows_ is not None and prepared.fit_rows is not None
    for part in ("train", "validation"):
        np.testing.assert_array_equal(prepared.fit_rows[part], fitted.fit_rows_[part])
    rows = split[0].take(pa.array(fitted.fit_rows_["validation"]))
    expected = fitted.preprocessor_.transform(rows)
    assert prepared.x_valid is not None and prepared.y_valid is not None
    np.testing.assert_array_equal(prepared.x_valid.numeric, expected.numeric)
    np.testing.assert_array_equal(prepared.x_valid.categorical, expected.categorical)
    np.testing.assert_array_equal(prepared.y_valid, (np.asarray(rows.column("y").to_pylist()) == "yes"))
    assert len(prepared.y_train) + len(prepared.y_valid) == split[0].num_rows


@pytest.mark.slow
def test_fit_accepts_a_validation_table(split: tuple[pa.Table, pa.Table]) -> None:
    train, valid = split[0].slice(0, 1800), split[0].slice(1800)
    model = nm.Model("mlp", target="y", drop=["duration"], **FAST).fit(train, validation=valid)
    assert model.report_["train_rows"] == 1800 and model.report_["validation_rows"] == valid.num_rows
    assert model.metrics_["validation"]["n"] == valid.num_rows


@pytest.mark.slow
def test_bucketize_star_buckets_every_numeric_column(split: tuple[pa.Table, pa.Table]) -> None:
    model = nm.Model("mlp", target="y", drop=["duration"], bucketize={"*": 8, "age": 4}, **FAST)
    schema = model.infer_schema(split[0])
    options = {c.name: c.options.get("bucketize") for c in schema.columns if c.role == "numeric"}
    assert options["age"] == 4 and options["euribor3m"] == 8 and set(options.values()) == {4, 8}
    model.fit(split[0])
    assert model.preprocessor_ is not None and model.preprocessor_.n_numeric_ == 0  # all became bucket ids
    assert "euribor3m" in model.preprocessor_.categorical_names_


def test_one_raw_row_as_a_dict_scores_as_in_a_batch(fitted: nm.Model, split: tuple[pa.Table, pa.Table]) -> None:
    test = split[1].slice(0, 5)
    batch = fitted.predict_proba(test)
    rows = test.drop(["y"]).to_pylist()
    for row, expected in zip(rows, batch, strict=True):
        assert fitted.predict_proba(row) == pytest.approx([expected], abs=1e-6)
    assert fitted.predict_proba(rows) == pytest.approx(batch, abs=1e-6)
    partial = dict(rows[0], age=None, job=None)  # missing values in a single row
    assert 0 < fitted.predict_proba(partial)[0] < 1


@pytest.mark.slow
def test_on_epoch_sees_each_epoch_and_its_exception_ends_the_fit(split: tuple[pa.Table, pa.Table]) -> None:
    seen: list[dict] = []
    nm.Model("mlp", target="y", drop=["duration"], **FAST).fit(split[0], validation=0.15, on_epoch=seen.append)
    assert [e["epoch"] for e in seen] == [1, 2, 3, 4] and all("valid_auc" in e for e in seen)

    class Stop(Exception):
        pass

    def stop_at_two(entry: dict) -> None:
        if entry["epoch"] == 2:
            raise Stop

    with pytest.raises(Stop):
        nm.Model("mlp", target="y", drop=["duration"], **FAST).fit(split[0], validation=0.15, on_epoch=stop_at_two)


def test_optional_documents_are_saved_and_loaded(fitted: nm.Model, tmp_path: Path) -> None:
    fitted.extras_["tuning.json"] = {"best_value": 0.8, "trials": [{"number": 0}]}
    try:
        path = fitted.save(tmp_path / "model")
    finally:
        del fitted.extras_["tuning.json"]
    assert (path / "tuning.json").is_file()
    loaded = nm.load(path).extras_
    assert loaded["tuning.json"] == {"best_value": 0.8, "trials": [{"number": 0}]}
    assert set(loaded) == {"tuning.json", "population.json"}  # the population every fit saves
    fitted.extras_["notes.json"] = {}
    try:
        with pytest.raises(ArtifactError, match=r"notes\.json"):
            fitted.save(tmp_path / "other")
    finally:
        del fitted.extras_["notes.json"]


def test_a_saved_model_has_the_permissions_of_the_umask(fitted: nm.Model, tmp_path: Path) -> None:
    import os
    import stat

    previous = os.umask(0o022)
    try:
        path = fitted.save(tmp_path / "model")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert {stat.S_IMODE(f.stat().st_mode) for f in path.iterdir()} == {0o644}
    previous = os.umask(0o077)  # a private umask stays private
    try:
        path = fitted.save(tmp_path / "private")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in path.iterdir()} == {0o600}
