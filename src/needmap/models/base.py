"""The contract of every needmap model: its constructor, its config and its target scaling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from needmap.errors import ConfigError, DataError
from needmap.models.space import Dimension
from needmap.preprocessing.batch import FeatureBatch


class TabularModel(nn.Module):
    """Base class of the models in :mod:`needmap.models.registry`.

    A subclass is built as ``Model(n_numeric, cardinalities, n_outputs, lists=None, **hyper)``,
    returns its ``hyper`` (JSON-safe) from :meth:`config`, and maps ``forward(numeric float32
    [B, n_numeric], categorical int64 [B, n_categorical], lists=())`` to logits ``[B, n_outputs]``,
    where ``lists`` holds one int64 ``[B, max_len_k]`` tensor (0 = padding) per entry of ``lists``.

    ``lists`` describes the list features (JSON-safe dicts, from the preprocessor's
    ``list_specs_``): ``name``; ``kind`` "multihot" (an unordered set, e.g. interests) or
    "sequence" (ordered behaviour, most recent last); ``cardinality`` (ids, 0 = padding and 1 =
    out-of-vocabulary included); ``max_len``; ``pooling`` "mean" or "sum"; ``share`` (index of
    the categorical column whose vocabulary, and so embedding table, the list uses, or None).

    The buffer ``target_scaling`` (float64 ``[2]``: mean, std) holds how a regression target was
    standardized for training; outputs in the target's units are ``output * std + mean``
    (:func:`needmap.training.predict.predict_raw` applies it). It is (0, 1) for classifiers and is
    saved with the weights.
    """

    model_name: ClassVar[str] = ""
    #: The options a tuning study may search, in search order (:mod:`needmap.models.space`).
    search_space: ClassVar[dict[str, Dimension]] = {}
    target_scaling: torch.Tensor

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        if n_numeric < 0:
            raise ConfigError(f"n_numeric is {n_numeric}; expected 0 or more numeric columns.")
        if n_outputs < 1:
            raise ConfigError(f"n_outputs is {n_outputs}; expected at least 1 output.")
        if n_numeric == 0 and not cardinalities and not lists:
            raise ConfigError("the model has no input: 0 numeric, categorical and list columns; expected at least one.")
        self.n_numeric = int(n_numeric)
        self.cardinalities = [int(c) for c in cardinalities]
        self.n_outputs = int(n_outputs)
        self.lists = [normalize_list_spec(spec, self.cardinalities) for spec in lists or ()]
        self.register_buffer("target_scaling", torch.tensor([0.0, 1.0], dtype=torch.float64))

    def config(self) -> dict[str, Any]:
        """The hyper-parameters (JSON-safe) that rebuild this model with build_model()."""
        raise NotImplementedError(f"{type(self).__name__} must define config()")

    @property
    def ensemble_size(self) -> int:
        """k, the members of a parameter-efficient ensemble (:mod:`needmap.models.ensemble`); 1 for one network."""
        return int(getattr(self, "hyper", {}).get("ensemble_size", 1))

    def member_logits(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """Each member's logits ``[B, k, n_outputs]``; the trainer fits every member on the rows.

        ``forward`` returns their mean over the k members. A model without members has k = 1.
        """
        return self(numeric, categorical, lists).unsqueeze(1)

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
        if len(batch.lists) != len(self.lists):
            raise DataError(
                f"{name} have {len(batch.lists)} list features; the model expects {len(self.lists)} "
                f"({', '.join(spec['name'] for spec in self.lists) or 'none'})."
            )
        for array, spec in zip(batch.lists, self.lists, strict=True):
            if len(batch) and array.size and (array.min() < 0 or array.max() >= spec["cardinality"]):
                raise DataError(
                    f"{name}: list feature '{spec['name']}' holds ids from {int(array.min())} to "
                    f"{int(array.max())}; expected ids in [0, {spec['cardinality']})."
                )
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


LIST_KINDS = ("multihot", "sequence")
POOLINGS = ("mean", "sum")


def normalize_list_spec(spec: Mapping[str, Any], cardinalities: Sequence[int]) -> dict[str, Any]:
    """A list feature's description checked and with defaults filled (see :class:`TabularModel`)."""
    name = str(spec.get("name", "?"))
    kind = spec.get("kind", "multihot")
    pooling = spec.get("pooling", "mean")
    share = spec.get("share")
    if kind not in LIST_KINDS:
        raise ConfigError(f"list feature '{name}' has kind {kind!r}; expected one of {LIST_KINDS}.")
    if pooling not in POOLINGS:
        raise ConfigError(f"list feature '{name}' has pooling {pooling!r}; expected one of {POOLINGS}.")
    cardinality = int(spec["cardinality"])
    if share is not None:
        share = int(share)
        if not 0 <= share < len(cardinalities) or cardinalities[share] != cardinality:
            raise ConfigError(
                f"list feature '{name}' shares categorical column {share}, which does not exist or has another "
                f"vocabulary size; expected a column with {cardinality} ids."
            )
    if cardinality < 2:
        raise ConfigError(f"list feature '{name}' has {cardinality} ids; expected at least 2 (padding and OOV).")
    return {
        "name": name,
        "kind": kind,
        "cardinality": cardinality,
        "max_len": int(spec.get("max_len", 0)),
        "pooling": pooling,
        "share": share,
    }
