"""The contract of every needmap model: its constructor, its config and its target scaling."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from needmap.errors import ConfigError, DataError
from needmap.features.batch import FeatureBatch


class TabularModel(nn.Module):
    """Base class of the models in :mod:`needmap.models.registry`.

    A subclass is built as ``Model(n_numeric, cardinalities, n_outputs, **hyper)``, returns its
    ``hyper`` (JSON-safe) from :meth:`config`, and maps ``forward(numeric float32 [B, n_numeric],
    categorical int64 [B, n_categorical])`` to logits ``[B, n_outputs]``.

    The buffer ``target_scaling`` (float64 ``[2]``: mean, std) holds how a regression target was
    standardized for training; outputs in the target's units are ``output * std + mean``
    (:func:`needmap.training.predict.predict_raw` applies it). It is (0, 1) for classifiers and is
    saved with the weights.
    """

    model_name: ClassVar[str] = ""
    target_scaling: torch.Tensor

    def __init__(self, n_numeric: int, cardinalities: list[int], n_outputs: int) -> None:
        super().__init__()
        if n_numeric < 0:
            raise ConfigError(f"n_numeric is {n_numeric}; expected 0 or more numeric columns.")
        if n_outputs < 1:
            raise ConfigError(f"n_outputs is {n_outputs}; expected at least 1 output.")
        if n_numeric == 0 and not cardinalities:
            raise ConfigError("the model has no input: 0 numeric and 0 categorical columns; expected at least one.")
        self.n_numeric = int(n_numeric)
        self.cardinalities = [int(c) for c in cardinalities]
        self.n_outputs = int(n_outputs)
        self.register_buffer("target_scaling", torch.tensor([0.0, 1.0], dtype=torch.float64))

    def config(self) -> dict[str, Any]:
        """The hyper-parameters (JSON-safe) that rebuild this model with build_model()."""
        raise NotImplementedError(f"{type(self).__name__} must define config()")

    def set_target_scaling(self, mean: float, std: float) -> None:
        """Record that the model predicts ``(target - mean) / std``."""
        if not std > 0:
            raise ValueError(f"target std must be positive, got {std}")
        self.target_scaling.copy_(torch.tensor([mean, std], dtype=torch.float64))

    def check_batch(self, batch: FeatureBatch, name: str = "features") -> None:
        """DataError when ``batch`` does not have this model's layout or holds ids out of range.

        Checks the number of numeric and categorical columns, the dtypes, and that every id of
        categorical column j lies in [0, cardinalities[j]). One vectorized pass over the ids.
        """
        n_num, n_cat = batch.numeric.shape[1], batch.categorical.shape[1]
        if n_num != self.n_numeric or n_cat != len(self.cardinalities):
            raise DataError(
                f"{name} have {n_num} numeric and {n_cat} categorical columns; the model expects "
                f"{self.n_numeric} numeric and {len(self.cardinalities)} categorical columns."
            )
        if not np.issubdtype(batch.numeric.dtype, np.floating):
            raise DataError(f"{name}: numeric array has dtype {batch.numeric.dtype}; expected float32.")
        if not np.issubdtype(batch.categorical.dtype, np.integer):
            raise DataError(f"{name}: categorical array has dtype {batch.categorical.dtype}; expected int64 ids.")
        if n_cat and len(batch):
            low = batch.categorical.min(axis=0)
            high = batch.categorical.max(axis=0)
            cards = np.asarray(self.cardinalities)
            bad = np.flatnonzero((low < 0) | (high >= cards))
            if bad.size:
                j = int(bad[0])
                raise DataError(
                    f"{name}: categorical column {j} holds ids from {int(low[j])} to {int(high[j])}; "
                    f"expected ids in [0, {cards[j]})."
                )
