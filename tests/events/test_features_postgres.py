"""``needmap features`` where the data lives: a purchase log read from a PostgreSQL table (or query), the
feature table written to one with its description (which keeps labels out of the inputs and splits by cutoff
when a model trains on it), and ``--like MODEL``, which keeps a model's feature definitions.

Against the PostgreSQL server at 127.0.0.1:5432, database ``test``: skipped where none answers, a failure when
NEEDMAP_REQUIRE_SERVICES=1."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import needs
from cli_run import run_cli
from needmap.data.postgres_read import read_postgres
from needmap.data.postgres_write import write_postgres
from needmap.events.generate import purchase_log
from needmap.events.redis_features import features_version
from needmap.events.table_info import info_of

pytestmark = pytest.mark.slow

HOST, PORT = "127.0.0.1", 5432
SERVER = f"postgresql://postgres@{HOST}:{PORT}/test"
LOG_ARGS = [
    "--customer", "customer_id", "--time", "time", "--item", "item_id", "--event", "event",
    "--amount", "quantity * unit_price", "--category", "category", "--purchase-events", "purchase",
    "--horizon", "30d",
]  # fmt: skip


@pytest.fixture
def schema() -> Iterator[str]:
    """A schema of this test's own, dropped afterwards; skip (fail under NEEDMAP_REQUIRE_SERVICES=1) without a
    server."""
    needs.server("PostgreSQL", HOST, PORT, SERVER)
    import psycopg

    name = f"needmap_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def test_a_log_in_postgresql_to_features_in_postgresql_to_a_model(schema: str, tmp_path: Path) -> None:
    log = purchase_log(customers=250, days=400, seed=4).events
    write_postgres(log, f"{SERVER}?table={schema}.log")
    cutoffs = ["--as-of", "2020-08-01", "--as-of", "2020-09-01", "--as-of", "2020-10-01"]
    # the same features from the table as from a file
    pq.write_table(log, tmp_path / "log.parquet")
    code, text = run_cli("features", tmp_path / "log.parquet", *LOG_ARGS, *cutoffs, "--out", tmp_path / "f.parquet")
    assert code == 0, text
    target = f"{SERVER}?table={schema}.features"
    code, text = run_cli("features", f"{SERVER}?table={schema}.log", *LOG_ARGS, *cutoffs, "--out", target)
    assert code == 0, text
    assert "rows written to postgresql://postgres@127.0.0.1:5432/test" in " ".join(text.split())
    from_file = pq.read_table(tmp_path / "f.parquet")
    from_table = read_postgres(target)
    assert from_table.num_rows == from_file.num_rows
    # the description came back with the rows: the same cutoffs, labels and definitions
    info = info_of(from_table)
    assert info is not None and info.labels == info_of(from_file).labels and info.as_of == info_of(from_file).as_of
    assert features_version(from_table) == features_version(from_file)
    # a query reads the log too
    code, text = run_cli("features", SERVER, "--query", f'SELECT * FROM "{schema}".log WHERE event <> \'view\'',
                         *LOG_ARGS, "--as-of", "2020-10-01", "--out", tmp_path / "q.parquet")  # fmt: skip
    assert code == 0, text
    # a model trained on the table splits by cutoff and keeps the labels out of its inputs
    code, text = run_cli("train", target, "--target", "label_bought", "--model", "mlp", "--epochs", "1",
                         "--no-baseline", "--out", tmp_path / "model")  # fmt: skip
    assert code == 0, text
    from needmap import load

    model = load(tmp_path / "model")
    assert model.events_info is not None and len(model.events_info.labels) >= 2
    assert not set(model.events_info.labels) & set(model.schema_.features)
    assert "cutoff" in text.lower()


def test_like_keeps_a_models_feature_definitions(tmp_path: Path) -> None:
    log = purchase_log(customers=250, days=400, seed=4).events
    pq.write_table(log, tmp_path / "log.parquet")
    code, text = run_cli("features", tmp_path / "log.parquet", *LOG_ARGS, "--as-of", "2020-08-01", "--as-of",
                         "2020-09-01", "--out", tmp_path / "train.parquet")  # fmt: skip
    assert code == 0, text
    code, text = run_cli("train", tmp_path / "train.parquet", "--target", "label_bought", "--model", "mlp", "--epochs",
                         "1", "--no-baseline", "--out", tmp_path / "model")  # fmt: skip
    assert code == 0, text
    # a later cutoff on a log whose categories changed: --like keeps the model's columns and version
    later = log.filter(log.column("category").is_valid())
    pq.write_table(later, tmp_path / "later.parquet")
    code, text = run_cli("features", tmp_path / "later.parquet", *LOG_ARGS, "--as-of", "2020-12-01", "--like",
                         tmp_path / "model", "--out", tmp_path / "today.parquet")  # fmt: skip
    assert code == 0, text
    assert features_version(tmp_path / "today.parquet") == features_version(tmp_path / "model")
    code, text = run_cli("features", tmp_path / "log.parquet", *LOG_ARGS, "--as-of", "2020-12-01", "--like",
                         tmp_path / "train.parquet", "--out", tmp_path / "x.parquet")  # fmt: skip
    assert code != 0 and "--like" in text
