""" "fm": the factorization machine (linear terms plus every pairwise field interaction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from needmap.models.fields import FieldModel, LinearTerms
from needmap.models.fm import FMInteraction
from needmap.models.registration import register
from needmap.models.space import EMBEDDING, Dimension


@register("fm")
class FactorizationMachine(FieldModel):
    """Rendle's FM: ``y = b + sum_i w_i x_i + sum_{i<j} <e_i, e_j>`` over all F fields.

    Fields: every categorical column, list feature and numeric column (see
    :mod:`needmap.models.fields`). With K > 1 outputs the pairwise term is projected per class
    (:class:`~needmap.models.fm.FMInteraction`).

    Args:
        n_numeric, cardinalities, n_outputs, lists: see :class:`~needmap.models.base.TabularModel`.
        embedding_dim: size d of the factor vectors (default 16).

    Shapes:
        forward(numeric float32 ``[B, n_numeric]``, categorical int64 ``[B, n_categorical]``,
        lists tuple of int64 ``[B, L_k]``) -> logits ``[B, n_outputs]``; fields ``[B, F, d]`` inside.
    """

    search_space: ClassVar[dict[str, Dimension]] = EMBEDDING

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[Mapping[str, Any]] | None = None,
        embedding_dim: int = 16,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists, embedding_dim)
        self.linear = LinearTerms(self.n_numeric, self.cardinalities, self.lists, self.n_outputs)
        self.fm = FMInteraction(self.fields.dim, self.n_outputs)

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """Logits ``[B, n_outputs]``."""
        return self.linear(numeric, categorical, lists) + self.fm(self.fields(numeric, categorical, lists))
