"""Second-order factorization machine interaction over field embeddings."""

from __future__ import annotations

import torch
from torch import nn

from needmap.models.layers import NumericFields, dense


def _pairwise(fields: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``0.5 * (|T|^2 - S)`` ``[B, 1]`` and ``T`` ``[B, d]``, for ``T = sum_i e_i + t``, ``S = sum_i |e_i|^2 + s``: the
    squared norm of all the fields at once, one reduction instead of squaring every field and summing."""
    total = fields.sum(dim=1) + t
    squares = torch.linalg.vector_norm(fields.flatten(1), dim=1, keepdim=True).square() + s
    return 0.5 * (total.square().sum(dim=1, keepdim=True) - squares), total


class _PairwiseSum(torch.autograd.Function):
    """``0.5 * (|T|^2 - S)`` per row, ``T = sum_i e_i + t``, ``S = sum_i |e_i|^2 + s``, with its gradient in one
    pass over the fields: ``d/de_f = g * (T - e_f)``, ``d/dt = g * T``, ``d/ds = -g / 2``.

    Autograd's own backward of the forward's reductions writes the ``[B, F, d]`` slab several times (the norm's
    gradient divides, masks and multiplies it, then the sum's gradient is added); here one ``addcmul`` writes
    it once. Differentiable once (no gradient of the gradient).
    """

    @staticmethod
    def forward(ctx, fields: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out, total = _pairwise(fields, t, s)
        ctx.save_for_backward(fields, total)
        ctx.dtypes = (t.dtype, s.dtype)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        fields, total = ctx.saved_tensors
        need_fields, need_t, need_s = ctx.needs_input_grad
        scaled = grad * total
        grad_fields = None
        if need_fields:
            g = grad.to(fields.dtype)
            grad_fields = torch.addcmul(scaled.to(fields.dtype).unsqueeze(1), fields, g.unsqueeze(2), value=-1)
        grad_t = scaled.to(ctx.dtypes[0]) if need_t else None
        grad_s = (grad * -0.5).to(ctx.dtypes[1]) if need_s else None
        return grad_fields, grad_t, grad_s


def pairwise_sum(fields: torch.Tensor | NumericFields) -> torch.Tensor:
    """``sum_{i<j} <e_i, e_j>`` per row, in O(F d): ``0.5 * (|sum_i e_i|^2 - sum_i |e_i|^2)``.

    :func:`bi_interaction` summed over the embedding dimensions (:func:`_pairwise`), its gradient written in one
    pass over the ``[B, F, d]`` slab (:class:`_PairwiseSum`). Given :class:`NumericFields`, the numeric fields
    ``x_j v_j`` enter by their sums (``x @ V`` and ``x^2 @ |v_j|^2``), so the slab is never made.

    Shapes: fields ``[B, F, d]`` (or :class:`NumericFields` of F fields) -> ``[B, 1]``.
    """
    if isinstance(fields, NumericFields):
        lead, numeric, vectors = fields.lead_fields, fields.numeric.to(fields.vectors.dtype), fields.vectors
        with torch.autocast(numeric.device.type, enabled=False):  # in float32, as the slab's own products are
            t = numeric @ vectors
            s = numeric.square() @ vectors.square().sum(dim=1, keepdim=True)
    else:
        lead = fields
        t = s = lead.new_zeros(())
    if torch.is_grad_enabled() and (lead.requires_grad or t.requires_grad or s.requires_grad):
        return _PairwiseSum.apply(lead, t, s)
    return _pairwise(lead, t, s)[0]  # scoring and export: the same sums, no saved tensors


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

    Shapes: forward(fields ``[B, F, d]`` or :class:`~needmap.models.layers.NumericFields`) -> ``[B, K]``.
    """

    def __init__(self, dim: int, n_outputs: int = 1) -> None:
        super().__init__()
        self.project = dense(dim, n_outputs, bias=False) if n_outputs > 1 else None

    def forward(self, fields: torch.Tensor | NumericFields) -> torch.Tensor:
        if self.project is None:
            return pairwise_sum(fields)
        return self.project(bi_interaction(fields.fields if isinstance(fields, NumericFields) else fields))
