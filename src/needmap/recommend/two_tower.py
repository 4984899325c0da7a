"""A two-tower retrieval network: a customer tower over the behaviour sequence, an item tower over the item.

The customer tower embeds the customer's last ``max_len`` items, pools them twice (their mean, and a
recency-weighted mean whose weight per position from the end is learned) and maps the two through an MLP
to ``embedding_dim``. The item tower maps the item's id embedding and, when given, the embeddings of its
categorical attributes (``item_features``) through one linear layer to the same size. Both vectors are
L2-normalized, so a score is the cosine of the two: an index (FAISS) can search the item vectors by inner
product (YouTube DNN, Covington et al. 2016; Yi et al. 2019).

Training is next-item prediction: every training event is an example whose target is its item and whose
history is the items the customer touched before it (never after: a model that saw the future of the
sequence would not learn what it is used for). With ``horizon`` h > 1 the target is drawn, each epoch,
among that event and the h - 1 after it (PinnerFormer's future window, Pancha et al. 2022): the network
learns what a customer turns to over the next few events rather than the next one alone. The loss is a
softmax over the batch's target items (in-batch negatives), logits divided by ``temperature``, with the
logQ correction of Yi et al. 2019: an in-batch negative is sampled in proportion to its popularity, so each
candidate's logit loses the log of how often it is expected among the candidates, which keeps popular items
from being pushed down just for being frequent negatives. ``mixed_negatives`` items drawn uniformly from
the whole catalogue join the candidates (Yang et al. 2020), so that rare items are also seen as negatives;
the correction then uses each candidate's expected count over both kinds (``batch * p(item) +
mixed_negatives / n_items``). Another row's target that is this row's own target (an accidental hit) is
masked out of its softmax.

With a validation :class:`~needmap.recommend.split.HeldOut`, the network is checked every ``eval_every``
epochs on NDCG@10 over the whole catalogue (seen items left out), keeps the best weights and stops after
``patience`` checks without improvement.

Dense AdamW reads and writes every row of the id tables on every step; for a large catalogue (tables of
:data:`~needmap.training.optimizers.SPARSE_MIN_ROWS` rows or more) and without weight decay, the id
tables learn by row-wise lazy Adam instead (:class:`~needmap.training.optimizers.LazyAdam`), which updates
only the rows a batch looked up.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from needmap.errors import ConfigError
from needmap.recommend.algorithm import Algorithm, histories_of
from needmap.recommend.interactions import Interactions
from needmap.recommend.softmax import log_expected_counts, sampled_softmax_loss

FEATURE_PREFIX = "item_feature."
VALIDATION_K = 10


def _network(
    n_items: int,
    cardinalities: Sequence[int],
    embedding_dim: int,
    max_len: int,
    hidden: Sequence[int],
    dropout: float,
    sparse: bool = False,
) -> Any:
    """The two towers as one torch module (built here so that torch loads only when a network is made);
    ``sparse``: the id embeddings give sparse gradients (for :class:`~needmap.training.optimizers.LazyAdam`)."""
    import torch
    from torch import nn

    class TwoTowerNetwork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # history items are shifted by one: 0 is the padding of a history shorter than max_len
            self.history_embedding = nn.Embedding(n_items + 1, embedding_dim, padding_idx=0, sparse=sparse)
            self.recency = nn.Parameter(torch.zeros(max_len))
            layers: list[nn.Module] = [nn.Dropout(dropout)]
            width = 2 * embedding_dim
            for size in hidden:
                layers += [nn.Linear(width, int(size)), nn.ReLU(), nn.Dropout(dropout)]
                width = int(size)
            layers.append(nn.Linear(width, embedding_dim))
            self.customer_mlp = nn.Sequential(*layers)
            self.item_embedding = nn.Embedding(n_items, embedding_dim, sparse=sparse)
            # 1 for an item with training events, 0 for one without: its random id embedding is never used
            self.register_buffer("trained", torch.ones(n_items, 1))
            self.feature_embeddings = nn.ModuleList(
                nn.Embedding(size, embedding_dim, padding_idx=0) for size in cardinalities
            )
            # no bias: an item with a zero id embedding and no attributes gets the zero vector (scores 0)
            self.item_projection = nn.Linear(embedding_dim * (1 + len(cardinalities)), embedding_dim, bias=False)

        def customers(self, history: torch.Tensor) -> torch.Tensor:
            """Vectors of padded histories ([B, max_len] of item + 1, the latest in the last column)."""
            mask = (history > 0).to(torch.float32)
            uniform = mask / mask.sum(1, keepdim=True).clamp_min(1.0)
            recency = torch.exp(self.recency - self.recency.max()) * mask
            recency = recency / recency.sum(1, keepdim=True).clamp_min(1e-12)
            # both poolings in one batched product: [B, 2, max_len] @ [B, max_len, d] (no items: zeros)
            pooled = torch.bmm(torch.stack([uniform, recency], dim=1), self.history_embedding(history))
            out = self.customer_mlp(pooled.flatten(1))
            return nn.functional.normalize(out, dim=1)

        def items(self, items: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
            """Vectors of items (``codes``: [n_items, features] attribute codes of the whole catalogue)."""
            parts = [self.item_embedding(items) * self.trained[items]]
            for f, table in enumerate(self.feature_embeddings):
                parts.append(table(codes[items, f]))
            return nn.functional.normalize(self.item_projection(torch.cat(parts, dim=1)), dim=1)

    return TwoTowerNetwork()


class TwoTower(Algorithm):
    """Two-tower retrieval network (see the module's docstring).

    Args:
        embedding_dim: size of the customer and item vectors.
        max_len: how many of the customer's latest items the customer tower reads.
        hidden: widths of the customer tower's hidden layers.
        temperature: the softmax's temperature over the cosine scores.
        mixed_negatives: items drawn uniformly from the catalogue added to each batch's candidates (0: the
            batch's targets only).
        horizon: the target of an example is one of its event and the ``horizon - 1`` after it (1: the
            next item, what leave-last-out measures).
        dropout: dropout rate of the customer tower.
        epochs, batch_size, lr, weight_decay: training by AdamW (lazy Adam on the id tables of a large
            catalogue, see the module's docstring).
        patience: validation checks without a better NDCG@10 before stopping.
        eval_every: epochs between validation checks.
        seed: seeds the weights and the batches (the same seed gives the same ``state_``).
        max_time: seconds after which training stops at the end of an epoch (None: no limit).
        progress: print one line per epoch on stderr.
        threads: torch's CPU threads while training (None: every usable core).
        item_features: item attributes as ``{name: integer codes}``, each array aligned with the item
            indices of the interactions (``codes[j]`` for item ``j``), 0 meaning missing and 1, 2, ... the
            values. They reach the item tower, so an item with few or no events still gets a vector from its
            attributes. They are kept in ``state_`` (``item_feature.<name>``) and set again by ``restore``.

    An empty history scores without error: it gets the vector the customer tower gives no items at all,
    learned from every customer's first event (which has no history before it), so it ranks the items
    customers most often start with (which need not be the most popular overall). The id embedding of an
    item with no training event is never used (it would be random): without attributes its vector is zero
    and it scores 0 for everybody; with attributes, they place it.
    """

    name = "two_tower"
    retrieval = True
    network = True

    def __init__(
        self,
        embedding_dim: int = 64,
        max_len: int = 50,
        hidden: Sequence[int] = (256,),
        temperature: float = 0.05,
        mixed_negatives: int = 0,
        horizon: int = 1,
        dropout: float = 0.1,
        epochs: int = 50,
        batch_size: int = 512,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        patience: int = 5,
        eval_every: int = 1,
        seed: int = 0,
        max_time: float | None = None,
        progress: bool = False,
        threads: int | None = None,
        item_features: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.max_len = max_len
        self.hidden = hidden
        self.temperature = temperature
        self.mixed_negatives = mixed_negatives
        self.horizon = horizon
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
        self.threads = threads
        self.item_features = item_features

    # ---------------------------------------------------------------- building

    def _check(self) -> None:
        positive = {
            "embedding_dim": self.embedding_dim,
            "max_len": self.max_len,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "eval_every": self.eval_every,
            "patience": self.patience,
            "horizon": self.horizon,
        }
        for key, value in positive.items():
            if int(value) < 1:
                raise ConfigError(f"two_tower: {key} is {value}; expected a whole number of at least 1.")
        if not self.temperature > 0 or not self.lr > 0:
            raise ConfigError(f"two_tower: temperature {self.temperature} and lr {self.lr}; expected positive numbers.")
        if int(self.mixed_negatives) < 0 or self.weight_decay < 0 or not 0 <= self.dropout < 1:
            raise ConfigError(
                f"two_tower: mixed_negatives {self.mixed_negatives}, weight_decay {self.weight_decay}, dropout "
                f"{self.dropout}; expected mixed_negatives and weight_decay of at least 0 and dropout in [0, 1)."
            )

    def _codes(self, n_items: int) -> tuple[list[str], np.ndarray]:
        """The attribute names (sorted) and their codes as one [n_items, features] int64 matrix."""
        features = self.item_features or {}
        names = sorted(features)
        columns = []
        for name in names:
            codes = np.asarray(features[name])
            if codes.ndim != 1 or len(codes) != n_items or not np.issubdtype(codes.dtype, np.integer):
                raise ConfigError(
                    f"two_tower: item feature {name!r} holds {codes.dtype} of shape {codes.shape}; expected one "
                    f"integer code per item ({n_items:,}), 0 for missing."
                )
            if len(codes) and codes.min() < 0:
                raise ConfigError(f"two_tower: item feature {name!r} has negative codes; expected 0 (missing) or more.")
            columns.append(codes.astype(np.int64))
        return names, (np.stack(columns, axis=1) if columns else np.zeros((n_items, 0), dtype=np.int64))

    def _build(self, n_items: int, sparse: bool = False) -> None:
        import torch

        self._names, codes = self._codes(n_items)
        cardinalities = [int(codes[:, f].max(initial=0)) + 1 for f in range(codes.shape[1])]
        self._codes_tensor = torch.from_numpy(codes)
        self._module = _network(
            n_items,
            cardinalities,
            int(self.embedding_dim),
            int(self.max_len),
            tuple(self.hidden),
            float(self.dropout),
            sparse,
        )
        self.n_items_ = n_items

    def _sparse(self, n_items: int) -> bool:
        """Whether the id tables learn by sparse row-wise Adam: for a large catalogue (where dense Adam
        would read and write every row on every step) and without weight decay, which it does not apply."""
        from needmap.training.optimizers import SPARSE_MIN_ROWS

        return float(self.weight_decay) == 0 and 2 * n_items + 1 >= SPARSE_MIN_ROWS

    def _padded(self, histories: Sequence[np.ndarray]) -> Any:
        """The histories' latest ``max_len`` items, shifted by one and right-aligned ([n, max_len], 0 = none)."""
        import torch

        length = int(self.max_len)
        out = np.zeros((len(histories), length), dtype=np.int64)
        for row, history in enumerate(histories):
            recent = np.asarray(history, dtype=np.int64)[-length:]
            if len(recent):
                out[row, length - len(recent) :] = recent + 1
        return torch.from_numpy(out)

    def _store(self) -> None:
        state = {key: value.detach().cpu().numpy().copy() for key, value in self._module.state_dict().items()}
        codes = self._codes_tensor.numpy()
        for f, name in enumerate(self._names):
            state[FEATURE_PREFIX + name] = codes[:, f].copy()
        self.state_ = state

    # ---------------------------------------------------------------- training

    def fit(self, data: Interactions, validation: Any = None) -> TwoTower:
        import torch

        from needmap.runtime.device import torch_threads, usable_cores

        self._check()
        with torch_threads(self.threads or usable_cores()), torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            self._build(data.n_items, self._sparse(data.n_items))
            self._train(data, validation)
        self._store()
        return self

    def _train(self, data: Interactions, validation: Any) -> None:
        import torch

        from needmap.recommend.top_k import held_out_ndcg
        from needmap.training.optimizers import LazyAdam
        from needmap.training.progress import EpochProgress

        module = self._module
        n_items = data.n_items
        length = int(self.max_len)
        batch_size = int(self.batch_size)
        negatives = int(self.mixed_negatives)
        # every event is an example: its item is the target, the events before it (same customer) the history
        item = torch.from_numpy(data.item.astype(np.int64))
        first = torch.from_numpy(np.repeat(data.starts()[:-1], np.diff(data.starts())))
        last = torch.from_numpy(np.repeat(data.starts()[1:] - 1, np.diff(data.starts())))
        horizon = int(self.horizon)
        n = len(item)
        counts = torch.bincount(item, minlength=n_items).to(torch.float64)
        probability = counts / max(n, 1)
        back = torch.arange(length, 0, -1)
        generator = torch.Generator().manual_seed(int(self.seed))
        module.trained.copy_((counts > 0).to(torch.float32).unsqueeze(1))  # see the class docstring
        tables = [module.history_embedding.weight, module.item_embedding.weight]
        if module.item_embedding.sparse:  # row-wise lazy Adam on the id tables, AdamW on the rest
            ids = {id(t) for t in tables}
            dense = [p for p in module.parameters() if id(p) not in ids]
            optimizers = [LazyAdam(tables, lr=float(self.lr)), torch.optim.AdamW(dense, lr=float(self.lr))]
        else:
            optimizers = [
                torch.optim.AdamW(module.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
            ]
        if validation is not None:
            histories = histories_of(data, validation.customers)
            truth = list(validation.items)

        def batch_loss(index: torch.Tensor) -> torch.Tensor:
            positions = index.unsqueeze(1) - back.unsqueeze(0)  # [B, max_len], latest last
            known = positions >= first[index].unsqueeze(1)
            history = torch.where(known, item[positions.clamp_min(0)] + 1, torch.zeros((), dtype=torch.int64))
            if horizon > 1:
                ahead = torch.randint(0, horizon, index.shape, generator=generator)
                targets = item[torch.minimum(index + ahead, last[index])]
            else:
                targets = item[index]
            if negatives:
                sampled = torch.randint(0, n_items, (negatives,), generator=generator)
                candidates = torch.cat([targets, sampled])
            else:
                candidates = targets
            log_expected = log_expected_counts(probability, candidates, len(index), negatives, n_items)
            return sampled_softmax_loss(
                module.customers(history),
                module.items(candidates, self._codes_tensor),
                candidates,
                log_expected,
                float(self.temperature),
            )

        n_batches = math.ceil(n / batch_size)
        summary: dict[str, Any] = {"stopped_reason": "epochs", "best_epoch": 0, "validation_ndcg": None}
        best_state: dict[str, torch.Tensor] | None = None
        best = -math.inf
        since_best = 0
        train_seconds = 0.0
        epoch = 0
        start = time.perf_counter()
        module.train()
        with EpochProgress(bool(self.progress), int(self.epochs), n_batches, "ndcg@10") as progress:
            for epoch in range(1, int(self.epochs) + 1):
                epoch_start = time.perf_counter()
                total = 0.0
                order = torch.randperm(n, generator=generator)
                for index in torch.split(order, batch_size):
                    for optimizer in optimizers:
                        optimizer.zero_grad(set_to_none=True)
                    loss = batch_loss(index)
                    loss.backward()
                    for optimizer in optimizers:
                        optimizer.step()
                    total += float(loss.detach()) * len(index)
                    progress.batch_done()
                train_seconds += time.perf_counter() - epoch_start
                loss_mean = total / max(n, 1)
                if not math.isfinite(loss_mean):
                    raise ConfigError(
                        f"two_tower: the training loss became {loss_mean} in epoch {epoch}; expected a finite loss.",
                        hint=f"Lower the learning rate (lr is {self.lr}) or raise the temperature.",
                    )
                entry: dict[str, Any] = {"epoch": epoch, "loss": loss_mean, "lr": float(self.lr)}
                checked = validation is not None and (epoch % int(self.eval_every) == 0 or epoch == int(self.epochs))
                if checked:
                    module.eval()
                    ndcg = held_out_ndcg(self, histories, truth, VALIDATION_K)
                    module.train()
                    entry[f"valid_ndcg@{VALIDATION_K}"] = ndcg
                    if ndcg > best:
                        best, since_best = ndcg, 0
                        summary["best_epoch"], summary["validation_ndcg"] = epoch, ndcg
                        best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                    else:
                        since_best += 1
                entry["seconds"] = time.perf_counter() - epoch_start
                progress.epoch_done(entry)
                if checked and since_best >= int(self.patience):
                    summary["stopped_reason"] = "early_stopping"
                    break
                if self.max_time is not None and time.perf_counter() - start > float(self.max_time):
                    summary["stopped_reason"] = "max_time"
                    break
        if best_state is not None:
            module.load_state_dict(best_state)
        else:  # no validation, or stopped (max_time) before its first check: the last weights
            summary["best_epoch"] = epoch
        module.eval()
        wall = time.perf_counter() - start
        summary.update(
            epochs_run=epoch,
            wall_time_s=wall,
            epochs_per_s=epoch / train_seconds if train_seconds > 0 else 0.0,
            examples_per_s=epoch * n / train_seconds if train_seconds > 0 else 0.0,
            embedding_updates="sparse" if module.item_embedding.sparse else "dense",
        )
        self.summary_ = summary

    # ---------------------------------------------------------------- serving

    def restore(self, state: dict[str, np.ndarray], n_items: int) -> TwoTower:
        import torch

        super().restore(state, n_items)
        self.item_features = {
            key[len(FEATURE_PREFIX) :]: np.asarray(value)
            for key, value in state.items()
            if key.startswith(FEATURE_PREFIX)
        } or None
        self._build(n_items)
        weights = {k: torch.from_numpy(np.array(v)) for k, v in state.items() if not k.startswith(FEATURE_PREFIX)}
        self._module.load_state_dict(weights)
        self._module.eval()
        return self

    def vectors(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """The customers' unit vectors (float32, ``len(histories) x embedding_dim``)."""
        import torch

        with torch.inference_mode():
            return self._module.customers(self._padded(histories)).numpy().astype(np.float32, copy=False)

    def item_vectors(self) -> np.ndarray:
        """The items' unit vectors (float32, ``n_items x embedding_dim``; zero for an untrained item without
        attributes)."""
        import torch

        with torch.inference_mode():
            items = torch.arange(self.n_items_)
            return self._module.items(items, self._codes_tensor).numpy().astype(np.float32, copy=False)

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Cosine of each customer's vector with each item's (float32, ``len(histories) x n_items``)."""
        import torch

        with torch.inference_mode():
            customers = self._module.customers(self._padded(histories))
            items = self._module.items(torch.arange(self.n_items_), self._codes_tensor)
            return (customers @ items.T).numpy().astype(np.float32, copy=False)

    def contributions(self, history: np.ndarray, item: int) -> np.ndarray:
        """What each distinct item of ``history`` (``np.unique`` order) adds to ``item``'s score: Integrated
        Gradients over the history's item embeddings against the empty history (:mod:`needmap.recommend.why`);
        items older than the last ``max_len`` get 0."""
        return self.contributions_batch([history], [item])[0]

    def contributions_batch(self, histories: Sequence[np.ndarray], items: Sequence[int]) -> list[np.ndarray]:
        """:meth:`contributions` of many (history, item) pairs, integrated together."""
        import torch

        from needmap.recommend.why import integrated_terms

        module = self._module
        module.eval()
        with torch.no_grad():
            vectors = module.items(torch.arange(self.n_items_), self._codes_tensor)

        def forward(history: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return (module.customers(history) * targets).sum(dim=-1)

        return integrated_terms(
            forward,
            module.history_embedding,
            histories,
            lambda part: self._padded(part).numpy(),
            lambda targets: (vectors[torch.from_numpy(targets)],),
            items,
        )
