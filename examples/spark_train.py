"""Train a needmap model with Spark's TorchDistributor: each Spark task runs needmap's training function under DDP.

Run (pyspark is not a dependency of needmap; not tested in needmap's environment, see docs/distributed.md)::

    pip install "pyspark>=3.4"
    python examples/spark_train.py /shared/bank.csv --target y --processes 4 --out /shared/models/bank
    # on a cluster: spark-submit examples/spark_train.py ... --cluster

TorchDistributor starts ``--processes`` processes with torchrun's environment (in the driver with
``local_mode=True``, in Spark tasks on the executors otherwise) and calls ``train_worker(config)`` in each, which
joins the process group (gloo on CPUs, NCCL with ``--gpu``); rank 0 writes the one model directory, so ``--out``
and the data must be on storage every executor sees.
"""

from __future__ import annotations

import argparse
from typing import Any

from needmap.workflows.distributed import train_worker


def main() -> None:
    """Parse the arguments and run the training through Spark (a local session when none is configured)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="the training rows (a path every process can read)")
    parser.add_argument("--target", required=True)
    parser.add_argument("--out", required=True, help="the model directory rank 0 writes")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gpu", action="store_true", help="one GPU per process (NCCL)")
    parser.add_argument("--cluster", action="store_true", help="run on the executors, not in the driver")
    args = parser.parse_args()

    from pyspark.ml.torch.distributor import TorchDistributor
    from pyspark.sql import SparkSession

    SparkSession.builder.appName("needmap-train").getOrCreate()
    config: dict[str, Any] = {
        "data": args.data,
        "target": args.target,
        "out": args.out,
        "model": args.model,
        "options": {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed, "progress": False},
    }
    distributor = TorchDistributor(num_processes=args.processes, local_mode=not args.cluster, use_gpu=args.gpu)
    result = distributor.run(train_worker, config)  # rank 0's return value
    print(f"model written to {args.out}: {result}")


if __name__ == "__main__":
    main()
