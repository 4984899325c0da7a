"""Parameter-efficient ensembles: k members that share one network (TabM-mini, Gorishniy et al. 2025).

A model with ``ensemble_size = k`` runs every row through the same layers k times, each time
scaled by its member's own vector (:class:`MemberScale`, started at random +-1 signs and trained),
and ends in k separate output layers (:class:`MemberLinear`). The members are trained together on
the mean of their losses (the trainer asks :meth:`~needmap.models.base.TabularModel.member_logits`)
and predict the mean of their logits. The members add only ``k * D`` scale parameters and ``k - 1``
extra output layers, but cost about k times the compute of one network per row (BENCHMARKS.md has
the training times at k = 8 beside one network's).
"""

from __future__ import annotations

import torch
from torch import nn

from needmap.models.hyper import positive_int


class MemberScale(nn.Module):
    """Each row once per member, scaled by the member's vector: ``x [B, D] -> x * r_i [B, k, D]``.

    The vectors ``r`` (float32 ``[k, D]``) start at random +-1 signs, so the members see the same
    inputs in k different orientations from the first step; they are trained with the network.
    """

    def __init__(self, ensemble_size: int, dim: int) -> None:
        super().__init__()
        k = positive_int("ensemble_size", ensemble_size)
        signs = torch.randint(0, 2, (k, int(dim))).float() * 2.0 - 1.0
        self.scale = nn.Parameter(signs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, D]`` -> ``[B, k, D]``."""
        return x.unsqueeze(1) * self.scale


class MemberLinear(nn.Module):
    """One Linear layer per member: ``h [B, k, in_dim] -> [B, k, out_dim]``, ``out_i = h_i W_i + b_i``.

    Each ``W_i`` (``[in_dim, out_dim]``) starts Xavier-normal and each ``b_i`` at zero, as
    :func:`~needmap.models.layers.dense` starts a single layer.
    """

    def __init__(self, ensemble_size: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        k = positive_int("ensemble_size", ensemble_size)
        std = (2.0 / (int(in_dim) + int(out_dim))) ** 0.5
        self.weight = nn.Parameter(torch.randn(k, int(in_dim), int(out_dim)) * std)
        self.bias = nn.Parameter(torch.zeros(k, int(out_dim)))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``[B, k, in_dim]`` -> ``[B, k, out_dim]``."""
        return torch.einsum("bki,kio->bko", h, self.weight) + self.bias
