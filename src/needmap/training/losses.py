"""The loss of each task, with class weights."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from needmap.errors import ConfigError


def class_weights(task: str, class_weight: str | float | None, y: np.ndarray, n_classes: int) -> torch.Tensor | None:
    """Weights that the loss gives to the classes, from the option and the training labels.

    Binary: a tensor ``[1]`` (BCE ``pos_weight``): n_negative / n_positive for 'balanced', the number
    itself for a float. Multiclass: a tensor ``[K]`` of n / (K * n_k) for 'balanced' (0 for a class
    with no rows). None when ``class_weight`` is None. ``y``: int labels ``[n]``.
    """
    if class_weight is None:
        return None
    if task == "regression":
        raise ConfigError(f"class_weight is {class_weight!r} but the task is regression; expected None.")
    if task == "binary":
        if class_weight == "balanced":
            positives = int(y.sum())
            return torch.tensor([(len(y) - positives) / positives], dtype=torch.float32)
        return torch.tensor([float(class_weight)], dtype=torch.float32)
    if class_weight != "balanced":
        raise ConfigError(
            f"class_weight is {class_weight!r} for a multiclass task; expected None or 'balanced' "
            "(a number sets the positive-class weight of binary tasks only)."
        )
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def make_loss(task: str, weights: torch.Tensor | None) -> nn.Module:
    """The mean loss over a batch: BCEWithLogits (binary), CrossEntropy (multiclass), MSE (regression).

    Binary: logits ``[B]`` vs float targets ``[B]``; multiclass: logits ``[B, K]`` vs int64
    targets ``[B]``; regression: outputs ``[B]`` vs standardized float targets ``[B]``.
    """
    if task == "binary":
        return nn.BCEWithLogitsLoss(pos_weight=weights)
    if task == "multiclass":
        return nn.CrossEntropyLoss(weight=weights)
    return nn.MSELoss()
