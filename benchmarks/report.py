"""The accuracy benchmark's Markdown report: mean ± std over seeds, winners and gaps per dataset."""

from __future__ import annotations

import platform
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What each library is in the comparison.
KINDS: dict[str, str] = {
    "needmap": "needmap",
    "deepctr-torch": "peer deep",
    "fuxictr": "peer deep",
    "lightgbm": "gbdt",
    "scikit-learn": "linear",
}


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), else what platform reports, for the reports' machine line."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # no /proc (macOS, Windows): platform's name below
        pass
    return platform.processor() or "unknown CPU"


def gpu_name() -> str:
    """The name of the CUDA GPU torch trains on, with torch's version and CUDA's, for a report's machine line."""
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU"
    return f"{torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})"


@dataclass
class Row:
    """One (dataset, library, model) over its seeds."""

    dataset: str
    features: str
    library: str
    model: str
    auc: list[float]
    logloss: list[float]
    seconds: list[float]
    steps: list[float]

    @property
    def kind(self) -> str:
        return KINDS.get(self.library, "other")

    @property
    def label(self) -> str:
        """The model's name, with the feature set when it is not the default one."""
        return self.model if self.features == "default" else f"{self.model} [{self.features}]"

    @property
    def mean_auc(self) -> float:
        return statistics.fmean(self.auc)


def _std(values: list[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _steps(record: dict[str, Any]) -> float | None:
    info = record.get("info", {})
    for key in ("epochs_run", "best_iteration", "iterations"):
        if info.get(key) is not None:
            return float(info[key])
    return None


def aggregate(records: list[dict[str, Any]]) -> dict[str, list[Row]]:
    """Rows per dataset (in first-seen order), each dataset's rows sorted by mean test AUC, best first."""
    groups: dict[tuple[str, str, str], Row] = {}
    for r in records:
        key = (r["dataset"], r.get("features", "default"), r["library"], r["model"])
        row = groups.setdefault(key, Row(*key, [], [], [], []))
        row.auc.append(float(r["test_auc"]))
        row.logloss.append(float(r["test_logloss"]))
        row.seconds.append(float(r["train_seconds"]))
        steps = _steps(r)
        if steps is not None:
            row.steps.append(steps)
    out: dict[str, list[Row]] = defaultdict(list)
    for row in groups.values():
        out[row.dataset].append(row)
    return {name: sorted(rows, key=lambda row: -row.mean_auc) for name, rows in out.items()}


def _best(rows: list[Row], kind: str) -> Row | None:
    chosen = [row for row in rows if row.kind == kind]
    return max(chosen, key=lambda row: row.mean_auc) if chosen else None


def _name(row: Row | None) -> str:
    return "–" if row is None else f"{row.library} {row.label} {row.mean_auc:.4f}"


def _gap(a: Row | None, b: Row | None) -> str:
    return "–" if a is None or b is None else f"{a.mean_auc - b.mean_auc:+.4f}"


def summary_lines(datasets: dict[str, list[Row]], oracle: dict[str, float]) -> list[str]:
    """A table with one line per dataset: best needmap model, best peer deep model, LightGBM, gaps."""
    lines = [
        "| dataset | best needmap model (AUC) | best peer deep model (AUC) | needmap − peer | LightGBM (AUC) "
        "| needmap − LightGBM | oracle AUC |",
        "|---|---|---|---:|---|---:|---:|",
    ]
    for name, rows in datasets.items():
        ours, peer, gbdt = _best(rows, "needmap"), _best(rows, "peer deep"), _best(rows, "gbdt")
        best = f"{oracle[name]:.4f}" if name in oracle else "–"
        lines.append(
            f"| {name} | {_name(ours)} | {_name(peer)} | {_gap(ours, peer)} | {_name(gbdt)} | {_gap(ours, gbdt)} "
            f"| {best} |"
        )
    return lines


def dataset_lines(name: str, rows: list[Row], about: dict[str, Any]) -> list[str]:
    """The per-model table of one dataset (a model read with a feature set other than the default one is
    named with it in brackets, e.g. ``mlp [buckets:20]``)."""
    lines = [f"## {name}", ""]
    if about:
        counts = about.get("rows", {})
        lines.append(
            f"{counts.get('train', 0):,} train / {counts.get('valid', 0):,} valid / {counts.get('test', 0):,} test "
            f"rows; split {about.get('split', '?')}; {about.get('seconds', 0):.0f} s for the whole dataset."
        )
        lines.append("")
        commands = about.get("commands") or ([about["command"]] if about.get("command") else [])
        if commands:
            lines += ["Commands:", "", "```", *commands, "```", ""]
    lines += [
        "| library | model | test AUC | test logloss | train s | epochs / rounds | seeds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    top = rows[0].mean_auc if rows else None
    for row in rows:
        auc = f"{row.mean_auc:.4f} ± {_std(row.auc):.4f}"
        if row.mean_auc == top:
            auc = f"**{auc}**"
        steps = f"{statistics.fmean(row.steps):.1f}" if row.steps else "–"
        lines.append(
            f"| {row.library} | {row.label} | {auc} | {statistics.fmean(row.logloss):.4f} ± {_std(row.logloss):.4f} "
            f"| {statistics.fmean(row.seconds):.1f} | {steps} | {len(row.auc)} |"
        )
    return [*lines, ""]


def markdown(records: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The whole report: settings, the summary table, then one table per dataset."""
    datasets = aggregate(records)
    about = meta.get("datasets", {})
    oracle = {name: info["oracle_auc"] for name, info in about.items() if info.get("oracle_auc") is not None}
    versions = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())
    hp = meta.get("hyper", {})
    lines = [
        "# Accuracy: needmap beside DeepCTR-Torch, FuxiCTR, LightGBM and logistic regression",
        "",
        f"Machine: {meta.get('machine', '?')}. Versions: {versions}.",
        "",
        "Every library reads the same needmap-preprocessed features of the same split. Deep models share "
        f"embeddings of {hp.get('embedding_dim')}, hidden layers {hp.get('hidden')}, dropout {hp.get('dropout')}, "
        f"batch {hp.get('batch_size')}, Adam at {hp.get('lr')}, at most {hp.get('epochs')} epochs, the rate halved "
        f"after an epoch without a better valid AUC, early stopping after {hp.get('patience')} such epochs "
        "(best epoch restored), all trained by the same loop. LightGBM stops on the valid AUC; logistic "
        "regression (needmap's baseline) uses the training rows only. Test AUC and logloss are mean ± sample "
        "std over the seeds; train s is the mean training time (valid passes included). A model named with "
        "[buckets:K] read every numeric column as K quantile buckets (every library of that run read the same).",
        "",
        *summary_lines(datasets, oracle),
        "",
    ]
    for name, rows in datasets.items():
        lines += dataset_lines(name, rows, about.get(name, {}))
    return "\n".join(lines).rstrip() + "\n"
