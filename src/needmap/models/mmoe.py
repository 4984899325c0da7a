""" "mmoe": Multi-gate Mixture-of-Experts (Ma et al., 2018), one output per task.

Every task reads the same experts, each through its own softmax gate, and has its own tower:
``out_t = tower_t(sum_e gate_t(x)_e * expert_e(x))``. A model with ``n_outputs = T`` serves T
tasks and returns ``[B, T]``: one logit (binary task) or standardized value (regression) per task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.models.base import TabularModel
from needmap.models.layers import FeatureEmbedding, ListEmbedding, MLPBlock, dense
from needmap.models.registration import register
from needmap.models.space import DROPOUT, EMBEDDING, Dimension


class FlatInput(nn.Module):
    """The input row as one vector: numerics, embedded categoricals and pooled list features.

    Shapes: forward(numeric ``[B, n_numeric]``, categorical ``[B, C]``, lists tuple of ``[B, L_k]``)
    -> ``[B, out_dim]`` with ``out_dim = n_numeric + (C + n_lists) * dim``.
    """

    def __init__(self, n_numeric: int, cardinalities: Sequence[int], lists: Sequence[dict], dim: int) -> None:
        super().__init__()
        self.n_categorical = len(cardinalities)
        self.n_lists = len(lists)
        self.embedding = FeatureEmbedding(cardinalities, dim)
        self.list_embedding = ListEmbedding(lists, dim, shared=self.embedding)
        self.out_dim = int(n_numeric) + (self.n_categorical + self.n_lists) * int(dim)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor]) -> torch.Tensor:
        parts = [numeric]
        if self.n_categorical:
            parts.append(self.embedding(categorical).flatten(1))
        if self.n_lists:
            parts.append(self.list_embedding(lists).flatten(1))
        return torch.cat(parts, dim=1)


def check_experts(name: str, count: int, hidden: Sequence[int]) -> None:
    """ConfigError unless ``count`` >= 1 experts (``name``) with at least one hidden layer."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"{name} is {count!r}; expected a whole number of at least 1.")
    if not list(hidden):
        raise ConfigError("expert_hidden is empty; expected the widths of at least one expert layer, e.g. (64,).")


class Towers(nn.Module):
    """One MLP tower and a Linear to one output per task.

    Shapes: forward(list of T tensors ``[B, in_dim]``) -> ``[B, T]``.
    """

    def __init__(
        self, n_tasks: int, in_dim: int, hidden: Sequence[int], activation: str, dropout: float, batch_norm: bool
    ) -> None:
        super().__init__()
        self.towers = nn.ModuleList(MLPBlock(in_dim, hidden, activation, dropout, batch_norm) for _ in range(n_tasks))
        self.heads = nn.ModuleList(dense(tower.out_dim, 1) for tower in self.towers)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([head(tower(x)) for x, tower, head in zip(inputs, self.towers, self.heads, strict=True)], 1)


@register("mmoe")
class MMoE(TabularModel):
    """Multi-gate Mixture-of-Experts over shared input embeddings.

    Args:
        n_numeric, cardinalities, lists: the inputs (see :class:`TabularModel`).
        n_outputs: number of tasks T (one output each).
        embedding_dim: size of each categorical and list embedding.
        num_experts: number of shared experts E (default 8: on census income, income and marital status,
            over 20 seeds, 8 experts matched one MLP per target on both targets where 4 fell slightly
            short on marital status; benchmarks/results/HISTORY.md, the current comparison in
            BENCHMARKS.md).
        expert_hidden: widths of each expert's layers (the last is the expert's output size H).
        tower_hidden: widths of each task tower's hidden layers (may be empty).
        activation, dropout, batch_norm: of the expert and tower layers.

    Shapes:
        forward(numeric ``[B, n_numeric]``, categorical ``[B, C]``, lists) -> ``[B, T]``.
        gates(...) -> ``[B, T, E]``: each task's mixture weights (rows sum to 1).
    """

    search_space: ClassVar[dict[str, Dimension]] = {**DROPOUT, **EMBEDDING}

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[dict] | None = None,
        embedding_dim: int = 16,
        num_experts: int = 8,
        expert_hidden: Sequence[int] = (128, 64),
        tower_hidden: Sequence[int] = (32,),
        activation: str = "relu",
        dropout: float = 0.1,
        batch_norm: bool = False,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists)
        check_experts("num_experts", num_experts, expert_hidden)
        self.hyper: dict[str, Any] = {
            "embedding_dim": int(embedding_dim),
            "num_experts": int(num_experts),
            "expert_hidden": [int(h) for h in expert_hidden],
            "tower_hidden": [int(h) for h in tower_hidden],
            "activation": str(activation),
            "dropout": float(dropout),
            "batch_norm": bool(batch_norm),
        }
        self.input = FlatInput(self.n_numeric, self.cardinalities, self.lists, int(embedding_dim))
        self.experts = nn.ModuleList(
            MLPBlock(self.input.out_dim, expert_hidden, activation, dropout, batch_norm) for _ in range(num_experts)
        )
        self.gate = dense(self.input.out_dim, self.n_outputs * int(num_experts))
        self.towers = Towers(self.n_outputs, self.experts[0].out_dim, tower_hidden, activation, dropout, batch_norm)

    def config(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, list) else v for k, v in self.hyper.items()}

    def _gates(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.gate(x).view(x.shape[0], self.n_outputs, -1), dim=-1)

    def gates(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """The mixture weights ``[B, T, E]`` of each task over the experts."""
        return self._gates(self.input(numeric, categorical, lists))

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """``[B, n_numeric]`` float32, ``[B, C]`` int64, lists -> ``[B, T]``."""
        x = self.input(numeric, categorical, lists)
        experts = torch.stack([expert(x) for expert in self.experts], dim=1)  # [B, E, H]
        mixed = torch.einsum("bte,beh->bth", self._gates(x), experts)  # [B, T, H]
        return self.towers(mixed.unbind(dim=1))
