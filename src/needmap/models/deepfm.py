""" "deepfm": DeepFM, a factorization machine and a DNN over the same field embeddings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from needmap.models.fields import DEFAULT_DROPOUT, DEFAULT_HIDDEN, FieldModel, LinearTerms
from needmap.models.fm import FMInteraction
from needmap.models.registration import register
from needmap.models.space import DEEP, Dimension


@register("deepfm")
class DeepFM(FieldModel):
    """DeepFM (Guo et al. 2017): ``y = linear(x) + FM(e) + DNN(flatten(e))``, one set of embeddings e.

    The FM sees every pair of the F fields (categorical columns, list features, numeric columns);
    the DNN sees the flattened fields ``[B, F * d]``.

    Args:
        n_numeric, cardinalities, n_outputs, lists: see :class:`~needmap.models.base.TabularModel`.
        embedding_dim: size d of each field embedding (default 16).
        hidden: DNN widths (default [256, 128]; BARS uses 400-400-400 on Criteo, see
            ``needmap.models.fields.DEFAULT_HIDDEN``).
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
        self.linear = LinearTerms(self.n_numeric, self.cardinalities, self.lists, self.n_outputs)
        self.fm = FMInteraction(self.fields.dim, self.n_outputs)
        self.deep = self.deep_tower(self.flat_dim)

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """Logits ``[B, n_outputs]``."""
        fields = self.embed(numeric, categorical, lists)
        return self.linear(numeric, categorical, lists) + self.fm(fields) + self.deep_logits(fields)
