""" "autoint": AutoInt, stacked multi-head self-attention over the fields (AutoInt+ with a DNN)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from needmap.models.attention import FieldSelfAttention
from needmap.models.fields import DEFAULT_DROPOUT, DEFAULT_HIDDEN, FieldModel, LinearTerms
from needmap.models.hyper import flag, positive_int, probability
from needmap.models.layers import dense
from needmap.models.registration import register
from needmap.models.space import DEEP, Choice, Dimension, Int


@register("autoint")
class AutoInt(FieldModel):
    """AutoInt (Song et al. 2019): fields attend to fields through ``attention_layers`` layers.

    ``y = w^T flatten(attn_L(... attn_1(e))) [+ DNN(flatten(e))] [+ linear(x)]``. Each layer is a
    :class:`~needmap.models.attention.FieldSelfAttention` with residual connections, so a field's
    vector after layer l mixes the fields it found relevant. With ``hidden`` non-empty (default)
    this is AutoInt+, the variant with the better results in the paper and in BARS; ``hidden=[]``
    gives the paper's AutoInt.

    Args:
        n_numeric, cardinalities, n_outputs, lists: see :class:`~needmap.models.base.TabularModel`.
        embedding_dim: size d of each field embedding (default 16).
        attention_layers: number of interacting layers (default 3, as in the paper).
        num_heads: heads per layer (default 2, as in the paper).
        attention_dim: size of a field's vector after each layer, all heads together (default 32).
        attention_dropout: dropout on the attention weights.
        residual: add the (projected) input of each layer to its output (default true).
        scale: divide scores by sqrt(head size) (default true).
        layer_norm: LayerNorm after each layer (default false).
        use_wide: add :class:`~needmap.models.fields.LinearTerms` (default false).
        hidden: widths of the parallel DNN (default [256, 128]; [] for none).
        activation: DNN activation ('relu', 'gelu', 'silu', 'tanh', 'prelu').
        dropout: dropout after each DNN layer.
        batch_norm: BatchNorm1d after each DNN Linear.

    Shapes:
        forward(numeric float32 ``[B, n_numeric]``, categorical int64 ``[B, n_categorical]``,
        lists tuple of int64 ``[B, L_k]``) -> logits ``[B, n_outputs]``; attention acts on
        ``[B, F, attention_dim]``.
    """

    search_space: ClassVar[dict[str, Dimension]] = {
        **DEEP,
        "attention_layers": Int(1, 4),
        "attention_dim": Choice((16, 32, 64)),
        "num_heads": Choice((1, 2, 4)),
    }

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[Mapping[str, Any]] | None = None,
        embedding_dim: int = 16,
        attention_layers: int = 3,
        num_heads: int = 2,
        attention_dim: int = 32,
        attention_dropout: float = 0.0,
        residual: bool = True,
        scale: bool = True,
        layer_norm: bool = False,
        use_wide: bool = False,
        hidden: Sequence[int] = DEFAULT_HIDDEN,
        activation: str = "relu",
        dropout: float = DEFAULT_DROPOUT,
        batch_norm: bool = False,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists, embedding_dim)
        self.hyper.update(
            attention_layers=positive_int("attention_layers", attention_layers),
            num_heads=positive_int("num_heads", num_heads),
            attention_dim=positive_int("attention_dim", attention_dim),
            attention_dropout=probability("attention_dropout", attention_dropout),
            residual=flag("residual", residual),
            scale=flag("scale", scale),
            layer_norm=flag("layer_norm", layer_norm),
            use_wide=flag("use_wide", use_wide),
        )
        self.add_dnn_hyper(hidden, activation, dropout, batch_norm)
        h = self.hyper
        self.attention = nn.Sequential(
            *(
                FieldSelfAttention(
                    self.fields.dim if i == 0 else h["attention_dim"],
                    h["attention_dim"],
                    h["num_heads"],
                    h["attention_dropout"],
                    h["residual"],
                    h["scale"],
                    h["layer_norm"],
                )
                for i in range(h["attention_layers"])
            )
        )
        self.attention_head = dense(self.fields.n_fields * h["attention_dim"], self.n_outputs)
        self.deep = self.deep_tower(self.flat_dim) if h["hidden"] else None
        self.wide = LinearTerms(self.n_numeric, self.cardinalities, self.lists, self.n_outputs) if use_wide else None

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """Logits ``[B, n_outputs]``."""
        fields = self.embed(numeric, categorical, lists)
        out = self.attention_head(self.attention(fields.fields).flatten(1))
        if self.deep is not None:
            out = out + self.deep_logits(fields)
        if self.wide is not None:
            out = out + self.wide(numeric, categorical, lists)
        return out
