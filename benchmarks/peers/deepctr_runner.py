"""DeepCTR-Torch's DeepFM, DCN (matrix cross layers, i.e. DCN-v2), DCN-Mix and DIN on needmap's features.

Feature columns mirror needmap's preprocessed blocks: one ``DenseFeat`` per numeric column, one
``SparseFeat`` per categorical column (its vocabulary = needmap's cardinality), one
``VarLenSparseFeat`` per list (padding id 0 masked; a sequence that shares a categorical column's
vocabulary shares its embedding table). Names are ``n<j>``, ``c<j>``, ``l<k>``; DIN's behaviour
sequence is ``hist_c<j>`` with a length column, as DeepCTR-Torch requires.

The models are built with ``task="regression"`` so that their forward returns the logit (DeepCTR's
"binary" task applies the sigmoid inside the model) and with every L2 penalty at 0: they are
trained by the shared loop (:mod:`benchmarks.trainloop`), which adds no regularization loss, the
same as for needmap's models.
"""

from __future__ import annotations

import threading
from typing import Any

import torch

from benchmarks.features import Prepared
from benchmarks.trainloop import HyperParams, PeerNetwork, RunResult, train_network

MODELS: tuple[str, ...] = ("deepfm", "dcn", "dcnmix", "din")


def _import_deepctr() -> Any:
    """Import deepctr_torch without its import-time version check reaching the network.

    The package starts a thread that asks PyPI for its latest version; ``requests.get`` answers
    it with a dummy response for the time of the import and that thread.
    """
    import requests

    class _NoAnswer:
        status_code = 0
        text = "{}"

    real_get = requests.get
    before = set(threading.enumerate())
    requests.get = lambda *args, **kwargs: _NoAnswer()
    try:
        import deepctr_torch
        import deepctr_torch.models

        for thread in set(threading.enumerate()) - before:
            thread.join(timeout=10)
    finally:
        requests.get = real_get
    return deepctr_torch


def available(name: str, prepared: Prepared) -> bool:
    """Whether model ``name`` applies to this dataset (DIN needs a behaviour sequence)."""
    return name in MODELS and (name != "din" or prepared.sequence_share() is not None)


def _columns(prepared: Prepared, hp: HyperParams, din: bool) -> tuple[list, list[tuple[str, int]]]:
    """DeepCTR feature columns, and for each input column of DeepCTR's ``X`` in order: (block, index)
    with block "n" (numeric), "c" (categorical), "l" (list) or "len" (length of list index)."""
    from deepctr_torch.inputs import DenseFeat, SparseFeat, VarLenSparseFeat, build_input_features

    history = prepared.sequence_share() if din else None
    columns: list = [DenseFeat(f"n{j}", 1) for j in range(prepared.n_numeric)]
    columns += [
        SparseFeat(f"c{j}", card, embedding_dim=hp.embedding_dim) for j, card in enumerate(prepared.cardinalities)
    ]
    names: dict[str, tuple[str, int]] = {f"n{j}": ("n", j) for j in range(prepared.n_numeric)}
    names.update({f"c{j}": ("c", j) for j in range(len(prepared.cardinalities))})
    for k, spec in enumerate(prepared.list_specs):
        share = spec.get("share")
        embedding = f"c{share}" if share is not None else f"l{k}"
        if history is not None and k == history[0]:
            name, length = f"hist_c{history[1]}", f"hist_len_c{history[1]}"
        else:
            name, length = f"l{k}", None
        sparse = SparseFeat(name, spec["cardinality"], embedding_dim=hp.embedding_dim, embedding_name=embedding)
        columns.append(VarLenSparseFeat(sparse, maxlen=spec["max_len"], combiner=spec["pooling"], length_name=length))
        names[name] = ("l", k)
        if length is not None:
            names[length] = ("len", k)
    layout = [names[name] for name in build_input_features(columns)]
    return columns, layout


def _assemble(layout: list[tuple[str, int]]) -> Any:
    """The forward that lays needmap's tensors out as DeepCTR's float ``X`` ``[B, width]``."""

    def forward(net: torch.nn.Module, numeric: torch.Tensor, categorical: torch.Tensor, lists: tuple) -> torch.Tensor:
        parts = []
        for block, j in layout:
            if block == "n":
                parts.append(numeric[:, j : j + 1])
            elif block == "c":
                parts.append(categorical[:, j : j + 1].float())
            elif block == "l":
                parts.append(lists[j].float())
            else:
                parts.append((lists[j] != 0).sum(dim=1, keepdim=True).float())
        return net(torch.cat(parts, dim=1))

    return forward


def build(name: str, prepared: Prepared, hp: HyperParams, seed: int) -> PeerNetwork:
    """DeepCTR-Torch model ``name`` (one of :data:`MODELS`) behind needmap's model contract."""
    deepctr = _import_deepctr()
    models = deepctr.models
    columns, layout = _columns(prepared, hp, din=name == "din")
    common = {
        "dnn_hidden_units": tuple(hp.hidden),
        "dnn_dropout": hp.dropout,
        "dnn_activation": "relu",
        "l2_reg_embedding": 0.0,
        "l2_reg_dnn": 0.0,
        "seed": seed,
        "task": "regression",
        "device": "cpu",
    }
    torch.manual_seed(seed)
    if name == "deepfm":
        net = models.DeepFM(columns, columns, l2_reg_linear=0.0, **common)
    elif name == "dcn":
        net = models.DCN(
            columns,
            columns,
            cross_num=hp.cross_layers,
            cross_parameterization="matrix",
            l2_reg_linear=0.0,
            l2_reg_cross=0.0,
            **common,
        )
    elif name == "dcnmix":
        net = models.DCNMix(
            columns, columns, cross_num=hp.cross_layers, low_rank=32, num_experts=4, l2_reg_linear=0.0,
            l2_reg_cross=0.0, **common,
        )  # fmt: skip
    elif name == "din":
        share = prepared.sequence_share()
        assert share is not None, "DIN needs a behaviour sequence that shares a categorical column's vocabulary"
        net = models.DIN(columns, [f"c{share[1]}"], **common)
    else:
        raise ValueError(f"unknown DeepCTR-Torch model {name!r}; expected one of {', '.join(MODELS)}")
    return PeerNetwork(net, _assemble(layout), prepared)


def run(name: str, prepared: Prepared, hp: HyperParams, seed: int) -> RunResult:
    network = build(name, prepared, hp, seed)
    result = train_network(network, prepared, hp, seed)
    result.info["version"] = _import_deepctr().__version__
    return result
