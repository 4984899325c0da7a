"""``needmap train --task recommend`` then ``needmap recommend``: from a log file to a list per customer."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from cli_run import run_cli
from needmap.recommend.generate import planted_interactions


@pytest.fixture(scope="module")
def log_file(tmp_path_factory) -> Path:
    data, _, _ = planted_interactions(customers=150, items=45, events=8, seed=5)
    path = tmp_path_factory.mktemp("log") / "events.csv"
    table = pa.table(
        {
            "shopper": data.customer_ids.take(pa.array(data.customer)),
            "sku": data.item_ids.take(pa.array(data.item)),
            "when": pa.array(data.time.astype("datetime64[us]")),
            "kind": pa.array(["buy"] * len(data)),
        }
    )
    pcsv.write_csv(table, path)
    return path


def test_train_then_recommend(log_file: Path, tmp_path: Path) -> None:
    model = tmp_path / "rec"
    code, out = run_cli("train", log_file, "--task", "recommend", "--customer", "shopper", "--item", "sku", "--time",
                        "when", "--model", "ease", "--param", "l2=20", "--out", model)  # fmt: skip
    assert code == 0, out
    assert "ease (chosen)" in out and "itemknn" in out and "popular" in out
    assert "verdict:" in out
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["model"] == "ease" and metrics["split"] == "leave-last-out"
    assert set(metrics["models"]) == {"ease", "itemknn", "popular"}
    assert metrics["test"]["ndcg@10"] > metrics["models"]["popular"]["test"]["ndcg@10"]
    customers = tmp_path / "customers.csv"
    customers.write_text("shopper\nc1\nc2\nnew-one\n")
    out_file = tmp_path / "offers.parquet"
    code, out = run_cli("recommend", model, "--customers", customers, "-k", "4", "--out", out_file)
    assert code == 0, out
    assert "1 of 3 customers have no history" in out
    table = pq.read_table(out_file)
    assert table.column_names == ["customer", "rank", "item", "score"]
    assert table.column("customer").to_pylist() == ["c1"] * 4 + ["c2"] * 4 + ["new-one"] * 4


def test_clear_errors(log_file: Path, tmp_path: Path) -> None:
    code, out = run_cli("train", log_file, "--task", "recommend", "--item", "sku", "--out", tmp_path / "m")
    assert code == 2 and "--customer COLUMN and --item COLUMN" in out
    code, out = run_cli("train", log_file, "--target", "kind", "--customer", "shopper", "--out", tmp_path / "m")
    assert code == 2 and "expected --task recommend" in out
    code, out = run_cli("recommend", tmp_path, "--customers", log_file, "--out", tmp_path / "o.csv")
    assert code == 2 and "not a recommender directory" in out
