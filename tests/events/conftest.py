"""Small feature tables built by hand, as ``needmap features`` writes them: one row per customer and cutoff, the
label columns, the cutoff, and the feature description in the schema metadata."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa
import pytest

from needmap.events.table_info import EventSpec, FeatureTableInfo, with_info

SPEC = EventSpec(customer="customer_id", time="ts", amount="amount", windows=(30,), horizon_days=30)


def feature_table(cutoffs: Sequence[str], *, customers: int = 80, horizon_days: int = 30, seed: int = 0) -> pa.Table:
    """``customers`` rows per cutoff; ids with leading zeros (kept exactly); ``label_bought`` follows ``recent``."""
    rng = np.random.default_rng(seed)
    n = customers * len(cutoffs)
    ids = [f"00{c:04d}" for c in range(customers)] * len(cutoffs)
    times = [datetime.fromisoformat(c) for c in cutoffs for _ in range(customers)]
    recent = rng.poisson(2.0, n).astype(np.float64)
    spend = np.round(rng.gamma(2.0, 20.0, n), 2)
    bought = (rng.random(n) < 1 / (1 + np.exp(-(recent - 2.0)))).astype(np.int64)
    purchases = bought * (1 + rng.poisson(1.0, n))
    table = pa.table(
        {
            "customer_id": pa.array(ids),
            "cutoff": pa.array(times, type=pa.timestamp("us")),
            "purchases_30d": pa.array(recent),
            "amount_30d": pa.array(spend),
            "label_bought": pa.array(bought),
            "label_purchases": pa.array(purchases),
            "label_spend": pa.array(purchases * spend / 3),
        }
    )
    spec = EventSpec.from_dict({**SPEC.to_dict(), "horizon_days": horizon_days})
    return with_info(table, FeatureTableInfo(spec=spec, as_of=tuple(cutoffs)))


@pytest.fixture
def make_table() -> Callable[..., pa.Table]:
    return feature_table
