"""Model.fit on a Parquet file read in parts (stream=True): the same model as from the whole table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import needmap as nm
import needmap.training_rows as training_rows
from needmap.data.parquet_rows import ParquetRows
from needmap.errors import ConfigError, DataError
from needmap.training import from_file
from reference_scores import fit_parts, table_references

FAST = {"epochs": 2, "batch_size": 256, "progress": False, "threads": 1}


@pytest.fixture(scope="module")
def bank(bank_table: pa.Table) -> pa.Table:
    # Two duplicated rows and three rows without a target, to be counted the same way on both paths.
    table = pa.concat_tables([bank_table, bank_table.slice(10, 2)])
    y = table.column("y").to_pylist()
    for i in (3, 500, 2900):
        y[i] = None
    return table.set_column(table.column_names.index("y"), "y", pa.array(y, pa.string()))


@pytest.fixture(scope="module")
def bank_parquet(tmp_path_factory: pytest.TempPathFactory, bank: pa.Table) -> Path:
    path = tmp_path_factory.mktemp("fit_file") / "bank.parquet"
    pq.write_table(bank, path, row_group_size=700)
    return path


def fit(data, validation: float = 0.0, stream: bool | None = None, **options) -> nm.Model:
    model = nm.Model("mlp", target="y", drop=["duration"], seed=0, **{**FAST, **options})
    return model.fit(data, validation=validation, stream=stream)


def test_parquet_rows_reads_columns_groups_slices_and_samples(bank_parquet: Path, bank: pa.Table) -> None:
    rows = ParquetRows(bank_parquet)
    assert rows.num_rows == bank.num_rows and rows.num_groups == 5
    assert rows.group_starts.tolist() == [0, 700, 1400, 2100, 2800, 3002]
    assert rows.column("age").to_pylist() == bank.column("age").to_pylist()
    slices = list(rows.slices(1, rows=300))
    assert [(start, t.num_rows) for start, t in slices] == [(700, 300), (1000, 300), (1300, 100)]
    sample = rows.sample(1400)
    assert sample.num_rows == 1400  # row groups spread over the file: 0, 2, 4 (cut short)
    assert sample.column("age").to_pylist()[700:1400] == bank.column("age").to_pylist()[1400:2100]
    assert rows.sample(10_000).num_rows == bank.num_rows
    with pytest.raises(DataError, match="could not be read as Parquet"):
        ParquetRows(Path(__file__))


@pytest.mark.slow
def test_a_file_gives_the_model_of_the_whole_table(bank_parquet: Path, bank: pa.Table) -> None:
    from_table = fit(bank)
    streamed = fit(bank_parquet, stream=True)
    assert streamed.report_["read"] == "file" and from_table.report_["read"] == "table"
    assert not streamed.report_["streamed_each_epoch"]
    assert streamed.schema_.to_dict() == from_table.schema_.to_dict()
    # The same statistics, vocabularies and counts, learned one column at a time.
    assert streamed.preprocessor_.to_dict() == from_table.preprocessor_.to_dict()
    assert streamed.report_["rows_without_target"] == from_table.report_["rows_without_target"] == 3
    assert streamed.preprocessor_.report_["duplicate_rows"] == from_table.preprocessor_.report_["duplicate_rows"] == 2
    # The same rows in the same order: the same training, the same scores.
    assert np.allclose(streamed.predict_proba(bank), from_table.predict_proba(bank), atol=1e-6)


@pytest.mark.slow
def test_the_validation_split_is_the_tables(bank_parquet: Path, bank: pa.Table) -> None:
    from_table = fit(bank, validation=0.2)
    streamed = fit(bank_parquet, validation=0.2, stream=True)
    assert streamed.report_["validation_rows"] == from_table.report_["validation_rows"] > 500
    assert streamed.report_["train_rows"] == from_table.report_["train_rows"]
    assert streamed.preprocessor_.to_dict() == from_table.preprocessor_.to_dict()
    for key in ("auc", "logloss"):
        assert streamed.metrics_["validation"][key] == pytest.approx(from_table.metrics_["validation"][key], abs=0.02)


@pytest.mark.slow
def test_rows_too_large_to_hold_are_streamed_each_epoch(bank_parquet: Path, bank: pa.Table, monkeypatch) -> None:
    monkeypatch.setattr(from_file, "RESIDENT_MAX_BYTES", 0)
    model = fit(bank_parquet, validation=0.2, stream=True, epochs=4)
    assert model.report_["streamed_each_epoch"]
    assert len(model.result_.history) == 4
    # The validation rows of the file are the table's: the model scores them as its validation metrics say,
    # and ranks them better than the best single column fitted on the training rows.
    train, valid = fit_parts(bank, model.schema_, ["duration"], validation=0.2, seed=0)
    assert valid.num_rows == model.report_["validation_rows"]
    auc = model.metrics_["validation"]["auc"]
    assert model.evaluate(valid)["auc"] == pytest.approx(auc, abs=1e-6)
    reference = table_references(train, valid, "y", drop=["duration"])
    assert auc > reference["best_column_auc"], (auc, reference)


@pytest.mark.slow
def test_streamed_epochs_read_ahead_or_in_turns_train_the_same_model(bank_parquet: Path, monkeypatch) -> None:
    """A reader thread (where a core is spare) or reading in turns with the steps: the same chunks in the
    same order, so the same model; the stream gets the read-ahead that ``read_ahead_chunks`` gives."""
    monkeypatch.setattr(from_file, "RESIDENT_MAX_BYTES", 0)
    made: list[int] = []
    real = from_file.TrainingStream
    monkeypatch.setattr(from_file, "TrainingStream", lambda *a, **kw: made.append(kw["prefetch"]) or real(*a, **kw))
    outputs = []
    for depth in (2, 0):
        monkeypatch.setattr(from_file, "read_ahead_chunks", lambda depth=depth: depth)
        model = fit(bank_parquet, validation=0.2, stream=True, epochs=2)
        assert model.report_["streamed_each_epoch"]
        outputs.append(model.metrics_["validation"]["auc"])
    assert made == [2, 0]
    assert outputs[0] == outputs[1]


@pytest.mark.slow
def test_auto_streams_large_parquet_files_only(bank_parquet: Path, bank: pa.Table, monkeypatch) -> None:
    assert fit(bank_parquet).report_["read"] == "table"
    monkeypatch.setattr(training_rows, "STREAM_MIN_ROWS", 1000)
    assert fit(bank_parquet).report_["read"] == "file"
    assert fit(bank_parquet, stream=False).report_["read"] == "table"


def test_stream_errors_name_what_is_wrong(bank_parquet: Path, bank: pa.Table, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="reads a Parquet file"):
        fit(bank, stream=True)
    with pytest.raises(DataError, match="does not exist"):
        fit(tmp_path / "absent.parquet", stream=True)
    for data in (bank, bank_parquet):  # one check of the share, for a table and a streamed file alike
        with pytest.raises(ConfigError, match="is not a share of the rows"):
            fit(data, validation=1.5, stream=None if data is bank else True)
    with pytest.raises(ConfigError, match="validation as a share"):
        nm.Model("mlp", target="y", **FAST).fit(bank_parquet, validation=bank, stream=True)
    empty = bank.set_column(bank.column_names.index("age"), "age", pa.nulls(bank.num_rows, pa.int64()))
    path = tmp_path / "empty_age.parquet"
    pq.write_table(empty, path, row_group_size=700)
    with pytest.raises(DataError, match="every one of the") as err:
        fit(path, stream=True)
    assert err.value.column == "age"
    no_target = bank.drop_columns(["y"])
    path = tmp_path / "no_target.parquet"
    pq.write_table(no_target, path)
    with pytest.raises(nm.errors.NeedmapError, match="target"):
        nm.Model("mlp", target="y", **FAST).fit(path, stream=True, schema=fit(bank).schema_)
    assert pc.sum(pc.is_null(bank.column("y"))).as_py() == 3


@pytest.mark.slow
def test_list_features_from_a_file_are_the_tables(tmp_path: Path) -> None:
    # A multi-hot text column, and a behaviour sequence as an Arrow list sharing the item column's ids.
    rng = np.random.default_rng(3)
    n = 2400
    items = [f"i{k}" for k in range(30)]
    item = rng.choice(items, n)
    history = [list(rng.choice(items, rng.integers(0, 6))) if k % 7 else None for k in range(n)]
    tags = ["|".join(rng.choice(["sport", "travel", "food", "tech"], rng.integers(1, 3))) for _ in range(n)]
    liked = np.array([item[k] in (history[k] or []) or "sport" in tags[k] for k in range(n)])
    y = (rng.uniform(size=n) < np.where(liked, 0.7, 0.2)).astype(int)
    table = pa.table({"item": item, "history": pa.array(history, pa.list_(pa.string())), "tags": tags, "y": y})
    path = tmp_path / "lists.parquet"
    pq.write_table(table, path, row_group_size=500)
    assert ParquetRows(path).null_count("history") == sum(h is None for h in history)

    def model() -> nm.Model:
        return nm.Model(
            "din", target="y", multihot=["tags"], sequence=["history"], seed=0, **FAST,
            column_options={"history": {"vocabulary_of": "item", "max_len": 5}},
        )  # fmt: skip

    from_table = model().fit(table, validation=0)
    streamed = model().fit(path, validation=0, stream=True)
    states = [m.preprocessor_.to_dict() for m in (streamed, from_table)]
    for state in states:  # Parquet names a list's item 'element' where Arrow says 'item': the dtype text differs
        for column in state["schema"]["columns"]:
            column["dtype"] = column["dtype"].replace("<element:", "<item:")
    assert states[0] == states[1]
    assert streamed.report_["preprocessing"]["columns"]["history"]["missing"] == sum(h is None for h in history)
    assert np.allclose(streamed.predict_proba(table), from_table.predict_proba(table), atol=1e-6)
