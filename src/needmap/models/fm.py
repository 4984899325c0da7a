"""Second-order factorization machine interaction over field embeddings."""

from __future__ import annotations

import torch
from torch import nn

from needmap.models.layers import dense


def pairwise_sum(fields: torch.Tensor) -> torch.Tensor:
    """``sum_{i<j} <e_i, e_j>`` per row, in O(F d): ``0.5 * (|sum_i e_i|^2 - sum_i |e_i|^2)``.

    :func:`bi_interaction` summed over the embedding dimensions. The squared norm of all the fields at once
    (one reduction whose gradient is one product) takes the place of squaring every field and summing:
    the backward pass then reads and writes the ``[B, F, d]`` slab once instead of three times.

    Shapes: fields ``[B, F, d]`` -> ``[B, 1]``.
    """
    total = fields.sum(dim=1)
    squares = torch.linalg.vector_norm(fields.flatten(1), dim=1, keepdim=True).square()
    return 0.5 * (total.square().sum(dim=1, keepdim=True) - squares)


def bi_interaction(fields: torch.Tensor) -> torch.Tensor:
    """Sum of the element-wise products of every pair of fields, in O(F d).

    ``0.5 * ((sum_i e_i)^2 - sum_i e_i^2)`` (Rendle's identity; NFM's bi-interaction pooling).

    Shapes: fields ``[B, F, d]`` -> ``[B, d]``.
    """
    total = fields.sum(dim=1)
    return 0.5 * (total * total - (fields * fields).sum(dim=1))


class FMInteraction(nn.Module):
    """The FM term ``sum_{i<j} <e_i, e_j>`` as logits.

    With one output it is the factorization machine's second-order term (no parameter). With
    K > 1 outputs (multiclass) the pairwise-product vector ``[B, d]`` goes through a Linear
    ``d -> K`` without bias, so each class weighs the embedding dimensions on its own.

    Args:
        dim: embedding size d.
        n_outputs: K.

    Shapes: forward(fields ``[B, F, d]``) -> ``[B, K]``.
    """

    def __init__(self, dim: int, n_outputs: int = 1) -> None:
        super().__init__()
        self.project = dense(dim, n_outputs, bias=False) if n_outputs > 1 else None

    def forward(self, fields: torch.Tensor) -> torch.Tensor:
        if self.project is None:
            return pairwise_sum(fields)
        return self.project(bi_interaction(fields))
