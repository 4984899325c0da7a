"""The MovieLens rows of the accuracy benchmark see no tag from after the rating."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.datasets import movie_tags_as_of, movielens_table  # noqa: E402

# the ratings of users 1 to 120, their movies and those movies' tags (tests/datasets/ATTRIBUTION.md)
DATASETS = REPO / "tests" / "datasets"

TAGS = pa.table(
    {
        "userId": [1, 2, 3, 4, 5, 6],
        "movieId": [10, 10, 10, 10, 20, 20],
        "tag": ["Funny", " funny ", "dark", "zany", "", "epic"],
        "timestamp": [100, 200, 150, 300, 50, 400],
    }
)


def test_a_rating_sees_only_the_tags_applied_before_it() -> None:
    movies = np.array([10, 10, 10, 10, 10, 20, 20, 30])
    times = np.array([100, 101, 151, 201, 999, 400, 401, 500])
    got = movie_tags_as_of(TAGS, movies, times).to_pylist()
    assert got == [
        None,  # the first tag is applied at 100: not strictly before
        ["funny"],
        ["dark", "funny"],  # one use each: by the tag
        ["funny", "dark"],  # "Funny" and " funny " are one tag used twice by 201
        ["funny", "dark", "zany"],
        None,  # the empty tag is dropped and "epic" comes at 400
        ["epic"],
        None,  # a movie nobody tagged
    ]


def test_movielens_tags_come_from_before_each_rating() -> None:
    """The tags of each row are exactly the movie's tags first applied strictly before the rating, in the
    real files (a slice of them: all tags of the rated movies), counted here by a plain loop."""
    table = movielens_table(DATASETS)
    tags = pacsv.read_csv(DATASETS / "movielens_latest_small" / "tags.csv.gz")
    first = {}  # (movie, tag) -> first time applied
    for movie, tag, time in zip(
        tags.column("movieId").to_pylist(),
        tags.column("tag").to_pylist(),
        tags.column("timestamp").to_pylist(),
        strict=True,
    ):
        key = (movie, str(tag).strip().lower())
        if key[1]:
            first[key] = min(first.get(key, time), time)
    by_movie: dict[int, list[tuple[str, int]]] = {}
    for (movie, tag), time in first.items():
        by_movie.setdefault(movie, []).append((tag, time))
    rows = table.filter(pc.is_valid(table.column("tags")))
    assert 0 < rows.num_rows < table.num_rows
    checked = 0
    for movie, time, row_tags in zip(
        table.column("movieId").to_pylist(),
        table.column("timestamp").to_pylist(),
        table.column("tags").to_pylist(),
        strict=True,
    ):
        before = {tag for tag, applied in by_movie.get(movie, []) if applied < time}
        assert set(row_tags or []) == before and len(row_tags or []) == len(before), (movie, time, row_tags)
        assert row_tags is None or row_tags, (movie, time)  # no tag yet: null, not an empty list
        checked += len(before)
    assert checked >= rows.num_rows  # each row with tags was checked tag by tag
