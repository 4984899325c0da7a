"""benchmarks/make_cdnow_like.py: a seeded purchase log in the CDNOW layout (columns aligned by runs of
spaces), and needmap reading it as it is written, with and without its header row."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow as pa
import pytest

from needmap.data.read import read
from needmap.errors import ReadingNote

GENERATOR = Path(__file__).resolve().parents[1] / "benchmarks" / "make_cdnow_like.py"


def _generator():
    spec = importlib.util.spec_from_file_location("needmap_bench_make_cdnow_like", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_log_is_seeded_and_read_into_its_four_columns(tmp_path: Path) -> None:
    gen = _generator()
    rows = gen.purchases(300, seed=3)
    assert rows == gen.purchases(300, seed=3)
    path = tmp_path / "cdnow_like.txt"
    path.write_text(gen.aligned_text(rows))
    table = read(path)
    assert table.column_names == ["customer_id", "date", "number_of_cds", "dollar_value"]
    assert table.num_rows == len(rows)
    assert table.schema.field("number_of_cds").type == pa.int64()
    assert table.schema.field("dollar_value").type == pa.float64()
    assert table.column("dollar_value").to_pylist() == [r[3] for r in rows]


def test_the_log_without_its_header_is_read_as_data(tmp_path: Path) -> None:
    gen = _generator()
    rows = gen.purchases(200, seed=4)
    path = tmp_path / "cdnow_like.txt"
    path.write_text(gen.aligned_text(rows, header=False))
    with pytest.warns(ReadingNote):
        table = read(path, names=["customer_id", "date", "number_of_cds", "dollar_value"])
    assert table.num_rows == len(rows)
    assert table.column("number_of_cds").to_pylist() == [r[2] for r in rows]
