"""Multi-arm uplift networks: one shared representation, one outcome head per arm (control included).

- **TARNet** (Shalit et al. 2017): the representation ``phi(x)`` (embedded categoricals and numerics through
  a fully connected stack) feeds one small head per arm; each row trains only the head of the arm it
  received, so every head learns its arm's outcome from features the arms share.
- **DragonNet** (Shi et al. 2019): TARNet plus a propensity head (softmax over the arms) trained on the arm
  each row received, which makes the representation keep what predicts assignment, and targeted
  regularization: one parameter ``epsilon_k`` per offer and the loss on ``q_arm + sum_k epsilon_k h_k`` with
  ``h_k = [arm=k]/g_k - [arm=0]/g_0``, the correction that makes the fitted effects satisfy the doubly
  robust estimating equation. In a randomized test the propensity is flat, so this mostly regularizes.

The effect of offer k is ``head_k - head_0`` as probabilities (binary outcome) or in the outcome's units
(amounts, learned standardized). Training: Adam, early stopping on the validation rows' factual loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from needmap.models.layers import FeatureEmbedding, MLPBlock, dense
from needmap.preprocessing.batch import FeatureBatch

NETWORKS = ("tarnet", "dragonnet")


class UpliftNetwork(nn.Module):
    """``forward(numeric, categorical) -> (outcome logits or values [B, n_arms], propensity logits [B, n_arms])``."""

    def __init__(
        self,
        n_numeric: int,
        cardinalities: Sequence[int],
        n_arms: int,
        *,
        propensity: bool = False,
        embedding_dim: int = 8,
        hidden: Sequence[int] = (200, 200),
        head_hidden: int = 100,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.hyper: dict[str, Any] = {
            "n_numeric": int(n_numeric), "cardinalities": [int(c) for c in cardinalities], "n_arms": int(n_arms),
            "propensity": bool(propensity), "embedding_dim": int(embedding_dim), "hidden": [int(h) for h in hidden],
            "head_hidden": int(head_hidden), "dropout": float(dropout),
        }  # fmt: skip
        self.embedding = FeatureEmbedding(list(cardinalities), embedding_dim)
        in_dim = n_numeric + len(cardinalities) * embedding_dim
        self.shared = MLPBlock(in_dim, list(hidden), "silu", dropout, False)
        self.heads = nn.ModuleList(
            nn.Sequential(dense(self.shared.out_dim, head_hidden), nn.SiLU(), dense(head_hidden, 1))
            for _ in range(n_arms)
        )
        self.propensity = dense(self.shared.out_dim, n_arms) if propensity else None
        self.epsilon = nn.Parameter(torch.zeros(n_arms - 1)) if propensity else None
        self.register_buffer("target_scaling", torch.tensor([0.0, 1.0], dtype=torch.float64))

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        parts = [numeric]
        if self.hyper["cardinalities"]:
            parts.append(self.embedding(categorical).flatten(1))
        phi = self.shared(torch.cat(parts, dim=1))
        outcome = torch.cat([head(phi) for head in self.heads], dim=1)
        return outcome, None if self.propensity is None else self.propensity(phi)


def _loss(
    net: UpliftNetwork, numeric: torch.Tensor, categorical: torch.Tensor, arm: torch.Tensor, y: torch.Tensor,
    binary: bool, targeted: float,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(training loss, factual outcome loss) of one batch."""
    outcome, propensity = net(numeric, categorical)
    q = outcome.gather(1, arm[:, None])[:, 0]
    loss_of = nn.functional.binary_cross_entropy_with_logits if binary else nn.functional.mse_loss
    factual = loss_of(q, y)
    loss = factual
    if propensity is not None:
        loss = loss + nn.functional.cross_entropy(propensity, arm)
        if targeted > 0:
            g = torch.softmax(propensity, dim=1).clamp(0.01, 0.99)
            control = (arm == 0).float() / g[:, 0]
            h = torch.stack([(arm == k).float() / g[:, k] - control for k in range(1, g.shape[1])], dim=1)
            q_value = torch.sigmoid(q) if binary else q
            perturbed = q_value + (h * net.epsilon[None, :]).sum(dim=1)
            loss = loss + targeted * ((y - perturbed) ** 2).mean()
    return loss, factual


def fit_network(
    name: str,
    x: FeatureBatch,
    arm: np.ndarray,
    y: np.ndarray,
    task: str,
    cardinalities: Sequence[int],
    *,
    x_valid: FeatureBatch | None = None,
    arm_valid: np.ndarray | None = None,
    y_valid: np.ndarray | None = None,
    n_arms: int,
    seed: int = 0,
    epochs: int = 30,
    batch_size: int = 512,
    lr: float = 1e-3,
    weight_decay: float = 1e-5,
    patience: int = 4,
    targeted: float = 1.0,
    threads: int | None = None,
    params: dict[str, Any] | None = None,
) -> UpliftNetwork:
    """Train a TARNet (``name="tarnet"``) or DragonNet (``"dragonnet"``) on the rows; the best epoch by the
    validation rows' factual loss is kept (the last without validation rows)."""
    from needmap.runtime.device import torch_threads

    torch.manual_seed(seed)
    binary = task == "binary"
    mean, std = (0.0, 1.0) if binary else (float(np.mean(y)), float(np.std(y)) or 1.0)
    net = UpliftNetwork(x.numeric.shape[1], cardinalities, n_arms, propensity=name == "dragonnet", **(params or {}))
    net.target_scaling.copy_(torch.tensor([mean, std], dtype=torch.float64))
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)

    def tensors(batch: FeatureBatch, a: np.ndarray, target: np.ndarray) -> tuple[torch.Tensor, ...]:
        numeric = torch.from_numpy(np.ascontiguousarray(batch.numeric, dtype=np.float32))
        categorical = torch.from_numpy(np.ascontiguousarray(batch.categorical, dtype=np.int64))
        scaled = torch.from_numpy(((target - mean) / std).astype(np.float32))
        return numeric, categorical, torch.from_numpy(a.astype(np.int64)), scaled

    train = tensors(x, arm, y)
    valid = None if x_valid is None else tensors(x_valid, arm_valid, y_valid)
    generator = torch.Generator().manual_seed(seed)
    best, best_state, waited = float("inf"), None, 0
    with torch_threads(threads):
        for _epoch in range(epochs):
            net.train()
            order = torch.randperm(len(arm), generator=generator)
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                loss, _ = _loss(net, *(t[idx] for t in train), binary, targeted)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            if valid is None:
                continue
            net.eval()
            with torch.no_grad():
                _, factual = _loss(net, *valid, binary, 0.0)
            if float(factual) < best - 1e-6:
                best, waited = float(factual), 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
                if waited >= patience:
                    break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return net


def network_outcomes(net: UpliftNetwork, x: FeatureBatch, task: str, batch_size: int = 65_536) -> np.ndarray:
    """Each row's predicted outcome under every arm, float64 ``[n, n_arms]``: probabilities or amounts."""
    out = []
    mean, std = (float(v) for v in net.target_scaling)
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            numeric = torch.from_numpy(np.ascontiguousarray(x.numeric[start : start + batch_size], dtype=np.float32))
            categorical = torch.from_numpy(np.ascontiguousarray(x.categorical[start : start + batch_size]))
            outcome, _ = net(numeric, categorical)
            out.append(torch.sigmoid(outcome.double()) if task == "binary" else outcome.double() * std + mean)
    return torch.cat(out).numpy() if out else np.zeros((0, net.hyper["n_arms"]))
