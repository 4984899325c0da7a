"""The defaults of a feature table's options, written once for EventSpec, ``needmap.features`` and the command
line (a module of constants: the command's ``--help`` reads it without loading pyarrow)."""

from __future__ import annotations

WINDOWS: tuple[int, ...] = (7, 30, 90, 365)  # look-back windows in days
HORIZON_DAYS = 90  # days after a cutoff whose events make the labels
TOP_CATEGORIES = 10  # categories with columns of their own
LAST_ITEMS = 20  # length of the sequence of last items
MEMORY_LIMIT = "1GB"  # DuckDB's memory before it spills to disk
