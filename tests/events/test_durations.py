"""Durations and cutoffs as a user writes them."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from needmap.errors import ConfigError
from needmap.events.durations import expand_cutoffs, iso, parse_days, parse_windows


def test_durations_in_days_and_weeks():
    assert [parse_days(v) for v in (90, "90", "90d", "12w", " 3D ")] == [90, 90, 90, 84, 3]
    assert parse_windows("30,7, 365d,7") == (7, 30, 365)
    assert parse_windows([1, "2w"]) == (1, 14)
    for bad in ("3 months", "0d", -1, True, "1.5d"):
        with pytest.raises(ConfigError, match="expected"):
            parse_days(bad)
    with pytest.raises(ConfigError, match="windows is empty"):
        parse_windows(" , ")


def test_cutoffs_dates_text_and_monthly_ranges():
    assert expand_cutoffs(["2011-03-01", date(2011, 1, 1), datetime(2011, 2, 1, 12)]) == (
        datetime(2011, 1, 1),
        datetime(2011, 2, 1, 12),
        datetime(2011, 3, 1),
    )
    months = expand_cutoffs(["2011-11-01..2012-02-01/1m"])
    assert [iso(m) for m in months] == ["2011-11-01", "2011-12-01", "2012-01-01", "2012-02-01"]
    assert [iso(m) for m in expand_cutoffs("2011-01-15..2011-07-14/3m")] == ["2011-01-15", "2011-04-15"]
    assert iso(datetime(2011, 1, 1, 6, 30)) == "2011-01-01 06:30:00"
    with pytest.raises(ConfigError, match="not a date"):
        expand_cutoffs(["June"])
    with pytest.raises(ConfigError, match="empty"):
        expand_cutoffs(["2011-09-01..2011-01-01/1m"])
    with pytest.raises(ConfigError, match="day from 1 to 28"):
        expand_cutoffs(["2011-01-31..2011-05-01/1m"])
