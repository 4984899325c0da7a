"""Where training runs: the CPU, or a CUDA GPU when the configuration asks for one or 'auto' finds one; and
torch's thread count for a block (:func:`torch_threads`), and the cores each of several training processes on
one machine takes (:func:`cores_per_process`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from needmap.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """The torch device that ``TrainConfig.device`` names.

    'auto': the current CUDA GPU when torch sees one, else the CPU. 'cpu'. 'cuda' / 'cuda:N': that GPU;
    ConfigError when torch sees no CUDA GPU (a CPU build of torch, no driver) or no GPU of that number:
    never a quiet switch to the CPU.
    """
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(
            f"device={name!r} needs a CUDA GPU, and torch sees none (torch {torch.__version__}, "
            f"built with CUDA {torch.version.cuda or 'no'}).",
            hint="Use device='cpu' or 'auto', or install a CUDA build of torch on a machine with an NVIDIA GPU.",
        )
    device = torch.device(name)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(
            f"device={name!r}: torch sees {torch.cuda.device_count()} CUDA GPU(s), numbered from 0.",
            hint="Use 'cuda' for the current GPU.",
        )
    return device


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (a GPU runs asynchronously; clocks read after this are true)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells it, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def cores_per_process() -> int:
    """The cores one training process may keep busy: :func:`usable_cores` shared out among the processes a
    launcher started on this machine (``LOCAL_WORLD_SIZE``, set by torchrun), at least 1.

    Why: every rank of ``torchrun --nproc-per-node N`` sees the whole machine; N ranks each running a thread per
    core would oversubscribe the cores N times over and slow every step."""
    try:
        local = int(os.environ.get("LOCAL_WORLD_SIZE") or 1)
    except ValueError:
        local = 1
    return max(1, usable_cores() // max(1, local))


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's thread count set to ``threads`` for a block (None: unchanged), restored after."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        if threads is not None:
            torch.set_num_threads(previous)
