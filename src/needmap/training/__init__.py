"""Training: options, the training loop, and prediction helpers.

Importing this package imports none of its modules, and so not torch: the command line reads the
declared training options (:mod:`needmap.training.config`) to build its ``--help``. The names below
are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from needmap.training.config import TrainConfig
    from needmap.training.predict import predict_proba, predict_raw
    from needmap.training.trainer import Trainer, TrainResult

__all__ = ["TrainConfig", "TrainResult", "Trainer", "predict_proba", "predict_raw"]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module when first asked for."""
    if name == "TrainConfig":
        from needmap.training.config import TrainConfig as value
    elif name in ("Trainer", "TrainResult"):
        from needmap.training import trainer

        value = getattr(trainer, name)
    elif name in ("predict_proba", "predict_raw"):
        from needmap.training import predict

        value = getattr(predict, name)
    else:
        raise AttributeError(f"module 'needmap.training' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
