"""What every library's case of the speed benchmark shares: the data, the split, the model sizes, the
measurements and how each is taken (see benchmarks/bench_speed.py).

Data: a Criteo-shaped Parquet file (``label``, ``I1..I13`` counts, ``C1..C26`` hex categories),
written by benchmarks/make_criteo_like.py. Split: the first 90% of the rows (in file order) train,
the last 10% are the test rows; every library reads the same rows. No validation pass, no early
stopping: training is exactly ``epochs`` passes, so throughput is training alone.

Model sizes (the issue's setting): embedding 16 for every categorical column, DNN 400-400-400 with
ReLU and no dropout, batch 4,096, Adam at lr 1e-3, no L2 penalties, 3 cross layers for DCN / DCN-v2.

A case is one library and one model, run in its own process (the parent reads its peak RSS), and
returns a :class:`CaseResult` as JSON on the last line of its stdout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TRAIN_SHARE = 0.9
EMBEDDING_DIM = 16
HIDDEN = (400, 400, 400)
BATCH_SIZE = 4096
LR = 1e-3
CROSS_LAYERS = 3
NUMERIC = [f"I{i}" for i in range(1, 14)]
CATEGORICAL = [f"C{i}" for i in range(1, 27)]
LABEL = "label"
ONE_ROW_REPEATS = 1000
RESULT_PREFIX = "CASE_RESULT "


@dataclass
class CaseResult:
    """One library x model x precision, measured in one process. Seconds are wall-clock.

    Attributes:
        library, model, precision: what ran ('fp32' or 'bf16').
        device: where the training steps ran ('cpu', 'cuda:0'); preprocessing and scoring run on the CPU.
        train_rows, test_rows: rows of the split.
        preprocess_s: raw file read + the library's preprocessing of the training rows (fit and
            transform into what its fit() reads).
        train_s: the library's fit() call alone, ``epochs`` passes over ``train_rows``.
        train_rows_per_s: ``train_rows * epochs / train_s``.
        end_to_end_s: raw file to trained model: ``preprocess_s + train_s`` (plus any step between).
        score_s: the test rows from their raw file (:func:`test_file`) to a scores file: read,
            preprocess with the fitted state, predict, write (``score_rows_per_s`` = test_rows / score_s).
        predict_rows_per_s: the library's batch predict on already-encoded test rows.
        one_row_p50_ms, one_row_p99_ms: predict of one raw row (a dict of column -> value),
            preprocessing included, over :data:`ONE_ROW_REPEATS` calls; None where the library has no
            such path (then ``notes`` says so).
        test_auc: AUC on the test rows after training.
        epochs: training passes.
        peak_rss_mb: the case process's own peak resident memory (set by :func:`emit`).
        children_peak_rss_mb: the largest peak of the processes it started (a library's workers, e.g.
            Ray's), or None when it started none. A forked child's peak counts the pages it shares with
            the parent at the fork, so this is an upper bound.
        notes: anything a reader must know to read the figures.

    The ``needmap-cli`` cases (the ``needmap train`` command run whole, in a process of its own) also fill:

        command: the command line that ran.
        command_s: the command's wall time, from its start to its exit (interpreter start, reading, training,
            baselines, evaluation, writing); ``end_to_end_s`` is the same figure.
        command_peak_rss_mb: the command process's peak RSS (os.wait4), apart from ``peak_rss_mb``.
        phases: seconds per phase of the run, as metrics.json keeps them (all but the writing).
        scorer, scorer_test_auc: the scorer the model answers with (its selection) and its test AUC
            (metrics["test"]); ``test_auc`` is the network's (metrics["network_test"] when another scorer
            answers).
        baseline_test_auc: each baseline's test AUC (metrics["baselines"]).
        baseline_rows: the rows the baselines were trained on when metrics.json records a sample size, else None.
    """

    library: str
    model: str
    precision: str = "fp32"
    device: str = "cpu"
    train_rows: int = 0
    test_rows: int = 0
    epochs: int = 1
    preprocess_s: float | None = None
    train_s: float | None = None
    train_rows_per_s: float | None = None
    end_to_end_s: float | None = None
    score_s: float | None = None
    score_rows_per_s: float | None = None
    predict_rows_per_s: float | None = None
    one_row_p50_ms: float | None = None
    one_row_p99_ms: float | None = None
    test_auc: float | None = None
    peak_rss_mb: float | None = None
    children_peak_rss_mb: float | None = None
    notes: list[str] = field(default_factory=list)
    command: str | None = None
    command_s: float | None = None
    command_peak_rss_mb: float | None = None
    phases: dict[str, float] | None = None
    scorer: str | None = None
    scorer_test_auc: float | None = None
    baseline_test_auc: dict[str, float] | None = None
    baseline_rows: Any = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def split_rows(n: int) -> tuple[slice, slice]:
    """(train, test) row slices of an n-row file: the first 90%, the last 10%."""
    cut = int(n * TRAIN_SHARE)
    return slice(0, cut), slice(cut, n)


def test_file(data: Path) -> Path:
    """The file of the test rows of ``data`` (its last 10%, every column), beside it: what each case
    scores "from the raw file to a scores file". :func:`write_split_files` makes it before the cases run."""
    return data.with_name(f"{data.stem}.test.parquet")


def train_file(data: Path) -> Path:
    """The file of the training rows of ``data`` (its first 90%, every column), beside it: what needmap's
    file path reads (``Model.fit(path)``); :func:`write_split_files` makes it before the cases run."""
    return data.with_name(f"{data.stem}.train.parquet")


def _copy_rows(data: Path, rows: slice, path: Path) -> None:
    """Rows ``rows`` of the Parquet file ``data`` into ``path``, a batch at a time (memory stays at a batch)."""
    import pyarrow.parquet as pq

    source = pq.ParquetFile(data)
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, source.schema_arrow) as writer:
        start = 0
        for batch in source.iter_batches(batch_size=100_000):
            lo, hi = max(rows.start, start), min(rows.stop, start + batch.num_rows)
            if hi > lo:
                writer.write_batch(batch.slice(lo - start, hi - lo), row_group_size=100_000)
            start += batch.num_rows
    tmp.replace(path)


def write_split_files(data: Path) -> tuple[Path, Path]:
    """Write :func:`train_file` and :func:`test_file` of ``data`` unless they exist (untimed, once per data
    file), in row groups of 100,000 rows."""
    import pyarrow.parquet as pq

    n = pq.ParquetFile(data).metadata.num_rows
    train, test = split_rows(n)
    for rows, path in ((train, train_file(data)), (test, test_file(data))):
        if not path.exists():
            _copy_rows(data, rows, path)
    return train_file(data), test_file(data)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """(fn(), wall seconds)."""
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def one_row_latency(predict_one: Callable[[dict[str, Any]], Any], rows: list[dict[str, Any]]) -> tuple[float, float]:
    """(p50, p99) in ms of ``predict_one(row)`` over :data:`ONE_ROW_REPEATS` calls cycling through ``rows``
    (raw rows as dicts), after 20 warm-up calls."""
    for row in rows[:20]:
        predict_one(row)
    times = np.empty(ONE_ROW_REPEATS)
    for i in range(ONE_ROW_REPEATS):
        row = rows[i % len(rows)]
        start = time.perf_counter()
        predict_one(row)
        times[i] = time.perf_counter() - start
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 99) * 1e3)


def auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(y), np.asarray(p, dtype=np.float64)))


def emit(result: CaseResult) -> None:
    """Print the case's result as the last stdout line, where the parent process reads it, with the
    process's peak RSS (KiB on Linux)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result.peak_rss_mb = own / 1024
    result.children_peak_rss_mb = children / 1024 if children else None
    print(RESULT_PREFIX + result.to_json(), flush=True)


def read_result(stdout: str) -> dict[str, Any]:
    """The CaseResult dict of a case process's stdout."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise ValueError("the case printed no result line")


def raw_rows(data: Path, count: int = 200) -> list[dict[str, Any]]:
    """The first ``count`` test rows (:func:`test_file`) as dicts (feature columns only), for one-row latency."""
    import pyarrow.parquet as pq

    # One batch of ``count`` rows, not the whole first row group: the harness adds no memory of its own
    # to a case's peak RSS.
    batches = pq.ParquetFile(test_file(data)).iter_batches(batch_size=count, columns=NUMERIC + CATEGORICAL)
    return next(batches).to_pylist()


def run_measured(command: list[str], log: Path, cwd: Path | None = None) -> tuple[int, float, float | None]:
    """Run ``command`` to its end, its stdout and stderr into the file ``log``: (exit code, wall seconds from
    its start to its exit, its peak RSS in MB from os.wait4, or None where there is no wait4)."""
    import os
    import subprocess
    import sys

    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        if not hasattr(os, "wait4"):  # Windows
            code = proc.wait()
            return code, time.perf_counter() - start, None
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    per_mb = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return proc.returncode, wall, usage.ru_maxrss / per_mb
