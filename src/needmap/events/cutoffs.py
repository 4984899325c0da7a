"""Rows of a feature table split by cutoff, with the label windows kept apart.

A row of a feature table built from an event log has features from events before its cutoff and labels
from the ``horizon_days`` after it. Holding out the rows of the latest cutoff is "train on earlier cutoffs,
test on the latest"; but a training row whose label window, ``[cutoff, cutoff + horizon)``, reaches past the
test cutoff has seen outcomes of the test period, so it is left out of training (and counted). The same
holds for the validation rows split off the training part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from needmap.data.provenance import source_of
from needmap.errors import DataError, SchemaError
from needmap.events.table_info import FeatureTableInfo


@dataclass(frozen=True)
class CutoffSplit:
    """Positions of rows split by cutoff.

    Attributes:
        earlier: the rows of earlier cutoffs whose label window ends at or before ``cutoff`` (sorted).
        latest: the rows of the latest cutoff among those split (sorted).
        gap: the rows of earlier cutoffs whose label window ends after ``cutoff``: left out of both (sorted).
        cutoff: the latest cutoff, ISO text.
        horizon_days: the label window's length the gap was computed with.
    """

    earlier: np.ndarray
    latest: np.ndarray
    gap: np.ndarray
    cutoff: str
    horizon_days: int

    def describe(self) -> dict[str, object]:
        """The split as JSON for metrics.json."""
        return {
            "cutoff": self.cutoff,
            "horizon_days": self.horizon_days,
            "earlier_rows": len(self.earlier),
            "latest_rows": len(self.latest),
            "horizon_gap_rows": len(self.gap),
        }


def cutoff_values(table: pa.Table, info: FeatureTableInfo) -> np.ndarray:
    """The cutoff of every row of ``table`` as ``datetime64[us]``; an error for an absent column or a missing value."""
    name = info.cutoff_column
    if name not in table.column_names:
        raise SchemaError(
            f"the table's feature description names the cutoff column '{name}', which is not in the table; "
            f"expected one of {', '.join(table.column_names)}.",
            file=source_of(table),
            column=name,
        )
    column = table.column(name)
    if column.null_count:
        raise DataError(
            f"{column.null_count} rows have no cutoff; expected a cutoff on every row of a feature table.",
            file=source_of(table),
            column=name,
        )
    try:
        values = column.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise DataError(
            f"the cutoffs cannot be read as times ({err}); expected timestamps or dates.",
            file=source_of(table),
            column=name,
        ) from None
    return values.astype("datetime64[us]")


def split_latest(cutoffs: np.ndarray, rows: np.ndarray, horizon_days: int) -> CutoffSplit:
    """Split ``rows`` (positions into ``cutoffs``) into those of the latest cutoff among them, those of earlier
    cutoffs whose label window ends by it, and the gap between (earlier rows whose window reaches past it).

    A cutoff plus the horizon equal to the latest cutoff does not overlap it: the label window is half open."""
    rows = np.asarray(rows, dtype=np.int64)
    times = cutoffs[rows]
    latest_time = times.max()
    is_latest = times == latest_time
    window_end = times + np.timedelta64(int(horizon_days), "D")
    in_gap = ~is_latest & (window_end > latest_time)
    return CutoffSplit(
        earlier=np.sort(rows[~is_latest & ~in_gap]),
        latest=np.sort(rows[is_latest]),
        gap=np.sort(rows[in_gap]),
        cutoff=_iso(latest_time),
        horizon_days=int(horizon_days),
    )


def _iso(time: np.datetime64) -> str:
    """A cutoff as ISO text: the date alone at midnight ("2026-03-15"), else to the second."""
    day = time.astype("datetime64[D]")
    return str(day) if day == time else str(time.astype("datetime64[s]"))


def distinct_cutoffs(cutoffs: np.ndarray) -> int:
    """How many different cutoffs ``cutoffs`` holds."""
    return len(np.unique(cutoffs))
