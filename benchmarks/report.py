"""The accuracy benchmark's Markdown report: mean ± std over seeds, winners and gaps per dataset."""

from __future__ import annotations

import os
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


def _cpuinfo_fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """What a report says of a CPU, from the text of Linux's /proc/cpuinfo.

    Returns ``model_name``, ``vendor`` (vendor_id, or an ARM "CPU implementer"), ``family``, ``model``,
    ``stepping`` (strings as the file writes them, None where it has none), ``logical_cpus`` (processor
    entries), ``cores`` (distinct physical id x core id pairs, else "cpu cores" x sockets, else None),
    ``sockets``, ``avx512`` and ``amx`` (the flags of those families the first processor lists, sorted) and
    ``avx512_bf16`` (whether it lists that flag), ``flags_known`` (whether it lists flags at all)."""
    blocks = [_cpuinfo_fields(b) for b in text.split("\n\n") if b.strip()]
    processors = [fields for fields in blocks if fields.get("processor") is not None]
    first = processors[0] if processors else _cpuinfo_fields(text)
    flags = set((first.get("flags") or first.get("Features") or "").split())
    pairs = {(p.get("physical id"), p.get("core id")) for p in processors if p.get("core id") is not None}
    sockets = {p.get("physical id") for p in processors if p.get("physical id") is not None}
    cores: int | None = len(pairs) or None
    if cores is None and first.get("cpu cores", "").isdigit():
        cores = int(first["cpu cores"]) * max(len(sockets), 1)
    return {
        "model_name": first.get("model name") or first.get("Model name") or first.get("Hardware"),
        "vendor": first.get("vendor_id") or first.get("CPU implementer"),
        "family": first.get("cpu family") or first.get("CPU architecture"),
        "model": first.get("model") or first.get("CPU part"),
        "stepping": first.get("stepping") or first.get("CPU revision"),
        "logical_cpus": len(processors) or None,
        "cores": cores,
        "sockets": len(sockets) or None,
        "avx512": sorted(f for f in flags if f.startswith("avx512")),
        "amx": sorted(f for f in flags if f.startswith("amx")),
        "avx512_bf16": "avx512_bf16" in flags,
        "flags_known": bool(flags),
    }


def cpu_info(path: str | Path = "/proc/cpuinfo") -> dict[str, Any]:
    """The CPU this process runs on: :func:`parse_cpuinfo` of ``path`` (Linux), else what ``platform`` reports
    (model name and architecture only; no flags), with ``usable_cores`` (the CPUs this process may run on) and
    ``machine`` (platform.machine()) added."""
    try:
        info = parse_cpuinfo(Path(path).read_text(encoding="utf-8", errors="replace"))
    except OSError:  # no /proc (macOS, Windows): platform's names below
        info = parse_cpuinfo("")
        info["logical_cpus"] = os.cpu_count()
    info["model_name"] = info["model_name"] or platform.processor() or platform.machine() or "unknown CPU"
    try:
        info["usable_cores"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity (macOS, Windows)
        info["usable_cores"] = os.cpu_count()
    info["machine"] = platform.machine()
    return info


def cpu_line(info: dict[str, Any]) -> str:
    """:func:`cpu_info` in one line, e.g. ``AMD EPYC (AuthenticAMD family 26 model 2 stepping 1), 2 cores,
    2 logical CPUs, 2 usable; AVX-512 bf16 bitalg bw cd dq f ...; AMX none`` (each family's flags without its
    prefix)."""
    ids = [f"{key} {info[key]}" for key in ("family", "model", "stepping") if info.get(key) is not None]
    about = " ".join([info["vendor"], *ids] if info.get("vendor") else ids)
    line = info.get("model_name") or "unknown CPU"
    if about:
        line += f" ({about})"
    counts = [
        f"{info[key]} {label}"
        for key, label in (("cores", "cores"), ("logical_cpus", "logical CPUs"), ("usable_cores", "usable"))
        if info.get(key) is not None
    ]
    if counts:
        line += ", " + ", ".join(counts)
    if not info.get("flags_known"):
        return f"{line}; CPU flags unknown"
    avx512 = " ".join(sorted(f.removeprefix("avx512").lstrip("_") for f in info.get("avx512") or [])) or "none"
    amx = " ".join(sorted(f.removeprefix("amx").lstrip("_") for f in info.get("amx") or [])) or "none"
    return f"{line}; AVX-512 {avx512}; AMX {amx}"


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), else what platform reports, for the reports' machine line."""
    return str(cpu_info()["model_name"])


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
