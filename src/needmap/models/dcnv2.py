""" "dcnv2": Deep & Cross Network V2, full-rank or as a mixture of low-rank experts (DCN-Mix)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from needmap.models.cross import CrossNetMix, CrossNetV2
from needmap.models.ensemble import MemberLinear, MemberScale
from needmap.models.fields import DEFAULT_DROPOUT, DEFAULT_HIDDEN, FieldModel
from needmap.models.hyper import choice, positive_int
from needmap.models.layers import MLPBlock, NumericFields, dense
from needmap.models.registration import register
from needmap.models.space import DEEP, Choice, Dimension, Int

STRUCTURES = ("stacked", "parallel")


@register("dcnv2")
class DCNv2(FieldModel):
    """DCN-V2 (Wang et al. 2021) over the flattened field embeddings ``x0 = [B, D]``, D = F * d.

    * "parallel": ``head([cross(x0), DNN(x0)])``, the two networks side by side;
    * "stacked": ``head(DNN(cross(x0)))``; with ``hidden=[]`` this is the cross network alone.

    The cross network is :class:`~needmap.models.cross.CrossNetV2` (``W_l`` full ``D x D``) or,
    when ``low_rank`` is set, :class:`~needmap.models.cross.CrossNetMix` with ``num_experts``
    experts of rank ``low_rank`` (about ``2 * num_experts * low_rank / D`` of the full-rank
    parameters; worth it when D is in the thousands).

    Args:
        n_numeric, cardinalities, n_outputs, lists: see :class:`~needmap.models.base.TabularModel`.
        embedding_dim: size d of each field embedding (default 16).
        structure: "parallel" (default) or "stacked".
        cross_layers: number of cross layers (default 3, the paper's range is 2-4).
        low_rank: None (full rank, default) or the rank r of each DCN-Mix expert.
        num_experts: experts per cross layer when ``low_rank`` is set (default 4).
        hidden: DNN widths (default [256, 128]; BARS uses 400-400-400 on Criteo).
        activation: DNN activation ('relu', 'gelu', 'silu', 'tanh', 'prelu').
        dropout: dropout after each DNN layer.
        batch_norm: BatchNorm1d after each DNN Linear.
        ensemble_size: k members sharing the network (default 1: one network). With k > 1, ``x0``
            is scaled by each member's vector before the cross network and each member has its own
            output layer (TabM-mini, :mod:`needmap.models.ensemble`): about k times the compute per
            row, for a steadier fit (online shoppers, stacked, ten seeds: BENCHMARKS.md).

    Shapes:
        forward(numeric float32 ``[B, n_numeric]``, categorical int64 ``[B, n_categorical]``,
        lists tuple of int64 ``[B, L_k]``) -> logits ``[B, n_outputs]`` (with k > 1 the mean
        of the members' logits); member_logits(...) -> ``[B, k, n_outputs]``.
    """

    search_space: ClassVar[dict[str, Dimension]] = {
        **DEEP,
        "cross_layers": Int(1, 4),
        "structure": Choice(("parallel", "stacked")),
    }

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[Mapping[str, Any]] | None = None,
        embedding_dim: int = 16,
        structure: str = "parallel",
        cross_layers: int = 3,
        low_rank: int | None = None,
        num_experts: int = 4,
        hidden: Sequence[int] = DEFAULT_HIDDEN,
        activation: str = "relu",
        dropout: float = DEFAULT_DROPOUT,
        batch_norm: bool = False,
        ensemble_size: int = 1,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists, embedding_dim)
        self.hyper.update(
            structure=choice("structure", structure, STRUCTURES),
            cross_layers=positive_int("cross_layers", cross_layers),
            low_rank=None if low_rank is None else positive_int("low_rank", low_rank),
            num_experts=positive_int("num_experts", num_experts),
            ensemble_size=positive_int("ensemble_size", ensemble_size),
        )
        self.add_dnn_hyper(hidden, activation, dropout, batch_norm)
        h = self.hyper
        dim = self.flat_dim
        self.cross: nn.Module = (
            CrossNetV2(dim, h["cross_layers"])
            if h["low_rank"] is None
            else CrossNetMix(dim, h["cross_layers"], h["low_rank"], h["num_experts"])
        )
        self.mlp = MLPBlock(dim, h["hidden"], h["activation"], h["dropout"], h["batch_norm"])
        head_in = self.mlp.out_dim if h["structure"] == "stacked" else dim + self.mlp.out_dim
        k = h["ensemble_size"]
        self.members = MemberScale(k, dim) if k > 1 else None
        self.head: nn.Module = MemberLinear(k, head_in, self.n_outputs) if k > 1 else dense(head_in, self.n_outputs)

    def _body(self, x0: torch.Tensor | NumericFields) -> torch.Tensor:
        """``x0 [N, D]`` (or :class:`NumericFields`, whose first products fold the numeric fields) -> the
        head's input ``[N, H]``."""
        if self.hyper["structure"] == "stacked":
            return self.mlp(self.cross(x0))
        return torch.cat([self.cross(x0), self.mlp(x0)], dim=1)

    def member_logits(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """Logits of each member ``[B, k, n_outputs]``."""
        if self.members is None:
            return super().member_logits(numeric, categorical, lists)
        scaled = self.members(self.fields(numeric, categorical, lists).flatten(1))  # [B, k, D]
        hidden = self._body(scaled.flatten(0, 1))  # [B * k, H]
        return self.head(hidden.view(scaled.shape[0], scaled.shape[1], -1))

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """Logits ``[B, n_outputs]``: the one network's, or the mean of the k members'."""
        if self.members is None:
            return self.head(self._body(self.embed(numeric, categorical, lists)))
        return self.member_logits(numeric, categorical, lists).mean(dim=1)
