"""Dates written as eight digits (YYYYMMDD) in a column named like a date are read as dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from needmap.data.infer import infer_schema
from needmap.data.read import read


def write(folder: Path, rows: list[str]) -> Path:
    path = folder / "log.txt"
    path.write_text("\n".join(["customer_id  date  order_day  amount  y", *rows]) + "\n", encoding="utf-8")
    return path


def test_a_date_column_of_yyyymmdd_digits_is_read_as_dates_and_left_out_of_the_features(tmp_path: Path) -> None:
    rows = [f"{i:05d}  {19970101 + i % 28}  {19970201 + i % 27}  {10000000 + i}  {i % 2}" for i in range(1, 41)]
    table = read(write(tmp_path, rows))
    assert table.schema.field("date").type == pa.date32()
    assert table.column("date").to_pylist()[:2] == [dt.date(1997, 1, 2), dt.date(1997, 1, 3)]
    assert table.schema.field("order_day").type == pa.date32()
    # eight digits in a column not named like a date stay a number
    assert table.schema.field("amount").type == pa.int64()
    assert infer_schema(table, "y").column("date").role == "datetime"


def test_a_column_with_one_impossible_day_stays_numbers(tmp_path: Path) -> None:
    rows = [f"{i:05d}  {19970101 + i % 28}  {19970231 if i == 7 else 19970201}  {i}  {i % 2}" for i in range(1, 41)]
    table = read(write(tmp_path, rows))
    assert table.schema.field("date").type == pa.date32()
    assert table.schema.field("order_day").type == pa.int64()  # 1997-02-31 is no day
