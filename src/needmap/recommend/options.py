"""RecommendOptions: how ``needmap train --task recommend`` reads a log and holds out, declared once for the
command line, the YAML file and :func:`needmap.recommend.train.train_recommender`'s callers.

A module of declarations only (no pyarrow, no torch), so that ``--help`` stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from needmap.declare import Options, number, one_of, option, optional, text, whole
from needmap.events.options import _names, _text_list

HOLDOUTS = ("leave-last-out", "time")


@dataclass
class RecommendOptions(Options):
    """The log's columns, the item table and the held-out protocol of a recommender."""

    kind: ClassVar[str] = "recommend"

    customer: str | None = option(
        None, help="[recommend] The column naming the customer (session) in the log.", check=optional(text),
        metavar="COLUMN",
    )  # fmt: skip
    item: str | None = option(
        None, help="[recommend] The column naming the item in the log.", check=optional(text), metavar="COLUMN"
    )
    time: str | None = option(
        None, help="[recommend] The event's time column (without it, the log's order is the time order).",
        check=optional(text), metavar="COLUMN",
    )  # fmt: skip
    event: str | None = option(
        None, help="[recommend] The event type column, with --positive-events.", check=optional(text),
        metavar="COLUMN",
    )  # fmt: skip
    positive_events: list[str] = option(
        help="[recommend] The values of the event column that count as positives, comma-separated (none: all).",
        convert=_names,
        check=_text_list,
        metavar="VALUE,...",
        factory=list,
    )
    items: str | None = option(
        None, help="[recommend] A table of item attributes (CSV / Parquet), one row per item.", check=optional(text),
        metavar="FILE",
    )  # fmt: skip
    item_attributes: list[str] = option(
        help="[recommend] Columns of --items fed to the two-tower item tower, comma-separated (default: every "
        "column but the item's).",
        convert=_names,
        check=_text_list,
        metavar="COLUMN,...",
        factory=list,
    )
    holdout: str = option(
        "leave-last-out", help="[recommend] leave-last-out (each customer's last event tests) or time (one cut).",
        check=one_of(*HOLDOUTS),
    )  # fmt: skip
    k: int = option(
        10, help="[recommend] The length of the lists the metrics judge.", check=whole(1), flag=("--k", "-k")
    )
    holdout_share: float = option(
        0.1, help="[recommend] With --holdout time: the share of events after the test cut (and before it, the "
        "validation cut's).", check=number(0.0, strict=True, high=0.5),
    )  # fmt: skip
