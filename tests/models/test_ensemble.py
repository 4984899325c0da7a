"""DCN-v2 with k members sharing one network (TabM-mini): shapes, training of every member, save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

import needmap as nm
from needmap.data.infer import infer_schema
from needmap.errors import ConfigError
from needmap.metrics import binary_metrics
from needmap.models import build_model
from needmap.models.ensemble import MemberLinear, MemberScale
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.preprocess import Preprocessor
from needmap.training import TrainConfig, Trainer, predict_proba
from needmap.training.predict import to_inputs
from reference_scores import table_references

LISTS = [
    {"name": "interests", "kind": "multihot", "cardinality": 7, "max_len": 3, "pooling": "mean"},
    {"name": "history", "kind": "sequence", "cardinality": 6, "max_len": 5, "pooling": "sum", "share": 1},
]


def _inputs(n: int = 10) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(1)
    numeric = torch.randn(n, 3, generator=g)
    categorical = torch.stack([torch.randint(0, 5, (n,), generator=g), torch.randint(0, 6, (n,), generator=g)], 1)
    lists = (torch.randint(0, 7, (n, 3), generator=g), torch.randint(0, 6, (n, 5), generator=g))
    return numeric, categorical, lists


def _build(**hyper: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("dcnv2", n_numeric=3, cardinalities=[5, 6], n_outputs=2, lists=LISTS, **hyper)


@pytest.mark.parametrize("structure", ["stacked", "parallel"])
def test_members_have_their_own_logits_and_the_model_predicts_their_mean(structure: str) -> None:
    model = _build(structure=structure, ensemble_size=4, hidden=[8]).eval()
    inputs = _inputs()
    members = model.member_logits(*inputs)
    assert model.ensemble_size == 4
    assert members.shape == (10, 4, 2)
    torch.testing.assert_close(model(*inputs), members.mean(dim=1))
    # The members differ from the first step: each sees x0 scaled by its own +-1 signs.
    assert not torch.allclose(members[:, 0], members[:, 1])
    assert set(model.members.scale.detach().unique().tolist()) == {-1.0, 1.0}


def test_one_network_is_an_ensemble_of_one() -> None:
    model = _build().eval()
    inputs = _inputs()
    assert model.ensemble_size == 1 and model.members is None
    torch.testing.assert_close(model.member_logits(*inputs), model(*inputs).unsqueeze(1))


def test_member_layers_are_k_independent_layers() -> None:
    torch.manual_seed(0)
    scale, linear = MemberScale(3, 4), MemberLinear(3, 4, 2)
    x = torch.randn(5, 4)
    scaled = scale(x)
    assert scaled.shape == (5, 3, 4)
    out = linear(scaled)
    for i in range(3):
        torch.testing.assert_close(scaled[:, i], x * scale.scale[i])
        torch.testing.assert_close(out[:, i], scaled[:, i] @ linear.weight[i] + linear.bias[i])


def test_bad_ensemble_size_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ensemble_size is 0; expected a whole number >= 1"):
        _build(ensemble_size=0)


def _bank_split(bank_table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """2,200 training and 800 test rows drawn at random from the bank slice (which is in date order: its
    last rows are later months, where one column ranks better than any model trained on the earlier ones)."""
    idx = np.random.default_rng(0).permutation(bank_table.num_rows)
    return bank_table.take(pa.array(idx[:2200])), bank_table.take(pa.array(idx[2200:]))


@pytest.fixture(scope="module")
def bank_features(bank_table: pa.Table) -> tuple[Preprocessor, FeatureBatch, np.ndarray, FeatureBatch, np.ndarray]:
    """The training and test rows of :func:`_bank_split`, needmap's preprocessing, without `duration`."""
    train, test = _bank_split(bank_table)
    preprocessor = Preprocessor(infer_schema(train, "y", drop=["duration"]))
    x_train, x_test = preprocessor.fit_transform(train), preprocessor.transform(test)
    return preprocessor, x_train, preprocessor.encode_target(train), x_test, preprocessor.encode_target(test)


def _bank_ensemble(preprocessor: Preprocessor, k: int, dropout: float = 0.1) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(
        "dcnv2",
        n_numeric=preprocessor.n_numeric_,
        cardinalities=list(preprocessor.cardinalities_),
        n_outputs=1,
        structure="stacked",
        ensemble_size=k,
        hidden=[32],
        dropout=dropout,
    )


@pytest.mark.slow
def test_the_training_loss_is_the_mean_of_the_members_losses(bank_features: tuple) -> None:
    """One full batch without dropout: the first epoch's loss is the members' mean loss at the start."""
    preprocessor, x_train, y_train, _, _ = bank_features
    model = _bank_ensemble(preprocessor, 4, dropout=0.0)
    target = torch.as_tensor(y_train, dtype=torch.float32)
    with torch.no_grad():
        members = model.member_logits(*to_inputs(x_train))[:, :, 0]  # [n, 4]
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        per_member = torch.stack([bce(members[:, i], target) for i in range(4)])
        loss_of_mean = float(bce(members.mean(dim=1), target))
    expected = float(per_member.mean())
    assert abs(expected - loss_of_mean) > 1e-3  # the two losses differ here, so the check below can tell them apart
    config = TrainConfig(epochs=1, batch_size=len(y_train), patience=None, progress=False, seed=0, threads=1)
    result = Trainer(model, "binary", config).fit(x_train, y_train)
    assert result.history[0]["loss"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.slow
def test_every_member_learns_on_bank_marketing(bank_features: tuple, bank_table: pa.Table) -> None:
    """Fitted on their own losses, the ensemble and each member alone rank the test rows better than the
    best single column does (fitted on the same training rows)."""
    preprocessor, x_train, y_train, x_test, y_test = bank_features
    reference = table_references(*_bank_split(bank_table), "y", drop=["duration"])
    model = _bank_ensemble(preprocessor, 4)
    start = model.members.scale.detach().clone()
    config = TrainConfig(epochs=3, lr=3e-3, patience=None, progress=False, seed=0, threads=1)
    result = Trainer(model, "binary", config).fit(x_train, y_train)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert not torch.equal(model.members.scale.detach(), start)  # the member scales are trained
    auc = binary_metrics(y_test, predict_proba(model, x_test))["auc"]
    assert auc > reference["best_column_auc"], (auc, reference)
    model.eval()
    with torch.no_grad():
        members = model.member_logits(*to_inputs(x_test))[:, :, 0].numpy()
    for i in range(4):
        member_auc = binary_metrics(y_test, 1.0 / (1.0 + np.exp(-members[:, i])))["auc"]
        assert member_auc > reference["best_column_auc"], (i, member_auc, reference)


@pytest.mark.slow
def test_estimator_saves_and_loads_an_ensemble(bank_table: pa.Table, tmp_path: Path) -> None:
    train, new_rows = bank_table.slice(0, 2500), bank_table.slice(2500)
    model = nm.Model(
        "dcnv2",
        target="y",
        drop=["duration"],
        epochs=2,
        progress=False,
        threads=1,
        hidden=[16],
        structure="stacked",
        ensemble_size=3,
    )
    model.fit(train, validation=0.2)
    assert model.network_ is not None and model.network_.config()["ensemble_size"] == 3
    loaded = nm.load(model.save(tmp_path / "ensemble"))
    assert loaded.network_.ensemble_size == 3
    np.testing.assert_array_equal(loaded.predict_proba(new_rows), model.predict_proba(new_rows))


@pytest.mark.slow
def test_multiclass_loss_is_the_mean_of_the_members_losses(bank_table: pa.Table) -> None:
    """The members' logits ``[B, k, K]`` meet the class ids repeated k times (one full batch, no dropout)."""
    train = bank_table.slice(0, 1500)
    preprocessor = Preprocessor(infer_schema(train, "marital", drop=["duration"]))
    x_train, y_train = preprocessor.fit_transform(train), preprocessor.encode_target(train)
    n_classes = int(y_train.max()) + 1
    torch.manual_seed(0)
    model = build_model(
        "dcnv2",
        n_numeric=preprocessor.n_numeric_,
        cardinalities=list(preprocessor.cardinalities_),
        n_outputs=n_classes,
        structure="stacked",
        ensemble_size=3,
        hidden=[16],
        dropout=0.0,
    )
    target = torch.as_tensor(y_train, dtype=torch.int64)
    with torch.no_grad():
        members = model.member_logits(*to_inputs(x_train))  # [n, 3, K]
        ce = torch.nn.functional.cross_entropy
        expected = float(torch.stack([ce(members[:, i], target) for i in range(3)]).mean())
    config = TrainConfig(epochs=1, batch_size=len(y_train), patience=None, progress=False, seed=0, threads=1)
    result = Trainer(model, "multiclass", config).fit(x_train, y_train)
    assert result.history[0]["loss"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize(("target", "task"), [("age", "regression"), (["y", "age"], ["binary", "regression"])])
def test_regression_and_multi_task_ensembles_fit_save_and_load(
    bank_table: pa.Table, tmp_path: Path, target: str | list[str], task: str | list[str]
) -> None:
    train, new_rows = bank_table.slice(0, 2500), bank_table.slice(2500)
    model = nm.Model(
        "dcnv2", target=target, task=task, drop=["duration"], epochs=2, progress=False, threads=1,
        hidden=[16], structure="stacked", ensemble_size=3,
    )  # fmt: skip
    model.fit(train, validation=0.2)
    assert model.network_ is not None
    features = to_inputs(model.preprocessor_.transform(new_rows.slice(0, 4)))
    assert model.network_.member_logits(*features).shape == (4, 3, 1 if isinstance(target, str) else 2)
    loaded = nm.load(model.save(tmp_path / "ensemble"))
    assert loaded.predict(new_rows).equals(model.predict(new_rows))
