"""Compressed Interaction Network (CIN) of xDeepFM: explicit vector-wise high-order interactions."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from needmap.models.hyper import widths


class CompressedInteraction(nn.Module):
    """CIN (Lian et al. 2018, eq. 6): ``X^k_h = sum_{i,j} W^{k,h}_{ij} (X^{k-1}_i * X^0_j)``.

    Layer k forms the element-wise products of each of its H_{k-1} input maps with each of the F
    fields (``[B, H_{k-1}, F, d]``) and compresses them to H_k maps by a learned weighting (a
    1x1 convolution), written as one einsum. Each layer's maps are sum-pooled over the embedding
    dimension; the pooled vectors of all layers are concatenated. Cost per layer: time and memory
    ``O(B * H_{k-1} * F * d)`` for the products, the most expensive layer of the zoo on a CPU.

    Args:
        n_fields: F.
        layer_sizes: H_1 .. H_L, the feature maps of each layer.

    Shapes: forward(x0 ``[B, F, d]``) -> ``[B, sum(layer_sizes)]`` (``out_dim``).
    """

    def __init__(self, n_fields: int, layer_sizes: Sequence[int]) -> None:
        super().__init__()
        sizes = widths("cin_layers", layer_sizes, allow_empty=False)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        previous = n_fields
        for size in sizes:
            fan_in = previous * n_fields
            weight = torch.randn(previous, n_fields, size) * (2.0 / (fan_in + size)) ** 0.5  # [H_{k-1}, F, H_k]
            self.weights.append(nn.Parameter(weight))
            self.biases.append(nn.Parameter(torch.zeros(size)))
            previous = size
        self.out_dim = sum(sizes)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        pooled = []
        for weight, bias in zip(self.weights, self.biases, strict=True):
            x = torch.einsum("bhd,bfd,hfk->bkd", x, x0, weight) + bias.unsqueeze(-1)  # [B, H_k, d]
            pooled.append(x.sum(dim=-1))
        return torch.cat(pooled, dim=1)
