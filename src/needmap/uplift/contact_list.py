"""The contact list as a table: the customers' id columns as they came in, then offer, uplift, gain, rank."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from needmap.uplift.target import Contacts


def contact_table(
    table: pa.Table,
    ids: Sequence[str],
    contacts: Contacts,
    offers: Sequence[str],
    *,
    uplift_name: str = "predicted_uplift",
) -> pa.Table:
    """One row per contact, best first: ``ids`` columns of ``table`` (or ``row``, the customer's data row, when
    the model names no id column), ``offer``, ``uplift_name``, ``expected_gain``, ``rank``."""
    rows = pa.array(contacts.rows, type=pa.int64())
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in ids:
        columns[name] = table.column(name).take(rows)
    if not ids:
        columns["row"] = pa.array(contacts.rows + 1, type=pa.int64())
    columns["offer"] = pa.array(np.asarray(offers, dtype=object)[contacts.offer].tolist(), type=pa.string())
    columns[uplift_name] = pa.array(contacts.uplift, type=pa.float64())
    columns["expected_gain"] = pa.array(contacts.gain, type=pa.float64())
    columns["rank"] = pa.array(np.arange(1, len(contacts.rows) + 1), type=pa.int64())
    return pa.table(columns)
