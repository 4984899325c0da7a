"""FeatureEmbedding and MLPBlock: shapes, the single table with offsets, layer composition."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.models import FeatureEmbedding, MLPBlock
from needmap.models.dropout import Dropout
from needmap.models.layers import ACTIVATIONS
from needmap.runtime.onednn import Linear


def test_feature_embedding_uses_one_table_with_offsets() -> None:
    emb = FeatureEmbedding([3, 5, 2], dim=4)
    assert emb.embedding.num_embeddings == 10
    assert emb.offsets.tolist() == [0, 3, 8]
    assert "offsets" in emb.state_dict()
    ids = torch.tensor([[0, 4, 1], [2, 0, 0]])
    out = emb(ids)
    assert out.shape == (2, 3, 4)
    table = emb.embedding.weight
    assert torch.equal(out[0, 1], table[3 + 4])
    assert torch.equal(out[1, 2], table[8 + 0])
    assert torch.equal(out[1, 0], table[2])


def test_feature_embedding_without_columns() -> None:
    emb = FeatureEmbedding([], dim=8)
    assert emb(torch.zeros((5, 0), dtype=torch.int64)).shape == (5, 0, 8)


def test_feature_embedding_rejects_bad_sizes() -> None:
    with pytest.raises(ConfigError, match="cardinalities"):
        FeatureEmbedding([3, 0], dim=4)
    with pytest.raises(ConfigError, match="embedding dim"):
        FeatureEmbedding([3], dim=0)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_mlp_block_layers_and_shapes(activation: str) -> None:
    block = MLPBlock(6, [8, 3], activation=activation, dropout=0.2, batch_norm=True)
    kinds = [type(m) for m in block.layers]
    act = ACTIVATIONS[activation]
    assert kinds == [Linear, nn.BatchNorm1d, act, Dropout] * 2  # needmap.runtime.onednn.Linear, needmap.models.dropout
    assert block.out_dim == 3
    assert block(torch.randn(4, 6)).shape == (4, 3)


def test_mlp_block_without_dropout_or_batch_norm_and_identity() -> None:
    block = MLPBlock(5, [7], activation="relu", dropout=0.0, batch_norm=False)
    assert [type(m) for m in block.layers] == [Linear, nn.ReLU]
    identity = MLPBlock(5, [])
    x = torch.randn(3, 5)
    assert identity.out_dim == 5
    assert torch.equal(identity(x), x)


def test_mlp_block_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match="unknown activation 'swish'"):
        MLPBlock(4, [4], activation="swish")
    with pytest.raises(ConfigError, match="dropout"):
        MLPBlock(4, [4], dropout=1.0)
    with pytest.raises(ConfigError, match="widths"):
        MLPBlock(4, [4, 0])


def test_initial_embedding_vectors_shrink_with_the_columns_number_of_ids() -> None:
    from needmap.models.layers import EMBEDDING_INIT_STD, FeatureEmbedding, ListEmbedding, embedding_init_std

    assert embedding_init_std(5) == embedding_init_std(100) == EMBEDDING_INIT_STD
    assert embedding_init_std(10_000) == pytest.approx(EMBEDDING_INIT_STD / 10)
    assert embedding_init_std(1_000_000) == pytest.approx(EMBEDDING_INIT_STD / 100)
    # A small column of a large table starts small too; a small table keeps the column rule.
    assert embedding_init_std(50, table_ids=1_000_000) == pytest.approx(EMBEDDING_INIT_STD / 10)
    assert embedding_init_std(50, table_ids=9_000) == EMBEDDING_INIT_STD
    torch.manual_seed(0)
    small = [50, 4_000, 90]  # 4,140 ids in all
    table = FeatureEmbedding(small, 32).embedding.weight.detach()
    for block, c in zip(torch.split(table, small), small, strict=True):
        assert float(block.std()) == pytest.approx(embedding_init_std(c), rel=0.1)
    large = [50, 40_000, 90]  # 40,140 ids: every column at most 0.1 * sqrt(10,000 / 40,140)
    table = FeatureEmbedding(large, 32).embedding.weight.detach()
    for block, c in zip(torch.split(table, large), large, strict=True):
        assert float(block.std()) == pytest.approx(embedding_init_std(c, sum(large)), rel=0.1)
    assert float(table[:50].std()) == pytest.approx(0.1 * (10_000 / 40_140) ** 0.5, rel=0.1)
    spec = {"name": "tags", "kind": "multihot", "cardinality": 20_000, "max_len": 3, "pooling": "mean", "share": None}
    own = ListEmbedding([spec], 32).embedding.weight.detach()
    assert float(own.std()) == pytest.approx(embedding_init_std(20_000), rel=0.1)
