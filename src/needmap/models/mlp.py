""" "mlp": categorical embeddings and numerics, concatenated, through a fully connected stack."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from needmap.models.base import TabularModel
from needmap.models.layers import FeatureEmbedding, ListEmbedding, MLPBlock, dense
from needmap.models.registration import register
from needmap.models.space import DEEP, Dimension


@register("mlp")
class MLP(TabularModel):
    """A multilayer perceptron over numerics and embedded categoricals.

    Input of the stack: ``numeric [B, n_numeric]`` concatenated with the flattened embeddings
    ``[B, n_categorical * embedding_dim]`` and the pooled list embeddings ``[B, n_lists *
    embedding_dim]``; then :class:`MLPBlock` and a Linear to ``n_outputs``.

    Args:
        n_numeric: number of numeric columns (may be 0).
        cardinalities: number of ids of each categorical column (may be empty).
        n_outputs: 1 for binary and regression, K for K classes.
        lists: list-feature specs (multi-hot, sequences), pooled by mean or sum.
        embedding_dim: size of each categorical column's embedding.
        hidden: widths of the hidden layers.
        activation: 'relu', 'gelu', 'silu', 'tanh' or 'prelu'.
        dropout: dropout after each hidden layer.
        batch_norm: BatchNorm1d after each hidden Linear.

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
        lists: Sequence[dict] | None = None,
        embedding_dim: int = 16,
        hidden: Sequence[int] = (256, 128),
        activation: str = "relu",
        dropout: float = 0.1,
        batch_norm: bool = False,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists)
        self.hyper: dict[str, Any] = {
            "embedding_dim": int(embedding_dim),
            "hidden": [int(h) for h in hidden],
            "activation": str(activation),
            "dropout": float(dropout),
            "batch_norm": bool(batch_norm),
        }
        self.embedding = FeatureEmbedding(self.cardinalities, embedding_dim)
        self.list_embedding = ListEmbedding(self.lists, embedding_dim, shared=self.embedding)
        in_dim = self.n_numeric + (len(self.cardinalities) + len(self.lists)) * int(embedding_dim)
        self.mlp = MLPBlock(in_dim, hidden, activation, dropout, batch_norm)
        self.head = dense(self.mlp.out_dim, self.n_outputs)

    def config(self) -> dict[str, Any]:
        return dict(self.hyper, hidden=list(self.hyper["hidden"]))

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """``[B, n_numeric]`` float32, ``[B, n_categorical]`` int64, lists -> logits ``[B, n_outputs]``."""
        parts = [numeric]
        if self.cardinalities:
            parts.append(self.embedding(categorical).flatten(1))
        if self.lists:
            parts.append(self.list_embedding(lists).flatten(1))
        return self.head(self.mlp(torch.cat(parts, dim=1)))
