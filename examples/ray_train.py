"""Train a needmap model with Ray Train: each Ray worker runs needmap's training function under DDP.

Run (ray is not a dependency of needmap, only of its tests: tests/training/test_ray_train.py)::

    pip install "ray[train]"
    python examples/ray_train.py /shared/bank.csv --target y --workers 4 --out /shared/models/bank

Ray's TorchTrainer starts ``--workers`` processes (on the machines of the Ray cluster), makes the torch process
group among them (gloo on CPUs, NCCL with ``--gpu``) and calls ``train_worker(config)`` in each; rank 0 writes the
one model directory, so ``--out`` and the data must be on storage every worker sees.
"""

from __future__ import annotations

import argparse
from typing import Any

from needmap.workflows.distributed import train_worker


def main() -> None:
    """Parse the arguments and run the training on a Ray cluster (a local one when none is running)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="the training rows (a path every worker can read)")
    parser.add_argument("--target", required=True)
    parser.add_argument("--out", required=True, help="the model directory rank 0 writes")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gpu", action="store_true", help="one GPU per worker (NCCL)")
    args = parser.parse_args()

    from ray.train import ScalingConfig
    from ray.train.torch import TorchTrainer

    config: dict[str, Any] = {
        "data": args.data,
        "target": args.target,
        "out": args.out,
        "model": args.model,
        "options": {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed, "progress": False},
    }
    trainer = TorchTrainer(
        train_worker,
        train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=args.workers, use_gpu=args.gpu),
    )
    result = trainer.fit()
    print(f"model written to {args.out}; Ray result: {result}")


if __name__ == "__main__":
    main()
