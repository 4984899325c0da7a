"""RunOptions: how a training run splits, compares and reports, declared once; TuneOptions: what a
search adds to them.

``needmap train`` and :func:`needmap.workflows.train.run_train` take RunOptions; ``needmap tune`` and
:func:`needmap.workflows.tune.run_tune` take the split options among them, ``cv`` and TuneOptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from needmap.declare import Options, boolean, number, one_of, option, optional, text, whole

SPLITS: tuple[str, ...] = ("stratified", "random", "time", "cutoff")
CALIBRATIONS: tuple[str, ...] = ("isotonic", "platt")
#: How a trained model's scorer is chosen (:mod:`needmap.workflows.selection`).
SELECTIONS: tuple[str, ...] = ("auto", "network", "lightgbm", "linear", "blend")


def _share_below_one(value: Any) -> str | None:
    return number(0.0, strict=True)(value) or (None if value < 1 else "a share above 0 and below 1")


@dataclass
class RunOptions(Options):
    """The held-out split, the baselines, cross-validation, the profit curve and tracking."""

    kind: ClassVar[str] = "run"

    test_size: float = option(0.2, help="Share of rows held out for the test metrics.", check=_share_below_one)
    split: str | None = option(
        None,
        help="How the test rows are chosen: stratified, random, time, or cutoff (the rows of the latest cutoff of a "
        "table built from an event log). Default: cutoff for such a table, else stratified.",
        check=optional(one_of(*SPLITS)),
    )
    time_column: str | None = option(
        None, help="Column ordering rows in time (for split time).", check=optional(text), metavar="COLUMN"
    )
    validation: float = option(0.1, help="Share of the training rows kept for early stopping.", check=_share_below_one)
    baseline: bool = option(
        True, help="Train logistic regression and LightGBM beside the network, on the same rows.", check=boolean
    )
    baseline_rows: int | None = option(
        None,
        help="Most training rows the baselines fit on: a random sample of them, its size stated in metrics.json. "
        "Default: every training row, or 1,000,000 when a large Parquet file is streamed (--stream).",
        check=optional(whole(100)),
        metavar="ROWS",
    )
    stream: bool | None = option(
        None,
        help="Read a Parquet file in parts instead of whole: the network trains from the file, the baselines on a "
        "sample of the training rows (--baseline-rows), so memory stays flat as the file grows. Default: on for a "
        "Parquet file of at least 2,000,000 rows; --no-stream reads it whole.",
        check=optional(boolean),
        flag="--stream/--no-stream",
    )
    select: str = option(
        "auto",
        help="The scorer the model answers with, chosen on the validation rows: auto (the best there), network, "
        "lightgbm, linear or blend (the network with LightGBM).",
        check=one_of(*SELECTIONS),
    )
    cv: int | None = option(
        None,
        help="Cross-validate the training part with this many folds: train adds them to metrics.json, tune "
        "scores each trial by their mean.",
        check=optional(whole(2)),
        metavar="FOLDS",
    )
    contact_cost: float = option(1.0, help="Cost of contacting one customer, for the profit curve.", check=number())
    conversion_value: float = option(10.0, help="Value of one conversion, for the profit curve.", check=number())
    group_column: str | None = option(
        None,
        help="Column grouping rows (e.g. customer id) for the group AUC.",
        check=optional(text),
        metavar="COLUMN",
    )
    track: str | None = option(
        None,
        help="Log the run to MLflow: a folder (e.g. mlruns) or a tracking server URL (needs needmap[mlflow]).",
        check=optional(text),
        metavar="URI",
    )


@dataclass
class ModelOptions(Options):
    """Options of the Model itself, beside its architecture, columns, preprocessing, network and training."""

    kind: ClassVar[str] = "model"

    calibrate: str | None = option(
        None,
        help="Recalibrate a binary model's probabilities on the validation rows: isotonic or platt.",
        check=optional(one_of(*CALIBRATIONS)),
    )


@dataclass
class TuneOptions(Options):
    """Options of a search (``needmap tune``) beside the run options it shares with training."""

    kind: ClassVar[str] = "tuning"

    tune_lightgbm: bool = option(
        True,
        help="With --cv, also tune LightGBM with as many trials on the same folds and report its best beside the "
        "network's.",
        check=boolean,
    )
