"""What a feature table built from an event log says about itself, and how a log is read into one.

A feature table (the output of ``needmap features`` / :func:`needmap.features`) has one row per customer
and cutoff date. Its Parquet schema metadata holds, under :data:`FEATURES_KEY`, the JSON of a
:class:`FeatureTableInfo`: the :class:`EventSpec` the log was read with, the cutoffs, the customer and cutoff
columns, the label columns (outcomes in the horizon after each cutoff, never model inputs) and the
point-in-time boundary. A table written as text keeps the same JSON beside it (:func:`sidecar_path`).
``needmap train`` reads it to split by cutoff and to keep the labels out of the inputs; a model trained on
such a table saves the spec, so that ``needmap predict MODEL --events LOG --as-of DATE`` builds its inputs
the same way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from needmap.errors import DataError
from needmap.events import defaults

#: The schema-metadata key of a feature table's :class:`FeatureTableInfo` (JSON).
FEATURES_KEY = b"needmap.features"
#: The format version of that JSON; a reader refuses a newer one.
VERSION = 1
#: The column holding each row's cutoff (a timestamp): features from events strictly before it.
CUTOFF_COLUMN = "cutoff"
#: The label columns: outcomes in ``[cutoff, cutoff + horizon)``.
LABEL_BOUGHT = "label_bought"  # 1 when the customer made at least one purchase in the horizon, else 0
LABEL_PURCHASES = "label_purchases"  # purchases (distinct purchase occasions) in the horizon
LABEL_SPEND = "label_spend"  # the amount spent in the horizon (returns subtracted, at least 0)
LABELS: tuple[str, ...] = (LABEL_BOUGHT, LABEL_PURCHASES, LABEL_SPEND)
#: The buy-till-you-die summary of each customer at the cutoff (in the convention of BG/NBD and
#: Gamma-Gamma: frequency = repeat purchase days, recency = days from the first to the last purchase,
#: age = days from the first purchase to the cutoff, monetary = mean amount of the repeat purchase days).
BTYD_FREQUENCY = "btyd_frequency"
BTYD_RECENCY = "btyd_recency_days"
BTYD_AGE = "btyd_age_days"
BTYD_MONETARY = "btyd_monetary"
BTYD_COLUMNS: tuple[str, ...] = (BTYD_FREQUENCY, BTYD_RECENCY, BTYD_AGE, BTYD_MONETARY)
#: The boundary, as stated in the docs and in every feature table.
BOUNDARY = (
    "features of a row use only events with time < cutoff; labels use events with cutoff <= time < cutoff + horizon"
)


@dataclass(frozen=True)
class EventSpec:
    """How an event log is read into features: its columns and the feature options.

    Attributes:
        customer: the column naming the customer (its values come out exactly as they went in).
        time: the column holding each event's time (a timestamp, a date, text in ISO form, or seconds since
            1970-01-01 UTC as a number).
        item: the column naming the item (product), if any: the last items become a sequence column.
        event: the column naming the event type (view, cart, purchase, ...), if any.
        amount: a column or a SQL expression over columns (``"Quantity * UnitPrice"``) giving the money of an
            event; None: no money features, the spend label counts 0.
        category: the column naming the item's category, if any: counts per top category and a multi-hot column.
        order: the column naming the order (invoice), if any: a purchase occasion is a distinct (customer,
            order); without it, a distinct (customer, time).
        purchase_events: the values of ``event`` that count as purchases; empty: every event is a purchase
            (a log of purchases alone, or ratings taken as activity).
        windows: the look-back windows in days of the windowed counts and amounts.
        horizon_days: the days after a cutoff whose events make the labels.
        top_categories: how many of the most frequent categories (before the first cutoff) get their own columns.
        last_items: the length of the sequence of last items.
    """

    customer: str
    time: str
    item: str | None = None
    event: str | None = None
    amount: str | None = None
    category: str | None = None
    purchase_events: tuple[str, ...] = ()
    windows: tuple[int, ...] = defaults.WINDOWS
    horizon_days: int = defaults.HORIZON_DAYS
    top_categories: int = defaults.TOP_CATEGORIES
    last_items: int = defaults.LAST_ITEMS
    order: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["purchase_events"] = list(self.purchase_events)
        data["windows"] = list(self.windows)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventSpec:
        values = dict(data)
        values["purchase_events"] = tuple(str(v) for v in values.get("purchase_events", ()))
        values["windows"] = tuple(int(v) for v in values.get("windows", defaults.WINDOWS))
        return cls(**values)


@dataclass(frozen=True)
class FeatureTableInfo:
    """What a feature table holds: the spec it was built with, its cutoffs, and its special columns.

    Attributes:
        spec: the :class:`EventSpec` the log was read with.
        as_of: the cutoffs, ISO text, earliest first.
        labels: the label columns present (empty when built without labels, e.g. for scoring today).
        bad_rows: events left out, by reason (``{"missing customer": 135080, ...}``), each counted.
        extra: anything else the builder records (top categories chosen, item vocabulary size, ...).
    """

    spec: EventSpec
    as_of: tuple[str, ...]
    labels: tuple[str, ...] = LABELS
    bad_rows: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    cutoff_column: str = CUTOFF_COLUMN
    boundary: str = BOUNDARY
    version: int = VERSION

    @property
    def customer_column(self) -> str:
        return self.spec.customer

    def to_json(self) -> str:
        data = asdict(self)
        data["spec"] = self.spec.to_dict()
        data["as_of"] = list(self.as_of)
        data["labels"] = list(self.labels)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "feature table") -> FeatureTableInfo:
        try:
            data = json.loads(text)
            version = int(data.get("version", VERSION))
            if version > VERSION:
                raise DataError(
                    f"{where}: its feature description has version {version}; this needmap reads up to {VERSION}"
                )
            return cls(
                spec=EventSpec.from_dict(data["spec"]),
                as_of=tuple(str(v) for v in data["as_of"]),
                labels=tuple(str(v) for v in data.get("labels", LABELS)),
                bad_rows={str(k): int(v) for k, v in data.get("bad_rows", {}).items()},
                extra=dict(data.get("extra", {})),
                cutoff_column=str(data.get("cutoff_column", CUTOFF_COLUMN)),
                boundary=str(data.get("boundary", BOUNDARY)),
                version=version,
            )
        except (ValueError, KeyError, TypeError) as err:
            raise DataError(
                f"{where}: its feature description could not be read ({err}); expected needmap's JSON"
            ) from None


def info_of(table: pa.Table) -> FeatureTableInfo | None:
    """The :class:`FeatureTableInfo` in ``table``'s schema metadata, None for a table not built from a log."""
    meta = table.schema.metadata or {}
    if FEATURES_KEY not in meta:
        return None
    return FeatureTableInfo.from_json(meta[FEATURES_KEY])


def with_info(table: pa.Table, info: FeatureTableInfo) -> pa.Table:
    """``table`` with ``info`` in its schema metadata (other keys kept)."""
    meta = dict(table.schema.metadata or {})
    meta[FEATURES_KEY] = info.to_json().encode("utf-8")
    return table.replace_schema_metadata(meta)


def sidecar_path(path: str | Path) -> Path:
    """Where a feature table written as text keeps its description: ``<path>.features.json``."""
    path = Path(path)
    return path.with_name(path.name + ".features.json")


def info_of_file(path: str | Path, table: pa.Table | None = None) -> FeatureTableInfo | None:
    """The description of the feature table in ``path``: its schema metadata (``table`` as read), else the sidecar."""
    if table is not None:
        found = info_of(table)
        if found is not None:
            return found
    side = sidecar_path(path)
    if side.is_file():
        return FeatureTableInfo.from_json(side.read_text(encoding="utf-8"), where=str(side))
    return None


def with_file_info(table: pa.Table, path: str | Path) -> pa.Table:
    """``table``, read from ``path``, with the description of the feature table kept beside the file
    (``<path>.features.json``) in its schema metadata when the table carries none of its own (a Parquet file's)."""
    if info_of(table) is not None:
        return table
    info = info_of_file(path)
    return table if info is None else with_info(table, info)
