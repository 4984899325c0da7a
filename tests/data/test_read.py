"""needmap.data.read: every source kind, typing of CSV columns, and each bad input's message."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from needmap.data.provenance import first_row_of, source_of
from needmap.data.read import read
from needmap.datasets import bank_marketing_path
from needmap.errors import ConfigError, DataError

BANK = bank_marketing_path()  # the whole file, as needmap ships it
DATASETS = Path(__file__).resolve().parents[1] / "datasets"  # slices of public datasets, in the repository
SHOPPERS = DATASETS / "online_shoppers_intention" / "online_shoppers_intention.csv.gz"


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def data_error(source: object, **kwargs: object) -> DataError:
    with pytest.raises(DataError) as info:
        read(source, **kwargs)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text, text
    return info.value


# -- CSV typing ------------------------------------------------------------------------------------
def test_csv_columns_come_back_typed_with_nulls_and_bools(tmp_path: Path) -> None:
    path = write(
        tmp_path / "typed.csv",
        b"i,f,s,mixed,b,n\n1,1.5,a,1,true,NA\n2,,b,2.5,FALSE,N/A\n3,2.0,NaN,abc,,null\nNA,3.25,null,,True,\n",
    )
    table = read(path)
    types = {f.name: f.type for f in table.schema}
    assert types == {
        "i": pa.int64(),
        "f": pa.float64(),
        "s": pa.string(),
        "mixed": pa.string(),
        "b": pa.bool_(),
        "n": pa.null(),
    }
    assert table.column("i").to_pylist() == [1, 2, 3, None]
    assert table.column("f").to_pylist() == [1.5, None, 2.0, 3.25]
    assert table.column("s").to_pylist() == ["a", "b", None, None]
    assert table.column("mixed").to_pylist() == ["1", "2.5", "abc", None]  # raw text kept
    assert table.column("b").to_pylist() == [True, False, None, True]
    assert source_of(table) == str(path)
    assert first_row_of(table) == 2


def test_text_far_down_a_numeric_column_keeps_raw_text(tmp_path: Path) -> None:
    rows = "\n".join(f"{i:06d},{i * 0.5}" for i in range(150_000))  # about 2.4 MB: several blocks
    path = write(tmp_path / "late.csv", f"code,value\n{rows}\nunknown,1.5\n".encode())
    table = read(path)
    assert table.schema.field("code").type == pa.string()
    assert table.schema.field("value").type == pa.float64()
    assert table.column("code")[0].as_py() == "000000"
    assert table.column("code")[-1].as_py() == "unknown"
    assert table.num_rows == 150_001


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    text = delimiter.join(["a", "b", "c"]) + "\n" + delimiter.join(["1", '"x, y; z|w"', "2.5"]) + "\n"
    table = read(write(tmp_path / "sniff.txt", text.encode()))
    assert table.column_names == ["a", "b", "c"]
    assert table.to_pylist() == [{"a": 1, "b": "x, y; z|w", "c": 2.5}]


def test_tsv_with_given_delimiter_and_quoted_newline(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.tsv", b'id\tnote\n1\t"two\nlines"\n2\tplain\n')
    table = read(path, delimiter="\\t")
    assert table.column("note").to_pylist() == ["two\nlines", "plain"]


def test_gzip_csv_and_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv.gz"
    with gzip.open(path, "wb") as fh:
        fh.write("\ufeffnom;prix\ncafé;2,5\nthé;3\n".encode())
    table = read(path)
    assert table.column_names == ["nom", "prix"]  # BOM stripped from the first header
    assert table.column("nom").to_pylist() == ["café", "thé"]


def test_gzip_is_detected_without_gz_extension(tmp_path: Path) -> None:
    path = tmp_path / "packed.csv"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert read(path).to_pylist() == [{"a": 1, "b": 2}]


def test_latin1_file_reads_with_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "latin.csv", "ville,n\nSète,1\nNîmes,2\n".encode("latin-1"))
    assert read(path, encoding="latin-1").column("ville").to_pylist() == ["Sète", "Nîmes"]


# -- bad CSV input -----------------------------------------------------------------------------------
def test_missing_file_names_it_and_suggests_a_close_name(tmp_path: Path) -> None:
    write(tmp_path / "customers.csv", b"a\n1\n")
    err = data_error(tmp_path / "customer.csv")
    assert "customer.csv" in str(err) and "not found" in str(err)
    assert "customers.csv" in str(err.hint)


@pytest.mark.parametrize(("data", "found"), [(b"", "0 bytes"), (b"  \n\n\t\n", "only whitespace")])
def test_empty_file(tmp_path: Path, data: bytes, found: str) -> None:
    err = data_error(write(tmp_path / "empty.csv", data))
    assert "empty.csv" in str(err) and "empty" in str(err) and found in str(err)


@pytest.mark.parametrize("data", [b"a,b,c\n", b"a,b,c"])
def test_header_only(tmp_path: Path, data: bytes) -> None:
    err = data_error(write(tmp_path / "head.csv", data))
    assert "head.csv" in str(err) and "no data rows" in str(err)


def test_ragged_row_gives_spreadsheet_row_and_counts(tmp_path: Path) -> None:
    path = write(tmp_path / "ragged.csv", b'a,b,c\n1,2,3\n"x\ny",5,6\n7,8,9,10\n11,12,13\n')
    err = data_error(path)
    # header = row 1; the quoted newline is one record, so 7,8,9,10 is spreadsheet row 4
    assert err.file == str(path)
    assert "ragged.csv" in str(err) and "row 4 has 4 fields, the header has 3" in str(err)
    assert "7,8,9,10" in str(err)


def test_ragged_row_in_gzip_file(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv.gz"
    path.write_bytes(gzip.compress(b"a;b\n1;2\n3;4;5\n"))
    err = data_error(path)
    assert "ragged.csv.gz" in str(err) and "row 3 has 3 fields, the header has 2" in str(err)


def test_wrong_delimiter_passed(tmp_path: Path) -> None:
    path = write(tmp_path / "semi.csv", b'"age";"job"\n56;"house,maid"\n57;"cook"\n')
    err = data_error(path, delimiter=",")
    assert "semi.csv" in str(err) and "row 1" in str(err)
    assert "single column" in str(err) and "seems to be ';'" in str(err)
    assert "delimiter=';'" in str(err.hint)


def test_wrong_delimiter_when_every_row_has_one_field(tmp_path: Path) -> None:
    err = data_error(write(tmp_path / "one.csv", b"a;b;c\n1;2;3\n"), delimiter=",")
    assert "one.csv" in str(err) and "seems to be ';'" in str(err)


def test_sniffed_single_column_whose_header_holds_a_delimiter(tmp_path: Path) -> None:
    err = data_error(write(tmp_path / "quoted.csv", b'"a|b"\n1\n2\n'))
    assert "quoted.csv" in str(err) and "sniffed" in str(err) and "'|'" in str(err)


def test_non_utf8_names_row_column_and_byte(tmp_path: Path) -> None:
    path = write(tmp_path / "latin.csv", "id,city,n\n1,Paris,3\n2,Orléans,4\n".encode("latin-1"))
    err = data_error(path)
    assert (err.file, err.row, err.column) == (str(path), 3, "city")
    assert "latin.csv" in str(err) and "row 3" in str(err) and "column 'city'" in str(err)
    assert "0xe9" in str(err) and "UTF-8" in str(err)
    assert 'encoding="latin-1"' in str(err.hint) and "--encoding latin-1" in str(err.hint)


def test_non_utf8_header(tmp_path: Path) -> None:
    err = data_error(write(tmp_path / "head.csv", b"id,caf\xe9\n1,2\n"))
    assert (err.row, err.column) == (1, None)
    assert "head.csv" in str(err) and "row 1" in str(err) and "0xe9" in str(err)


def test_duplicate_column_names(tmp_path: Path) -> None:
    err = data_error(write(tmp_path / "dup.csv", b"a,b,a\n1,2,3\n"))
    assert "dup.csv" in str(err) and "'a' (columns 1, 3)" in str(err)


def test_unsupported_extension(tmp_path: Path) -> None:
    err = data_error(write(tmp_path / "sheet.xlsx", b"PK\x03\x04"))
    assert "sheet.xlsx" in str(err) and "'.xlsx'" in str(err) and ".parquet" in str(err)


def test_format_overrides_the_extension(tmp_path: Path) -> None:
    table = read(write(tmp_path / "export.dat", b"a,b\n1,x\n"), format="csv")
    assert table.to_pylist() == [{"a": 1, "b": "x"}]


def test_corrupted_parquet(tmp_path: Path) -> None:
    err = data_error(write(tmp_path / "broken.parquet", b"PAR1 this is not parquet"))
    assert "broken.parquet" in str(err) and "Parquet" in str(err)


def test_corrupted_gzip(tmp_path: Path) -> None:
    err = data_error(write(tmp_path / "broken.csv.gz", b"\x1f\x8b\x08garbage"))
    assert "broken.csv.gz" in str(err) and "gzip" in str(err)


def test_options_that_are_not_accepted(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.csv", b"a\n1\n")
    with pytest.raises(ConfigError, match="format 'xls'"):
        read(path, format="xls")
    with pytest.raises(ConfigError, match="delimiter ';;'"):
        read(path, delimiter=";;")
    with pytest.raises(ConfigError, match="encoding 'klingon'"):
        read(path, encoding="klingon")
    with pytest.raises(DataError, match="type int"):
        read(42)


# -- Parquet, JSON lines, SQL --------------------------------------------------------------------------
def test_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), path)
    table = read(path)
    assert table.to_pylist() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert source_of(table) == str(path) and first_row_of(table) == 0


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.ndjson", "rows.json", "rows.jsonl.gz"])
def test_json_lines(tmp_path: Path, name: str) -> None:
    data = b'{"a": 1, "b": "x", "c": true}\n\n{"a": 2, "b": null, "c": false}\n'
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    table = read(path)
    assert table.to_pylist() == [{"a": 1, "b": "x", "c": True}, {"a": 2, "b": None, "c": False}]
    assert first_row_of(table) == 1


def test_json_array_is_refused(tmp_path: Path) -> None:
    err = data_error(write(tmp_path / "array.json", b'[{"a": 1}, {"a": 2}]'))
    assert "array.json" in str(err) and "JSON array" in str(err) and "JSON lines" in str(err)


def test_invalid_json_line(tmp_path: Path) -> None:
    err = data_error(write(tmp_path / "bad.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": \n'))
    assert err.row == 3 and "bad.jsonl" in str(err) and "row 3" in str(err) and "not valid JSON" in str(err)


def test_json_field_that_changes_type(tmp_path: Path) -> None:
    err = data_error(write(tmp_path / "mixed.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": "three"}\n'))
    assert (err.row, err.column) == (3, "a")
    assert "mixed.jsonl" in str(err) and "text" in str(err) and "number" in str(err)


def test_duckdb_sql_over_parquet(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    pq.write_table(pa.table({"user": [1, 2, 3], "amount": [9.5, 1.0, 4.0]}), path)
    table = read(sql=f"SELECT user, amount * 2 AS doubled FROM '{path}' WHERE amount > 2 ORDER BY user")
    assert table.to_pylist() == [{"user": 1, "doubled": 19.0}, {"user": 3, "doubled": 8.0}]
    assert source_of(table).startswith("DuckDB query: SELECT user")
    con = duckdb.connect()
    con.execute(f"CREATE TABLE events AS SELECT * FROM '{path}'")
    assert read(con, sql="SELECT count(*) AS n FROM events").column("n").to_pylist() == [3]
    assert read(sql="SELECT 1.5 AS d").schema.field("d").type == pa.float64()  # DECIMAL -> float64


def test_duckdb_errors(tmp_path: Path) -> None:
    err = data_error(None, sql=f"SELECT * FROM '{tmp_path / 'absent.parquet'}'")
    assert "DuckDB" in str(err) and "absent.parquet" in str(err)
    err = data_error("file.csv", sql="SELECT 1")
    assert "DuckDB connection" in str(err)


# -- frames --------------------------------------------------------------------------------------------
def test_pandas_frame_with_mixed_object_and_category_columns() -> None:
    frame = pd.DataFrame(
        {
            "n": [1, 2, 3],
            "mixed": [1, "x", None],
            "cat": pd.Categorical(["u", "v", "u"]),
            "s": ["a", None, "c"],
        }
    )
    table = read(frame[frame["n"] > 0])  # a filtered frame: its index must not become a column
    assert table.column_names == ["n", "mixed", "cat", "s"]
    assert table.schema.field("mixed").type == pa.string()
    assert table.column("mixed").to_pylist() == ["1", "x", None]
    assert table.schema.field("cat").type == pa.string()
    assert table.schema.field("s").type == pa.string()
    assert source_of(table) == "pandas DataFrame" and first_row_of(table) == 0


def test_pandas_named_index_becomes_a_column() -> None:
    frame = pd.DataFrame({"customer": ["c1", "c2"], "x": [1.0, 2.0]}).set_index("customer")
    assert read(frame).column_names == ["customer", "x"]


def test_polars_frame() -> None:
    frame = pl.DataFrame({"a": [1, 2], "s": ["x", "y"], "c": pl.Series(["u", "v"], dtype=pl.Categorical)})
    table = read(frame)
    assert {f.name: f.type for f in table.schema} == {"a": pa.int64(), "s": pa.string(), "c": pa.string()}
    assert table.column("c").to_pylist() == ["u", "v"]
    assert source_of(table) == "polars DataFrame"


def test_rows_as_dicts() -> None:
    one = read({"age": 41, "job": "admin.", "balance": None})
    assert one.num_rows == 1 and one.column_names == ["age", "job", "balance"]
    assert one.column("age").to_pylist() == [41] and one.column("balance").null_count == 1
    assert source_of(one) == "records"
    rows = read([{"age": 41, "job": "admin."}, {"age": 35}])  # a key missing from a row is missing there
    assert rows.column("job").to_pylist() == ["admin.", None]
    error = data_error([{"age": 41}, {"age": "forty"}])
    assert "one type per column" in str(error)
    error = data_error([1, 2])
    assert "a row as a dict" in str(error)


def test_arrow_table_and_record_batch_keep_their_metadata() -> None:
    base = pa.table({"a": [1, 2]}).replace_schema_metadata({b"origin": b"crm"})
    table = read(base)
    assert table.schema.metadata[b"origin"] == b"crm"
    assert source_of(table) == "Arrow table" and first_row_of(table) == 0
    assert source_of(read(base.to_batches()[0])) == "Arrow record batch"
    assert source_of(base) is None and first_row_of(base) == 0


def test_reading_a_read_table_keeps_its_source(tmp_path: Path) -> None:
    path = write(tmp_path / "orig.csv", b"a\n1\n")
    again = read(read(path))
    assert source_of(again) == str(path) and first_row_of(again) == 2


def test_empty_frame_and_duplicate_frame_columns() -> None:
    err = data_error(pd.DataFrame({"a": pd.Series([], dtype="int64")}))
    assert "no data rows" in str(err) and "pandas DataFrame" in str(err)
    err = data_error(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    assert "duplicate column names" in str(err)


# -- real data -----------------------------------------------------------------------------------------
def test_bank_marketing_full() -> None:
    table = read(BANK)
    assert table.shape == (41_188, 21)
    assert table.schema.field("age").type == pa.int64()
    assert table.schema.field("euribor3m").type == pa.float64()
    assert table.schema.field("y").type == pa.string()
    assert set(table.column("y").unique().to_pylist()) == {"no", "yes"}


def test_online_shoppers_booleans_become_bool() -> None:
    """The committed slice of 3,000 sessions; the expected values come from its text."""
    table = read(SHOPPERS)
    lines = gzip.decompress(SHOPPERS.read_bytes()).decode().splitlines()
    assert table.shape == (len(lines) - 1, 18) and table.column_names == lines[0].split(",")
    assert table.schema.field("Revenue").type == pa.bool_()
    assert table.column("Revenue").to_pylist() == [line.rsplit(",", 1)[1] == "TRUE" for line in lines[1:]]
    assert table.schema.field("Month").type == pa.string()
