"""Multi-head self-attention over fields (AutoInt's interacting layer)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from needmap.errors import ConfigError
from needmap.models.hyper import positive_int, probability
from needmap.models.layers import dense


class FieldSelfAttention(nn.Module):
    """One interacting layer (Song et al. 2019, eq. 5-8): every field attends to every field.

    Queries, keys and values are linear maps of the fields, split into ``heads`` heads of
    ``attention_dim / heads`` each; scores are dot products (divided by sqrt(head size) when
    ``scale``); the heads' outputs are concatenated, the residual ``W_res e`` (identity when the
    sizes agree) is added when ``residual``, then optional LayerNorm and ReLU.

    Args:
        in_dim: size of each input field vector.
        attention_dim: size of each output field vector (all heads together).
        heads: number of heads; must divide ``attention_dim``.
        dropout: dropout on the attention weights during training.
        residual, scale, layer_norm: see above.

    Shapes: forward(fields ``[B, F, in_dim]``) -> ``[B, F, attention_dim]``.
    """

    def __init__(
        self,
        in_dim: int,
        attention_dim: int,
        heads: int,
        dropout: float = 0.0,
        residual: bool = True,
        scale: bool = True,
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        self.attention_dim = positive_int("attention_dim", attention_dim)
        self.heads = positive_int("num_heads", heads)
        if self.attention_dim % self.heads:
            raise ConfigError(
                f"attention_dim is {attention_dim} and num_heads {heads}; "
                "expected attention_dim divisible by num_heads."
            )
        self.dropout = probability("dropout", dropout)
        self.scale = bool(scale)
        self.qkv = dense(in_dim, 3 * self.attention_dim, bias=False)
        self.residual: nn.Module | None = None
        if residual:
            self.residual = (
                nn.Identity() if in_dim == self.attention_dim else dense(in_dim, self.attention_dim, bias=False)
            )
        self.norm = nn.LayerNorm(self.attention_dim) if layer_norm else None

    def forward(self, fields: torch.Tensor) -> torch.Tensor:
        batch, n_fields, _ = fields.shape
        head_dim = self.attention_dim // self.heads
        q, k, v = self.qkv(fields).view(batch, n_fields, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            dropout_p=self.dropout if self.training else 0.0,
            scale=None if self.scale else 1.0,
        )  # [B, heads, F, head_dim]
        out = out.transpose(1, 2).reshape(batch, n_fields, self.attention_dim)
        if self.residual is not None:
            out = out + self.residual(fields)
        if self.norm is not None:
            out = self.norm(out)
        return torch.relu(out)
