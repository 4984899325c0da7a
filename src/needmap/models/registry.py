"""Model architectures by name: build_model(), available_models(), model_class(); register() to add one.

Importing this module imports every built-in model module (each registers its architecture when
imported), so that the lookups find all of them. The package :mod:`needmap.models` itself imports
nothing, so that the declared options (:mod:`needmap.models.options`) load without torch.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any, NoReturn

import torch
import torch.utils._device  # what `with torch.device(...)` imports on first use: loading imports nothing
from torch.overrides import TorchFunctionMode

from needmap.errors import ArtifactError, ConfigError
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
from needmap.models.registration import MODELS, register

__all__ = ["architecture_options", "available_models", "build_model", "check_saved_sizes", "model_class", "register"]

#: The registered architectures: :data:`needmap.models.registration.MODELS`, under its earlier name here.
_MODELS = MODELS
_REQUIRED = ("n_numeric", "cardinalities", "n_outputs")
#: The longest list a saved model's sizes may hold (layer widths, cardinalities): building the network's
#: layout costs time per entry even where it allocates nothing.
MAX_SAVED_LIST = 100_000


def available_models() -> list[str]:
    """Names of the registered architectures, sorted."""
    return sorted(_MODELS)


def model_class(name: str) -> type[TabularModel]:
    """The class registered as ``name``; ConfigError listing the available names otherwise."""
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; expected one of: {', '.join(available_models()) or '(none)'}.")
    return _MODELS[name]


def architecture_options(name: str) -> list[str]:
    """The hyper-parameters the architecture ``name`` takes: its constructor's keywords past the layout."""
    signature = inspect.signature(model_class(name).__init__)
    return [
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", *_REQUIRED, "lists") and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]


def build_model(name: str, **params: Any) -> TabularModel:
    """Build architecture ``name`` from n_numeric, cardinalities, n_outputs and hyper-parameters.

    ``build_model(name, n_numeric=..., cardinalities=..., n_outputs=..., **model.config())``
    rebuilds a model of the same shape. Raises ConfigError for an unknown name, a missing required
    argument or a hyper-parameter the architecture does not have.
    """
    cls = model_class(name)
    missing = [key for key in _REQUIRED if key not in params]
    if missing:
        raise ConfigError(f"model {name!r} needs {', '.join(missing)}; they were not given.")
    signature = inspect.signature(cls.__init__)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    if not takes_any:
        accepted = [p for p in signature.parameters if p != "self"]
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            hyper = [p for p in accepted if p not in (*_REQUIRED, "lists")]
            raise ConfigError(
                f"model {name!r} has no hyper-parameter {', '.join(map(repr, unknown))}; "
                f"expected some of: {', '.join(hyper) or '(none)'}."
            )
    return cls(**params)


def check_saved_sizes(
    name: str, shapes: Mapping[str, tuple[int, ...]], *, file: str | None = None, **params: Any
) -> None:
    """Check that ``build_model(name, **params)`` makes a network whose tensors have exactly ``shapes`` (a saved
    model's weights, by tensor name), without allocating it: before a model directory is loaded, so that an
    edited ``model.json`` (``hidden: [20000, 20000]``) is an error at once instead of gigabytes allocated for a
    network that the weights then do not fit.

    Every whole number among the sizes and hyper-parameters must be at most the count of numbers the weights
    hold, every list at most :data:`MAX_SAVED_LIST` long and every number finite; the network is then built on
    PyTorch's ``meta`` device (shapes only, no memory) and its tensors compared with ``shapes``. ArtifactError
    naming ``file`` and the first difference."""
    total = sum(math.prod(shape) for shape in shapes.values())

    def fail(found: str, expected: str) -> NoReturn:
        raise ArtifactError(
            f"'model.json' {found}; expected {expected}.",
            file=file,
            hint="The model files do not belong together or were edited: restore them or train the model again.",
        )

    stack: list[tuple[str, Any]] = list(params.items())
    while stack:
        key, value = stack.pop()
        if isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        if isinstance(value, int) and abs(value) > max(total, 1):
            fail(f"has {key} = {value}, more than the {total:,} numbers the weights hold", "the sizes of the weights")
        elif isinstance(value, float) and not math.isfinite(value):
            fail(f"has {key} = {value}", "a finite number")
        elif isinstance(value, (list, tuple)):
            if len(value) > MAX_SAVED_LIST:
                fail(f"has {key} of {len(value):,} entries", f"at most {MAX_SAVED_LIST:,}")
            stack.extend((f"{key}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, dict):
            stack.extend((f"{key}.{k}", v) for k, v in value.items())
    with torch.device("meta"), _SkipValueFills():
        layout = {k: tuple(t.shape) for k, t in build_model(name, **params).state_dict().items()}
    missing = sorted(set(layout) - set(shapes))
    extra = sorted(set(shapes) - set(layout))
    if missing or extra:
        fail(
            f"describes a {name} network whose tensors {missing[:3]} the weights lack"
            if missing
            else f"describes a {name} network without the tensors {extra[:3]} of the weights",
            "the network the weights were saved from",
        )
    for key, shape in layout.items():
        if tuple(shapes[key]) != shape:
            fail(
                f"describes a {name} network whose tensor {key!r} has shape {list(shape)}, and the weights hold "
                f"{list(shapes[key])}",
                "the sizes the weights were saved with",
            )


#: In-place operations that change a tensor's shape (or what it is), which a layout must still run; every other
#: in-place operation (``normal_``, ``uniform_``, ``mul_``, ``copy_``) only changes values.
_SHAPE_CHANGING = frozenset(
    {"resize_", "resize_as_", "squeeze_", "unsqueeze_", "t_", "transpose_", "swapdims_", "swapaxes_", "as_strided_"}
    | {"set_", "requires_grad_", "retain_grad_"}
)

#: Out-of-place arithmetic with a number, whose result has the tensor's shape.
_SCALAR_ARITHMETIC = frozenset(
    {"mul", "__mul__", "__rmul__", "div", "__truediv__", "add", "__add__", "__radd__", "sub", "__sub__"}
)


class _SkipValueFills(TorchFunctionMode):
    """Leaves a ``meta`` tensor as it is where an in-place operation that only changes values (an initialisation:
    ``normal_``, ``mul_``) is asked of it, so that building a network's layout on the meta device
    (:func:`check_saved_sizes`) takes milliseconds: PyTorch runs some of them on meta tensors through its Python
    reference implementations, whose first use costs seconds of imports, and a shape needs none of them."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "") or ""
        first = args[0] if args else kwargs.get("tensor")  # torch.nn.init passes the tensor by keyword
        if isinstance(first, torch.Tensor) and first.is_meta:
            if name.endswith("_") and not name.startswith("_") and name not in _SHAPE_CHANGING:
                return first
            if name in _SCALAR_ARITHMETIC and len(args) == 2 and isinstance(args[1], (int, float)):
                return first  # a tensor times a number (a scaled initialisation) has the tensor's shape
        return func(*args, **kwargs)
