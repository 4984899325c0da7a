"""SASRec: a causal transformer over each customer's items in time order that predicts the next item.

Self-attentive sequential recommendation (Kang & McAuley 2018) trained as Klenitskiy & Vasilev (2023)
showed makes it strong: a softmax cross-entropy over the whole catalogue at every position of every
sequence, rather than the paper's one sampled negative per position. For catalogues beyond
``full_softmax_items`` the softmax is sampled: the candidates of a batch are its own targets (in-batch
negatives) and ``negatives`` items drawn uniformly, shared by all its positions, each candidate's logit
corrected by the log of its expected count in the candidates (logQ, Yi et al. 2019), so that popular items
are not pushed down merely for being drawn often. Its memory grows with a batch's positions times its
candidates: with long sequences over a large catalogue, a smaller ``batch_size`` keeps it in bounds.

The network: item embeddings (row ``i + 1`` for item ``i``, row 0 the padding) scaled by the square root of
their width, plus a learned embedding of each position counted back from the most recent item (the
original's left-padded absolute positions, so a batch can be cut to its longest history without changing
anything); pre-LN transformer blocks with a causal mask, a final layer norm; the score of an item is the
inner product of the last position's state with the item's embedding (input and output embeddings shared),
so ``vectors`` and ``item_vectors`` serve an inner-product index exactly.

Training sequences: the last ``max_len + 1`` items of each customer, every item after the first of them a
target (as the original does). Earlier windows of long histories are left out: on MovieLens 100K they made
each epoch slower and, at the same training time, gave a worse model (older tastes, fewer epochs on the recent
ones). An epoch's batches hold sequences of similar lengths, so that little of the work goes to padding (the
sequences are shuffled, sorted by length within runs of a few batches, and the batches shuffled again); a
batch's loss is its positions' sum over the mean number of positions per batch, so every position weighs the
same, as in batches drawn at random. Early stopping watches NDCG@10 over the whole catalogue on ``validation``
(the customers' items in ``data`` as histories, those items excluded from the lists) every ``eval_every``
epochs, and the best weights are kept.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.recommend.algorithm import Algorithm, histories_of
from needmap.recommend.interactions import Interactions
from needmap.recommend.softmax import log_expected_counts
from needmap.runtime.device import torch_threads

LOSSES = ("auto", "full", "sampled")
#: Histories scored per forward pass in ``score`` and ``vectors``.
SCORE_BATCH = 512
#: Batches whose sequences are sorted by length together (see ``_batches``).
BUCKET = 16
#: The label of a position without a target (padding): the cross-entropy ignores it.
IGNORE = -100


class SASRec(Algorithm):
    """Self-attentive sequential recommendation with a full (or sampled, logQ-corrected) softmax loss.

    Args:
        embedding_dim: width of the item and position embeddings and of the transformer.
        max_len: the most recent items a sequence holds (training and scoring alike).
        layers, heads: transformer blocks and attention heads (``embedding_dim`` divisible by ``heads``).
        dropout: on the embeddings, the attention and the feed-forward layers.
        epochs: most epochs; batch_size: sequences per step; lr, weight_decay: AdamW's.
        patience: epochs without a better validation NDCG@10 before stopping (checked every ``eval_every``).
        eval_every: epochs between validation checks.
        seed: weights, dropout and shuffling; the same seed on the same data and threads gives the same state.
        max_time: seconds of training after which it stops at the end of the epoch (None: no limit).
        progress: a line per validation check on stderr.
        loss: ``full`` softmax, ``sampled`` softmax, or ``auto`` (full up to ``full_softmax_items`` items).
        negatives: uniformly drawn negatives per batch of the sampled softmax.
        threads: torch threads while fitting and scoring (None: torch's setting).
    """

    name = "sasrec"
    retrieval = True
    network = True

    def __init__(
        self,
        embedding_dim: int = 64,
        max_len: int = 200,
        layers: int = 2,
        heads: int = 1,
        dropout: float = 0.2,
        epochs: int = 200,
        batch_size: int = 64,
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        patience: int = 20,
        eval_every: int = 5,
        seed: int = 0,
        max_time: float | None = None,
        progress: bool = False,
        loss: str = "auto",
        negatives: int = 256,
        full_softmax_items: int = 50_000,
        threads: int | None = None,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.max_len = max_len
        self.layers = layers
        self.heads = heads
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.eval_every = eval_every
        self.seed = seed
        self.max_time = max_time
        self.progress = progress
        self.loss = loss
        self.negatives = negatives
        self.full_softmax_items = full_softmax_items
        self.threads = threads

    # ----------------------------------------------------------------------------------------------------
    # fitting

    def fit(self, data: Interactions, validation: Any = None) -> SASRec:
        self._check()
        if data.n_items == 0:
            raise ConfigError("sasrec: the interactions hold no item; expected at least one.")
        inputs, targets = training_sequences(data, int(self.max_len))
        if len(inputs) == 0:
            raise ConfigError(
                f"sasrec: no customer of {data.source} has two or more events; expected some histories to "
                "learn the next item from."
            )
        self.n_items_ = data.n_items
        with torch_threads(self.threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            self._net = self._build(data.n_items)
            self.summary_ = self._train(data, validation, inputs, targets)
        self.state_ = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in self._net.state_dict().items()}
        return self

    def _check(self) -> None:
        positive = ("embedding_dim", "max_len", "layers", "heads", "epochs", "batch_size", "eval_every", "negatives")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"sasrec: {name} is {value!r}; expected a positive whole number.")
        if self.embedding_dim % self.heads:
            raise ConfigError(
                f"sasrec: embedding_dim {self.embedding_dim} is not divisible by heads {self.heads}; expected a "
                "multiple of the number of heads."
            )
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"sasrec: dropout is {self.dropout}; expected a number in [0, 1).")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ConfigError(
                f"sasrec: lr {self.lr} and weight_decay {self.weight_decay}; expected a positive lr and a "
                "weight_decay of at least 0."
            )
        if self.patience < 1 or (self.max_time is not None and not self.max_time > 0):
            raise ConfigError(
                f"sasrec: patience {self.patience} and max_time {self.max_time}; expected a patience of at least "
                "1 epoch and a positive max_time (or none)."
            )
        if self.loss not in LOSSES:
            raise ConfigError(f"sasrec: loss is {self.loss!r}; expected one of {', '.join(LOSSES)}.")

    def _build(self, n_items: int) -> Any:
        return _Network(n_items, self.embedding_dim, self.max_len, self.layers, self.heads, self.dropout)

    def _sampled(self, n_items: int) -> bool:
        return self.loss == "sampled" or (self.loss == "auto" and n_items > self.full_softmax_items)

    def _train(self, data: Interactions, validation: Any, inputs: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
        """The epochs, with early stopping on ``validation``; leaves the best (or last) weights in the network."""
        net = self._net
        n_items = data.n_items
        x_all = torch.from_numpy(inputs)
        lengths = torch.from_numpy((inputs != 0).sum(axis=1))
        y_all = torch.from_numpy(targets)
        shuffle = torch.Generator().manual_seed(int(self.seed))
        optimizer = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sampled = self._sampled(n_items)
        valid = targets[targets != IGNORE]
        frequency = torch.from_numpy(np.bincount(valid, minlength=n_items) / len(valid))
        per_batch = len(valid) / math.ceil(len(targets) / int(self.batch_size))
        watched = validation is not None and len(validation) > 0
        if watched:
            valid_histories = histories_of(data, validation.customers)
            valid_items = list(validation.items)
        best = {"ndcg": -1.0, "epoch": 0, "weights": None}
        reason = "epochs"
        examples = 0
        epoch = 0
        started = time.perf_counter()
        for epoch in range(1, int(self.epochs) + 1):
            net.train()
            total = 0.0
            for rows in _batches(lengths, int(self.batch_size), shuffle):
                x, y = _trim(x_all[rows], y_all[rows])
                hidden = net(x)
                mask = y != IGNORE
                if sampled:
                    summed = _sampled_loss(net, hidden[mask], y[mask], frequency, int(self.negatives), shuffle)
                else:
                    summed = torch.nn.functional.cross_entropy(net.logits(hidden[mask]), y[mask], reduction="sum")
                # every position weighs the same whatever the length of its batch's sequences
                loss = summed / per_batch
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                examples += int(mask.sum())
                total += float(summed.detach())
            elapsed = time.perf_counter() - started
            out_of_time = self.max_time is not None and elapsed >= self.max_time
            last = epoch == int(self.epochs) or out_of_time
            if watched and (epoch % int(self.eval_every) == 0 or last):
                ndcg = self._validation_ndcg(valid_histories, valid_items)
                if ndcg > best["ndcg"]:
                    best = {"ndcg": ndcg, "epoch": epoch, "weights": _copy(net.state_dict())}
                if self.progress:
                    print(
                        f"sasrec epoch {epoch}/{self.epochs}  loss {total / len(valid):.4f}  valid ndcg@10 "
                        f"{ndcg:.4f}  best {best['ndcg']:.4f} (epoch {best['epoch']})  {elapsed:.1f} s",
                        file=sys.stderr,
                    )
                if epoch - best["epoch"] >= self.patience:
                    reason = "patience"
                    break
            elif self.progress:
                print(
                    f"sasrec epoch {epoch}/{self.epochs}  loss {total / len(valid):.4f}  {elapsed:.1f} s",
                    file=sys.stderr,
                )
            if out_of_time:
                reason = "max_time"
                break
        wall = time.perf_counter() - started
        if best["weights"] is not None:
            net.load_state_dict(best["weights"])
        net.eval()
        return {
            "epochs_run": epoch,
            "best_epoch": best["epoch"] if watched else epoch,
            "stopped_reason": reason,
            "wall_time_s": round(wall, 3),
            "epochs_per_s": round(epoch / wall, 4) if wall > 0 else None,
            "examples_per_s": round(examples / wall, 1) if wall > 0 else None,
            "validation_ndcg": round(best["ndcg"], 6) if watched else None,
            "loss": "sampled" if sampled else "full",
            "training_sequences": len(inputs),
        }

    def _validation_ndcg(self, histories: list[np.ndarray], items: list[np.ndarray]) -> float:
        from needmap.recommend.top_k import held_out_ndcg

        # blocks of at most about 2**26 scores, so a large catalogue does not take gigabytes per check
        batch = max(1, min(1024, 2**26 // max(1, self.n_items_)))
        return held_out_ndcg(self, histories, items, 10, batch=batch)

    # ----------------------------------------------------------------------------------------------------
    # a fitted model

    def restore(self, state: dict[str, np.ndarray], n_items: int) -> SASRec:
        super().restore(state, n_items)
        with torch.random.fork_rng(devices=[]):
            self._net = self._build(n_items)
        # a copy: the arrays read from a file may be read-only
        self._net.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()})
        self._net.eval()
        return self

    def vectors(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """The last position's state per history (float32, ``len(histories) x embedding_dim``).

        An empty history is all padding: its vector is what the network makes of no item at all (the
        :class:`needmap.recommend.recommender.Recommender` gives such customers the popular items instead)."""
        net = self._net
        net.eval()
        out = np.zeros((len(histories), int(self.embedding_dim)), dtype=np.float32)
        with torch_threads(self.threads), torch.inference_mode():
            for start in range(0, len(histories), SCORE_BATCH):
                chunk = histories[start : start + SCORE_BATCH]
                x = torch.from_numpy(_left_padded(chunk, int(self.max_len)))
                out[start : start + len(chunk)] = net(x)[:, -1].numpy()
        return out

    def item_vectors(self) -> np.ndarray:
        """The item embeddings (float32, ``n_items x embedding_dim``, row ``i`` for item ``i``)."""
        return self._net.item_embedding.weight.detach()[1:].numpy().astype(np.float32)

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Inner products of each history's vector with every item's (float32)."""
        vectors = torch.from_numpy(self.vectors(histories))
        with torch_threads(self.threads), torch.inference_mode():
            return self._net.logits(vectors).numpy().astype(np.float32, copy=False)

    def contributions(self, history: np.ndarray, item: int) -> np.ndarray:
        """What each distinct item of ``history`` (``np.unique`` order) adds to ``item``'s score: Integrated
        Gradients over the history's item embeddings against the same events with the padding item in each
        (:mod:`needmap.recommend.why`); items older than the last ``max_len`` get 0."""
        return self.contributions_batch([history], [item])[0]

    def contributions_batch(self, histories: Sequence[np.ndarray], items: Sequence[int]) -> list[np.ndarray]:
        """:meth:`contributions` of many (history, item) pairs, integrated together."""
        from needmap.recommend.why import integrated_terms

        net = self._net
        net.eval()

        def forward(ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            # the output embedding is read as a weight, so only the history's look-up is integrated
            return (net(ids)[:, -1] * net.item_embedding.weight[targets + 1]).sum(dim=-1)

        with torch_threads(self.threads):
            return integrated_terms(
                forward,
                net.item_embedding,
                histories,
                lambda part: _left_padded(part, int(self.max_len)),
                lambda targets: (torch.from_numpy(targets),),
                items,
            )


# --------------------------------------------------------------------------------------------------------
# the network


class _Network(nn.Module):
    """Embeddings, pre-LN causal transformer blocks and a final layer norm (see the module's docstring)."""

    def __init__(self, n_items: int, dim: int, max_len: int, layers: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.dim = dim
        self.heads = heads
        self.item_embedding = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, dim)
        self.dropout = nn.Dropout(dropout)
        block = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=dim, dropout=dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        for name, parameter in self.named_parameters():
            if parameter.dim() > 1 and "norm" not in name:
                nn.init.xavier_normal_(parameter)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """States of every position (batch x length x dim) of left-padded item rows (0: padding)."""
        length = items.shape[1]
        padding = items == 0
        # positions counted back from the most recent item: the last column is position 0
        positions = torch.arange(length - 1, -1, -1, device=items.device)
        h = self.item_embedding(items) * math.sqrt(self.dim) + self.position_embedding(positions)
        h = self.dropout(h) * (~padding).unsqueeze(-1)
        # causal, and no attention to padding, except a position's own (a padding row needs one key)
        blocked = torch.ones(length, length, dtype=torch.bool, device=items.device).triu(1).unsqueeze(0)
        blocked = (blocked | padding.unsqueeze(1)) & ~torch.eye(length, dtype=torch.bool, device=items.device)
        blocked = blocked.repeat_interleave(self.heads, dim=0)
        return self.norm(self.encoder(h, mask=blocked))

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores of every item (the padding row left out) for states ``hidden`` (... x dim)."""
        return hidden @ self.item_embedding.weight[1:].T


# --------------------------------------------------------------------------------------------------------
# sequences and losses


def training_sequences(data: Interactions, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (item + 1, left-padded with 0) and next-item targets (item, ``IGNORE`` at padding), int64
    ``sequences x max_len``: the last ``max_len + 1`` items of each customer with two or more."""
    starts = data.starts()
    lengths = np.minimum(np.diff(starts), max_len + 1)
    kept = np.flatnonzero(lengths >= 2)
    inputs = np.zeros((len(kept), max_len), dtype=np.int64)
    targets = np.full((len(kept), max_len), IGNORE, dtype=np.int64)
    for row, c in enumerate(kept):
        window = data.item[starts[c + 1] - lengths[c] : starts[c + 1]].astype(np.int64)
        inputs[row, max_len - len(window) + 1 :] = window[:-1] + 1
        targets[row, max_len - len(window) + 1 :] = window[1:]
    return inputs, targets


def _left_padded(histories: Sequence[np.ndarray], max_len: int) -> np.ndarray:
    """The last ``max_len`` items of each history as item + 1, left-padded with 0, cut to the longest."""
    width = max(1, min(max_len, max((len(h) for h in histories), default=1)))
    out = np.zeros((len(histories), width), dtype=np.int64)
    for r, history in enumerate(histories):
        recent = np.asarray(history, dtype=np.int64)[-width:]
        if len(recent):
            out[r, width - len(recent) :] = recent + 1
    return out


def _batches(lengths: torch.Tensor, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """The rows of one epoch in batches: shuffled, then sorted by length within runs of ``BUCKET`` batches, so
    that a batch holds sequences of similar lengths and little padding, and the batches shuffled again."""
    order = torch.randperm(len(lengths), generator=generator)
    batches: list[torch.Tensor] = []
    run = batch_size * BUCKET
    for start in range(0, len(order), run):
        chunk = order[start : start + run]
        chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
        batches.extend(chunk.split(batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def _trim(x: Any, y: Any) -> tuple[Any, Any]:
    """A batch without the columns that are padding in every row."""
    used = (x != 0).any(dim=0)
    first = int(used.float().argmax()) if bool(used.any()) else x.shape[1] - 1
    return x[:, first:], y[:, first:]


def _sampled_loss(net: Any, hidden: Any, target: Any, frequency: Any, negatives: int, generator: Any) -> Any:
    """Summed softmax cross-entropy of ``hidden`` (positions x dim) over the batch's distinct targets and
    ``negatives`` uniform items, each candidate's logit less the log of its expected count among the candidates
    (the batch's targets, as frequent as ``frequency`` says, plus the uniform draws)."""
    n_items = len(frequency)
    drawn = torch.randint(0, n_items, (negatives,), generator=generator)
    candidates, label = torch.unique(torch.cat([target, drawn]), return_inverse=True)
    log_q = log_expected_counts(frequency, candidates, len(target), negatives, n_items)
    logits = hidden @ net.item_embedding(candidates + 1).T - log_q
    return torch.nn.functional.cross_entropy(logits, label[: len(target)], reduction="sum")


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in state.items()}
