"""TrainConfig: every option of the training loop, declared once (type, default, check, help), saved as a dict."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from needmap import option_text
from needmap.declare import (
    Options,
    boolean,
    is_int,
    is_number,
    matches,
    number,
    one_of,
    option,
    optional,
    text,
    whole,
)
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
    "ltv": {"normalized_gini": "max", "spearman": "max", "auc": "max", "rmse": "min", "mae": "min"},
}
DEFAULT_MONITOR: dict[str, str] = {
    "binary": "auc",
    "multiclass": "logloss",
    "regression": "rmse",
    "ltv": "normalized_gini",
}


def _class_weight(value: Any) -> str | None:
    if value is None or value == "balanced" or (is_number(value) and value > 0):
        return None
    return "None, 'balanced' or a positive number"


def _path_text(value: Any) -> Any:
    """A path given as a ``Path`` kept as its text (the options are saved as JSON)."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _monitor(value: Any) -> str | None:
    known = sorted({m for task in MONITORS.values() for m in task})
    return None if value is None or value in known else f"None or one of {', '.join(known)}"


def _task_weights(weights: Any) -> str | None:
    if weights is None:
        return None
    if isinstance(weights, dict):
        if not all(isinstance(k, str) for k in weights):
            return "target names as its keys"
        values = list(weights.values())
    elif isinstance(weights, (list, tuple)):
        values = list(weights)
    else:
        return "a list of numbers (one per target) or a dict by target name"
    if not values or not all(is_number(v) and v >= 0 for v in values) or not any(v > 0 for v in values):
        return "numbers >= 0, at least one of them positive"
    return None


@dataclass
class TrainConfig(Options):
    """Options of :class:`needmap.training.trainer.Trainer` (each field's help says what it does)."""

    kind: ClassVar[str] = "training"

    optimizer: str = option("adam", help="adam, rmsprop or sgd (SGD with momentum 0.9).", check=one_of(*OPTIMIZERS))
    lr: float = option(1e-3, help="Learning rate.", check=number(strict=True))
    weight_decay: float = option(0.0, help="L2 penalty passed to the optimizer.", check=number())
    batch_size: int = option(512, help="Rows per gradient step.", check=whole())
    epochs: int = option(30, help="Most passes over the training rows (early stopping may end sooner).", check=whole())
    patience: int | None = option(
        3,
        help="Stop when the monitored validation metric has not improved for this many epochs, and restore the "
        "best epoch's weights; none: never stop early.",
        check=optional(whole()),
    )
    monitor: str | None = option(
        None,
        help="Validation metric that early stopping and the plateau schedule watch (default: auc for binary, "
        "logloss for multiclass, rmse for regression targets).",
        check=_monitor,
    )
    lr_schedule: str = option(
        "plateau",
        help="plateau (halve the rate after an epoch without improvement), cosine (decay to 0 over the epochs) "
        "or none.",
        check=one_of(*LR_SCHEDULES),
    )
    class_weight: str | float | None = option(
        None,
        help="none, balanced (classes weighted by n / (K * n_k); a binary task's positives by n_neg / n_pos), or "
        "the positive class's weight of a binary task.",
        check=_class_weight,
        parse=option_text.name_or_number,
        metavar="balanced|WEIGHT",
    )
    seed: int = option(
        0,
        help="Seed of the weight updates (shuffling, dropout): the same seed gives the same model.",
        check=lambda v: None if is_int(v) else "an integer",
    )
    max_time: float | None = option(
        None,
        help="Stop training after the epoch in which this many seconds are exceeded (e.g. 90, 10m, 1h).",
        check=optional(number(strict=True)),
        parse=option_text.duration,
        metavar="DURATION",
    )
    progress: bool = option(
        True,
        help="Show a progress bar (a line per epoch when not on a terminal); --quiet (-q) turns it off.",
        check=boolean,
        flag=("--progress/--quiet", " /-q"),
    )
    threads: int | None = option(
        None,
        help="CPU threads for torch while training (default: every core this process may use).",
        check=optional(whole()),
    )
    task_weights: list[float] | dict[str, float] | None = option(
        None,
        help="Weights of a multi-task model's per-target losses: one per target, in target order, or by target "
        "name (missing targets weigh 1).",
        check=_task_weights,
        convert=lambda v: list(v) if isinstance(v, tuple) else v,
        parse=option_text.numbers_or_pairs,
        metavar="W1,W2|NAME=W,...",
    )
    embedding_updates: str = option(
        "auto",
        help="sparse (row-wise lazy Adam on embedding tables: a step costs the rows a batch looks up; needs adam "
        "without weight decay), dense, or auto (sparse for adam without weight decay on tables of 100,000 rows "
        "or more).",
        check=one_of(*EMBEDDING_UPDATES),
    )
    precision: str = option(
        "fp32",
        help="fp32, or bf16 (the forward pass under bfloat16 autocast, on CPUs with AVX512-BF16 or AMX, or mixed "
        "precision on a GPU; weights and optimizer stay float32).",
        check=one_of(*PRECISIONS),
    )
    device: str = option(
        "auto",
        help="Where training runs: auto (a CUDA GPU when torch sees one, else the CPU), cpu, cuda or cuda:N; "
        "the trained model comes back to the CPU.",
        check=matches(r"auto|cpu|cuda(:\d+)?", "'auto', 'cpu', 'cuda' or 'cuda:N'"),
    )

    checkpoint_every: int | None = option(
        None,
        help="Write a checkpoint (weights, optimizer, schedule, random states, early stopping, data position) every "
        "this many epochs, so that a killed run can be resumed; none: no checkpoints.",
        check=optional(whole()),
        metavar="EPOCHS",
    )
    checkpoint_dir: str | None = option(
        None,
        help="Directory of the checkpoints (default for a command: the model directory's path with .checkpoint "
        "added; the Python API needs it with checkpoint_every).",
        check=optional(text),
        convert=_path_text,
        metavar="DIR",
    )
    resume: str | None = option(
        None,
        help="Continue the run whose checkpoint directory this is (the same data and options, checked): it ends "
        "with the weights of a run never stopped.",
        check=optional(text),
        convert=_path_text,
        metavar="DIR",
    )

    def cpu_threads(self) -> int:
        """The CPU threads training runs on: ``threads`` when given, else every core this process may keep busy
        (:func:`needmap.runtime.device.cores_per_process`). Preparing the rows uses them too, before training."""
        from needmap.runtime.device import cores_per_process  # imports torch: not at import, which --help does

        return self.threads or cores_per_process()

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
