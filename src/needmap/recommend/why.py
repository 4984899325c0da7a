"""Why an item: the items of a customer's history that add most to a recommended item's score.

For ItemKNN and EASE a score is a sum over the distinct items of the history (a similarity, a weight), so
those terms (:meth:`needmap.recommend.algorithm.Algorithm.contributions`) say exactly what each past item adds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


def item_reasons(rec: Any, table: pa.Table, *, top: int = 3) -> pa.Table:
    """``table`` (a :meth:`~needmap.recommend.recommender.Recommender.recommend` list of ``rec``) with
    ``because`` (the ``top`` history items of largest positive term) and ``reason``, a sentence."""
    import pyarrow.compute as pc

    names = rec.data_.item_ids
    histories = rec.histories(rec.customer_index(table.column("customer")))
    item_index = pc.index_in(table.column("item"), value_set=names).to_numpy(zero_copy_only=False)
    because, reasons = [], []
    for history, item in zip(histories, item_index, strict=True):
        if len(history) == 0:
            because.append([])
            reasons.append("popular with customers: no history to go by")
            continue
        seen = np.unique(history)
        terms = rec.algorithm_.contributions(history, int(item))
        order = np.argsort(-terms, kind="stable")[:top]
        chosen = [names[int(seen[j])].as_py() for j in order if terms[j] > 0]
        because.append(chosen)
        reasons.append("because they have " + ", ".join(str(c) for c in chosen) if chosen else
                       "close to what they have, no single item stands out")  # fmt: skip
    return table.append_column("because", pa.array(because, type=pa.list_(names.type))).append_column(
        "reason", pa.array(reasons, type=pa.string())
    )
