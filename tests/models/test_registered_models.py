"""The contract every registered architecture honours, and a new architecture as one file.

Every name in the registry is checked the same way (in the spirit of scikit-learn's
``check_estimator``): it builds from its defaults on a layout with numeric, categorical, multi-hot and
sequence inputs; maps a batch to ``[B, n_outputs]`` logits; its ``config()`` is JSON and rebuilds the
same network, whose saved weights give the same outputs; gradients reach every parameter; and every
option of its ``search_space`` is a constructor argument whose searched values build a working
network. A model added as one file, with no other edit, is picked up: by the registry, by these
checks, by ``needmap.Model`` and by the tuning search space.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pyarrow as pa
import pytest
import torch
from safetensors.torch import load_file, save_file

import needmap as nm
from needmap.models import available_models, build_model, model_class
from needmap.models import registry as registry_module
from needmap.workflows.search_space import knobs, searched_options

optuna.logging.set_verbosity(optuna.logging.WARNING)

LISTS = [
    {"name": "interests", "kind": "multihot", "cardinality": 7, "max_len": 3, "pooling": "mean", "share": None},
    {"name": "history", "kind": "sequence", "cardinality": 6, "max_len": 4, "pooling": "sum", "share": 1},
]
LAYOUT = {"n_numeric": 3, "cardinalities": [5, 6], "lists": LISTS, "n_outputs": 2}
ROWS = 16


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(seed)
    numeric = torch.randn(ROWS, LAYOUT["n_numeric"], generator=g)
    categorical = torch.stack([torch.randint(0, c, (ROWS,), generator=g) for c in LAYOUT["cardinalities"]], dim=1)
    lists = tuple(torch.randint(0, spec["cardinality"], (ROWS, spec["max_len"]), generator=g) for spec in LISTS)
    return numeric, categorical, lists


def _build(name: str, **hyper: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, **LAYOUT, **hyper)


def check_architecture(name: str, tmp_path: Path) -> None:
    """Every check of the contract, for the registered architecture ``name``."""
    numeric, categorical, lists = _batch()
    model = _build(name).eval()
    with torch.no_grad():
        out = model(numeric, categorical, lists)
    assert out.shape == (ROWS, LAYOUT["n_outputs"]) and out.dtype == torch.float32
    assert torch.isfinite(out).all()

    # config() is JSON and rebuilds the same network; saved weights give the same outputs.
    config = json.loads(json.dumps(model.config()))
    save_file(model.state_dict(), tmp_path / f"{name}.safetensors")
    rebuilt = build_model(name, **LAYOUT, **config).eval()
    rebuilt.load_state_dict(load_file(tmp_path / f"{name}.safetensors"))
    with torch.no_grad():
        assert torch.equal(rebuilt(numeric, categorical, lists), out)

    # Gradients reach every parameter (a block that silently drops out of forward would not get one).
    model.train()
    model.zero_grad()
    model(numeric, categorical, lists).square().mean().backward()
    for pname, param in model.named_parameters():
        assert param.grad is not None, f"{name}: parameter {pname} gets no gradient"

    # The search space: constructor arguments only, and every searched value builds a working network.
    space = model_class(name).search_space
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    searched = [k for k in knobs(nm.Model(name, target="y")) if k.option in space]
    assert [k.option for k in searched] == list(space)
    for _ in range(3):
        trial = study.ask()
        hyper = {k.option: k.suggest(trial) for k in searched}
        with torch.no_grad():
            assert _build(name, **hyper)(numeric, categorical, lists).shape == out.shape


@pytest.mark.parametrize("name", available_models())
def test_every_registered_architecture_honours_the_contract(name: str, tmp_path: Path) -> None:
    check_architecture(name, tmp_path)


NEW_MODEL = '''
"""A one-file architecture: its constructor, its forward pass and its search space."""

from typing import ClassVar

import torch

from needmap.models.base import TabularModel
from needmap.models.fields import FieldEmbedding
from needmap.models.layers import dense
from needmap.models.registry import register
from needmap.models.space import Choice, Dimension, Int


@register("contract_probe")
class ContractProbe(TabularModel):
    """Field embeddings, flattened, through one hidden layer."""

    search_space: ClassVar[dict[str, Dimension]] = {"embedding_dim": Choice((4, 8)), "width": Int(4, 16)}

    def __init__(self, n_numeric, cardinalities, n_outputs, lists=None, embedding_dim=4, width=8):
        super().__init__(n_numeric, cardinalities, n_outputs, lists)
        self.fields = FieldEmbedding(n_numeric, self.cardinalities, self.lists, embedding_dim)
        self.hidden = dense(self.fields.n_fields * embedding_dim, width)
        self.out = dense(width, n_outputs)
        self.hyper = {"embedding_dim": int(embedding_dim), "width": int(width)}

    def config(self):
        return dict(self.hyper)

    def forward(self, numeric, categorical, lists=()):
        x = self.fields(numeric, categorical, lists).flatten(1)
        return self.out(torch.relu(self.hidden(x)))
'''


@pytest.fixture
def one_file_model(tmp_path: Path) -> Iterator[str]:
    """The architecture above, written to a file of its own and imported; unregistered afterwards."""
    path = tmp_path / "contract_probe.py"
    path.write_text(textwrap.dedent(NEW_MODEL))
    spec = importlib.util.spec_from_file_location("contract_probe", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["contract_probe"] = module
    spec.loader.exec_module(module)
    try:
        yield "contract_probe"
    finally:
        registry_module._MODELS.pop("contract_probe", None)
        sys.modules.pop("contract_probe", None)


def test_a_new_architecture_is_one_file(one_file_model: str, tmp_path: Path) -> None:
    assert one_file_model in available_models()
    check_architecture(one_file_model, tmp_path)
    assert searched_options(nm.Model(one_file_model, target="y"))[-2:] == ["embedding_dim", "width"]

    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    table = pa.table({"x": x, "c": rng.choice(["a", "b"], 400), "y": (x + rng.normal(0, 0.5, 400) > 0).astype(int)})
    model = nm.Model(one_file_model, target="y", epochs=3, width=12, progress=False).fit(table)
    model.save(tmp_path / "probe")
    loaded = nm.load(tmp_path / "probe")
    assert np.array_equal(loaded.predict_proba(table), model.predict_proba(table))
