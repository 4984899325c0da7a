"""What a head trains and scores with, by its task: a registry of head kinds.

A head (:class:`needmap.schema.Head`) names its task; the task's :class:`HeadKind` says which
validation metrics it can monitor (and which way is better), the loss it trains with, whether its
target is standardized, how its raw outputs become scores and its metrics. The trainer
(:class:`~needmap.training.trainer.Trainer`, :class:`~needmap.training.target_heads.TargetHeads`) looks a
head's kind up here, so a new kind of head is one :func:`register_head_kind` call, not a new branch
in the training code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.metrics import binary_metrics, ltv_metrics, multiclass_metrics, regression_metrics
from needmap.training.config import DEFAULT_MONITOR, MONITORS
from needmap.training.losses import class_weights, make_loss
from needmap.training.ziln import ziln_loss, ziln_offsets, ziln_scores

Scaling = Mapping[str, Any] | None


@dataclass(frozen=True)
class HeadKind:
    """How a head of one task trains and scores.

    Attributes:
        task: the task name heads refer to ('binary', 'multiclass', 'regression', ...).
        monitors: the validation metrics the head can be watched by, each with its direction ('max'/'min').
        default_monitor: the one watched when the training options name none that applies.
        loss: ``(labels [n], class_weight, n_outputs, reduction) -> module``: the loss of the head's
            outputs (``[B]`` for one output, ``[B, K]`` for K) against its targets ``[B]``; ``reduction``
            is 'mean' for a head trained alone, 'none' (a loss per row) for one of several.
        scores: ``(raw float64 [n, k], scaling) -> scores``: the head's outputs as probabilities or
            values in the target's units (``[n]`` for one output column).
        metrics: ``(y [n], scores) -> dict``: the head's metrics, the monitors among them.
        standardized: the head learns ``(y - mean) / std`` of the training rows (``scaling`` undoes it).
        labels: 'binary' (0/1), 'classes' (class indices) or 'values' (numbers): what targets are.
        with_others: whether the head can be one of several heads of a model (one output column).
        valid_scores: the scores the trainer computes the validation metrics from (``raw`` a torch
            tensor); :attr:`scores` of the float64 numpy outputs when None.
        weighting: ``(labels [n], class_weight) -> scaling``: what :attr:`scores` needs to undo the shift that
            training with ``class_weight`` puts in the head's probabilities (saved as the head's scaling, as a
            standardized head's mean and std are); None (the default, or its result): nothing to undo. A kind
            may also keep here what its loss was built with from the same labels (the lifetime-value head's
            offsets), so that its scores read the outputs as the loss trained them.
        width: the network outputs of a head of this kind when its labels are not classes (the lifetime-value
            head has 3); a 'classes' head has one per class.
        nonnegative: the targets must be >= 0 (a spend).
    """

    task: str
    monitors: Mapping[str, str]
    default_monitor: str
    loss: Callable[[np.ndarray, Any, int, str], nn.Module]
    scores: Callable[[np.ndarray, Scaling], np.ndarray]
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, Any]]
    standardized: bool = False
    labels: str = "values"
    with_others: bool = True
    valid_scores: Callable[[torch.Tensor, Scaling], np.ndarray] | None = None
    weighting: Callable[[np.ndarray, Any], Scaling] | None = None
    width: int = 1
    nonnegative: bool = False

    def monitor_for(self, monitor: str | None) -> tuple[str, str]:
        """``monitor`` (the kind's default when None) and its direction; ConfigError when it does not apply."""
        name = monitor or self.default_monitor
        if name not in self.monitors:
            raise ConfigError(
                f"monitor {name!r} does not apply to {self.task} tasks; expected one of {', '.join(self.monitors)}."
            )
        return name, self.monitors[name]

    def validation_scores(self, raw: torch.Tensor, scaling: Scaling) -> np.ndarray:
        """The scores of raw validation outputs ``[n, k]`` as the trainer computes them."""
        if self.valid_scores is not None:
            return self.valid_scores(raw, scaling)
        return self.scores(raw.double().numpy(), scaling)


_KINDS: dict[str, HeadKind] = {}


def register_head_kind(kind: HeadKind) -> None:
    """Make heads of ``kind.task`` trainable (replacing a kind of that task registered before)."""
    _KINDS[kind.task] = kind


def head_kind(task: str) -> HeadKind:
    """The kind of heads of ``task``; ConfigError naming the known tasks for another."""
    if task not in _KINDS:
        raise ConfigError(f"unknown task {task!r}; expected one of {', '.join(_KINDS)}.")
    return _KINDS[task]


def head_tasks() -> tuple[str, ...]:
    """The tasks of the registered head kinds."""
    return tuple(_KINDS)


# -- the built-in kinds ---------------------------------------------------------------------------------
def _unscale(values: np.ndarray, scaling: Scaling) -> np.ndarray:
    pair = scaling or {"mean": 0.0, "std": 1.0}
    return values * float(pair["std"]) + float(pair["mean"])


def _binary_loss(labels: np.ndarray, class_weight: Any, n_outputs: int, reduction: str) -> nn.Module:
    weights = class_weights("binary", class_weight, labels.astype(np.int64), 2)
    return nn.BCEWithLogitsLoss(pos_weight=weights, reduction=reduction)


def _binary_weighting(labels: np.ndarray, class_weight: Any) -> Scaling:
    """``{"pos_weight": w}``, the weight the loss gave the positives (:func:`class_weights`), None without one.

    A loss that counts each positive w times is minimized by ``p = w q / (w q + 1 - q)`` where q is the true
    probability: the logit is shifted by ``log w`` (the prior shift of case-control sampling; at a balanced
    weight on 2% positives every probability is about 49 times too high on the odds scale).
    :func:`_binary_probability` subtracts ``log w`` again, so the head's scores estimate q: the prior
    correction ``p' = p / (p + (1 - p) w)``, which leaves the ranking (AUC) as it is.
    """
    weights = class_weights("binary", class_weight, labels.astype(np.int64), 2)
    return None if weights is None else {"pos_weight": float(weights[0])}


def _log_weight(scaling: Scaling) -> float:
    return math.log(float(scaling["pos_weight"])) if scaling and "pos_weight" in scaling else 0.0


def _binary_probability(raw: np.ndarray, scaling: Scaling) -> np.ndarray:
    """P(positive) of logits ``raw[:, 0]``, corrected for the positives' weight in training (``scaling``)."""
    return 1.0 / (1.0 + np.exp(-(raw[:, 0] - _log_weight(scaling))))


def _multiclass_loss(labels: np.ndarray, class_weight: Any, n_outputs: int, reduction: str) -> nn.Module:
    weights = class_weights("multiclass", class_weight, labels, n_outputs)
    return nn.CrossEntropyLoss(weight=weights, reduction=reduction)


def _regression_loss(labels: np.ndarray, class_weight: Any, n_outputs: int, reduction: str) -> nn.Module:
    if reduction == "mean":  # a regression head of several ignores the classification option
        class_weights("regression", class_weight, labels, 1)
        return make_loss("regression", None)
    return nn.MSELoss(reduction=reduction)


def _multiclass_weighting(labels: np.ndarray, class_weight: Any) -> Scaling:
    """``{"class_weights": [w_0, ..., w_K-1]}``, the loss's weight of each class, None without class weights.

    A cross-entropy that counts each row of class k w_k times is minimized by ``p_k = w_k q_k / sum_j w_j q_j``
    where q is the true distribution: each logit is shifted by ``log w_k``, so a balanced weight makes the rare
    classes' probabilities too high by the ratio of their weights. :func:`_softmax` subtracts ``log w_k``
    again (the multiclass prior correction ``q_k = (p_k / w_k) / sum_j p_j / w_j``); a class with no training
    rows (weight 0) is left as it is. The weights are computed over the classes up to the labels' largest; the
    loss's, over the head's width, differ from them by one factor for every class, which the correction ignores.
    """
    if class_weight is None:
        return None
    n_classes = int(labels.max()) + 1 if len(labels) else 1
    weights = class_weights("multiclass", class_weight, labels, n_classes)
    return None if weights is None else {"class_weights": [float(w) for w in weights]}


def _log_weights(scaling: Scaling, width: int) -> np.ndarray:
    """``log w_k`` per output column from a multiclass head's scaling (0 for a class without a weight)."""
    shift = np.zeros(width)
    if scaling and "class_weights" in scaling:
        weights = np.asarray(scaling["class_weights"], dtype=np.float64)[:width]
        shift[: len(weights)] = np.log(np.where(weights > 0, weights, 1.0))
    return shift


def _softmax(raw: np.ndarray, scaling: Scaling) -> np.ndarray:
    """Class probabilities of logits ``raw [n, K]``, corrected for the classes' weights in training."""
    z = raw - _log_weights(scaling, raw.shape[1])
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


register_head_kind(
    HeadKind(
        task="binary",
        monitors=MONITORS["binary"],
        default_monitor=DEFAULT_MONITOR["binary"],
        loss=_binary_loss,
        scores=_binary_probability,
        metrics=binary_metrics,
        labels="binary",
        valid_scores=lambda raw, scaling: torch.sigmoid(raw.double()[:, 0] - _log_weight(scaling)).numpy(),
        weighting=_binary_weighting,
    )
)
register_head_kind(
    HeadKind(
        task="regression",
        monitors=MONITORS["regression"],
        default_monitor=DEFAULT_MONITOR["regression"],
        loss=_regression_loss,
        scores=lambda raw, scaling: _unscale(raw[:, 0], scaling),
        metrics=regression_metrics,
        standardized=True,
        valid_scores=lambda raw, scaling: _unscale(raw[:, 0].double().numpy(), scaling),
    )
)
register_head_kind(
    HeadKind(
        task="multiclass",
        monitors=MONITORS["multiclass"],
        default_monitor=DEFAULT_MONITOR["multiclass"],
        loss=_multiclass_loss,
        scores=_softmax,
        metrics=multiclass_metrics,
        labels="classes",
        with_others=False,
        valid_scores=lambda raw, scaling: _softmax(raw.double().numpy(), scaling),
        weighting=_multiclass_weighting,
    )
)
register_head_kind(
    HeadKind(
        task="ltv",
        monitors=MONITORS["ltv"],
        default_monitor=DEFAULT_MONITOR["ltv"],
        loss=ziln_loss,
        scores=ziln_scores,
        metrics=ltv_metrics,
        labels="values",
        with_others=False,
        weighting=lambda labels, class_weight: ziln_offsets(labels),
        width=3,
        nonnegative=True,
    )
)
