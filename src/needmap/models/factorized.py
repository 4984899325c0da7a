"""FinalNet's factorized interaction layer and the FinalBlock that stacks it in place of an MLP."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.models.dropout import Dropout
from needmap.models.hyper import choice
from needmap.models.layers import dense, make_activation

RESIDUALS = ("concat", "sum")


class FactorizedInteraction(nn.Module):
    """A Linear whose output multiplies with itself: second-order interactions in one layer.

    ``[h2, h1] = W x + b``; "concat" returns ``[h2, h1 * h2]`` (as many parameters as a Linear to
    ``out_dim``, which must be even), "sum" returns ``h2 + h1 * h2`` (twice the parameters).
    Stacking L layers reaches interactions of order 2^L (Zhu et al. 2023).

    Shapes: forward(x ``[B, in_dim]``) -> ``[B, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, residual: str = "concat") -> None:
        super().__init__()
        self.residual = choice("residual_type", residual, RESIDUALS)
        if residual == "concat" and out_dim % 2:
            raise ConfigError(f"a 'concat' factorized layer has {out_dim} units; expected an even number.")
        self.linear = dense(in_dim, out_dim * 2 if residual == "sum" else out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h2, h1 = self.linear(x).chunk(2, dim=-1)
        if self.residual == "concat":
            return torch.cat([h2, h1 * h2], dim=-1)
        return h2 + h1 * h2


class FinalBlock(nn.Module):
    """FinalNet's block: factorized layers, each followed by BatchNorm, an activation, Dropout.

    Args:
        in_dim: input width.
        hidden: output width of each factorized layer (non-empty).
        activation: None (the paper's default: the products supply the non-linearity) or a
            name of :data:`~needmap.models.layers.ACTIVATIONS`.
        dropout: dropout after each layer.
        batch_norm: BatchNorm1d after each layer.
        residual: "concat" or "sum" (see :class:`FactorizedInteraction`).

    Shapes: forward(x ``[B, in_dim]``) -> ``[B, hidden[-1]]``.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int],
        activation: str | None = None,
        dropout: float = 0.0,
        batch_norm: bool = True,
        residual: str = "concat",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for out in hidden:
            layers.append(FactorizedInteraction(width, out, residual))
            if batch_norm:
                layers.append(nn.BatchNorm1d(out))
            if activation is not None:
                layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = out
        self.layers = nn.Sequential(*layers)
        self.out_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
