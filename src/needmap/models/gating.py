"""Gates over fields: FinalMLP's feature selection and bilinear fusion, FinalNet's field gate."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.models.hyper import positive_int
from needmap.models.layers import MLPBlock, dense


class FeatureSelection(nn.Module):
    """FinalMLP's stream-specific feature selection (Mao et al. 2023, eq. 4-5).

    Each of the two streams gets its own view of the flattened fields, ``e * 2 sigmoid(MLP(c))``,
    where the context ``c`` is the flattened embedding of some fields (the paper uses user fields
    for one stream and item fields for the other) or, when no field is given, a learned vector
    (the gate is then the same for every row: a learned importance per field dimension).

    Args:
        n_fields: F.
        dim: embedding size d.
        hidden: hidden widths of each gate MLP (ReLU).
        context1, context2: field positions (0-based, in :class:`~needmap.models.fields.FieldEmbedding`
            order) that condition the gate of stream 1 and 2.

    Shapes: forward(fields ``[B, F, d]``) -> (``[B, F * d]``, ``[B, F * d]``).
    """

    def __init__(
        self, n_fields: int, dim: int, hidden: Sequence[int], context1: Sequence[int], context2: Sequence[int]
    ) -> None:
        super().__init__()
        self.contexts = [list(context1), list(context2)]
        # Small random rather than zero, so that the gate MLP's first layer gets a gradient from step one.
        self.defaults = nn.ParameterList(nn.Parameter(torch.randn(dim) * 0.1) for _ in range(2))
        self.gates = nn.ModuleList()
        for context in self.contexts:
            mlp = MLPBlock(dim * max(1, len(context)), hidden, "relu")
            self.gates.append(nn.Sequential(mlp, dense(mlp.out_dim, n_fields * dim)))

    def forward(self, fields: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = fields.flatten(1)
        views = []
        for context, default, gate in zip(self.contexts, self.defaults, self.gates, strict=True):
            source = fields[:, context].flatten(1) if context else default.expand(fields.shape[0], -1)
            views.append(flat * (2.0 * torch.sigmoid(gate(source))))
        return views[0], views[1]


class BilinearFusion(nn.Module):
    """FinalMLP's multi-head bilinear fusion of two stream outputs (Mao et al. 2023, eq. 6-7).

    ``y = b + w1^T o1 + w2^T o2 + sum_h o1_h^T W_h o2_h``: both outputs are cut into ``heads``
    chunks and head h's chunks interact through their own matrix W_h (one per output). All
    heads are one einsum.

    Args:
        dim1, dim2: widths of o1 and o2 (each divisible by ``heads``).
        n_outputs: K.
        heads: number of heads.

    Shapes: forward(o1 ``[B, dim1]``, o2 ``[B, dim2]``) -> ``[B, K]``.
    """

    def __init__(self, dim1: int, dim2: int, n_outputs: int, heads: int) -> None:
        super().__init__()
        self.heads = positive_int("num_heads", heads)
        if dim1 % self.heads or dim2 % self.heads:
            raise ConfigError(
                f"the two streams end with {dim1} and {dim2} units and num_heads is {heads}; "
                "expected both widths divisible by num_heads."
            )
        h1, h2 = dim1 // self.heads, dim2 // self.heads
        self.linear1 = dense(dim1, n_outputs)
        self.linear2 = dense(dim2, n_outputs, bias=False)
        self.bilinear = nn.Parameter(torch.randn(self.heads, h1, n_outputs, h2) * (2.0 / (h1 * n_outputs + h2)) ** 0.5)

    def forward(self, o1: torch.Tensor, o2: torch.Tensor) -> torch.Tensor:
        batch = o1.shape[0]
        x = o1.view(batch, self.heads, -1)
        y = o2.view(batch, self.heads, -1)
        pairs = torch.einsum("bhi,hikj,bhj->bk", x, self.bilinear, y)
        return self.linear1(o1) + self.linear2(o2) + pairs


class FieldGate(nn.Module):
    """FinalNet's field-wise gating: ``g = W e + b`` mixes the F fields per embedding dimension.

    Output is the fields and the gated fields side by side, ``[e, e * g]``. ``W`` starts at zero
    and ``b`` at one, so training starts from the ungated fields.

    Shapes: forward(fields ``[B, F, d]``) -> ``[B, 2F, d]``.
    """

    def __init__(self, n_fields: int) -> None:
        super().__init__()
        self.mix = dense(n_fields, n_fields)
        nn.init.zeros_(self.mix.weight)
        nn.init.ones_(self.mix.bias)

    def forward(self, fields: torch.Tensor) -> torch.Tensor:
        gates = self.mix(fields.transpose(1, 2)).transpose(1, 2)
        return torch.cat([fields, fields * gates], dim=1)
