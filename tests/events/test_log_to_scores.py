"""From an event log to scores with the real feature builder: ``needmap features``, ``needmap train`` on its
output, ``needmap predict MODEL --events LOG --as-of DATE``; the customer ids come out as in the log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest

import needmap as nm
from cli_run import run_cli
from needmap.events.build import build_features
from needmap.events.table_info import info_of

CUTOFFS = ("2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01")


def _log(customers: int = 60, seed: int = 0) -> pa.Table:
    """Purchases and views of ``customers`` customers (ids with leading zeros) from 2024-01-01 to 2024-06-30."""
    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1)
    rows: dict[str, list] = {"customer": [], "ts": [], "event": [], "item": [], "amount": []}
    for c in range(customers):
        rate = rng.gamma(1.5, 0.05)  # events per day
        for day in np.flatnonzero(rng.random(181) < rate):
            rows["customer"].append(f"0{c:03d}")
            rows["ts"].append(start + timedelta(days=int(day), hours=int(rng.integers(8, 20))))
            bought = rng.random() < 0.4
            rows["event"].append("purchase" if bought else "view")
            rows["item"].append(f"i{int(rng.integers(0, 12))}")
            rows["amount"].append(round(float(rng.gamma(2.0, 15.0)), 2) if bought else 0.0)
    return pa.table({**rows, "ts": pa.array(rows["ts"], pa.timestamp("us"))})


@pytest.mark.slow
def test_features_train_and_predict_events_end_to_end(tmp_path: Path) -> None:
    log = _log()
    log_path = tmp_path / "events.csv"
    pa.csv.write_csv(log, log_path)
    features = tmp_path / "features.parquet"
    cutoffs = [a for c in CUTOFFS for a in ("--as-of", c)]
    code, output = run_cli(
        "features", log_path, "--customer", "customer", "--time", "ts", "--event", "event", "--item", "item",
        "--amount", "amount", "--purchase-events", "purchase", "--horizon", "30d", "--windows", "7,30",
        *cutoffs, "--out", features,
    )  # fmt: skip
    assert code == 0, output
    table = pq.read_table(features)
    info = info_of(table)
    assert info is not None and info.spec.horizon_days == 30
    code, output = run_cli(
        "train", features, "--target", "label_bought", "--epochs", "1", "--hidden", "8", "--no-baseline",
        "--out", tmp_path / "m",
    )  # fmt: skip
    assert code == 0, output
    assert "test on the latest" in output
    loaded = nm.load(tmp_path / "m")
    assert not set(loaded.schema_.features) & {"label_purchases", "label_spend", "cutoff", "customer"}
    assert loaded.schema_.ids == ["customer"]
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    latest = table.filter(pa.compute.equal(table.column("cutoff"), pa.scalar(datetime(2024, 5, 1), pa.timestamp("us"))))
    assert metrics["report"]["test_rows"] == latest.num_rows and metrics["split"]["cutoff"] == "2024-05-01"

    out = tmp_path / "scores.csv"
    code, output = run_cli("predict", tmp_path / "m", "--events", log_path, "--as-of", "2024-07-01", "--out", out)
    assert code == 0, output
    assert any(line.startswith(("0000,", '"0000",')) for line in out.read_text().splitlines())  # not 0
    scores = pa.csv.read_csv(out, convert_options=pa.csv.ConvertOptions(column_types={"customer": pa.string()}))
    assert scores.column_names[:2] == ["customer", "cutoff"] and "score" in scores.column_names
    expected = sorted(set(log.column("customer").to_pylist()))
    assert sorted(scores.column("customer").to_pylist()) == expected  # one row per customer, ids as in the log
    assert scores.num_rows == len(expected)
    # the Python form gives the same rows
    direct = loaded.predict_events(log, as_of="2024-07-01")
    assert sorted(direct.column("customer").to_pylist()) == expected
    today = build_features(log, info.spec, ["2024-07-01"], labels=False, like=info)
    assert direct.num_rows == today.num_rows
