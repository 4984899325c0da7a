"""Every feature as a field: the shared embedding and first-order layers of the CTR model zoo.

Interaction models (FM, cross networks, CIN, self-attention, gating) look at a row as F fields,
one ``d``-sized vector per feature:

* one field per categorical column (its id's row of :class:`~needmap.models.layers.FeatureEmbedding`),
* one field per list feature (multi-hot or sequence, pooled by :class:`~needmap.models.layers.ListEmbedding`,
  sharing a categorical column's table when the list's spec says ``share``),
* one field per numeric column (missing-indicators included): the value times a learned vector,
  as FuxiCTR embeds numerics, so that a numeric interacts with the other fields like a category.

So ``F = n_categorical + n_lists + n_numeric``, in that order.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn

from needmap.models.base import TabularModel
from needmap.models.hyper import choice, flag, positive_int, probability, widths
from needmap.models.layers import (
    ACTIVATIONS,
    FeatureEmbedding,
    ListEmbedding,
    MLPBlock,
    NumericFields,
    dense,
    numeric_slab,
)

#: The zoo's default DNN: the width of needmap's "mlp". BARS tunes 400-400-400 (or 1000-1000-1000)
#: on tens of millions of Criteo/Avazu rows; on customer tables of 10^4-10^6 rows such towers
#: overfit sooner and train several times slower per row on a CPU, while 256-128 with dropout 0.1 holds up on
#: both (raise it with ``hidden=[400, 400, 400]`` on large click logs).
DEFAULT_HIDDEN = (256, 128)
DEFAULT_DROPOUT = 0.1

#: Standard deviation of each numeric field's initial vector; None = Xavier-normal for a 1 -> dim
#: layer, ``sqrt(2 / (1 + dim))`` (0.34 at dim 16), as FuxiCTR embeds a numeric with ``Linear(1, dim)``.
#: Read at construction time.
NUMERIC_FIELD_INIT_STD: float | None = 0.1


def numeric_field_init_std(dim: int) -> float:
    """The initial std of a numeric field's vector of size ``dim`` (see NUMERIC_FIELD_INIT_STD)."""
    return NUMERIC_FIELD_INIT_STD if NUMERIC_FIELD_INIT_STD is not None else (2.0 / (1 + int(dim))) ** 0.5


class FieldEmbedding(nn.Module):
    """Inputs as field embeddings ``[B, F, dim]`` (see the module docstring for F and the order).

    Args:
        n_numeric: numeric columns (each one field: value x a learned vector of size ``dim``).
        cardinalities: ids of each categorical column (each one field, one shared table with offsets).
        lists: normalized list specs (``TabularModel.lists``); each list is one pooled field.
        dim: embedding size d.

    Attributes:
        categorical: :class:`FeatureEmbedding` of the categorical columns (its table also serves
            lists with ``share``).
        lists: :class:`ListEmbedding` of the list features.
        numeric: float32 ``[n_numeric, dim]`` parameter, one vector per numeric column.
        n_fields: F.

    Shapes:
        forward(numeric float32 ``[B, n_numeric]``, categorical int64 ``[B, n_categorical]``,
        lists tuple of int64 ``[B, L_k]``) -> float32 ``[B, F, dim]`` (with ``parts=True``, the same fields as
        :class:`~needmap.models.layers.NumericFields`).
    """

    def __init__(self, n_numeric: int, cardinalities: Sequence[int], lists: Sequence[dict], dim: int) -> None:
        super().__init__()
        self.dim = positive_int("embedding_dim", dim)
        self.n_numeric = int(n_numeric)
        self.n_categorical = len(cardinalities)
        self.n_lists = len(lists)
        self.categorical = FeatureEmbedding(cardinalities, self.dim)
        self.lists = ListEmbedding(lists, self.dim, shared=self.categorical)
        self.numeric = nn.Parameter(torch.randn(self.n_numeric, self.dim) * numeric_field_init_std(self.dim))

    @property
    def n_fields(self) -> int:
        """F = n_categorical + n_lists + n_numeric."""
        return self.n_categorical + self.n_lists + self.n_numeric

    def forward(
        self,
        numeric: torch.Tensor,
        categorical: torch.Tensor,
        lists: Sequence[torch.Tensor] = (),
        *,
        parts: bool = False,
    ) -> torch.Tensor | NumericFields:
        """``[B, n_numeric]``, ``[B, n_categorical]``, lists -> ``[B, F, dim]``; with ``parts``, the same fields as
        :class:`NumericFields` (the categorical and list fields, the numbers and their vectors), which make the
        slab only if a layer reads it."""
        pieces = []
        if self.n_categorical:
            pieces.append(self.categorical(categorical))
        if self.n_lists:
            pieces.append(self.lists(lists))
        if len(pieces) == 1:
            lead = pieces[0]
        else:  # categorical and list fields together, or none (an empty lead)
            lead = torch.cat(pieces, dim=1) if pieces else numeric.new_zeros((len(numeric), 0, self.dim))
        if parts:
            return NumericFields(lead, numeric, self.numeric)
        return numeric_slab(lead, numeric, self.numeric)


class LinearTerms(nn.Module):
    """The first-order part: a bias, a weight per numeric column, a weight per category id and per list token.

    ``out = bias + numeric @ W + sum_j w_j[id_j] + sum_k pool_k(w_k[tokens])`` where list tokens
    are pooled as their spec says (mean or sum over the non-padding positions; a list with
    ``share = j`` reads categorical column j's weights). Weights start at zero, as in logistic
    regression; with K outputs every weight is a K-vector.

    Shapes:
        forward(numeric ``[B, n_numeric]``, categorical ``[B, n_categorical]``, lists) -> ``[B, n_outputs]``.
    """

    def __init__(self, n_numeric: int, cardinalities: Sequence[int], lists: Sequence[dict], n_outputs: int) -> None:
        super().__init__()
        self.n_outputs = positive_int("n_outputs", n_outputs)
        self.bias = nn.Parameter(torch.zeros(self.n_outputs))
        self.numeric = nn.Parameter(torch.zeros(int(n_numeric), self.n_outputs))
        self.categorical = FeatureEmbedding(cardinalities, self.n_outputs)
        self.lists = ListEmbedding(lists, self.n_outputs, shared=self.categorical)
        nn.init.zeros_(self.categorical.embedding.weight)
        if self.lists.embedding is not None:
            nn.init.zeros_(self.lists.embedding.weight)

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """``[B, n_numeric]``, ``[B, n_categorical]``, lists -> ``[B, n_outputs]``."""
        out = self.bias + numeric @ self.numeric
        if self.categorical.n_columns:
            out = out + self.categorical(categorical).sum(dim=1)
        if len(self.lists.specs):
            out = out + self.lists(lists).sum(dim=1)
        return out


class DeepTower(nn.Module):
    """A DNN from flattened field embeddings to K logits: :class:`MLPBlock` then a Linear.

    Shapes: forward(x ``[B, in_dim]`` or :class:`NumericFields`) -> ``[B, n_outputs]``.
    """

    def __init__(
        self, in_dim: int, hidden: Sequence[int], n_outputs: int, activation: str, dropout: float, batch_norm: bool
    ) -> None:
        super().__init__()
        self.mlp = MLPBlock(in_dim, hidden, activation, dropout, batch_norm)
        self.head = dense(self.mlp.out_dim, n_outputs)

    def forward(self, x: torch.Tensor | NumericFields) -> torch.Tensor:
        """The logits of the flattened field embeddings ``[B, F * d]``, or of :class:`NumericFields`, whose
        numeric fields the first layer folds (fewer multiply-adds, the same function)."""
        return self.head(self.mlp(x))


class FieldModel(TabularModel):
    """Base of the zoo's embedding models: builds ``self.fields`` and keeps ``self.hyper`` for config().

    Subclasses call ``super().__init__(n_numeric, cardinalities, n_outputs, lists, embedding_dim)``,
    add their checked hyper-parameters to ``self.hyper`` (JSON-safe values) and build their layers
    over ``self.fields`` (``[B, F, embedding_dim]``; ``self.fields.n_fields`` = F).
    """

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[Mapping[str, Any]] | None,
        embedding_dim: int,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists)
        dim = positive_int("embedding_dim", embedding_dim)
        self.hyper: dict[str, Any] = {"embedding_dim": dim}
        self.fields = FieldEmbedding(self.n_numeric, self.cardinalities, self.lists, dim)

    def add_dnn_hyper(
        self, hidden: Sequence[int], activation: str, dropout: float, batch_norm: bool, *, allow_empty: bool = True
    ) -> None:
        """Check the DNN options and record them in ``self.hyper`` (hidden, activation, dropout, batch_norm)."""
        self.hyper.update(
            hidden=widths("hidden", hidden, allow_empty=allow_empty),
            activation=choice("activation", activation, list(ACTIVATIONS)),
            dropout=probability("dropout", dropout),
            batch_norm=flag("batch_norm", batch_norm),
        )

    def deep_tower(self, in_dim: int) -> DeepTower:
        """A :class:`DeepTower` from ``in_dim`` to ``n_outputs`` with the recorded DNN options."""
        h = self.hyper
        return DeepTower(in_dim, h["hidden"], self.n_outputs, h["activation"], h["dropout"], h["batch_norm"])

    def embed(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> NumericFields:
        """The rows' field embeddings (``self.fields``) as :class:`NumericFields`: a first product that folds the
        numeric fields reads the other fields as their own tensor (its backward adds their gradients instead of
        first filling a gradient of every field with zeros), and the slab is made only if a layer reads it."""
        return cast(NumericFields, self.fields(numeric, categorical, lists, parts=True))

    def deep_logits(self, fields: NumericFields) -> torch.Tensor:
        """``self.deep`` (a :class:`DeepTower`) over the flattened field embeddings that :meth:`embed` made, its
        first layer folding the numeric fields (fewer multiply-adds, the same function)."""
        return self.deep(fields)

    @property
    def flat_dim(self) -> int:
        """Width of the flattened field embeddings, F * embedding_dim."""
        return self.fields.n_fields * self.fields.dim

    def config(self) -> dict[str, Any]:
        return copy.deepcopy(self.hyper)
