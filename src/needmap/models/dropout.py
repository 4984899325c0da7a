"""Dropout whose random mask costs a quarter of torch's on the CPU.

``nn.Dropout`` draws one Bernoulli number per element; on a CPU that draw, not the multiply, is most of the
cost, and with dropout after each wide hidden layer it was a large share of a training step. This module
draws one 64-bit random integer per four elements and reads it as four 16-bit lanes: an element is kept when
its lane is at or above a threshold, so the drop probability is ``p`` rounded to a multiple of 1/65536. The
kept elements are scaled by ``1 / (1 - p)`` as in ``nn.Dropout`` (inverted dropout), so evaluation is the
identity. The mask comes from torch's default generator: ``torch.manual_seed`` makes it repeatable.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

_LANES = 4  # 16-bit lanes of one int64 draw
_LEVELS = 1 << 16


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """A bool mask of ``shape``: each element True with probability ``1 - p`` (p rounded to 1/65536)."""
    numel = shape.numel()
    draws = torch.empty((numel + _LANES - 1) // _LANES, dtype=torch.int64, device=device)
    draws.random_(-(1 << 63), (1 << 63) - 1)  # every bit random (the default range leaves the sign bit 0)
    lanes = draws.view(torch.int16)[:numel].view(shape)
    threshold = round(p * _LEVELS) - (_LEVELS // 2)  # lanes are int16: P(lane < threshold) = round(p * 65536) / 65536
    return lanes >= threshold


class _Scaled(torch.autograd.Function):
    """``x * factors`` whose gradient is ``grad * factors``: the factors (0 or 1 / (1 - p)) are saved, not x."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(factors)
        return x * factors

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (factors,) = ctx.saved_tensors
        return grad * factors, None


class Dropout(nn.Module):
    """``nn.Dropout(p)`` with the cheaper mask of :func:`keep_mask`: in training, each element is zeroed with
    probability ``p`` and the others scaled by ``1 / (1 - p)``; in evaluation, the identity."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability is {p}; expected 0 <= p < 1")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        factors = keep_mask(x.shape, self.p, x.device).to(x.dtype).mul_(1.0 / (1.0 - self.p))
        return _Scaled.apply(x, factors)

    def extra_repr(self) -> str:
        return f"p={self.p}"
