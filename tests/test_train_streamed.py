"""``run_train`` on a Parquet file read in parts (``stream``): the rows held out, the network and the judging as
for the table read whole; the baselines on a stated sample; where it cannot stream, it says so or refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import needmap as nm
import needmap.workflows.held_out as held_out
import needmap.workflows.train_file as train_file
from cli_run import run_cli
from needmap.data.parquet_rows import ParquetRows
from needmap.data.read import read
from needmap.errors import ConfigError
from needmap.estimator import _population_rows
from needmap.workflows.train import run_train

FAST = {"epochs": 2, "batch_size": 256, "progress": False, "threads": 1, "seed": 3}


@pytest.fixture(scope="module")
def bank(bank_table: pa.Table) -> pa.Table:
    """The bank slice with a row number (``row``) and three rows without a target."""
    table = bank_table.append_column("row", pa.array(np.arange(bank_table.num_rows)))
    y = table.column("y").to_pylist()
    for i in (3, 500, 2900):
        y[i] = None
    return table.set_column(table.column_names.index("y"), "y", pa.array(y, pa.string()))


@pytest.fixture(scope="module")
def bank_parquet(tmp_path_factory: pytest.TempPathFactory, bank: pa.Table) -> Path:
    path = tmp_path_factory.mktemp("train_streamed") / "bank.parquet"
    pq.write_table(bank, path, row_group_size=700)
    return path


def model() -> nm.Model:
    return nm.Model("mlp", target="y", drop=["duration"], id="row", hidden=[32], **FAST)


@pytest.mark.slow
def test_a_streamed_run_holds_out_trains_and_judges_as_the_table_read_whole(bank_parquet: Path) -> None:
    streamed = run_train(ParquetRows(bank_parquet), model(), out=None, stream=True, baseline_rows=1000)
    whole = run_train(read(bank_parquet), model(), out=None, baseline_rows=1000)
    assert streamed.metrics["split"]["read"] == "file in parts" and whole.metrics["split"]["read"] == "whole"
    # The same test rows, in the same order, from the same seed: the target column alone decides them. A streamed
    # run keeps the test rows' targets and ids, not their features.
    assert streamed.test_table.column_names == ["y", "row"]
    assert streamed.test_table.column("row").to_pylist() == whole.test_table.column("row").to_pylist()
    assert streamed.test_table.num_rows == round(0.2 * 2657) + round(0.2 * 340)  # 20% of each class
    assert streamed.model.report_["rows_without_target"] == whole.model.report_["rows_without_target"] == 3
    assert streamed.model.report_["validation_rows"] == whole.model.report_["validation_rows"] == 240
    # The same training rows, encoded the same: the same network, the same baselines on the same sample.
    assert streamed.metrics["test"]["auc"] == pytest.approx(whole.metrics["test"]["auc"], abs=1e-9)
    sampled = {"trained_on": 1000, "training_rows": 2158}
    assert streamed.metrics["baseline_rows"] == whole.metrics["baseline_rows"] == sampled
    for name, metrics in whole.metrics["baselines"].items():
        assert streamed.metrics["baselines"][name]["auc"] == pytest.approx(metrics["auc"], abs=1e-9)
    assert any("read in parts (3,000 rows" in note and "1,000 of them" in note for note in streamed.notes)
    assert any("random sample of 1,000 of the 2,158 training rows" in note for note in whole.notes)


@pytest.mark.slow
def test_the_baselines_fit_on_the_sample_the_metrics_state(bank_parquet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    fit = held_out.fit_baselines

    def counting(x, y, *args, **kwargs):
        seen.append((len(x), len(y), len(kwargs.get("x_valid", []))))
        return fit(x, y, *args, **kwargs)

    monkeypatch.setattr(held_out, "fit_baselines", counting)
    outcome = run_train(ParquetRows(bank_parquet), model(), out=None, stream=True, baseline_rows=700)
    assert seen == [(700, 700, 240)]  # the sample, and every validation row to stop LightGBM early
    assert outcome.metrics["baseline_rows"] == {"trained_on": 700, "training_rows": 2158}
    assert "a random sample of 700 of them" in outcome.model.extras_["profile.json"]["source"]


def test_a_large_file_streams_by_default_unless_the_run_needs_every_row(
    bank_parquet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = ParquetRows(bank_parquet)
    options = {"split": None, "time_column": None, "cv": None, "distributed": False}
    assert train_file.streamed_source(rows, None, **options) == (False, None)  # below STREAM_MIN_ROWS
    monkeypatch.setattr(train_file, "STREAM_MIN_ROWS", 1000)
    assert train_file.streamed_source(rows, None, **options) == (True, None)
    assert train_file.streamed_source(rows, False, **options) == (False, None)
    streams, note = train_file.streamed_source(rows, None, **{**options, "cv": 3})
    assert not streams and "bank.parquet (3,000 rows) was read whole" in note and "cross-validation" in note
    with pytest.raises(ConfigError, match="split by time orders every row"):
        train_file.streamed_source(rows, True, **{**options, "split": "time", "time_column": "age"})
    with pytest.raises(ConfigError, match="several processes"):
        train_file.streamed_source(rows, True, **{**options, "distributed": True})


def test_stream_is_refused_for_a_table_already_read(bank: pa.Table) -> None:
    with pytest.raises(ConfigError, match="reads a Parquet file in parts"):
        run_train(bank, model(), out=None, stream=True)


def test_parts_belong_to_a_streamed_file(bank: pa.Table, bank_parquet: Path) -> None:
    with pytest.raises(ConfigError, match="parts names row numbers of a streamed Parquet file"):
        model().fit(bank, parts=(np.arange(10), np.arange(10, 20)))
    with pytest.raises(ConfigError, match="parts names training row 3000, outside the file"):
        model().fit(bank_parquet, stream=True, parts=(np.arange(2990, 3001), np.arange(10)))
    with pytest.raises(ConfigError, match="parts names no training row"):
        model().fit(bank_parquet, stream=True, parts=([], np.arange(10)))


def test_the_population_of_a_streamed_fit_leaves_the_other_rows_out(bank_parquet: Path) -> None:
    rows = ParquetRows(bank_parquet)
    train, valid = np.arange(0, 3000, 3), np.arange(1, 3000, 7)
    taken = _population_rows(rows, (train, valid), seed=0).column("row").to_numpy()
    assert set(taken) == set(np.union1d(train, valid))  # fewer rows than the sample size: all of them


@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(0, 2999), max_size=400), st.sampled_from([70, 700, 3000]))
def test_take_reads_the_rows_asked_in_order(tmp_path_factory, wanted, group_rows) -> None:
    path = tmp_path_factory.getbasetemp() / f"take_{group_rows}.parquet"
    table = pa.table({"row": np.arange(3000), "text": [f"t{i % 17}" for i in range(3000)]})
    if not path.exists():
        pq.write_table(table, path, row_group_size=group_rows)
    rows = np.array(sorted(wanted), dtype=np.int64)
    taken = ParquetRows(path).take(rows)
    assert taken.column("row").to_pylist() == rows.tolist()
    assert taken.column("text").to_pylist() == [f"t{i % 17}" for i in rows]


def test_take_refuses_rows_out_of_order_or_range(bank_parquet: Path) -> None:
    rows = ParquetRows(bank_parquet)
    for bad in ([5, 3], [1, 1], [-1], [3000]):
        with pytest.raises(ValueError, match="increase strictly"):
            rows.take(np.array(bad))


@pytest.mark.slow
def test_the_command_streams_a_parquet_file_and_refuses_stream_for_text(
    bank_parquet: Path, bank_csv: Path, tmp_path: Path
) -> None:
    common = [
        "--target",
        "y",
        "--drop",
        "duration",
        "--id",
        "row",
        "--hidden",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "256",
    ]
    code, out = run_cli("train", bank_parquet, *common, "--stream", "--baseline-rows", "800", "--out", tmp_path / "m")
    assert code == 0, out
    assert "read in parts (3,000 rows, --stream)" in " ".join(out.split())
    saved = nm.load(tmp_path / "m")
    assert saved.metrics_["baseline_rows"] == {"trained_on": 800, "training_rows": 2158}
    code, out = run_cli("train", bank_csv, "--target", "y", "--stream", "--out", tmp_path / "n")
    assert code != 0 and "--stream reads a Parquet file in parts" in out and "Traceback" not in out
