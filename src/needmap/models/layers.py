"""Building blocks that every needmap model reuses: categorical embeddings and MLP stacks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from needmap.errors import ConfigError

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
        nn.init.normal_(self.embedding.weight, std=0.1)
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
            layers.append(nn.Linear(width, out))
            if batch_norm:
                layers.append(nn.BatchNorm1d(out))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = out
        self.layers = nn.Sequential(*layers)
        self.in_dim = int(in_dim)
        self.out_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_dim]`` -> ``[B, out_dim]``."""
        return self.layers(x)
