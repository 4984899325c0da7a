"""List features on a real slice of MovieLens (latest-small): genres as a multi-hot set, each user's
viewing history as a sequence that shares the movieId vocabulary, and a model trained end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import needmap as nm
from needmap.data.infer import infer_schema
from needmap.errors import ConfigError
from needmap.preprocessing.preprocess import Preprocessor

# the ratings of users 1 to 120, their movies and those movies' tags (tests/datasets/ATTRIBUTION.md)
MOVIELENS = Path(__file__).resolve().parents[1] / "datasets" / "movielens_latest_small"
ROWS = 3000
HISTORY = 10


def movies() -> pa.Table:
    return nm.read(MOVIELENS / "movies.csv.gz")


def rated_with_history(rows: int = ROWS) -> pa.Table:
    """The first ``rows`` ratings ordered by user and time, with ``history`` (list view of the movies
    the user rated before, oldest first), ``genres`` of the rated movie and ``liked`` (rating >= 4)."""
    ratings = nm.read(MOVIELENS / "ratings.csv.gz").slice(0, rows)
    ratings = ratings.sort_by([("userId", "ascending"), ("timestamp", "ascending")])
    user = ratings["userId"].to_numpy()
    n = len(user)
    first = np.r_[True, user[1:] != user[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    history = pa.ListViewArray.from_arrays(
        pa.array(start, pa.int32()), pa.array(np.arange(n) - start, pa.int32()), ratings["movieId"].combine_chunks()
    )
    catalogue = movies()
    genres = catalogue["genres"].take(pc.index_in(ratings["movieId"], catalogue["movieId"]))
    liked = pc.greater_equal(ratings["rating"], 4.0)
    return (
        ratings.drop_columns(["rating"])
        .append_column("history", history)
        .append_column("genres", genres)
        .append_column("liked", liked)
    )


def test_genres_are_inferred_as_a_pipe_multihot_and_encoded_in_order():
    table = movies().slice(0, 2000)
    schema = infer_schema(table)
    genres = schema.column("genres")
    assert (genres.role, genres.options) == ("multihot", {"separator": "|"})
    assert "lists separated by '|'" in genres.reason
    pre = Preprocessor(schema).fit(table)
    column = pre.list_columns_[0]
    tokens = pc.list_flatten(pc.split_pattern(table["genres"], "|")).to_pylist()
    by_frequency = sorted(set(tokens), key=lambda g: (-tokens.count(g), g))
    assert column.values == by_frequency and column.values[0] == "Drama"
    ids = pre.transform(table.slice(0, 1)).lists[0][0]  # Toy Story: Adventure|Animation|Children|Comedy|Fantasy
    names = ["Adventure", "Animation", "Children", "Comedy", "Fantasy"][: column.max_len]
    assert ids[: len(names)].tolist() == [column.values.index(g) + 2 for g in names]
    lengths = pc.list_value_length(pc.split_pattern(table["genres"], "|")).to_numpy()
    assert column.max_len == int(np.ceil(np.quantile(lengths, 0.95)))


def test_history_sequence_shares_the_movie_vocabulary_and_keeps_the_latest_items():
    table = rated_with_history()
    schema = infer_schema(
        table,
        "liked",
        categorical=["movieId"],
        sequence={"history": {"vocabulary_of": "movieId", "max_len": HISTORY}},
    )
    assert schema.column("history").role == "sequence" and schema.column("genres").role == "multihot"
    pre = Preprocessor(schema).fit(table)
    batch = pre.transform(table)
    movie = pre.categorical_names_.index("movieId")
    k = [s["name"] for s in pre.list_specs_].index("history")
    assert pre.list_specs_[k]["share"] == movie and pre.list_specs_[k]["cardinality"] == pre.cardinalities_[movie]
    seen = batch.lists[k]
    user = table["userId"].to_numpy()
    position = np.arange(len(user)) - np.maximum.accumulate(
        np.where(np.r_[True, user[1:] != user[:-1]], np.arange(len(user)), 0)
    )
    np.testing.assert_array_equal((seen != 0).sum(axis=1), np.minimum(position, HISTORY))
    later = np.flatnonzero(position > 0)
    last = seen[later, np.minimum(position[later], HISTORY) - 1]
    np.testing.assert_array_equal(last, batch.categorical[later - 1, movie])  # the movie rated just before
    deep = np.flatnonzero(position > HISTORY)
    np.testing.assert_array_equal(seen[deep, 0], batch.categorical[deep - HISTORY, movie])  # oldest item kept
    assert pre.report_["columns"]["history"]["truncated_rows"] == int((position > HISTORY).sum())


@pytest.mark.slow
def test_model_with_lists_hash_and_buckets_fits_predicts_and_round_trips(tmp_path):
    table = rated_with_history(1500)
    model = nm.Model(
        "mlp",
        target="liked",
        categorical=["movieId"],
        multihot=["genres"],
        sequence={"history": {"vocabulary_of": "movieId", "max_len": HISTORY}},
        hash={"userId": 500},
        bucketize={"timestamp": 4},
        epochs=2,
        hidden=(16,),
        embedding_dim=8,
        progress=False,
        seed=3,
    )
    model.fit(table)
    pre = model.preprocessor_
    assert pre.categorical_names_ == ["userId", "movieId", "timestamp"]
    assert pre.cardinalities_[0] == 502 and len(pre.report_["columns"]["timestamp"]["edges"]) == 3
    assert [(s["name"], s["kind"]) for s in pre.list_specs_] == [("history", "sequence"), ("genres", "multihot")]
    assert model.network_.lists == pre.list_specs_
    scores = model.predict(table)["score"].to_numpy()
    assert scores.shape == (table.num_rows,) and np.all((scores > 0) & (scores < 1))
    emptied = table.set_column(
        table.column_names.index("history"), "history", pa.array([[]] * table.num_rows, pa.list_(pa.int64()))
    )
    assert not np.allclose(model.predict(emptied)["score"].to_numpy(), scores)  # the history is an input
    loaded = nm.load(model.save(tmp_path / "model"))
    assert loaded.preprocessor_.list_specs_ == pre.list_specs_
    np.testing.assert_allclose(loaded.predict(table)["score"].to_numpy(), scores, rtol=1e-6)


def test_model_rejects_malformed_feature_type_options():
    with pytest.raises(ConfigError, match="hash gives"):
        nm.Model("mlp", target="liked", hash={"userId": "many"})
    with pytest.raises(ConfigError, match="'depth'") as caught:
        nm.Model("mlp", target="liked", sequence={"history": {"depth": 3}})
    assert caught.value.column == "history"
