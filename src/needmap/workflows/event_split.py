"""The test split of a feature table built from an event log: train on earlier cutoffs, test on the latest.

``needmap train`` and ``needmap tune`` split such a table (one that carries a
:class:`needmap.events.table_info.FeatureTableInfo`) by cutoff unless the user asks for another split: the rows
of the latest cutoff are the test rows, and the training rows whose label window reaches past the test
cutoff are left out of training and counted (:mod:`needmap.events.cutoffs`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from needmap.data.provenance import source_of
from needmap.errors import ConfigError
from needmap.events.cutoffs import CutoffSplit, cutoff_values, distinct_cutoffs, split_latest
from needmap.events.table_info import info_of

#: The split of a table without a feature description, when none is asked.
PLAIN_DEFAULT = "stratified"
CUTOFF = "cutoff"


def default_split(split: str | None, table: pa.Table) -> str:
    """``split`` as asked, else "cutoff" for a table built from an event log and "stratified" for any other."""
    if split is not None:
        return split
    return CUTOFF if info_of(table) is not None else PLAIN_DEFAULT


def cutoff_split(table: pa.Table) -> CutoffSplit:
    """The rows of ``table`` split by cutoff: the latest cutoff's rows for the test, the earlier ones whose label
    window ends by it for training, and the gap between (:func:`needmap.events.cutoffs.split_latest`)."""
    info = info_of(table)
    if info is None:
        raise ConfigError(
            "split 'cutoff' holds out the latest cutoff of a table built from an event log; "
            f"{source_of(table) or 'the table'} carries no feature description. Expected a table written by "
            "needmap features, or --split time with --time-column."
        )
    cutoffs = cutoff_values(table, info)
    if distinct_cutoffs(cutoffs) < 2:
        raise ConfigError(
            f"the table has a single cutoff ({cutoffs[0].astype('datetime64[D]')}); a split by cutoff needs at least "
            "two: build the features at several --as-of dates."
        )
    split = split_latest(cutoffs, np.arange(table.num_rows), info.spec.horizon_days)
    if len(split.earlier) == 0:
        raise ConfigError(
            f"every row before the latest cutoff {split.cutoff} has a label window ({split.horizon_days} days) that "
            "reaches into it: nothing is left to train on. Expected cutoffs at least the horizon apart."
        )
    return split


def split_notes(table: pa.Table, asked: str | None, used: str, split: CutoffSplit | None) -> list[str]:
    """What a run says about its split of a table built from an event log (nothing for another table)."""
    if info_of(table) is None:
        return []
    if used != CUTOFF:
        return [
            f"the table is built from an event log, and the test rows were chosen by split {asked!r} as asked, not "
            "by cutoff: rows of one customer at several cutoffs, and label windows overlapping later features, may "
            "sit on both sides."
        ]
    assert split is not None
    notes = [
        f"train on earlier cutoffs, test on the latest: the {len(split.latest)} rows of the cutoff {split.cutoff} are "
        f"the test rows."
    ]
    if len(split.gap):
        notes.append(
            f"{len(split.gap)} rows of earlier cutoffs were left out of training: their label window "
            f"({split.horizon_days} days) reaches past the test cutoff {split.cutoff}, into the outcomes of the test."
        )
    return notes


def validation_notes(report: dict[str, Any]) -> list[str]:
    """What the fit says about validation rows chosen by cutoff (``report["validation_split"]``)."""
    chosen = report.get("validation_split")
    if not chosen:
        return []
    if chosen.get("method") != CUTOFF:
        return [f"validation rows: {chosen.get('why')}"]
    notes = [f"validation on the latest remaining cutoff: the {chosen['latest_rows']} rows of {chosen['cutoff']}."]
    if chosen.get("horizon_gap_rows"):
        notes.append(
            f"{chosen['horizon_gap_rows']} training rows were left out: their label window ({chosen['horizon_days']} "
            f"days) reaches past the validation cutoff {chosen['cutoff']}."
        )
    return notes
