"""Durations ("90d", "12w", 90) and cutoff dates (one date, or a monthly range ``2011-01-01..2011-09-01/1m``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from needmap.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*([dw]?)\s*$", re.IGNORECASE)
_RANGE = re.compile(r"^\s*(\S+?)\.\.(\S+?)/(\d+)([mdw])\s*$", re.IGNORECASE)


def parse_days(value: str | int, what: str = "duration") -> int:
    """Whole days of ``value``: an int of days, ``"90d"`` (days) or ``"12w"`` (weeks); at least 1."""
    if isinstance(value, bool):
        raise ConfigError(f"{what} is {value!r}; expected days as a whole number, '90d' or '12w'.")
    if isinstance(value, int):
        days = value
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ConfigError(f"{what} is {value!r}; expected days as a whole number, '90d' or '12w'.")
        days = int(match.group(1)) * (7 if match.group(2).lower() == "w" else 1)
    if days < 1:
        raise ConfigError(f"{what} is {value!r}; expected at least one day.")
    return days


def parse_windows(value: str | Sequence[str | int]) -> tuple[int, ...]:
    """Look-back windows in days from ``"7,30,90,365"`` or a sequence of durations; sorted, distinct."""
    parts = [p for p in value.split(",") if p.strip()] if isinstance(value, str) else list(value)
    if not parts:
        raise ConfigError("windows is empty; expected at least one window, e.g. 7,30,90,365.")
    return tuple(sorted({parse_days(p, "a window") for p in parts}))


def parse_cutoff(value: date | datetime | str) -> datetime:
    """One cutoff as a naive datetime: a date (midnight), a datetime, or ISO text."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else _utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(
            f"cutoff {value!r} is not a date; expected ISO text such as 2011-06-01 or 2011-06-01T00:00:00, "
            "or a monthly range 2011-01-01..2011-09-01/1m."
        ) from None
    return parsed if parsed.tzinfo is None else _utc(parsed)


def _utc(value: datetime) -> datetime:
    from datetime import timezone

    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _add_months(value: datetime, months: int) -> datetime:
    month = value.month - 1 + months
    year = value.year + month // 12
    month = month % 12 + 1
    if value.day > 28:
        raise ConfigError(f"a monthly range starts on day {value.day}; expected a day from 1 to 28.")
    return value.replace(year=year, month=month)


def expand_cutoffs(values: Sequence[date | datetime | str]) -> tuple[datetime, ...]:
    """The cutoffs of ``values``, sorted and distinct; a text value ``START..END/STEP`` (step ``1m`` months,
    ``7d`` days or ``2w`` weeks) stands for START, START + STEP, ... up to END included."""
    if isinstance(values, (str, date)):
        values = [values]
    found: set[datetime] = set()
    for value in values:
        match = _RANGE.match(value) if isinstance(value, str) else None
        if match is None:
            found.add(parse_cutoff(value))
            continue
        start, end = parse_cutoff(match.group(1)), parse_cutoff(match.group(2))
        step, unit = int(match.group(3)), match.group(4).lower()
        if step < 1 or end < start:
            raise ConfigError(f"cutoff range {value!r} is empty; expected START..END/STEP with END after START.")
        current, k = start, 0
        while current <= end:
            found.add(current)
            k += 1
            if unit == "m":
                current = _add_months(start, k * step)
            else:
                current = start + timedelta(days=k * step * (7 if unit == "w" else 1))
    if not found:
        raise ConfigError("no cutoff given; expected at least one date, e.g. as_of=['2011-06-01'].")
    return tuple(sorted(found))


def iso(value: datetime) -> str:
    """A cutoff as ISO text: the date alone at midnight, else date and time."""
    if value == datetime(value.year, value.month, value.day):
        return value.date().isoformat()
    return value.isoformat(sep=" ")
