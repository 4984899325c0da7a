"""Training checkpoints: everything a killed run needs to go on as if it had never stopped.

A checkpoint is a directory written whole or not at all (a staging directory beside it, its files flushed to
the disk, swapped into place: :func:`needmap.model_place.write_model_directory`), so a kill while it is being
written leaves the previous checkpoint. It holds safetensors and JSON only, never pickle (a checkpoint is
read back by a later process, perhaps from a shared drive: loading it must not run code):

* ``weights.safetensors``: the network's weights and buffers at the end of the epoch;
* ``best.safetensors``: the weights of the best epoch so far (early stopping restores them at the end);
* ``optimizer.safetensors``: each optimizer's state tensors (``<optimizer>.<parameter>.<name>``);
* ``rng.safetensors``: the torch random state (dropout), the trainer's shuffle generator, CUDA's where used;
* ``checkpoint.json``: what the run is (the options, the network's shape, a digest of its training and
  validation rows: a resume checks them), the epoch done, the data position, the history, the early-stopping
  state, the rest of each optimizer's state and each schedule's, the numpy, Python and streaming generators'
  states, and a sha256 of every other file (a damaged checkpoint is refused, not half used).

Checkpoints are taken at epoch boundaries: the data position is the start of the next epoch. A run killed in the
middle of an epoch resumes from the last checkpoint and runs that epoch again from its start, with the random
states it had then, so it ends with the weights of a run never stopped (same seed, same rows, same options).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from needmap._version import __version__
from needmap.errors import ArtifactError, ConfigError
from needmap.preprocessing.batch import FeatureBatch

CHECKPOINT_FILE = "checkpoint.json"
WEIGHTS_FILE = "weights.safetensors"
BEST_FILE = "best.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
RNG_FILE = "rng.safetensors"
TENSOR_FILES = (WEIGHTS_FILE, BEST_FILE, OPTIMIZER_FILE, RNG_FILE)
CHECKPOINT_FILES = frozenset({CHECKPOINT_FILE, *TENSOR_FILES})
FORMAT = 1
#: The list of files and digests that every directory written whole carries (:mod:`needmap.model_place`).
MANIFEST = "manifest.json"
#: Training options a resumed run may change: they do not change what is computed (the progress display, the
#: thread count, where and how often checkpoints go, the resume itself).
FREE_OPTIONS = frozenset({"progress", "threads", "checkpoint_every", "checkpoint_dir", "resume"})


def _digest(*arrays: Any) -> str:
    """sha256 of arrays' dtypes, shapes and bytes: the same rows give the same digest in any process."""
    digest = hashlib.sha256()
    for array in arrays:
        a = np.ascontiguousarray(array)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _rows_digest(rows: Any, y: np.ndarray | None) -> str:
    """The digest of a FeatureBatch and its targets (rows streamed from a file: their targets alone)."""
    if isinstance(rows, FeatureBatch):
        return _digest(rows.numeric, rows.categorical, *rows.lists, y)
    return _digest(y)


def training_identity(
    config: Any, model: nn.Module, train: Any, y_train: np.ndarray, valid: Any, y_valid: np.ndarray | None
) -> dict[str, Any]:
    """What makes a run this run: its options (but :data:`FREE_OPTIONS`), its network's architecture and
    shapes, and its training and validation rows (counts and digests). A resume must match it whole."""
    options = {k: v for k, v in config.to_dict().items() if k not in FREE_OPTIONS}
    network_config = model.config() if hasattr(model, "config") else {}
    return {
        "options": json.loads(json.dumps(options, default=str)),
        "network": {
            "class": type(model).__name__,
            "config": json.loads(json.dumps(network_config, default=str)),
            "shapes": {k: list(v.shape) for k, v in model.state_dict().items()},
        },
        "training_rows": len(train),
        "training_data": _rows_digest(train, y_train),
        "validation_rows": 0 if valid is None else len(valid),
        "validation_data": None if valid is None else _rows_digest(valid, y_valid),
    }


def identity_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between a checkpoint's run and this one, in words (empty: the same run)."""
    found: list[str] = []
    options, now = saved.get("options", {}), current["options"]
    for name in sorted(set(options) | set(now)):
        if options.get(name) != now.get(name):
            found.append(f"the training option {name} (checkpoint: {options.get(name)!r}, now: {now.get(name)!r})")
    if saved.get("network") != current["network"]:
        found.append("the network (its architecture or its options, or the encoded columns that size it)")
    for part in ("training", "validation"):
        rows = f"{part}_rows"
        if saved.get(rows) != current[rows]:
            found.append(f"the {part} rows ({saved.get(rows)} in the checkpoint, {current[rows]} now)")
        elif saved.get(f"{part}_data") != current[f"{part}_data"]:
            found.append(f"the {part} rows' values (other data, split or preprocessing options)")
    return found


# -- state to and from plain data --------------------------------------------------------------------------------
def _cpu(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies on the CPU that safetensors can write (own memory, contiguous: tied weights are copied apart)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}


def _split_optimizer(index: int, optimizer: torch.optim.Optimizer) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """An optimizer's state: its plain values as JSON-able data, its tensors by name."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for pid, values in state["state"].items():
        plain[str(pid)] = {}
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{pid}.{name}"] = value
            else:
                plain[str(pid)][name] = value
    return {"state": plain, "param_groups": state["param_groups"]}, tensors


def _join_optimizer(index: int, plain: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The state dict of optimizer ``index`` from :func:`_split_optimizer`'s two parts."""
    state: dict[int, dict[str, Any]] = {int(pid): dict(values) for pid, values in plain["state"].items()}
    prefix = f"{index}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, name = key[len(prefix) :].split(".", 1)
            state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def _numpy_state() -> list[Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    return [name, keys.tolist(), pos, has_gauss, cached]


def _python_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


# -- writing -----------------------------------------------------------------------------------------------------
@dataclass
class Progress:
    """Where a run stands at the end of an epoch: the loop's own variables (see the trainer)."""

    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float | None = None
    since_best: int = 0
    rows: int = 0
    train_seconds: float = 0.0
    elapsed_s: float = 0.0
    stopped_reason: str | None = None  # set when this epoch ended the training


def check_checkpoint_directory(directory: Path) -> None:
    """ConfigError when ``directory`` holds anything but a checkpoint (it is replaced whole at each
    checkpoint, so another folder must not be taken for one), or is a file."""
    if directory.is_file():
        raise ConfigError(f"the checkpoint directory '{directory}' is a file; expected a directory path.")
    if not directory.is_dir():
        return
    entries = sorted(p.name for p in directory.iterdir())
    foreign = [name for name in entries if name not in CHECKPOINT_FILES and name != MANIFEST]
    if entries and (foreign or CHECKPOINT_FILE not in entries):
        shown = ", ".join((foreign or entries)[:5])
        raise ConfigError(
            f"the checkpoint directory '{directory}' holds other files ({shown}); expected a new or empty directory, "
            "or a needmap checkpoint to replace."
        )


def save_checkpoint(
    directory: Path,
    *,
    identity: Mapping[str, Any],
    progress: Progress,
    model: nn.Module,
    best_state: Mapping[str, torch.Tensor] | None,
    optimizers: Sequence[torch.optim.Optimizer],
    schedulers: Sequence[Any],
    generator: torch.Generator,
    stream_rng: np.random.Generator | None,
    device: torch.device,
) -> None:
    """Write the checkpoint of the epoch just done into ``directory``, replacing the one there, atomically."""
    from safetensors.torch import save_file

    from needmap.model_place import write_model_directory

    check_checkpoint_directory(directory)
    plain, optimizer_tensors = [], {}
    for index, optimizer in enumerate(optimizers):
        values, tensors = _split_optimizer(index, optimizer)
        plain.append(values)
        optimizer_tensors.update(tensors)
    rng = {"torch": torch.get_rng_state(), "shuffle": generator.get_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    document: dict[str, Any] = {
        "format": FORMAT,
        "needmap": __version__,
        "identity": dict(identity),
        "progress": progress.__dict__,
        "data_position": {"epoch": progress.epoch + 1, "batch": 0},  # epoch boundaries: the next epoch's start
        "optimizers": plain,
        "schedulers": [None if s is None else s.state_dict() for s in schedulers],
        "random": {
            "numpy": _numpy_state(),
            "python": _python_state(),
            "stream": None if stream_rng is None else stream_rng.bit_generator.state,
        },
    }

    def write(staging: Path) -> None:
        save_file(_cpu(model.state_dict()), staging / WEIGHTS_FILE)
        save_file(_cpu(best_state or {}), staging / BEST_FILE)
        save_file(_cpu(optimizer_tensors), staging / OPTIMIZER_FILE)
        save_file(_cpu(rng), staging / RNG_FILE)
        document["files"] = {name: hashlib.sha256((staging / name).read_bytes()).hexdigest() for name in TENSOR_FILES}
        (staging / CHECKPOINT_FILE).write_text(json.dumps(document), encoding="utf-8")

    write_model_directory(directory, CHECKPOINT_FILES, write, markers=(CHECKPOINT_FILE,))


# -- reading -----------------------------------------------------------------------------------------------------
@dataclass
class Checkpoint:
    """A checkpoint read back and checked whole (:func:`load_checkpoint`)."""

    directory: Path
    document: dict[str, Any]
    weights: dict[str, torch.Tensor]
    best: dict[str, torch.Tensor]
    optimizer: dict[str, torch.Tensor]
    rng: dict[str, torch.Tensor]

    @property
    def progress(self) -> Progress:
        return Progress(**self.document["progress"])

    def check_same_run(self, identity: Mapping[str, Any]) -> None:
        """ConfigError naming what differs when this run is not the checkpoint's (other data or options)."""
        found = identity_differences(self.document.get("identity", {}), identity)
        if found:
            raise ConfigError(
                f"the checkpoint '{self.directory}' is of another run; differs: {'; '.join(found)}. Expected the "
                "same data and options as the run that wrote it.",
                hint="Resume with the data and options of that run, or train anew without resuming.",
            )

    def restore(
        self,
        model: nn.Module,
        optimizers: Sequence[torch.optim.Optimizer],
        schedulers: Sequence[Any],
        generator: torch.Generator,
        stream_rng: np.random.Generator | None,
        device: torch.device,
    ) -> dict[str, torch.Tensor] | None:
        """Put the checkpoint's state into the run's objects; returns the best epoch's weights (None: none)."""
        model.load_state_dict(self.weights)
        plain = self.document["optimizers"]
        if len(plain) != len(optimizers):
            raise ConfigError(
                f"the checkpoint '{self.directory}' has {len(plain)} optimizer(s) and this run {len(optimizers)}; "
                "expected the same embedding updates as the run that wrote it."
            )
        for index, optimizer in enumerate(optimizers):
            optimizer.load_state_dict(_join_optimizer(index, plain[index], self.optimizer))
        for scheduler, state in zip(schedulers, self.document["schedulers"], strict=True):
            if scheduler is not None and state is not None:
                scheduler.load_state_dict(state)
        torch.set_rng_state(self.rng["torch"])
        generator.set_state(self.rng["shuffle"])
        if device.type == "cuda" and "cuda" in self.rng:
            torch.cuda.set_rng_state(self.rng["cuda"], device)
        randoms = self.document["random"]
        name, keys, pos, has_gauss, cached = randoms["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        version, internal, gauss = randoms["python"]
        random.setstate((version, tuple(internal), gauss))
        if stream_rng is not None and randoms.get("stream") is not None:
            stream_rng.bit_generator.state = randoms["stream"]
        return {k: v.to(device) for k, v in self.best.items()} or None


def _damaged(directory: Path, why: str) -> ArtifactError:
    return ArtifactError(
        f"the checkpoint is damaged or incomplete ({why}); expected a directory written by a training run with "
        "checkpoints.",
        file=str(directory),
        hint="Train anew without resuming (the damaged checkpoint is replaced by the new run's).",
    )


def load_checkpoint(directory: str | Path) -> Checkpoint:
    """The checkpoint in ``directory``, every file checked against the digests its ``checkpoint.json`` holds.

    ArtifactError when there is no checkpoint there, or a file is missing, altered or unreadable."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    directory = Path(directory)
    if not (directory / CHECKPOINT_FILE).is_file():
        raise ArtifactError(
            f"no checkpoint there (no {CHECKPOINT_FILE}); expected the checkpoint directory of a training run "
            "with checkpoints.",
            file=str(directory),
        )
    try:
        document = json.loads((directory / CHECKPOINT_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _damaged(directory, f"{CHECKPOINT_FILE} cannot be read: {err}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or "files" not in document:
        raise _damaged(directory, f"{CHECKPOINT_FILE} is not a needmap checkpoint of format {FORMAT}")
    tensors: dict[str, dict[str, torch.Tensor]] = {}
    for name in TENSOR_FILES:
        try:
            data = (directory / name).read_bytes()
        except OSError:
            raise _damaged(directory, f"{name} is missing") from None
        if hashlib.sha256(data).hexdigest() != document["files"].get(name):
            raise _damaged(directory, f"{name} is not the file the checkpoint wrote")
        try:
            tensors[name] = load(data)
        except (SafetensorError, ValueError, RuntimeError) as err:
            raise _damaged(directory, f"{name} cannot be read: {err}") from None
    try:
        Progress(**document["progress"])
    except (KeyError, TypeError) as err:
        raise _damaged(directory, f"its progress cannot be read: {err}") from None
    return Checkpoint(
        directory,
        document,
        tensors[WEIGHTS_FILE],
        tensors[BEST_FILE],
        tensors[OPTIMIZER_FILE],
        tensors[RNG_FILE],
    )
