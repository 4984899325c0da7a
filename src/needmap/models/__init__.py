"""Model architectures: reusable layers, the registry, and the models registered in it.

Importing this package imports none of its modules, and so not torch: the command line reads the
declared network options (:mod:`needmap.models.options`) to build its ``--help`` without loading a
network. The names below are loaded on first use; :mod:`needmap.models.registry` imports every model
module, so that ``available_models()`` lists them all and ``build_model(name, ...)`` finds any of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from needmap.models.base import TabularModel
    from needmap.models.fields import FieldEmbedding, FieldModel, LinearTerms
    from needmap.models.layers import FeatureEmbedding, ListEmbedding, MLPBlock
    from needmap.models.mlp import MLP
    from needmap.models.registry import available_models, build_model, model_class, register

#: Each public name, with the module that defines it.
_WHERE = {
    "MLP": "mlp",
    "FeatureEmbedding": "layers",
    "FieldEmbedding": "fields",
    "FieldModel": "fields",
    "LinearTerms": "fields",
    "ListEmbedding": "layers",
    "MLPBlock": "layers",
    "TabularModel": "base",
    "available_models": "registry",
    "build_model": "registry",
    "model_class": "registry",
    "register": "registry",
}

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


def __getattr__(name: str) -> Any:
    """A public name, imported from its module when first asked for (with it every registered model)."""
    if name not in _WHERE:
        raise AttributeError(f"module 'needmap.models' has no attribute {name!r}")
    from needmap.models import base, fields, layers, mlp, registry  # the registry: every architecture

    modules = {"base": base, "fields": fields, "layers": layers, "mlp": mlp, "registry": registry}
    value = getattr(modules[_WHERE[name]], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
