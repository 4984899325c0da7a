""" "wide_deep": Wide & Deep, a linear model and a DNN trained jointly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from needmap.models.fields import DEFAULT_DROPOUT, DEFAULT_HIDDEN, FieldModel, LinearTerms
from needmap.models.registration import register
from needmap.models.space import DEEP, Dimension


@register("wide_deep")
class WideDeep(FieldModel):
    """Wide & Deep (Cheng et al. 2016): ``y = wide(x) + deep(x)``, trained jointly.

    The wide part is :class:`~needmap.models.fields.LinearTerms` (a weight per numeric, per
    category id and per list token); needmap has no hand-made cross-product columns, so the
    crosses are left to the deep part. The deep part is a DNN over the flattened field
    embeddings ``[B, F * d]``.

    Args:
        n_numeric, cardinalities, n_outputs, lists: see :class:`~needmap.models.base.TabularModel`.
        embedding_dim: size d of each field embedding (default 16).
        hidden: DNN widths (default [256, 128], see ``needmap.models.fields.DEFAULT_HIDDEN``).
        activation: DNN activation ('relu', 'gelu', 'silu', 'tanh', 'prelu').
        dropout: dropout after each DNN layer.
        batch_norm: BatchNorm1d after each DNN Linear.

    Shapes:
        forward(numeric float32 ``[B, n_numeric]``, categorical int64 ``[B, n_categorical]``,
        lists tuple of int64 ``[B, L_k]``) -> logits ``[B, n_outputs]``.
    """

    search_space: ClassVar[dict[str, Dimension]] = DEEP

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[Mapping[str, Any]] | None = None,
        embedding_dim: int = 16,
        hidden: Sequence[int] = DEFAULT_HIDDEN,
        activation: str = "relu",
        dropout: float = DEFAULT_DROPOUT,
        batch_norm: bool = False,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists, embedding_dim)
        self.add_dnn_hyper(hidden, activation, dropout, batch_norm)
        self.wide = LinearTerms(self.n_numeric, self.cardinalities, self.lists, self.n_outputs)
        self.deep = self.deep_tower(self.flat_dim)

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """Logits ``[B, n_outputs]``."""
        return self.wide(numeric, categorical, lists) + self.deep_logits(self.embed(numeric, categorical, lists))
