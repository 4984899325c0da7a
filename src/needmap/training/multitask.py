"""Multi-task training: one head (output column) per target, one loss per head, one combined monitor.

A multi-task model returns ``[B, T]``: column t is a logit (binary head) or a standardized value
(regression head) for target t. The training loss is ``sum_t w_t * loss_t`` with the
``task_weights`` of the config. A row may lack some targets (NaN in ``y``, e.g. a conversion not
known for every visit): ``loss_t`` is the mean over the batch's rows that have target t, and a row
without it teaches only the other heads. Validation metrics are computed per head, over the rows
that have that target, and logged as
``valid_<target>_<metric>``; early stopping and the 'plateau' schedule watch the combined monitor
(:meth:`MultiTask.combine`).
"""

from __future__ import annotations

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
_NOT_LOGGED = ("n", "note", "positive_rate", "rows_without_target")


@dataclass
class TrainedHead:
    """How one head of a multi-task model trains: its target name, task, monitored metric, loss weight and the
    standardization of its target (the column and task it describes are a :class:`needmap.schema.Head`)."""

    name: str
    task: str
    monitor: str
    direction: str
    weight: float = 1.0
    mean: float = 0.0
    std: float = 1.0


def head_outputs(
    raw: np.ndarray, tasks: Sequence[str], scaling: Sequence[Mapping[str, float] | None] | None
) -> np.ndarray:
    """Raw outputs ``[n, T]`` of a multi-task model as float64 ``[n, T]``: column t as the scores of
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
    """Metrics of one head (``task`` 'binary' or 'regression') over the rows whose target ``y`` ``[n]``
    is not NaN, with ``rows_without_target``, the rows left out; ``scores`` ``[n]`` as :func:`head_outputs`."""
    y = np.asarray(y, dtype=np.float64)
    labelled = ~np.isnan(y)
    metrics = head_kind(task).metrics(y[labelled], np.asarray(scores)[labelled])
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


class MultiTask:
    """The heads of a multi-task model and how they are trained and monitored.

    Args:
        tasks: the task of each head, 'binary' or 'regression' (T >= 1 heads).
        names: the target name of each head (default ``task_0``, ``task_1``, ...).
        config: the training options (``monitor``, ``task_weights``, ``class_weight``).
        n_outputs: the model's number of outputs; must equal T.

    The monitored metric of a head is ``config.monitor`` where it applies to the head's task, its
    task's default otherwise ('auc' binary, 'rmse' regression). The combined monitor is the mean
    over heads: named ``mean_<metric>`` when every head watches the same metric (with that metric's
    direction; errors in target units, rmse and mae, are divided by the target's training std
    first, so targets of different scales weigh alike), else ``mean_score``, higher is better, with
    the metrics to minimize negated.
    """

    def __init__(
        self, tasks: Sequence[str], names: Sequence[str] | None, config: TrainConfig, n_outputs: int | None
    ) -> None:
        tasks = list(tasks)
        names = list(names) if names is not None else [f"task_{t}" for t in range(len(tasks))]
        if not tasks:
            raise ConfigError("a multi-task model needs at least one task; none was given.")
        several = [t for t in head_tasks() if head_kind(t).with_others]
        bad = [t for t in tasks if t not in several]
        if bad:
            raise ConfigError(
                f"the tasks are {tasks}; each head of a multi-task model must be one of {', '.join(several)}.",
                hint="A multiclass target can only be trained alone.",
            )
        if len(names) != len(tasks) or len(set(names)) != len(names):
            raise ConfigError(
                f"the target names {names} do not match the {len(tasks)} tasks; expected one distinct name each."
            )
        if n_outputs != len(tasks):
            raise ConfigError(
                f"{len(tasks)} tasks ({', '.join(names)}) need a model with {len(tasks)} outputs; "
                f"this one has {n_outputs}."
            )
        if config.monitor is not None and not any(config.monitor in head_kind(t).monitors for t in tasks):
            raise ConfigError(
                f"monitor {config.monitor!r} applies to none of the tasks {', '.join(sorted(set(tasks)))}."
            )
        weights = _resolve_weights(config.task_weights, names)
        self.heads: list[TrainedHead] = []
        for name, task, weight in zip(names, tasks, weights, strict=True):
            kind = head_kind(task)
            metric = config.monitor if config.monitor in kind.monitors else kind.default_monitor
            self.heads.append(TrainedHead(name, task, metric, kind.monitors[metric], weight))
        self.config = config
        metrics = {(h.monitor, h.direction) for h in self.heads}
        if len(metrics) == 1:
            metric, direction = metrics.pop()
            self.monitor, self.direction = f"mean_{metric}", direction
        else:
            self.monitor, self.direction = "mean_score", "max"
        self.loss_fns: list[nn.Module] = []

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.heads]

    # -- targets -----------------------------------------------------------------------------------
    def labels(self, y: np.ndarray, what: str) -> np.ndarray:
        """Check targets ``[n, T]`` (0/1 for binary heads, finite numbers, NaN where a row lacks that
        target; every target needs at least one row) and return them as float64."""
        array = np.asarray(y)
        if array.ndim != 2 or array.shape[1] != len(self.heads):
            raise DataError(
                f"{what} has shape {array.shape}; expected [rows, {len(self.heads)}]: one column per target "
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
            column = column[~np.isnan(column)]
            if column.size == 0:
                raise DataError(f"{what} has no row with a value for the target '{head.name}'; expected at least one.")
            if head_kind(head.task).labels == "binary" and not np.isin(column, (0.0, 1.0)).all():
                first = column[~np.isin(column, (0.0, 1.0))][0]
                raise DataError(
                    f"{what} holds {first!r} for the binary target '{head.name}'; expected 0 or 1 in every row."
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
        """float32 ``[n, T]``: binary heads as 0/1, regression heads standardized with the training mean/std
        (of the rows that have the target); NaN stays NaN."""
        out = y.copy()
        for t, head in enumerate(self.heads):
            if head_kind(head.task).standardized:
                mean, std = float(np.nanmean(y[:, t])), float(np.nanstd(y[:, t]))
                head.mean, head.std = mean, (std if std > 0 else 1.0)
                out[:, t] = (y[:, t] - head.mean) / head.std
        return torch.from_numpy(out.astype(np.float32))

    def scaling(self) -> list[dict[str, float] | None]:
        """Per head: ``{"mean", "std"}`` of a regression target's standardization, None for a binary head."""
        return [{"mean": h.mean, "std": h.std} if head_kind(h.task).standardized else None for h in self.heads]

    # -- loss --------------------------------------------------------------------------------------
    def make_losses(self, y: np.ndarray, device: torch.device | str = "cpu") -> None:
        """Build each head's per-row loss on ``device``, its kind's loss from the rows that have the target:
        BCEWithLogits (``class_weight`` as its pos_weight) for a binary head, squared error for regression."""
        self.loss_fns = [
            head_kind(head.task).loss(labelled_values(y, t), self.config.class_weight, 1, "none").to(device)
            for t, head in enumerate(self.heads)
        ]

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(``sum_t w_t * loss_t``, the per-head losses ``[T]``) for outputs and targets ``[B, T]``;
        ``loss_t`` is the mean over the rows whose target t is not NaN (0 when the batch has none)."""
        parts = []
        for t, fn in enumerate(self.loss_fns):
            labelled = ~torch.isnan(target[:, t])
            per_row = fn(out[:, t], torch.nan_to_num(target[:, t]))  # NaN rows are masked out below
            parts.append((per_row * labelled).sum() / labelled.sum().clamp(min=1))
        parts = torch.stack(parts)
        weights = torch.tensor([h.weight for h in self.heads], dtype=parts.dtype, device=parts.device)
        return (parts * weights).sum(), parts

    # -- metrics -----------------------------------------------------------------------------------
    def outputs(self, raw: torch.Tensor | np.ndarray) -> np.ndarray:
        """float64 ``[n, T]``: probabilities for binary heads, values in target units for regression heads."""
        values = raw.double().numpy() if isinstance(raw, torch.Tensor) else raw
        return head_outputs(values, [h.task for h in self.heads], self.scaling())

    def metrics(self, out: np.ndarray, y: np.ndarray) -> dict[str, dict[str, Any]]:
        """Per target name, its metrics from outputs ``[n, T]`` (see :meth:`outputs`) and targets ``[n, T]``,
        over the rows that have the target (:func:`labelled_metrics`)."""
        return {head.name: labelled_metrics(head.task, y[:, t], out[:, t]) for t, head in enumerate(self.heads)}

    def combine(self, per_head: Mapping[str, Mapping[str, Any]]) -> float:
        """The combined monitor from each head's metrics (see the class docstring)."""
        scores = []
        same = self.monitor != "mean_score"
        for head in self.heads:
            value = float(per_head[head.name][head.monitor])
            if head_kind(head.task).standardized and head.monitor in _UNIT_METRICS:
                value /= head.std
            if not same and head.direction == "min":
                value = -value
            scores.append(value)
        return float(np.mean(scores))

    def log_entry(self, per_head: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """History keys ``valid_<target>_<metric>`` and ``valid_<combined monitor>``."""
        entry = {
            f"valid_{name}_{key}": value
            for name, metrics in per_head.items()
            for key, value in metrics.items()
            if key not in _NOT_LOGGED
        }
        entry[f"valid_{self.monitor}"] = self.combine(per_head)
        return entry

    def check_defined(self, y_valid: np.ndarray) -> None:
        """DataError when a head's monitored metric is undefined on the validation rows (e.g. one class)."""
        for t, head in enumerate(self.heads):
            labelled = labelled_values(y_valid, t)
            kind = head_kind(head.task)
            trial = kind.metrics(labelled, kind.scores(np.zeros((len(labelled), 1)), None))
            if trial[head.monitor] is None:
                raise DataError(
                    f"the monitored validation metric {head.monitor!r} of the target '{head.name}' is undefined on "
                    f"the validation rows: {trial.get('note', '')}",
                    hint="Use a larger or stratified validation split, or another monitor.",
                )
