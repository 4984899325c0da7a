""" "finalmlp": FinalMLP, two MLP streams with feature selection, fused by multi-head bilinear pooling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from needmap.models.fields import DEFAULT_DROPOUT, DEFAULT_HIDDEN, FieldModel
from needmap.models.gating import BilinearFusion, FeatureSelection
from needmap.models.hyper import field_indices, flag, positive_int, widths
from needmap.models.layers import MLPBlock
from needmap.models.registration import register
from needmap.models.space import DEEP, Choice, Dimension, Funnel


@register("finalmlp")
class FinalMLP(FieldModel):
    """FinalMLP (Mao et al. 2023): ``y = fusion(MLP1(gate1 * e), MLP2(gate2 * e))``.

    Two plain MLPs read the flattened fields ``e`` ``[B, F * d]``, each through its own feature
    selection gate (:class:`~needmap.models.gating.FeatureSelection`), and their outputs meet in a
    multi-head bilinear fusion (:class:`~needmap.models.gating.BilinearFusion`) that models the
    interactions between the two streams.

    Args:
        n_numeric, cardinalities, n_outputs, lists: see :class:`~needmap.models.base.TabularModel`.
        embedding_dim: size d of each field embedding (default 16).
        hidden: widths of stream 1 (default [256, 128]).
        hidden2: widths of stream 2 (default [128, 64]: a wider and a narrower stream, as in the
            paper's tuned settings of 1024-512 and 1024-512-256, scaled down for tables of 10^4-10^6
            rows). Both last widths must be divisible by ``num_heads``.
        activation, dropout, batch_norm: of the layers of both streams.
        use_fs: apply the feature selection gates (default true); false feeds ``e`` to both streams.
        fs_hidden: hidden widths of each gate MLP (default [64]).
        fs1_context, fs2_context: field positions (categoricals, then lists, then numerics; see
            :mod:`needmap.models.fields`) whose embeddings condition gate 1 and gate 2; empty
            (default) = a learned vector, i.e. the same gate for every row.
        num_heads: heads of the bilinear fusion (default 2).

    Shapes:
        forward(numeric float32 ``[B, n_numeric]``, categorical int64 ``[B, n_categorical]``,
        lists tuple of int64 ``[B, L_k]``) -> logits ``[B, n_outputs]``.
    """

    search_space: ClassVar[dict[str, Dimension]] = {
        **DEEP,
        "hidden2": Funnel("depth2", "width2", (1, 3), (32, 512)),
        "num_heads": Choice((1, 2, 4)),
    }

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[Mapping[str, Any]] | None = None,
        embedding_dim: int = 16,
        hidden: Sequence[int] = DEFAULT_HIDDEN,
        hidden2: Sequence[int] = (128, 64),
        activation: str = "relu",
        dropout: float = DEFAULT_DROPOUT,
        batch_norm: bool = False,
        use_fs: bool = True,
        fs_hidden: Sequence[int] = (64,),
        fs1_context: Sequence[int] = (),
        fs2_context: Sequence[int] = (),
        num_heads: int = 2,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists, embedding_dim)
        self.add_dnn_hyper(hidden, activation, dropout, batch_norm, allow_empty=False)
        n_fields = self.fields.n_fields
        self.hyper.update(
            hidden2=widths("hidden2", hidden2, allow_empty=False),
            use_fs=flag("use_fs", use_fs),
            fs_hidden=widths("fs_hidden", fs_hidden),
            fs1_context=field_indices("fs1_context", fs1_context, n_fields),
            fs2_context=field_indices("fs2_context", fs2_context, n_fields),
            num_heads=positive_int("num_heads", num_heads),
        )
        h = self.hyper
        dim = self.flat_dim
        self.stream1 = MLPBlock(dim, h["hidden"], h["activation"], h["dropout"], h["batch_norm"])
        self.stream2 = MLPBlock(dim, h["hidden2"], h["activation"], h["dropout"], h["batch_norm"])
        self.selection = (
            FeatureSelection(n_fields, self.fields.dim, h["fs_hidden"], h["fs1_context"], h["fs2_context"])
            if h["use_fs"]
            else None
        )
        self.fusion = BilinearFusion(self.stream1.out_dim, self.stream2.out_dim, self.n_outputs, h["num_heads"])

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """Logits ``[B, n_outputs]``."""
        fields = self.fields(numeric, categorical, lists)
        if self.selection is not None:
            x1, x2 = self.selection(fields)
        else:
            x1 = x2 = fields.flatten(1)
        return self.fusion(self.stream1(x1), self.stream2(x2))
