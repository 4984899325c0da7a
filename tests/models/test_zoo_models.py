"""Every model of the CTR zoo honours the TabularModel contract: shapes, config, weights, gradients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from needmap.errors import ConfigError
from needmap.models import FeatureEmbedding, ListEmbedding, available_models, build_model
from needmap.models.cross import CrossNetMix, CrossNetV2
from needmap.models.fields import FieldEmbedding, LinearTerms

ZOO = ["lr", "fm", "wide_deep", "deepfm", "dcnv2", "xdeepfm", "autoint", "finalmlp", "finalnet"]

# Non-default hyper-parameters of each model (the config round trip must keep every one of them).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "lr": ("lr", {}),
    "fm": ("fm", {"embedding_dim": 6}),
    "wide_deep": ("wide_deep", {"embedding_dim": 6, "hidden": [16, 8], "activation": "gelu", "batch_norm": True}),
    "deepfm": ("deepfm", {"embedding_dim": 5, "hidden": [12], "dropout": 0.3, "batch_norm": True}),
    "dcnv2-parallel": ("dcnv2", {"structure": "parallel", "cross_layers": 2, "hidden": [8], "activation": "silu"}),
    "dcnv2-stacked-mix": ("dcnv2", {"structure": "stacked", "low_rank": 3, "num_experts": 2, "hidden": [8, 4]}),
    "xdeepfm": ("xdeepfm", {"cin_layers": [5, 3], "hidden": [], "embedding_dim": 4}),
    "autoint": (
        "autoint",
        {"attention_layers": 2, "attention_dim": 8, "layer_norm": True, "use_wide": True, "hidden": [], "scale": False},
    ),
    "finalmlp": (
        "finalmlp",
        {"hidden": [8, 4], "hidden2": [6], "fs_hidden": [], "fs1_context": [0], "fs2_context": [1, 2], "num_heads": 2},
    ),
    "finalnet": (
        "finalnet",
        {"block_type": "1B", "residual_type": "sum", "hidden": [7], "activation": "relu", "use_field_gate": False},
    ),
    "finalnet-2b": ("finalnet", {"hidden": [8, 4], "hidden2": [6], "dropout": 0.1}),
}

MULTIHOT = {"name": "interests", "kind": "multihot", "cardinality": 7, "max_len": 3, "pooling": "mean"}
SEQUENCE = {"name": "history", "kind": "sequence", "cardinality": 6, "max_len": 5, "pooling": "sum", "share": 1}
# name: (n_numeric, cardinalities, lists, n_outputs)
LAYOUTS: dict[str, tuple[int, list[int], list[dict], int]] = {
    "numeric-only": (4, [], [], 1),
    "categorical-only": (0, [3, 6, 4], [], 1),
    "multihot-multiclass": (2, [5, 6], [MULTIHOT], 3),
    "sequence": (2, [5, 6], [SEQUENCE], 1),
    "everything": (3, [5, 6], [MULTIHOT, SEQUENCE], 1),
}


def _layout(name: str) -> dict[str, Any]:
    n_numeric, cards, lists, n_outputs = LAYOUTS[name]
    return {"n_numeric": n_numeric, "cardinalities": cards, "lists": lists, "n_outputs": n_outputs}


def _inputs(layout: str, n: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    n_numeric, cards, lists, _ = LAYOUTS[layout]
    g = torch.Generator().manual_seed(seed)
    numeric = torch.randn(n, n_numeric, generator=g)
    columns = [torch.randint(0, c, (n,), generator=g) for c in cards]
    categorical = torch.stack(columns, 1) if columns else torch.zeros((n, 0), dtype=torch.int64)
    tensors = []
    for spec in lists:
        ids = torch.randint(1, spec["cardinality"], (n, spec["max_len"]), generator=g)
        lengths = torch.randint(0, spec["max_len"] + 1, (n, 1), generator=g)
        tensors.append(torch.where(torch.arange(spec["max_len"]) < lengths, ids, 0))  # values left, padding right
    return numeric, categorical, tuple(tensors)


def _build(name: str, layout: str, seed: int = 0, **hyper: Any) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(name, **_layout(layout), **hyper)


def _randomize(model: torch.nn.Module) -> None:
    """Move every weight off its initial value (zero-initialized linear terms would hide inputs)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)


def test_registry_lists_the_zoo() -> None:
    names = available_models()
    for name in [*ZOO, "mlp"]:
        assert name in names


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("name", ZOO)
def test_forward_shapes(name: str, layout: str) -> None:
    model = _build(name, layout)
    inputs = _inputs(layout)
    out = model(*inputs)
    assert out.shape == (16, LAYOUTS[layout][3])
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    model.eval()
    assert model(*(x[:1] for x in inputs[:2]), tuple(t[:1] for t in inputs[2])).shape == (1, LAYOUTS[layout][3])


@pytest.mark.parametrize("name", ZOO)
def test_every_kind_of_input_reaches_the_output(name: str) -> None:
    model = _build(name, "everything")
    _randomize(model)
    model.eval()
    numeric, categorical, (interests, history) = _inputs("everything")
    base = model(numeric, categorical, (interests, history))
    changed = {
        "numeric": model(numeric + 1.0, categorical, (interests, history)),
        "categorical": model(numeric, (categorical + 1) % torch.tensor([5, 6]), (interests, history)),
        "multihot": model(numeric, categorical, (torch.flip(interests, [0]), history)),
        "sequence": model(numeric, categorical, (interests, torch.flip(history, [0]))),
    }
    for kind, out in changed.items():
        assert not torch.allclose(out, base), f"{name} ignores its {kind} input"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_config_round_trip_rebuilds_the_same_outputs(variant: str) -> None:
    name, hyper = VARIANTS[variant]
    model = _build(name, "everything", **hyper)
    config = json.loads(json.dumps(model.config()))
    for key, value in hyper.items():
        assert config[key] == value
    model.train()
    model(*_inputs("everything", seed=1)).sum().backward()  # moves BatchNorm statistics where there are any
    rebuilt = _build(name, "everything", seed=99, **config)
    assert rebuilt.config() == config
    rebuilt.load_state_dict(model.state_dict())
    model.eval()
    rebuilt.eval()
    inputs = _inputs("everything", seed=2)
    assert torch.equal(model(*inputs), rebuilt(*inputs))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_safetensors_round_trip_gives_identical_outputs(variant: str, tmp_path: Path) -> None:
    name, hyper = VARIANTS[variant]
    model = _build(name, "everything", **hyper)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    model(*_inputs("everything", seed=1)).pow(2).mean().backward()
    optimizer.step()
    path = tmp_path / "weights.safetensors"
    save_file(model.state_dict(), str(path))
    loaded = _build(name, "everything", seed=7, **json.loads(json.dumps(model.config())))
    loaded.load_state_dict(load_file(str(path)))
    model.eval()
    loaded.eval()
    inputs = _inputs("everything", seed=3)
    assert torch.equal(model(*inputs), loaded(*inputs))


@pytest.mark.parametrize("name", ZOO)
def test_gradient_reaches_every_embedding_and_weight(name: str) -> None:
    model = _build(name, "everything")
    model.train()
    target = torch.randint(0, 2, (16,)).float()
    out = model(*_inputs("everything"))
    torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0], target).backward()
    tables = [m.embedding.weight for m in model.modules() if isinstance(m, (FeatureEmbedding, ListEmbedding))]
    tables += [m.numeric for m in model.modules() if isinstance(m, (FieldEmbedding, LinearTerms))]
    assert len(tables) >= 3
    for table in tables:
        assert table.grad is not None and table.grad.abs().sum() > 0
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_dcnv2_structures_and_low_rank_mixture() -> None:
    full = _build("dcnv2", "everything", structure="stacked", hidden=[])
    mix = _build("dcnv2", "everything", low_rank=4, num_experts=3)
    dim = 7 * 16  # F = 2 categorical + 2 lists + 3 numeric fields, embedding_dim 16
    assert isinstance(full.cross, CrossNetV2) and full.head.in_features == dim  # the cross network alone
    assert isinstance(mix.cross, CrossNetMix) and mix.head.in_features == dim + 128
    assert mix.cross.U.shape == (3, 3, dim, 4)


def test_finalnet_has_no_batch_norm_unless_asked() -> None:
    """FinalNet's default leaves BatchNorm out (skewed numerics made it overconfident, see its
    docstring); batch_norm=True puts one after every factorized layer of both blocks."""
    default = _build("finalnet", "everything", hidden=[8, 4], hidden2=[6])
    assert default.config()["batch_norm"] is False
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in default.modules())
    paper = _build("finalnet", "everything", hidden=[8, 4], hidden2=[6], batch_norm=True)
    assert [m.num_features for m in paper.modules() if isinstance(m, torch.nn.BatchNorm1d)] == [8, 4, 6]


@pytest.mark.parametrize(
    ("name", "hyper", "message"),
    [
        ("dcnv2", {"structure": "diagonal"}, r"structure is 'diagonal'; expected one of 'stacked', 'parallel'"),
        ("dcnv2", {"low_rank": 0}, "low_rank is 0; expected a whole number >= 1"),
        ("finalnet", {"hidden": [64, 33]}, r"hidden holds \[33\]; expected widths divisible by 2"),
        ("finalnet", {"block_type": "3B"}, "block_type"),
        ("finalmlp", {"fs1_context": [7]}, r"fs1_context is \[7\]; expected distinct field positions in \[0, 7\)"),
        ("finalmlp", {"hidden2": [64, 33], "num_heads": 2}, "divisible by num_heads"),
        ("autoint", {"attention_dim": 30, "num_heads": 4}, "divisible by num_heads"),
        ("xdeepfm", {"cin_layers": []}, "cin_layers is empty"),
        ("deepfm", {"dropout": 1.5}, r"dropout is 1.5; expected a probability in \[0, 1\)"),
        ("wide_deep", {"activation": "swish"}, "activation is 'swish'"),
        ("fm", {"embedding_dim": 0}, "embedding_dim is 0"),
        ("lr", {"embedding_dim": 8}, "no hyper-parameter 'embedding_dim'"),
    ],
)
def test_bad_hyper_parameters_are_config_errors(name: str, hyper: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _build(name, "everything", **hyper)
