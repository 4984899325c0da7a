"""Arithmetic precision of training: float32, or bfloat16 autocast where the CPU computes it natively.

torch is imported by the functions that use it, so that the declared training options (which name
:data:`PRECISIONS`) load without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from needmap.errors import ConfigError

if TYPE_CHECKING:
    import torch

#: The arithmetic a model trains in (``TrainConfig.precision``).
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")


def _cpu_flags() -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo (Linux), else None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bfloat16 matrix products natively: the AVX512-BF16 or AMX-BF16 instructions.

    Read from the CPU's flags where the OS lists them: oneDNN's own check also says yes on AVX-512 CPUs
    without them, where it emulates bfloat16 at a fraction of the float32 rate (on an Intel Xeon with
    AVX-512 but no AVX512-BF16, bfloat16 products ran several times slower than float32 ones), so
    ``--precision bf16`` would slow training down. Elsewhere, oneDNN's check.
    """
    flags = _cpu_flags()
    if flags is not None:
        return bool(flags & {"avx512_bf16", "amx_bf16"})
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def precision_context(
    precision: str, device: torch.device | str = "cpu"
) -> Callable[[], contextlib.AbstractContextManager[object]]:
    """A factory of the context that a training step's forward pass runs in.

    'fp32': no change. 'bf16': ``torch.autocast(device type, dtype=torch.bfloat16)``: matrix products
    and the layers autocast lists run in bfloat16 (about twice the float32 rate on a CPU with
    AVX512-BF16; mixed precision on a GPU's tensor cores), the weights, their gradients, the
    optimizer state and the loss stay float32. ConfigError for an unknown name, a CPU without native
    bfloat16 (emulated bfloat16 is slower than float32 there) or a GPU without bfloat16.
    """
    import torch

    device_type = torch.device(device).type
    if precision == "fp32":
        return contextlib.nullcontext
    if precision == "bf16" and device_type == "cuda":
        if not torch.cuda.is_bf16_supported():
            raise ConfigError(
                f"precision='bf16' needs a GPU with bfloat16 arithmetic; {torch.cuda.get_device_name()} has none.",
                hint="Use precision='fp32'.",
            )
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    if precision == "bf16":
        if not cpu_has_bf16():
            raise ConfigError(
                "precision='bf16' needs a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX); this CPU "
                "has none, and emulated bfloat16 would be slower than float32.",
                hint="Use precision='fp32'.",
            )
        return lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    raise ConfigError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}.")
