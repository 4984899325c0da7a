"""needmap's seeded generator of Criteo-shaped click data, for the accuracy benchmark.

Columns, in the layout of the Criteo display-advertising logs:

* ``label``: int64 0/1, a click drawn from the true probability ``p = sigmoid(logit)``.
* ``I1..I13``: int64 counts with heavy tails (floored log-normals driven partly by a hidden row
  "activity"), each with its own share of missing values; ``I2`` also takes the values -1..-3.
* ``C1..C26``: categories as 8-character hex tokens. Each column has a cardinality between 3 and
  1,000,000 and draws its values' ranks from a Zipf law (a few values cover most rows, a long tail
  of rare ones); some columns have missing values.

The logit is the sum of, each standardized once on a fixed calibration sample:

* main effects of every category value (missing has an effect of its own per column);
* FM-style pairwise interactions: for the pairs in :data:`PAIRS`, the dot product of rank-4
  factor vectors of the two values;
* numeric x categorical interactions: for :data:`NUM_CAT`, a per-value slope times ``log1p`` of
  the count;
* non-linear effects of the counts, effects of their missingness, and the hidden activity.

A value's effects are a pure function of (seed, column, value rank) computed by hashing, so no
table of a million effects is held in memory. Then a scale and a bias are set on the calibration
sample so that about 25% of the rows are positive.

Rows are generated in chunks of :data:`CHUNK_ROWS`, each from its own random stream seeded by
(seed, chunk number), and written to Parquet one chunk at a time: memory stays flat whatever
``--rows`` is, and the same seed and row count give a byte-identical file.

Beside the file, ``<out>.meta.json`` records the settings, the positive rate, the oracle AUC and
logloss of the true probabilities (no model can do better on average) and the AUC of the true
logit without its interaction terms (how much of the signal only interactions carry).

Usage: python benchmarks/make_criteo_like.py --rows 1000000 --out benchmarks/data/criteo_like_1m.parquet
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

VERSION = 1
DEFAULT_SEED = 7
CHUNK_ROWS = 100_000
CALIBRATION_ROWS = 50_000
TARGET_POSITIVE_RATE = 0.25
LOGIT_STD = 1.6  # std of the logit before the bias: sets how predictable the clicks are
RANK = 4  # rank of the pairwise interaction factors

N_INT = 13
# Cardinality, Zipf exponent and missing share of C1..C26.
CAT_CARDINALITY: tuple[int, ...] = (
    1_400, 550, 1_000_000, 420_000, 290, 22, 12_000, 600, 3, 90_000,
    5_500, 760_000, 3_100, 26, 14_000, 510_000, 10, 5_400, 2_100, 4,
    880_000, 17, 15, 250_000, 100, 130_000,
)  # fmt: skip
CAT_ZIPF: tuple[float, ...] = (
    1.1, 1.2, 1.02, 1.04, 1.3, 1.5, 1.1, 1.25, 0.6, 1.1,
    1.1, 1.03, 1.2, 1.4, 1.1, 1.04, 1.3, 1.1, 1.2, 0.8,
    1.02, 1.4, 1.35, 1.06, 1.3, 1.08,
)  # fmt: skip
CAT_MISSING: tuple[float, ...] = (
    0.0, 0.0, 0.04, 0.04, 0.0, 0.1, 0.0, 0.0, 0.0, 0.0,
    0.0, 0.04, 0.0, 0.0, 0.0, 0.04, 0.0, 0.0, 0.4, 0.4,
    0.04, 0.7, 0.0, 0.04, 0.4, 0.4,
)  # fmt: skip
# Log-normal location and scale of I1..I13, how much the hidden activity drives each, missing share.
INT_MU: tuple[float, ...] = (0.5, 1.8, 1.5, 1.4, 7.0, 3.2, 1.6, 2.4, 3.6, 0.3, 1.1, 0.2, 1.3)
INT_SIGMA: tuple[float, ...] = (1.3, 1.9, 1.3, 1.0, 1.9, 1.8, 1.4, 1.2, 1.4, 0.9, 1.1, 1.5, 1.2)
INT_LOAD: tuple[float, ...] = (0.5, 0.3, 0.6, 0.3, 0.7, 0.6, 0.6, 0.2, 0.5, 0.4, 0.6, 0.3, 0.5)
INT_MISSING: tuple[float, ...] = (0.44, 0.0, 0.2, 0.2, 0.03, 0.22, 0.04, 0.0, 0.04, 0.44, 0.04, 0.75, 0.2)
# Pairs of categorical columns (0-based) whose values interact through factor dot products.
PAIRS: tuple[tuple[int, int], ...] = (
    (0, 5), (1, 13), (4, 16), (6, 9), (7, 24), (10, 18), (2, 5), (3, 21), (12, 22), (14, 25), (8, 19), (11, 0),
)  # fmt: skip
# (count column, categorical column): a per-value slope on log1p(count).
NUM_CAT: tuple[tuple[int, int], ...] = ((1, 5), (4, 13), (6, 16), (10, 24), (2, 7))
# Weight of each standardized logit component.
WEIGHTS: dict[str, float] = {"main": 1.0, "pairs": 0.9, "numeric": 0.6, "num_cat": 0.6, "activity": 0.3}

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_MASK32 = np.uint64(0xFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer: a well-spread uint64 hash of uint64 ``x`` (same shape)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _key(seed: int, column: int, stream: int) -> np.uint64:
    """A uint64 key for one (seed, column, stream) of per-value quantities."""
    return _mix(np.array([(seed * 1_000_003 + column) * 1_009 + stream], dtype=np.uint64))[0]


def _value_normal(key: np.uint64, ranks: np.ndarray) -> np.ndarray:
    """Standard normal float64 ``[n]``, a fixed function of (key, rank): Box-Muller on two hashes."""
    with np.errstate(over="ignore"):
        h1 = _mix(ranks.astype(np.uint64) ^ key)
        h2 = _mix(h1 + np.uint64(0x632BE59BD9B4E019))
    u1 = ((h1 >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    u2 = (h2 >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def zipf_ranks(rng: np.random.Generator, n: int, cardinality: int, exponent: float) -> np.ndarray:
    """Ranks int64 ``[n]`` in ``[0, cardinality)``, rank r drawn with probability about ``(r+1)^-exponent``.

    Inverse CDF of the continuous power law on ``[1, cardinality + 1)``, floored: no table of
    ``cardinality`` weights is needed.
    """
    u = rng.random(n)
    top = float(cardinality + 1)
    if abs(exponent - 1.0) < 1e-9:
        x = np.exp(u * np.log(top))
    else:
        a = 1.0 - exponent
        x = (u * (top**a - 1.0) + 1.0) ** (1.0 / a)
    return np.minimum(np.floor(x).astype(np.int64) - 1, cardinality - 1)


@dataclass
class Chunk:
    """Rows of one chunk before they become a table.

    Attributes:
        ranks: int64 ``[n, 26]`` value rank of each categorical column.
        cat_missing: bool ``[n, 26]``.
        counts: int64 ``[n, 13]``.
        int_missing: bool ``[n, 13]``.
        parts: float64 ``[n]`` per logit component (unstandardized), by name.
    """

    ranks: np.ndarray
    cat_missing: np.ndarray
    counts: np.ndarray
    int_missing: np.ndarray
    parts: dict[str, np.ndarray]


class World:
    """What a seed fixes: the per-value effects (by hashing), the component scales and the bias."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1]))
        n_cat = len(CAT_CARDINALITY)
        self.cat_weight = rng.uniform(0.4, 1.0, size=n_cat)
        self.cat_missing_effect = rng.normal(0.0, 0.3, size=n_cat)
        self.int_missing_effect = rng.normal(0.0, 0.25, size=N_INT)
        self.num_cat_weight = rng.normal(0.0, 1.0, size=len(NUM_CAT))
        # Rare values carry less of the signal in high-cardinality columns, as in real logs.
        self.cat_scale = np.where(np.asarray(CAT_CARDINALITY) > 100_000, 0.6, 1.0)
        calibration = self.sample(np.random.default_rng(np.random.SeedSequence([self.seed, 2])), CALIBRATION_ROWS)
        self.component_std = {k: float(v.std()) or 1.0 for k, v in calibration.parts.items()}
        raw = self.combine(calibration.parts)
        self.scale = LOGIT_STD / float(raw.std())
        self.bias = _bias_for_rate(raw * self.scale, TARGET_POSITIVE_RATE)

    # -- one chunk ---------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int) -> Chunk:
        """Draw ``n`` rows' features and the parts of their true logit."""
        n_cat = len(CAT_CARDINALITY)
        ranks = np.empty((n, n_cat), dtype=np.int64)
        cat_missing = np.empty((n, n_cat), dtype=bool)
        for j, (card, expo) in enumerate(zip(CAT_CARDINALITY, CAT_ZIPF, strict=True)):
            ranks[:, j] = zipf_ranks(rng, n, card, expo)
            cat_missing[:, j] = rng.random(n) < CAT_MISSING[j]
        activity = rng.standard_normal(n)
        counts = np.empty((n, N_INT), dtype=np.int64)
        int_missing = np.empty((n, N_INT), dtype=bool)
        for k in range(N_INT):
            load = INT_LOAD[k]
            z = INT_MU[k] + INT_SIGMA[k] * (load * activity + np.sqrt(1.0 - load**2) * rng.standard_normal(n))
            counts[:, k] = np.maximum(np.floor(np.expm1(np.clip(z, -4.0, 15.0))), 0.0).astype(np.int64)
            if k == 1:
                counts[:, k] -= np.where(rng.random(n) < 0.04, rng.integers(1, 4, size=n), 0)
            int_missing[:, k] = rng.random(n) < INT_MISSING[k]
        return Chunk(
            ranks, cat_missing, counts, int_missing, self._parts(ranks, cat_missing, counts, int_missing, activity)
        )

    def _parts(
        self,
        ranks: np.ndarray,
        cat_missing: np.ndarray,
        counts: np.ndarray,
        int_missing: np.ndarray,
        activity: np.ndarray,
    ) -> dict[str, np.ndarray]:
        n = len(ranks)
        main = np.zeros(n)
        for j in range(ranks.shape[1]):
            effect = self.cat_scale[j] * self.cat_weight[j] * _value_normal(_key(self.seed, j, 0), ranks[:, j])
            main += np.where(cat_missing[:, j], self.cat_missing_effect[j], effect)
        pairs = np.zeros(n)
        for a, b in PAIRS:
            dot = np.zeros(n)
            for f in range(RANK):
                va = _value_normal(_key(self.seed, a, 10 + f), ranks[:, a])
                vb = _value_normal(_key(self.seed, b, 10 + f), ranks[:, b])
                dot += va * vb
            pairs += np.where(cat_missing[:, a] | cat_missing[:, b], 0.0, dot / np.sqrt(RANK))
        logs = np.where(int_missing, 0.0, np.log1p(np.maximum(counts, 0)))
        numeric = (
            np.tanh(logs[:, 0] - 1.0)
            - 0.2 * (logs[:, 2] - 2.0) ** 2
            + 0.7 * (logs[:, 4] > 6.5)
            + 0.5 * np.sin(1.2 * logs[:, 6])
            - 0.35 * logs[:, 10] * (logs[:, 3] > 1.4)
            + 0.3 * np.sqrt(logs[:, 8])
            + (int_missing * self.int_missing_effect).sum(axis=1)
        )
        num_cat = np.zeros(n)
        for w, (k, j) in zip(self.num_cat_weight, NUM_CAT, strict=True):
            slope = _value_normal(_key(self.seed, j, 50 + k), ranks[:, j])
            num_cat += w * np.where(int_missing[:, k] | cat_missing[:, j], 0.0, (logs[:, k] - 1.5) * slope)
        return {"main": main, "pairs": pairs, "numeric": numeric, "num_cat": num_cat, "activity": activity}

    def combine(self, parts: dict[str, np.ndarray], skip: tuple[str, ...] = ()) -> np.ndarray:
        """Weighted sum ``[n]`` of the standardized components (those in ``skip`` left out)."""
        std = getattr(self, "component_std", None) or {k: float(v.std()) or 1.0 for k, v in parts.items()}
        return sum(WEIGHTS[k] * parts[k] / std[k] for k in WEIGHTS if k not in skip)

    def logit(self, parts: dict[str, np.ndarray], skip: tuple[str, ...] = ()) -> np.ndarray:
        """The true logit ``[n]`` (components in ``skip`` left out)."""
        return self.combine(parts, skip) * self.scale + self.bias

    # -- tokens ------------------------------------------------------------------------------
    def tokens(self, column: int, ranks: np.ndarray, missing: np.ndarray) -> pa.StringArray:
        """8-hex-character tokens ``[n]`` of the values of categorical ``column``; null where missing."""
        h = _mix(ranks.astype(np.uint64) ^ _key(self.seed, column, 99)) & _MASK32
        shifts = np.arange(28, -1, -4, dtype=np.uint64)
        chars = _HEX[((h[:, None] >> shifts[None, :]) & np.uint64(0xF)).astype(np.intp)]
        n = len(ranks)
        offsets = np.arange(0, 8 * n + 1, 8, dtype=np.int32)
        validity = np.packbits(~missing, bitorder="little")
        return pa.StringArray.from_buffers(
            n,
            pa.py_buffer(offsets),
            pa.py_buffer(np.ascontiguousarray(chars)),
            pa.py_buffer(validity),
            null_count=int(missing.sum()),
        )


def _bias_for_rate(logit: np.ndarray, rate: float) -> float:
    """The bias b with mean(sigmoid(logit + b)) == rate, by bisection."""
    low, high = -20.0, 20.0
    for _ in range(80):
        mid = 0.5 * (low + high)
        if np.mean(1.0 / (1.0 + np.exp(-(logit + mid)))) > rate:
            high = mid
        else:
            low = mid
    return 0.5 * (low + high)


def column_names() -> list[str]:
    """``label, I1..I13, C1..C26``."""
    return ["label"] + [f"I{k + 1}" for k in range(N_INT)] + [f"C{j + 1}" for j in range(len(CAT_CARDINALITY))]


def chunk_table(world: World, chunk: Chunk, label: np.ndarray) -> pa.Table:
    """The Arrow table of one chunk: label int64, I1..I13 int64 (nulls), C1..C26 string (nulls)."""
    arrays: list[pa.Array] = [pa.array(label.astype(np.int64))]
    for k in range(N_INT):
        arrays.append(pa.array(chunk.counts[:, k], mask=chunk.int_missing[:, k]))
    for j in range(len(CAT_CARDINALITY)):
        arrays.append(world.tokens(j, chunk.ranks[:, j], chunk.cat_missing[:, j]))
    return pa.Table.from_arrays(arrays, names=column_names())


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for 0/1 labels ``y`` (ties get half credit)."""
    order = np.argsort(score, kind="stable")
    s, labels = score[order], y[order].astype(np.float64)
    _, starts, counts = np.unique(s, return_index=True, return_counts=True)
    mid_rank = np.repeat(starts + (counts + 1) / 2.0, counts)
    pos = labels.sum()
    neg = len(labels) - pos
    return float((mid_rank[labels == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def logloss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities ``p`` for 0/1 labels ``y``."""
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def generate(rows: int, out: str | os.PathLike[str], seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Write ``rows`` rows to the Parquet file ``out`` and its ``<out>.meta.json``; returns the meta.

    Both are written under temporary names and renamed into place. Raises ValueError for
    ``rows < 1``.
    """
    if rows < 1:
        raise ValueError(f"rows is {rows}; expected at least 1 row.")
    started = time.perf_counter()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    world = World(seed)
    world_seconds = time.perf_counter() - started
    labels, probs, probs_main = [], [], []
    partial = path.with_name(path.name + ".partial")
    writer: pq.ParquetWriter | None = None
    try:
        done, index = 0, 0
        while done < rows:
            n = min(CHUNK_ROWS, rows - done)
            rng = np.random.default_rng(np.random.SeedSequence([world.seed, 3, index]))
            chunk = world.sample(rng, n)
            p = 1.0 / (1.0 + np.exp(-world.logit(chunk.parts)))
            label = (rng.random(n) < p).astype(np.int8)
            table = chunk_table(world, chunk, label)
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema, compression="zstd")
            writer.write_table(table)
            labels.append(label)
            probs.append(p)
            probs_main.append(world.logit(chunk.parts, skip=("pairs", "num_cat")))
            done += n
            index += 1
    finally:
        if writer is not None:
            writer.close()
    os.replace(partial, path)
    y = np.concatenate(labels)
    p = np.concatenate(probs)
    meta = {
        "generator": "needmap benchmarks/make_criteo_like.py",
        "version": VERSION,
        "rows": int(rows),
        "seed": int(seed),
        "chunk_rows": CHUNK_ROWS,
        "positive_rate": float(y.mean()),
        "oracle_auc": auc(y, p),
        "oracle_logloss": logloss(y, p),
        "auc_without_interactions": auc(y, np.concatenate(probs_main)),
        "columns": column_names(),
        "cat_cardinality": list(CAT_CARDINALITY),
        "cat_zipf": list(CAT_ZIPF),
        "cat_missing": list(CAT_MISSING),
        "int_missing": list(INT_MISSING),
        "pairs": [list(pair) for pair in PAIRS],
        "num_cat": [list(pair) for pair in NUM_CAT],
        "weights": dict(WEIGHTS),
        "seconds": round(time.perf_counter() - started, 2),
        "world_seconds": round(world_seconds, 2),
    }
    meta_path = path.with_name(path.name + ".meta.json")
    partial_meta = meta_path.with_name(meta_path.name + ".partial")
    partial_meta.write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(partial_meta, meta_path)
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="number of rows to write")
    parser.add_argument("--out", required=True, help="Parquet file to write (its .meta.json goes beside it)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"world and row seed (default {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    meta = generate(args.rows, args.out, seed=args.seed)
    keys = ("rows", "positive_rate", "oracle_auc", "oracle_logloss", "auc_without_interactions", "seconds")
    print(json.dumps({k: meta[k] for k in keys}))


if __name__ == "__main__":
    main()
