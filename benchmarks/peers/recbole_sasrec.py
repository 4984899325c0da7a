"""RecBole's SASRec (or LightGCN) on the same leave-last-out split as benchmarks/bench_recommend.py.

    benchmarks/.venv-recbole/bin/python -m benchmarks.peers.recbole_sasrec --dataset ml100k --epochs 50 --seed 0

Run in RecBole's own environment (``make bench-env-recbole``). The dataset is written as RecBole's atomic
``.inter`` file from the same log; RecBole's ``LS: valid_and_test`` with ``order: TO`` holds out each user's
last interaction by time for the test and the one before for validation, and its ``mode: full`` ranks every
item, leaving out the user's training items: the protocol of bench_recommend.py. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def write_inter(dataset: str, folder: Path) -> None:
    """The dataset's interactions as RecBole's atomic file ``folder/<dataset>/<dataset>.inter``."""
    import gzip

    target = folder / dataset
    target.mkdir(parents=True)
    with open(target / f"{dataset}.inter", "w") as out:
        out.write("user_id:token\titem_id:token\ttimestamp:float\n")
        if dataset == "ml100k":
            with open(DATA / "movielens_100k" / "u.data") as fh:
                for line in fh:
                    u, i, _, t = line.split()
                    out.write(f"{u}\t{i}\t{t}\n")
        elif dataset == "mlsmall":
            with gzip.open(DATA / "movielens_latest_small" / "ratings.csv.gz", "rt") as fh:
                next(fh)
                for line in fh:
                    u, i, _, t = line.strip().split(",")
                    out.write(f"{u}\t{i}\t{t}\n")
        else:
            raise SystemExit(f"unknown dataset {dataset!r}; expected ml100k or mlsmall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml100k")
    parser.add_argument("--model", default="SASRec")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # RecBole 1.2.1 torch.load()s a pickled Config
    from recbole.quick_start import run_recbole

    tmp = Path(tempfile.mkdtemp(prefix="recbole-"))
    write_inter(args.dataset, tmp / "data")
    config = {
        "data_path": str(tmp / "data"), "checkpoint_dir": str(tmp / "saved"),
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
        "metrics": ["Recall", "NDCG", "Hit", "MRR"], "topk": [10], "valid_metric": "NDCG@10",
        "epochs": args.epochs, "stopping_step": 10, "train_batch_size": args.batch_size, "use_gpu": False,
        "device": "cpu", "seed": args.seed, "reproducibility": True, "show_progress": False,
        "save_dataset": False, "save_dataloaders": False,
    }  # fmt: skip
    if args.model == "SASRec":
        config.update({"MAX_ITEM_LIST_LENGTH": 50, "loss_type": "CE", "train_neg_sample_args": None})
    os.chdir(tmp)  # RecBole writes log/ and log_tensorboard/ into the working directory
    started = time.time()
    result = run_recbole(model=args.model, dataset=args.dataset, config_dict=config, saved=True)
    print(json.dumps({"dataset": args.dataset, "model": args.model, "seed": args.seed, "epochs": args.epochs,
                      "seconds": round(time.time() - started, 1), "validation": dict(result["best_valid_result"]),
                      "test": dict(result["test_result"])}), file=sys.stdout, flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
