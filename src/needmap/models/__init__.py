"""Model architectures: reusable layers, the registry, and the models registered in it."""

from needmap.models.base import TabularModel
from needmap.models.layers import FeatureEmbedding, MLPBlock
from needmap.models.mlp import MLP
from needmap.models.registry import available_models, build_model, model_class, register

__all__ = [
    "MLP",
    "FeatureEmbedding",
    "MLPBlock",
    "TabularModel",
    "available_models",
    "build_model",
    "model_class",
    "register",
]
