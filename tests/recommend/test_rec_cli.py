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
    # why each item, from the command line: the customers' files are read as recommend reads them
    code, out = run_cli("explain", model, customers, "-k", "3", "--top", "2", "--out", tmp_path / "why.csv")
    assert code == 0, out
    why = pcsv.read_csv(tmp_path / "why.csv")
    assert why.column_names == ["customer", "rank", "item", "score", "because", "reason"]
    assert why.num_rows == 9 and why.column("reason").to_pylist()[0].startswith("because they have")
    code, out = run_cli("explain", model, customers, "--background", customers, "--out", tmp_path / "x.csv")
    assert code != 0 and "--background" in out


def test_clear_errors(log_file: Path, tmp_path: Path) -> None:
    code, out = run_cli("train", log_file, "--task", "recommend", "--item", "sku", "--out", tmp_path / "m")
    assert code == 2 and "--customer COLUMN and --item COLUMN" in out
    code, out = run_cli("train", log_file, "--target", "kind", "--customer", "shopper", "--out", tmp_path / "m")
    assert code == 2 and "expected --task recommend" in out
    code, out = run_cli("recommend", tmp_path, "--customers", log_file, "--out", tmp_path / "o.csv")
    assert code == 2 and "not a recommender directory" in out


def test_evaluate_and_report_on_a_later_log(log_file: Path, tmp_path: Path) -> None:
    model = tmp_path / "rec"
    code, out = run_cli("train", log_file, "--task", "recommend", "--customer", "shopper", "--item", "sku", "--time",
                        "when", "--model", "itemknn", "--out", model)  # fmt: skip
    assert code == 0, out
    later = tmp_path / "later.csv"  # c1 moves on to the next items of their segment; c2 buys nothing new
    from needmap.recommend.recommender import load_recommender

    rec = load_recommender(model)
    first = rec.recommend(["c1", "newcomer"], k=3).to_pydict()
    later.write_text(
        "shopper,sku,when\n"
        f"c1,{first['item'][0]},2025-01-01\nnewcomer,{first['item'][3]},2025-01-01\nnewcomer,999999,2025-01-02\n"
    )
    code, out = run_cli("evaluate", model, later, "--json-out", tmp_path / "m.json")
    assert code == 0, out
    result = json.loads((tmp_path / "m.json").read_text())
    assert result["customers"] == 2 and result["unknown_customers"] == 1
    found = result["models"]["itemknn"]
    assert found["hit_rate@10"] == 1.0  # both found their first item
    assert found["recall@10"] == (1.0 + 0.5) / 2  # the newcomer's unknown item 999999 cannot be found
    code, out = run_cli("report", model, later, "--out", tmp_path / "r.html")
    assert code == 0, out
    page = (tmp_path / "r.html").read_text()
    assert "itemknn (chosen)" in page and "On the given log" in page and "Verdict" in page
