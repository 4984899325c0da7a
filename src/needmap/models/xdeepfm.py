""" "xdeepfm": xDeepFM, a compressed interaction network, a DNN and linear terms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from needmap.models.cin import CompressedInteraction
from needmap.models.fields import DEFAULT_DROPOUT, DEFAULT_HIDDEN, FieldModel, LinearTerms
from needmap.models.hyper import widths
from needmap.models.layers import dense
from needmap.models.registration import register
from needmap.models.space import DEEP, Dimension, Repeat


@register("xdeepfm")
class XDeepFM(FieldModel):
    """xDeepFM (Lian et al. 2018): ``y = linear(x) + w^T CIN(e) + DNN(flatten(e))``.

    The CIN builds vector-wise interactions of order 2 .. L+1 of the F fields
    (:class:`~needmap.models.cin.CompressedInteraction`), the DNN implicit ones, the linear part
    the first order.

    Args:
        n_numeric, cardinalities, n_outputs, lists: see :class:`~needmap.models.base.TabularModel`.
        embedding_dim: size d of each field embedding (default 16).
        cin_layers: feature maps of each CIN layer (default [32, 32]; the paper uses 100-200 maps
            on Criteo, but a CIN layer costs ``B * F * H * d`` memory and time, so the default
            stays small for CPUs and wide tables).
        hidden: DNN widths (default [256, 128]; ``[]`` drops the DNN: the CIN and linear part alone).
        activation: DNN activation ('relu', 'gelu', 'silu', 'tanh', 'prelu').
        dropout: dropout after each DNN layer.
        batch_norm: BatchNorm1d after each DNN Linear.

    Shapes:
        forward(numeric float32 ``[B, n_numeric]``, categorical int64 ``[B, n_categorical]``,
        lists tuple of int64 ``[B, L_k]``) -> logits ``[B, n_outputs]``.
    """

    search_space: ClassVar[dict[str, Dimension]] = {
        **DEEP,
        "cin_layers": Repeat("cin_depth", "cin_width", (1, 3), (16, 32, 64, 128)),
    }

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[Mapping[str, Any]] | None = None,
        embedding_dim: int = 16,
        cin_layers: Sequence[int] = (32, 32),
        hidden: Sequence[int] = DEFAULT_HIDDEN,
        activation: str = "relu",
        dropout: float = DEFAULT_DROPOUT,
        batch_norm: bool = False,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists, embedding_dim)
        self.hyper["cin_layers"] = widths("cin_layers", cin_layers, allow_empty=False)
        self.add_dnn_hyper(hidden, activation, dropout, batch_norm)
        self.linear = LinearTerms(self.n_numeric, self.cardinalities, self.lists, self.n_outputs)
        self.cin = CompressedInteraction(self.fields.n_fields, self.hyper["cin_layers"])
        self.cin_head = dense(self.cin.out_dim, self.n_outputs, bias=False)
        self.deep = self.deep_tower(self.flat_dim) if self.hyper["hidden"] else None

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """Logits ``[B, n_outputs]``."""
        fields = self.embed(numeric, categorical, lists)
        out = self.linear(numeric, categorical, lists) + self.cin_head(self.cin(fields.fields))
        if self.deep is not None:
            out = out + self.deep_logits(fields)
        return out
