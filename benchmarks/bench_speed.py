"""Speed: needmap beside DeepCTR-Torch, FuxiCTR and LightGBM on the same Criteo-shaped file, in one run.

Each case (library x model x precision) runs in a fresh process of the benchmark environment
(benchmarks/.venv-peers), one after another, so none competes with another for the cores and each
process's peak RSS is its own. What a case measures, and the shared split and model sizes, are in
benchmarks/speed_common.py; each library runs its own documented path:

* needmap: ``needmap.Model(...).fit(table, validation=0)`` on the raw Parquet rows (schema inference,
  cleaning, preprocessing fitted on the training rows, training), the scores file by the same path as
  ``needmap predict`` (``predict_to_file``), one raw row through ``Model.predict_proba``.
* DeepCTR-Torch: its README's Criteo recipe (pandas, LabelEncoder, MinMaxScaler, ``model.fit``)
  (benchmarks/peers/deepctr_speed.py).
* FuxiCTR: its FeatureProcessor, dataset building and data loader, and ``BaseModel.fit`` on models
  composed from its layers (benchmarks/peers/fuxictr_speed.py).
* LightGBM: ``lightgbm.train`` on the same rows (numerics as they are, categories as pandas
  categoricals), 100 rounds of 63 leaves.
* needmap-cli (``--cases needmap-cli:deepfm:fp32`` etc., not among the defaults): the ``needmap train`` command
  as a user runs it, on the whole file (its own split, baselines on), in a process of its own: its wall time
  and peak RSS beside the training time (and the peak beside ``Model.fit``'s, when the ``needmap`` case of the
  same model ran too), seconds per phase and test AUCs its metrics.json records.

Every report starts with the CPU (model, vendor, family / model / stepping, AVX-512 and AMX flags, cores);
``--matmul`` also runs benchmarks/bench_matmul.py once and puts its GFLOP/s beside the table.

Usage (the machine otherwise idle: a busy machine reads several times slower):

    benchmarks/.venv-peers/bin/python -m benchmarks.bench_speed --rows 1m --threads 2
    benchmarks/.venv-peers/bin/python -m benchmarks.bench_speed --data benchmarks/data/criteo_like_3m.parquet
    benchmarks/.venv-peers/bin/python -m benchmarks.bench_speed --rows 1m --matmul \
        --cases needmap-cli:deepfm:fp32,needmap-cli:dcnv2:fp32,deepctr:deepfm:fp32,deepctr:dcn:fp32

Writes ``<out>/speed_<file stem>.json`` (every case's figures, the machine, the command) and
``<out>/speed_<file stem>.md`` (the table with the ratios needmap / peer); BENCHMARKS.md keeps it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import cpu_info, cpu_line, gpu_name
from benchmarks.speed_common import BATCH_SIZE as BATCH
from benchmarks.speed_common import (
    CATEGORICAL,
    CROSS_LAYERS,
    EMBEDDING_DIM,
    HIDDEN,
    LABEL,
    LR,
    NUMERIC,
    CaseResult,
    auc,
    emit,
    one_row_latency,
    raw_rows,
    read_result,
    run_measured,
    split_rows,
    test_file,
    timed,
    train_file,
    write_split_files,
)

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_CASES = (
    "needmap:deepfm:fp32,needmap:deepfm:bf16,needmap:dcnv2:fp32,needmap:dcnv2:bf16,"
    "deepctr:deepfm:fp32,deepctr:dcn:fp32,fuxictr:deepfm:fp32,fuxictr:dcnv2:fp32,lightgbm:gbdt:fp32"
)
LIGHTGBM_ROUNDS = 100


# -- the cases --------------------------------------------------------------------------------------
def needmap_case(model: str, data: Path, threads: int, epochs: int, precision: str, device: str) -> CaseResult:
    """needmap's own path from the raw file (see the module docstring)."""
    # Before pyarrow is loaded, as the needmap command does: Arrow allocates from the system allocator
    # for the whole process (needmap.runtime.arrow_memory).
    # isort: off
    from needmap.runtime import prefer_system_arrow_pool

    prefer_system_arrow_pool()
    from needmap.estimator import Model
    from needmap.training.predict import predict_proba
    from needmap.workflows.predict import predict_stream

    import pyarrow.parquet as pq
    import torch

    # isort: on

    torch.set_num_threads(threads)
    params: dict[str, Any] = {"embedding_dim": EMBEDDING_DIM, "hidden": list(HIDDEN), "dropout": 0.0}
    if model == "dcnv2":
        params["cross_layers"] = CROSS_LAYERS
    # add_missing_indicator=False: 39 fields of 16, the peers' model size (they fill missing counts with
    # 0); needmap's default adds a missing-indicator field per numeric column that had missing values
    # (13 more fields here: FM pairs and DCN-v2's later cross layers a third to three quarters larger; the
    # first products fold each numeric field into one column, models/layers.py NumericFields).
    estimator = Model(
        model, target=LABEL, lr=LR, batch_size=BATCH, epochs=epochs, threads=threads, progress=False,
        precision=precision, device=device, seed=0, add_missing_indicator=False, **params,
    )  # fmt: skip
    # needmap reads the training rows' file itself, a column or a row group at a time (stream=True): the
    # file is never whole in memory.
    _, fit_s = timed(lambda: estimator.fit(train_file(data), validation=0, stream=True))
    result = estimator.result_
    train_rows = estimator.report_["train_rows"]
    out = CaseResult("needmap", model, precision, train_rows=train_rows, epochs=epochs, device=result.device)
    out.train_s = result.train_time_s
    out.train_rows_per_s = result.rows_per_s
    out.preprocess_s = fit_s - result.train_time_s
    out.end_to_end_s = fit_s
    streamed = estimator.report_["streamed_each_epoch"]
    kept = (
        "streamed from the file each epoch through the shuffle buffer (their encoding is inside train_s)"
        if streamed
        else "encoded once and held in memory (ids int32)"
    )
    out.notes.append(
        f"Model.fit(train file, stream=True): statistics one column at a time, training rows {kept}; "
        f"preprocess_s = everything in Model.fit but the training steps; embedding updates "
        f"{result.embedding_updates}; no missing-indicator fields (the peers' 39 fields)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        # `needmap predict`'s path: the file read a chunk at a time, scores appended to the output.
        scores = Path(tmp) / "scores.parquet"
        (_, out.test_rows, _), out.score_s = timed(lambda: predict_stream(estimator, test_file(data), scores))
        probs = pq.read_table(scores).column("score").to_numpy()
    out.score_rows_per_s = out.test_rows / out.score_s
    out.test_auc = auc(pq.read_table(test_file(data), columns=[LABEL]).column(LABEL).to_numpy(), probs)
    # Batch predict on encoded rows: the test file's first row group (100,000 rows).
    first = pq.ParquetFile(test_file(data)).read_row_group(0)
    encoded = estimator.preprocessor_.transform(first)
    _, predict_s = timed(lambda: predict_proba(estimator.network_, encoded))
    out.predict_rows_per_s = first.num_rows / predict_s
    first = encoded = None  # the harness keeps no table of its own while the one-row test runs
    rows = raw_rows(data)
    out.one_row_p50_ms, out.one_row_p99_ms = one_row_latency(lambda row: estimator.predict_proba(row), rows)
    return out


def needmap_command() -> list[str]:
    """How this environment runs the ``needmap`` command: the ``needmap`` script beside this Python, else
    ``python -m needmap``."""
    script = Path(sys.executable).parent / ("needmap.exe" if os.name == "nt" else "needmap")
    return [str(script)] if script.exists() else [sys.executable, "-m", "needmap"]


def _baseline_rows(metrics: dict[str, Any]) -> Any:
    """The baselines' sample size where metrics.json records one (none of these keys exists today: None)."""
    keys = ("baseline_rows", "baseline_sample", "baseline_sample_rows", "baselines_rows")
    for where in (metrics, metrics.get("report") or {}, metrics.get("baselines_info") or {}):
        for key in keys:
            if isinstance(where, dict) and where.get(key) is not None:
                return where[key]
    return None


def needmap_cli_case(
    model: str,
    data: Path,
    threads: int,
    epochs: int,
    precision: str,
    device: str,
    *,
    embedding_dim: int = EMBEDDING_DIM,
    hidden: tuple[int, ...] = HIDDEN,
    batch_size: int = BATCH,
    cross_layers: int = CROSS_LAYERS,
) -> CaseResult:
    """``needmap train`` as a user runs it, on the whole file, in a process of its own: it splits off its own
    test rows (20%, stratified) and validation rows (10% of the rest), trains the network and the two baselines
    (the default), chooses the scorer, evaluates and writes the model directory. Measured: the command's wall
    time and peak RSS, and from its metrics.json the training time and rows/s, the seconds per phase and the
    test AUCs. ``embedding_dim``, ``hidden``, ``batch_size`` and ``cross_layers`` are the benchmark's sizes;
    other values are for tests only."""
    import shlex

    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) / "model"
        command = [
            *needmap_command(), "train", str(data), "--target", LABEL, "--model", model,
            "--embedding-dim", str(embedding_dim), "--hidden", ",".join(map(str, hidden)),
            "--batch-size", str(batch_size), "--epochs", str(epochs), "--lr", str(LR), "--seed", "1",
            "--threads", str(threads), "--device", device,
        ]  # fmt: skip
        if model == "dcnv2":
            command += ["--param", f"cross_layers={cross_layers}"]
        if precision != "fp32":
            command += ["--precision", precision]
        command += ["--out", str(out_dir)]
        log = Path(tmp) / "output.txt"
        code, wall, peak_mb = run_measured(command, log)
        if code != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(f"needmap train exited {code}: {tail}")
        metrics = json.loads((out_dir / "metrics.json").read_text())
    training = metrics.get("training") or {}
    report_ = metrics.get("report") or {}
    network = metrics.get("network_test") or metrics["test"]
    selection = metrics.get("selection") or {}
    out = CaseResult(
        "needmap-cli", model, precision, device=training.get("device") or device,
        train_rows=int(report_.get("train_rows") or 0), test_rows=int(report_.get("test_rows") or 0),
        epochs=int(training.get("epochs_run") or epochs),
    )  # fmt: skip
    shown = [str(data.relative_to(REPO)) if arg == str(data) and data.is_relative_to(REPO) else arg for arg in command]
    shown[-1] = "<tmp dir>"  # --out's folder, gone with the case
    out.command = shlex.join(["needmap", *shown[len(needmap_command()) :]])
    out.command_s = out.end_to_end_s = wall
    out.command_peak_rss_mb = peak_mb
    out.train_s = training.get("wall_time_s")
    out.train_rows_per_s = training.get("rows_per_s")
    out.phases = metrics.get("phases")
    if out.phases:
        out.preprocess_s = sum(out.phases.get(k, 0.0) for k in ("read", "infer", "split", "prepare"))
    out.test_auc = network.get("auc")
    out.scorer = selection.get("scorer")
    out.scorer_test_auc = metrics["test"].get("auc")
    out.baseline_test_auc = {name: m.get("auc") for name, m in (metrics.get("baselines") or {}).items()}
    out.baseline_rows = _baseline_rows(metrics)
    valid_rows = report_.get("validation_rows") or 0
    out.notes.append(
        f"`needmap train` on the whole file, its own split ({out.train_rows:,} training rows, {valid_rows:,} "
        f"validation, {out.test_rows:,} test), missing-indicator fields on (its default), baselines on; "
        "raw file to model s = the command's wall time, its interpreter start to its exit; preprocess s = its "
        "read, infer, split and prepare phases; peak RSS (its workers) = this case's process (the command's)"
    )
    return out


def lightgbm_case(model: str, data: Path, threads: int, epochs: int, precision: str) -> CaseResult:
    """LightGBM on the same split; categories as pandas categoricals (its native categorical splits)."""
    import lightgbm as lgb
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    def frame(table: Any, categories: dict[str, Any] | None = None) -> pd.DataFrame:
        df = table.select(NUMERIC + CATEGORICAL).to_pandas()
        for column in NUMERIC:
            df[column] = df[column].astype("float64")
        for column in CATEGORICAL:
            df[column] = pd.Categorical(df[column], categories=None if categories is None else categories[column])
        return df

    def prepare() -> tuple[Any, pd.DataFrame, Any]:
        table = pq.read_table(data)
        train_rows, _ = split_rows(table.num_rows)
        x = frame(table.slice(0, train_rows.stop))
        return table, x, table.column(LABEL).to_numpy()[: train_rows.stop]

    (table, x, y), preprocess_s = timed(prepare)
    params = {"objective": "binary", "num_leaves": 63, "learning_rate": 0.1, "num_threads": threads, "verbose": -1}
    booster, train_s = timed(lambda: lgb.train(params, lgb.Dataset(x, y), num_boost_round=LIGHTGBM_ROUNDS))
    categories = {c: x[c].cat.categories for c in CATEGORICAL}
    _, test_rows = split_rows(table.num_rows)
    out = CaseResult("lightgbm", model, precision, train_rows=len(x), epochs=1)
    out.preprocess_s, out.train_s = preprocess_s, train_s
    out.train_rows_per_s = len(x) / train_s
    out.end_to_end_s = preprocess_s + train_s
    out.notes.append(
        f"{LIGHTGBM_ROUNDS} boosting rounds of 63 leaves; train_rows_per_s = rows / fit seconds; one row as "
        "numpy floats and category codes"
    )
    test = table.slice(test_rows.start)
    out.test_rows = test.num_rows
    x_test = frame(test, categories)
    probs, predict_s = timed(lambda: booster.predict(x_test))
    out.predict_rows_per_s = test.num_rows / predict_s
    out.test_auc = auc(test.column(LABEL).to_numpy(), probs)

    with tempfile.TemporaryDirectory() as tmp:

        def score() -> None:
            raw = pq.read_table(test_file(data))
            scores = booster.predict(frame(raw, categories))
            pd.DataFrame({"score": scores}).to_parquet(Path(tmp) / "scores.parquet")

        _, out.score_s = timed(score)
    out.score_rows_per_s = test.num_rows / out.score_s

    # One row as LightGBM's own codes: numerics as floats, each category as its training code (the
    # order of the pandas categories it was trained on), unseen or missing as NaN.
    codes = {c: {v: float(k) for k, v in enumerate(categories[c])} for c in CATEGORICAL}

    def one(row: dict[str, Any]) -> Any:
        values = [math.nan if row[c] is None else float(row[c]) for c in NUMERIC]
        values += [codes[c].get(row[c], math.nan) for c in CATEGORICAL]
        return booster.predict(np.array([values]))

    out.one_row_p50_ms, out.one_row_p99_ms = one_row_latency(one, raw_rows(data))
    return out


def run_case(spec: str, data: Path, threads: int, epochs: int, device: str = "cpu") -> CaseResult:
    """The case ``library:model:precision`` in this process, training on ``device`` ('cpu' or 'cuda')."""
    library, model, precision = spec.split(":")
    if library == "needmap":
        return needmap_case(model, data, threads, epochs, precision, device)
    if library == "needmap-cli":
        return needmap_cli_case(model, data, threads, epochs, precision, device)
    if library == "deepctr":
        from benchmarks.peers.deepctr_speed import run_case as deepctr_run

        return deepctr_run(model, data, threads, epochs, precision, device)
    if device != "cpu":
        raise ValueError(f"the case {spec!r} runs on the CPU only in this benchmark; --device is {device!r}")
    if library == "lightgbm":
        return lightgbm_case(model, data, threads, epochs, precision)
    if library == "fuxictr":
        from benchmarks.peers.fuxictr_speed import run_case as fuxictr_run

        return fuxictr_run(model, data, threads, epochs, precision)
    raise ValueError(
        f"unknown library {library!r} in case {spec!r}; expected needmap, needmap-cli, deepctr, fuxictr or lightgbm"
    )


# -- the run ----------------------------------------------------------------------------------------
def run_in_child(spec: str, data: Path, threads: int, epochs: int, timeout: float, device: str) -> dict[str, Any]:
    """Run one case in a fresh process; its CaseResult dict (with the process's peak RSS)."""
    command = [sys.executable, "-m", "benchmarks.bench_speed", "--case", spec, "--data", str(data)]
    command += ["--threads", str(threads), "--epochs", str(epochs), "--device", device]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        return {"case": spec, "error": f"exit {proc.returncode}: {tail}", "process_s": wall}
    result = read_result(proc.stdout)
    result["case"], result["process_s"] = spec, wall
    return result


def parse_matmul(text: str) -> dict[str, dict[str, float]]:
    """The GFLOP/s of benchmarks/bench_matmul.py's Markdown table: {shape: {kernel: GFLOP/s}}."""
    rows = [line for line in text.splitlines() if line.startswith("|") and not line.startswith("|---")]
    if not rows:
        return {}
    kernels = [cell.strip() for cell in rows[0].strip("|").split("|")][1:]
    out: dict[str, dict[str, float]] = {}
    for row in rows[1:]:
        shape, *cells = (cell.strip() for cell in row.strip("|").split("|"))
        out[shape] = {kernel: float(cell) for kernel, cell in zip(kernels, cells, strict=False) if cell}
    return out


def matmul_probe(threads: int, timeout: float) -> dict[str, Any]:
    """benchmarks/bench_matmul.py once, in a child process: its command, seconds, printed lines (a header
    line and the GFLOP/s table) and the table parsed (:func:`parse_matmul`), or an ``error``."""
    command = [sys.executable, "-m", "benchmarks.bench_matmul", "--threads", str(threads)]
    shown = f"python -m benchmarks.bench_matmul --threads {threads}"
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"command": shown, "error": f"ran past {timeout:.0f} s"}
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        return {"command": shown, "error": f"exit {proc.returncode}: {tail}", "seconds": seconds}
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return {"command": shown, "seconds": seconds, "lines": lines, "gflops": parse_matmul(proc.stdout)}


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "–"


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def rss(result: dict[str, Any]) -> str:
    """Peak RSS in MB, with the largest of the processes the case started in parentheses."""
    own = fmt(result.get("peak_rss_mb"))
    children = result.get("children_peak_rss_mb")
    return own if not children else f"{own} ({fmt(children)})"


#: The DeepCTR-Torch case a needmap-cli case's end-to-end time is set beside, per model.
DEEPCTR_PEER = {"deepfm": "deepctr:deepfm:fp32", "dcnv2": "deepctr:dcn:fp32"}


def command_lines(results: list[dict[str, Any]]) -> list[str]:
    """The needmap-cli cases (``needmap train`` run whole): the command beside its training, its peak RSS (and
    beside ``Model.fit``'s, the ``needmap`` case of the same model and precision, when it ran too), the test AUCs
    of the network, the scorer it answers with and each baseline, its end-to-end time beside DeepCTR-Torch's
    (:data:`DEEPCTR_PEER`, when that case ran too), and a line of phases per case."""
    cli = [r for r in results if r.get("library") == "needmap-cli" and "error" not in r]
    if not cli:
        return []
    ok = {r["case"]: r for r in results if "error" not in r}
    lines = [
        "",
        "`needmap train` run whole (needmap-cli cases: its own split, validation, baselines, selection, "
        "evaluation and writing; raw file to model = the command's wall time):",
        "",
        "| case | command s | training s | command / training | train rows/s | command peak RSS MB "
        "| command peak / Model.fit's | network test AUC | answers with (test AUC) | baselines' test AUC "
        "| baseline rows | command / DeepCTR-Torch end to end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in cli:
        peer = ok.get(DEEPCTR_PEER.get(r["model"], ""))
        versus = f"{ratio(r['command_s'], peer['end_to_end_s'])} ({peer['case']})" if peer else "–"
        fit = ok.get(f"needmap:{r['model']}:{r['precision']}")
        memory = (
            f"{ratio(r['command_peak_rss_mb'], fit['peak_rss_mb'])} ({fmt(fit['peak_rss_mb'])} MB)"
            if fit and fit.get("peak_rss_mb") and r.get("command_peak_rss_mb")
            else "–"
        )
        bases = ", ".join(f"{name} {fmt(v, 4)}" for name, v in (r.get("baseline_test_auc") or {}).items()) or "–"
        scorer = f"{r['scorer']} ({fmt(r.get('scorer_test_auc'), 4)})" if r.get("scorer") else "–"
        baseline_rows = r.get("baseline_rows")
        sample = f"{baseline_rows:,}" if isinstance(baseline_rows, int) else str(baseline_rows or "–")
        whole = ratio(r["command_s"], r["train_s"])
        lines.append(
            f"| {r['case']} | {fmt(r['command_s'], 1)} | {fmt(r['train_s'], 1)} | {whole} "
            f"| {fmt(r['train_rows_per_s'])} | {fmt(r.get('command_peak_rss_mb'))} | {memory} "
            f"| {fmt(r['test_auc'], 4)} | {scorer} | {bases} | {sample} | {versus} |"
        )
    lines.append("")
    for r in cli:
        phases = r.get("phases") or {}
        listed = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())
        lines.append(
            f"- phases ({r['case']}): {listed or '–'} (of {sum(phases.values()):.1f} s; the command "
            f"{fmt(r['command_s'], 1)} s): `{r.get('command')}`"
        )
    return lines


def matmul_lines(probe: dict[str, Any] | None) -> list[str]:
    """The matmul probe's table (benchmarks/bench_matmul.py, GFLOP/s) as it printed it, or why it is missing."""
    if not probe:
        return []
    if "error" in probe:
        return ["", f"Matmul probe (benchmarks/bench_matmul.py) failed: {probe['error'].splitlines()[-1][:200]}"]
    said = [line for line in probe["lines"] if not line.startswith("|")]
    table = [line for line in probe["lines"] if line.startswith("|")]
    return [
        "",
        f"Matmul probe of this CPU, GFLOP/s (`{probe['command']}`, {probe['seconds']:.0f} s, run before the cases): "
        + " ".join(said),
        "",
        *table,
    ]


def report(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The Markdown table of every case, then needmap's ratios to the fastest peer deep model."""
    lines = [
        f"Data: {meta['data']} ({meta['rows']:,} rows: {meta['train_rows']:,} train, {meta['test_rows']:,} test); "
        f"{meta['epochs']} epoch(s); torch threads {meta['threads']}; {meta['cpu']}; {meta['when']}."
        + (f" Training on {meta['gpu']} (preprocessing and scoring on the CPU)." if meta.get("gpu") else ""),
        "",
        f"Command: `{meta['command']}`",
        "",
        "| case | train rows/s | train s | preprocess s | raw file to model s | scoring rows/s (raw to file) "
        "| batch predict rows/s | 1-row p50 ms | 1-row p99 ms | peak RSS MB (its workers) | test AUC |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['case']} | failed: {r['error'].splitlines()[-1][:120]} |||||||||| ")
            continue
        lines.append(
            f"| {r['case']} | {fmt(r['train_rows_per_s'])} | {fmt(r['train_s'], 1)} | {fmt(r['preprocess_s'], 1)} "
            f"| {fmt(r['end_to_end_s'], 1)} | {fmt(r['score_rows_per_s'])} | {fmt(r['predict_rows_per_s'])} "
            f"| {fmt(r['one_row_p50_ms'], 2)} | {fmt(r['one_row_p99_ms'], 2)} | {rss(r)} "
            f"| {fmt(r['test_auc'], 4)} |"
        )
    ok = {r["case"]: r for r in results if "error" not in r}
    lines += ["", "Ratios needmap / peer (train rows/s; raw file to trained model, lower is better for needmap):", ""]
    pairs = [
        ("deepfm", ("deepctr:deepfm:fp32", "fuxictr:deepfm:fp32")),
        ("dcnv2", ("deepctr:dcn:fp32", "fuxictr:dcnv2:fp32")),
    ]
    for model, peers in pairs:
        for precision in ("fp32", "bf16"):
            mine = ok.get(f"needmap:{model}:{precision}")
            if not mine:
                continue
            for peer in peers:
                theirs = ok.get(peer)
                if theirs:
                    train = ratio(mine["train_rows_per_s"], theirs["train_rows_per_s"])
                    lines.append(
                        f"- needmap {model} {precision} / {peer}: train {train}, "
                        f"end to end {ratio(mine['end_to_end_s'], theirs['end_to_end_s'])} of its time, "
                        f"scoring {ratio(mine['score_rows_per_s'], theirs['score_rows_per_s'])}"
                    )
    extra = command_lines(results) + matmul_lines(meta.get("matmul"))
    lines += [*extra, ""] if extra else []
    for r in results:
        for note in r.get("notes") or []:
            lines.append(f"- note ({r['case']}): {note}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="Criteo-shaped Parquet file")
    parser.add_argument(
        "--rows", default="1m", help="1m, 3m or 10m: benchmarks/data/criteo_like_<rows>.parquet (made if missing)"
    )
    parser.add_argument("--cases", default=DEFAULT_CASES, help="comma list of library:model:precision")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="where needmap and DeepCTR-Torch train: cpu or cuda")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a case may run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--matmul",
        action="store_true",
        help="run benchmarks/bench_matmul.py once before the cases (not free) and put its GFLOP/s in the report",
    )
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    data = args.data or REPO / "benchmarks" / "data" / f"criteo_like_{args.rows}.parquet"
    if args.case:
        emit(run_case(args.case, data, args.threads, args.epochs, args.device))
        return 0
    if not data.exists():
        rows = {"1m": 1_000_000, "3m": 3_000_000, "10m": 10_000_000}[args.rows]
        subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "make_criteo_like.py"), "--rows", str(rows), "--out", str(data)],
            check=True,
        )
    import pyarrow.parquet as pq

    write_split_files(data)
    n = pq.ParquetFile(data).metadata.num_rows
    train_rows, test_rows = split_rows(n)
    cpu = cpu_info()
    meta: dict[str, Any] = {
        "data": str(data.relative_to(REPO) if data.is_relative_to(REPO) else data),
        "rows": n,
        "train_rows": train_rows.stop,
        "test_rows": n - test_rows.start,
        "epochs": args.epochs,
        "threads": args.threads,
        "cpu": cpu_line(cpu),
        "cpu_info": cpu,
        "device": args.device,
        "gpu": gpu_name() if args.device != "cpu" else None,
        "cores": os.cpu_count(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "benchmarks/.venv-peers/bin/python -m benchmarks.bench_speed " + shlex.join(sys.argv[1:]),
    }
    if args.matmul:
        print("[matmul probe] running ...", flush=True)
        meta["matmul"] = matmul_probe(args.threads, args.timeout)
        print(f"[matmul probe] {meta['matmul'].get('error') or meta['matmul']['gflops']}", flush=True)
    results = []
    for spec in filter(None, args.cases.split(",")):
        print(f"[{spec}] running ...", flush=True)
        result = run_in_child(spec, data, args.threads, args.epochs, args.timeout, args.device)
        results.append(result)
        shown = result.get("error") or {k: result.get(k) for k in ("train_rows_per_s", "end_to_end_s", "test_auc")}
        print(f"[{spec}] {shown}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"speed_{data.stem}"
    (args.out / f"{stem}.json").write_text(json.dumps({"meta": meta, "cases": results}, indent=1))
    text = report(results, meta)
    (args.out / f"{stem}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
