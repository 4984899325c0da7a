"""Progress of training: a rich bar over each epoch's batches and one summary line per epoch."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_SHOWN = ("auc", "logloss", "macro_auc", "accuracy", "rmse", "mae", "r2")


def format_epoch(entry: dict[str, Any], epochs: int, monitor: str) -> str:
    """One line for a history entry, e.g. ``epoch 3/30  loss 0.2812  valid auc 0.7934  lr 0.001  1.2 s``."""
    parts = [f"epoch {entry['epoch']}/{epochs}", f"loss {entry['loss']:.4f}"]
    shown = [monitor] + [m for m in _SHOWN if m != monitor]
    for name in shown:
        value = entry.get(f"valid_{name}")
        if value is not None:
            parts.append(f"valid {name} {value:.4f}")
            if len(parts) >= 4:
                break
    parts.append(f"lr {entry['lr']:.3g}")
    parts.append(f"{entry['seconds']:.1f} s")
    return "  ".join(parts)


class EpochProgress:
    """Shows training progress on stderr; silent when ``enabled`` is False.

    On a terminal: a bar that fills with the batches of the current epoch, and a line printed
    above it at the end of each epoch. Elsewhere (logs, CI): only the line per epoch.
    Use as a context manager; call :meth:`batch_done` per batch and :meth:`epoch_done` per epoch.
    """

    def __init__(self, enabled: bool, epochs: int, batches_per_epoch: int, monitor: str) -> None:
        self.enabled = enabled
        self.epochs = epochs
        self.batches = batches_per_epoch
        self.monitor = monitor
        self.console = Console(stderr=True) if enabled else None
        self._bar: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> EpochProgress:
        if self.console is not None and self.console.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(f"epoch 1/{self.epochs}", total=self.batches)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def batch_done(self) -> None:
        """Advance the bar by one batch."""
        if self._bar is not None:
            self._bar.advance(self._task)

    def epoch_done(self, entry: dict[str, Any]) -> None:
        """Print the summary line of a finished epoch and reset the bar for the next one."""
        if self.console is None:
            return
        self.console.print(format_epoch(entry, self.epochs, self.monitor), highlight=False, soft_wrap=True)
        if self._bar is not None:
            self._bar.reset(self._task, description=f"epoch {entry['epoch'] + 1}/{self.epochs}")
