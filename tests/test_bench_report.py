"""The accuracy benchmark's report: feature sets kept apart, runs of separate folders merged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_accuracy import merge  # noqa: E402
from benchmarks.report import aggregate, summary_lines  # noqa: E402


def run(library: str, model: str, seed: int, auc: float, features: str | None = "default") -> dict:
    record = {
        "dataset": "bank",
        "library": library,
        "model": model,
        "seed": seed,
        "test_auc": auc,
        "test_logloss": 0.3,
        "train_seconds": 1.0,
        "info": {"epochs_run": 5},
    }
    if features is not None:  # runs written before feature sets existed have no "features" key
        record["features"] = features
    return record


def write(folder: Path, runs: list[dict], command: str) -> Path:
    folder.mkdir(parents=True)
    meta = {"machine": "m", "versions": {}, "hyper": {}, "datasets": {"bank": {"commands": [command]}}}
    path = folder / "accuracy.json"
    path.write_text(json.dumps({"meta": meta, "runs": runs}))
    return path


def test_feature_sets_are_separate_rows_and_the_summary_takes_the_best_of_any(tmp_path: Path) -> None:
    runs = [
        run("needmap", "mlp", 0, 0.79, None),
        run("needmap", "mlp", 1, 0.80, None),
        run("needmap", "mlp", 0, 0.81, "buckets:20"),
        run("fuxictr", "dcnv2", 0, 0.795),
        run("lightgbm", "gbdt", 0, 0.805),
    ]
    rows = aggregate(runs)["bank"]
    assert [(r.label, round(r.mean_auc, 3)) for r in rows] == [
        ("mlp [buckets:20]", 0.81),
        ("gbdt", 0.805),
        ("mlp", 0.795),
        ("dcnv2", 0.795),
    ]
    line = summary_lines(aggregate(runs), {})[2]
    assert "needmap mlp [buckets:20] 0.8100" in line and "+0.0150" in line and "+0.0050" in line


def test_merge_replaces_a_run_of_the_same_key_and_keeps_the_others(tmp_path: Path) -> None:
    first = write(tmp_path / "a", [run("needmap", "mlp", 0, 0.70), run("lightgbm", "gbdt", 0, 0.80)], "cmd a")
    second = write(
        tmp_path / "b", [run("needmap", "mlp", 0, 0.75), run("needmap", "mlp", 0, 0.9, "buckets:20")], "cmd b"
    )
    report = merge(tmp_path / "out", [first, second])
    merged = json.loads((tmp_path / "out" / "accuracy.json").read_text())
    aucs = {(r["library"], r["model"], r.get("features")): r["test_auc"] for r in merged["runs"]}
    assert aucs == {
        ("needmap", "mlp", "default"): 0.75,
        ("lightgbm", "gbdt", "default"): 0.80,
        ("needmap", "mlp", "buckets:20"): 0.9,
    }
    assert merged["meta"]["datasets"]["bank"]["commands"] == ["cmd a", "cmd b"]
    assert "cmd a" in report and "mlp [buckets:20]" in report
    assert (tmp_path / "out" / "accuracy.md").read_text() == report
