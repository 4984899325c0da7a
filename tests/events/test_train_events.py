"""``needmap train`` / ``run_train`` on a feature table built from an event log, and scoring an event log with
the saved model (``Predictor.predict_events``, ``needmap predict --events``)."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.parquet as pq
import pytest

import needmap as nm
from cli_run import run_cli
from needmap.errors import ConfigError
from needmap.events.table_info import FeatureTableInfo, info_of, sidecar_path
from needmap.workflows.train import run_train

FOUR = ("2026-01-01", "2026-01-20", "2026-02-15", "2026-03-20")  # validation gap: 01-20 + 30 > 02-15
FAST = {"epochs": 1, "hidden": [8], "embedding_dim": 4, "progress": False, "batch_size": 64}


def _days(table: pa.Table) -> set[str]:
    return {str(v)[:10] for v in table.column("cutoff").to_pylist()}


@pytest.mark.slow
def test_train_splits_by_cutoff_leaves_the_labels_out_and_saves_the_description(
    make_table: Callable, tmp_path: Path
) -> None:
    table = make_table(FOUR, customers=60)
    outcome = run_train(table, nm.Model("mlp", target="label_bought", **FAST), out=tmp_path / "m", baseline=False)
    # the test rows are exactly the latest cutoff's
    assert (
        outcome.test_table is not None
        and outcome.test_table.num_rows == 60
        and _days(outcome.test_table) == {"2026-03-20"}
    )
    split = outcome.metrics["split"]
    assert split["method"] == "cutoff" and split["cutoff"] == "2026-03-20"
    assert split["horizon_gap_rows"] == 0 and split["latest_rows"] == 60 and split["test_size"] == pytest.approx(0.25)
    # validation: the latest remaining cutoff; the rows whose label window reaches past it left out and counted
    report = outcome.model.report_
    assert report["validation_split"]["method"] == "cutoff"
    assert report["validation_split"]["horizon_gap_rows"] == 60
    assert report["validation_rows"] == 60 and report["train_rows"] == 60
    assert any("60 training rows were left out" in note for note in outcome.notes)
    assert any("test on the latest" in note for note in outcome.notes)
    # the fitted schema: no label but the target, no cutoff, the customer an id
    schema = outcome.model.schema_
    assert set(schema.features) == {"purchases_30d", "amount_30d"} and schema.ids == ["customer_id"]
    # metrics.json counts the rows left out; events.json holds the description, read back as it was
    saved = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert saved["report"]["validation_split"]["horizon_gap_rows"] == 60 and saved["split"]["method"] == "cutoff"
    loaded = nm.load(tmp_path / "m")
    assert loaded.events_info == info_of(table)
    assert set(loaded.schema_.features) == {"purchases_30d", "amount_30d"}


@pytest.mark.slow
def test_the_test_horizon_gap_is_left_out_and_an_asked_split_wins_with_a_note(make_table: Callable) -> None:
    table = make_table(("2026-01-01", "2026-02-01", "2026-03-01", "2026-03-15"), customers=50)
    outcome = run_train(table, nm.Model("mlp", target="label_bought", **FAST), out=None, baseline=False)
    assert outcome.metrics["split"]["horizon_gap_rows"] == 50
    assert any("50 rows of earlier cutoffs were left out of training" in note for note in outcome.notes)
    fit = outcome.model.fit_rows_
    assert fit is not None and len(fit["train"]) + len(fit["validation"]) == 100  # 03-01's rows trained nothing
    asked = run_train(table, nm.Model("mlp", target="label_bought", **FAST), out=None, baseline=False, split="random")
    assert asked.metrics["split"]["method"] == "random" and "horizon_gap_rows" not in asked.metrics["split"]
    assert any("chosen by split 'random' as asked" in note for note in asked.notes)


def _stub_builder(monkeypatch: pytest.MonkeyPatch, make_table: Callable, calls: list[dict[str, Any]]) -> None:
    """``needmap.events.build.build_features`` as its signature says, returning today's rows without labels."""

    def build_features(source: Any, spec: Any, as_of: Any, *, labels: bool = True, like: Any = None, progress=False):
        calls.append({"source": source, "spec": spec, "as_of": list(as_of), "labels": labels, "like": like})
        table = make_table(("2026-04-20",), customers=30, seed=3)
        return table.drop_columns(["label_bought", "label_purchases", "label_spend"])

    module = types.ModuleType("needmap.events.build")
    module.build_features = build_features  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "needmap.events.build", module)


@pytest.mark.slow
def test_predict_events_builds_todays_features_the_same_way_and_keeps_the_ids(
    make_table: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = make_table(FOUR, customers=40)
    path = tmp_path / "features.parquet"
    pq.write_table(table, path)
    code, output = run_cli(
        "train", path, "--target", "label_bought", "--epochs", "1", "--hidden", "8", "--no-baseline",
        "--out", tmp_path / "m",
    )  # fmt: skip
    assert code == 0, output
    assert "test on the latest" in output and "events.json" in output
    calls: list[dict[str, Any]] = []
    _stub_builder(monkeypatch, make_table, calls)
    loaded = nm.load(tmp_path / "m")
    scores = loaded.predict_events("events.csv", as_of="2026-04-20")
    info = info_of(table)
    assert calls[0]["spec"] == info.spec and calls[0]["as_of"] == ["2026-04-20"] and calls[0]["labels"] is False
    assert isinstance(calls[0]["like"], FeatureTableInfo) and calls[0]["like"] == info
    assert scores.column_names == ["customer_id", "cutoff", "score"]
    assert scores.column("customer_id").to_pylist() == [f"00{c:04d}" for c in range(30)]
    assert pc.all(pc.and_(pc.greater_equal(scores.column("score"), 0), pc.less_equal(scores.column("score"), 1)))
    # the command line: one row per customer, the ids as they were (leading zeros kept)
    out = tmp_path / "scores.csv"
    code, output = run_cli("predict", tmp_path / "m", "--events", "events.csv", "--as-of", "2026-04-20", "--out", out)
    assert code == 0, output
    lines = out.read_text().splitlines()
    assert lines[0].replace('"', "") == "customer_id,cutoff,score" and len(lines) == 31
    assert lines[1].replace('"', "").startswith("000000,")


@pytest.mark.slow
def test_predict_events_errors(make_table: Callable, tmp_path: Path) -> None:
    table = make_table(FOUR, customers=40).replace_schema_metadata(None)
    plain = nm.Model("mlp", target="label_bought", **FAST).fit(table)
    with pytest.raises(ConfigError, match="not trained on a table built from an event log"):
        plain.predict_events("events.csv", as_of="2026-04-20")
    plain.save(tmp_path / "plain")
    out = tmp_path / "scores.csv"
    code, output = run_cli("predict", tmp_path / "plain", "--events", "e.csv", "--as-of", "2026-04-20", "--out", out)
    assert code != 0 and "not trained on a table built from an event log" in output
    code, output = run_cli("predict", tmp_path / "plain", "rows.csv", "--events", "e.csv", "--as-of", "2026-04-20",
                           "--out", out)  # fmt: skip
    assert code != 0 and "both a FILE of rows" in output
    code, output = run_cli("predict", tmp_path / "plain", "--events", "e.csv", "--out", out)
    assert code != 0 and "expected --as-of DATE" in output
    code, output = run_cli("predict", tmp_path / "plain", "--as-of", "2026-04-20", "--out", out)
    assert code != 0 and "expected --events LOG with it" in output
    code, output = run_cli("predict", tmp_path / "plain", "--out", out)
    assert code != 0 and "no rows to score" in output
    assert not out.exists()


@pytest.mark.slow
def test_a_parquet_file_read_in_parts_keeps_the_labels_out_and_saves_the_description(
    make_table: Callable, tmp_path: Path
) -> None:
    table = make_table(FOUR, customers=40)
    path = tmp_path / "features.parquet"
    pq.write_table(table, path)
    model = nm.Model("mlp", target="label_bought", **FAST).fit(path, stream=True)
    assert model.report_["read"] == "file"
    assert set(model.schema_.features) == {"purchases_30d", "amount_30d"} and model.schema_.ids == ["customer_id"]
    assert model.predictor_.events_info == info_of(table)
    # validated on the latest cutoff, as the same table in memory is (the rows reaching into it left out)
    whole = nm.Model("mlp", target="label_bought", **FAST).fit(table)
    assert model.report_["validation_split"] == whole.report_["validation_split"]
    assert model.report_["validation_split"]["method"] == "cutoff"
    latest = pc.max(table.column("cutoff"))
    assert model.report_["validation_rows"] == pc.sum(pc.equal(table.column("cutoff"), latest)).as_py()
    assert model.report_["validation_rows"] == whole.report_["validation_rows"]
    assert model.report_["train_rows"] == whole.report_["train_rows"]


@pytest.mark.slow
def test_a_csv_feature_table_is_described_by_its_sidecar(make_table: Callable, tmp_path: Path) -> None:
    table = make_table(("2026-01-01", "2026-02-01", "2026-03-01", "2026-03-15"), customers=40)
    path = tmp_path / "features.csv"
    pa.csv.write_csv(table, path)
    sidecar_path(path).write_text(info_of(table).to_json(), encoding="utf-8")
    code, output = run_cli(
        "train", path, "--target", "label_bought", "--epochs", "1", "--hidden", "8", "--no-baseline",
        "--out", tmp_path / "m",
    )  # fmt: skip
    assert code == 0, output
    assert "40 rows of earlier cutoffs were left out of training" in output
    code, output = run_cli(
        "train", path, "--target", "label_bought", "--numeric", "label_spend", "--out", tmp_path / "leak",
    )  # fmt: skip
    assert code != 0 and "'label_spend' is given the role numeric" in output and "Traceback" not in output
    assert not (tmp_path / "leak").exists()
    loaded = nm.load(tmp_path / "m")
    assert set(loaded.schema_.features) == {"purchases_30d", "amount_30d"}
    assert loaded.events_info == info_of(table)
    # without the sidecar the file is a plain table: its labels would be inputs, and the split stratified
    sidecar_path(path).unlink()
    code, output = run_cli(
        "train", path, "--target", "label_bought", "--epochs", "1", "--hidden", "8", "--no-baseline",
        "--out", tmp_path / "plain",
    )  # fmt: skip
    assert code == 0, output
    assert "label_purchases" in nm.load(tmp_path / "plain").schema_.features
