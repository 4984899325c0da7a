"""Model architectures: reusable layers, the registry, and the models registered in it.

Importing this package imports every model module, so that ``available_models()`` lists them all
and ``build_model(name, ...)`` finds any of them.
"""

from needmap.models import (  # noqa: F401 - importing a model module registers its architecture
    autoint,
    dcnv2,
    deepfm,
    din,
    finalmlp,
    finalnet,
    fm_model,
    lr,
    mlp,
    mmoe,
    ple,
    wide_deep,
    xdeepfm,
)
from needmap.models.base import TabularModel
from needmap.models.fields import FieldEmbedding, FieldModel, LinearTerms
from needmap.models.layers import FeatureEmbedding, ListEmbedding, MLPBlock
from needmap.models.mlp import MLP
from needmap.models.registry import available_models, build_model, model_class, register

__all__ = [
    "MLP",
    "FeatureEmbedding",
    "FieldEmbedding",
    "FieldModel",
    "LinearTerms",
    "ListEmbedding",
    "MLPBlock",
    "TabularModel",
    "available_models",
    "build_model",
    "model_class",
    "register",
]
