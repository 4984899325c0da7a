"""The Recommender: seen items left out, unknown customers served, eligibility, FAISS, files round-trip."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from needmap import load as nm_load
from needmap.errors import ConfigError, DataError
from needmap.recommend.generate import planted_interactions
from needmap.recommend.interactions import from_arrays
from needmap.recommend.recommender import Recommender, load_recommender


@pytest.fixture(scope="module")
def fitted() -> Recommender:
    data, _, _ = planted_interactions(customers=120, items=30, seed=4)
    return Recommender("ease", l2=20.0).fit(data)


def test_seen_items_never_come_back_unless_asked(fitted: Recommender) -> None:
    ids = fitted.data_.customer_ids.to_pylist()
    out = fitted.recommend(ids, k=10).to_pydict()
    starts = fitted.data_.starts()
    seen = {ids[c]: set(fitted.data_.item_ids.take(pa.array(fitted.data_.item[starts[c] : starts[c + 1]])).to_pylist())
            for c in range(len(ids))}  # fmt: skip
    assert not any(item in seen[c] for c, item in zip(out["customer"], out["item"], strict=True))
    kept = fitted.recommend(ids[:20], k=30, keep_seen=True).to_pydict()
    assert any(item in seen[c] for c, item in zip(kept["customer"], kept["item"], strict=True))


def test_a_customer_without_history_gets_k_popular_items(fitted: Recommender) -> None:
    out = fitted.recommend(["nobody"], k=7).to_pydict()
    assert out["rank"] == list(range(1, 8))
    popular = np.argsort(-fitted.popularity_, kind="stable")[:7]
    assert out["item"] == fitted.data_.item_ids.take(pa.array(popular)).to_pylist()


def test_ids_come_out_as_they_went_in(fitted: Recommender) -> None:
    out = fitted.recommend(pa.array(["c3", "c5"]), k=2)
    assert out.column("customer").to_pylist() == ["c3", "c3", "c5", "c5"]
    assert out.schema.field("item").type == pa.int64()
    numbered = Recommender("popular").fit(from_arrays([11, 12, 11], ["x", "y", "z"], [1, 2, 3]))
    assert numbered.recommend(pa.array(["11"]), k=1).column("customer").to_pylist() == ["11"]
    with pytest.raises(DataError, match="cannot be read as the model's customer ids"):
        numbered.recommend(pa.array(["eleven"]), k=2)


def test_eligibility_allow_list_and_item_table(fitted: Recommender) -> None:
    allowed = [1000, 1003, 1006]
    out = fitted.recommend(["c1", "c2"], k=5, allow=allowed, keep_seen=True).to_pydict()
    assert set(out["item"]) <= set(allowed)
    items = pa.table({"sku": list(range(1000, 1030)), "in_stock": [i % 2 == 0 for i in range(30)]})
    out = fitted.recommend(["c1"], k=10, items=items, eligible="in_stock").to_pydict()
    assert out["item"] and all(i % 2 == 0 for i in out["item"])
    with pytest.raises(ConfigError, match="no column 'stock'"):
        fitted.recommend(["c1"], k=3, items=items, eligible="stock")
    with pytest.raises(DataError, match=r"allow-list's items are string \('sku-1' first\);"):
        fitted.recommend(["c1"], k=3, allow=["sku-1"])
    named = pa.table({"sku": [f"sku-{i}" for i in range(30)], "in_stock": [True] * 30})
    with pytest.raises(DataError, match="column 'sku' is string \\('sku-0' first\\)"):
        fitted.recommend(["c1"], k=3, items=named, eligible="in_stock")


def test_save_load_round_trip_gives_identical_lists(fitted: Recommender, tmp_path) -> None:
    fitted.save(tmp_path / "rec")
    loaded = load_recommender(tmp_path / "rec")
    ids = ["c0", "c10", "c77", "nobody"]
    assert loaded.recommend(ids, k=10).equals(fitted.recommend(ids, k=10))
    assert not list(tmp_path.glob(".*staging*"))
    fitted.save(tmp_path / "rec")  # a recommender directory is replaced by the next save
    assert load_recommender(tmp_path / "rec").recommend(ids, k=10).equals(fitted.recommend(ids, k=10))


def test_the_model_path_is_checked(fitted: Recommender, tmp_path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.csv").write_text("a\n1\n")
    from needmap.errors import NeedmapError

    with pytest.raises(NeedmapError):
        fitted.save(tmp_path / "data")
    assert (tmp_path / "data" / "orders.csv").exists()


def test_bad_k_and_backend(fitted: Recommender) -> None:
    with pytest.raises(ConfigError, match="k is 0"):
        fitted.recommend(["c1"], k=0)
    with pytest.raises(ConfigError, match="faiss needs a retrieval network"):
        fitted.recommend(["c1"], k=3, backend="faiss")


@pytest.mark.slow
@pytest.mark.parametrize("model", ["sasrec", "two_tower", "itemknn", "popular"])
def test_every_model_round_trips_through_its_directory(model: str, tmp_path) -> None:
    data, _, _ = planted_interactions(customers=60, items=24, events=6, seed=9)
    options = {"epochs": 2, "threads": 1} if model in ("sasrec", "two_tower") else {}
    fitted = Recommender(model, **options).fit(data)
    fitted.save(tmp_path / model)
    loaded = nm_load(tmp_path / model)
    ids = ["c0", "c7", "c59", "nobody"]
    assert loaded.recommend(ids, k=5).equals(fitted.recommend(ids, k=5))
    assert loaded.recommend(ids, k=5, keep_seen=True).equals(fitted.recommend(ids, k=5, keep_seen=True))


def test_a_recommender_directory_gets_the_permissions_of_the_umask(fitted: Recommender, tmp_path) -> None:
    import os
    import stat

    previous = os.umask(0o022)
    try:
        out = fitted.save(tmp_path / "rec")
    finally:
        os.umask(previous)
    for file in out.iterdir():  # safetensors alone writes 0600
        assert stat.S_IMODE(file.stat().st_mode) == 0o644, file.name
