""" "finalnet": FinalNet, factorized interaction blocks in place of MLPs, with field-wise gating."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from needmap.models.factorized import RESIDUALS, FinalBlock
from needmap.models.fields import FieldModel
from needmap.models.gating import FieldGate
from needmap.models.hyper import choice, flag, probability, widths
from needmap.models.layers import ACTIVATIONS, dense
from needmap.models.registration import register
from needmap.models.space import DEEP, Dimension, Funnel

BLOCK_TYPES = ("1B", "2B")


@register("finalnet")
class FinalNet(FieldModel):
    """FinalNet (Zhu et al. 2023, FINAL): MLPs replaced by blocks of factorized interaction layers.

    Block 1 reads the field-gated embeddings ``[e, e * g]`` (:class:`~needmap.models.gating.FieldGate`,
    ``[B, 2F, d]`` flattened) when ``use_field_gate``; block 2 ("2B" only) reads the plain
    flattened fields ``[B, F * d]``. Each block (:class:`~needmap.models.factorized.FinalBlock`)
    ends in its own Linear; with two blocks the logits are their average ``(y1 + y2) / 2``.

    The paper also trains each block toward the ensemble (self-distillation, an extra loss on
    y1 and y2); needmap's trainer optimizes the averaged output's loss only.

    Args:
        n_numeric, cardinalities, n_outputs, lists: see :class:`~needmap.models.base.TabularModel`.
        embedding_dim: size d of each field embedding (default 16).
        block_type: "2B" (two blocks, default) or "1B".
        use_field_gate: field-wise gating before block 1 (default true).
        hidden: widths of block 1's layers (default [256, 128]; even numbers with "concat").
        hidden2: widths of block 2's layers (default [256, 128]).
        activation: None (default, as the paper: the products give the non-linearity) or
            'relu', 'gelu', 'silu', 'tanh', 'prelu' after each layer.
        dropout: dropout after each layer.
        batch_norm: BatchNorm1d after each layer (default false; the paper's true suits inputs that
            are all categorical, see the note below).
        residual_type: "concat" (default; ``[h2, h1 * h2]``) or "sum" (``h2 + h1 * h2``).

    Shapes:
        forward(numeric float32 ``[B, n_numeric]``, categorical int64 ``[B, n_categorical]``,
        lists tuple of int64 ``[B, L_k]``) -> logits ``[B, n_outputs]``.

    Numeric columns: each factorized layer multiplies its inputs, so a block of L layers (after the
    field gate's own product) is a polynomial of degree up to 2^(L+1) in a numeric field's value,
    and BatchNorm rescales those products to unit variance on the training batches. On a table of
    skewed numerics (online shoppers: 10 numeric columns of 17) that made FinalNet overconfident away from
    the bulk of the training rows, with a lower test AUC and a much higher logloss than without it
    (benchmarks/results/HISTORY.md); hence no BatchNorm by default. With inputs that are
    all categorical (ids, bucketized numerics), as on the paper's Criteo and Avazu, ``batch_norm=True``
    is the paper's setting.
    """

    search_space: ClassVar[dict[str, Dimension]] = {**DEEP, "hidden2": Funnel("depth2", "width2", (1, 3), (32, 512))}

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[Mapping[str, Any]] | None = None,
        embedding_dim: int = 16,
        block_type: str = "2B",
        use_field_gate: bool = True,
        hidden: Sequence[int] = (256, 128),
        hidden2: Sequence[int] = (256, 128),
        activation: str | None = None,
        dropout: float = 0.0,
        batch_norm: bool = False,
        residual_type: str = "concat",
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists, embedding_dim)
        residual = choice("residual_type", residual_type, RESIDUALS)
        even = 2 if residual == "concat" else 1
        self.hyper.update(
            block_type=choice("block_type", block_type, BLOCK_TYPES),
            use_field_gate=flag("use_field_gate", use_field_gate),
            hidden=widths("hidden", hidden, allow_empty=False, multiple_of=even),
            hidden2=widths("hidden2", hidden2, allow_empty=False, multiple_of=even),
            activation=None if activation is None else choice("activation", activation, list(ACTIVATIONS)),
            dropout=probability("dropout", dropout),
            batch_norm=flag("batch_norm", batch_norm),
            residual_type=residual,
        )
        h = self.hyper
        n_fields = self.fields.n_fields
        self.gate = FieldGate(n_fields) if h["use_field_gate"] else None
        in1 = self.flat_dim * (2 if self.gate is not None else 1)
        self.block1 = FinalBlock(in1, h["hidden"], h["activation"], h["dropout"], h["batch_norm"], residual)
        self.head1 = dense(self.block1.out_dim, self.n_outputs)
        self.block2: FinalBlock | None = None
        self.head2: nn.Linear | None = None
        if h["block_type"] == "2B":
            self.block2 = FinalBlock(
                self.flat_dim, h["hidden2"], h["activation"], h["dropout"], h["batch_norm"], residual
            )
            self.head2 = dense(self.block2.out_dim, self.n_outputs)

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """Logits ``[B, n_outputs]``."""
        fields = self.fields(numeric, categorical, lists)
        gated = self.gate(fields) if self.gate is not None else fields
        y1 = self.head1(self.block1(gated.flatten(1)))
        if self.block2 is None or self.head2 is None:
            return y1
        y2 = self.head2(self.block2(fields.flatten(1)))
        return 0.5 * (y1 + y2)
