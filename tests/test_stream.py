"""Scoring in chunks: a Parquet file read a row group at a time, scores appended to a file atomically."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import torch

import needmap as nm
import needmap.workflows.predict as predict_workflow
from needmap.data.provenance import first_row_of, source_of
from needmap.data.stream import ChunkWriter, iter_chunks
from needmap.errors import ConfigError, DataError
from needmap.runtime.arrow_memory import POOL_ENV
from needmap.training import stream
from needmap.workflows.predict import predict_stream

FAST = {"epochs": 2, "batch_size": 256, "progress": False, "threads": 1}


@pytest.fixture(scope="module")
def model(bank_table: pa.Table) -> nm.Model:
    return nm.Model("mlp", target="y", drop=["duration"], seed=0, **FAST).fit(bank_table.slice(0, 2000), validation=0)


@pytest.fixture(scope="module")
def bank_parquet(tmp_path_factory: pytest.TempPathFactory, bank_table: pa.Table) -> Path:
    path = tmp_path_factory.mktemp("stream") / "bank.parquet"
    pq.write_table(bank_table, path, row_group_size=700)
    return path


def test_parquet_chunks_hold_every_row_once_and_say_where_they_start(bank_parquet: Path, bank_table) -> None:
    chunks = list(iter_chunks(bank_parquet, chunk_rows=1000))
    assert [c.num_rows for c in chunks] == [1000, 1000, 1000]
    assert [first_row_of(c) for c in chunks] == [0, 1000, 2000]
    assert all(source_of(c) == str(bank_parquet) for c in chunks)
    assert pa.concat_tables(chunks).column("age").to_pylist() == bank_table.column("age").to_pylist()


def test_csv_and_tables_are_sliced(bank_csv: Path, bank_table: pa.Table) -> None:
    chunks = list(iter_chunks(bank_csv, chunk_rows=1200, delimiter=";"))
    assert [c.num_rows for c in chunks] == [1200, 1200, 600]
    assert [first_row_of(c) for c in chunks] == [2, 1202, 2402]  # CSV rows are line numbers (header = 1)
    assert [c.num_rows for c in iter_chunks(bank_table, chunk_rows=2000)] == [2000, 1000]
    with pytest.raises(ConfigError, match="chunk_rows"):
        next(iter_chunks(bank_table, chunk_rows=0))


@pytest.mark.parametrize(("suffix", "prefetch"), [(".parquet", 0), (".parquet", 2), (".csv", 2), (".jsonl", 0)])
def test_streamed_scores_equal_scores_of_the_whole_table(
    model: nm.Model,
    bank_parquet: Path,
    bank_table: pa.Table,
    tmp_path: Path,
    suffix: str,
    prefetch: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(predict_workflow, "read_ahead_chunks", lambda: prefetch)
    calls: list[int] = []
    real = predict_workflow.prefetched
    monkeypatch.setattr(predict_workflow, "prefetched", lambda items, depth: calls.append(depth) or real(items, depth))
    out = tmp_path / f"scores{suffix}"
    seen: list[int] = []
    path, rows, report = predict_stream(model, bank_parquet, out, chunk_rows=800, progress=seen.append)
    assert path == out and rows == bank_table.num_rows and seen == [800, 1600, 2400, 3000]
    whole = model.predict_proba(bank_table)
    if suffix == ".parquet":
        written = pq.read_table(out).column("score").to_numpy()
    elif suffix == ".csv":
        written = pacsv.read_csv(out).column("score").to_numpy()
    else:
        written = nm.read(out).column("score").to_numpy()
    np.testing.assert_allclose(written, whole, rtol=1e-6)
    assert report["rows"] == bank_table.num_rows
    assert report["columns"]["job"]["missing"] == bank_table.num_rows - pa.compute.count(bank_table["job"]).as_py()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert calls == [prefetch]  # the read-ahead asked (0: no reader thread, see the next test)


_POOLS_IN_USE: list[pa.MemoryPool] = []  # pools that still own buffers live until the process ends


@contextmanager
def _arrow_peak(monkeypatch: pytest.MonkeyPatch) -> Iterator[pa.MemoryPool]:
    """A fresh Arrow memory pool (over the system allocator) as pyarrow's default inside the block: its
    ``max_memory()`` is the peak of what Arrow held at once in the block, whatever read the file (the
    Parquet reader, needmap.read, pyarrow.compute in the preprocessing)."""
    monkeypatch.setenv(POOL_ENV, "system")  # needmap then leaves the default pool as it is
    pool = pa.proxy_memory_pool(pa.system_memory_pool())
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield pool
    finally:
        pa.set_memory_pool(previous)
        gc.collect()
        if pool.bytes_allocated():
            _POOLS_IN_USE.append(pool)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_scoring_a_parquet_file_holds_some_chunks_in_memory_never_the_file(
    model: nm.Model,
    bank_table: pa.Table,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefetch: int,
) -> None:
    """The larger-than-memory promise, measured: Arrow's peak while a Parquet file is scored stays under a
    fifth of the file's size in memory, read ahead or not. Reading it whole goes over."""
    monkeypatch.setattr(predict_workflow, "read_ahead_chunks", lambda: prefetch)
    rows = pa.concat_tables([bank_table] * 20)  # 60,000 rows
    path = tmp_path / "large.parquet"
    pq.write_table(rows, path, row_group_size=1000)
    bound = rows.nbytes // 5
    with _arrow_peak(monkeypatch) as pool:
        whole = nm.read(path)
        assert whole.num_rows == rows.num_rows
        del whole
    assert pool.max_memory() > bound  # the measure sees a whole file being read
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 60 small chunks: one thread is many times faster on a shared machine
    try:
        with _arrow_peak(monkeypatch) as pool:
            _, written, _ = predict_stream(model, path, tmp_path / "scores.parquet", chunk_rows=1000)
    finally:
        torch.set_num_threads(threads)
    assert written == rows.num_rows
    assert 0 < pool.max_memory() < bound, (pool.max_memory(), bound)


def test_prefetched_with_depth_zero_starts_no_thread() -> None:
    before = {t.name for t in threading.enumerate()}
    items = stream.prefetched(iter(range(5)), 0)
    assert next(items) == 0
    assert "needmap-prefetch" not in {t.name for t in threading.enumerate()} - before
    assert list(items) == [1, 2, 3, 4]
    with_thread = stream.prefetched(iter(range(5)), 2)
    assert next(with_thread) == 0
    assert "needmap-prefetch" in {t.name for t in threading.enumerate()}
    assert list(with_thread) == [1, 2, 3, 4]


def test_encode_threads_are_every_core_only_without_a_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "usable_cores", lambda: 6)
    assert stream.encode_threads(0) == 6
    assert stream.encode_threads(2) == 1


def test_scoring_reads_ahead_only_with_a_core_beside_torchs_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    threads = torch.get_num_threads()
    monkeypatch.setattr(stream, "usable_cores", lambda: threads)
    assert stream.read_ahead_chunks() == 0
    monkeypatch.setattr(stream, "usable_cores", lambda: threads + 1)
    assert stream.read_ahead_chunks() == stream.PREFETCH_CHUNKS


def test_a_failing_chunk_leaves_no_output(model: nm.Model, bank_table: pa.Table, tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    out.write_text("the previous scores")
    bad = bank_table.set_column(
        bank_table.column_names.index("age"), "age", pa.array(["x"] * bank_table.num_rows, type=pa.string())
    )
    with pytest.raises(DataError, match="age"):
        predict_stream(model, bad, out, chunk_rows=1000)
    assert out.read_text() == "the previous scores"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.parquet"]


def test_chunk_writer_refuses_unknown_extensions(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="extension"):
        ChunkWriter(tmp_path / "scores.xlsx")
