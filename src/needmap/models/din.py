""" "din": Deep Interest Network (Zhou et al., 2018), attention over a behaviour sequence.

The candidate item is a categorical column ``j`` (e.g. ``movieId``); the behaviour sequence is the
first list feature of kind "sequence" whose ``share`` is ``j`` (e.g. the user's last movies, with
the vocabulary of ``movieId``: ``sequence={"history": {"vocabulary_of": "movieId"}}``). Both read
the same rows of the same embedding table, so the attention compares like with like. Every further
sequence that shares the same column (e.g. the movies the user liked and those they did not, as two
sequences) gets its own activation unit and its own interest vector.

Activation unit: an MLP over ``[q, k, q - k, q * k]`` for the candidate embedding ``q`` and each
history embedding ``k`` gives one weight per position. By default the weights are normalized over
the row's non-padding positions (``softmax=True``): on the MovieLens benchmark that was far more
stable than the paper's unnormalized sum (``softmax=False``, which keeps in the interest vector's
size how strongly the history relates to the candidate); padding positions get weight 0 and never
reach the MLP.
The unit's activation is PReLU by default (per channel, no batch statistics, so the output of a row
never depends on the other rows of the batch); ``attention_activation="dice"`` gives the paper's
Dice, whose statistics are computed over the non-padding positions of the batch only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.models.base import TabularModel
from needmap.models.layers import FeatureEmbedding, ListEmbedding, MLPBlock, dense
from needmap.models.registration import register
from needmap.models.space import DEEP, Dimension, Funnel

ATTENTION_ACTIVATIONS = ("prelu", "dice")


class Dice(nn.Module):
    """Dice activation (Zhou et al., 2018): ``x * (p + (1 - p) * alpha)``, ``p = sigmoid(standardized x)``.

    The standardization uses the statistics of the rows given (training, more than one row) or
    running averages of them (evaluation), like BatchNorm without its affine part.

    Shapes: forward(x float32 ``[N, width]``) -> ``[N, width]``.
    """

    def __init__(self, width: int, momentum: float = 0.1, eps: float = 1e-8) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(width))
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.register_buffer("running_mean", torch.zeros(width))
        self.register_buffer("running_var", torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] > 1:
            mean = x.mean(dim=0)
            var = x.var(dim=0, unbiased=False)
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(var.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        p = torch.sigmoid((x - mean) / torch.sqrt(var + self.eps))
        return x * (p + (1.0 - p) * self.alpha)


class AttentionUnit(nn.Module):
    """DIN's local activation unit: a weight for each behaviour, given the candidate.

    Args:
        dim: embedding size D of the candidate and of the behaviours.
        hidden: widths of the unit's hidden layers, e.g. (64, 32).
        activation: 'prelu' (per-channel PReLU) or 'dice'.
        softmax: normalize the weights of a row over its non-padding positions.

    Shapes:
        forward(query ``[B, D]``, keys ``[B, L, D]``, mask bool ``[B, L]``) -> weights ``[B, L]``,
        exactly 0 where ``mask`` is false. Only the non-padding positions go through the MLP (in an exported graph,
        every position, the padding masked).
    """

    def __init__(self, dim: int, hidden: Sequence[int], activation: str = "prelu", softmax: bool = False) -> None:
        super().__init__()
        widths = [int(h) for h in hidden]
        if any(w < 1 for w in widths):
            raise ConfigError(f"attention_hidden is {widths}; expected positive layer widths.")
        if activation not in ATTENTION_ACTIVATIONS:
            raise ConfigError(
                f"attention_activation is {activation!r}; expected one of {', '.join(ATTENTION_ACTIVATIONS)}."
            )
        layers: list[nn.Module] = []
        width = 4 * int(dim)
        for out in widths:
            layers.append(dense(width, out))
            layers.append(nn.PReLU(out) if activation == "prelu" else Dice(out))
            width = out
        layers.append(dense(width, 1))
        self.mlp = nn.Sequential(*layers)
        self.softmax = bool(softmax)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q = query.unsqueeze(1).expand_as(keys)
        features = torch.cat([q, keys, q - keys, q * keys], dim=-1)  # [B, L, 4D]
        if torch.compiler.is_compiling():  # an exported graph has no data-dependent shapes: every position, masked
            flat = self.mlp(features.reshape(-1, features.shape[-1]))[:, 0]  # 2-D, as PReLU's channels expect
            scores = flat.reshape(mask.shape).masked_fill(~mask, 0.0)
        else:
            scores = torch.zeros(mask.shape, dtype=keys.dtype, device=keys.device)
            if bool(mask.any()):
                scores = scores.masked_scatter(mask, self.mlp(features[mask])[:, 0])
        if not self.softmax:
            return scores
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.nan_to_num(weights, nan=0.0)  # rows without any behaviour: all weights 0


def behaviour_sequence(lists: Sequence[dict[str, Any]]) -> int | None:
    """Index of the first list spec of kind "sequence" that shares a categorical column, or None."""
    for k, spec in enumerate(lists):
        if spec["kind"] == "sequence" and spec["share"] is not None:
            return k
    return None


def behaviour_sequences(lists: Sequence[dict[str, Any]]) -> list[int]:
    """Indices of the list specs of kind "sequence" that share the same categorical column as the first
    such sequence (:func:`behaviour_sequence`), in order; empty when there is none."""
    first = behaviour_sequence(lists)
    if first is None:
        return []
    share = lists[first]["share"]
    return [k for k, spec in enumerate(lists) if spec["kind"] == "sequence" and spec["share"] == share]


@register("din")
class DIN(TabularModel):
    """Deep Interest Network: the candidate item attends over the user's behaviour sequence(s).

    The user-interest vector ``sum_l w_l * k_l`` (``[B, D]``; one per behaviour sequence that shares the
    candidate's column, each with its own activation unit) is concatenated with the numerics,
    the embeddings of every categorical column (the candidate's included) and the mean/sum pooled
    embeddings of the other list features, then an MLP (``hidden``) and a Linear give the outputs.

    Args:
        n_numeric, cardinalities, n_outputs, lists: see :class:`TabularModel`. ``lists`` must
            hold a "sequence" that shares a categorical column's vocabulary (the candidate)
            unless ``use_sequence`` is False.
        embedding_dim: size D of every embedding (the sequence shares the candidate's table).
        attention_hidden: widths of the activation unit's hidden layers.
        hidden: widths of the MLP over the concatenated representation.
        activation: activation of that MLP ('prelu', 'relu', ...).
        attention_activation: 'prelu' (default) or 'dice'.
        dropout: dropout after each hidden layer of the MLP.
        batch_norm: BatchNorm1d after each hidden Linear of the MLP.
        softmax: normalize the attention weights (default). The paper does not; on the MovieLens
            benchmark its unnormalized sum trained unstably, to a lower and more scattered test AUC
            over seeds (benchmarks/results/HISTORY.md).
        use_sequence: False leaves the behaviour sequences out entirely (no attention, no pooling):
            the same network without the history, for an ablation.
        history_gradient: True lets the behaviour sequences' lookups update the shared embedding
            table. False (default): the sequences read the table without updating it (stop-gradient
            on the keys; the attention unit still learns), so the items' embeddings learn from the
            candidate column alone. Predictions do not depend on it, only training does.

    Shapes:
        forward(numeric ``[B, n_numeric]``, categorical ``[B, n_categorical]``, lists tuple of
        int64 ``[B, L_k]``) -> ``[B, n_outputs]``.
    """

    search_space: ClassVar[dict[str, Dimension]] = {
        **DEEP,
        "attention_hidden": Funnel("attention_depth", "attention_width", (1, 3), (16, 128)),
    }

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[dict] | None = None,
        embedding_dim: int = 16,
        attention_hidden: Sequence[int] = (64, 32),
        hidden: Sequence[int] = (200, 80),
        activation: str = "prelu",
        attention_activation: str = "prelu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        softmax: bool = True,
        use_sequence: bool = True,
        history_gradient: bool = False,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists)
        self.hyper: dict[str, Any] = {
            "embedding_dim": int(embedding_dim),
            "attention_hidden": [int(h) for h in attention_hidden],
            "hidden": [int(h) for h in hidden],
            "activation": str(activation),
            "attention_activation": str(attention_activation),
            "dropout": float(dropout),
            "batch_norm": bool(batch_norm),
            "softmax": bool(softmax),
            "use_sequence": bool(use_sequence),
            "history_gradient": bool(history_gradient),
        }
        self.sequence_index = behaviour_sequence(self.lists)
        if self.sequence_index is None and use_sequence:
            described = ", ".join(f"{s['name']} ({s['kind']}, share {s['share']})" for s in self.lists) or "none"
            raise ConfigError(
                f"model 'din' needs a behaviour sequence that shares the vocabulary of the candidate item's "
                f"categorical column; found the list features: {described}.",
                hint='Declare one, e.g. sequence={"history": {"vocabulary_of": "movieId"}}, '
                "or pass use_sequence=False.",
            )
        self.candidate_index = None if self.sequence_index is None else self.lists[self.sequence_index]["share"]
        attended = behaviour_sequences(self.lists) if use_sequence else []
        dim = int(embedding_dim)
        self.embedding = FeatureEmbedding(self.cardinalities, dim)
        self.list_embedding = ListEmbedding(self.lists, dim, shared=self.embedding)
        # Without use_sequence every sequence that DIN would attend over is left out, not pooled.
        every = behaviour_sequences(self.lists)
        self.attended_lists = attended
        self.pooled_lists = [k for k in range(len(self.lists)) if k not in every]
        self.attention = AttentionUnit(dim, attention_hidden, attention_activation, softmax) if use_sequence else None
        # Units of the second and later attended sequences (empty with one: the weights' names stay the same).
        self.more_attention = nn.ModuleList(
            AttentionUnit(dim, attention_hidden, attention_activation, softmax) for _ in attended[1:]
        )
        in_dim = self.n_numeric + (len(self.cardinalities) + len(self.pooled_lists) + len(attended)) * dim
        self.mlp = MLPBlock(in_dim, hidden, activation, dropout, batch_norm)
        self.head = dense(self.mlp.out_dim, self.n_outputs)

    def config(self) -> dict[str, Any]:
        return dict(
            self.hyper, hidden=list(self.hyper["hidden"]), attention_hidden=list(self.hyper["attention_hidden"])
        )

    def interest(
        self, categorical: torch.Tensor, lists: Sequence[torch.Tensor], which: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(user-interest vector ``[B, D]``, attention weights ``[B, L]``) for the candidate of each row,
        over the ``which``-th attended sequence (0: the first, ``sequence_index``)."""
        assert self.attention is not None and self.candidate_index is not None
        k = self.attended_lists[which]
        unit = self.attention if which == 0 else self.more_attention[which - 1]
        query = self.embedding(categorical)[:, self.candidate_index, :]
        keys, mask = self.list_embedding.sequence(k, lists[k])
        if not self.hyper["history_gradient"]:
            keys = keys.detach()
        weights = unit(query, keys, mask)
        return (weights.unsqueeze(-1) * keys).sum(dim=1), weights

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """``[B, n_numeric]`` float32, ``[B, n_categorical]`` int64, lists -> ``[B, n_outputs]``."""
        parts = [numeric]
        if self.cardinalities:
            parts.append(self.embedding(categorical).flatten(1))
        if self.pooled_lists:
            parts.append(self.list_embedding(lists)[:, self.pooled_lists, :].flatten(1))
        for which in range(len(self.attended_lists)):
            parts.append(self.interest(categorical, lists, which)[0])
        return self.head(self.mlp(torch.cat(parts, dim=1)))
