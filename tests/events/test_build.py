"""The feature builder's guarantees: the point-in-time boundary, bad rows, returns, censoring, amounts,
times, ``like=`` and the sources it reads."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import duckdb
import polars
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import needmap
from hand_event_log import CUTOFFS, ROWS, SPEC, log_table
from needmap.errors import ConfigError, DataError
from needmap.events.build import build_features
from needmap.events.table_info import LABELS, EventSpec, info_of


def _features(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in LABELS if c in table.column_names]).replace_schema_metadata(None)


def test_events_at_or_after_the_cutoff_never_change_its_features():
    cutoff = "2024-01-15"
    before = [r for r in ROWS if r[1] < "2024-01-15"]
    after = [r for r in ROWS if r[1] >= "2024-01-15"]
    changed = [
        (c, t.replace("2024-01-1", "2024-01-2") if t < "2024-01-20" else t, e, "zz", "c9", a * 7 + 1, "x" + str(o))
        for c, t, e, _, _, a, o in after[1:]  # the first later event removed, the others moved and altered
    ]
    added = [
        ("A", "2024-01-15 00:00:00", "purchase", "i9", "c1", 500.0, "new1"),  # exactly at the cutoff
        ("D", "2024-01-16 00:00:00", "purchase", "i9", "c2", -3.0, "new2"),  # a new customer, a return
        ("B", "2024-03-01 00:00:00", "cart", "i9", "c3", 1.0, None),  # a new event type
    ]
    original = build_features(log_table(), SPEC, [cutoff])
    altered = build_features(log_table(before + changed + added), SPEC, [cutoff])
    assert _features(altered).equals(_features(original))
    assert altered.column("label_spend").to_pylist() != original.column("label_spend").to_pylist()


def test_bad_rows_are_counted_by_reason_and_left_out():
    rows = [*ROWS]
    table = log_table(rows)
    customers = pa.array([None, *table.column("customer").to_pylist()[1:]], pa.string())
    times = pa.array(["not a time", None, *[str(t) for t in table.column("time").to_pylist()[2:]]], pa.string())
    amounts = pa.array([*table.column("amount").to_pylist()[:3], None, *table.column("amount").to_pylist()[4:]])
    bad = table.set_column(0, "customer", customers).set_column(1, "time", times).set_column(5, "amount", amounts)
    built = build_features(bad, SPEC, ["2024-01-25"])
    # row 1: customer missing (its unreadable time not counted twice); row 2: time missing; row 4: amount missing
    assert info_of(built).bad_rows == {"missing customer": 1, "missing time": 1, "missing amount": 1}
    a = built.filter(pc.equal(built.column("customer"), "A")).to_pylist()[0]
    assert a["events"] == 4  # 7 events of A less the three bad ones
    unparseable = table.set_column(1, "time", pa.array(["2024-13-45", *[str(t) for t in times.to_pylist()[2:]], "x"]))
    assert info_of(build_features(unparseable, SPEC, ["2024-01-25"])).bad_rows == {"unparseable time": 2}
    blank = unparseable.set_column(1, "time", pc.replace_substring(unparseable.column("time"), "2024-13-45", " "))
    assert info_of(build_features(blank, SPEC, ["2024-01-25"])).bad_rows == {"missing time": 1, "unparseable time": 1}


def test_a_negative_amount_is_a_return_not_a_purchase():
    rows = [
        ("A", "2024-01-01 10:00:00", "purchase", "i1", "c1", 10.0, "o1"),
        ("A", "2024-01-03 10:00:00", "purchase", "i1", "c1", -4.0, "c1"),
        ("A", "2024-01-20 10:00:00", "purchase", "i1", "c1", -30.0, "c2"),  # the horizon's spend floored at 0
        ("B", "2024-03-01 10:00:00", "purchase", "i1", "c1", 1.0, "o2"),
    ]
    row = build_features(log_table(rows), SPEC, ["2024-01-15"]).to_pylist()[0]
    assert (row["purchases"], row["spend"], row["returns"], row["returned_amount"]) == (1, 6.0, 1, 4.0)
    assert (row["label_bought"], row["label_purchases"], row["label_spend"]) == (0, 0, 0.0)


def test_a_log_of_purchases_alone_without_amount_order_or_event():
    spec = EventSpec(customer="customer", time="time", windows=(7, 30), horizon_days=10)
    built = build_features(log_table(), spec, ["2024-01-15"])
    money = {"spend", "spend_7d", "spend_30d", "order_value_mean", "returned_amount", "amount_purchase"}
    assert not money & set(built.column_names)
    assert not {"last_items", "categories", "events_view"} & set(built.column_names)
    a = built.to_pylist()[0]
    # every event is a purchase; an occasion is a distinct time: A's 5 events fall at 4 times
    assert (a["customer"], a["events"], a["purchases"], a["basket_lines_mean"]) == ("A", 5, 4, 1.25)
    assert (a["returns"], a["btyd_frequency"], a["btyd_monetary"], a["label_spend"]) == (0, 3, 0.0, 0.0)
    assert (a["label_bought"], a["label_purchases"]) == (1, 2)  # 01-16 and 01-20


def test_a_horizon_past_the_log_end_is_an_error_unless_no_labels():
    with pytest.raises(DataError, match=r"cutoff 2024-02-01 .* last event is at 2024-02-05 09:00:00"):
        build_features(log_table(), SPEC, ["2024-01-15", "2024-02-01"])
    built = build_features(log_table(), SPEC, ["2024-02-01"], labels=False)
    assert not set(LABELS) & set(built.column_names)
    assert info_of(built).labels == ()


def test_amount_as_an_expression_and_its_errors():
    table = log_table()
    split = table.append_column("quantity", pa.array([2.0] * table.num_rows)).append_column(
        "price", pc.divide(table.column("amount"), 2.0)
    )
    by_expression = build_features(split, dataclasses.replace(SPEC, amount="quantity * price"), CUTOFFS)
    by_column = build_features(table, SPEC, CUTOFFS)
    hours = dataclasses.replace(SPEC, amount="quantity * price + 0 * extract(hour FROM time)")  # FROM inside a call
    assert _features(build_features(split, hours, CUTOFFS)).equals(_features(by_column))
    with pytest.raises(ConfigError, match="not an expression DuckDB can compute"):
        build_features(split, dataclasses.replace(SPEC, amount="quantity *"), CUTOFFS)
    assert _features(by_expression).equals(_features(by_column))
    with pytest.raises(ConfigError, match="'quantiy'"):
        build_features(split, dataclasses.replace(SPEC, amount="quantiy * price"), CUTOFFS)
    for bad in ("price; DROP TABLE x", "(SELECT 1)", "price * (FROM log SELECT 1)", "price) FROM log UNION SELECT (1"):
        with pytest.raises(ConfigError, match="single expression"):
            build_features(split, dataclasses.replace(SPEC, amount=bad), CUTOFFS)


def test_epoch_seconds_and_iso_text_read_as_the_same_times():
    """Seconds since 1970, ISO text, and ISO text with an offset (taken in UTC) give the same times."""
    table = log_table()
    seconds = pc.divide(table.column("time").cast(pa.int64()), 1_000_000)
    as_seconds = table.set_column(1, "time", seconds)
    as_text = table.set_column(1, "time", pc.strftime(table.column("time"), "%Y-%m-%d %H:%M:%S"))
    shifted = pc.add(table.column("time"), pa.scalar(2 * 3600 * 10**6, pa.duration("us")))
    with_offset = table.set_column(
        1, "time", pc.binary_join_element_wise(pc.strftime(shifted, "%Y-%m-%dT%H:%M:%S"), "+02:00", "")
    )
    reference = _features(build_features(table, SPEC, CUTOFFS))
    assert _features(build_features(as_seconds, SPEC, CUTOFFS)).equals(reference)
    assert _features(build_features(as_text, SPEC, CUTOFFS)).equals(reference)
    assert _features(build_features(with_offset, SPEC, CUTOFFS)).equals(reference)  # 12:00+02:00 is 10:00 UTC


def test_like_gives_identical_columns_for_a_later_table():
    first = build_features(log_table(), SPEC, ["2024-01-15"])
    shifted = [(c, t, "click" if e == "view" else e, i, "c3", a, o) for c, t, e, i, _, a, o in ROWS]
    alone = build_features(log_table(shifted), SPEC, ["2024-01-25"])
    assert alone.column_names != first.column_names  # its own event types and categories
    later = build_features(log_table(shifted), SPEC, ["2024-01-25"], like=info_of(first))
    assert later.column_names == first.column_names
    assert later.schema.remove_metadata() == first.schema.remove_metadata()
    assert info_of(later).extra["categories"] == ["c1", "c2"]
    with pytest.raises(ConfigError, match="windows"):
        build_features(log_table(), dataclasses.replace(SPEC, windows=(7,)), ["2024-01-25"], like=info_of(first))


def test_csv_parquet_frame_and_sql_sources_agree(tmp_path):
    table = log_table()
    reference = _features(build_features(table, SPEC, CUTOFFS))
    pq.write_table(table, tmp_path / "log.parquet")
    pacsv.write_csv(table, tmp_path / "log.csv")
    table.to_pandas().to_json(tmp_path / "log.jsonl", orient="records", lines=True, date_format="iso")
    sources = {
        "parquet": (str(tmp_path / "log.parquet"), None),
        "csv": (tmp_path / "log.csv", None),
        "jsonl": (tmp_path / "log.jsonl", None),
        "pandas": (table.to_pandas(), None),
        "polars": (polars.from_arrow(table), None),
        "sql": (None, f"SELECT * FROM read_parquet('{tmp_path / 'log.parquet'}')"),
    }
    for name, (source, sql) in sources.items():
        got = _features(needmap.features(source, sql=sql, **_keywords()))
        assert got.equals(reference), name
    con = duckdb.connect()
    con.register("log", table)
    assert _features(needmap.features(con, sql="SELECT * FROM log", **_keywords())).equals(reference)


def test_a_column_not_in_the_log_is_named(tmp_path):
    pacsv.write_csv(log_table(), tmp_path / "log.csv")
    with pytest.raises(
        ConfigError, match="the customer column 'client' is not in the log; expected one of customer, time, "
    ):
        build_features(tmp_path / "log.csv", dataclasses.replace(SPEC, customer="client"), CUTOFFS)
    with pytest.raises(ConfigError, match="the category column 'cat' is not in the log"):
        build_features(log_table(), dataclasses.replace(SPEC, category="cat"), CUTOFFS)


def test_customer_ids_come_out_as_they_went_in(tmp_path):
    table = log_table().set_column(0, "customer", pa.array(["007" if c == "A" else "010" for c in ROWS]))
    table = table.set_column(0, "customer", pa.array(["007" if r[0] == "A" else "010" for r in ROWS]))
    pacsv.write_csv(table, tmp_path / "log.csv")
    built = needmap.features(tmp_path / "log.csv", **_keywords())
    assert sorted(set(built.column("customer").to_pylist())) == ["007", "010"]


def test_a_customer_column_named_like_a_feature_is_refused():
    renamed = log_table().rename_columns(["events", *log_table().column_names[1:]])
    with pytest.raises(ConfigError, match="customer column 'events' has the name of a feature column"):
        build_features(renamed, dataclasses.replace(SPEC, customer="events"), CUTOFFS)


def test_memory_limit_is_checked_and_a_small_one_gives_the_same_table():
    reference = build_features(log_table(), SPEC, CUTOFFS)
    assert build_features(log_table(), SPEC, CUTOFFS, memory_limit="16MB").equals(reference)
    with pytest.raises(ConfigError, match="memory_limit"):
        build_features(log_table(), SPEC, CUTOFFS, memory_limit="lots")
    with pytest.raises(DataError, match=r"Out of Memory.*Give DuckDB more memory \(memory_limit, --memory-limit\)"):
        build_features(log_table(), SPEC, CUTOFFS, memory_limit="1KB")


def test_schema_inference_reads_the_list_columns_and_keeps_labels_out():
    built = needmap.features(log_table(), **_keywords())
    schema = needmap.Model("mlp", target="label_bought").infer_schema(built)
    roles = {c.name: c.role for c in schema.columns}
    assert (roles["last_items"], roles["categories"]) == ("sequence", "multihot")
    assert (roles["label_purchases"], roles["label_spend"], roles["label_bought"]) == ("ignored", "ignored", "target")


def test_needmap_features_is_the_event_feature_builder_whatever_was_imported_before():
    import needmap.preprocessing.lists
    from needmap.events.api import features

    assert needmap.features is features
    assert needmap.features(log_table(), **_keywords()).num_rows == 5


def test_durations_and_cutoff_ranges():
    built = needmap.features(log_table(), **{**_keywords(), "horizon": "1w", "windows": "7d,30"}, labels=True)
    assert info_of(built).spec.horizon_days == 7
    monthly = needmap.features(log_table(), **{**_keywords(), "as_of": ["2024-01-10..2024-01-31/1w"]}, labels=False)
    assert info_of(monthly).as_of == ("2024-01-10", "2024-01-17", "2024-01-24", "2024-01-31")
    assert monthly.column("cutoff").to_pylist()[0] == datetime(2024, 1, 10)
    with pytest.raises(ConfigError, match="horizon"):
        needmap.features(log_table(), **{**_keywords(), "horizon": "3 months"})


def _keywords() -> dict:
    return dict(
        customer="customer",
        time="time",
        item="item",
        event="event",
        amount="amount",
        category="category",
        order="order_id",
        purchase_events=["purchase"],
        windows=[7, 30],
        horizon=10,
        top_categories=2,
        last_items=3,
        as_of=CUTOFFS,
    )


def test_a_failed_write_leaves_the_earlier_table_and_its_description_as_they_were(tmp_path, monkeypatch):
    import needmap.events.write as write

    out = tmp_path / "features.csv"
    earlier = build_features(log_table(), SPEC, CUTOFFS[:1])
    write.write_features(earlier, out)
    table_before = out.read_bytes()
    side = write.sidecar_path(out)
    side_before = side.read_text(encoding="utf-8")
    later = build_features(log_table(), SPEC, CUTOFFS)
    assert info_of(later).to_json() != side_before  # the new description differs from the one on disk

    def fail(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(write, "write_table", fail)
    with pytest.raises(OSError, match="No space left"):
        write.write_features(later, out)
    assert out.read_bytes() == table_before and side.read_text(encoding="utf-8") == side_before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, side.name])  # no temporary file left

    monkeypatch.undo()
    write.write_features(later, out)
    assert side.read_text(encoding="utf-8") == info_of(later).to_json()
