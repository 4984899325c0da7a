"""Calibration inside the model: fitted on the validation rows, applied to every score, saved and loaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from needmap.calibration import Calibrator
from needmap.data.provenance import take_rows
from needmap.errors import ArtifactError, ConfigError
from needmap.metrics import binary_metrics, expected_calibration_error
from needmap.model_place import write_manifest

FAST = {"epochs": 2, "progress": False, "batch_size": 256, "hidden": (32, 16)}


@pytest.fixture(scope="module")
def split(bank_table: pa.Table) -> tuple[pa.Table, pa.Table]:
    idx = np.random.default_rng(0).permutation(bank_table.num_rows)
    return bank_table.take(pa.array(idx[:2400])), bank_table.take(pa.array(idx[2400:]))


@pytest.fixture(scope="module")
def calibrated(split: tuple[pa.Table, pa.Table]) -> nm.Model:
    return nm.Model("mlp", target="y", drop=["duration"], calibrate="isotonic", seed=1, **FAST).fit(
        split[0], validation=0.25
    )


def _raw(model: nm.Model, table: pa.Table) -> np.ndarray:
    """The network's own probabilities, without the calibrator."""
    assert model.predictor_ is not None
    kept, model.predictor_.calibrator_ = model.calibrator_, None
    try:
        return model.predict_proba(table)
    finally:
        model.predictor_.calibrator_ = kept


def test_isotonic_calibrator_is_fitted_on_the_validation_rows_and_lowers_the_ece_of_new_rows(
    calibrated: nm.Model, split: tuple[pa.Table, pa.Table]
) -> None:
    assert isinstance(calibrated.calibrator_, Calibrator) and calibrated.calibrator_.method == "isotonic"
    assert calibrated.extras_["calibration.json"] == calibrated.calibrator_.to_dict()
    validation = calibrated.metrics_["validation"]
    assert validation["ece"] <= validation["ece_uncalibrated"]  # on the rows it was fitted on: nearly a given
    test, y = split[1], _labels(split[1])  # rows that neither the network nor the calibrator saw
    assert expected_calibration_error(y, calibrated.predict_proba(test)) < expected_calibration_error(
        y, _raw(calibrated, test)
    )
    assert validation["n"] == calibrated.report_["validation_rows"] == 600
    assert calibrated.metrics_["calibration"]["method"] == "isotonic"


def _labels(table: pa.Table) -> np.ndarray:
    return (np.asarray(table.column("y").to_pylist()) == "yes").astype(int)


def test_the_calibrator_is_fitted_on_the_networks_scores_of_the_validation_rows(
    calibrated: nm.Model, split: tuple[pa.Table, pa.Table]
) -> None:
    """Which rows the calibrator saw: the validation rows, none of the rows that trained the network (whose
    scores are overconfident, so a calibrator fitted there would be wrong on new rows)."""
    assert calibrated.fit_rows_ is not None and calibrated.calibrator_ is not None
    rows = {name: take_rows(split[0], pa.array(index)) for name, index in calibrated.fit_rows_.items()}
    assert rows["validation"].num_rows == 600 and rows["train"].num_rows == 1800
    raw, y = _raw(calibrated, rows["validation"]), _labels(rows["validation"])
    expected = Calibrator("isotonic").fit(raw, y)
    assert calibrated.calibrator_.to_dict() == expected.to_dict()
    on_training_rows = Calibrator("isotonic").fit(_raw(calibrated, rows["train"]), _labels(rows["train"]))
    assert on_training_rows.to_dict() != expected.to_dict()  # so the check above tells the two apart
    # the validation metrics are those of these rows' calibrated and raw scores
    validation = calibrated.metrics_["validation"]
    assert validation["ece"] == pytest.approx(expected_calibration_error(y, expected.transform(raw)))
    assert validation["ece_uncalibrated"] == pytest.approx(expected_calibration_error(y, raw))


def test_predict_proba_predict_and_evaluate_apply_the_calibrator(
    calibrated: nm.Model, split: tuple[pa.Table, pa.Table]
) -> None:
    test = split[1]
    raw = _raw(calibrated, test)
    scores = calibrated.predict_proba(test)
    assert calibrated.calibrator_ is not None
    np.testing.assert_allclose(scores, calibrated.calibrator_.transform(raw))
    assert not np.allclose(scores, raw)  # the map changed the scores
    np.testing.assert_allclose(calibrated.predict(test).column("score").to_numpy(), scores)
    y = (np.asarray(test.column("y").to_pylist()) == "yes").astype(int)
    assert calibrated.evaluate(test)["ece"] == pytest.approx(expected_calibration_error(y, scores))
    assert calibrated.evaluate(test)["logloss"] == pytest.approx(binary_metrics(y, scores)["logloss"])


def test_saved_and_loaded_model_gives_identical_calibrated_scores(
    calibrated: nm.Model, split: tuple[pa.Table, pa.Table], tmp_path: Path
) -> None:
    path = calibrated.save(tmp_path / "model")
    document = json.loads((path / "calibration.json").read_text())
    assert document["method"] == "isotonic" and len(document["x"]) == len(document["y"]) > 1
    loaded = nm.load(path)
    assert loaded.calibrator_ is not None and loaded.calibrate == "isotonic"
    np.testing.assert_array_equal(loaded.predict_proba(split[1]), calibrated.predict_proba(split[1]))


def test_one_row_score_of_a_calibrated_model_equals_its_batch_score(
    calibrated: nm.Model, split: tuple[pa.Table, pa.Table]
) -> None:
    test = split[1].slice(0, 5)
    batch = calibrated.predict_proba(test)
    for row, expected in zip(test.drop(["y"]).to_pylist(), batch, strict=True):
        assert calibrated.predict_proba(row) == pytest.approx([expected], abs=1e-6)


@pytest.mark.slow
def test_platt_calibration_and_refit_without_it(split: tuple[pa.Table, pa.Table]) -> None:
    model = nm.Model("mlp", target="y", drop=["duration"], calibrate="platt", **FAST).fit(split[0], validation=0.2)
    assert model.extras_["calibration.json"]["method"] == "platt"
    assert model.calibrator_ is not None
    np.testing.assert_allclose(
        model.predict_proba(split[1]), model.calibrator_.transform(_raw(model, split[1])), rtol=1e-12
    )
    model.calibrate = None
    model.fit(split[0], validation=0.2)
    assert model.calibrator_ is None and "calibration.json" not in model.extras_
    assert "ece_uncalibrated" not in model.metrics_["validation"] and "calibration" not in model.metrics_


def test_calibration_needs_validation_rows_a_binary_target_and_a_known_method(
    split: tuple[pa.Table, pa.Table],
) -> None:
    with pytest.raises(ConfigError, match=r"validation=0"):
        nm.Model("mlp", target="y", drop=["duration"], calibrate="isotonic", **FAST).fit(split[0], validation=0)
    with pytest.raises(ConfigError, match=r"regression"):
        nm.Model("mlp", target="age", drop=["duration"], calibrate="platt", **FAST).fit(split[0])
    with pytest.raises(ConfigError, match=r"'sigmoid'.*'isotonic', 'platt'"):
        nm.Model("mlp", target="y", calibrate="sigmoid")


def test_a_broken_calibration_file_is_an_artifact_error_naming_the_directory(
    calibrated: nm.Model, tmp_path: Path
) -> None:
    path = calibrated.save(tmp_path / "model")
    (path / "calibration.json").write_text(json.dumps({"method": "isotonic", "x": [0.2, 0.1], "y": [0.0, 1.0]}))
    write_manifest(path)  # sealed again: the calibrator's own check must refuse it
    with pytest.raises(ArtifactError, match=r"model.*calibration\.json.*increasing"):
        nm.load(path)
