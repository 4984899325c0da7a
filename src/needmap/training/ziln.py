"""The zero-inflated log-normal (ZILN) head of a lifetime-value target (Wang, Liu & Miao 2019).

A customer's spend over a horizon is 0 with probability ``1 - p`` and otherwise log-normal:
``log(spend) ~ N(mu, sigma^2)``. The head has 3 outputs per row: the logit of buying, mu and a raw sigma
(``sigma = softplus(raw) + SIGMA_FLOOR``, so that it is positive and the loss stays finite). Its loss is the
negative log-likelihood of that mixture:

``-log L = BCE(logit, spend > 0) + [spend > 0] * (log(spend) + log(sigma) + log(2 pi) / 2
+ (log(spend) - mu)^2 / (2 sigma^2))``

and its scores are the expected spend ``p * exp(mu + sigma^2 / 2)``, the chance to buy ``p`` and the expected
spend of a buyer ``exp(mu + sigma^2 / 2)``.

The outputs start near 0, far from a typical log spend (log 100 = 4.6) and a typical share of buyers: the loss
and the scores add offsets computed once from the training targets (:func:`ziln_offsets`: the logit of the
share that spent, the mean log spend of those who did), saved as the head's scaling, so that an untrained
network already predicts the mean buyer and the training starts from there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

#: Added to softplus(raw sigma): sigma never reaches 0, where the log-likelihood is unbounded.
SIGMA_FLOOR = 1e-3
#: exp() of at most this in the scores: a wild output saturates instead of overflowing to infinity.
MAX_EXPONENT = 60.0
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def ziln_offsets(labels: np.ndarray) -> dict[str, float]:
    """``{"logit_offset", "mu_offset"}`` of training targets ``labels`` ``[n]`` (>= 0): the logit of the share
    of rows that spent (clipped to [1e-4, 1 - 1e-4]) and the mean log spend of those rows (0 when none did)."""
    y = np.asarray(labels, dtype=np.float64)
    positive = y[y > 0]
    share = float(np.clip(len(positive) / max(len(y), 1), 1e-4, 1 - 1e-4))
    return {
        "logit_offset": math.log(share / (1.0 - share)),
        "mu_offset": float(np.log(positive).mean()) if len(positive) else 0.0,
    }


def _offsets(scaling: Mapping[str, Any] | None) -> tuple[float, float]:
    if not scaling:
        return 0.0, 0.0
    return float(scaling.get("logit_offset", 0.0)), float(scaling.get("mu_offset", 0.0))


class ZilnLoss(nn.Module):
    """The ZILN negative log-likelihood of outputs ``[B, 3]`` against spends ``[B]`` (see the module docstring),
    the mean over the batch (``reduction='mean'``) or per row (``'none'``)."""

    def __init__(self, logit_offset: float = 0.0, mu_offset: float = 0.0, reduction: str = "mean") -> None:
        super().__init__()
        self.logit_offset, self.mu_offset, self.reduction = float(logit_offset), float(mu_offset), reduction

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out = out.float()
        target = target.float()
        logit = out[:, 0] + self.logit_offset
        mu = out[:, 1] + self.mu_offset
        sigma = functional.softplus(out[:, 2]) + SIGMA_FLOOR
        positive = (target > 0).float()
        classification = functional.binary_cross_entropy_with_logits(logit, positive, reduction="none")
        log_y = torch.log(torch.where(target > 0, target, torch.ones_like(target)))
        lognormal = log_y + torch.log(sigma) + _HALF_LOG_2PI + (log_y - mu) ** 2 / (2.0 * sigma**2)
        per_row = classification + positive * lognormal
        return per_row.mean() if self.reduction == "mean" else per_row


def ziln_loss(labels: np.ndarray, class_weight: Any, n_outputs: int, reduction: str) -> nn.Module:
    """The head kind's loss: :class:`ZilnLoss` with the offsets of the training targets ``labels``
    (``class_weight`` does not apply to a spend and is not used)."""
    offsets = ziln_offsets(labels)
    return ZilnLoss(offsets["logit_offset"], offsets["mu_offset"], reduction)


def ziln_parts(raw: np.ndarray, scaling: Mapping[str, Any] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, mu, sigma) ``[n]`` each of raw outputs ``[n, 3]`` and the head's offsets."""
    values = np.asarray(raw, dtype=np.float64).reshape(len(raw), -1)
    logit_offset, mu_offset = _offsets(scaling)
    p = 1.0 / (1.0 + np.exp(-(values[:, 0] + logit_offset)))
    mu = values[:, 1] + mu_offset
    sigma = np.logaddexp(0.0, values[:, 2]) + SIGMA_FLOOR  # softplus
    return p, mu, sigma


def ziln_scores(raw: np.ndarray, scaling: Mapping[str, Any] | None) -> np.ndarray:
    """Scores ``[n, 3]`` of raw outputs ``[n, 3]``: the expected spend ``p * exp(mu + sigma^2 / 2)``, the
    chance to buy ``p`` and the expected spend of a buyer ``exp(mu + sigma^2 / 2)``."""
    p, mu, sigma = ziln_parts(raw, scaling)
    if_bought = np.exp(np.minimum(mu + 0.5 * sigma**2, MAX_EXPONENT))
    return np.column_stack([p * if_bought, p, if_bought])
