"""Codes written with leading zeros ("00001", "007") keep their text when a CSV file is read, and schema
inference reads them as codes: an id when every value is unique, a category otherwise."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa

from needmap.data.infer import infer_schema
from needmap.data.read import read

ROWS = 60


def customers_csv(folder: Path, delimiter: str = ",") -> Path:
    """``customer_id`` 00001..00060 (one missing), ``store`` codes 007/012/100 repeated, ``visits`` integers
    without leading zeros, ``spend`` floats, a 0/1 target."""
    lines = [delimiter.join(["customer_id", "store", "visits", "spend", "y"])]
    for i in range(ROWS):
        customer = "" if i == 5 else f"{i + 1:05d}"
        store = ["007", "012", "100"][i % 3]
        lines.append(delimiter.join([customer, store, str(i % 9), f"{i * 1.5:.2f}", str(i % 2)]))
    path = folder / "customers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_integer_columns_with_leading_zeros_keep_their_text(tmp_path: Path) -> None:
    table = read(customers_csv(tmp_path))
    assert table.schema.field("customer_id").type == pa.string()
    ids = table.column("customer_id").to_pylist()
    assert ids[:3] == ["00001", "00002", "00003"] and ids[5] is None and ids[-1] == "00060"
    assert table.column("store").to_pylist()[:3] == ["007", "012", "100"]
    assert table.schema.field("visits").type == pa.int64()  # no leading zero: a number as before
    assert table.schema.field("spend").type == pa.float64()


def test_gzipped_and_semicolon_files_keep_them_too(tmp_path: Path) -> None:
    plain = customers_csv(tmp_path, delimiter=";")
    packed = tmp_path / "customers.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert read(packed).column("customer_id").to_pylist()[:2] == ["00001", "00002"]


def test_codes_with_leading_zeros_are_ids_or_categories_not_numbers(tmp_path: Path) -> None:
    schema = infer_schema(read(customers_csv(tmp_path)), target="y")
    customer, store = schema.column("customer_id"), schema.column("store")
    assert customer.role == "id" and "leading zeros (e.g. '00001')" in customer.reason and "unique" in customer.reason
    assert store.role == "categorical" and "leading zeros (e.g. '007')" in store.reason
    assert schema.column("visits").role == "numeric"
    as_text = pa.table({"zip": ["02134", "10001", "02134", "94105"] * 5, "y": [0, 1] * 10})  # text from any source
    assert infer_schema(as_text, target="y").column("zip").role == "categorical"


def test_numbers_with_a_zero_before_the_point_are_still_numbers() -> None:
    table = pa.table({"rate": ["0.5", "0.25", "1.5", "0", "-0.75"] * 8, "y": [0, 1] * 20})
    assert infer_schema(table, target="y").column("rate").role == "numeric"


def test_ids_too_long_for_int64_keep_their_digits(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    ids = [f"{12345678901234567890 + i}" for i in range(30)]
    path.write_text("order_id,amount\n" + "".join(f"{o},{i * 2.5}\n" for i, o in enumerate(ids)), encoding="utf-8")
    table = read(path)
    assert table.column("order_id").to_pylist() == ids  # as floats, neighbouring ids were one number
    assert infer_schema(table).column("order_id").role == "id"
    amounts = tmp_path / "amounts.csv"  # whole floats within int64, and decimals: numbers as before
    amounts.write_text("big,small\n1e19,1.5\n2e19,2.0\n", encoding="utf-8")
    assert read(amounts).schema.field("big").type == pa.float64()


def test_codes_padded_or_beside_missing_markers_keep_their_text(tmp_path: Path) -> None:
    # A column is text to the reader while it holds ' 00007' (padding) or '?' (a missing marker); cleaned, it
    # is typed again, and the codes must keep their zeros then too. Whitespace-aligned files likewise.
    lines = ["customer_id,store,y"] + [f"{'?' if i == 3 else f'{i + 1:05d}'}, {i % 3:03d},{i % 2}" for i in range(30)]
    (tmp_path / "marked.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read(tmp_path / "marked.csv")
    assert table.column("customer_id").to_pylist()[:5] == ["00001", "00002", "00003", None, "00005"]
    assert table.column("store").to_pylist()[:3] == ["000", "001", "002"]
    aligned = ["customer_id   visits   y"] + [f"{i + 1:05d}   {i % 7:>6d}   {i % 2}" for i in range(30)]
    (tmp_path / "aligned.txt").write_text("\n".join(aligned) + "\n", encoding="utf-8")
    table = read(tmp_path / "aligned.txt")
    assert table.column("customer_id").to_pylist()[:2] == ["00001", "00002"]
    assert table.schema.field("visits").type == pa.int64()
