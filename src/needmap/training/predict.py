"""Predictions of a trained model on a FeatureBatch, in large batches without gradients."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.models.base import TabularModel
from needmap.models.inputs import Inputs
from needmap.preprocessing.batch import FeatureBatch
from needmap.runtime.malloc import keep_freed_memory

PREDICT_BATCH = 8192


def to_inputs(batch: FeatureBatch, *, keep_int32: bool = False) -> Inputs:
    """``batch`` as tensors: numeric float32 ``[n, n_num]``, categorical int64 ``[n, n_cat]``, lists.

    Shares memory with the arrays when they already have those dtypes and are contiguous (read-only
    arrays too: needmap never writes to these tensors). ``keep_int32``: int32 ids stay int32 (no
    copy; :meth:`Inputs.widened` makes a batch of them int64 for a model).
    """

    def ids(array: np.ndarray) -> torch.Tensor:
        dtype = np.int32 if keep_int32 and array.dtype == np.int32 else np.int64
        return torch.from_numpy(np.ascontiguousarray(array, dtype=dtype))

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        numeric = torch.from_numpy(np.ascontiguousarray(batch.numeric, dtype=np.float32))
        categorical = ids(batch.categorical)
        lists = tuple(ids(a) for a in batch.lists)
    return Inputs(numeric, categorical, lists)


def forward_in_batches(model: nn.Module, inputs: Inputs, batch_size: int = PREDICT_BATCH) -> torch.Tensor:
    """Model outputs ``[n, n_outputs]`` (float32, the model's own units, on the CPU) in eval mode.

    ``inputs`` must be on the model's device; int32 ids are made int64 a slice at a time. Runs under
    ``torch.inference_mode`` in slices of ``batch_size`` rows and puts the model back in the training mode it had.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size is {batch_size!r}; expected a positive integer.")
    if inputs.rows > batch_size:
        keep_freed_memory()  # large scoring runs allocate batch-sized blocks again and again
    was_training = model.training
    if was_training:  # eval() walks every submodule: skipped when the model is in eval mode already
        model.eval()
    # The outputs go into one tensor allocated with the first slice's, not a list of small ones joined at the end:
    # with freed memory kept in the heap, a small block left between each slice's freed temporaries keeps them
    # from being reused, and the process grew with every row scored.
    out = None
    try:
        with torch.inference_mode():
            for start in range(0, inputs.rows, batch_size):
                part = model(*inputs.slice(start, start + batch_size).widened())
                if out is None:
                    out = torch.empty((inputs.rows, *part.shape[1:]), dtype=part.dtype, device=part.device)
                out[start : start + len(part)] = part
                del part
    finally:
        if was_training:
            model.train()
    if out is None:
        return torch.empty((0, getattr(model, "n_outputs", 1)), dtype=torch.float32)
    return out.cpu()


def _mean_std(model: nn.Module, task: str | None, target_scaling: Any) -> tuple[float, float]:
    """(mean, std) that turn model outputs into target units: the identity for classifiers."""
    if task is not None and task != "regression":
        return 0.0, 1.0
    if target_scaling is None:
        buffer = getattr(model, "target_scaling", None)
        return (0.0, 1.0) if buffer is None else (float(buffer[0]), float(buffer[1]))
    try:
        if isinstance(target_scaling, Mapping):
            mean, std = float(target_scaling["mean"]), float(target_scaling["std"])
        else:
            mean, std = (float(v) for v in target_scaling)
    except (KeyError, TypeError, ValueError):
        mean, std = math.nan, math.nan
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        raise ConfigError(f"target_scaling is {target_scaling!r}; expected {{'mean': number, 'std': positive number}}.")
    return mean, std


def predict_raw(
    model: nn.Module,
    batch: FeatureBatch,
    batch_size: int = PREDICT_BATCH,
    *,
    task: str | None = None,
    target_scaling: Mapping[str, float] | Sequence[float] | None = None,
    forward: Callable[[Inputs], torch.Tensor] | None = None,
) -> np.ndarray:
    """Raw outputs of ``model`` on ``batch``: logits for classifiers, values in target units for regression.

    Regression outputs are de-standardized as ``output * std + mean``. The (mean, std) pair is
    ``target_scaling`` when given (``{"mean": m, "std": s}`` as in ``Trainer.target_scaling``, or
    a pair), else the model's ``target_scaling`` buffer that the trainer set; with a ``task`` other
    than 'regression' no scaling is applied. ``forward(inputs)`` replaces :func:`forward_in_batches`
    (e.g. a :class:`~needmap.training.one_row.OneRowForward`). Returns float64 ``[n]`` for a model with one
    output, ``[n, K]`` for K outputs.
    """
    mean, std = _mean_std(model, task, target_scaling)
    if isinstance(model, TabularModel):
        model.check_batch(batch)
    inputs = to_inputs(batch, keep_int32=forward is None)  # int32 ids widened a slice at a time, not copied whole
    raw = forward(inputs) if forward is not None else forward_in_batches(model, inputs, batch_size)
    return outputs_array(raw, mean, std)


def outputs_array(raw: torch.Tensor, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """Model outputs ``[n, K]`` as :func:`predict_raw` returns them: float64, ``output * std + mean``, ``[n]``
    for a model with one output."""
    array = (raw.double() * std + mean).numpy()
    return array[:, 0] if array.shape[1] == 1 else array


def probabilities_from_logits(logits: torch.Tensor) -> np.ndarray:
    """Logits ``[n, 1]`` -> sigmoid float64 ``[n]``; logits ``[n, K]`` -> softmax float64 ``[n, K]``."""
    logits = logits.double()
    if logits.shape[1] == 1:
        return torch.sigmoid(logits[:, 0]).numpy()
    return torch.softmax(logits, dim=1).numpy()


def predict_proba(
    model: nn.Module, batch: FeatureBatch, batch_size: int = PREDICT_BATCH, *, independent: bool = False
) -> np.ndarray:
    """Class probabilities of a classifier on ``batch``.

    Returns float64 ``[n]`` (probability of the positive class) for a binary model with one
    output, ``[n, K]`` (rows sum to 1) for a model with K outputs. With ``independent=True`` (a
    multi-task model with one binary logit per target) each of the K outputs gets its own sigmoid:
    ``[n, K]``, P(positive) per target; regression heads of such a model need
    ``needmap.training.target_heads.head_outputs``. ConfigError for a model that was trained for
    regression (its target scaling is not the identity).
    """
    scaling = getattr(model, "target_scaling", None)
    if scaling is not None and (float(scaling[0]) != 0.0 or float(scaling[1]) != 1.0):
        raise ConfigError(
            "the model was trained for regression; only binary and multiclass models give probabilities.",
            hint="Use predict_raw() for regression outputs.",
        )
    if isinstance(model, TabularModel):
        model.check_batch(batch)
    logits = forward_in_batches(model, to_inputs(batch, keep_int32=True), batch_size)
    if independent:
        return torch.sigmoid(logits.double()).numpy()
    return probabilities_from_logits(logits)
