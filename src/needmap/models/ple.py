""" "ple": Progressive Layered Extraction (Tang et al., 2020), stacked CGC layers, one output per task.

A Customized Gate Control (CGC) layer holds shared experts and, for each task, experts of its own.
Task t's gate mixes its own experts and the shared ones; in every layer but the last, a shared
gate mixes all experts into the shared input of the next layer. Task towers read the last layer's
task outputs. ``n_outputs = T`` tasks give ``[B, T]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.models.base import TabularModel
from needmap.models.layers import MLPBlock, dense
from needmap.models.mmoe import FlatInput, Towers, check_experts
from needmap.models.registration import register
from needmap.models.space import DROPOUT, EMBEDDING, Dimension


def _mix(gate: nn.Linear, x: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
    """``sum_e softmax(gate(x))_e * experts[:, e]``: x ``[B, in]``, experts ``[B, E, H]`` -> ``[B, H]``."""
    weights = torch.softmax(gate(x), dim=-1)
    return torch.einsum("be,beh->bh", weights, experts)


class CGCLayer(nn.Module):
    """One extraction layer: per-task and shared experts, a gate per task (and a shared gate).

    Args:
        n_tasks: T.
        in_dim: width of each input (task inputs and shared input).
        num_shared, num_task: shared experts S, experts per task E_t.
        hidden, activation, dropout, batch_norm: each expert's MLP.
        last: the last layer has no shared gate (nothing reads a shared output).

    Shapes:
        forward(task inputs: T tensors ``[B, in_dim]``, shared ``[B, in_dim]``) -> (T tensors
        ``[B, H]``, shared ``[B, H]`` or None in the last layer).
    """

    def __init__(
        self,
        n_tasks: int,
        in_dim: int,
        num_shared: int,
        num_task: int,
        hidden: Sequence[int],
        activation: str,
        dropout: float,
        batch_norm: bool,
        last: bool,
    ) -> None:
        super().__init__()

        def expert() -> MLPBlock:
            return MLPBlock(in_dim, hidden, activation, dropout, batch_norm)

        self.shared = nn.ModuleList(expert() for _ in range(num_shared))
        self.task = nn.ModuleList(nn.ModuleList(expert() for _ in range(num_task)) for _ in range(n_tasks))
        self.task_gates = nn.ModuleList(dense(in_dim, num_task + num_shared) for _ in range(n_tasks))
        self.shared_gate = None if last else dense(in_dim, n_tasks * num_task + num_shared)
        self.out_dim = self.shared[0].out_dim

    def forward(
        self, task_inputs: Sequence[torch.Tensor], shared_input: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        shared = [e(shared_input) for e in self.shared]
        own = [[e(x) for e in experts] for x, experts in zip(task_inputs, self.task, strict=True)]
        outputs = [
            _mix(gate, x, torch.stack(mine + shared, dim=1))
            for x, mine, gate in zip(task_inputs, own, self.task_gates, strict=True)
        ]
        if self.shared_gate is None:
            return outputs, None
        everything = torch.stack([e for mine in own for e in mine] + shared, dim=1)
        return outputs, _mix(self.shared_gate, shared_input, everything)


@register("ple")
class PLE(TabularModel):
    """Progressive Layered Extraction over shared input embeddings.

    Args:
        n_numeric, cardinalities, lists: the inputs (see :class:`TabularModel`).
        n_outputs: number of tasks T (one output each).
        embedding_dim: size of each categorical and list embedding.
        num_layers: number of CGC layers (1 = a single CGC).
        num_shared_experts: shared experts per layer.
        num_task_experts: experts of each task per layer.
        expert_hidden: widths of each expert's layers (the last is the expert's output size).
        tower_hidden: widths of each task tower's hidden layers (may be empty).
        activation, dropout, batch_norm: of the expert and tower layers.

    Shapes:
        forward(numeric ``[B, n_numeric]``, categorical ``[B, C]``, lists) -> ``[B, T]``.
    """

    search_space: ClassVar[dict[str, Dimension]] = {**DROPOUT, **EMBEDDING}

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[dict] | None = None,
        embedding_dim: int = 16,
        num_layers: int = 2,
        num_shared_experts: int = 2,
        num_task_experts: int = 2,
        expert_hidden: Sequence[int] = (64,),
        tower_hidden: Sequence[int] = (32,),
        activation: str = "relu",
        dropout: float = 0.1,
        batch_norm: bool = False,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists)
        check_experts("num_shared_experts", num_shared_experts, expert_hidden)
        check_experts("num_task_experts", num_task_experts, expert_hidden)
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ConfigError(f"num_layers is {num_layers!r}; expected a whole number of at least 1.")
        self.hyper: dict[str, Any] = {
            "embedding_dim": int(embedding_dim),
            "num_layers": int(num_layers),
            "num_shared_experts": int(num_shared_experts),
            "num_task_experts": int(num_task_experts),
            "expert_hidden": [int(h) for h in expert_hidden],
            "tower_hidden": [int(h) for h in tower_hidden],
            "activation": str(activation),
            "dropout": float(dropout),
            "batch_norm": bool(batch_norm),
        }
        self.input = FlatInput(self.n_numeric, self.cardinalities, self.lists, int(embedding_dim))
        layers = []
        width = self.input.out_dim
        for level in range(num_layers):
            layer = CGCLayer(
                self.n_outputs,
                width,
                num_shared_experts,
                num_task_experts,
                expert_hidden,
                activation,
                dropout,
                batch_norm,
                last=level == num_layers - 1,
            )
            layers.append(layer)
            width = layer.out_dim
        self.layers = nn.ModuleList(layers)
        self.towers = Towers(self.n_outputs, width, tower_hidden, activation, dropout, batch_norm)

    def config(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, list) else v for k, v in self.hyper.items()}

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """``[B, n_numeric]`` float32, ``[B, C]`` int64, lists -> ``[B, T]``."""
        x = self.input(numeric, categorical, lists)
        task_inputs: list[torch.Tensor] = [x] * self.n_outputs
        shared: torch.Tensor | None = x
        for layer in self.layers:
            assert shared is not None
            task_inputs, shared = layer(task_inputs, shared)
        return self.towers(task_inputs)
