"""The datasets of the accuracy benchmark: (train, valid, test) Arrow tables and needmap column roles.

Every library is trained on ``train``, stops early on ``valid`` and is scored on ``test``; the split
is made here once per (dataset, seed), so all libraries see the same rows.

* ``bank``: UCI Bank Marketing, bank-additional-full (41,188 rows) without ``duration`` (it leaks
  the outcome); target ``y``. Roles as needmap infers them.
* ``shoppers``: Online Shoppers Purchasing Intention (12,330 sessions); target ``Revenue``. Roles as
  needmap infers them, except that the integer codes OperatingSystems, Browser, Region and
  TrafficType are categorical.
* ``movielens``: MovieLens latest-small (100,836 ratings) as click-through data: ``liked`` = rating
  >= 4. Features: ``userId``, ``movieId`` (categorical), ``genres`` (multi-hot, "|"-separated),
  ``tags`` (multi-hot: the movie's tags that users applied before this rating's time, most used
  first), ``history`` (behaviour sequence: the user's movies rated strictly before this rating's
  time, the last 50, sharing ``movieId``'s vocabulary). Split by time per user: each user's
  ratings in time order, the first 70% train, the next 10% valid, the last 20% test (the split
  does not depend on the seed).
* ``criteo_like``: the Parquet file of ``benchmarks/make_criteo_like.py`` (label, I1..I13 numeric,
  C1..C26 categorical).

bank, shoppers and criteo_like are split at random, stratified by the target, with the seed: 20%
test, 10% valid, 70% train.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import needmap as nm
from needmap.data.infer import infer_schema
from needmap.data.provenance import take_rows
from needmap.data.split import split_indices
from needmap.data.values import stringify
from needmap.schema import ColumnSpec, Schema

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CRITEO_LIKE = REPO / "benchmarks" / "data" / "criteo_like_1m.parquet"
DATASETS: tuple[str, ...] = ("bank", "shoppers", "movielens", "criteo_like")
TEST_SHARE = 0.2
VALID_SHARE = 0.1
HISTORY_LEN = 50
TAGS_LEN = 20
GENRES_LEN = 10


@dataclass
class BenchData:
    """One dataset, split.

    Attributes:
        name: dataset name (one of :data:`DATASETS`).
        train, valid, test: the three parts, with every column of the source.
        schema: needmap roles of the columns, the binary target and its classes.
        split: how the parts were drawn, in words.
    """

    name: str
    train: pa.Table
    valid: pa.Table
    test: pa.Table
    schema: Schema
    split: str

    @property
    def rows(self) -> dict[str, int]:
        return {"train": self.train.num_rows, "valid": self.valid.num_rows, "test": self.test.num_rows}


def load(
    name: str, seed: int, *, data_dir: Path = SHARED_DATA, criteo: Path = CRITEO_LIKE, criteo_rows: int | None = None
) -> BenchData:
    """Dataset ``name`` split for ``seed``; ValueError for an unknown name, FileNotFoundError for missing data."""
    if name == "bank":
        return bank(seed, data_dir)
    if name == "shoppers":
        return shoppers(seed, data_dir)
    if name == "movielens":
        return movielens(data_dir)
    if name == "criteo_like":
        return criteo_like(seed, criteo, criteo_rows)
    raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")


def _existing(path: Path, hint: str = "") -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist. {hint}".strip())
    return path


def stratified_parts(table: pa.Table, schema: Schema, seed: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Random (train, valid, test) parts of 70/10/20%, stratified by the target, drawn with ``seed``."""
    assert schema.target is not None
    labels = stringify(table.column(schema.target)).to_numpy(zero_copy_only=False)
    rest, test = split_indices(table.num_rows, method="stratified", test_size=TEST_SHARE, seed=seed, y=labels)
    share = VALID_SHARE / (1.0 - TEST_SHARE)
    train_pos, valid_pos = split_indices(len(rest), method="stratified", test_size=share, seed=seed + 1, y=labels[rest])
    return (
        take_rows(table, pa.array(rest[train_pos])),
        take_rows(table, pa.array(rest[valid_pos])),
        take_rows(table, pa.array(test)),
    )


def _split_words(seed: int) -> str:
    return "random, stratified by the target, one split per seed: 70% train, 10% valid, 20% test"


def bank(seed: int, data_dir: Path = SHARED_DATA) -> BenchData:
    path = _existing(data_dir / "bank_marketing" / "bank-additional-full.csv.gz")
    table = nm.read(path)
    schema = infer_schema(table, "y", drop=["duration"])
    return BenchData("bank", *stratified_parts(table, schema, seed), schema, _split_words(seed))


def shoppers(seed: int, data_dir: Path = SHARED_DATA) -> BenchData:
    path = _existing(data_dir / "online_shoppers_intention" / "online_shoppers_intention.csv.gz")
    table = nm.read(path)
    codes = ["OperatingSystems", "Browser", "Region", "TrafficType"]
    schema = infer_schema(table, "Revenue", categorical=codes)
    return BenchData("shoppers", *stratified_parts(table, schema, seed), schema, _split_words(seed))


def criteo_like(seed: int, path: Path = CRITEO_LIKE, rows: int | None = None) -> BenchData:
    """The generated file (its first ``rows`` rows when given)."""
    hint = f"Make it with: python benchmarks/make_criteo_like.py --rows 1000000 --out {path}"
    table = pq.read_table(_existing(path, hint))
    if rows is not None:
        table = table.slice(0, rows)
    numeric = [f"I{k}" for k in range(1, 14)]
    categorical = [f"C{j}" for j in range(1, 27)]
    columns = [_spec(table, "label", "target")]
    columns += [_spec(table, c, "numeric") for c in numeric] + [_spec(table, c, "categorical") for c in categorical]
    schema = Schema(columns, target="label", task="binary", classes=["0", "1"])
    return BenchData("criteo_like", *stratified_parts(table, schema, seed), schema, _split_words(seed))


def _spec(table: pa.Table, name: str, role: str, options: dict | None = None) -> ColumnSpec:
    return ColumnSpec(name, role, str(table.schema.field(name).type), "set by the benchmark", dict(options or {}))


# -- MovieLens ---------------------------------------------------------------------------------
def _read_csv(path: Path) -> pa.Table:
    return pacsv.read_csv(_existing(path))


def _lookup(keys: pa.Array | pa.ChunkedArray, table: pa.Table, key: str, value: str) -> pa.Array:
    """``table[value]`` at the row whose ``table[key]`` equals each of ``keys`` (null where none)."""
    index = pc.index_in(keys, value_set=table.column(key))
    return table.column(value).combine_chunks().take(index)


def movie_tags_as_of(tags: pa.Table, movies: np.ndarray, times: np.ndarray) -> pa.Array:
    """For each rating (``movies[i]`` rated at ``times[i]``, seconds): the movie's distinct tags (trimmed,
    lower case) that users applied strictly before that time, most used by then first (ties by the
    tag), as list<string> ``[n]``; null where the movie had no tag yet.

    Tags applied later, by anyone (the rating user included), are the future at that rating: a
    tag written after watching would leak the outcome into the features.
    """
    tag = pc.utf8_lower(pc.utf8_trim_whitespace(stringify(tags.column("tag"))))
    keep = pc.greater(pc.fill_null(pc.utf8_length(tag), 0), 0)
    cleaned = pa.table({"movieId": tags.column("movieId"), "timestamp": tags.column("timestamp"), "tag": tag}).filter(
        keep
    )
    cleaned = cleaned.sort_by([("movieId", "ascending"), ("timestamp", "ascending"), ("tag", "ascending")])
    tag_movies = cleaned.column("movieId").to_numpy()
    tag_times = cleaned.column("timestamp").to_numpy()
    tag_names = cleaned.column("tag").to_pylist()
    out: list[list[str] | None] = [None] * len(movies)
    starts = np.flatnonzero(np.r_[True, tag_movies[1:] != tag_movies[:-1]]) if len(tag_movies) else np.array([], int)
    ends = np.r_[starts[1:], len(tag_movies)]
    movie_order = np.argsort(movies, kind="stable")
    sorted_movies = movies[movie_order]
    for start, end in zip(starts, ends, strict=True):
        movie = tag_movies[start]
        rows = movie_order[
            np.searchsorted(sorted_movies, movie, "left") : np.searchsorted(sorted_movies, movie, "right")
        ]
        if not len(rows):
            continue
        seen = np.searchsorted(tag_times[start:end], times[rows], side="left")  # tags strictly before
        lists: dict[int, list[str]] = {}
        for p in np.unique(seen):
            if p:
                counts: dict[str, int] = {}
                for name in tag_names[start : start + p]:
                    counts[name] = counts.get(name, 0) + 1
                lists[int(p)] = sorted(counts, key=lambda name: (-counts[name], name))
        for row, p in zip(rows.tolist(), seen.tolist(), strict=True):
            out[row] = lists.get(p)
    return pa.array(out, type=pa.list_(pa.string()))


def user_history(users: np.ndarray, times: np.ndarray, movies: np.ndarray, max_len: int = HISTORY_LEN) -> pa.Array:
    """For rows sorted by (user, time): the user's movies rated strictly earlier, the last ``max_len``,
    oldest first, as list<int64> ``[n]``. Rows at the same time as each other do not see one another."""
    n = len(users)
    position = np.arange(n, dtype=np.int64)
    new_user = np.ones(n, dtype=bool)
    new_user[1:] = users[1:] != users[:-1]
    new_time = new_user.copy()
    new_time[1:] |= times[1:] != times[:-1]
    user_start = np.maximum.accumulate(np.where(new_user, position, 0))
    time_start = np.maximum.accumulate(np.where(new_time, position, 0))
    begin = np.maximum(user_start, time_start - max_len)
    lengths = time_start - begin
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1] - begin, lengths)
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(movies[flat], type=pa.int64()))


def movielens_table(data_dir: Path = SHARED_DATA) -> pa.Table:
    """All ratings as CTR rows sorted by (userId, timestamp, movieId), with a ``part`` column:
    "train", "valid" or "test" by each user's time order (70/10/20%)."""
    root = data_dir / "movielens_latest_small"
    ratings = _read_csv(root / "ratings.csv.gz").sort_by(
        [("userId", "ascending"), ("timestamp", "ascending"), ("movieId", "ascending")]
    )
    movies = _read_csv(root / "movies.csv.gz")
    tags = _read_csv(root / "tags.csv.gz")
    users = ratings.column("userId").to_numpy()
    times = ratings.column("timestamp").to_numpy()
    movie_ids = ratings.column("movieId").to_numpy()
    n = len(users)
    position = np.arange(n)
    new_user = np.ones(n, dtype=bool)
    new_user[1:] = users[1:] != users[:-1]
    start = np.maximum.accumulate(np.where(new_user, position, 0))
    count = np.bincount(np.cumsum(new_user) - 1)[np.cumsum(new_user) - 1]
    rank = (position - start) / count
    part = np.where(rank < 1.0 - TEST_SHARE - VALID_SHARE, "train", np.where(rank < 1.0 - TEST_SHARE, "valid", "test"))
    liked = pc.cast(pc.greater_equal(ratings.column("rating"), 4.0), pa.int64())
    return pa.table(
        {
            "userId": ratings.column("userId"),
            "movieId": ratings.column("movieId"),
            "genres": _lookup(ratings.column("movieId"), movies, "movieId", "genres"),
            "tags": movie_tags_as_of(tags, movie_ids, times),
            "history": user_history(users, times, movie_ids),
            "timestamp": ratings.column("timestamp"),
            "liked": liked,
            "part": pa.array(part),
        }
    )


def movielens(data_dir: Path = SHARED_DATA) -> BenchData:
    table = movielens_table(data_dir)
    part = table.column("part")
    parts = [table.filter(pc.equal(part, name)).drop_columns(["part"]) for name in ("train", "valid", "test")]
    t = parts[0]
    columns = [
        _spec(t, "userId", "categorical"),
        _spec(t, "movieId", "categorical"),
        _spec(t, "genres", "multihot", {"separator": "|", "max_len": GENRES_LEN, "pooling": "mean"}),
        _spec(t, "tags", "multihot", {"max_len": TAGS_LEN, "pooling": "mean"}),
        _spec(t, "history", "sequence", {"max_len": HISTORY_LEN, "vocabulary_of": "movieId", "pooling": "mean"}),
        _spec(t, "timestamp", "ignored"),
        _spec(t, "liked", "target"),
    ]
    schema = Schema(columns, target="liked", task="binary", classes=["0", "1"])
    words = "by time per user: each user's ratings in time order, first 70% train, next 10% valid, last 20% test"
    return BenchData("movielens", *parts, schema, words)
