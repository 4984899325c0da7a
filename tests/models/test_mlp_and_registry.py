"""The model registry, the "mlp" model's shapes, its config round trip and its input checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from needmap.errors import ConfigError, DataError
from needmap.models import MLP, TabularModel, available_models, build_model, register
from needmap.models.registry import _MODELS
from needmap.preprocessing.batch import FeatureBatch


def _inputs(n: int, n_num: int, cards: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    numeric = torch.randn(n, n_num, generator=g)
    columns = [torch.randint(0, c, (n,), generator=g) for c in cards]
    categorical = torch.stack(columns, 1) if columns else torch.zeros((n, 0), dtype=torch.int64)
    return numeric, categorical


@pytest.mark.parametrize(
    ("n_num", "cards", "n_out"),
    [(4, [], 1), (0, [3, 7], 1), (4, [3, 7, 2], 1), (2, [5], 3)],
    ids=["numeric-only", "categorical-only", "both", "multiclass"],
)
def test_mlp_forward_shapes(n_num: int, cards: list[int], n_out: int) -> None:
    model = build_model("mlp", n_numeric=n_num, cardinalities=cards, n_outputs=n_out, hidden=[16, 8])
    numeric, categorical = _inputs(10, n_num, cards)
    out = model(numeric, categorical)
    assert out.shape == (10, n_out)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_mlp_without_inputs_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no input"):
        build_model("mlp", n_numeric=0, cardinalities=[], n_outputs=1)


def test_registry_lists_mlp_and_rejects_unknown_names() -> None:
    assert "mlp" in available_models()
    with pytest.raises(ConfigError, match=r"unknown model 'resnet'; expected one of: .*mlp"):
        build_model("resnet", n_numeric=1, cardinalities=[], n_outputs=1)


def test_build_model_rejects_unknown_and_missing_arguments() -> None:
    with pytest.raises(ConfigError, match=r"no hyper-parameter 'depth'.*embedding_dim"):
        build_model("mlp", n_numeric=1, cardinalities=[], n_outputs=1, depth=3)
    with pytest.raises(ConfigError, match="needs cardinalities"):
        build_model("mlp", n_numeric=1, n_outputs=1)


def test_register_a_new_model_and_refuse_plain_modules() -> None:
    class Linear(TabularModel):
        def __init__(self, n_numeric: int, cardinalities: list[int], n_outputs: int, scale: float = 1.0):
            super().__init__(n_numeric, cardinalities, n_outputs)
            self.scale = scale
            self.linear = torch.nn.Linear(n_numeric, n_outputs)

        def config(self) -> dict:
            return {"scale": self.scale}

        def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
            return self.linear(numeric) * self.scale

    try:
        register("test-linear")(Linear)
        assert "test-linear" in available_models()
        model = build_model("test-linear", n_numeric=3, cardinalities=[], n_outputs=1, scale=2.0)
        assert isinstance(model, Linear) and model.scale == 2.0 and Linear.model_name == "test-linear"
    finally:
        _MODELS.pop("test-linear", None)
    with pytest.raises(TypeError, match="TabularModel"):
        register("plain")(torch.nn.Linear)


def test_config_round_trip_rebuilds_an_identical_model() -> None:
    torch.manual_seed(1)
    hyper = {"embedding_dim": 5, "hidden": (12, 6), "activation": "gelu", "dropout": 0.3, "batch_norm": True}
    model = build_model("mlp", n_numeric=3, cardinalities=[4, 6], n_outputs=2, **hyper)
    config = json.loads(json.dumps(model.config()))
    assert config == {**hyper, "hidden": [12, 6]}
    model.train()
    model(*_inputs(32, 3, [4, 6])).sum().backward()  # moves BatchNorm running statistics
    rebuilt = build_model("mlp", n_numeric=3, cardinalities=[4, 6], n_outputs=2, **config)
    assert isinstance(rebuilt, MLP)
    rebuilt.load_state_dict(model.state_dict())
    model.eval()
    rebuilt.eval()
    numeric, categorical = _inputs(20, 3, [4, 6])
    assert torch.equal(model(numeric, categorical), rebuilt(numeric, categorical))


def test_check_batch_reports_layout_and_id_problems() -> None:
    model = build_model("mlp", n_numeric=2, cardinalities=[3, 4], n_outputs=1)
    good = FeatureBatch(np.zeros((5, 2), np.float32), np.array([[0, 3]] * 5, dtype=np.int64))
    model.check_batch(good)
    with pytest.raises(DataError, match=r"have 1 numeric and 2 categorical.*expects 2 numeric and 2"):
        model.check_batch(FeatureBatch(np.zeros((5, 1), np.float32), good.categorical))
    with pytest.raises(DataError, match=r"column 1 holds ids from 3 to 4; expected ids in \[0, 4\)"):
        model.check_batch(FeatureBatch(good.numeric, np.array([[0, 4], [0, 3]] * 2 + [[0, 3]], dtype=np.int64)))
    with pytest.raises(DataError, match="float32"):
        model.check_batch(FeatureBatch(np.array([["a", "b"]] * 5), good.categorical))


def test_target_scaling_is_a_saved_buffer() -> None:
    model = build_model("mlp", n_numeric=1, cardinalities=[], n_outputs=1)
    assert model.target_scaling.tolist() == [0.0, 1.0]
    model.set_target_scaling(10.0, 2.5)
    assert model.state_dict()["target_scaling"].tolist() == [10.0, 2.5]
