"""Training: options, the training loop, and prediction helpers."""

from needmap.training.config import TrainConfig
from needmap.training.predict import predict_proba, predict_raw
from needmap.training.trainer import Trainer, TrainResult

__all__ = ["TrainConfig", "TrainResult", "Trainer", "predict_proba", "predict_raw"]
