"""Every block of every registered model does something: it runs in the forward pass, and the output
changes when the block's output is replaced by zeros.

A block can vanish from ``forward`` without any other test noticing: DeepFM without its FM term still
trains, still has the shapes, the gradients and the round trips of the zoo tests, because the FM term has
no parameters of its own. These checks go over the registry, so a new model is held to them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

from needmap.models import available_models, build_model
from needmap.models.layers import NumericFields

MULTIHOT = {"name": "interests", "kind": "multihot", "cardinality": 7, "max_len": 3, "pooling": "mean"}
SEQUENCE = {"name": "history", "kind": "sequence", "cardinality": 6, "max_len": 5, "pooling": "sum", "share": 1}
LAYOUT: dict[str, Any] = {"n_numeric": 3, "cardinalities": [5, 6], "lists": [MULTIHOT, SEQUENCE]}
MULTI_TASK = {"mmoe", "ple"}

# Each registered model with small hidden layers, and the variants that build other blocks.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "lr": ("lr", {}),
    "fm": ("fm", {}),
    "mlp": ("mlp", {"hidden": [16, 8]}),
    "wide_deep": ("wide_deep", {"hidden": [16, 8]}),
    "deepfm": ("deepfm", {"hidden": [16, 8]}),
    "dcnv2": ("dcnv2", {"hidden": [16]}),
    "dcnv2-parallel": ("dcnv2", {"structure": "parallel", "hidden": [16]}),
    "dcnv2-mixture": ("dcnv2", {"low_rank": 3, "num_experts": 2, "hidden": [16]}),
    "dcnv2-ensemble": ("dcnv2", {"ensemble_size": 3, "hidden": [16]}),
    "xdeepfm": ("xdeepfm", {"cin_layers": [5, 3], "hidden": [16]}),
    "autoint": ("autoint", {"attention_layers": 2, "hidden": [16]}),
    "autoint-wide": ("autoint", {"attention_layers": 1, "use_wide": True, "layer_norm": True, "hidden": []}),
    "finalmlp": ("finalmlp", {"hidden": [16], "hidden2": [8]}),
    "finalmlp-context": ("finalmlp", {"hidden": [8], "hidden2": [6], "fs1_context": [0], "fs2_context": [1, 2]}),
    "finalnet": ("finalnet", {"hidden": [16], "hidden2": [8]}),
    "finalnet-1b": ("finalnet", {"block_type": "1B", "hidden": [16]}),
    "din": ("din", {"hidden": [16]}),
    "din-dice": ("din", {"attention_activation": "dice", "hidden": [16]}),
    "mmoe": ("mmoe", {"num_experts": 3, "expert_hidden": [16]}),
    "ple": ("ple", {"num_shared_experts": 1, "num_task_experts": 2, "expert_hidden": [8], "tower_hidden": [4]}),
}
# A registered model without an entry above is checked with its default hyper-parameters.
VARIANTS.update({name: (name, {}) for name in available_models() if name not in {n for n, _ in VARIANTS.values()}})
CONTAINERS = (nn.ModuleList, nn.ModuleDict, nn.ParameterList, nn.ParameterDict)


def _build(variant: str) -> nn.Module:
    name, hyper = VARIANTS[variant]
    torch.manual_seed(0)
    model = build_model(name, **LAYOUT, n_outputs=2 if name in MULTI_TASK else 1, **hyper)
    with torch.no_grad():  # off the initial values: zero-initialized terms would hide a block
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return model


def _inputs(n: int = 16) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(0)
    numeric = torch.randn(n, LAYOUT["n_numeric"], generator=g)
    categorical = torch.stack([torch.randint(0, c, (n,), generator=g) for c in LAYOUT["cardinalities"]], 1)
    lists = []
    for spec in LAYOUT["lists"]:
        ids = torch.randint(1, spec["cardinality"], (n, spec["max_len"]), generator=g)
        lengths = torch.randint(0, spec["max_len"] + 1, (n, 1), generator=g)
        lists.append(torch.where(torch.arange(spec["max_len"]) < lengths, ids, 0))
    return numeric, categorical, tuple(lists)


def _blocks(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Every named sub-block of ``model``, at every depth (containers, which never run, left out)."""
    for name, module in model.named_modules():
        if name and not isinstance(module, CONTAINERS):
            yield name, module


def _zeros(output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return torch.zeros_like(output)
    if isinstance(output, (tuple, list)):
        return type(output)(_zeros(o) for o in output)
    if isinstance(output, NumericFields):  # every field zero: the lead's embeddings and the numbers
        return NumericFields(torch.zeros_like(output.lead_fields), torch.zeros_like(output.numeric), output.vectors)
    assert output is None, type(output)
    return None


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_block_runs_in_the_forward_pass_and_in_training(variant: str) -> None:
    """A block that is built but never called (its term dropped from ``forward``) fails here."""
    model = _build(variant)
    inputs = _inputs()
    called: set[str] = set()
    for mode in ("eval", "train"):
        model.train(mode == "train")
        called.clear()
        hooks = [m.register_forward_hook(lambda *_, n=n: called.add(n)) for n, m in _blocks(model)]
        try:
            with torch.no_grad():
                model.member_logits(*inputs) if mode == "train" else model(*inputs)
        finally:
            for hook in hooks:
                hook.remove()
        never = [name for name, _ in _blocks(model) if name not in called]
        assert never == [], f"{variant} ({mode}): built but never run: {never}"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_output_changes_when_any_block_is_taken_out(variant: str) -> None:
    """Each block's output replaced by zeros (the block removed from a sum, or its signal cut) changes the
    model's output: no block is dead weight, and none is bypassed."""
    model = _build(variant).eval()
    inputs = _inputs()
    with torch.no_grad():
        whole = model(*inputs)
    unchanged = []
    for name, block in _blocks(model):
        hook = block.register_forward_hook(lambda _module, _args, output: _zeros(output))
        try:
            with torch.no_grad():
                without = model(*inputs)
        finally:
            hook.remove()
        if torch.allclose(without, whole, rtol=0, atol=1e-6):
            unchanged.append(f"{name} ({type(block).__name__})")
    assert unchanged == [], f"{variant}: the output does not depend on {unchanged}"
