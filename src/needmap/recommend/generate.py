"""Seeded interactions with a planted answer, for tests and benchmarks.

Customers belong to segments and so do items; a customer walks through their segment's items in a fixed
cyclic order from a random start (the next item is usually the successor of the last one), and now and then
(``noise``) touches an item of another segment instead. So a recommender that learned anything recommends a
customer items of their own segment, and a sequential one recommends the successor of the last item.
"""

from __future__ import annotations

import numpy as np

from needmap.recommend.interactions import Interactions, from_arrays


def planted_interactions(
    *,
    customers: int = 300,
    items: int = 60,
    segments: int = 3,
    events: int = 12,
    noise: float = 0.05,
    seed: int = 0,
) -> tuple[Interactions, np.ndarray, np.ndarray]:
    """The interactions, each customer's segment (by customer index) and each item's segment (by item index).

    Customer ids are ``"c0"``, ``"c1"``, ...; item ids are the integers 1000, 1001, ...; times are one day apart."""
    rng = np.random.default_rng(seed)
    item_segment = np.arange(items) % segments
    members = [np.flatnonzero(item_segment == s) for s in range(segments)]
    rows_c, rows_i, rows_t = [], [], []
    customer_segment = rng.integers(0, segments, size=customers)
    for c in range(customers):
        own = members[customer_segment[c]]
        position = int(rng.integers(0, len(own)))
        for e in range(events):
            if rng.random() < noise:
                item = int(rng.integers(0, items))
            else:
                item = int(own[position % len(own)])
                position += 1
            rows_c.append(f"c{c}")
            rows_i.append(1000 + item)
            rows_t.append(np.datetime64("2024-01-01") + np.timedelta64(e, "D"))
    data = from_arrays(rows_c, rows_i, np.array(rows_t, dtype="datetime64[us]"), source="planted interactions")
    # map back to the data's own indices
    cust_ids = [int(v[1:]) for v in data.customer_ids.to_pylist()]
    item_ids = [v - 1000 for v in data.item_ids.to_pylist()]
    return data, customer_segment[cust_ids], item_segment[item_ids]
