"""Training rows that arrive in chunks: mini-batches through a shuffle buffer, for data larger than memory.

A :class:`TrainingStream` yields, each epoch, the training rows as encoded chunks (a FeatureBatch and
the positions of its rows among the training rows, which index the targets) in an order its source
draws anew each epoch (row groups of a file in a random order, say). :func:`shuffled_batches` mixes
them in a buffer of at most ``buffer_rows`` rows: whenever the buffer is full it is permuted, every
full batch but the last half-buffer is handed out, and the rest waits for the next chunks, so that a
batch mixes rows from several chunks. Memory stays at the buffer, whatever the number of rows; a file
sorted by time or by label is mixed only within about a buffer's span, so keep the buffer large
against the file's runs (rows of one day, one customer, one label) or shuffle the file once beforehand.

Chunks are kept compact in the buffer: categorical ids as int32 (int64 again in each batch). A
background thread reads and encodes the next chunks while the training steps run (:data:`PREFETCH_CHUNKS`
ahead: Arrow, DuckDB and numpy release the interpreter lock while they work), so reading overlaps
training; the order of the chunks is drawn before, so the seed still fixes the order of the rows.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from needmap.preprocessing.batch import FeatureBatch
from needmap.runtime.device import usable_cores

#: Rows the shuffle buffer holds by default: 1,000,000 Criteo-shaped rows (13 numeric, 26 categorical
#: columns) take about 160 MB in it.
DEFAULT_BUFFER_ROWS = 1_000_000

#: Chunks the background thread encodes ahead of the training steps (0: none, in the training thread).
PREFETCH_CHUNKS = 2

Chunks = Callable[[np.random.Generator], Iterator[tuple[FeatureBatch, np.ndarray]]]


def read_ahead_chunks() -> int:
    """Chunks to read and encode ahead in a background thread while the model trains or scores:
    :data:`PREFETCH_CHUNKS` when a core is left beside torch's threads, else 0 (reading, encoding and
    the model's work take turns, and a chunk's columns are encoded on every core). With every core
    multiplying, a reader thread beside them stalls torch's threads more than it saves (DeepFM scoring
    a Criteo-shaped file with 2 torch threads on 2 cores was slower with the thread than without;
    benchmarks/results/HISTORY.md)."""
    return PREFETCH_CHUNKS if usable_cores() > torch.get_num_threads() else 0


def encode_threads(read_ahead: int) -> int:
    """Threads that encode a chunk's columns (``Preprocessor.transform(threads=...)``): 1 when a reader
    thread encodes beside the model (``read_ahead`` > 0), else every core (they wait for the chunk)."""
    return 1 if read_ahead else usable_cores()


@dataclass
class TrainingStream:
    """The training rows of a source read in chunks.

    Attributes:
        rows: how many training rows every epoch yields.
        chunks: ``chunks(rng)`` yields ``(features, positions)`` pairs: a FeatureBatch of some rows and
            int64 ``[len(features)]`` positions of those rows among the ``rows`` training rows (each
            position once per epoch); ``rng`` draws the epoch's order of chunks.
        buffer_rows: rows of the shuffle buffer (see the module docstring).
        prefetch: chunks encoded ahead in a background thread (0: in the training thread).
    """

    rows: int
    chunks: Chunks
    buffer_rows: int = DEFAULT_BUFFER_ROWS
    prefetch: int = PREFETCH_CHUNKS

    def __len__(self) -> int:
        return self.rows

    def batches(
        self, batch_size: int, rng: np.random.Generator, check: Callable[[FeatureBatch], None] | None = None
    ) -> Iterator[tuple[FeatureBatch, np.ndarray]]:
        """One epoch of shuffled mini-batches (:func:`shuffled_batches`); ``check`` sees each chunk first."""
        # The chunks' own generator is drawn here, in the training thread: the seed fixes their order
        # whichever thread reads them.
        chunks = self.chunks(np.random.default_rng(int(rng.integers(2**63))))
        chunks = prefetched(chunks, self.prefetch)
        if check is not None:
            chunks = _checked(chunks, check)
        return shuffled_batches(chunks, batch_size, self.buffer_rows, rng)


_END = object()


def prefetched(items: Iterator[Any], depth: int) -> Iterator[Any]:
    """``items`` produced by a background thread up to ``depth`` ahead; its exception is raised here. The
    thread stops when the consumer stops early (the generator is closed). ``depth`` < 1: ``items`` as
    they are, no thread."""
    if depth < 1:
        yield from items
        return
    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        handoff.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put((_END, None))
        except BaseException as err:
            handoff.put((_END, err))

    worker = threading.Thread(target=produce, name="needmap-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, err = handoff.get()
            if item is _END:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                handoff.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.1)


def _checked(
    chunks: Iterator[tuple[FeatureBatch, np.ndarray]], check: Callable[[FeatureBatch], None]
) -> Iterator[tuple[FeatureBatch, np.ndarray]]:
    for features, positions in chunks:
        check(features)
        yield features, positions


def _concat(parts: list[tuple[FeatureBatch, np.ndarray]]) -> tuple[FeatureBatch, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    batches = [p[0] for p in parts]
    lists = tuple(np.concatenate([b.lists[k] for b in batches]) for k in range(len(batches[0].lists)))
    merged = FeatureBatch(
        np.concatenate([b.numeric for b in batches]), np.concatenate([b.categorical for b in batches]), lists
    )
    return merged, np.concatenate([p[1] for p in parts])


def _widen(batch: FeatureBatch) -> FeatureBatch:
    return FeatureBatch(
        batch.numeric, batch.categorical.astype(np.int64), tuple(a.astype(np.int64) for a in batch.lists)
    )


def shuffled_batches(
    chunks: Iterator[tuple[FeatureBatch, np.ndarray]], batch_size: int, buffer_rows: int, rng: np.random.Generator
) -> Iterator[tuple[FeatureBatch, np.ndarray]]:
    """Mini-batches of ``batch_size`` rows (the last one of the epoch smaller) from ``chunks`` through a
    shuffle buffer of ``buffer_rows`` rows; each yields ``(features, positions)`` with int64 ids.

    Every row of every chunk comes out exactly once. The buffer holds at least two batches.
    """
    buffer_rows = max(buffer_rows, 2 * batch_size)
    parts: list[tuple[FeatureBatch, np.ndarray]] = []
    held = 0
    for features, positions in chunks:
        if len(features) == 0:
            continue
        parts.append((features.compact(), np.asarray(positions, dtype=np.int64)))
        held += len(features)
        if held < buffer_rows:
            continue
        merged, merged_positions = _concat(parts)
        order = rng.permutation(held)
        out = (held - buffer_rows // 2) // batch_size * batch_size
        for start in range(0, out, batch_size):
            index = order[start : start + batch_size]
            yield _widen(merged.take(index)), merged_positions[index]
        rest = order[out:]
        parts, held = [(merged.take(rest), merged_positions[rest])], len(rest)
        del merged, merged_positions
    if held:
        merged, merged_positions = _concat(parts)
        order = rng.permutation(held)
        for start in range(0, held, batch_size):
            index = order[start : start + batch_size]
            yield _widen(merged.take(index)), merged_positions[index]
