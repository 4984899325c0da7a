"""TrainConfig: every option of the training loop, checked when it is made, saved as a dict."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from needmap.errors import ConfigError
from needmap.runtime.precision import PRECISIONS

OPTIMIZERS: tuple[str, ...] = ("adam", "rmsprop", "sgd")
LR_SCHEDULES: tuple[str, ...] = ("plateau", "cosine", "none")
EMBEDDING_UPDATES: tuple[str, ...] = ("auto", "sparse", "dense")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")

#: Metrics that can be monitored for each task, and whether higher ("max") or lower ("min") is better.
MONITORS: dict[str, dict[str, str]] = {
    "binary": {
        "auc": "max",
        "pr_auc": "max",
        "logloss": "min",
        "accuracy": "max",
        "lift_at_10": "max",
        "capture_at_10": "max",
        "ece": "min",
    },
    "multiclass": {"logloss": "min", "accuracy": "max", "macro_auc": "max"},
    "regression": {"rmse": "min", "mae": "min", "r2": "max"},
}
DEFAULT_MONITOR: dict[str, str] = {"binary": "auc", "multiclass": "logloss", "regression": "rmse"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class TrainConfig:
    """Options of :class:`needmap.training.trainer.Trainer`.

    Attributes:
        optimizer: 'adam', 'rmsprop' or 'sgd' (SGD with momentum 0.9).
        lr: learning rate.
        weight_decay: L2 penalty passed to the optimizer.
        batch_size: rows per gradient step.
        epochs: most passes over the training rows.
        patience: stop when the monitored validation metric has not improved for this many
            epochs, and restore the weights of the best epoch; None = never stop early.
        monitor: validation metric that early stopping and the 'plateau' schedule watch; None =
            'auc' (binary), 'logloss' (multiclass), 'rmse' (regression). See :data:`MONITORS`.
        lr_schedule: 'plateau' (halve the rate after an epoch without improvement of the
            monitor), 'cosine' (cosine decay to 0 over ``epochs``) or 'none'.
        class_weight: None, 'balanced' (classes weighted by n / (K * n_k); for binary tasks a
            positive weight n_negative / n_positive) or a float: the positive-class weight of a
            binary task.
        seed: seed of the weight updates (shuffling and dropout): the same seed gives the same model.
        max_time: seconds; training stops after the epoch in which they are exceeded. None = no limit.
        progress: show a progress bar (a line per epoch when the output is not a terminal).
        threads: CPU threads for torch during fit(); None = all cores this process may use.
        task_weights: weights of the per-task losses of a multi-task model, summed into the training
            loss: a list (one per target, in target order) or a dict by target name (missing
            targets weigh 1); None = every task weighs 1.
        embedding_updates: 'sparse' (embedding tables get sparse gradients and row-wise lazy Adam:
            a step costs the rows the batch looks up, not the table; needs optimizer 'adam' and no
            weight decay), 'dense' (the optimizer updates every weight) or 'auto' (sparse for Adam
            without weight decay on tables of 100,000 rows or more, else dense). See
            :mod:`needmap.training.optimizers`.
        precision: 'fp32', or 'bf16' (the forward pass under bfloat16 autocast, about twice the
            float32 rate on CPUs with AVX512-BF16 / AMX, and mixed precision on a GPU; weights and
            optimizer stay float32).
        device: where the training steps run: 'cpu', 'cuda' (the current CUDA GPU, or 'cuda:N'), or
            'auto' (a CUDA GPU when torch sees one, else the CPU). The trained model is moved back to
            the CPU, where needmap scores.
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 512
    epochs: int = 30
    patience: int | None = 3
    monitor: str | None = None
    lr_schedule: str = "plateau"
    class_weight: str | float | None = None
    seed: int = 0
    max_time: float | None = None
    progress: bool = True
    threads: int | None = None
    task_weights: list[float] | dict[str, float] | None = None
    embedding_updates: str = "auto"
    precision: str = "fp32"
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"unknown lr_schedule {self.lr_schedule!r}; expected one of {', '.join(LR_SCHEDULES)}.")
        if not _is_number(self.lr) or not self.lr > 0:
            raise ConfigError(f"lr is {self.lr!r}; expected a positive number.")
        if not _is_number(self.weight_decay) or self.weight_decay < 0:
            raise ConfigError(f"weight_decay is {self.weight_decay!r}; expected a number >= 0.")
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigError(f"{name} is {value!r}; expected a positive integer.")
        if self.patience is not None and (not _is_int(self.patience) or self.patience < 1):
            raise ConfigError(f"patience is {self.patience!r}; expected a positive integer or None.")
        known = sorted({m for task in MONITORS.values() for m in task})
        if self.monitor is not None and self.monitor not in known:
            raise ConfigError(f"unknown monitor {self.monitor!r}; expected one of {', '.join(known)}.")
        cw = self.class_weight
        if not (cw is None or cw == "balanced" or (_is_number(cw) and cw > 0)):
            raise ConfigError(f"class_weight is {cw!r}; expected None, 'balanced' or a positive number.")
        if not _is_int(self.seed):
            raise ConfigError(f"seed is {self.seed!r}; expected an integer.")
        if self.max_time is not None and (not _is_number(self.max_time) or not self.max_time > 0):
            raise ConfigError(f"max_time is {self.max_time!r}; expected a positive number of seconds or None.")
        if not isinstance(self.progress, bool):
            raise ConfigError(f"progress is {self.progress!r}; expected true or false.")
        if self.threads is not None and (not _is_int(self.threads) or self.threads < 1):
            raise ConfigError(f"threads is {self.threads!r}; expected a positive integer or None.")
        if self.embedding_updates not in EMBEDDING_UPDATES:
            raise ConfigError(
                f"unknown embedding_updates {self.embedding_updates!r}; expected one of {', '.join(EMBEDDING_UPDATES)}."
            )
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; expected one of {', '.join(PRECISIONS)}.")
        if not isinstance(self.device, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise ConfigError(f"unknown device {self.device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'.")
        self._check_task_weights()

    def _check_task_weights(self) -> None:
        weights = self.task_weights
        if weights is None:
            return
        if isinstance(weights, dict):
            values = list(weights.values())
            if not all(isinstance(k, str) for k in weights):
                raise ConfigError(f"task_weights is {weights!r}; expected target names as its keys.")
        elif isinstance(weights, (list, tuple)):
            values = list(weights)
            self.task_weights = values
        else:
            raise ConfigError(
                f"task_weights is {weights!r}; expected a list of numbers (one per target) or a dict by target name."
            )
        if not values or not all(_is_number(v) and v >= 0 for v in values) or not any(v > 0 for v in values):
            raise ConfigError(f"task_weights is {weights!r}; expected numbers >= 0, at least one of them positive.")

    def monitor_for(self, task: str) -> tuple[str, str]:
        """The monitored metric for ``task`` and its direction ('max' or 'min').

        ConfigError when the configured monitor does not apply to ``task``.
        """
        name = self.monitor or DEFAULT_MONITOR[task]
        if name not in MONITORS[task]:
            raise ConfigError(
                f"monitor {name!r} does not apply to {task} tasks; expected one of {', '.join(MONITORS[task])}."
            )
        return name, MONITORS[task][name]

    def to_dict(self) -> dict[str, Any]:
        """The options as a JSON-safe dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config from a dict written by :meth:`to_dict` (missing keys take their defaults)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"unknown training option(s) {', '.join(map(repr, unknown))}; expected some of: "
                f"{', '.join(sorted(names))}."
            )
        return cls(**data)
