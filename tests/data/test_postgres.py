"""needmap.data.postgres against a real PostgreSQL server: types both ways, chunked reading, queries, the errors
a user meets (without the password), replace and append, a write that fails midway leaving the table as it
was, and the command line from a table to a model to a table of scores.

The server is the one at 127.0.0.1:5432, database ``test``. Where none answers, the tests that need it are
skipped, and fail when NEEDMAP_REQUIRE_SERVICES=1 (the environments that must run them set it). Each test
works in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

import needs
from cli_run import run_cli
from needmap.data.masking import redact
from needmap.data.postgres import is_postgres_url, same_table
from needmap.data.postgres_read import read_postgres
from needmap.data.postgres_write import write_postgres
from needmap.data.provenance import source_of
from needmap.data.read import read
from needmap.data.write import write_table
from needmap.errors import ConfigError, DataError

HOST, PORT = "127.0.0.1", 5432
SERVER = f"postgresql://postgres@{HOST}:{PORT}/test"
PASSWORD = "pw-Zq81-never-shown"  # the server trusts local connections: a password is accepted and unused
WITH_PASSWORD = f"postgresql://postgres:{PASSWORD}@{HOST}:{PORT}/test"


@pytest.fixture(scope="module")
def server() -> str:
    """The URL of the test database; skip (fail under NEEDMAP_REQUIRE_SERVICES=1) when no server answers."""
    needs.server("PostgreSQL", HOST, PORT, SERVER)
    return SERVER


@pytest.fixture
def schema(server: str) -> Iterator[str]:
    """A schema of this test's own, dropped with everything in it afterwards."""
    name = f"needmap_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def url(schema: str, table: str, base: str = SERVER) -> str:
    return f"{base}?table={schema}.{table}"


def execute(statement: str) -> list[tuple]:
    with psycopg.connect(SERVER, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def tables_in(schema: str) -> list[str]:
    return [r[0] for r in execute(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'")]


def closed_port() -> int:
    """A local port where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def error_of(kind: type[Exception], call, *args, **kwargs) -> str:
    with pytest.raises(kind) as info:
        call(*args, **kwargs)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text and PASSWORD not in text, text
    return text


# -- types -----------------------------------------------------------------------------------------------------
def test_the_postgresql_types_are_read_as_their_arrow_types(schema: str) -> None:
    execute(f"""
        CREATE TABLE {schema}.typed (
            small smallint, whole integer, big bigint, single real, double double precision, amount numeric(12, 2),
            name varchar(20), code char(4), note text, flag boolean, day date, at timestamp, at_utc timestamptz,
            tags text[], counts integer[], id uuid, doc jsonb, wait interval
        );
        INSERT INTO {schema}.typed VALUES
            (1, 2, 9007199254740993, 1.5, 0.1, 1234567.89, 'Zoë', 'ab', 'naïve ☃ 東京', true, '2024-02-29',
             '2024-02-29 13:45:06.123456', '2024-02-29 13:45:06.5+02', '{{a,"b c",NULL}}', '{{1,NULL,3}}',
             'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{"k": [1, 2]}}', '1 day 02:00:00'),
            (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL, '{{}}', NULL, NULL, NULL,
             NULL);
    """)
    table = read_postgres(url(schema, "typed"))
    assert dict(zip(table.column_names, table.schema.types, strict=True)) == {
        "small": pa.int64(), "whole": pa.int64(), "big": pa.int64(), "single": pa.float64(),
        "double": pa.float64(), "amount": pa.float64(), "name": pa.string(), "code": pa.string(),
        "note": pa.string(), "flag": pa.bool_(), "day": pa.date32(), "at": pa.timestamp("us"),
        "at_utc": pa.timestamp("us", tz="UTC"), "tags": pa.list_(pa.string()), "counts": pa.list_(pa.int64()),
        "id": pa.string(), "doc": pa.string(), "wait": pa.string(),
    }  # fmt: skip
    first, second = table.to_pylist()
    assert first["big"] == 9007199254740993 and first["amount"] == 1234567.89 and first["double"] == 0.1
    assert (first["name"], first["code"], first["note"]) == ("Zoë", "ab  ", "naïve ☃ 東京")
    assert first["day"] == dt.date(2024, 2, 29) and first["at"] == dt.datetime(2024, 2, 29, 13, 45, 6, 123456)
    assert first["at_utc"] == dt.datetime(2024, 2, 29, 11, 45, 6, 500000, tzinfo=dt.timezone.utc)
    assert first["tags"] == ["a", "b c", None] and first["counts"] == [1, None, 3]
    assert first["id"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" and first["wait"] == "1 day 02:00:00"
    assert first["doc"] == '{"k": [1, 2]}' and first["flag"] is True
    assert second["note"] == "" and second["tags"] == []
    assert all(v is None for k, v in second.items() if k not in ("note", "tags"))


def test_a_table_written_and_read_back_is_the_same_table(schema: str) -> None:
    table = pa.table({
        "id": pa.array(["00001", "00002", "00003", "00004"]),
        "count": pa.array([1, -(2**62), None, 0], pa.int64()),
        "small": pa.array([1, 2, None, 4], pa.int32()),
        "share": pa.array([0.1, 1 / 3, None, float("nan")]),
        "huge": pa.array([1e300, -2.5e-300, float("inf"), None]),
        "price": pa.array([Decimal("1.10"), None, Decimal("-3.25"), Decimal("0")], pa.decimal128(8, 2)),
        "text": pa.array(['quote " comma , newline \n tab \t backslash \\', "", None, "ünïcödé ☃ 東京 🎉"]),
        "flag": pa.array([True, False, None, True]),
        "day": pa.array([dt.date(1, 1, 1), dt.date(2024, 2, 29), None, dt.date(9999, 12, 31)]),
        "at": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 678901), None, dt.datetime(1970, 1, 1),
                        dt.datetime(2000, 1, 1)], pa.timestamp("us")),
        "at_utc": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), None, None, None],
                           pa.timestamp("us", tz="UTC")),
        "tags": pa.array([["a", 'b"c', "d\\e", "", None, "{x,y}"], [], None, ["NULL"]]),
        "counts": pa.array([[1, None, 3], None, [], [2**40]], pa.list_(pa.int64())),
        "kind": pa.array(["x", "y", None, "x"]).dictionary_encode(),
    })  # fmt: skip
    assert write_postgres(table, url(schema, "round")) == 4
    back = read_postgres(url(schema, "round")).sort_by("id")
    expected = table.set_column(
        table.schema.get_field_index("small"), "small", table.column("small").cast(pa.int64())
    ).set_column(
        table.schema.get_field_index("price"), "price", table.column("price").cast(pa.float64())
    ).set_column(
        table.schema.get_field_index("kind"), "kind", table.column("kind").cast(pa.string())
    )  # fmt: skip
    assert back.schema.remove_metadata() == expected.schema
    for name in expected.column_names:
        got, want = back.column(name).to_pylist(), expected.column(name).to_pylist()
        if name == "share":  # NaN is not equal to itself
            assert got[:3] == want[:3] and np.isnan(got[3]), name
        else:
            assert got == want, name
    types = dict(execute(f"SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                         f"'{schema}' AND table_name = 'round'"))  # fmt: skip
    assert types["count"] == "bigint" and types["small"] == "integer" and types["price"] == "numeric"
    assert types["tags"] == types["counts"] == "ARRAY" and types["at_utc"] == "timestamp with time zone"


# -- reading: chunks, queries, read() ---------------------------------------------------------------------------
def test_reading_in_chunks_gives_the_whole_table(schema: str) -> None:
    execute(f"CREATE TABLE {schema}.many AS SELECT i AS id, i * 0.5 AS half, 'r' || i AS label, "
            f"ARRAY[i, i + 1] AS pair FROM generate_series(1, 2500) AS i")  # fmt: skip
    whole = read_postgres(url(schema, "many"), chunk_rows=100_000)
    chunked = read_postgres(url(schema, "many"), chunk_rows=300)
    assert whole.num_rows == chunked.num_rows == 2500 and chunked.column(0).num_chunks == 9
    assert chunked.combine_chunks().equals(whole.combine_chunks())
    assert sorted(whole.column("id").to_pylist()) == list(range(1, 2501))
    assert read(url(schema, "many")).equals(whole)  # read() sends the URL here and checks it as any table


def test_a_query_is_read_with_its_own_columns_and_recorded_source(schema: str) -> None:
    execute(f"CREATE TABLE {schema}.people AS SELECT i AS id, CASE WHEN i % 2 = 0 THEN 'anna' ELSE 'bob' END "
            f"AS name FROM generate_series(1, 50) AS i")  # fmt: skip
    query = f"SELECT id, upper(name) AS loud, id::numeric / 4 AS quarter FROM {schema}.people WHERE name LIKE 'a%';"
    table = read(SERVER, sql=query)
    assert table.num_rows == 25 and table.column_names == ["id", "loud", "quarter"]
    assert set(table.column("loud").to_pylist()) == {"ANNA"} and table.schema.field("quarter").type == pa.float64()
    assert table.column("quarter").to_pylist()[:1] in ([0.5], [1.0], [1.5])
    assert source_of(table).startswith(f"{SERVER} query: SELECT id")
    with_password = read_postgres(url(schema, "people", WITH_PASSWORD))
    assert PASSWORD not in source_of(with_password) and "postgres:***@" in source_of(with_password)


# -- errors -----------------------------------------------------------------------------------------------------
def test_no_server_is_named_by_host_and_port_without_the_password() -> None:
    port = closed_port()
    text = error_of(DataError, read_postgres, f"postgresql://me:{PASSWORD}@127.0.0.1:{port}/crm?table=public.t")
    assert f"no PostgreSQL server answers at 127.0.0.1:{port}" in text
    text = error_of(
        DataError, write_table, pa.table({"a": [1]}), f"postgres://me:{PASSWORD}@127.0.0.1:{port}/x?table=t"
    )
    assert f"127.0.0.1:{port}" in text


def test_the_errors_a_user_meets_say_what_was_found_and_expected(server: str, schema: str) -> None:
    execute(f"CREATE TABLE {schema}.customers (id int); CREATE TABLE {schema}.empty (id int);"
            f"INSERT INTO {schema}.customers VALUES (1)")  # fmt: skip
    text = error_of(DataError, read_postgres, url(schema, "customer", WITH_PASSWORD))
    assert f"the table {schema}.customer does not exist" in text and f"Did you mean table={schema}.customers" in text
    text = error_of(DataError, read_postgres, WITH_PASSWORD, f"SELECT nope FROM {schema}.customers")
    assert 'could not run the query: column "nope" does not exist' in text
    text = error_of(DataError, read, WITH_PASSWORD, sql="SELEC 1")
    assert 'syntax error at or near "SELEC"' in text
    text = error_of(ConfigError, read_postgres, url(schema, "customers", WITH_PASSWORD), "SELECT 1")
    assert f"names the table {schema}.customers and a query was given too; expected one of them" in text
    text = error_of(ConfigError, read_postgres, WITH_PASSWORD)
    assert "names no table and no query was given; expected ?table=schema.name" in text
    text = error_of(DataError, read_postgres, url(schema, "empty"))
    assert f"the table {schema}.empty has no rows" in text
    assert "the query returned no rows" in error_of(DataError, read, server, sql="SELECT 1 WHERE false")
    text = error_of(DataError, read_postgres, f"postgresql://postgres:{PASSWORD}@{HOST}:{PORT}/no_such_db?table=t")
    assert f"the database 'no_such_db' does not exist on the PostgreSQL server at {HOST}:{PORT}" in text
    text = error_of(DataError, read, server, sql="SELECT '{{1,2},{3,4}}'::int[] AS grid")
    assert "column 'grid' holds a multi-dimensional array" in text and "column::text" in text
    assert "within the years 1 to 9999" in error_of(DataError, read, server, sql="SELECT 'infinity'::date AS d")
    assert "header appl" in error_of(ConfigError, read, url(schema, "customers"), header=True)
    assert "not a table name" in error_of(ConfigError, read_postgres, f"{server}?table=a.b.c")


def test_url_helpers() -> None:
    assert is_postgres_url("postgresql://h/db") and is_postgres_url("postgres://h/db")
    assert not is_postgres_url("scores.csv") and not is_postgres_url(Path("postgresql:/h"))
    assert redact(f"postgresql://u:{PASSWORD}@h:5432/db?table=t") == "postgresql://u:***@h:5432/db?table=t"
    assert redact(f"postgresql://u@h/db?sslmode=require&password={PASSWORD}") == (
        "postgresql://u@h/db?sslmode=require&password=***"
    )
    assert same_table("postgresql://u@h/db?table=public.t", "postgresql://v:x@h/db?table=t")
    assert not same_table("postgresql://u@h/db?table=public.t", "postgresql://u@h/db?table=other.t")
    assert not same_table("postgresql://u@h/db?table=t", "t.csv")


# -- writing ----------------------------------------------------------------------------------------------------
def test_replace_and_append(schema: str) -> None:
    target = url(schema, "scores")
    first = pa.table({"customer": ["a", "b"], "score": [0.1, 0.2]})
    assert write_postgres(first, target, mode="append") == 2  # absent: made
    assert write_table(pa.table({"customer": ["c"], "score": [0.3]}), target, mode="append") == redact(target)
    assert sorted(read_postgres(target).column("customer").to_pylist()) == ["a", "b", "c"]
    wider = pa.table({"customer": ["x"], "score": [0.9], "rank": pa.array([1], pa.int32())})
    assert write_postgres(wider, target, model="buyers", version="abc123") == 1  # replace: new columns
    replaced = read_postgres(target).to_pylist()
    assert len(replaced) == 1 and replaced[0]["rank"] == 1 and replaced[0]["model"] == "buyers"
    assert replaced[0]["model_version"] == "abc123" and replaced[0]["scored_at"].tzinfo is not None
    # appending checks the columns and their types before a row is sent, naming the column
    text = error_of(DataError, write_postgres, pa.table({"customer": ["y"], "colour": ["red"]}), target, mode="append")
    assert "column 'colour' is not a column of the table" in text and "customer, score, rank" in text
    text = error_of(DataError, write_postgres, pa.table({"customer": ["y"], "rank": ["first"]}), target, mode="append")
    assert "column 'rank' holds text values and the table" in text and "has it as integer" in text
    assert read_postgres(target).num_rows == 1
    # a whole number into a double precision column fits; a file takes no append
    write_postgres(pa.table({"customer": ["z"], "score": [1]}), target, mode="append")
    assert sorted(read_postgres(target).column("customer").to_pylist()) == ["x", "z"]
    assert "a file is written whole" in error_of(ConfigError, write_table, first, "scores.csv", mode="append")
    assert "already have a column 'model'" in error_of(
        DataError, write_postgres, pa.table({"model": ["m"]}), target, model="n"
    )


def test_a_write_that_fails_midway_leaves_the_table_as_it_was(schema: str) -> None:
    target = url(schema, "kept")
    old = pa.table({"id": list(range(1000)), "name": [f"n{i}" for i in range(1000)]})
    write_postgres(old, target)
    execute(f"ALTER TABLE {schema}.kept ALTER COLUMN id TYPE integer")
    rows = 150_000  # several pieces of COPY: the bad value comes after many rows went to the server
    names = [f"new{i}" for i in range(rows)]
    names[-1] = "bad\x00text"  # PostgreSQL text cannot hold NUL
    bad = pa.table({"id": list(range(rows)), "name": names})
    text = error_of(DataError, write_postgres, bad, target)
    assert f"could not write the table {schema}.kept" in text and "nothing was written" in text
    ids = list(range(rows))
    ids[-1] = 2**40  # out of the integer column's range, in the last piece
    text = error_of(DataError, write_postgres, pa.table({"id": ids, "name": ["x"] * rows}), target, mode="append")
    assert "out of range" in text and f"{schema}.kept" in text
    kept = read_postgres(target).sort_by("id")
    assert kept.equals(old.cast(kept.schema).replace_schema_metadata(kept.schema.metadata))
    assert tables_in(schema) == ["kept"]  # no temporary table left


# -- the command line -------------------------------------------------------------------------------------------
@pytest.mark.slow  # trains a model
def test_train_and_predict_from_a_table_to_a_table(schema: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 400
    age = rng.integers(18, 80, n)
    rows = pa.table({
        "customer_id": [f"{i:06d}" for i in range(n)],  # ids with leading zeros come out as they went in
        "age": age,
        "channel": rng.choice(["web", "shop", "phone"], n),
        "y": (rng.random(n) < age / 100).astype(np.int64),
    })  # fmt: skip
    write_postgres(rows, url(schema, "customers"))
    model = tmp_path / "buyers"
    code, text = run_cli("train", url(schema, "customers"), "--target", "y", "--id", "customer_id", "--epochs", "1",
                         "--quiet", "--out", model)  # fmt: skip
    assert code == 0, text
    scores_url = url(schema, "scores", WITH_PASSWORD)
    code, text = run_cli("predict", model, url(schema, "customers"), "--out", scores_url)
    assert code == 0, text
    assert "400 rows scored, written to" in text and PASSWORD not in text
    scores = read_postgres(url(schema, "scores"))
    assert scores.column_names == ["customer_id", "score", "model", "model_version", "scored_at"]
    assert sorted(scores.column("customer_id").to_pylist()) == rows.column("customer_id").to_pylist()
    version = hashlib.sha256((model / "weights.safetensors").read_bytes()).hexdigest()[:12]
    assert set(scores.column("model").to_pylist()) == {"buyers"}
    assert set(scores.column("model_version").to_pylist()) == {version}
    assert len(set(scores.column("scored_at").to_pylist())) == 1
    # a query's rows, appended; the output table is never the input; a file output takes no append
    code, text = run_cli("predict", model, SERVER, "--query", f"SELECT * FROM {schema}.customers WHERE age < 30",
                         "--out", url(schema, "scores"), "--out-mode", "append")  # fmt: skip
    assert code == 0 and "appended to" in text, text
    young = int(np.sum(age < 30))
    assert read_postgres(url(schema, "scores")).num_rows == n + young
    code, text = run_cli("predict", model, url(schema, "customers"), "--out", f"{SERVER}?table=customers")
    assert code == 2 and "is the input data" in text
    code, text = run_cli(
        "predict", model, url(schema, "customers"), "--out", tmp_path / "s.csv", "--out-mode", "append"
    )
    assert code == 2 and "--out-mode append adds rows to a PostgreSQL table" in text
    code, text = run_cli("predict", model, tmp_path / "s.csv", "--query", "SELECT 1", "--out", tmp_path / "t.csv")
    assert code == 2 and "--query runs in a PostgreSQL database" in text


@pytest.mark.slow  # trains a recommender and an uplift model
def test_recommend_and_target_read_and_write_tables(schema: str, tmp_path: Path) -> None:
    from needmap.recommend.generate import planted_interactions
    from needmap.uplift.generate import campaign

    data, _, _ = planted_interactions(customers=150, items=45, events=8, seed=5)
    log = pa.table({
        "shopper": data.customer_ids.take(pa.array(data.customer)),
        "sku": data.item_ids.take(pa.array(data.item)),
        "when": pa.array(data.time.astype("datetime64[us]")),
    })  # fmt: skip
    write_postgres(log, url(schema, "log"))
    code, text = run_cli("train", url(schema, "log"), "--task", "recommend", "--customer", "shopper", "--item",
                         "sku", "--time", "when", "--model", "ease", "--param", "l2=20", "--out",
                         tmp_path / "offers")  # fmt: skip
    assert code == 0, text
    query = f"SELECT DISTINCT shopper FROM {schema}.log"
    code, text = run_cli("recommend", tmp_path / "offers", "--customers", SERVER, "--query", query, "-k", "3",
                         "--out", url(schema, "lists"))  # fmt: skip
    assert code == 0 and "450 recommendations for 150 customers written to" in text, text
    lists = read_postgres(url(schema, "lists"))
    assert lists.column_names == ["customer", "rank", "item", "score", "model", "model_version", "scored_at"]
    assert set(lists.column("model").to_pylist()) == {"offers"}

    write_postgres(campaign(3000, seed=2).table, url(schema, "campaign"))
    code, text = run_cli("train", url(schema, "campaign"), "--task", "uplift", "--target", "converted", "--treatment",
                         "treatment", "--control", "control", "--id", "customer_id", "--drop", "spend", "--model", "t",
                         "--out", tmp_path / "campaign")  # fmt: skip
    assert code == 0, text
    code, text = run_cli("target", tmp_path / "campaign", url(schema, "campaign"), "--budget", "100", "--out",
                         url(schema, "contacts"))  # fmt: skip
    assert code == 0 and "100 contacts of 3,000 customers" in text, text
    contacts = read_postgres(url(schema, "contacts"))
    assert contacts.num_rows == 100 and contacts.column_names[:2] == ["customer_id", "offer"]
    assert set(contacts.column("model").to_pylist()) == {"campaign"}


def test_the_path_form_names_the_same_table_as_the_parameter(schema: str) -> None:
    """``postgresql://host/database/schema.table``, the form a --out argument is often written in, is the same
    table as ``?table=schema.table``; both at once are refused."""
    table = pa.table({"id": ["000042", "7"], "score": [0.25, 0.75]})
    assert write_postgres(table, f"{SERVER}/{schema}.scores") == 2
    assert read_postgres(url(schema, "scores")).equals(read_postgres(f"{SERVER}/{schema}.scores"))
    assert read(f"{SERVER}/{schema}.scores").column("id").to_pylist() == ["000042", "7"]
    with pytest.raises(ConfigError, match="names 2 tables"):
        read_postgres(f"{SERVER}/{schema}.scores?table={schema}.other")
