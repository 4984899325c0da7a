"""Cross networks of DCN-V2: full-rank CrossNetV2 and the mixture of low-rank experts (DCN-Mix)."""

from __future__ import annotations

import torch
from torch import nn

from needmap.models.hyper import positive_int
from needmap.models.layers import NumericFields, dense


class CrossNetV2(nn.Module):
    """Explicit feature crosses: ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l`` for l = 0 .. layers-1.

    Each layer raises the polynomial degree by one (Wang et al. 2021, eq. 1).

    Args:
        in_dim: width D of ``x_0`` (flattened field embeddings).
        layers: number of cross layers.

    Shapes: forward(x0 ``[B, D]``) -> ``[B, D]``.
    """

    def __init__(self, in_dim: int, layers: int) -> None:
        super().__init__()
        positive_int("cross_layers", layers)
        self.layers = nn.ModuleList(dense(in_dim, in_dim) for _ in range(layers))

    def forward(self, x0: torch.Tensor | NumericFields) -> torch.Tensor:
        """``x0`` ``[B, D]``, or :class:`NumericFields` whose numeric fields the first layer's product folds."""
        flat = x0.flat if isinstance(x0, NumericFields) else x0
        x = flat
        for i, layer in enumerate(self.layers):  # x_0 is x0 itself: the first product may fold it
            product = x0.product(layer) if i == 0 and isinstance(x0, NumericFields) else layer(x)
            x = flat * product + x
        return x


class CrossNetMix(nn.Module):
    """DCN-Mix: each cross layer is a gated mixture of E low-rank experts.

    ``x_{l+1} = sum_i g_i(x_l) * x_0 * (U_i tanh(C_i tanh(V_i^T x_l)) + b_l) + x_l`` with
    ``g = softmax(G x_l)`` over the experts (Wang et al. 2021, eq. 3-4). ``V_i, U_i`` are
    ``[D, r]``, ``C_i`` is ``[r, r]``; the gate G is shared by the layers, as in the reference
    implementations. All experts are computed at once (einsum), no loop over experts.

    Args:
        in_dim: width D of ``x_0``.
        layers: number of cross layers.
        low_rank: rank r of each expert.
        num_experts: E.

    Shapes: forward(x0 ``[B, D]``) -> ``[B, D]``.
    """

    def __init__(self, in_dim: int, layers: int, low_rank: int, num_experts: int) -> None:
        super().__init__()
        n = positive_int("cross_layers", layers)
        r = positive_int("low_rank", low_rank)
        e = positive_int("num_experts", num_experts)
        # Xavier-normal per expert matrix: std = sqrt(2 / (fan_in + fan_out)).
        self.V = nn.Parameter(torch.randn(n, e, in_dim, r) * (2.0 / (in_dim + r)) ** 0.5)
        self.C = nn.Parameter(torch.randn(n, e, r, r) * (1.0 / r) ** 0.5)
        self.U = nn.Parameter(torch.randn(n, e, in_dim, r) * (2.0 / (in_dim + r)) ** 0.5)
        self.bias = nn.Parameter(torch.zeros(n, in_dim))
        self.gate = dense(in_dim, e, bias=False)

    def forward(self, x0: torch.Tensor | NumericFields) -> torch.Tensor:
        """``x0`` ``[B, D]`` (:class:`NumericFields` are read flattened: the experts' products are low-rank)."""
        x0 = x0.flat if isinstance(x0, NumericFields) else x0
        x = x0
        for l in range(self.V.shape[0]):  # noqa: E741 - the paper's layer index
            v = torch.tanh(torch.einsum("bd,edr->ber", x, self.V[l]))
            v = torch.tanh(torch.einsum("ers,bes->ber", self.C[l], v))
            u = torch.einsum("edr,ber->bed", self.U[l], v)
            experts = x0.unsqueeze(1) * (u + self.bias[l])  # [B, E, D]
            weights = torch.softmax(self.gate(x), dim=-1)  # [B, E]
            x = torch.einsum("be,bed->bd", weights, experts) + x
        return x
