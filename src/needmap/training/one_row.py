"""One row at a time: a model's forward as a traced TorchScript graph, for online scoring.

Scoring one raw row is mostly per-call overhead: a DeepFM 400-400-400 forward of one row runs ~50
module calls in Python, where the arithmetic itself is a few microseconds. ``torch.jit.trace`` records
the same operations once as a graph that runs without the Python module calls, which removes much of
that overhead (BENCHMARKS.md has the current one-row latencies). The graph is traced on the first row a
model scores, checked against the eager forward on that row, and used for one-row batches only (a trace
may record the batch size); a model that does not trace, or whose trace disagrees, keeps the eager
forward.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from needmap.models.inputs import Inputs


class OneRowForward:
    """``forward(inputs)`` of ``model`` for inputs of one row: the traced graph where it agrees."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.graph: Any = None
        self.traced = False  # whether tracing was tried
        self.reason: str | None = None  # why the eager forward is used, when it is

    def _trace(self, inputs: Inputs) -> None:
        self.traced = True
        args: tuple[Any, ...] = (inputs.numeric, inputs.categorical) + ((inputs.lists,) if inputs.lists else ())
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # TracerWarnings: checked below against the eager output
                graph = torch.jit.trace(self.model.eval(), args, check_trace=False)
                same = torch.allclose(graph(*args), self.model(*args), rtol=1e-5, atol=1e-6)
        except Exception as err:
            self.reason = f"tracing failed ({type(err).__name__}: {err})"
            return
        if not same:
            self.reason = "the traced graph disagreed with the model on the first row"
            return
        self.graph = graph

    def __call__(self, inputs: Inputs) -> torch.Tensor:
        """Outputs ``[1, n_outputs]`` float32 of one row, without gradients."""
        if inputs.rows != 1:
            raise ValueError(f"OneRowForward takes one row; got {inputs.rows}")
        if not self.traced:
            self._trace(inputs)
        with torch.inference_mode():
            if self.graph is not None:
                args = (inputs.numeric, inputs.categorical) + ((inputs.lists,) if inputs.lists else ())
                return self.graph(*args).float()
            return self.model(*inputs).float()
