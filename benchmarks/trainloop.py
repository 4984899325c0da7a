"""One training policy for every deep model of the benchmark, needmap's and the peers' alike.

Every network is trained by needmap's :class:`~needmap.training.trainer.Trainer`, a plain PyTorch
loop: Adam, binary cross-entropy on logits, seeded shuffling, the learning rate halved after an
epoch without a better validation AUC, early stopping after ``patience`` such epochs with the best
epoch's weights restored. A peer library's network is put behind needmap's model contract by
:class:`PeerNetwork`, which only reshapes the inputs into what that library's forward takes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.metrics import log_loss, roc_auc_score
from torch import nn

from benchmarks.features import Prepared
from needmap.models.base import TabularModel
from needmap.training.config import TrainConfig
from needmap.training.predict import predict_proba
from needmap.training.trainer import Trainer

Forward = Callable[[nn.Module, torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]], torch.Tensor]


@dataclass(frozen=True)
class HyperParams:
    """What every deep model shares: needmap's defaults unless the command line says otherwise.

    Attributes:
        embedding_dim: size of every embedding.
        hidden: widths of the DNN's hidden layers.
        dropout: dropout after each hidden layer.
        batch_size: rows per gradient step.
        lr: Adam's learning rate.
        epochs: most passes over the training rows.
        patience: epochs without a better validation AUC before stopping.
        cross_layers: layers of the cross networks (DCN, DCN-v2, DCN-Mix).
        threads: torch / LightGBM threads; None = every core this process may use.
    """

    embedding_dim: int = 16
    hidden: tuple[int, ...] = (256, 128)
    dropout: float = 0.1
    batch_size: int = 512
    lr: float = 1e-3
    epochs: int = 30
    patience: int = 3
    cross_layers: int = 3
    threads: int | None = None

    def train_config(self, seed: int, embedding_updates: str = "auto") -> TrainConfig:
        return TrainConfig(
            embedding_updates=embedding_updates,
            optimizer="adam",
            lr=self.lr,
            batch_size=self.batch_size,
            epochs=self.epochs,
            patience=self.patience,
            monitor="auc",
            lr_schedule="plateau",
            seed=seed,
            progress=False,
            threads=self.threads,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        return data


@dataclass
class RunResult:
    """One trained model's test scores.

    Attributes:
        probs: P(positive) float64 ``[n_test]``.
        train_seconds: wall time of training (validation passes included).
        info: JSON-safe details (epochs run, best epoch, boosting rounds, parameters, ...).
    """

    probs: np.ndarray
    train_seconds: float
    info: dict[str, Any] = field(default_factory=dict)


class PeerNetwork(TabularModel):
    """A peer library's network behind needmap's model contract, so needmap's Trainer trains it.

    ``forward(net, numeric [B, n_num], categorical [B, n_cat], lists)`` is the peer's own call on
    the same tensors (rearranged to its input layout); it must return logits ``[B, 1]``.
    """

    def __init__(self, net: nn.Module, forward: Forward, prepared: Prepared) -> None:
        super().__init__(prepared.n_numeric, prepared.cardinalities, 1, prepared.list_specs)
        self.net = net
        self._forward = forward

    def config(self) -> dict[str, Any]:
        return {}

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        return self._forward(self.net, numeric, categorical, tuple(lists))


def train_network(network: TabularModel, prepared: Prepared, hp: HyperParams, seed: int) -> RunResult:
    """Train ``network`` on the training rows, early-stopping on the valid rows; score the test rows.

    The embedding tables of a peer's network get dense Adam, as the peer libraries update them; a
    needmap model gets needmap's default ('auto': row-wise lazy Adam on tables of 100,000 rows or
    more, see needmap.training.optimizers).
    """
    updates = "dense" if isinstance(network, PeerNetwork) else "auto"
    trainer = Trainer(network, "binary", hp.train_config(seed, updates))
    result = trainer.fit(prepared.x_train, prepared.y_train, prepared.x_valid, prepared.y_valid)
    if hp.threads:
        torch.set_num_threads(hp.threads)
    probs = predict_proba(network, prepared.x_test)
    info = {
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "stopped": result.stopped_reason,
        "valid_auc": result.best_score,
        "parameters": int(sum(p.numel() for p in network.parameters())),
        "embedding_updates": result.embedding_updates,
    }
    return RunResult(np.asarray(probs, dtype=np.float64), result.wall_time_s, info)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and the seconds it took."""
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def score(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """AUC and logloss (probabilities clipped to [1e-7, 1 - 1e-7]) of ``probs`` ``[n]`` for 0/1 ``y`` ``[n]``."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-7, 1 - 1e-7)
    return {"auc": float(roc_auc_score(y, p)), "logloss": float(log_loss(y, p, labels=[0, 1]))}
