"""Test AUC and logloss of needmap's models beside DeepCTR-Torch, FuxiCTR, LightGBM and logistic regression.

For each dataset and seed: one split (benchmarks/datasets.py), one needmap preprocessing fitted on
its training rows (benchmarks/features.py) that every library reads, then each model trained on
train, early-stopped on valid and scored on test. Deep models share one training loop and one set
of hyper-parameters (benchmarks/trainloop.py).

Run from the repository root in the peer environment (``make bench-env``)::

    benchmarks/.venv-peers/bin/python -m benchmarks.bench_accuracy --datasets bank,shoppers --seeds 0,1,2

Results are merged into ``<out>/accuracy.json`` (a rerun replaces the runs it repeats) and the
report is written to ``<out>/accuracy.md`` and printed. Without the peers installed, ``--peers
lightgbm,logreg`` or ``--peers none`` runs in the project's own environment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from benchmarks import datasets as bench_datasets
from benchmarks.features import FEATURE_SETS_HELP, Prepared, prepare, with_feature_set
from benchmarks.needmap_runner import run_logistic_regression, run_model, split_spec
from benchmarks.report import cpu_name, markdown
from benchmarks.trainloop import HyperParams, RunResult, score
from needmap.models.registry import model_class
from needmap.runtime.device import usable_cores

DEFAULT_PEERS = "deepctr:deepfm,deepctr:dcn,deepctr:dcnmix,deepctr:din,fuxictr:deepfm,fuxictr:dcnv2,lightgbm,logreg"
RESULTS = bench_datasets.REPO / "benchmarks" / "results"
# Peer name prefix -> (library, runner module).
PEER_LIBRARIES: dict[str, tuple[str, str]] = {
    "deepctr": ("deepctr-torch", "benchmarks.peers.deepctr_runner"),
    "fuxictr": ("fuxictr", "benchmarks.peers.fuxictr_runner"),
}


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip() and part.strip() != "none"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", default="bank,shoppers", help=f"comma list of {', '.join(bench_datasets.DATASETS)}"
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma list of seeds (split and training)")
    parser.add_argument(
        "--models", default="mlp", help="comma list of needmap models (needmap.models.available_models())"
    )
    parser.add_argument(
        "--peers",
        default=DEFAULT_PEERS,
        help="comma list of deepctr:deepfm|dcn|dcnmix|din, fuxictr:deepfm|dcnv2|dcnv2_stacked, lightgbm, logreg",
    )
    parser.add_argument("--features", default="default", help=f"the features every library reads: {FEATURE_SETS_HELP}")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of accuracy.json and accuracy.md")
    parser.add_argument("--fresh", action="store_true", help="forget the runs already in accuracy.json")
    parser.add_argument("--report", action="store_true", help="only rewrite accuracy.md from accuracy.json")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="merge these accuracy.json files (runs made at the same time into other --out folders) into "
        "--out's, a later file's run replacing an earlier one of the same dataset, features, model and seed; "
        "then rewrite the report",
    )
    parser.add_argument("--data-dir", type=Path, default=bench_datasets.SHARED_DATA, help="the shared data folder")
    parser.add_argument("--criteo", type=Path, default=bench_datasets.CRITEO_LIKE, help="criteo_like Parquet file")
    parser.add_argument("--criteo-rows", type=int, default=None, help="use only the first N rows of --criteo")
    defaults = HyperParams()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--patience", type=int, default=defaults.patience)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--embedding-dim", type=int, default=defaults.embedding_dim)
    parser.add_argument("--hidden", default=",".join(map(str, defaults.hidden)), help="hidden widths, e.g. 256,128")
    parser.add_argument("--dropout", type=float, default=defaults.dropout)
    parser.add_argument("--cross-layers", type=int, default=defaults.cross_layers)
    parser.add_argument("--threads", type=int, default=None, help="torch and LightGBM threads (default: all cores)")
    return parser.parse_args(argv)


def hyper(args: argparse.Namespace) -> HyperParams:
    return HyperParams(
        embedding_dim=args.embedding_dim,
        hidden=tuple(int(h) for h in _csv(args.hidden)),
        dropout=args.dropout,
        batch_size=args.batch_size,
        lr=args.lr,
        epochs=args.epochs,
        patience=args.patience,
        cross_layers=args.cross_layers,
        threads=args.threads,
    )


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    packages = ["needmap", "torch", "deepctr-torch", "fuxictr", "lightgbm", "scikit-learn", "numpy", "pyarrow"]
    return {
        "machine": f"{cpu_name()}, {usable_cores()} cores, {platform.system()}, Python {platform.python_version()}",
        "versions": {name: v for name in packages if (v := _package_version(name)) is not None},
    }


def peer_runner(spec: str) -> tuple[str, str, Any]:
    """(library, model, run(prepared, hp, seed) -> RunResult or None when the model does not apply)."""
    import importlib

    if spec == "lightgbm":
        from benchmarks.peers import lgbm_runner

        return "lightgbm", "gbdt", lgbm_runner.run
    if spec == "logreg":
        return "scikit-learn", "logistic_regression", lambda prepared, hp, seed: run_logistic_regression(prepared, seed)
    prefix, _, model = spec.partition(":")
    if prefix not in PEER_LIBRARIES or not model:
        raise SystemExit(f"unknown peer {spec!r}; expected deepctr:<model>, fuxictr:<model>, lightgbm or logreg")
    library, module_name = PEER_LIBRARIES[prefix]
    module = importlib.import_module(module_name)
    if model not in module.MODELS:
        raise SystemExit(f"unknown {library} model {model!r}; expected one of {', '.join(module.MODELS)}")

    def run(prepared: Prepared, hp: HyperParams, seed: int) -> RunResult | None:
        if not module.available(model, prepared):
            return None
        return module.run(model, prepared, hp, seed)

    return library, model, run


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def load_results(path: Path, fresh: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if fresh or not path.exists():
        return [], {}
    data = json.loads(path.read_text())
    return list(data.get("runs", [])), dict(data.get("meta", {}).get("datasets", {}))


def save(out: Path, runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "accuracy.json", json.dumps({"meta": meta, "runs": runs}, indent=1) + "\n")
    report = markdown(runs, meta)
    _write(out / "accuracy.md", report)
    return report


def _record(
    dataset: str, features: str, library: str, model: str, seed: int, prepared: Prepared, result: RunResult
) -> dict[str, Any]:
    scores = score(prepared.y_test, result.probs)
    return {
        "dataset": dataset,
        "features": features,
        "library": library,
        "model": model,
        "seed": seed,
        "test_auc": scores["auc"],
        "test_logloss": scores["logloss"],
        "train_seconds": result.train_seconds,
        "info": result.info,
    }


def _oracle(path: Path) -> float | None:
    meta = path.with_name(path.name + ".meta.json")
    return json.loads(meta.read_text()).get("oracle_auc") if meta.exists() else None


def _key(run: dict[str, Any]) -> tuple[Any, ...]:
    return (run["dataset"], run.get("features", "default"), run["library"], run["model"], run["seed"])


def merge(out: Path, sources: list[Path]) -> str:
    """Runs and dataset notes of ``sources`` merged into ``out``'s accuracy.json; returns the report."""
    target = out / "accuracy.json"
    data = json.loads(target.read_text()) if target.exists() else {"meta": {"datasets": {}}, "runs": []}
    runs = {_key(r): r for r in data["runs"]}
    meta = data["meta"]
    for source in sources:
        other = json.loads(source.read_text())
        runs.update({_key(r): r for r in other["runs"]})
        for name, info in other["meta"].get("datasets", {}).items():
            known = meta.setdefault("datasets", {}).setdefault(name, {})
            commands = [c for c in known.get("commands", []) if c not in info.get("commands", [])]
            known.update(info, commands=commands + list(info.get("commands", [])))
        for key in ("machine", "versions", "hyper"):
            meta.setdefault(key, other["meta"].get(key))
    return save(out, list(runs.values()), meta)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.merge:
        print(merge(args.out, args.merge))
        return
    if args.report:
        data = json.loads((args.out / "accuracy.json").read_text())
        print(save(args.out, data["runs"], data["meta"]))
        return
    hp = hyper(args)
    names = _csv(args.datasets)
    for name in names:
        if name not in bench_datasets.DATASETS:
            raise SystemExit(f"unknown dataset {name!r}; expected some of {', '.join(bench_datasets.DATASETS)}")
    seeds = [int(s) for s in _csv(args.seeds)]
    models = _csv(args.models)
    for spec in models:
        model_class(split_spec(spec)[0])  # ConfigError naming the available models
    peers = [peer_runner(spec) for spec in _csv(args.peers)]
    if hp.threads:
        torch.set_num_threads(hp.threads)
    runs, about = load_results(args.out / "accuracy.json", args.fresh)
    meta: dict[str, Any] = {
        "command": " ".join(
            ["python -m benchmarks.bench_accuracy", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]
        ),
        **environment(),
        "hyper": hp.to_dict(),
        "datasets": about,
    }
    for name in names:
        started = time.perf_counter()
        for seed in seeds:
            data = bench_datasets.load(
                name, seed, data_dir=args.data_dir, criteo=args.criteo, criteo_rows=args.criteo_rows
            )
            data = with_feature_set(data, args.features)
            prepared = prepare(data)
            print(f"[{name} seed {seed}] {data.rows} rows, preprocessing {prepared.seconds:.1f} s", flush=True)
            todo: list[tuple[str, str, Any]] = [
                ("needmap", m, lambda p, h, s, m=m: run_model(m, p, h, s)) for m in models
            ]
            for library, model, run in todo + peers:
                result = run(prepared, hp, seed)
                if result is None:
                    print(f"  {library} {model}: does not apply to {name}", flush=True)
                    continue
                record = _record(name, args.features, library, model, seed, prepared, result)
                key = (name, args.features, library, model, seed)
                runs = [r for r in runs if _key(r) != key]
                runs.append(record)
                print(
                    f"  {library} {model}: test AUC {record['test_auc']:.4f}  logloss {record['test_logloss']:.4f}  "
                    f"{record['train_seconds']:.1f} s",
                    flush=True,
                )
                save(args.out, runs, meta)
            earlier = meta["datasets"].get(name, {})
            commands = list(earlier.get("commands") or ([earlier["command"]] if earlier.get("command") else []))
            info = {
                "rows": data.rows,
                "split": data.split,
                "seeds": seeds,
                "commands": [*commands, meta["command"]] if meta["command"] not in commands else commands,
                "hyper": meta["hyper"],
            }
            if name == "criteo_like":
                info["oracle_auc"] = _oracle(args.criteo)
            meta["datasets"][name] = info
        meta["datasets"][name]["seconds"] = round(time.perf_counter() - started, 1)
        print(f"[{name}] {meta['datasets'][name]['seconds']:.0f} s for {len(seeds)} seed(s)", flush=True)
    print(save(args.out, runs, meta))


if __name__ == "__main__":
    main()
