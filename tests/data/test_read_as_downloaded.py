"""Files as they are downloaded: whitespace-aligned columns, no header row, a preamble line, padded values,
missing markers, an extension that is not .csv. Each is read into the right columns and types."""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from needmap.data.read import read
from needmap.data.read_options import ReadOptions
from needmap.data.text_cells import cleaned_of
from needmap.errors import ConfigError, DataError, ReadingNote


def aligned_log(rows: int = 40, seed: int = 0, header: bool = True) -> str:
    """A purchase log whose columns are aligned by runs of spaces (the CDNOW layout)."""
    rng = np.random.default_rng(seed)
    lines = [f"{'customer_id':<12}{'date':<10}{'number_of_cds':>14}{'dollar_value':>14}"] if header else []
    for _ in range(rows):
        customer = f"{int(rng.integers(1, 23571)):05d}"
        date = f"1997{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}"
        cds = int(rng.integers(1, 9))
        lines.append(f"{customer:<12}{date:<10}{cds:>14}{cds * rng.uniform(8, 16):>14.2f}")
    return "\n".join(lines) + "\n"


def census_rows(rows: int = 30, seed: int = 1) -> str:
    """Rows in the UCI census layout: no header, a space after each comma, '?' for missing."""
    rng = np.random.default_rng(seed)
    jobs = ["State-gov", "Private", "Self-emp-not-inc", "?"]
    lines = []
    for _ in range(rows):
        age = int(rng.integers(17, 90))
        job = jobs[int(rng.integers(0, len(jobs)))]
        hours = int(rng.integers(10, 60))
        label = ">50K" if rng.random() < 0.3 else "<=50K"
        lines.append(f"{age}, {job}, {hours}, {label}")
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_whitespace_aligned_file_is_sniffed_into_its_columns(tmp_path: Path) -> None:
    table = read(write(tmp_path / "cdnow.txt", aligned_log()))
    assert table.column_names == ["customer_id", "date", "number_of_cds", "dollar_value"]
    assert table.num_rows == 40
    assert table.schema.field("number_of_cds").type == pa.int64()
    assert table.schema.field("dollar_value").type == pa.float64()


@pytest.mark.parametrize("spelling", ["whitespace", r"\s+"])
def test_delimiter_whitespace_reads_runs_of_spaces(tmp_path: Path, spelling: str) -> None:
    table = read(write(tmp_path / "cdnow.csv", aligned_log()), delimiter=spelling)
    assert table.num_columns == 4 and table.num_rows == 40


def test_single_space_delimiter_on_aligned_runs_says_to_pass_whitespace(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--delimiter whitespace"):
        read(write(tmp_path / "cdnow.txt", aligned_log()), delimiter=" ")


def test_file_without_header_is_read_as_data_with_a_note(tmp_path: Path) -> None:
    path = write(tmp_path / "adult.csv", census_rows())
    with pytest.warns(ReadingNote, match="first row looks like data"):
        table = read(path)
    assert table.column_names == ["column_1", "column_2", "column_3", "column_4"]
    assert table.num_rows == 30
    assert table.schema.field("column_1").type == pa.int64()


def test_names_name_the_columns_of_a_file_without_header(tmp_path: Path) -> None:
    path = write(tmp_path / "adult.csv", census_rows())
    with pytest.warns(ReadingNote):
        table = read(path, names=["age", "workclass", "hours", "income"])
    assert table.column_names == ["age", "workclass", "hours", "income"]
    assert table.num_rows == 30
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forced = read(path, header=False)
    assert forced.num_rows == 30
    assert read(path, header=True).num_rows == 29


def test_names_replace_a_header_row(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "a,b\n1,x\n2,y\n")
    assert read(path, names=["n", "t"]).column_names == ["n", "t"]
    assert read(path, names=["n", "t"]).num_rows == 2
    with pytest.raises(ConfigError, match="3 column names but the file's rows have 2 fields"):
        read(path, names=["n", "t", "u"])


@pytest.mark.parametrize(
    "text",
    ["region,2019,2020\nnorth,1.5,2.5\nsouth,2.5,3.5\n", "age,income\n39,1.0\n40,2.0\n", "x,y\na,b\nc,d\n"],
)
def test_a_real_header_is_kept(tmp_path: Path, text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = read(write(tmp_path / "t.csv", text))
    assert table.column_names == text.splitlines()[0].split(",")


def test_a_preamble_line_before_the_table_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "adult.test", "|1x3 Cross validator\n" + census_rows())
    with pytest.warns(ReadingNote):
        table = read(path)
    assert table.num_columns == 4 and table.num_rows == 30


def test_text_values_are_stripped_and_missing_markers_read_as_missing(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", "job,label,n\n State-gov, >50K, 1\n ?, <=50K,  2\nNA,>50K,?\nnull, <=50K,4\n")
    table = read(path)
    assert table.column("job").to_pylist() == ["State-gov", None, None, None]
    assert table.column("label").to_pylist() == [">50K", "<=50K", ">50K", "<=50K"]
    assert table.column("n").to_pylist() == [1, 2, None, 4]
    assert table.schema.field("n").type == pa.int64()
    assert cleaned_of(table) == {
        "job": {"stripped": 2, "missing": 3},
        "label": {"stripped": 3, "missing": 0},
        "n": {"stripped": 2, "missing": 1},  # text until its "?" was read as missing
    }


def test_stripping_and_markers_can_be_switched_off(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", "job,label\n State-gov, >50K\n?,<=50K\n")
    table = read(path, strip=False, missing=[])
    assert table.column("job").to_pylist() == [" State-gov", "?"]
    assert table.column("label").to_pylist() == [" >50K", "<=50K"]
    assert read(path, missing=["State-gov"]).column("job").to_pylist() == [None, "?"]


def test_rows_given_as_dicts_follow_the_same_rules() -> None:
    table = read([{"job": " State-gov", "n": 1}, {"job": "?", "n": 2}])
    assert table.column("job").to_pylist() == ["State-gov", None]


def test_a_text_file_with_another_extension_is_read(tmp_path: Path) -> None:
    with pytest.warns(ReadingNote):
        table = read(write(tmp_path / "adult.data", census_rows()))
    assert table.num_columns == 4
    binary = tmp_path / "blob.data"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(DataError, match="unsupported file type"):
        read(binary)


def test_read_takes_every_reading_option_with_its_declared_default() -> None:
    keywords = inspect.signature(read).parameters
    defaults = ReadOptions.defaults()
    for name, default in defaults.items():
        assert name in keywords, name
        assert keywords[name].default == (None if name == "missing" else default), name


def test_header_and_names_are_refused_where_there_is_no_header_row(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    with pytest.raises(ConfigError, match="names applies to delimited text files"):
        read(path, names=["b"])
    with pytest.raises(ConfigError, match="header applies to delimited text files"):
        read(pa.table({"a": [1]}), header=False)
