"""The training loop: mini-batch gradient descent with early stopping, on tensors made once."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from needmap.errors import ConfigError, DataError
from needmap.models.base import TabularModel
from needmap.models.inputs import Inputs
from needmap.preprocessing.batch import FeatureBatch
from needmap.runtime.device import resolve_device, synchronize
from needmap.runtime.malloc import keep_freed_memory, return_freed_memory
from needmap.runtime.onednn import cpu_matmul_name
from needmap.runtime.peak_memory import peak_memory_mb
from needmap.runtime.precision import precision_context
from needmap.training import distributed
from needmap.training.checkpoint import (
    Progress,
    check_checkpoint_directory,
    load_checkpoint,
    save_checkpoint,
    training_identity,
)
from needmap.training.config import TrainConfig
from needmap.training.heads import head_kind
from needmap.training.optimizers import (
    Optimizers,
    make_optimizer,
    make_scheduler,
    resolve_embedding_updates,
    restore_dense_lookups,
)
from needmap.training.predict import PREDICT_BATCH, forward_in_batches, predict_raw, to_inputs
from needmap.training.progress import EpochProgress
from needmap.training.stream import TrainingStream
from needmap.training.target_heads import TargetHeads

__all__ = ["TrainConfig", "TrainResult", "Trainer", "make_optimizer", "make_scheduler", "predict_raw"]


@dataclass
class TrainResult:
    """What happened during :meth:`Trainer.fit`.

    Attributes:
        history: one dict per epoch: ``epoch`` (1-based), ``loss`` (mean training loss; for
            regression in standardized target units), ``valid_<metric>`` for each validation
            metric (regression metrics in the target's units), ``lr`` (rate used in the epoch),
            ``seconds`` (wall time of the epoch, validation included).
        best_epoch: epoch whose weights the model holds at the end (the last one without a
            validation set).
        stopped_reason: 'early_stopping', 'max_time' or 'epochs' (all epochs were run).
        wall_time_s: seconds that fit() took.
        rows_per_s: training rows processed (rows x epochs run) per second of ``train_time_s``.
        train_time_s: seconds spent in the training steps alone (no validation pass, no checkpoint copy).
        embedding_updates: 'sparse' or 'dense', how the embedding tables were updated.
        device: where the training steps ran ('cpu', 'cuda:0', ...).
        cpu_matmul: which CPU kernels multiplied the float32 fully connected layers
            (:mod:`needmap.runtime.onednn`): 'onednn' (all three products of a step), 'torch' (torch's
            default; always on a GPU and under bf16 autocast), or which go where ('onednn forward+dx, torch dW').
        monitor: name of the monitored metric ('loss' = training loss, without a validation set).
        best_score: its value at ``best_epoch``.
        peak_memory_mb_at_start: the process's peak resident memory when fit() began (None where the system does
            not say): what it held before training, so that a peak reached while training can be told apart.
        world_size: how many processes trained the model together (1: this one alone; more under a
            launcher such as torchrun: :mod:`needmap.training.distributed`).
        target_scaling: per head (target), ``{"mean", "std"}`` of a regression target's
            standardization (the network learns ``(y - mean) / std``); ``{"pos_weight": w}`` of a binary
            target trained with ``class_weight`` (its probabilities are corrected for it); None for the others.

    The history of a model of several targets also holds ``loss_<target>`` (each head's mean training
    loss, before the task weights), ``valid_<target>_<metric>`` and the combined monitor
    ``valid_mean_<metric>`` (see :class:`~needmap.training.target_heads.TargetHeads`).
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_reason: str = "epochs"
    wall_time_s: float = 0.0
    rows_per_s: float = 0.0
    train_time_s: float = 0.0
    embedding_updates: str = "dense"
    device: str = "cpu"
    cpu_matmul: str = "torch"
    monitor: str = "loss"
    best_score: float | None = None
    world_size: int = 1
    target_scaling: list[dict[str, float] | None] | None = None
    peak_memory_mb_at_start: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-safe dict."""
        return asdict(self)


class Trainer:
    """Trains a model on FeatureBatch arrays.

    Args:
        model: a :class:`~needmap.models.base.TabularModel` whose outputs are its heads' side by side: 1 for
            a binary or regression target, K for a multiclass target of K classes.
        task: the task of the model's one target ('binary', 'regression', 'multiclass'; targets ``[n]``), or
            the sequence of its targets' tasks, e.g. ``["binary", "regression"]`` (targets ``[n, T]``).
        config: the training options (defaults when None).
        names: the target name of each head (for the history keys of a model of several targets).

    Each target is a head (:class:`~needmap.training.target_heads.TargetHeads`): its kind gives its
    loss, metrics and monitor. A regression target is standardized inside the trainer: the model learns
    ``(y - mean) / std`` with the training rows' mean and std (std 1 when y is constant). The pairs are
    in ``self.target_scaling`` and the result's ``target_scaling`` (per head; a binary head trained with
    ``class_weight`` has its positives' weight there instead, which its scores undo; None for the others); a
    network of one output also keeps its pair in its ``target_scaling`` buffer (saved with the weights),
    so that :func:`~needmap.training.predict.predict_raw` on the network alone returns target units.

    After :meth:`fit`, ``validation_outputs`` holds the model's raw outputs ``[n, n_outputs]`` on the validation
    rows from the validation pass of the epoch whose weights it keeps (those
    :func:`~needmap.training.predict.forward_in_batches` gives again), so that they need not be computed twice;
    None without validation rows, in a process that did not validate, or when that epoch ran before a resume.
    """

    def __init__(
        self,
        model: TabularModel,
        task: str | Sequence[str],
        config: TrainConfig | None = None,
        *,
        names: Sequence[str] | None = None,
    ) -> None:
        self.model = model
        self.config = config if config is not None else TrainConfig()
        self.target_scaling: list[dict[str, float] | None] | None = None
        self.validation_outputs: torch.Tensor | None = None
        self.task = task
        tasks = [task] if isinstance(task, str) else list(task)
        if names is None and isinstance(task, str):
            names = ["target"]
        self.heads = TargetHeads(tasks, names, self.config, getattr(model, "n_outputs", None))
        self.monitor, self.direction = self.heads.monitor, self.heads.direction

    # -- training ----------------------------------------------------------------------------------
    def fit(
        self,
        train: FeatureBatch | TrainingStream,
        y_train: np.ndarray,
        valid: FeatureBatch | None = None,
        y_valid: np.ndarray | None = None,
        *,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
    ) -> TrainResult:
        """Train the model in place and return what happened.

        Args:
            train: training features, n rows: a FeatureBatch, or a
                :class:`~needmap.training.stream.TrainingStream` that yields them in chunks each epoch
                (rows larger than memory; batches come through its shuffle buffer).
            y_train: targets ``[n]``: 0/1 (binary), class indices (multiclass) or numbers (regression);
                ``[n, T]`` for a multi-task model (column t for head t).
            valid, y_valid: validation features and targets (both or neither). With them, the
                monitored metric drives early stopping and the 'plateau' schedule, and the best
                epoch's weights are restored at the end; without them the training loss drives the
                schedule and the last epoch's weights are kept.
            on_epoch: called after each epoch with that epoch's history entry (``epoch``, ``loss``,
                ``valid_<metric>``, ...); an exception it raises ends training and propagates (a tuning
                study prunes a hopeless trial this way).

        The model is left in eval mode, on the CPU (it trains on ``config.device``). Shuffling and
        dropout use ``config.seed``; the global torch random state is restored afterwards.

        With ``config.checkpoint_every`` the state of the run is written to ``config.checkpoint_dir`` every so
        many epochs and when training ends (:mod:`needmap.training.checkpoint`); with ``config.resume`` (such a
        directory) the run takes that state and goes on with the next epoch, after checking that the options,
        the network and the rows are those of the run that wrote it: it ends with the weights and the history
        of a run never stopped.

        In a process group of several processes (started by ``torchrun`` and joined with
        :func:`needmap.training.distributed.init_from_env`) every rank calls fit with the same rows and options:
        each trains on its share of every batch under DistributedDataParallel, rank 0 validates and its history
        and early-stopping decisions are those of every rank, and every rank ends with the same weights
        (:mod:`needmap.training.distributed`). Checkpoints are not written under it.

        Raises:
            DataError: features that do not fit the model, targets of the wrong length or values.
            ConfigError: options that do not fit the task, or a loss that became NaN.
        """
        if (valid is None) != (y_valid is None):
            raise ConfigError("give both valid and y_valid, or neither.")
        if self.config.checkpoint_every is not None:
            if self.config.checkpoint_dir is None:
                raise ConfigError(
                    f"checkpoint_every={self.config.checkpoint_every} needs the directory to write the checkpoints "
                    "to; expected checkpoint_dir='DIR' with it."
                )
            check_checkpoint_directory(Path(self.config.checkpoint_dir))
        ranks = distributed.current()
        if ranks is not None:
            self._check_distributed(train, ranks)
        model = self.model
        heads = self.heads
        if isinstance(train, FeatureBatch):
            model.check_batch(train, "training features")
        y_tr = heads.labels(y_train, "y_train")
        if len(y_tr) != len(train):
            raise DataError(f"y_train has {len(y_tr)} rows and the training features {len(train)}; expected the same.")
        if len(train) == 0:
            raise DataError("the training set is empty; expected at least one row.")
        heads.check_training_labels(y_tr)
        y_va: np.ndarray | None = None
        if valid is not None:
            model.check_batch(valid, "validation features")
            y_va = heads.labels(y_valid, "y_valid")
            if len(y_va) != len(valid):
                raise DataError(
                    f"y_valid has {len(y_va)} rows, the validation features {len(valid)}; expected the same."
                )
            if len(y_va) == 0:
                raise DataError("the validation set is empty; expected at least one row.")
            heads.check_defined(y_va)

        device = resolve_device(self.config.device)
        peak_at_start = peak_memory_mb()
        return_freed_memory()  # what preparing freed goes back to the OS, not kept resident through training
        keep_freed_memory()
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.config.cpu_threads())
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.config.seed)
                result = self._fit(train, y_tr, valid, y_va, device, on_epoch, ranks)
                result.peak_memory_mb_at_start = peak_at_start
                return result
        finally:
            model.cpu()
            torch.set_num_threads(previous_threads)
            return_freed_memory()

    def _check_distributed(self, train: FeatureBatch | TrainingStream, ranks: distributed.Ranks) -> None:
        """ConfigError for what training as one of several processes does not do."""
        cfg = self.config
        if cfg.checkpoint_every is not None or cfg.resume is not None:
            raise ConfigError(
                f"checkpoints are not written nor resumed in distributed training ({ranks.world_size} processes); "
                "expected checkpoint_every and resume unset with several processes."
            )
        if isinstance(train, TrainingStream):
            raise ConfigError(
                f"distributed training ({ranks.world_size} processes) shards rows held in memory, and these "
                "training rows are read from the file again each epoch (too many to hold); expected a table, or "
                "a file whose encoded rows fit in memory.",
                hint="Train in one process, or hash large categorical columns into fewer ids.",
            )
        if cfg.batch_size < ranks.world_size:
            raise ConfigError(
                f"batch_size={cfg.batch_size} is smaller than the {ranks.world_size} processes, which share each "
                f"batch; expected batch_size >= {ranks.world_size}."
            )
        if cfg.embedding_updates == "sparse":
            raise ConfigError(
                f"embedding_updates='sparse' is not supported in distributed training ({ranks.world_size} "
                "processes): the gradients are averaged dense; expected 'auto' or 'dense'."
            )

    def _target_tensor(self, y: np.ndarray) -> torch.Tensor:
        target = self.heads.target_tensor(y)
        self.target_scaling = self.heads.scaling()
        if self.model.n_outputs == 1 and head_kind(self.heads.heads[0].task).standardized:  # the network's one pair
            self.model.set_target_scaling(self.target_scaling[0]["mean"], self.target_scaling[0]["std"])
        return target

    def _fit(
        self,
        train: FeatureBatch | TrainingStream,
        y_tr: np.ndarray,
        valid: FeatureBatch | None,
        y_va: np.ndarray | None,
        device: torch.device,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        ranks: distributed.Ranks | None = None,
    ) -> TrainResult:
        cfg = self.config
        model = self.model.to(device)
        target = self._target_tensor(y_tr).to(device)
        n = len(train)
        n_batches = math.ceil(n / cfg.batch_size)
        generator = torch.Generator().manual_seed(cfg.seed)
        stream_rng: np.random.Generator | None = None
        if isinstance(train, TrainingStream):
            rng = stream_rng = np.random.default_rng(cfg.seed)

            def check(features: FeatureBatch) -> None:
                model.check_batch(features, "training features")

            def epoch_batches() -> Iterator[tuple[Inputs, torch.Tensor]]:
                for features, positions in train.batches(cfg.batch_size, rng, check):
                    yield to_inputs(features).to(device), target[torch.from_numpy(positions).to(device)]

        else:
            # The rows go to the device once (on the CPU this shares the arrays' memory; int32 ids, as a
            # file's rows are kept, stay int32 there and become int64 a batch at a time).
            inputs = to_inputs(train, keep_int32=True).to(device)

            def epoch_batches() -> Iterator[tuple[Inputs, torch.Tensor]]:
                order = torch.randperm(n, generator=generator).to(device)
                # n_batches batches of equal size (+-1 row), none larger than batch_size; with several
                # processes, each trains on its share of every batch (the same permutation on every rank).
                for index in torch.tensor_split(order, n_batches):
                    if ranks is not None:
                        index = distributed.shard(index, ranks)
                    yield inputs.take(index).widened(), target[index]

        if valid is not None:
            v_inputs = to_inputs(valid, keep_int32=True).to(device)  # widened a slice at a time
        heads = self.heads
        heads.make_losses(y_tr, device)
        # The clock starts once the optimizer exists: the first optimizer of a process imports much of
        # torch (seconds), which is start-up cost, not training.
        monitor, direction = (self.monitor, self.direction) if valid is not None else ("loss", "min")
        # Several processes average dense gradients: 'auto' never picks sparse updates there (_check_distributed).
        updates = "dense" if ranks is not None else resolve_embedding_updates(cfg, model)
        optimizers = Optimizers(model, cfg, direction, updates)
        forward = model.member_logits if ranks is None else distributed.data_parallel(model, device)
        autocast = precision_context(cfg.precision, device)
        start = time.perf_counter()
        members = model.ensemble_size
        result = TrainResult(
            monitor=monitor, target_scaling=heads.scaling(), world_size=1 if ranks is None else ranks.world_size
        )
        main = ranks is None or ranks.is_main
        best_state: dict[str, torch.Tensor] | None = None
        self.validation_outputs = None
        since_best = 0
        rows = 0
        train_seconds = 0.0
        first_epoch, stopped = 1, None
        identity = None
        if cfg.checkpoint_every is not None or cfg.resume is not None:
            identity = training_identity(cfg, model, train, y_tr, valid, y_va)
        if cfg.resume is not None:  # the state of the run at its last checkpoint, then its next epoch
            checkpoint = load_checkpoint(cfg.resume)
            checkpoint.check_same_run(identity or {})
            best_state = checkpoint.restore(
                model, optimizers.optimizers, optimizers.schedulers, generator, stream_rng, device
            )
            done = checkpoint.progress
            result.history = list(done.history)
            result.best_epoch, result.best_score, since_best = done.best_epoch, done.best_score, done.since_best
            rows, train_seconds, start = done.rows, done.train_seconds, start - done.elapsed_s
            first_epoch, stopped = done.epoch + 1, done.stopped_reason
            if stopped is not None:
                result.stopped_reason = stopped
        model.train()
        with EpochProgress(cfg.progress and main, cfg.epochs, n_batches, monitor) as progress:
            for epoch in range(first_epoch, cfg.epochs + 1 if stopped is None else first_epoch):
                epoch_start = time.perf_counter()
                lr = optimizers.lr
                total = torch.zeros((), dtype=torch.float64, device=device)
                head_totals = torch.zeros(len(heads.heads), dtype=torch.float64, device=device)
                for batch, batch_target in epoch_batches():
                    optimizers.zero_grad()
                    with autocast():  # every member fits every row: [B, k, T] -> [B * k, T] (k = 1: [B, T])
                        out = forward(*batch).float().flatten(0, 1)
                    batch_rows = len(batch_target)
                    if members > 1:
                        batch_target = batch_target.repeat_interleave(members, dim=0)
                    loss, parts = heads.loss(out, batch_target)
                    head_totals += parts.detach() * batch_rows
                    loss.backward()
                    optimizers.step()
                    total += loss.detach() * batch_rows
                    progress.batch_done()
                synchronize(device)
                if ranks is not None:  # every rank's rows: the loss of the whole epoch
                    distributed.sum_across(total)
                    distributed.sum_across(head_totals)
                rows += n
                train_seconds += time.perf_counter() - epoch_start
                train_loss = float(total) / n
                if not math.isfinite(train_loss):
                    raise ConfigError(
                        f"the training loss became {train_loss} in epoch {epoch}; expected a finite loss.",
                        hint=f"Lower the learning rate (lr is {cfg.lr}).",
                    )
                entry: dict[str, Any] = {"epoch": epoch, "loss": train_loss}
                entry.update(heads.loss_entry([float(v) / n for v in head_totals]))
                valid_out = None
                if valid is not None and main:  # with several processes, rank 0 validates
                    # in slices no larger than the steps' batches, whose freed memory they reuse
                    valid_out = forward_in_batches(model, v_inputs, min(PREDICT_BATCH, max(cfg.batch_size, 1024)))
                    entry.update(heads.log_entry(heads.metrics(valid_out, y_va)))
                entry["lr"] = lr
                entry["seconds"] = time.perf_counter() - epoch_start
                if ranks is not None:  # rank 0's entry on every rank: the same scores, the same decisions
                    entry = distributed.from_main(entry)
                score = entry[f"valid_{monitor}"] if valid is not None else train_loss
                result.history.append(entry)
                progress.epoch_done(entry)
                if on_epoch is not None:
                    on_epoch(entry)

                improved = result.best_score is None or (
                    score > result.best_score if direction == "max" else score < result.best_score
                )
                if improved or valid is None:
                    result.best_score, result.best_epoch, since_best = score, epoch, 0
                    if valid is not None:  # the last epoch's weights, with no checkpoint to write, are kept as they are
                        last = epoch == cfg.epochs and cfg.checkpoint_every is None
                        best_state = None if last else {k: v.detach().clone() for k, v in model.state_dict().items()}
                        self.validation_outputs = valid_out
                else:
                    since_best += 1
                optimizers.schedule(score)

                if valid is not None and cfg.patience is not None and since_best >= cfg.patience:
                    stopped = "early_stopping"
                elif cfg.max_time is not None and time.perf_counter() - start > cfg.max_time:
                    stopped = "max_time"
                if ranks is not None:  # rank 0's clock decides for every rank
                    stopped = distributed.from_main(stopped)
                every = cfg.checkpoint_every
                if every is not None and (epoch % every == 0 or stopped is not None or epoch == cfg.epochs):
                    done = Progress(
                        epoch, result.history, result.best_epoch, result.best_score, since_best, rows,
                        train_seconds, time.perf_counter() - start, stopped,
                    )  # fmt: skip
                    save_checkpoint(
                        Path(cfg.checkpoint_dir or ""), identity=identity or {}, progress=done, model=model,
                        best_state=best_state, optimizers=optimizers.optimizers, schedulers=optimizers.schedulers,
                        generator=generator, stream_rng=stream_rng, device=device,
                    )  # fmt: skip
                if stopped is not None:
                    result.stopped_reason = stopped
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        optimizers.zero_grad()  # a trained model keeps no gradients
        restore_dense_lookups(model)
        model.eval()
        result.embedding_updates = optimizers.updates
        result.device = str(device)
        if torch.device(device).type == "cpu" and cfg.precision == "fp32":
            result.cpu_matmul = cpu_matmul_name()
        result.wall_time_s = time.perf_counter() - start
        result.train_time_s = train_seconds
        result.rows_per_s = rows / train_seconds if train_seconds > 0 else 0.0
        return result
