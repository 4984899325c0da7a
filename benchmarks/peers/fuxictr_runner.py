"""FuxiCTR's DeepFM and DCN-v2, composed from FuxiCTR's own layers, on needmap's features.

The feature map is made in memory from needmap's preprocessed blocks: one "numeric" feature per
numeric column (FuxiCTR embeds it as ``Linear(1, d)``), one "categorical" feature per categorical
column, one "sequence" feature per list (padding id 0; a sequence that shares a categorical
column's vocabulary shares its embedding table through ``share_embedding``).

* DeepFM: ``FeatureEmbeddingDict`` -> ``FactorizationMachine`` (its ``LogisticRegression`` plus
  ``InnerProductInteraction``) + ``MLP_Block`` on the flattened embeddings, as FuxiCTR's DeepFM.
* DCN-v2: ``FeatureEmbeddingDict`` -> ``CrossNetV2`` beside an ``MLP_Block`` (the "parallel"
  structure), concatenated into one Linear, as FuxiCTR's DCNv2.

Sequences are pooled with FuxiCTR's ``MaskedAveragePooling`` (or masked sum) with an explicit
padding mask, because a shared table has no padding row. Weights are initialized by FuxiCTR's own
``BaseModel.reset_parameters``, with one repair (see :func:`reset_parameters`). Training is the
shared loop of :mod:`benchmarks.trainloop`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from benchmarks.features import Prepared
from benchmarks.trainloop import HyperParams, PeerNetwork, RunResult, train_network

MODELS: tuple[str, ...] = ("deepfm", "dcnv2", "dcnv2_stacked")
# FuxiCTR's default embedding initializer (its FeatureEmbedding's embedding_initializer).
EMBEDDING_INITIALIZER = "partial(nn.init.normal_, std=1e-4)"


def available(name: str, prepared: Prepared) -> bool:
    return name in MODELS


def feature_map(prepared: Prepared, embedding_dim: int) -> Any:
    """A FuxiCTR ``FeatureMap`` of needmap's blocks: features ``n<j>``, ``c<j>``, ``l<k>`` in that order."""
    from fuxictr.features import FeatureMap

    fmap = FeatureMap("needmap_benchmark", data_dir="")
    features: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for j in range(prepared.n_numeric):
        features[f"n{j}"] = {"type": "numeric", "source": ""}
    for j, card in enumerate(prepared.cardinalities):
        features[f"c{j}"] = {"type": "categorical", "vocab_size": int(card), "source": ""}
    for k, spec in enumerate(prepared.list_specs):
        entry = {"type": "sequence", "vocab_size": int(spec["cardinality"]), "max_len": int(spec["max_len"])}
        entry.update(source="", padding_idx=0)
        if spec.get("share") is not None:
            entry["share_embedding"] = f"c{spec['share']}"
        features[f"l{k}"] = entry
    fmap.features = features
    fmap.default_emb_dim = embedding_dim
    fmap.labels = ["label"]
    fmap.num_fields = fmap.get_num_fields()
    fmap.set_column_index()
    return fmap


class _Embedded(nn.Module):
    """FuxiCTR's FeatureEmbeddingDict with list features pooled under an explicit padding mask."""

    def __init__(self, fmap: Any, prepared: Prepared, embedding_dim: int) -> None:
        super().__init__()
        from fuxictr.pytorch import layers

        self.embedding = layers.FeatureEmbeddingDict(fmap, embedding_dim)
        self.average = layers.MaskedAveragePooling()
        self.sum = layers.MaskedSumPooling()
        self.poolings = {f"l{k}": spec["pooling"] for k, spec in enumerate(prepared.list_specs)}

    def forward(self, X: dict[str, torch.Tensor]) -> torch.Tensor:
        """Field embeddings ``[B, n_fields, d]`` in the feature map's order."""
        embedded = self.embedding(X)
        for name, pooling in self.poolings.items():
            mask = X[name] != 0
            sequence = embedded[name] * mask.unsqueeze(-1)
            embedded[name] = self.average(sequence, mask) if pooling == "mean" else self.sum(sequence)
        return self.embedding.dict2tensor(embedded)


class FuxiDeepFM(nn.Module):
    """DeepFM from FuxiCTR layers: logit ``[B, 1]`` = LR + FM + MLP."""

    def __init__(self, fmap: Any, prepared: Prepared, hp: HyperParams) -> None:
        super().__init__()
        from fuxictr.pytorch import layers

        self.embedded = _Embedded(fmap, prepared, hp.embedding_dim)
        self.fm = layers.FactorizationMachine(fmap)
        self.mlp = layers.MLP_Block(
            input_dim=fmap.sum_emb_out_dim(),
            output_dim=1,
            hidden_units=list(hp.hidden),
            hidden_activations="ReLU",
            dropout_rates=hp.dropout,
            batch_norm=False,
        )

    def forward(self, X: dict[str, torch.Tensor]) -> torch.Tensor:
        emb = self.embedded(X)
        return self.fm(X, emb) + self.mlp(emb.flatten(start_dim=1))


class FuxiDCNv2(nn.Module):
    """DCN-v2 from FuxiCTR layers, as FuxiCTR's DCNv2 builds it: logit ``[B, 1]`` =
    Linear([CrossNetV2(x), MLP(x)]) ("parallel", its default model_structure), or
    Linear(MLP(CrossNetV2(x))) ("stacked")."""

    def __init__(self, fmap: Any, prepared: Prepared, hp: HyperParams, structure: str = "parallel") -> None:
        super().__init__()
        from fuxictr.pytorch import layers

        self.structure = structure
        self.embedded = _Embedded(fmap, prepared, hp.embedding_dim)
        width = fmap.sum_emb_out_dim()
        self.cross = layers.CrossNetV2(width, hp.cross_layers)
        self.dnn = layers.MLP_Block(
            input_dim=width,
            output_dim=None,
            hidden_units=list(hp.hidden),
            hidden_activations="ReLU",
            dropout_rates=hp.dropout,
            batch_norm=False,
        )
        self.fc = nn.Linear(width + hp.hidden[-1] if structure == "parallel" else hp.hidden[-1], 1)

    def forward(self, X: dict[str, torch.Tensor]) -> torch.Tensor:
        flat = self.embedded(X).flatten(start_dim=1)
        if self.structure == "stacked":
            return self.fc(self.dnn(self.cross(flat)))
        return self.fc(torch.cat([self.cross(flat), self.dnn(flat)], dim=-1))


def _to_dict(net: nn.Module, numeric: torch.Tensor, categorical: torch.Tensor, lists: tuple) -> torch.Tensor:
    X: dict[str, torch.Tensor] = {f"n{j}": numeric[:, j] for j in range(numeric.shape[1])}
    X.update({f"c{j}": categorical[:, j] for j in range(categorical.shape[1])})
    X.update({f"l{k}": t for k, t in enumerate(lists)})
    return net(X)


def build(name: str, prepared: Prepared, hp: HyperParams, seed: int) -> PeerNetwork:
    """FuxiCTR-layer model ``name`` (one of :data:`MODELS`) behind needmap's model contract."""
    fmap = feature_map(prepared, hp.embedding_dim)
    torch.manual_seed(seed)
    if name == "deepfm":
        net: nn.Module = FuxiDeepFM(fmap, prepared, hp)
    elif name == "dcnv2":
        net = FuxiDCNv2(fmap, prepared, hp)
    elif name == "dcnv2_stacked":
        net = FuxiDCNv2(fmap, prepared, hp, structure="stacked")
    else:
        raise ValueError(f"unknown FuxiCTR model {name!r}; expected one of {', '.join(MODELS)}")
    reset_parameters(net)
    return PeerNetwork(net, _to_dict, prepared)


def reset_parameters(net: nn.Module) -> None:
    """Initialize ``net`` as FuxiCTR models initialize themselves, with one repair.

    FuxiCTR's ``BaseModel.reset_parameters``: Xavier-normal weights for every Linear (a numeric
    field's ``Linear(1, d)`` embedding included), zero biases, then each layer's ``init_weights``
    (embedding tables N(0, 1e-4)). The repair: ``init_weights`` skips every feature that names
    ``share_embedding``, even in a table made with sharing off, such as the one-dimensional table of
    DeepFM's logistic-regression term, which would keep PyTorch's N(0, 1) (initial logits of std ~6
    on movielens); that table gets FuxiCTR's embedding initializer too.
    """
    from fuxictr.pytorch.layers import FeatureEmbeddingDict
    from fuxictr.pytorch.models import BaseModel
    from fuxictr.pytorch.torch_utils import get_initializer

    BaseModel.reset_parameters(net)
    initializer = get_initializer(EMBEDDING_INITIALIZER)
    for module in net.modules():
        if not isinstance(module, FeatureEmbeddingDict):
            continue
        for name, table in module.embedding_layers.items():
            owner = module._feature_map.features[name].get("share_embedding")
            if isinstance(table, nn.Embedding) and owner is not None and table is not module.embedding_layers[owner]:
                initializer(table.weight if table.padding_idx is None else table.weight[1:, :])


def run(name: str, prepared: Prepared, hp: HyperParams, seed: int) -> RunResult:
    result = train_network(build(name, prepared, hp, seed), prepared, hp, seed)
    result.info["version"] = _version()
    return result


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fuxictr")
    except PackageNotFoundError:
        return None
