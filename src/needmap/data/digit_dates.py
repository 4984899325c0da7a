"""Dates written as digits: an integer column named like a date whose values are all ``YYYYMMDD`` dates.

Exports of shop systems and classic purchase logs (the CDNOW log's ``date``: ``19970318``) write a day as
eight digits. A reader sees integers, and a model would learn the day as the number 19,970,318. A column of
a text file is read as dates (``date32``) when its name reads as a date (``date``, ``order_day``,
``purchase_dt``) and every value is a valid ``YYYYMMDD`` day between the years 1800 and 2200; schema
inference then gives it the ``datetime`` role, as it does for ``1997-03-18``. A column not named like a date
stays a number, so that codes and amounts of eight digits are never read as days.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

#: A column name that reads as a date: ``date``, ``OrderDate``, ``day``, ``purchase_dt``.
DATE_NAME = re.compile(r"(?i)date|day|(?:^|_)dt$")
#: The smallest and largest ``YYYYMMDD`` read as a day.
FIRST_DAY, LAST_DAY = 18000101, 22001231


def digit_dates(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """``column`` (integers) as ``date32`` when every non-missing value is a valid ``YYYYMMDD`` day, else None."""
    extremes = pc.min_max(column).as_py()
    if extremes["min"] is None or extremes["min"] < FIRST_DAY or extremes["max"] > LAST_DAY:
        return None
    text = pc.cast(column, pa.string())
    try:
        stamps = pc.strptime(text, format="%Y%m%d", unit="s")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    # the parser rolls an impossible day over (19970231 -> 1997-03-03): written back, it must be the same digits
    if not pc.all(pc.equal(pc.strftime(stamps, format="%Y%m%d"), text)).as_py():
        return None
    return pc.cast(stamps, pa.date32())


def read_digit_dates(table: pa.Table) -> pa.Table:
    """``table`` with each integer column named like a date and holding only ``YYYYMMDD`` days as ``date32``."""
    for index, field in enumerate(table.schema):
        if pa.types.is_integer(field.type) and DATE_NAME.search(field.name):
            dates = digit_dates(table.column(index))
            if dates is not None:
                table = table.set_column(index, field.name, dates)
    return table
