"""Recommender speed at catalogue scale: two-tower training epochs per second, and recommendations per second
for 100,000 customers over a 100,000-item catalogue, exact against FAISS, with FAISS's recall of the exact lists.

    .venv/bin/python -m benchmarks.bench_recommend_speed --customers 100000 --items 100000 --events 20

The log is generated (seeded): each customer touches ``--events`` items drawn from a Zipf-like popularity
(exponent 1.1) within one of 50 taste groups, so the catalogue has a long tail and the towers something to
learn. Training: one epoch of the two-tower network (in-batch softmax with the log-Q correction). Scoring:
the top 10 of every customer, leaving out what each has, by exact scoring (every item scored, ``torch.topk``)
and by FAISS (an inner-product index over the item vectors: ``flat`` exact, ``hnsw`` approximate); FAISS's
recall@10 is the share of the exact list's items that its list holds.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np


def generated_log(customers: int, items: int, events: int, seed: int = 0):
    """Seeded interactions with a long tail and 50 taste groups."""
    from needmap.recommend.interactions import Interactions

    rng = np.random.default_rng(seed)
    groups = 50
    group_of_customer = rng.integers(0, groups, customers)
    ranks = np.arange(1, items + 1, dtype=np.float64)
    weights = ranks**-1.1
    weights /= weights.sum()
    permutations = [rng.permutation(items) for _ in range(groups)]
    cust = np.repeat(np.arange(customers, dtype=np.int32), events)
    draws = rng.choice(items, size=customers * events, p=weights)
    item = np.empty_like(draws)
    for g in range(groups):
        rows = group_of_customer[cust] == g
        item[rows] = permutations[g][draws[rows]]
    times = np.tile(np.arange(events, dtype=np.int64), customers) * 86_400_000_000
    import pyarrow as pa

    return Interactions(
        pa.array(np.arange(customers)), pa.array(np.arange(items)), cust, item.astype(np.int32), times,
        source="generated catalogue",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's setting).")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/recommend_speed.json"))
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from needmap.recommend.algorithm import histories_of
    from needmap.recommend.top_k import exact_top_k, faiss_index, faiss_top_k
    from needmap.recommend.two_tower import TwoTower

    data = generated_log(args.customers, args.items, args.events)
    result = {"date": date.today().isoformat(), "machine": platform.processor() or platform.machine(),
              "threads": torch.get_num_threads(), "customers": args.customers, "items": args.items,
              "events": len(data)}  # fmt: skip
    started = time.perf_counter()
    model = TwoTower(epochs=1, batch_size=args.batch_size, seed=0, threads=args.threads).fit(data)
    train_s = time.perf_counter() - started
    summary = model.summary()
    result["two_tower_epoch_s"] = round(train_s, 2)
    result["two_tower"] = summary
    print(f"two-tower: one epoch over {len(data):,} events in {train_s:.1f} s ({summary})", flush=True)
    customers = np.arange(data.n_customers)
    histories = histories_of(data, customers)
    started = time.perf_counter()
    exact, _ = exact_top_k(model, histories, args.k, exclude=histories)
    exact_s = time.perf_counter() - started
    result["exact"] = {"seconds": round(exact_s, 2), "customers_per_s": round(len(customers) / exact_s)}
    print(f"exact: {len(customers):,} customers in {exact_s:.1f} s", flush=True)
    vectors = model.vectors(histories)
    items = model.item_vectors()
    for kind in ("flat", "hnsw"):
        started = time.perf_counter()
        index = faiss_index(items, kind)
        built = time.perf_counter() - started
        started = time.perf_counter()
        found, _ = faiss_top_k(index, vectors, args.k, exclude=histories)
        seconds = time.perf_counter() - started
        recall = float(np.mean([len(np.intersect1d(a[a >= 0], b[b >= 0])) / max(1, (a >= 0).sum())
                                for a, b in zip(exact, found, strict=True)]))  # fmt: skip
        result[f"faiss_{kind}"] = {
            "index_s": round(built, 2), "seconds": round(seconds, 2),
            "customers_per_s": round(len(customers) / seconds), "recall_vs_exact": recall,
        }  # fmt: skip
        print(f"faiss {kind}: index {built:.1f} s, search {seconds:.1f} s, recall vs exact {recall:.4f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
