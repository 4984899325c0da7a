"""Online features in Redis against a real server at 127.0.0.1:6379, database 15 (emptied before and after each
test; no other database is touched): ``needmap features ... --to``, :class:`OnlineFeatures`, the version of
the feature definitions, time-to-live, incomplete writes and passwords kept out of every message. Without a
server the tests skip, and fail where NEEDMAP_REQUIRE_SERVICES=1 (CI)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import needmap
from cli_run import run_cli
from needmap.errors import ConfigError, DataError
from needmap.events.generate import purchase_log
from needmap.events.redis_features import META, SCHEMA, customer_key, features_version, shown_url
from needmap.events.redis_read import OnlineFeatures
from needmap.events.redis_write import write_online_features
from needmap.events.table_info import LABELS, EventSpec, FeatureTableInfo, info_of, with_info
from needs import redis_database

HOST, PORT, DB = "127.0.0.1", 6379, 15
URL = f"redis://{HOST}:{PORT}/{DB}"
PASSWORD = "s3cret-pw-7Qx"
LOG_ARGS = [
    "--customer", "customer_id", "--time", "time", "--item", "item_id", "--event", "event",
    "--amount", "quantity * unit_price", "--category", "category", "--purchase-events", "purchase",
    "--horizon", "30d",
]  # fmt: skip
OPTIONS = dict(
    customer="customer_id", time="time", item="item_id", event="event", amount="quantity * unit_price",
    category="category", purchase_events="purchase", horizon="30d",
)  # fmt: skip
DAY_S = 86_400


@pytest.fixture
def server() -> Iterator[Any]:
    """A client of database 15, emptied before and after the test."""
    with redis_database(DB, HOST, PORT) as client:
        yield client


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated purchase log (views, carts, purchases, returns, categories) of 300 customers."""
    path = tmp_path_factory.mktemp("log") / "log.parquet"
    pq.write_table(purchase_log(customers=300, days=400, seed=1).events, path)
    return path


def _features_only(table: pa.Table) -> list[dict[str, Any]]:
    info = info_of(table)
    return table.drop_columns([info.customer_column, info.cutoff_column, *info.labels]).to_pylist()


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same type, NaN equal to NaN, lists and dicts item by item."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


def test_the_command_writes_every_customer_as_in_the_out_file(server: Any, log_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"
    code, output = run_cli("features", log_file, *LOG_ARGS, "--as-of", "2020-10-01", "--out", out, "--to", URL,
                           "--ttl", "30d")  # fmt: skip
    assert code == 0, output
    table = pq.read_table(out)
    version = features_version(out)
    assert version == features_version(info_of(table)) and len(version) == 12
    assert f"{table.num_rows:,} customers written to Redis at {URL}" in output
    assert f"version {version}, keys needmap:features:{version}:<customer>, expiring in 30 days" in output

    ids = table.column("customer_id").to_pylist()
    with OnlineFeatures(URL, version) as online:
        got = online.rows([*ids, "nobody"])
        meta = online.meta()
        assert online.rows([ids[3]]) == [got[3]]  # one customer: its own path
    want = _features_only(table)
    assert got[-1] is None and len(got) == len(ids) + 1
    assert all(_same(g, w) for g, w in zip(got[:-1], want, strict=True))
    # Every kind the builder makes went through: ints, floats, nulls, the sequence and the multi-hot lists.
    first = want[0]
    assert isinstance(first["events"], int) and isinstance(first["spend"], float)
    assert isinstance(first["last_items"], list) and isinstance(first["categories"], list)
    assert any(row["ipi_std_days"] is None for row in want)
    assert not set(LABELS) & set(first) and "customer_id" not in first and "cutoff" not in first

    assert meta["rows"] == len(ids) and meta["cutoff"] == "2020-10-01" and meta["ttl_days"] == 30
    assert meta["columns"] == list(first) and meta["customer_column"] == "customer_id"
    assert meta["version"] == version and meta["written_at"].endswith("Z")
    for key in (customer_key(version, ids[0]), f"needmap:features:{version}:{META}",
                f"needmap:features:{version}:{SCHEMA}"):  # fmt: skip
        assert 30 * DAY_S - 60 < server.ttl(key) <= 30 * DAY_S
    assert json.loads(server.hget(customer_key(version, ids[0]), "last_items")) == first["last_items"]
    assert server.hget(f"needmap:features:{version}:{SCHEMA}", "spend") == b"double"


def _typed_table(ids: list[Any]) -> pa.Table:
    """Four customers and a column of each type the writer takes, with nulls, NaN, quotes and line breaks."""
    table = pa.table(
        {
            "cid": ids,
            "cutoff": pa.array([datetime(2024, 1, 1)] * 4, pa.timestamp("us")),
            "text": ['a"b\\c', "line\nbreak\ttab", None, "ünïcode ✓"],
            "flag": [True, False, None, True],
            "number": [0.0, float("nan"), float("-inf"), 1e-7],
            "single": pa.array([0.1, None, 2.5, 3.0], pa.float32()),
            "small": pa.array([1, -2, None, 127], pa.int8()),
            "big": pa.array([2**62, 0, -(2**63), None], pa.int64()),
            "at": pa.array(
                [
                    datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc),
                    None,
                    datetime(2020, 1, 1, tzinfo=timezone.utc),
                    datetime(1999, 1, 1, tzinfo=timezone.utc),
                ],
                pa.timestamp("us", "UTC"),
            ),
            "day": [date(2024, 1, 2), None, date(2020, 2, 29), date(1999, 12, 31)],
            "money": pa.array([Decimal("1.25"), None, Decimal("-3.10"), Decimal("0.00")], pa.decimal128(10, 2)),
            "counts": pa.array([[1, 2], [], None, [None, 3]], pa.list_(pa.int64())),
            "shares": pa.array([[0.5, float("nan")], [], None, [1.0]], pa.list_(pa.float64())),
            "items": pa.array([["a", "b"], [], None, ['q"x', "y"]], pa.list_(pa.string())),
            "plain_items": pa.array([["a", "b"], [], None, ["c"]], pa.large_list(pa.string())),
            "nothing": pa.nulls(4),
            "channel": pa.array(["web", "shop", "web", None]).dictionary_encode(),
        }
    )
    info = FeatureTableInfo(spec=EventSpec(customer="cid", time="ts"), as_of=("2024-01-01",), labels=())
    return with_info(table, info)


def test_every_type_reads_back_exactly_and_ids_keep_their_text(server: Any) -> None:
    table = _typed_table([7, 8, 9, 10])
    done = write_online_features(table, URL)
    assert done.rows == 4 and done.cutoff == "2024-01-01" and done.ttl_days is None
    want = _features_only(table)
    with OnlineFeatures(URL, done.version) as online:
        got = online.rows([7, "8", 9, 10])
        assert online.rows(["7"]) == online.rows([7]) == [got[0]]
        assert online.rows(["07", 11, META, SCHEMA]) == [None, None, None, None]
    for g, w in zip(got, want, strict=True):
        assert _same(g, w), (g, w)
    assert got[0]["single"] == pa.array([0.1], pa.float32()).to_pylist()[0]  # a float32 as its exact double
    assert got[0]["channel"] == "web" and got[0]["at"].tzinfo is not None
    assert (
        server.exists(f"needmap:features:{done.version}:7") and server.ttl(f"needmap:features:{done.version}:7") == -1
    )
    assert server.hget(f"needmap:features:{done.version}:7", "number") == b"0"

    # A server that runs no scripts: the hashes are read as they are, with the same rows.
    with OnlineFeatures(URL, done.version) as online:

        def no_scripts(**given: Any) -> None:
            import redis

            raise redis.ResponseError("unknown command 'EVALSHA'")

        online._joined = no_scripts
        again = online.rows([7, "8", 9, 10, 11])
        assert again[-1] is None and all(_same(a, g) for a, g in zip(again[:-1], got, strict=True))

    # Text ids are the keys as they are: a leading zero stays.
    text_ids = _typed_table(["007", "8", "a:b c", "ü"])
    write_online_features(text_ids, URL)
    with OnlineFeatures(URL, done.version) as online:
        assert [r is not None for r in online.rows(["007", "a:b c", "ü", "07"])] == [True, True, True, False]


def test_a_time_to_live_applies_to_every_key_and_a_write_without_one_clears_it(server: Any) -> None:
    table = _typed_table([1, 2, 3, 4])
    done = write_online_features(table, URL, ttl="2w")
    keys = server.keys(f"needmap:features:{done.version}:*")
    assert len(keys) == 4 + 2
    assert all(14 * DAY_S - 60 < server.ttl(k) <= 14 * DAY_S for k in keys)
    write_online_features(table, URL)
    assert all(server.ttl(k) == -1 for k in keys)


def test_a_rewrite_with_other_columns_replaces_each_customer_whole(server: Any) -> None:
    table = _typed_table([1, 2, 3, 4])
    done = write_online_features(table, URL)
    fewer = table.drop_columns(["text", "items"])
    write_online_features(fewer, URL)
    key = customer_key(done.version, 1)
    assert server.hlen(key) == fewer.num_columns - 2 and not server.hexists(key, "text")
    with OnlineFeatures(URL, done.version) as online:
        assert "text" not in online.rows([1])[0] and online.meta()["columns"] == fewer.column_names[2:]


def test_an_incomplete_or_missing_write_is_a_clear_error(server: Any) -> None:
    done = write_online_features(_typed_table([1, 2, 3, 4]), URL)
    with pytest.raises(DataError, match="no features of version 0123456789ab in Redis at "):
        OnlineFeatures(URL, "0123456789ab")
    server.delete(f"needmap:features:{done.version}:{META}")  # as a write stopped before its end leaves it
    with pytest.raises(DataError) as caught:
        OnlineFeatures(URL, done.version)
    message = str(caught.value)
    assert (
        f"no features of version {done.version} in Redis at {URL} (a write of it began but did not finish)" in message
    )
    assert f"write them with needmap features ... --to {URL}" in message


def test_the_version_follows_the_definitions_never_the_cutoff(log_file: Path, tmp_path: Path) -> None:
    events = pq.read_table(log_file)
    early = needmap.features(events, as_of="2020-09-01", **OPTIONS)
    late = needmap.features(events, as_of="2020-12-01", labels=False, **OPTIONS)
    windows = needmap.features(events, as_of="2020-12-01", windows="7,30", labels=False, **OPTIONS)
    other_amount = needmap.features(events, as_of="2020-12-01", **{**OPTIONS, "amount": "unit_price"})
    version = features_version(early)
    assert features_version(late) == version
    assert len({version, features_version(windows), features_version(other_amount)}) == 3

    # A model keeps the description as events.json: its document, its file and its directory give the same.
    document = json.loads(info_of(early).to_json())
    assert features_version(document) == version
    model = tmp_path / "model"
    model.mkdir()
    (model / "events.json").write_text(json.dumps(document), encoding="utf-8")
    assert features_version(model) == features_version(model / "events.json") == version

    class Loaded:  # what needmap.load gives: the description as events_info
        events_info = info_of(late)

    assert features_version(Loaded()) == version
    plain = EventSpec(customer="c", time="t", amount="a")
    assert features_version(plain) == features_version(FeatureTableInfo(spec=plain, as_of=("2024-01-01",)))
    with pytest.raises(ConfigError, match="event types and categories"):
        features_version(EventSpec(customer="c", time="t", category="cat"))


def test_several_cutoffs_and_missing_destinations_are_refused(server: Any, log_file: Path, tmp_path: Path) -> None:
    code, output = run_cli("features", log_file, *LOG_ARGS, "--as-of", "2020-09-01", "--as-of", "2020-10-01",
                           "--to", URL)  # fmt: skip
    assert code == 2 and "--as-of gives 2 cutoffs (2020-09-01, 2020-10-01)" in output
    assert "expected one --as-of with --to" in output and server.dbsize() == 0
    code, output = run_cli("features", log_file, *LOG_ARGS, "--as-of", "2020-09-01..2020-12-01/1m", "--to", URL)
    assert code == 2 and "--as-of gives 4 cutoffs" in output
    code, output = run_cli("features", log_file, *LOG_ARGS, "--as-of", "2020-09-01")
    assert code == 2 and "expected --out FILE, --to redis://HOST:PORT/DB, or both" in output
    code, output = run_cli("features", log_file, *LOG_ARGS, "--as-of", "2020-09-01", "--out", tmp_path / "f.parquet",
                           "--ttl", "30d")  # fmt: skip
    assert code == 2 and "--ttl is given without --to" in output and not (tmp_path / "f.parquet").exists()
    code, output = run_cli("features", log_file, *LOG_ARGS, "--as-of", "2020-09-01", "--to", URL, "--ttl", "soon")
    assert code == 2 and "--ttl is 'soon'" in output
    several = needmap.features(pq.read_table(log_file), as_of=["2020-09-01", "2020-10-01"], **OPTIONS)
    with pytest.raises(ConfigError, match="the table has 2 cutoffs"):
        write_online_features(several, URL)
    assert server.dbsize() == 0


def test_a_password_never_shows(server: Any, log_file: Path) -> None:
    with_password = f"redis://:{PASSWORD}@{HOST}:{PORT}/{DB}"
    assert shown_url(with_password) == URL
    # This server has no password: it takes any, so the write goes through and its message shows none.
    code, output = run_cli("features", log_file, *LOG_ARGS, "--as-of", "2020-10-01", "--no-labels", "--to",
                           with_password)  # fmt: skip
    assert code == 0 and f"written to Redis at {URL}" in output and PASSWORD not in output
    code, output = run_cli("features", log_file, *LOG_ARGS, "--as-of", "2020-10-01", "--to",
                           f"redis://user:{PASSWORD}@{HOST}:1/{DB}")  # fmt: skip
    assert code == 2 and f"no Redis server answers at redis://{HOST}:1/{DB}" in output and PASSWORD not in output
    code, output = run_cli("features", log_file, *LOG_ARGS, "--as-of", "2020-10-01", "--to",
                           f"http://:{PASSWORD}@{HOST}:{PORT}/{DB}")  # fmt: skip
    assert code == 2 and "is not of the form redis://HOST:PORT/DB" in output and PASSWORD not in output
    for url in (f"redis://:{PASSWORD}@{HOST}:1/{DB}", f"redis://:{PASSWORD}@{HOST}:{PORT}/{DB}"):
        with pytest.raises(DataError) as caught:
            OnlineFeatures(url, "0123456789ab")
        assert PASSWORD not in str(caught.value) and f"{HOST}:" in str(caught.value)
