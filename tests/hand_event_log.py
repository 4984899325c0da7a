"""A small hand-written behaviour log (15 events, 3 customers) and the spec the hand-computed tests use.

2024-01-01 is a Monday. Cutoffs 2024-01-15 (Monday) and 2024-01-25 (Thursday); horizon 10 days; windows 7
and 30 days; purchases are the events of type "purchase"; A's order o3 is a return (amount -10).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from needmap.events.table_info import EventSpec

ROWS = [  # customer, time, event, item, category, amount, order
    ("A", "2024-01-01 10:00:00", "view", "i1", "c1", 0.0, None),
    ("A", "2024-01-02 12:00:00", "purchase", "i1", "c1", 10.0, "o1"),
    ("A", "2024-01-02 12:00:00", "purchase", "i2", "c2", 5.0, "o1"),
    ("A", "2024-01-08 09:00:00", "purchase", "i3", "c1", 20.0, "o2"),
    ("A", "2024-01-10 18:00:00", "purchase", "i1", "c1", -10.0, "o3"),
    ("A", "2024-01-16 10:00:00", "purchase", "i2", "c2", 30.0, "o4"),
    ("A", "2024-01-20 10:00:00", "view", "i3", "c1", 0.0, None),
    ("B", "2024-01-05 14:00:00", "purchase", "i2", "c2", 8.0, "o5"),
    ("B", "2024-01-13 16:00:00", "view", "i4", "c3", 0.0, None),
    ("B", "2024-01-14 08:00:00", "purchase", "i4", "c3", 12.0, "o6"),
    ("B", "2024-01-22 20:00:00", "purchase", "i4", "c3", 7.0, "o7"),
    ("B", "2024-02-05 09:00:00", "purchase", "i2", "c2", 9.0, "o9"),
    ("C", "2024-01-18 11:00:00", "view", "i1", "c1", 0.0, None),
    ("C", "2024-01-19 11:00:00", "purchase", "i1", "c1", 15.0, "o8"),
    ("C", "2024-01-30 10:00:00", "purchase", "i2", "c2", 6.0, "o10"),
]
NAMES = ["customer", "time", "event", "item", "category", "amount", "order_id"]
CUTOFFS = ["2024-01-15", "2024-01-25"]
SPEC = EventSpec(
    customer="customer",
    time="time",
    item="item",
    event="event",
    amount="amount",
    category="category",
    order="order_id",
    purchase_events=("purchase",),
    windows=(7, 30),
    horizon_days=10,
    top_categories=2,
    last_items=3,
)


def log_table(rows: list[tuple] | None = None) -> pa.Table:
    """The log as an Arrow table, its times as timestamps."""
    rows = ROWS if rows is None else rows
    columns = list(zip(*rows, strict=True))
    arrays = [
        pa.array(columns[0], pa.string()),
        pa.array([datetime.fromisoformat(t) for t in columns[1]], pa.timestamp("us")),
        pa.array(columns[2], pa.string()),
        pa.array(columns[3], pa.string()),
        pa.array(columns[4], pa.string()),
        pa.array(columns[5], pa.float64()),
        pa.array(columns[6], pa.string()),
    ]
    return pa.table(dict(zip(NAMES, arrays, strict=True)))
