"""Fully connected layers on oneDNN's float32 kernels where they are faster than torch's default.

torch multiplies float32 matrices on the CPU with MKL, whose fastest code paths are chosen for Intel
CPUs; oneDNN (torch's other CPU library, which torch already uses for bfloat16) does the same float32
arithmetic (results agree to float32 rounding), much faster on some CPUs (an AMD EPYC Zen 5), a little
faster or slower on others, and differently for the forward and the two backward products
(``benchmarks/bench_matmul.py`` measures them; BENCHMARKS.md has the figures per CPU).
:class:`Linear` is ``nn.Linear`` (same parameters, same state dict) whose forward and backward products
each run on the kernel :func:`cpu_kernels` chose for them.

Which kernel: the environment variable ``NEEDMAP_CPU_MATMUL``:

- ``auto`` (default): measured. Where torch has oneDNN and its kernel agrees with ``F.linear`` on a probe,
  each of the three products takes oneDNN where it ran clearly faster on this machine
  (:mod:`needmap.runtime.matmul_choice`: timed once per machine and remembered), else torch's default.
- ``onednn``: oneDNN for every product on every CPU (a ConfigError when torch lacks it).
- ``torch``: torch's default (MKL) always.

Only float32 CPU products of at least :data:`MIN_MULTIPLY_ADDS` multiply-adds go to oneDNN: a
one-row product (online scoring) is faster through MKL, and so is a narrow output (a 400 -> 1
head). bfloat16 autocast and CUDA keep torch's own paths. So a command that makes no large product (one
row scored) never measures.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from needmap.errors import ConfigError
from needmap.runtime.matmul_choice import Kernels, measured_kernels
from needmap.runtime.matmul_choice import bf16_speedup as measured_bf16_speedup

logger = logging.getLogger(__name__)

#: The environment variable that picks the CPU float32 matrix kernel, and its values.
ENV_VAR = "NEEDMAP_CPU_MATMUL"
CHOICES = ("auto", "onednn", "torch")
#: Products with fewer multiply-adds (rows x in x out) than this stay on torch's default: oneDNN's
#: fixed cost per call is larger than what it saves there.
MIN_MULTIPLY_ADDS = 1 << 20


def _linear_op() -> Any:
    """torch's oneDNN linear op on dense tensors, or None where this torch has none."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


def _probe(op: Any) -> str | None:
    """None when ``op`` computes what ``F.linear`` does (forward and both backward products) on a
    small random case; else why not."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 48, generator=gen)
    w = torch.randn(32, 48, generator=gen)
    b = torch.randn(32, generator=gen)
    dy = torch.randn(64, 32, generator=gen)
    try:
        pairs = [
            (op(x, w, b, "none", [], ""), F.linear(x, w, b)),
            (op(dy, w.t(), None, "none", [], ""), dy @ w),
            (op(dy.t(), x.t(), None, "none", [], ""), dy.t() @ x),
            (op(x, w, b, "relu", [], ""), F.relu(F.linear(x, w, b))),
        ]
    except RuntimeError as err:
        return f"its linear op failed: {err}"
    for got, want in pairs:
        if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-4, atol=1e-4):
            return "its linear op disagreed with F.linear on a probe"
    return None


@functools.cache
def _resolve(setting: str, machine: str) -> Kernels:
    def problem() -> str | None:
        op = _linear_op()
        return "this torch has no oneDNN linear op" if op is None else _probe(op)

    if setting == "onednn":
        if (why := problem()) is not None:
            raise ConfigError(f"{ENV_VAR}=onednn, but {why}.", hint=f"Unset {ENV_VAR} or set it to 'torch'.")
        return Kernels.every(True, "oneDNN (asked by NEEDMAP_CPU_MATMUL=onednn)")
    if setting == "torch":
        return Kernels.every(False, "torch's default (asked by NEEDMAP_CPU_MATMUL=torch)")
    if (why := problem()) is not None:
        logger.info("float32 CPU products stay on torch's default: %s", why)
        return Kernels.every(False, f"torch's default ({why}; {machine} CPU)")
    return measured_kernels(_linear_op())


def cpu_kernels() -> Kernels:
    """Which float32 CPU products of :class:`Linear` go to oneDNN, and why (a phrase for reports).

    Reads ``NEEDMAP_CPU_MATMUL`` on every call (the probe and the measurement run once per process, the
    measurement once per machine); an unknown value is a ConfigError naming the variable.
    """
    setting = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if setting not in CHOICES:
        raise ConfigError(
            f"{ENV_VAR} is {os.environ.get(ENV_VAR)!r}; expected one of {', '.join(CHOICES)}.",
            hint=f"Unset {ENV_VAR} to let needmap choose.",
        )
    return _resolve(setting, platform.machine())


def bf16_speedup() -> float | None:
    """How many times as fast bfloat16 products run here as float32 ones (its faster kernel), measured once per
    machine; None without native bfloat16 (:func:`needmap.runtime.matmul_choice.bf16_speedup`)."""
    return measured_bf16_speedup(_linear_op())


def cpu_matmul() -> tuple[bool, str]:
    """Whether any float32 CPU product of :class:`Linear` goes to oneDNN, and why (a phrase for reports)."""
    kernels = cpu_kernels()
    return kernels.any, kernels.why


def cpu_matmul_name() -> str:
    """The kernels of float32 CPU products now, for training reports: 'onednn' (all three products), 'torch'
    (none), or which go where ('onednn forward+dx, torch dW')."""
    return cpu_kernels().name


def _onednn_product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x weight^T + bias`` on oneDNN (every oneDNN product of :class:`Linear` but the fused one goes through
    here)."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def _onednn_product_relu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``relu(x weight^T + bias)`` on oneDNN, the activation applied as the product writes its output."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "relu", [], "")


def _forward_product(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, onednn: bool, relu: bool
) -> torch.Tensor:
    """``x weight^T + bias``, then ReLU with ``relu``: on oneDNN (``onednn``, the activation fused into the
    product) or by ``F.linear`` (then ``torch.relu``)."""
    if onednn:
        return (_onednn_product_relu if relu else _onednn_product)(x, weight, bias)
    out = F.linear(x, weight, bias)
    return torch.relu(out) if relu else out


def _autocast_on() -> bool:
    is_enabled = getattr(torch, "is_autocast_enabled", None)
    try:
        return bool(is_enabled("cpu"))  # torch >= 2.4
    except TypeError:
        return bool(torch.is_autocast_cpu_enabled())


class _OneDNNLinear(torch.autograd.Function):
    """``y = x W^T + b``, or ``relu(x W^T + b)`` with ``relu``, with each product on the kernel ``kernels``
    names (oneDNN or torch's default).

    Shapes: x ``[B, in]``, weight ``[out, in]``, bias ``[out]`` or None -> ``[B, out]``; backward:
    ``dx = dy W`` ``[B, in]``, ``dW = dy^T x`` ``[out, in]``, ``db = sum_B dy`` ``[out]``, where with ``relu``
    ``dy`` is the incoming gradient zeroed where the output is 0 (ReLU's own backward). With ``relu`` and
    the forward product on oneDNN, the activation is fused into the product: one pass over the output less.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, kernels: Kernels, relu: bool
    ) -> torch.Tensor:
        ctx.has_bias = bias is not None
        ctx.kernels = kernels
        ctx.relu = relu
        out = _forward_product(x, weight, bias, kernels.forward, relu)
        ctx.save_for_backward(x, weight, *([out] if relu else []))  # ReLU's gradient reads its output
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        if ctx.relu:
            x, weight, out = ctx.saved_tensors
            grad = torch.ops.aten.threshold_backward(grad, out, 0)
        else:
            x, weight = ctx.saved_tensors
        kernels = ctx.kernels
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = _onednn_product(grad, weight.t(), None) if kernels.dx else grad.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_w = _onednn_product(grad.t(), x.t(), None) if kernels.dW else grad.t().mm(x)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum(0)
        return grad_x, grad_w, grad_b, None, None


class Linear(nn.Linear):
    """``nn.Linear`` whose large float32 CPU products run on oneDNN where :func:`cpu_kernels` chose it.

    Same parameters, initialization and state dict as ``nn.Linear``; the results agree with
    ``F.linear`` to float32 rounding. Shapes: forward(x ``[B, in_features]``) -> ``[B, out_features]``
    (inputs of other ranks take ``F.linear``).
    """

    def uses_onednn(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> bool:
        """Whether ``forward(x)`` (or its backward) multiplies on oneDNN: a 2-D float32 CPU input, a product
        of at least :data:`MIN_MULTIPLY_ADDS` multiply-adds, no autocast, no tracing or export (torch.jit,
        torch.export: their graphs take ``F.linear``), and oneDNN chosen for one of the products.
        ``weight``: the weight :meth:`forward` multiplies by (default the layer's)."""
        weight = self.weight if weight is None else weight
        return (
            not torch.jit.is_tracing()
            and not torch.compiler.is_compiling()
            and x.dim() == 2
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and weight.dtype == torch.float32
            and x.shape[0] * x.shape[1] * self.out_features >= MIN_MULTIPLY_ADDS
            and not _autocast_on()
            and cpu_kernels().any
        )

    def forward(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``x weight^T + bias``; ``weight``: default the layer's own, else one made from it
        (``[out_features, x.shape[1]]``, its gradient flowing back to what it was made from) for a caller
        that folds part of the input into the weight (:class:`needmap.models.layers.NumericFields`)."""
        return self._product(x, weight, relu=False)

    def forward_relu(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``relu(forward(x, weight))`` without :meth:`forward`'s hooks, for a caller that holds this layer and a
        ReLU after it (:class:`needmap.models.layers.MLPBlock`). Where oneDNN makes the forward product
        (:meth:`uses_onednn` and the forward chosen for oneDNN), it applies the activation as it writes the
        product, in training (the gradient is ReLU's, from the output) and in scoring: one pass over the output
        less than the product and then the activation. Otherwise the product and then ``torch.relu``."""
        return self._product(x, weight, relu=True)

    def _product(self, x: torch.Tensor, weight: torch.Tensor | None, relu: bool) -> torch.Tensor:
        weight = self.weight if weight is None else weight
        if not self.uses_onednn(x, weight):
            return _forward_product(x, weight, self.bias, False, relu)
        kernels = cpu_kernels()
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weight, self.bias)):
            return _OneDNNLinear.apply(x, weight, self.bias, kernels, relu)
        return _forward_product(x, weight, self.bias, kernels.forward, relu)
