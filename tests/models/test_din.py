"""DIN: shapes, the sequence it attends over, masking of padding, the ablation, and learning a history signal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from needmap.errors import ConfigError
from needmap.metrics import binary_metrics
from needmap.models import build_model
from needmap.models.din import DIN, AttentionUnit
from needmap.preprocessing.batch import FeatureBatch
from needmap.training import TrainConfig, Trainer, predict_proba

ITEMS = 40
CARD = ITEMS + 2  # ids 0 (OOV of the item column / padding of the history) and 1 (missing / OOV) are reserved
MAX_LEN = 8
CARDS = [5, CARD]  # categorical columns: a user segment, then the candidate item
HISTORY = {"name": "history", "kind": "sequence", "cardinality": CARD, "max_len": MAX_LEN, "share": 1}
TAGS = {"name": "tags", "kind": "multihot", "cardinality": 7, "max_len": 3}
SMALL = {"embedding_dim": 8, "attention_hidden": (16,), "hidden": (32,)}


def small_din(lists: list[dict] | None = None, seed: int = 0, **hyper: object) -> DIN:
    torch.manual_seed(seed)
    model = DIN(2, CARDS, 1, [TAGS, HISTORY] if lists is None else lists, **{**SMALL, **hyper})
    return model.eval()


def inputs(n: int, seed: int, max_len: int = MAX_LEN) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(seed)
    numeric = torch.randn(n, 2, generator=g)
    categorical = torch.stack([torch.randint(0, 5, (n,), generator=g), torch.randint(2, CARD, (n,), generator=g)], 1)
    tags = torch.randint(0, 7, (n, 3), generator=g)
    history = torch.randint(2, CARD, (n, max_len), generator=g)
    return numeric, categorical, (tags, history)


def test_forward_shapes_and_config_rebuilds_the_model() -> None:
    model = small_din(softmax=True)
    numeric, categorical, lists = inputs(6, seed=1)
    assert model(numeric, categorical, lists).shape == (6, 1)
    assert model.sequence_index == 1 and model.candidate_index == 1
    interest, weights = model.interest(categorical, lists)
    assert interest.shape == (6, 8) and weights.shape == (6, MAX_LEN)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(6))  # softmax=True normalizes
    config = model.config()
    assert config["attention_hidden"] == [16] and config["use_sequence"] is True
    rebuilt = build_model("din", n_numeric=2, cardinalities=CARDS, n_outputs=3, lists=[TAGS, HISTORY], **config)
    assert rebuilt(numeric, categorical, lists).shape == (6, 3)


def test_needs_a_sequence_that_shares_the_candidate_vocabulary() -> None:
    unshared = dict(HISTORY, share=None)
    with pytest.raises(ConfigError, match="vocabulary_of") as err:
        DIN(2, CARDS, 1, [TAGS, unshared])
    assert "history (sequence, share None)" in str(err.value)
    # The ablation does not attend, so it needs no sequence.
    numeric, categorical, (tags, _) = inputs(3, seed=2)
    assert DIN(2, CARDS, 1, [TAGS], use_sequence=False)(numeric, categorical, (tags,)).shape == (3, 1)
    with pytest.raises(ConfigError, match="attention_activation"):
        DIN(2, CARDS, 1, [HISTORY], attention_activation="sigmoid")


@pytest.mark.parametrize("hyper", [{}, {"softmax": True}, {"attention_activation": "dice"}])
def test_padding_positions_do_not_change_the_output(hyper: dict) -> None:
    model = small_din(**hyper)
    numeric, categorical, (tags, history) = inputs(16, seed=3, max_len=3)
    history[::2, 2] = 0  # some rows hold only 2 items
    padded = torch.cat([history, torch.zeros(16, 5, dtype=torch.int64)], dim=1)  # and 5 more padding positions
    short = model(numeric, categorical, (tags, history))
    long = model(numeric, categorical, (tags, padded))
    torch.testing.assert_close(short, long)
    # The row of id 0 in the shared table (the padding id of the history) never reaches the attention.
    with torch.no_grad():
        model.embedding.embedding.weight[model.embedding.offsets[1]] += 5.0
    torch.testing.assert_close(model(numeric, categorical, (tags, padded)), long)
    if hyper.get("attention_activation") == "dice":
        # In training mode Dice standardizes with the statistics of the non-padding positions only.
        model.train()
        torch.testing.assert_close(
            model(numeric, categorical, (tags, padded)), model(numeric, categorical, (tags, history))
        )


def test_attention_weights_are_zero_on_padding_and_rows_without_history() -> None:
    unit = AttentionUnit(4, (8,), softmax=True)
    keys = torch.randn(3, 5, 4)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    weights = unit(torch.randn(3, 4), keys, mask)
    assert torch.all(weights[~mask] == 0)
    torch.testing.assert_close(weights.sum(dim=1), torch.tensor([1.0, 1.0, 0.0]))


def test_use_sequence_false_ignores_the_sequence() -> None:
    full, ablated = small_din(), small_din(use_sequence=False)
    assert ablated.attention is None and not any("attention" in k for k in ablated.state_dict())
    assert ablated.mlp.in_dim == full.mlp.in_dim - 8
    numeric, categorical, (tags, history) = inputs(8, seed=4)
    other = torch.flip(history, dims=[0])
    torch.testing.assert_close(
        ablated(numeric, categorical, (tags, history)), ablated(numeric, categorical, (tags, other))
    )
    assert not torch.allclose(full(numeric, categorical, (tags, history)), full(numeric, categorical, (tags, other)))


def history_task(n: int, seed: int) -> tuple[FeatureBatch, np.ndarray]:
    """The label is 1 exactly when the candidate item is in the history (2 to 8 items, padded with 0)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, MAX_LEN + 1, n)
    history = rng.integers(2, CARD, (n, MAX_LEN))
    history[np.arange(MAX_LEN)[None, :] >= lengths[:, None]] = 0
    seen = history[np.arange(n), rng.integers(0, lengths)]
    candidate = np.where(rng.uniform(size=n) < 0.5, seen, rng.integers(2, CARD, n))
    y = (history == candidate[:, None]).any(axis=1).astype(np.int64)
    categorical = np.stack([rng.integers(0, 5, n), candidate], axis=1).astype(np.int64)
    return FeatureBatch(rng.normal(size=(n, 2)).astype(np.float32), categorical, (history,)), y


@pytest.mark.slow
def test_din_learns_from_the_history_and_the_ablation_cannot() -> None:
    train, y_train = history_task(3000, seed=1)
    valid, y_valid = history_task(1000, seed=2)
    config = TrainConfig(epochs=10, batch_size=128, lr=1e-2, patience=None, progress=False, threads=1)
    auc = {}
    for use in (True, False):
        model = small_din([HISTORY], use_sequence=use)
        Trainer(model, "binary", config).fit(train, y_train, valid, y_valid)
        auc[use] = binary_metrics(y_valid, predict_proba(model, valid))["auc"]
    assert auc[True] > 0.85  # seen about 0.92
    assert auc[False] < 0.65  # the candidate alone says almost nothing: about 0.53


OTHER = dict(HISTORY, name="history_other")  # a second behaviour sequence over the same item column


def test_every_sequence_that_shares_the_candidate_gets_its_own_attention() -> None:
    model = small_din([TAGS, HISTORY, OTHER])
    assert model.attended_lists == [1, 2] and model.pooled_lists == [0] and len(model.more_attention) == 1
    assert model.mlp.in_dim == 2 + (2 + 1 + 2) * 8  # numerics, 2 categoricals, pooled tags, 2 interest vectors
    numeric, categorical, (tags, history) = inputs(6, seed=5)
    other = torch.flip(history, dims=[0])
    assert model(numeric, categorical, (tags, history, other)).shape == (6, 1)
    # The second sequence reaches the output through its own unit.
    assert not torch.allclose(
        model(numeric, categorical, (tags, history, other)), model(numeric, categorical, (tags, history, history))
    )
    second, weights = model.interest(categorical, (tags, history, other), which=1)
    assert second.shape == (6, 8) and weights.shape == (6, MAX_LEN)
    lists = [TAGS, HISTORY, OTHER]
    rebuilt = build_model("din", n_numeric=2, cardinalities=CARDS, n_outputs=1, lists=lists, **model.config())
    rebuilt.load_state_dict(model.state_dict())  # same parameter names and shapes
    torch.testing.assert_close(
        rebuilt.eval()(numeric, categorical, (tags, history, other)),
        model(numeric, categorical, (tags, history, other)),
    )
    # The ablation leaves both sequences out (neither attended nor pooled).
    ablated = small_din([TAGS, HISTORY, OTHER], use_sequence=False)
    assert ablated.attended_lists == [] and ablated.pooled_lists == [0] and ablated.mlp.in_dim == 2 + 3 * 8
    torch.testing.assert_close(
        ablated(numeric, categorical, (tags, history, other)), ablated(numeric, categorical, (tags, other, history))
    )


@pytest.mark.parametrize("history_gradient", [False, True])
def test_history_lookups_update_the_shared_table_only_when_asked(history_gradient: bool) -> None:
    model = small_din([HISTORY], history_gradient=history_gradient).train()
    numeric, categorical, (_, history) = inputs(4, seed=6)
    categorical[:, 1] = 2  # every candidate is item id 2 ...
    history[history == 2] = 3  # ... and it never appears in a history
    model(numeric, categorical, (history,)).sum().backward()
    grad = model.embedding.embedding.weight.grad
    rows = model.embedding.offsets[1] + torch.unique(history)  # history items' rows of the shared table
    assert bool(grad[model.embedding.offsets[1] + 2].abs().sum() > 0)  # the candidate's row always learns
    assert bool(grad[rows].abs().sum() > 0) is history_gradient
    assert model.config()["history_gradient"] is history_gradient
