"""Recommenders against the baselines that win papers: full ranking, leave-last-out, tuned alike, 3 seeds.

    benchmarks/.venv-peers/bin/python -m benchmarks.bench_recommend --datasets ml100k,mlsmall,diginetica \\
        --trials 8 --seeds 0,1,2 --out benchmarks/results/recommend.json

Protocol, for every model (needmap's popularity, ItemKNN, EASE, SASRec and two-tower; implicit's ALS and
BPR): each customer's (session's) last event by time is the test item and the one before the validation
item (:func:`needmap.recommend.split.leave_last_out`); Optuna's TPE sampler (seed 0) tries ``--trials``
settings of the model's options (``--trials 0``: its defaults), fitted on the training events and scored by
the validation NDCG@10; with the best settings, each seed fits on the training events (networks stop early
on validation); the closed forms and implicit's models fit again on training plus validation events, while a
network keeps its best weights on validation (fewer training events than the others: the cost of a refit is
not spent) and reads the validation events as history; each ranks the whole catalogue for the test
customers, leaving out what each already has. Popularity, ItemKNN and EASE do not depend on the seed and
run once. The table gives the mean over the seeds of NDCG@10, Recall@10 (equal to the hit rate here: one
test item each) and MRR@10, with their standard deviation.

Data: ``../shared/data/movielens_100k/u.data``, ``../shared/data/movielens_latest_small/ratings.csv.gz``
(every rating is an interaction) and ``../shared/data/diginetica_sample`` (item views in sessions, time =
the event date plus the time frame; items viewed fewer than 5 times and sessions of one view removed, as
SR-GNN does; a session is a customer, its last view the item to predict).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NEEDMAP_MODELS = ("popular", "itemknn", "ease", "sasrec", "two_tower")
PEER_MODELS = ("als", "bpr")
K = 10
#: Models whose fit does not depend on the seed: one run stands for all seeds.
DETERMINISTIC = ("popular", "itemknn", "ease")


def load(name: str, data_dir: Path = DATA) -> Any:
    """The dataset's interactions (see the module's docstring)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    from needmap.recommend.interactions import read_interactions

    if name == "ml100k":
        table = pcsv.read_csv(
            data_dir / "movielens_100k" / "u.data",
            read_options=pcsv.ReadOptions(column_names=["user", "item", "rating", "ts"]),
            parse_options=pcsv.ParseOptions(delimiter="\t"),
        )
        return read_interactions(table, customer="user", item="item", time="ts")
    if name == "mlsmall":
        table = pcsv.read_csv(data_dir / "movielens_latest_small" / "ratings.csv.gz")
        return read_interactions(table, customer="userId", item="movieId", time="timestamp")
    if name == "diginetica":
        table = pcsv.read_csv(
            data_dir / "diginetica_sample" / "sample_train-item-views.csv",
            parse_options=pcsv.ParseOptions(delimiter=";"),
            convert_options=pcsv.ConvertOptions(column_types={"eventdate": pa.timestamp("us")}),
        )
        micros = pc.add(pc.cast(table.column("eventdate"), pa.int64()), pc.multiply(table.column("timeframe"), 1000))
        table = table.append_column("ts", pc.cast(micros, pa.timestamp("us")))
        for _ in range(3):  # items seen at least 5 times, sessions of at least two views, until both hold
            items = table.group_by("item_id").aggregate([("item_id", "count")])
            keep_items = items.filter(pc.greater_equal(items.column("item_id_count"), 5)).column("item_id")
            table = table.filter(pc.is_in(table.column("item_id"), value_set=keep_items))
            sessions = table.group_by("session_id").aggregate([("session_id", "count")])
            keep = sessions.filter(pc.greater_equal(sessions.column("session_id_count"), 2)).column("session_id")
            table = table.filter(pc.is_in(table.column("session_id"), value_set=keep))
        return read_interactions(table, customer="session_id", item="item_id", time="ts")
    raise SystemExit(f"unknown dataset {name!r}; expected ml100k, mlsmall or diginetica")


def space(model: str, trial: Any) -> dict[str, Any]:
    """The options Optuna tries for ``model``."""
    if model == "popular":
        return {"recent_days": trial.suggest_categorical("recent_days", [None, 7, 30, 90, 365])}
    if model == "itemknn":
        return {
            "neighbours": trial.suggest_int("neighbours", 10, 1000, log=True),
            "shrink": trial.suggest_float("shrink", 0.0, 100.0),
        }
    if model == "ease":
        return {"l2": trial.suggest_float("l2", 1.0, 5000.0, log=True)}
    if model == "sasrec":
        return {
            "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128]),
            "dropout": trial.suggest_float("dropout", 0.1, 0.6),
            "max_len": trial.suggest_categorical("max_len", [20, 50, 200]),
            "lr": trial.suggest_float("lr", 3e-4, 3e-3, log=True),
            "layers": trial.suggest_int("layers", 1, 3),
        }
    if model == "two_tower":
        return {
            "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128]),
            "temperature": trial.suggest_float("temperature", 0.02, 0.3, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "max_len": trial.suggest_categorical("max_len", [20, 50, 200]),
            "lr": trial.suggest_float("lr", 3e-4, 3e-3, log=True),
        }
    if model == "als":
        return {
            "factors": trial.suggest_int("factors", 16, 256, log=True),
            "regularization": trial.suggest_float("regularization", 1e-3, 10.0, log=True),
            "alpha": trial.suggest_float("alpha", 1.0, 100.0, log=True),
            "iterations": trial.suggest_int("iterations", 5, 50),
        }
    if model == "bpr":
        return {
            "factors": trial.suggest_int("factors", 16, 256, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 1e-3, 0.3, log=True),
            "regularization": trial.suggest_float("regularization", 1e-5, 0.1, log=True),
            "iterations": trial.suggest_int("iterations", 20, 500, log=True),
        }
    raise SystemExit(f"unknown model {model!r}")


class ImplicitModel:
    """implicit's ALS or BPR behind the benchmark's fit / score: a customer's scores are their learned
    factors against the items' (each test customer is a training customer under leave-last-out)."""

    network = False

    def __init__(self, kind: str, seed: int, **params: Any) -> None:
        self.kind, self.seed, self.params = kind, seed, params

    def fit(self, data: Any, validation: Any = None) -> ImplicitModel:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        params = dict(self.params)
        matrix = data.matrix().tocsr()
        if self.kind == "als":
            alpha = params.pop("alpha", 1.0)
            self.model = AlternatingLeastSquares(random_state=self.seed, alpha=alpha, **params)
        else:
            self.model = BayesianPersonalizedRanking(random_state=self.seed, **params)
        self.model.fit(matrix, show_progress=False)
        return self

    def summary(self) -> dict[str, Any]:
        return {}

    def score_customers(self, customers: np.ndarray) -> np.ndarray:
        users = np.asarray(self.model.user_factors)[customers]
        return (users @ np.asarray(self.model.item_factors).T).astype(np.float32)


class _ByCustomer:
    """An exact_top_k scorer whose "histories" are one-element arrays naming the customer."""

    def __init__(self, model: ImplicitModel) -> None:
        self.model = model

    def score(self, rows: list[np.ndarray]) -> np.ndarray:
        return self.model.score_customers(np.array([int(r[0]) for r in rows]))


def evaluate(model: Any, history: Any, held: Any, popularity: np.ndarray) -> dict[str, float]:
    """Full-ranking metrics on ``held`` from ``history``, what each customer has left out."""
    from needmap.metrics.ranking import ranking_metrics
    from needmap.recommend.algorithm import histories_of
    from needmap.recommend.top_k import exact_top_k

    histories = histories_of(history, held.customers)
    if isinstance(model, ImplicitModel):
        top, _ = exact_top_k(_ByCustomer(model), [np.array([c]) for c in held.customers], K, exclude=histories)
    else:
        top, _ = exact_top_k(model, histories, K, exclude=histories)
    return ranking_metrics(top, held.items, popularity)


def build(model: str, params: dict[str, Any], seed: int, max_time: float | None) -> Any:
    from needmap.recommend.recommender import algorithm_class, make_algorithm

    if model in PEER_MODELS:
        return ImplicitModel(model, seed, **params)
    options = dict(params)
    names = algorithm_class(model).param_names()
    if "seed" in names:
        options["seed"] = seed
    if max_time is not None and "max_time" in names:
        options["max_time"] = max_time
    return make_algorithm(model, options)


def tune(
    model: str, parts: Any, trials: int, max_time: float | None, fixed: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[float]]:
    """The best options of ``trials`` Optuna trials by validation NDCG@10 (seed 0); no trial: the defaults."""
    import optuna

    if trials == 0:
        return {}, []
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    popularity = parts.train.popularity()
    values: list[float] = []

    def objective(trial: Any) -> float:
        params = {**space(model, trial), **(fixed or {})}
        fitted = build(model, params, 0, max_time).fit(parts.train, parts.validation)
        value = evaluate(fitted, parts.train, parts.validation, popularity)[f"ndcg@{K}"]
        values.append(value)
        return value

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=trials)
    best = dict(study.best_params)
    if model == "popular" and "recent_days" in best:
        best["recent_days"] = best["recent_days"]
    return best, values


def run_model(model: str, parts: Any, params: dict[str, Any], seeds: list[int], max_time: float | None) -> dict:
    """Validation and test metrics per seed with the tuned options."""
    popularity = parts.train.popularity()
    runs = []
    if model in DETERMINISTIC:
        seeds = seeds[:1]
    for seed in seeds:
        started = time.perf_counter()
        first = build(model, params, seed, max_time).fit(parts.train, parts.validation)
        validation = evaluate(first, parts.train, parts.validation, popularity)
        summary = first.summary() if hasattr(first, "summary") else {}
        if getattr(first, "network", False):  # its best weights on validation, reading the validation events too
            second = first
        else:
            second = build(model, params, seed, max_time).fit(parts.train_and_validation)
        test = evaluate(second, parts.train_and_validation, parts.test, popularity)
        runs.append(
            {"seed": seed, "validation": validation, "test": test, "training": summary,
             "seconds": round(time.perf_counter() - started, 2)}
        )  # fmt: skip
    mean = {key: float(np.mean([r["test"][key] for r in runs])) for key in runs[0]["test"] if key != "customers"}
    spread = {key: float(np.std([r["test"][key] for r in runs])) for key in mean}
    return {"params": params, "runs": runs, "test_mean": mean, "test_std": spread}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ml100k,mlsmall,diginetica")
    parser.add_argument("--models", default=",".join(NEEDMAP_MODELS + PEER_MODELS))
    parser.add_argument("--trials", type=int, default=8, help="Optuna trials per model (0: its defaults).")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--max-time", type=float, default=None, help="Seconds per network fit (None: no cap).")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--fixed",
        default="{}",
        help='Options set for every trial and seed, by model, as JSON: \'{"sasrec": {"epochs": 40}}\'.',
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/recommend.json"))
    parser.add_argument("--tables", type=Path, nargs="+", help="Print the tables of these result files, merged.")
    args = parser.parse_args()
    if args.tables:
        print(markdown(merged([json.loads(path.read_text()) for path in args.tables])))
        return
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from needmap.recommend.split import leave_last_out

    seeds = [int(s) for s in args.seeds.split(",")]
    report: dict[str, Any] = {
        "date": date.today().isoformat(), "machine": platform.processor() or platform.machine(),
        "trials": args.trials, "seeds": seeds, "k": K, "datasets": {},
    }  # fmt: skip
    for name in args.datasets.split(","):
        data = load(name)
        parts = leave_last_out(data)
        entry: dict[str, Any] = {
            "customers": data.n_customers, "items": data.n_items, "events": len(data), "split": parts.note,
            "models": {},
        }  # fmt: skip
        print(f"{name}: {parts.note}", flush=True)
        for model in args.models.split(","):
            started = time.perf_counter()
            fixed = json.loads(args.fixed).get(model, {})
            params, values = tune(model, parts, args.trials, args.max_time, fixed)
            params = {**params, **fixed}
            tuned_s = time.perf_counter() - started
            result = run_model(model, parts, params, seeds, args.max_time)
            result["tuning"] = {"validation_ndcg": values, "seconds": round(tuned_s, 1)}
            entry["models"][model] = result
            mean = result["test_mean"]
            print(
                f"  {model:10s} ndcg@10 {mean['ndcg@10']:.4f}  recall@10 {mean['recall@10']:.4f}  "
                f"mrr@10 {mean['mrr@10']:.4f}  params {params}  ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        report["datasets"][name] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str))
    print(markdown(report))


def merged(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Several result files as one: each dataset's models together (a later file's model replaces an earlier)."""
    out: dict[str, Any] = {"datasets": {}}
    for report in reports:
        for name, entry in report["datasets"].items():
            into = out["datasets"].setdefault(name, {**entry, "models": {}})
            into["models"].update(entry["models"])
    return out


def markdown(report: dict[str, Any]) -> str:
    """The tables of BENCHMARKS.md: one per dataset, best of each column in bold."""
    lines = []
    for name, entry in report["datasets"].items():
        lines += [
            f"**{name}** ({entry['customers']:,} customers, {entry['items']:,} items, {entry['events']:,} events)",
            "",
            "| model | NDCG@10 | Recall@10 | MRR@10 | coverage@10 | tuned options |",
            "|---|---:|---:|---:|---:|---|",
        ]
        models = entry["models"]
        best = {key: max(m["test_mean"][key] for m in models.values()) for key in ("ndcg@10", "recall@10", "mrr@10")}
        for model, result in sorted(models.items(), key=lambda kv: -kv[1]["test_mean"]["ndcg@10"]):
            mean, std = result["test_mean"], result["test_std"]
            cells = []
            for key in ("ndcg@10", "recall@10", "mrr@10"):
                text = f"{mean[key]:.4f} ± {std[key]:.4f}"
                cells.append(f"**{text}**" if mean[key] == best[key] else text)
            shown = ", ".join(
                f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in result["params"].items()
            )
            label = model if model not in PEER_MODELS else f"{model} (implicit)"
            lines.append(f"| {label} | {' | '.join(cells)} | {mean['coverage@10']:.3f} | {shown} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
