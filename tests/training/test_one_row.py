"""One-row scoring through a traced graph: the eager model's outputs on every row, or the eager model."""

from __future__ import annotations

import pytest
import torch

from needmap.models import available_models, build_model
from needmap.models.inputs import Inputs
from needmap.training.one_row import OneRowForward

CARDS = [7, 42, 5]
SEQUENCE = {"name": "history", "kind": "sequence", "cardinality": 42, "max_len": 6, "share": 1}
TAGS = {"name": "tags", "kind": "multihot", "cardinality": 9, "max_len": 3}


def rows(seed: int, n: int = 1) -> Inputs:
    g = torch.Generator().manual_seed(seed)
    categorical = torch.stack([torch.randint(0, c, (n,), generator=g) for c in CARDS], 1)
    history = torch.randint(0, 42, (n, 6), generator=g)
    history[:, : seed % 6] = 0  # padding of different lengths
    return Inputs(torch.randn(n, 4, generator=g), categorical, (torch.randint(0, 9, (n, 3), generator=g), history))


@pytest.mark.parametrize("name", [*sorted(set(available_models()) - {"mmoe", "ple"}), "mmoe", "ple"])
def test_the_traced_graph_gives_the_eager_outputs_on_other_rows(name: str) -> None:
    torch.manual_seed(0)
    n_outputs = 2 if name in ("mmoe", "ple") else 1
    model = build_model(name, n_numeric=4, cardinalities=CARDS, n_outputs=n_outputs, lists=[TAGS, SEQUENCE]).eval()
    one = OneRowForward(model)
    for seed in range(6):  # traced on row 0, then used on rows it never saw
        inputs = rows(seed)
        with torch.inference_mode():
            expected = model(*inputs)
        torch.testing.assert_close(one(inputs), expected, rtol=1e-5, atol=1e-6)
    assert one.traced
    assert one.graph is not None, one.reason
    with pytest.raises(ValueError, match="one row"):
        one(rows(0, n=2))


def test_a_model_that_does_not_trace_stays_eager() -> None:
    class Untraceable(torch.nn.Module):
        def forward(self, numeric, categorical, lists=()):
            return numeric.numpy()[:, :1] * 2  # leaves torch: jit.trace refuses it

    one = OneRowForward(Untraceable())
    row = Inputs(torch.ones(1, 4), torch.zeros(1, 3, dtype=torch.long))
    # the eager forward runs and returns its array, which is not a tensor to turn into float32
    with pytest.raises(AttributeError, match=r"'numpy\.ndarray' object has no attribute 'float'"):
        one(row)
    assert one.traced and one.graph is None and one.reason.startswith("tracing failed")

    class RefusesTracing(torch.nn.Module):
        def forward(self, numeric, categorical, lists=()):
            if torch.jit.is_tracing():
                raise RuntimeError("not traceable")
            return numeric[:, :1] * 2

    eager = OneRowForward(RefusesTracing())
    torch.testing.assert_close(eager(row), torch.full((1, 1), 2.0))  # the eager output, once tracing failed
    assert eager.graph is None and eager.reason == "tracing failed (RuntimeError: not traceable)"

    class Disagrees(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def forward(self, numeric, categorical, lists=()):
            self.calls += 1  # a different answer on each call: the trace cannot match the eager output
            return numeric[:, :1] * self.calls

    two = OneRowForward(Disagrees())
    assert two(row).item() == 3.0  # trace (1), its check against eager (2), then the eager call (3)
    assert two.graph is None and "disagreed" in two.reason
