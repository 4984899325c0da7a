"""SpilledRows: a table set aside in a temporary file while the block runs, read back whole and the same."""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from needmap.data.spill import SpilledRows


def _table(rows: int = 1000) -> pa.Table:
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "id": pa.array([f"c{i:07d}" for i in range(rows)]),
            "x": pa.array(rng.normal(size=rows)),
            "y": pa.array(rng.integers(0, 2, rows)),
            "when": pa.array(np.arange(rows).astype("datetime64[s]")),
            "maybe": pa.array([None if i % 7 == 0 else i for i in range(rows)], type=pa.int32()),
        }
    )
    return table.replace_schema_metadata({"needmap.source": "customers.csv", "needmap.first_row": "unknown"})


def test_a_spilled_table_comes_back_the_same_and_its_file_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    table = _table()
    expected = table
    with SpilledRows(table, min_bytes=0) as rows:
        assert rows.path is not None and Path(rows.path).parent == tmp_path
        assert rows.note is None
        back = rows.read()
    assert back.equals(expected) and back.schema.metadata == expected.schema.metadata
    assert list(tmp_path.iterdir()) == []  # removed at the end of the block
    assert back.column("id").to_pylist()[:3] == ["c0000000", "c0000001", "c0000002"]  # the mapping outlives the file


def test_the_spilled_table_is_not_held_in_memory() -> None:
    table = _table()
    alive = weakref.ref(table)
    with SpilledRows(table, min_bytes=0) as rows:
        del table
        assert alive() is None  # only the caller held it: its memory is free while the block runs
        assert rows.read().num_rows == 1000


def test_the_file_goes_when_the_block_ends_by_an_error() -> None:
    path = None
    with pytest.raises(RuntimeError, match="training failed"), SpilledRows(_table(), min_bytes=0) as rows:
        path = rows.path
        assert path is not None and os.path.exists(path)
        raise RuntimeError("training failed")
    assert path is not None and not os.path.exists(path)


def test_a_small_table_stays_in_memory() -> None:
    table = _table(10)
    with SpilledRows(table) as rows:  # below SPILL_MIN_BYTES
        assert rows.path is None
        assert rows.read() is table


def test_an_unwritable_directory_keeps_the_rows_in_memory_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    class Full:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(pa, "OSFile", Full)
    table = _table()
    with SpilledRows(table, min_bytes=0) as rows:
        assert rows.path is None
        assert rows.read() is table
    assert rows.note is not None and "stayed in memory" in rows.note and "No space left on device" in rows.note
