"""Data-parallel training over several processes: DistributedDataParallel, one process per rank.

A launcher (``torchrun``, ``needmap train --nproc N``, Ray Train, Spark's TorchDistributor) starts the same
program N times with the environment variables of torch.distributed (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``). :func:`init_from_env` joins the process group they
describe (gloo on CPUs; NCCL for tensors on a GPU when CUDA is available), and :func:`current` tells the Trainer
whether it runs as one rank of several.

What each rank does (:class:`needmap.training.trainer.Trainer`): every rank holds the same encoded rows and fits
the same preprocessor (deterministic on the same rows: nothing to broadcast); each epoch every rank draws the same
permutation of the training rows from the seed, cuts it into the same global batches of ``batch_size`` rows, and
trains on its share of each batch (:func:`shard`). DDP averages the gradients of the shares, so a step is the
step one process would take on the whole batch (up to floating-point order): the same seed and batch size give
nearly the same model whatever the number of ranks, and the same model for the same number of ranks. The
training loss is summed across ranks; validation runs on rank 0, whose history entry (and so the early-stopping
and schedule decisions) is broadcast to the others.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from needmap.errors import ConfigError

#: Seconds a collective (a gradient average, the barrier at the end) waits for the other ranks before it fails:
#: the other ranks wait at the final barrier while rank 0 trains the baselines and writes the model.
DEFAULT_TIMEOUT_S = 7200

#: The environment variable that overrides :data:`DEFAULT_TIMEOUT_S`.
TIMEOUT_ENV = "NEEDMAP_DIST_TIMEOUT_S"


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes.

    Attributes:
        rank: its number, 0 to ``world_size - 1``; rank 0 validates, decides and writes.
        world_size: how many processes train together.
        local_rank: its number on this machine (the GPU it uses under NCCL).
        local_world_size: how many of them run on this machine (they share its cores).
        backend: 'gloo' (CPUs), or 'cpu:gloo,cuda:nccl' where CUDA is available.
    """

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    backend: str

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one that validates, writes files and prints."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"the environment variable {name}={value!r} is not an integer; expected one.") from None


def launched_world_size() -> int:
    """The number of processes a launcher started (``WORLD_SIZE``; 1 without a launcher)."""
    return _env_int("WORLD_SIZE", 1)


def processes_on_this_machine() -> int:
    """How many training processes share this machine's cores (``LOCAL_WORLD_SIZE``, 1 without a launcher)."""
    return max(1, _env_int("LOCAL_WORLD_SIZE", 1))


def is_joined() -> bool:
    """Whether this process is in an initialized process group (of any size)."""
    return dist.is_available() and dist.is_initialized()


def init_from_env() -> Ranks | None:
    """Join the process group a launcher described in the environment; None when there is one process.

    Already initialized (Ray Train's TorchTrainer does it before calling the training function): that group is
    used. Else with ``WORLD_SIZE`` > 1: the group is initialized from the environment (``env://``) with NCCL when
    CUDA is available (for tensors on the GPU; gloo for those on the CPU), else gloo, and with CUDA each process
    takes the GPU of its local rank.
    """
    if is_joined():
        return current()
    if launched_world_size() <= 1:
        return None
    if not dist.is_available():
        raise ConfigError(
            f"WORLD_SIZE={launched_world_size()} asks for distributed training, and this build of torch has no "
            "torch.distributed; expected a torch with distributed support."
        )
    # With a GPU: NCCL for tensors on it, gloo for those on the CPU (device='cpu' training, the objects broadcast).
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(_env_int("LOCAL_RANK", 0) % torch.cuda.device_count())
    timeout = timedelta(seconds=_env_int(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    dist.init_process_group(backend=backend, init_method="env://", timeout=timeout)
    return current()


def current() -> Ranks | None:
    """This process's :class:`Ranks` when it trains as one of several (an initialized group of more than one
    process), else None."""
    if not is_joined() or dist.get_world_size() <= 1:
        return None
    world = dist.get_world_size()
    return Ranks(
        rank=dist.get_rank(),
        world_size=world,
        local_rank=_env_int("LOCAL_RANK", 0),
        local_world_size=_env_int("LOCAL_WORLD_SIZE", world),
        backend=str(dist.get_backend()),
    )


def shutdown() -> None:
    """Leave the process group (after the last collective), so that the process exits cleanly."""
    if is_joined():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank is here (a no-op with one process)."""
    if current() is not None:
        dist.barrier()


def shard(index: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """This rank's share of a global batch's row positions: the rank-th of ``world_size`` contiguous parts of
    equal size (+-1 row). Every rank holds the same ``index`` (the same seeded permutation), so the shares are
    disjoint and together make the batch."""
    return torch.tensor_split(index, ranks.world_size)[ranks.rank]


def sum_across(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over the ranks, in place (every rank gets the same sum)."""
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def from_main(value: Any) -> Any:
    """Rank 0's ``value``, on every rank (a picklable object: a history entry, a decision)."""
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class _MemberLogits(nn.Module):
    """A network seen through its ``member_logits`` (the outputs training fits), as DDP's forward: DDP runs its
    gradient averaging for what goes through its wrapper's forward."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, *inputs: Any) -> torch.Tensor:
        return self.network.member_logits(*inputs)


def data_parallel(network: nn.Module, device: torch.device) -> nn.Module:
    """``network`` wrapped in DistributedDataParallel; calling the result gives ``network.member_logits``.

    DDP broadcasts rank 0's weights and buffers when it wraps them, so every rank starts from the same network,
    and averages the gradients of every backward pass across the ranks. The graph is declared static (the same
    parameters take part in every step), which lets a parameter that no step uses be, without the graph walk of
    ``find_unused_parameters`` at every step."""
    from torch.nn.parallel import DistributedDataParallel

    device_ids = None
    if device.type == "cuda":
        device_ids = [device.index if device.index is not None else torch.cuda.current_device()]
    return DistributedDataParallel(
        _MemberLogits(network),
        device_ids=device_ids,
        static_graph=True,
    )
