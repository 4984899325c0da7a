"""Fully connected layers on oneDNN's float32 kernels where torch's default BLAS is slow.

torch multiplies float32 matrices on the CPU with MKL, whose fastest code paths are chosen for Intel
CPUs: on an AMD EPYC with AVX-512 (Zen 5) the speed benchmark's products ran much faster through
oneDNN (torch's other CPU library, which torch already uses for bfloat16), with the same float32
arithmetic (results agree to float32 rounding; ``benchmarks/bench_matmul.py`` measures both kernels,
BENCHMARKS.md has its figures).
:class:`Linear` is ``nn.Linear`` (same parameters, same state dict) whose forward and backward run
on oneDNN where :func:`cpu_matmul` says so, and torch's ``F.linear`` everywhere else.

Which kernel: the environment variable ``NEEDMAP_CPU_MATMUL``:

- ``auto`` (default): oneDNN on x86-64 CPUs with AVX-512 whose vendor is not Intel (where it was
  measured faster), when torch has oneDNN and its kernel agrees with ``F.linear`` on a probe; torch's
  default otherwise (Intel CPUs, CPUs without AVX-512, other architectures: not measured faster).
- ``onednn``: oneDNN on every CPU (a ConfigError when torch lacks it).
- ``torch``: torch's default (MKL) always.

Only float32 CPU products of at least :data:`MIN_MULTIPLY_ADDS` multiply-adds go to oneDNN: a
one-row product (online scoring) is faster through MKL, and so is a narrow output (a 400 -> 1
head). bfloat16 autocast and CUDA keep torch's own paths.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from needmap.errors import ConfigError

logger = logging.getLogger(__name__)

#: The environment variable that picks the CPU float32 matrix kernel, and its values.
ENV_VAR = "NEEDMAP_CPU_MATMUL"
CHOICES = ("auto", "onednn", "torch")
#: Products with fewer multiply-adds (rows x in x out) than this stay on torch's default: oneDNN's
#: fixed cost per call is larger than what it saves there.
MIN_MULTIPLY_ADDS = 1 << 20


@functools.cache
def _cpu_vendor() -> str:
    """The CPU's vendor id from /proc/cpuinfo ('GenuineIntel', 'AuthenticAMD', ...), '' where unknown."""
    try:
        with Path("/proc/cpuinfo").open(encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return ""
    return ""


@functools.cache
def _cpu_capability() -> str:
    """torch's name of the widest vector instructions it uses here ('AVX512', 'AVX2', 'DEFAULT', ...)."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return "unknown"


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
        ]
    except RuntimeError as err:
        return f"its linear op failed: {err}"
    for got, want in pairs:
        if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-4, atol=1e-4):
            return "its linear op disagreed with F.linear on a probe"
    return None


@functools.cache
def _resolve(setting: str, vendor: str, machine: str, capability: str) -> tuple[bool, str]:
    def problem() -> str | None:
        op = _linear_op()
        return "this torch has no oneDNN linear op" if op is None else _probe(op)

    if setting == "onednn":
        if (why := problem()) is not None:
            raise ConfigError(f"{ENV_VAR}=onednn, but {why}.", hint=f"Unset {ENV_VAR} or set it to 'torch'.")
        return True, "oneDNN (asked by NEEDMAP_CPU_MATMUL=onednn)"
    if setting == "torch":
        return False, "torch's default (asked by NEEDMAP_CPU_MATMUL=torch)"
    if machine.lower() not in ("x86_64", "amd64"):
        return False, f"torch's default ({machine} CPU)"
    if vendor in ("", "GenuineIntel"):
        return False, f"torch's default (MKL; CPU vendor {vendor or 'unknown'})"
    if capability != "AVX512":
        return False, f"torch's default (MKL; a {vendor} CPU with {capability}, not AVX-512)"
    if (why := problem()) is not None:
        logger.info("float32 CPU products stay on torch's default: %s", why)
        return False, f"torch's default ({why})"
    return True, f"oneDNN (a {vendor} CPU with AVX-512, where MKL is the slower float32 kernel)"


def cpu_matmul() -> tuple[bool, str]:
    """Whether float32 CPU products of :class:`Linear` go to oneDNN, and why (a phrase for reports).

    Reads ``NEEDMAP_CPU_MATMUL`` on every call (the CPU checks and the probe run once per process);
    an unknown value is a ConfigError naming the variable.
    """
    setting = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if setting not in CHOICES:
        raise ConfigError(
            f"{ENV_VAR} is {os.environ.get(ENV_VAR)!r}; expected one of {', '.join(CHOICES)}.",
            hint=f"Unset {ENV_VAR} to let needmap choose.",
        )
    return _resolve(setting, _cpu_vendor(), platform.machine(), _cpu_capability())


def cpu_matmul_name() -> str:
    """'onednn' or 'torch': the kernel of float32 CPU products now (for training reports)."""
    return "onednn" if cpu_matmul()[0] else "torch"


def _autocast_on() -> bool:
    is_enabled = getattr(torch, "is_autocast_enabled", None)
    try:
        return bool(is_enabled("cpu"))  # torch >= 2.4
    except TypeError:
        return bool(torch.is_autocast_cpu_enabled())


class _OneDNNLinear(torch.autograd.Function):
    """``y = x W^T + b`` with the product and both backward products on oneDNN.

    Shapes: x ``[B, in]``, weight ``[out, in]``, bias ``[out]`` or None -> ``[B, out]``; backward:
    ``dx = dy W`` ``[B, in]``, ``dW = dy^T x`` ``[out, in]``, ``db = sum_B dy`` ``[out]``.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        op = torch.ops.mkldnn._linear_pointwise
        grad_x = op(grad, weight.t(), None, "none", [], "") if ctx.needs_input_grad[0] else None
        grad_w = op(grad.t(), x.t(), None, "none", [], "") if ctx.needs_input_grad[1] else None
        grad_b = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


class Linear(nn.Linear):
    """``nn.Linear`` whose large float32 CPU products run on oneDNN where :func:`cpu_matmul` says so.

    Same parameters, initialization and state dict as ``nn.Linear``; the results agree with
    ``F.linear`` to float32 rounding. Shapes: forward(x ``[B, in_features]``) -> ``[B, out_features]``
    (inputs of other ranks take ``F.linear``).
    """

    def uses_onednn(self, x: torch.Tensor) -> bool:
        """Whether ``forward(x)`` multiplies on oneDNN: a 2-D float32 CPU input, a product of at least
        :data:`MIN_MULTIPLY_ADDS` multiply-adds, no autocast, no tracing or export (torch.jit, torch.export:
        their graphs take ``F.linear``), and :func:`cpu_matmul`."""
        return (
            not torch.jit.is_tracing()
            and not torch.compiler.is_compiling()
            and x.dim() == 2
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and self.weight.dtype == torch.float32
            and x.shape[0] * self.in_features * self.out_features >= MIN_MULTIPLY_ADDS
            and not _autocast_on()
            and cpu_matmul()[0]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.uses_onednn(x):
            return F.linear(x, self.weight, self.bias)
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, self.weight, self.bias)):
            return _OneDNNLinear.apply(x, self.weight, self.bias)
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")
