"""The heads a network is trained for: one per target, one loss per head, one monitor over all of them.

A network's outputs are its heads' outputs side by side: one column for a binary head (a logit) or a
regression head (a standardized value), K columns for a multiclass head of K classes (which is always a
model's only head). A model of one target has one head; nothing below depends on how many there are.

The training loss is ``sum_t w_t * loss_t`` with the ``task_weights`` of the config (1 each by default).
A row may lack some targets (NaN in ``y``, e.g. a conversion not known for every visit) but not all of them:
``loss_t`` is the mean over the batch's rows that have target t, and a row without it teaches only the other
heads. Validation metrics are computed per head over the rows that have that target; early stopping and the
'plateau' schedule watch the combined monitor (:meth:`TargetHeads.combine`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from needmap.errors import ConfigError, DataError
from needmap.training.config import TrainConfig
from needmap.training.heads import head_kind, head_tasks

# Errors in target units that the combined monitor divides by the target's training std.
_UNIT_METRICS = ("rmse", "mae")
_NOT_LOGGED = ("n", "note", "positive_rate", "threshold", "rows_without_target")

Scaling = dict[str, Any] | None


@dataclass
class TrainedHead:
    """How one head trains: its target name, task, output columns, monitored metric, loss weight, the
    standardization of its target and what its scores undo of the class weights (``weighting``, from its kind's
    :attr:`~needmap.training.heads.HeadKind.weighting`; the column and task it describes are a
    :class:`needmap.schema.Head`)."""

    name: str
    task: str
    width: int
    monitor: str
    direction: str
    weight: float = 1.0
    mean: float = 0.0
    std: float = 1.0
    complete: bool = True
    weighting: Scaling = None


def head_outputs(raw: np.ndarray, tasks: Sequence[str], scaling: Sequence[Scaling] | None) -> np.ndarray:
    """Raw outputs ``[n, T]`` of heads of one column each as float64 ``[n, T]``: column t as the scores of
    target t's head kind (:mod:`needmap.training.heads`): P(positive) (sigmoid) for a binary task,
    ``raw * std + mean`` in the target's units for a regression task (``scaling[t]`` = ``{"mean", "std"}``;
    identity when None)."""
    values = np.asarray(raw, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(tasks):
        raise ValueError(f"raw outputs have shape {values.shape}; expected [n, {len(tasks)}]")
    out = np.empty_like(values)
    for t, task in enumerate(tasks):
        pair = scaling[t] if scaling is not None else None
        out[:, t] = head_kind(task).scores(values[:, t : t + 1], pair)
    return out


def labelled_values(y: np.ndarray, t: int) -> np.ndarray:
    """The values ``[m]`` of target t in targets ``[n, T]`` where the row has one (not NaN)."""
    return y[~np.isnan(y[:, t]), t]


def labelled_metrics(task: str, y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """Metrics of one head over the rows whose target ``y`` ``[n]`` is not NaN, with ``rows_without_target``,
    the rows left out; ``scores`` ``[n]`` (``[n, K]`` for a multiclass head) as the head's kind gives them."""
    kind = head_kind(task)
    y = np.asarray(y, dtype=np.float64)
    labelled = ~np.isnan(y)
    values = y[labelled] if kind.labels == "values" else y[labelled].astype(np.int64)
    metrics = kind.metrics(values, scores if labelled.all() else np.asarray(scores)[labelled])
    metrics["rows_without_target"] = int((~labelled).sum())
    return metrics


def _resolve_weights(weights: Sequence[float] | Mapping[str, float] | None, names: Sequence[str]) -> list[float]:
    if weights is None:
        return [1.0] * len(names)
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise ConfigError(
                f"task_weights names {', '.join(map(repr, unknown))}; expected some of the targets {', '.join(names)}."
            )
        return [float(weights.get(name, 1.0)) for name in names]
    values = [float(w) for w in weights]
    if len(values) != len(names):
        raise ConfigError(
            f"task_weights has {len(values)} weights; expected one per target ({len(names)}: {', '.join(names)})."
        )
    return values


def _bad_labels(kind_labels: str, column: np.ndarray, width: int, nonnegative: bool = False) -> tuple[np.ndarray, str]:
    """The mask of values in ``column`` (no NaN) that a head whose targets are ``kind_labels`` cannot take,
    and what it expects (``nonnegative``: numbers >= 0, a spend)."""
    if kind_labels == "binary":
        return ~np.isin(column, (0.0, 1.0)), "0 or 1"
    if kind_labels == "classes":
        bad = (column != np.round(column)) | (column < 0) | (column >= width)
        return bad, f"class indices 0 to {width - 1}"
    if nonnegative:
        return column < 0, "numbers >= 0"
    return np.zeros(len(column), dtype=bool), "numbers"


class TargetHeads:
    """The heads of a network and how they are trained and monitored.

    Args:
        tasks: the task of each head (T >= 1 heads; a task of :func:`needmap.training.heads.head_tasks`).
        names: the target name of each head (default ``task_0``, ``task_1``, ...).
        config: the training options (``monitor``, ``task_weights``, ``class_weight``).
        n_outputs: the network's number of outputs; must be the heads' widths summed.

    The monitored metric of a head is ``config.monitor`` where it applies to the head's task, its task's default
    otherwise. The combined monitor is the mean over heads: named after the metric when every head watches the
    same one (``mean_<metric>`` when there are several heads; with that metric's direction; errors in target
    units, rmse and mae, are divided by the target's training std first, so targets of different scales weigh
    alike), else ``mean_score``, higher is better, with the metrics to minimize negated.
    """

    def __init__(
        self, tasks: Sequence[str], names: Sequence[str] | None, config: TrainConfig, n_outputs: int | None
    ) -> None:
        tasks = list(tasks)
        names = list(names) if names is not None else [f"task_{t}" for t in range(len(tasks))]
        if not tasks:
            raise ConfigError("a model needs at least one target head; none was given.")
        unknown = [t for t in tasks if t not in head_tasks()]
        if unknown:
            raise ConfigError(f"unknown task {unknown[0]!r}; expected one of {', '.join(head_tasks())}.")
        alone = [t for t in tasks if not head_kind(t).with_others]
        if alone and len(tasks) > 1:
            several = [t for t in head_tasks() if head_kind(t).with_others]
            raise ConfigError(
                f"the tasks are {tasks}; each head of a model of several targets must be one of {', '.join(several)}.",
                hint=f"A {alone[0]} target can only be trained alone.",
            )
        if len(names) != len(tasks) or len(set(names)) != len(names):
            raise ConfigError(
                f"the target names {names} do not match the {len(tasks)} tasks; expected one distinct name each."
            )
        widths = [n_outputs if head_kind(t).labels == "classes" else head_kind(t).width for t in tasks]
        classes = [t for t in tasks if head_kind(t).labels == "classes"]
        if classes and (n_outputs is None or n_outputs < 2):
            raise ConfigError(
                f"a {classes[0]} task needs a model with one output per class (>= 2); it has {n_outputs}."
            )
        if n_outputs != sum(widths):
            raise ConfigError(
                f"the tasks {', '.join(tasks)} ({', '.join(names)}) need a model with {sum(widths)} "
                f"{'output' if sum(widths) == 1 else 'outputs'}, one per target; this model has {n_outputs}."
            )
        if config.monitor is not None and not any(config.monitor in head_kind(t).monitors for t in tasks):
            choices = sorted({m for t in tasks for m in head_kind(t).monitors})
            raise ConfigError(
                f"monitor {config.monitor!r} does not apply to {' or '.join(sorted(set(tasks)))} tasks; "
                f"expected one of {', '.join(choices)}."
            )
        weights = _resolve_weights(config.task_weights, names)
        self.heads: list[TrainedHead] = []
        for name, task, width, weight in zip(names, tasks, widths, weights, strict=True):
            kind = head_kind(task)
            metric = config.monitor if config.monitor in kind.monitors else kind.default_monitor
            self.heads.append(TrainedHead(name, task, width, metric, kind.monitors[metric], weight))
        self.config = config
        self.prefixed = len(self.heads) > 1  # naming only: history keys carry the target's name among several
        metrics = {(h.monitor, h.direction) for h in self.heads}
        if len(metrics) == 1:
            metric, direction = metrics.pop()
            self.monitor, self.direction = (f"mean_{metric}" if self.prefixed else metric), direction
        else:
            self.monitor, self.direction = "mean_score", "max"
        self.loss_fns: list[nn.Module] = []

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.heads]

    def _columns(self) -> list[slice]:
        starts = np.cumsum([0] + [h.width for h in self.heads])
        return [slice(int(a), int(b)) for a, b in itertools.pairwise(starts)]

    # -- targets -----------------------------------------------------------------------------------
    def labels(self, y: np.ndarray, what: str) -> np.ndarray:
        """Check targets ``[n, T]`` (``[n]`` for one head) and return them as float64 ``[n, T]``: per head its
        kind's values (0/1, class indices, finite numbers) or NaN where a row lacks that target; every row
        needs at least one target and every target at least one row."""
        array = np.asarray(y)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[1] != len(self.heads):
            raise DataError(
                f"{what} has shape {np.asarray(y).shape}; expected [rows, {len(self.heads)}]: one column per target "
                f"({', '.join(self.names)})."
            )
        if array.dtype == bool:
            array = array.astype(np.int64)
        if not np.issubdtype(array.dtype, np.number):
            raise DataError(f"{what} has dtype {array.dtype}; expected numbers.")
        values = array.astype(np.float64)
        for t, head in enumerate(self.heads):
            column = values[:, t]
            if np.isinf(column).any():
                raise DataError(
                    f"{what} holds {int(np.isinf(column).sum())} infinite values for the target '{head.name}'; "
                    "expected finite numbers (NaN where a row lacks the target)."
                )
            present = np.flatnonzero(~np.isnan(column))
            column = column[present]
            if column.size == 0 and len(values):
                raise DataError(f"{what} has no row with a value for the target '{head.name}'; expected at least one.")
            kind = head_kind(head.task)
            bad, expected = _bad_labels(kind.labels, column, head.width, kind.nonnegative)
            if bad.any():
                raise DataError(
                    f"{what} holds {int(bad.sum())} values that are not {expected} for the {head.task} target "
                    f"'{head.name}' (first: {float(column[bad][0])!r} in row {int(present[bad][0])}, counting from 0); "
                    f"expected {expected} in every row that has the target."
                )
        without_any = np.isnan(values).all(axis=1)
        if without_any.any():
            raise DataError(
                f"{what} has {int(without_any.sum())} rows without a value for any target (NaN); expected "
                f"{'a value' if len(self.heads) == 1 else 'a value for at least one target'} in every row."
            )
        return values

    def check_training_labels(self, y: np.ndarray) -> None:
        """DataError when a binary head sees one class only in the training rows."""
        for t, head in enumerate(self.heads):
            labelled = labelled_values(y, t)
            if head_kind(head.task).labels == "binary" and len(np.unique(labelled)) < 2:
                raise DataError(
                    f"the training rows hold only the class {int(labelled[0])} of the target '{head.name}'; "
                    "a binary head needs both classes."
                )

    def target_tensor(self, y: np.ndarray) -> torch.Tensor:
        """float32 ``[n, T]`` from checked targets: standardized heads' targets with the training mean/std of the
        rows that have the target, the others as they are; NaN stays NaN. Records which heads have every row and
        what each head's scores undo of ``class_weight`` (its kind's weighting of the rows that have the target)."""
        out = y.copy()
        for t, head in enumerate(self.heads):
            labelled = labelled_values(y, t)
            head.complete = len(labelled) == len(y)
            kind = head_kind(head.task)
            if kind.weighting is not None:
                labels = labelled if kind.labels == "values" else labelled.astype(np.int64)
                head.weighting = kind.weighting(labels, self.config.class_weight)
            if kind.standardized:
                mean, std = float(labelled.mean()), float(labelled.std())
                head.mean, head.std = mean, (std if std > 0 else 1.0)
                out[:, t] = (y[:, t] - head.mean) / head.std
        return torch.from_numpy(out.astype(np.float32))

    def scaling(self) -> list[Scaling]:
        """Per head: ``{"mean", "std"}`` of a standardized target; for the others what their scores undo of the
        class weights (a binary head trained with ``class_weight``: ``{"pos_weight": w}``), else None."""
        return [{"mean": h.mean, "std": h.std} if head_kind(h.task).standardized else h.weighting for h in self.heads]

    # -- loss --------------------------------------------------------------------------------------
    def make_losses(self, y: np.ndarray, device: torch.device | str = "cpu") -> None:
        """Build each head's loss on ``device``, its kind's loss from the rows that have the target (for example
        ``class_weight`` as a binary head's pos_weight): the batch mean for a head whose target every training
        row has, a loss per row (averaged over the rows that have the target) for the others."""
        self.loss_fns = []
        for t, head in enumerate(self.heads):
            kind = head_kind(head.task)
            labels = labelled_values(y, t)
            labels = labels if kind.labels == "values" else labels.astype(np.int64)
            reduction = "mean" if head.complete else "none"
            self.loss_fns.append(kind.loss(labels, self.config.class_weight, head.width, reduction).to(device))
        self._weights = torch.tensor([h.weight for h in self.heads], dtype=torch.float32, device=device)

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(``sum_t w_t * loss_t``, the per-head losses ``[T]``) for outputs ``[B, n_outputs]`` and targets
        ``[B, T]``; ``loss_t`` is the mean over the rows whose target t is not NaN (0 when the batch has none)."""
        parts = []
        for t, (fn, head, cols) in enumerate(zip(self.loss_fns, self.heads, self._columns(), strict=True)):
            values = out[:, cols] if head.width > 1 else out[:, cols.start]
            column = target[:, t].long() if head_kind(head.task).labels == "classes" else target[:, t]
            if head.complete:
                parts.append(fn(values, column))
            else:
                labelled = ~torch.isnan(column)
                per_row = fn(values, torch.nan_to_num(column))  # NaN rows are masked out below
                parts.append((per_row * labelled).sum() / labelled.sum().clamp(min=1))
        stacked = torch.stack(parts)
        return (stacked * self._weights.to(stacked.dtype)).sum(), stacked

    # -- metrics -----------------------------------------------------------------------------------
    def metrics(self, raw: torch.Tensor, y: np.ndarray) -> dict[str, dict[str, Any]]:
        """Per target name, its head's metrics from raw outputs ``[n, n_outputs]`` and targets ``[n, T]``
        (original units), over the rows that have the target, from the scores its kind computes on validation
        outputs."""
        scaling = self.scaling()
        return {
            head.name: labelled_metrics(
                head.task, y[:, t], head_kind(head.task).validation_scores(raw[:, cols], scaling[t])
            )
            for t, (head, cols) in enumerate(zip(self.heads, self._columns(), strict=True))
        }

    def combine(self, per_head: Mapping[str, Mapping[str, Any]]) -> float:
        """The combined monitor from each head's metrics, by target name (see the class docstring)."""
        scores = []
        same = self.monitor != "mean_score"
        for head in self.heads:
            value = float(per_head[head.name][head.monitor])
            if self.prefixed and head_kind(head.task).standardized and head.monitor in _UNIT_METRICS:
                value /= head.std
            if not same and head.direction == "min":
                value = -value
            scores.append(value)
        return float(np.mean(scores))

    def log_entry(self, per_head: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """History keys ``valid_<metric>`` per head (``valid_<target>_<metric>`` among several heads) and
        ``valid_<combined monitor>``."""
        entry = {
            f"valid_{self._prefix(head)}{key}": value
            for head in self.heads
            for key, value in per_head[head.name].items()
            if key not in _NOT_LOGGED
        }
        entry[f"valid_{self.monitor}"] = self.combine(per_head)
        return entry

    def loss_entry(self, totals: Sequence[float]) -> dict[str, float]:
        """History keys ``loss_<target>`` (each head's mean training loss, before the task weights) among several
        heads; none for one head, whose loss is the training loss."""
        return {f"loss_{h.name}": float(v) for h, v in zip(self.heads, totals, strict=True) if self.prefixed}

    def _prefix(self, head: TrainedHead) -> str:
        return f"{head.name}_" if self.prefixed else ""

    def check_defined(self, y_valid: np.ndarray) -> None:
        """DataError when a head's monitored metric is undefined on the validation rows (e.g. one class)."""
        for t, head in enumerate(self.heads):
            # The distinct values decide whether a metric is defined (one class, one value), not their counts:
            # the trial runs on those, a few rows, rather than on every validation row.
            labelled = np.unique(labelled_values(y_valid, t))
            kind = head_kind(head.task)
            if kind.labels == "classes":
                labelled = labelled.astype(np.int64)
            trial = kind.metrics(labelled, kind.scores(np.zeros((len(labelled), head.width)), None))
            if trial[head.monitor] is None:
                raise DataError(
                    f"the monitored validation metric {head.monitor!r} of the target '{head.name}' is undefined on "
                    f"the validation rows: {trial.get('note', '')}",
                    hint="Use a larger or stratified validation split, or another monitor.",
                )
