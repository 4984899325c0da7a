"""Building blocks that every needmap model reuses: categorical embeddings and MLP stacks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.models.dropout import Dropout
from needmap.runtime.onednn import Linear

# Initial embedding vectors are normal with a standard deviation that shrinks with the number of ids:
# EMBEDDING_INIT_STD for a column of up to EMBEDDING_INIT_FULL_IDS ids in a table of up to
# EMBEDDING_INIT_FULL_TABLE ids, times sqrt(FULL_IDS / column ids) and sqrt(FULL_TABLE / table ids) where
# those are larger (whichever is smaller). An id seen in few rows keeps its random start, and in large
# vocabularies most ids are seen rarely: at 0.1 everywhere, FM-style pairwise products of those vectors
# became logit noise (DeepFM on 1M Criteo-shaped rows scored far lower), while a small table's
# vectors (bank's categories and numeric buckets) learn better from 0.1 than from 0.01. Read at
# construction time. The measurements: benchmarks/results/HISTORY.md.
EMBEDDING_INIT_STD = 0.1
EMBEDDING_INIT_FULL_IDS = 100
EMBEDDING_INIT_FULL_TABLE = 10_000


def embedding_init_std(cardinality: int, table_ids: int | None = None) -> float:
    """Standard deviation of the initial vectors of a column with ``cardinality`` ids in a table of
    ``table_ids`` ids in all (default: the column alone); see above."""
    total = int(cardinality) if table_ids is None else int(table_ids)
    shrink = min(
        1.0,
        math.sqrt(EMBEDDING_INIT_FULL_IDS / max(int(cardinality), 1)),
        math.sqrt(EMBEDDING_INIT_FULL_TABLE / max(total, 1)),
    )
    return EMBEDDING_INIT_STD * shrink


def init_embedding_rows(weight: torch.Tensor, cardinalities: Sequence[int]) -> None:
    """Fill ``weight`` ``[sum(cardinalities), d]`` column by column (consecutive row blocks) with normal
    vectors of :func:`embedding_init_std` of each column's ids and the table's ids."""
    start, total = 0, sum(int(c) for c in cardinalities)
    with torch.no_grad():
        for c in cardinalities:
            nn.init.normal_(weight[start : start + int(c)], std=embedding_init_std(int(c), total))
            start += int(c)


def dense(in_dim: int, out_dim: int, bias: bool = True) -> nn.Linear:
    """``nn.Linear(in_dim, out_dim)`` with Xavier-normal weights (std ``sqrt(2 / (in_dim + out_dim))``)
    and a zero bias: the start of every fully connected layer of the zoo. The layer is a
    :class:`needmap.runtime.onednn.Linear`: large float32 CPU products run on oneDNN where that is
    the faster kernel.

    PyTorch's default (uniform, std ``1 / sqrt(3 in_dim)``, random biases) starts a 624 -> 256 layer at
    half that scale; the Xavier start trained the deep CTR models to a better test AUC in the same
    epochs on the benchmark's data (benchmarks/results/HISTORY.md), and it is what FuxiCTR and the BARS
    records use.
    """
    layer = Linear(int(in_dim), int(out_dim), bias=bias)
    nn.init.xavier_normal_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "prelu": nn.PReLU,
}


def make_activation(name: str) -> nn.Module:
    """A new activation module for ``name`` (one of :data:`ACTIVATIONS`); ConfigError otherwise."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}.")
    return ACTIVATIONS[name]()


class FeatureEmbedding(nn.Module):
    """Embeddings of C categorical columns, held in ONE table.

    Column ``j`` owns the rows ``offsets[j] .. offsets[j] + cardinalities[j] - 1`` of a single
    ``nn.Embedding`` with ``sum(cardinalities)`` rows, so a lookup of all columns is one gather.

    Args:
        cardinalities: number of ids of each column (ids of column j lie in [0, cardinalities[j])).
        dim: embedding size.

    Shapes:
        forward(categorical int64 ``[B, C]``) -> float32 ``[B, C, dim]``. With C = 0 the output is
        ``[B, 0, dim]``.
    """

    def __init__(self, cardinalities: Sequence[int], dim: int) -> None:
        super().__init__()
        cards = [int(c) for c in cardinalities]
        if any(c < 1 for c in cards):
            raise ConfigError(f"cardinalities are {cards}; expected at least 1 id for every categorical column.")
        if dim < 1:
            raise ConfigError(f"embedding dim is {dim}; expected a positive integer.")
        self.cardinalities = cards
        self.dim = int(dim)
        self.embedding = nn.Embedding(max(sum(cards), 1), self.dim)
        init_embedding_rows(self.embedding.weight, cards)
        starts = [0]
        for c in cards[:-1]:
            starts.append(starts[-1] + c)
        offsets = torch.tensor(starts if cards else [], dtype=torch.int64)
        self.register_buffer("offsets", offsets)

    @property
    def n_columns(self) -> int:
        """Number of categorical columns C."""
        return len(self.cardinalities)

    def forward(self, categorical: torch.Tensor) -> torch.Tensor:
        """Look up ``categorical`` int64 ``[B, C]`` -> ``[B, C, dim]``."""
        return self.embedding(categorical + self.offsets)


#: :class:`NumericFields` pads its inputs with zero columns to a multiple of this width: the matrix products
#: run markedly slower on widths that are not (BLAS kernels step 16 floats at a time).
FOLD_ALIGN = 16


def numeric_slab(lead: torch.Tensor, numeric: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """The field slab ``[B, F, d]``: the fields before the numeric ones ``[B, F - n, d]``, then each numeric field
    ``numeric[:, j] * vectors[j]`` (numeric ``[B, n]``, vectors ``[n, d]``)."""
    return torch.cat([lead, numeric.unsqueeze(-1) * vectors], dim=1) if numeric.shape[1] else lead


class NumericFields:
    """Field embeddings ``[B, F, d]`` whose last ``n`` fields are numeric, ``numeric[:, j] * vectors[j]``
    (:class:`needmap.models.fields.FieldEmbedding`), kept as their parts: ``lead``, the fields before the numeric
    ones ``[B, F - n, d]``, and the numbers with their vectors. A layer that multiplies the fields flattened
    folds the numeric ones, and the slab itself is made only when a layer reads it (:attr:`fields`).

    A layer's product with a numeric field is ``numeric[:, j] * (W_j @ vectors[j])`` (``W_j``: its ``d`` weight
    columns of that field), so the field's ``d`` columns fold into one per step and the rows' product reads the
    number itself: ``(F - n) * d + n`` inputs instead of ``F * d``. The same function of the same parameters
    (equal to float32 rounding; the gradients flow to the layer's weight and to the vectors as before), where
    an extra numeric field (a missing indicator, a zero flag) costs the product one column instead of ``d``.

    The product reads ``lead`` as a tensor of its own, not a slice of the slab, whose backward would fill a
    gradient of every field with zeros at each step; a model that reads only folded products (Wide & Deep's
    DNN) and the factorization machine (:func:`needmap.models.fm.pairwise_sum`) never make the slab.

    Shapes: lead ``[B, F - n, d]``, numeric ``[B, n]``, vectors ``[n, d]``.
    """

    def __init__(self, lead: torch.Tensor, numeric: torch.Tensor, vectors: torch.Tensor) -> None:
        self.lead_fields, self.numeric, self.vectors = lead, numeric, vectors
        self.lead = lead.shape[1] * lead.shape[2]  # the lead fields' embedding width
        self.pad = (0, -(self.lead + numeric.shape[1]) % FOLD_ALIGN)  # zero columns up to an aligned width
        self._fields: torch.Tensor | None = None
        self._inputs: torch.Tensor | None = None

    @property
    def fields(self) -> torch.Tensor:
        """The field slab ``[B, F, d]`` (:func:`numeric_slab`, made once)."""
        if self._fields is None:
            self._fields = numeric_slab(self.lead_fields, self.numeric, self.vectors)
        return self._fields

    @property
    def flat(self) -> torch.Tensor:
        """The fields flattened, ``[B, F * d]``."""
        return self.fields.flatten(1)

    def inputs(self) -> torch.Tensor:
        """``[B, (F - n) * d + n + pad]``: the other fields' embeddings, the numbers, zeros (made once)."""
        if self._inputs is None:
            numbers = nn.functional.pad(self.numeric.to(self.lead_fields.dtype), self.pad)
            self._inputs = torch.cat([self.lead_fields.flatten(1), numbers], dim=1)
        return self._inputs

    def weight(self, weight: torch.Tensor) -> torch.Tensor:
        """``weight`` ``[out, F * d]`` folded for :meth:`inputs`: ``inputs() @ w^T == flat @ weight^T``."""
        numeric = weight[:, self.lead :].unflatten(1, tuple(self.vectors.shape))
        return nn.functional.pad(torch.cat([weight[:, : self.lead], (numeric * self.vectors).sum(-1)], dim=1), self.pad)

    def product(self, layer: nn.Module, relu: bool = False) -> torch.Tensor:
        """``layer(flat)`` for a :class:`needmap.runtime.onednn.Linear` (its forward takes a weight), folded;
        any other layer, or no numeric field, multiplies the flattened fields. ``relu``: ``relu(layer(flat))``
        by the Linear's :meth:`~needmap.runtime.onednn.Linear.forward_relu` (a Linear only)."""
        if self.numeric.shape[1] == 0 or not isinstance(layer, Linear):
            args: tuple[torch.Tensor, ...] = (self.flat,)
        else:
            args = (self.inputs(), self.weight(layer.weight))
        return layer.forward_relu(*args) if relu else layer(*args)


def _hooked(module: nn.Module) -> bool:
    """Whether calling ``module`` would run hooks: its own (forward, forward-pre, backward, backward-pre) or any
    registered for every module."""
    every = nn.modules.module
    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or module._backward_hooks
        or module._backward_pre_hooks
        or every._global_forward_hooks
        or every._global_forward_pre_hooks
        or every._global_backward_hooks
        or every._global_backward_pre_hooks
    )


class _Layers(nn.Sequential):
    """:class:`MLPBlock`'s layers in order, the first folding :class:`NumericFields` when given them (a
    Sequential whose state dict keys stay ``layers.<i>.*``).

    A Linear followed by a plain ReLU, neither with hooks, is called as one
    (:meth:`needmap.runtime.onednn.Linear.forward_relu`): where oneDNN makes the forward product, the activation
    is fused into it, in training and in scoring. Hooked layers are called as they are, so their hooks run."""

    def forward(self, x: torch.Tensor | NumericFields) -> torch.Tensor:
        layers = list(self._modules.values())
        i = 0
        while i < len(layers):
            layer = layers[i]
            relu = _fusable(layer, layers[i + 1] if i + 1 < len(layers) else None)  # the ReLU after it taken too
            if i == 0 and isinstance(x, NumericFields):
                x = x.product(layer, relu=relu)
            else:
                x = layer.forward_relu(x) if relu else layer(x)
            i += 2 if relu else 1
        return x.flat if isinstance(x, NumericFields) else x  # no layers: the fields as they are


def _fusable(layer: nn.Module, after: nn.Module | None) -> bool:
    """Whether ``layer`` and ``after`` are a :class:`Linear` and a plain ReLU, neither with hooks."""
    return isinstance(layer, Linear) and type(after) is nn.ReLU and not _hooked(layer) and not _hooked(after)


class MLPBlock(nn.Module):
    """A stack of fully connected layers: Linear (+ BatchNorm1d) + activation + Dropout per layer.

    Args:
        in_dim: width of the input.
        hidden: width of each layer; empty = identity (output = input).
        activation: 'relu', 'gelu', 'silu', 'tanh' or 'prelu'.
        dropout: dropout probability after each layer's activation, in [0, 1).
        batch_norm: put a BatchNorm1d between each Linear and its activation.

    Shapes:
        forward(x float32 ``[B, in_dim]``) -> ``[B, out_dim]`` with ``out_dim = hidden[-1]`` (or
        ``in_dim`` when ``hidden`` is empty).
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int],
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        widths = [int(h) for h in hidden]
        if any(w < 1 for w in widths):
            raise ConfigError(f"hidden layer widths are {widths}; expected positive integers.")
        if not 0 <= dropout < 1:
            raise ConfigError(f"dropout is {dropout!r}; expected a probability in [0, 1).")
        make_activation(activation)
        layers: list[nn.Module] = []
        width = int(in_dim)
        for out in widths:
            layers.append(dense(width, out))
            if batch_norm:
                layers.append(nn.BatchNorm1d(out))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = out
        self.layers = _Layers(*layers)
        self.in_dim = int(in_dim)
        self.out_dim = width

    def forward(self, x: torch.Tensor | NumericFields) -> torch.Tensor:
        """``[B, in_dim]`` -> ``[B, out_dim]``; given :class:`NumericFields`, the first layer folds them."""
        return self.layers(x)


class ListEmbedding(nn.Module):
    """Embeddings of list features: multi-hot interests and behaviour sequences.

    Each list's ids index its own rows of ONE table (offsets, as in :class:`FeatureEmbedding`),
    except a list whose spec has ``share = j``: it reads categorical column ``j``'s rows of
    ``shared`` (the same item vocabulary, e.g. a history of movies and the candidate movie).
    Id 0 is padding and never contributes.

    Args:
        specs: normalized list specs (``TabularModel.lists``).
        dim: embedding size (must equal ``shared.dim`` when a list shares).
        shared: the model's categorical embeddings, for lists that share a vocabulary.

    Shapes:
        forward(lists: tuple of int64 ``[B, L_k]``) -> pooled float32 ``[B, n_lists, dim]`` (mean
        or sum over the non-padding positions; all-padding rows give zeros).
        sequence(k, ids int64 ``[B, L]``) -> (per-position embeddings ``[B, L, dim]``, mask bool
        ``[B, L]`` true where the position holds an id).
    """

    def __init__(self, specs: Sequence[dict], dim: int, shared: FeatureEmbedding | None = None) -> None:
        super().__init__()
        self.specs = [dict(s) for s in specs]
        self.dim = int(dim)
        # Kept outside the module tree (a plain list) so the shared table is saved once, by its owner.
        self._shared = [shared] if shared is not None else []
        if any(s["share"] is not None for s in self.specs) and (shared is None or shared.dim != self.dim):
            raise ConfigError("a list feature shares a categorical vocabulary, but no embedding of that size is given.")
        own = [s["cardinality"] if s["share"] is None else 0 for s in self.specs]
        starts = [0]
        for c in own[:-1]:
            starts.append(starts[-1] + c)
        self.register_buffer("offsets", torch.tensor(starts if own else [], dtype=torch.int64))
        self.embedding: nn.Embedding | None = None
        if sum(own):
            self.embedding = nn.Embedding(sum(own), self.dim)
            init_embedding_rows(self.embedding.weight, [c for c in own if c])

    def sequence(self, k: int, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spec = self.specs[k]
        mask = ids != 0
        if spec["share"] is not None:
            shared = self._shared[0]
            vectors = shared.embedding(ids + shared.offsets[spec["share"]])
        else:
            assert self.embedding is not None
            vectors = self.embedding(ids + self.offsets[k])
        return vectors * mask.unsqueeze(-1), mask

    def forward(self, lists: Sequence[torch.Tensor]) -> torch.Tensor:
        pooled = []
        for k, ids in enumerate(lists):
            vectors, mask = self.sequence(k, ids)
            total = vectors.sum(dim=1)
            if self.specs[k]["pooling"] == "mean":
                total = total / mask.sum(dim=1, keepdim=True).clamp(min=1)
            pooled.append(total)
        if not pooled:
            batch = lists[0].shape[0] if len(lists) else 0
            return torch.zeros((batch, 0, self.dim))
        return torch.stack(pooled, dim=1)
