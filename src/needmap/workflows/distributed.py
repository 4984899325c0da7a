"""Distributed training runs: the function each process of a launcher calls, and ``needmap train --nproc``.

:func:`train_worker` is one plain function of a plain dict: torchrun's processes (through ``needmap train``), Ray
Train's workers (``ray.train.torch.TorchTrainer(train_worker, train_loop_config=...)``) and Spark's
``TorchDistributor(...).run(train_worker, config)`` all call it in each process, where it joins the process group
the launcher describes and runs :func:`needmap.workflows.train.run_train`: every rank trains its share of the
batches, rank 0 writes the one model directory (:mod:`needmap.training.distributed`).

:func:`relaunch` is what ``needmap train --nproc N`` does: it starts the same command again under
``torch.distributed.run`` (torchrun) with N processes on this machine, and returns their exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from needmap.errors import ConfigError

#: Keys of :func:`train_worker`'s dict.
WORKER_KEYS = ("data", "target", "out", "model", "options", "run", "read")


def train_worker(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """Train a model as one process of a distributed run; what every launcher calls in every process.

    Args:
        config: a JSON-like dict (launchers pickle it to each worker):

            - ``data``: the training rows, a path or URL that :func:`needmap.read` reads (every rank reads it;
              put it where every machine sees it) or a table (in a single machine's processes).
            - ``target``: the target column(s).
            - ``out``: the model directory rank 0 writes (None: nothing saved).
            - ``model``: the architecture ('mlp' by default).
            - ``options``: further :class:`needmap.Model` keywords (``epochs``, ``batch_size``, ``seed``, ``hash``...).
            - ``run``: :func:`needmap.workflows.train.run_train` keywords (``test_size``, ``baseline``...).
            - ``read``: :func:`needmap.read` keywords (``delimiter``...).

    Returns:
        On rank 0 (and in a run of one process): ``{"out": the model directory or None, "test": the test
        metrics, "training": the training summary}``; on the other ranks None.

    The process group is joined from the environment (:func:`needmap.training.distributed.init_from_env`), or
    used as the launcher made it (Ray Train makes it before calling); a group joined here is left at the end.
    """
    from needmap.data.read import read
    from needmap.estimator import Model
    from needmap.training import distributed
    from needmap.workflows.train import run_train

    unknown = set(config) - set(WORKER_KEYS)
    if unknown:
        raise ConfigError(f"train_worker got unknown key(s) {sorted(unknown)}; expected some of {list(WORKER_KEYS)}.")
    for key in ("data", "target"):
        if config.get(key) is None:
            raise ConfigError(f"train_worker needs {key!r} in its config; expected {key!r}: ... there.")
    joined_here = not distributed.is_joined()
    ranks = distributed.init_from_env()
    try:
        data = config["data"]
        table = read(data, **dict(config.get("read") or {})) if isinstance(data, str | os.PathLike) else data
        model = Model(config.get("model") or "mlp", target=config["target"], **dict(config.get("options") or {}))
        outcome = run_train(table, model, out=config.get("out"), **dict(config.get("run") or {}))
    finally:
        if joined_here:
            distributed.shutdown()
    if ranks is not None and not ranks.is_main:
        return None
    training = dict(outcome.metrics.get("training") or {})
    training.pop("history", None)
    return {
        "out": None if outcome.out is None else str(outcome.out),
        "test": outcome.metrics.get("test"),
        "training": training,
    }


def without_nproc(argv: Sequence[str]) -> list[str]:
    """``argv`` less its ``--nproc N`` / ``--nproc=N`` (the processes are started with it already)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    return kept


def relaunch(nproc: int, argv: Sequence[str] | None = None) -> int:
    """Run the ``needmap`` command ``argv`` (default: this process's arguments) again under torchrun with
    ``nproc`` processes on this machine (``--standalone``: a local rendezvous on a free port), and return the
    exit status of the run (0 when every process ended well).

    Why a new launch rather than processes forked here: torchrun sets each process's rank and the rendezvous
    in the environment, watches the processes and ends them all when one fails, as it would for a run on
    several machines."""
    args = without_nproc(sys.argv[1:] if argv is None else argv)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
        "-m", "needmap", *args,
    ]  # fmt: skip
    return subprocess.call(command)
