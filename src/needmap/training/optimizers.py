"""Optimizers of the training loop: dense layers on the configured optimizer, embedding tables on
sparse row-wise Adam when that is cheaper, and the per-epoch learning-rate schedules of both.

Why sparse embedding updates: a CTR model's embedding tables hold most of its parameters (1M
Criteo-shaped rows, embedding 16: ~19.7M embedding weights against ~0.57M dense ones in DeepFM
400-400-400), but a batch of 4,096 rows touches at most 4,096 ids per column. Dense Adam reads and
writes every weight, its two moments and its gradient on every step (several hundred MB of memory
traffic), and the backward pass materializes a dense gradient the size of the table. With
``sparse=True`` lookups the gradient holds only the looked-up rows, and :class:`LazyAdam` updates
only those rows and their moments: the cost of a step follows the batch, not the vocabulary. A row's
moments then decay only when it is looked up (the usual lazy-Adam semantics, as in TensorFlow's
LazyAdam and PyTorch's SparseAdam).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.training.config import TrainConfig
from needmap.training.id_sort import sort_with_positions

#: ``embedding_updates='auto'`` picks sparse updates for a model whose embedding tables hold at least
#: this many rows in all (ids of every categorical column and list feature): below it the dense update
#: costs little, and the accuracy benchmarks of small tables were measured with dense Adam.
SPARSE_MIN_ROWS = 100_000

PLATEAU_FACTOR = 0.5
PLATEAU_PATIENCE = 0


def row_sum_matrix(ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct ids, ascending ``[U]``, and a sparse CSR matrix ``[U, N]`` of ones whose row u
    marks the positions of id u in ``ids`` ``[N]``: ``matrix @ values`` sums the ``values`` rows
    ``[N, d]`` of each id into ``[U, d]``.

    One sort of the ids (:func:`needmap.training.id_sort.sort_with_positions`, the method measured fastest
    on this CPU), then the matrix product: on a CPU this is faster than ``torch.unique`` with
    ``index_put_(accumulate=True)`` or with ``index_add_`` for the Zipf-distributed ids of a large table,
    where many rows of a batch share an id.
    """
    n = len(ids)
    sorted_ids, order = sort_with_positions(ids)
    first = torch.ones(n, dtype=torch.bool, device=ids.device)
    first[1:] = sorted_ids[1:] != sorted_ids[:-1]
    starts = first.nonzero().squeeze(1)
    rows = sorted_ids[starts]
    crow = torch.cat([starts, torch.tensor([n], dtype=starts.dtype, device=ids.device)])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        matrix = torch.sparse_csr_tensor(
            crow, order, torch.ones(n, dtype=dtype, device=ids.device), size=(len(rows), n),
            check_invariants=False,
        )  # fmt: skip
    return rows, matrix


class LazyAdam(torch.optim.Optimizer):
    """Adam on the rows of embedding tables that a batch looked up, with one second moment per row.

    Each step takes the sparse gradient of every table (``nn.Embedding(sparse=True)``): the looked-up
    ids ``[N]`` and their gradient rows ``[N, d]``. It sums the rows of each distinct id
    (:func:`row_sum_matrix`: one sort, shared by the tables that a step looked up with the same ids),
    then updates the U distinct rows, their first moments ``[U, d]`` and their second moments ``[U]``
    with gathers and scatters:

        m_u = b1 m_u + (1 - b1) g_u,  v_u = b2 v_u + (1 - b2) mean_j(g_uj^2),
        w_u -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m_u / (sqrt(v_u) + eps)

    (t counts the steps of the table, as torch.optim.SparseAdam does). ``rowwise=False`` keeps a
    second moment per weight ``[rows, d]`` as SparseAdam does, ``v_uj = b2 v_uj + (1 - b2) g_uj^2``.

    Why one second moment per row by default (the "partial row-wise Adam" of large recommendation
    systems): the state of a table of R rows is R x (d + 1) floats instead of R x 2d (1.09M ids of 16:
    74 MB instead of 139 MB), and the coordinates of one embedding vector see gradients of one scale.
    On the speed benchmark's Criteo-shaped rows it reached the test AUC of a moment per weight to
    within a thousandth (benchmarks/results/HISTORY.md).

    Written here because SparseAdam coalesces the gradient into a new sparse tensor and updates the
    moments through sparse additions, which is slower on a CPU than summing each id's rows once
    (:func:`row_sum_matrix`) and updating the looked-up rows in place.
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        rowwise: bool = True,
    ):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})
        self.rowwise = rowwise

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        shared: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                grad = param.grad
                if grad is None:
                    continue
                if not grad.is_sparse:
                    raise ConfigError("LazyAdam updates embedding tables with sparse gradients; this one is dense.")
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = param.new_zeros(param.shape[0]) if self.rowwise else torch.zeros_like(param)
                state["step"] += 1
                ids = grad._indices()[0]
                # Tables looked up with the same ids in a step (a model's embeddings and its first-order
                # weights) share one sort.
                if shared is None or shared[0].shape != ids.shape or not torch.equal(shared[0], ids):
                    shared = (ids, *row_sum_matrix(ids, param.dtype))
                rows, matrix = shared[1], shared[2]
                summed = matrix @ grad._values()
                exp_avg = state["exp_avg"].index_select(0, rows).mul_(beta1).add_(summed, alpha=1 - beta1)
                exp_avg_sq = state["exp_avg_sq"].index_select(0, rows).mul_(beta2)
                if self.rowwise:
                    exp_avg_sq.add_(summed.square().mean(dim=1), alpha=1 - beta2)
                else:
                    exp_avg_sq.addcmul_(summed, summed, value=1 - beta2)
                state["exp_avg"].index_copy_(0, rows, exp_avg)
                state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
                t = state["step"]
                step_size = group["lr"] * (1 - beta2**t) ** 0.5 / (1 - beta1**t)
                denominator = exp_avg_sq.sqrt_().add_(group["eps"])
                update = exp_avg.div_(denominator.unsqueeze(1) if self.rowwise else denominator)
                param.index_copy_(0, rows, param.index_select(0, rows).sub_(update, alpha=step_size))


def embedding_tables(model: nn.Module) -> list[nn.Embedding]:
    """The model's ``nn.Embedding`` modules, each once (a table shared by several features is one module)."""
    seen: set[int] = set()
    tables = []
    for module in model.modules():
        if isinstance(module, nn.Embedding) and id(module) not in seen:
            seen.add(id(module))
            tables.append(module)
    return tables


def embedding_rows(model: nn.Module) -> int:
    """Rows of all the model's embedding tables together."""
    return sum(int(t.num_embeddings) for t in embedding_tables(model))


def resolve_embedding_updates(config: TrainConfig, model: nn.Module) -> str:
    """'sparse' or 'dense': what ``config.embedding_updates`` means for ``model``.

    'auto' is 'sparse' when the optimizer is Adam without weight decay and the model's tables hold at
    least :data:`SPARSE_MIN_ROWS` rows, else 'dense'. An explicit 'sparse' that cannot be honoured
    (another optimizer, weight decay) is a ConfigError, not a quiet switch.
    """
    setting = config.embedding_updates
    if setting == "dense":
        return "dense"
    rows = embedding_rows(model)
    if setting == "auto":
        usable = config.optimizer == "adam" and config.weight_decay == 0 and rows >= SPARSE_MIN_ROWS
        return "sparse" if usable else "dense"
    if config.optimizer != "adam":
        raise ConfigError(
            f"embedding_updates='sparse' needs optimizer 'adam' (sparse row-wise Adam); the optimizer is "
            f"{config.optimizer!r}.",
            hint="Use embedding_updates='dense' with this optimizer, or optimizer='adam'.",
        )
    if config.weight_decay != 0:
        raise ConfigError(
            f"embedding_updates='sparse' applies no weight decay to the embedding tables; weight_decay is "
            f"{config.weight_decay}.",
            hint="Use embedding_updates='dense' for weight decay on the embeddings too.",
        )
    return "sparse"


def _tensors(params: list[Any]) -> list[torch.Tensor]:
    """The tensors of an optimizer's ``params`` (tensors, or parameter groups with a 'params' list)."""
    out: list[torch.Tensor] = []
    for item in params:
        out.extend(item["params"] if isinstance(item, dict) else [item])
    return out


def make_optimizer(name: str, params: Any, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """The optimizer ``name`` ('adam', 'rmsprop', 'sgd' with momentum 0.9) over ``params``."""
    if name == "adam":
        params = list(params)
        # torch's fused Adam: one kernel over all tensors instead of a few small operations per tensor,
        # whose fixed costs dominate a step of a model's dense weights; it runs on CPU and CUDA tensors.
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in _tensors(params))
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused or None)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ConfigError(f"unknown optimizer {name!r}; expected one of adam, rmsprop, sgd.")


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, direction: str, epochs: int) -> Any:
    """The per-epoch learning-rate schedule ``name`` ('plateau', 'cosine', 'none' -> None)."""
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=direction, factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE
        )
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "none":
        return None
    raise ConfigError(f"unknown lr_schedule {name!r}; expected one of plateau, cosine, none.")


class Optimizers:
    """One or two optimizers stepped together, with one schedule each.

    ``updates`` 'dense': the configured optimizer over every parameter. 'sparse': every embedding
    table switched to sparse gradients and updated by :class:`LazyAdam`, the other
    parameters by Adam; both at ``config.lr``, both scheduled alike.
    """

    def __init__(self, model: nn.Module, config: TrainConfig, direction: str, updates: str) -> None:
        self.updates = updates
        if updates == "sparse":
            tables = embedding_tables(model)
            for table in tables:
                table.sparse = True
            sparse_ids = {id(t.weight) for t in tables}
            dense = [p for p in model.parameters() if id(p) not in sparse_ids]
            self.optimizers = [LazyAdam([t.weight for t in tables], lr=config.lr)]
            if dense:
                self.optimizers.insert(0, make_optimizer(config.optimizer, dense, config.lr, config.weight_decay))
        else:
            for table in embedding_tables(model):
                table.sparse = False
            self.optimizers = [make_optimizer(config.optimizer, model.parameters(), config.lr, config.weight_decay)]
        self.schedulers = [make_scheduler(config.lr_schedule, o, direction, config.epochs) for o in self.optimizers]

    @property
    def lr(self) -> float:
        """The current learning rate (all optimizers share it)."""
        return float(self.optimizers[0].param_groups[0]["lr"])

    def zero_grad(self) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()

    def schedule(self, score: float) -> None:
        """Advance each schedule by one epoch (``score``: the monitored value, for 'plateau')."""
        for scheduler in self.schedulers:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(score)
            elif scheduler is not None:
                scheduler.step()


def restore_dense_lookups(model: nn.Module) -> None:
    """Switch every embedding table back to dense gradients (a trained model is saved and used that way)."""
    for table in embedding_tables(model):
        table.sparse = False
