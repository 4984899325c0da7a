"""FeatureOptions: how a feature table is built from an event log, beside its customer, time and cutoffs,
declared once for :func:`needmap.features` and ``needmap features`` (flags, ``--help``, checks and errors).

A module of declarations only (no pyarrow, no DuckDB), so that the command's ``--help`` stays light.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from needmap.declare import Options, boolean, option, optional, text, whole
from needmap.errors import ConfigError
from needmap.events import defaults
from needmap.events.durations import parse_days, parse_windows

_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def _parsed_by(parse: Any, expected: str) -> Any:
    """A check that passes what ``parse`` reads (a ConfigError otherwise) and names ``expected`` else."""

    def check(value: Any) -> str | None:
        try:
            parse(value)
        except ConfigError:
            return expected
        return None

    return check


_days = _parsed_by(parse_days, "days as a whole number (at least 1), '90d' or '12w'")
_windows = _parsed_by(parse_windows, "look-back windows in days, e.g. 7,30,90,365")


def _memory(value: Any) -> str | None:
    return None if isinstance(value, str) and _MEMORY.match(value) else "an amount such as '1GB' or '512MB'"


def _names(value: Any) -> Any:
    """A value name or several ("purchase" or "purchase,order"; a list as given) as a list of text."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, Sequence):
        return [str(v) for v in value]
    return value


def _text_list(value: Any) -> str | None:
    return None if isinstance(value, list) and all(isinstance(v, str) for v in value) else "event values as text"


@dataclass
class FeatureOptions(Options):
    """The columns a log may have beyond its customer and time, and the feature table's choices."""

    kind: ClassVar[str] = "feature"

    item: str | None = option(
        None, help="The item (product) column: the last items become a sequence input.", check=optional(text),
        metavar="COLUMN",
    )  # fmt: skip
    event: str | None = option(
        None, help="The event type column (view, cart, purchase, ...): counts and amounts per type.",
        check=optional(text), metavar="COLUMN",
    )  # fmt: skip
    purchase_events: list[str] = option(
        help="The values of the event column that are purchases, comma-separated; none: every event is one.",
        convert=_names,
        check=_text_list,
        metavar="VALUE,...",
        factory=list,
    )
    amount: str | None = option(
        None, help="The money of an event: a column or an expression over columns, e.g. 'Quantity * UnitPrice'; "
        "a negative amount is a return.", check=optional(text), metavar="COLUMN|EXPR",
    )  # fmt: skip
    category: str | None = option(
        None, help="The item's category column: counts per top category and a multi-hot input.",
        check=optional(text), metavar="COLUMN",
    )  # fmt: skip
    order: str | None = option(
        None, help="The order (invoice) column: one purchase occasion per order.", check=optional(text),
        metavar="COLUMN",
    )  # fmt: skip
    horizon: str = option(
        f"{defaults.HORIZON_DAYS}d", help="The days after a cutoff whose events make the labels (90, 90d, 12w).",
        convert=lambda v: f"{v}d" if isinstance(v, int) and not isinstance(v, bool) else v, check=_days,
        metavar="DAYS",
    )  # fmt: skip
    windows: list[int] = option(
        help="The look-back windows in days, comma-separated.",
        convert=lambda v: list(parse_windows(v)) if _windows(v) is None else v,
        check=_windows,
        parse=lambda text: text,
        metavar="DAYS,...",
        factory=lambda: list(defaults.WINDOWS),
    )
    top_categories: int = option(
        defaults.TOP_CATEGORIES, help="How many of the most frequent categories get columns of their own.",
        check=whole(0),
    )  # fmt: skip
    last_items: int = option(defaults.LAST_ITEMS, help="The length of the sequence of last items.", check=whole(1))
    labels: bool = option(
        True, help="Label columns from the horizon after each cutoff; --no-labels for features to score today.",
        check=boolean,
    )  # fmt: skip
    memory_limit: str = option(
        defaults.MEMORY_LIMIT, help="DuckDB's memory; beyond it, it spills to a temporary directory.", check=_memory,
        metavar="AMOUNT",
    )  # fmt: skip
