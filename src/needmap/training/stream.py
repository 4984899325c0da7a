"""Training rows that arrive in chunks: mini-batches through a shuffle buffer, for data larger than memory.

A :class:`TrainingStream` yields, each epoch, the training rows as encoded chunks (a FeatureBatch and
the positions of its rows among the training rows, which index the targets) in an order its source
draws anew each epoch (row groups of a file in a random order, say). :func:`shuffled_batches` mixes
them in a buffer of at most ``buffer_rows`` rows: whenever the buffer is full it is permuted, every
full batch but the last half-buffer is handed out, and the rest waits for the next chunks, so that a
batch mixes rows from several chunks. Memory stays at the buffer, whatever the number of rows; a file
sorted by time or by label is mixed only within about a buffer's span, so keep the buffer large
against the file's runs (rows of one day, one customer, one label) or shuffle the file once beforehand.

Chunks are kept compact in the buffer: categorical ids as int32 (int64 again in each batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from needmap.features.batch import FeatureBatch

#: Rows the shuffle buffer holds by default: 1,000,000 Criteo-shaped rows (13 numeric, 26 categorical
#: columns) take about 160 MB in it.
DEFAULT_BUFFER_ROWS = 1_000_000

Chunks = Callable[[np.random.Generator], Iterator[tuple[FeatureBatch, np.ndarray]]]


@dataclass
class TrainingStream:
    """The training rows of a source read in chunks.

    Attributes:
        rows: how many training rows every epoch yields.
        chunks: ``chunks(rng)`` yields ``(features, positions)`` pairs: a FeatureBatch of some rows and
            int64 ``[len(features)]`` positions of those rows among the ``rows`` training rows (each
            position once per epoch); ``rng`` draws the epoch's order of chunks.
        buffer_rows: rows of the shuffle buffer (see the module docstring).
    """

    rows: int
    chunks: Chunks
    buffer_rows: int = DEFAULT_BUFFER_ROWS

    def __len__(self) -> int:
        return self.rows

    def batches(
        self, batch_size: int, rng: np.random.Generator, check: Callable[[FeatureBatch], None] | None = None
    ) -> Iterator[tuple[FeatureBatch, np.ndarray]]:
        """One epoch of shuffled mini-batches (:func:`shuffled_batches`); ``check`` sees each chunk first."""
        chunks = self.chunks(rng)
        if check is not None:
            chunks = _checked(chunks, check)
        return shuffled_batches(chunks, batch_size, self.buffer_rows, rng)


def _checked(
    chunks: Iterator[tuple[FeatureBatch, np.ndarray]], check: Callable[[FeatureBatch], None]
) -> Iterator[tuple[FeatureBatch, np.ndarray]]:
    for features, positions in chunks:
        check(features)
        yield features, positions


def compact(batch: FeatureBatch) -> FeatureBatch:
    """Categorical ids as int32 when they fit (half the memory); numeric float32 as they are."""
    categorical = batch.categorical
    if categorical.dtype != np.int32 and (categorical.size == 0 or int(categorical.max()) < 2**31):
        categorical = categorical.astype(np.int32)
    lists = tuple(a.astype(np.int32) if a.size == 0 or int(a.max()) < 2**31 else a for a in batch.lists)
    return FeatureBatch(batch.numeric, categorical, lists)


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
        parts.append((compact(features), np.asarray(positions, dtype=np.int64)))
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
