"""The data profile (profile_table) against pyarrow/numpy, and drift (PSI) on known distributions."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from needmap.data.infer import infer_schema
from needmap.data.profile import (
    CLIP_QUANTILES,
    HISTOGRAM_BINS,
    QUANTILES,
    TOP_VALUES,
    drift,
    profile_table,
    psi,
    psi_label,
)
from needmap.errors import DataError
from needmap.preprocessing.preprocess import PreprocessConfig


def _columns(profile: dict) -> dict[str, dict]:
    return {c["name"]: c for c in profile["columns"]}


def _small_table(seed: int = 0, n: int = 2000, shift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(10 + shift, 2, n)
    x[rng.choice(n, 37, replace=False)] = np.nan
    colour = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]).astype(object)
    colour[rng.choice(n, 11, replace=False)] = None
    tags = [["a", "b"] if i % 3 else ["c"] for i in range(n)]
    tags[5] = None
    return pa.table(
        {
            "x": pa.array(x, from_pandas=True),
            "count": pa.array(rng.poisson(3, n)),
            "colour": pa.array(colour.tolist(), type=pa.string()),
            "tags": pa.array(tags, type=pa.list_(pa.string())),
        }
    )


def test_numeric_column_numbers_match_numpy() -> None:
    table = _small_table()
    entry = _columns(profile_table(table))["x"]
    values = table.column("x").to_numpy(zero_copy_only=False)
    finite = values[~np.isnan(values)]
    assert entry["role"] == "numeric" and entry["kind"] == "numeric"
    assert entry["missing"] == table.column("x").null_count == 37
    assert entry["missing_share"] == pytest.approx(37 / 2000)
    assert entry["distinct"] == pc.count_distinct(table.column("x")).as_py()
    assert entry["min"] == finite.min() and entry["max"] == finite.max()
    assert entry["mean"] == pytest.approx(finite.mean()) and entry["std"] == pytest.approx(finite.std())
    for level in QUANTILES:
        assert entry["quantiles"][f"p{round(level * 100)}"] == pytest.approx(np.quantile(finite, level))
    edges, counts = entry["histogram"]["edges"], entry["histogram"]["counts"]
    assert len(edges) == HISTOGRAM_BINS + 1 and len(counts) == HISTOGRAM_BINS + 2
    assert edges[0] == pytest.approx(np.quantile(finite, 0.01)) and edges[-1] == pytest.approx(
        np.quantile(finite, 0.99)
    )
    assert sum(counts) == len(finite) == table.num_rows - entry["missing"]
    assert counts[0] == int((finite < edges[0]).sum()) and counts[-1] == int((finite > edges[-1]).sum())
    inner = np.histogram(finite, bins=edges)[0]  # numpy's last bin is closed on the right, like ours
    assert counts[1:-1] == inner.tolist()


def test_outliers_are_what_the_preprocessor_clips_by_default() -> None:
    assert PreprocessConfig().clip_quantiles == CLIP_QUANTILES
    table = _small_table()
    entry = _columns(profile_table(table))["x"]
    finite = table.column("x").drop_null().to_numpy()
    low = np.quantile(finite, CLIP_QUANTILES[0], method="lower")
    high = np.quantile(finite, CLIP_QUANTILES[1], method="higher")
    assert entry["outliers"] == int(((finite < low) | (finite > high)).sum()) > 0
    assert entry["clip"]["low"] == low and entry["clip"]["high"] == high


def test_categorical_and_list_columns() -> None:
    table = _small_table()
    columns = _columns(profile_table(table))
    colour = columns["colour"]
    assert colour["kind"] == "categorical" and colour["missing"] == 11
    counted = pc.value_counts(table.column("colour").drop_null())
    expected = dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True))
    assert {t["value"]: t["count"] for t in colour["top"]} == expected
    assert [t["count"] for t in colour["top"]] == sorted(expected.values(), reverse=True)
    assert colour["other"] == 0 and colour["distinct"] == 3
    tags = columns["tags"]
    assert tags["kind"] == "list" and tags["missing"] == 1
    flat = pc.list_flatten(table.column("tags"))
    assert tags["items"] == len(flat) and tags["distinct"] == 3
    assert sum(t["count"] for t in tags["top"]) + tags["other"] == len(flat)


def test_top_values_keep_twenty_and_count_the_rest_as_other() -> None:
    values = [f"v{i:02d}" for i in range(30) for _ in range(30 - i)]  # v00 30 times ... v29 once
    entry = _columns(profile_table(pa.table({"c": values})))["c"]
    assert [t["value"] for t in entry["top"]] == [f"v{i:02d}" for i in range(TOP_VALUES)]
    assert entry["other"] == sum(30 - i for i in range(TOP_VALUES, 30)) and entry["distinct"] == 30


def test_roles_come_from_the_schema_when_given(bank_table: pa.Table) -> None:
    schema = infer_schema(bank_table, "y", drop=["duration"])
    profile = profile_table(bank_table, schema, source="bank slice")
    columns = _columns(profile)
    assert profile["rows"] == bank_table.num_rows and profile["source"] == "bank slice"
    assert columns["y"]["role"] == "target" and columns["y"]["kind"] == "categorical"
    assert columns["duration"]["role"] == "ignored" and columns["duration"]["kind"] == "numeric"
    assert columns["job"]["role"] == "categorical" and columns["age"]["role"] == "numeric"
    ages = bank_table.column("age").to_numpy().astype(float)
    assert columns["age"]["quantiles"]["p50"] == np.quantile(ages, 0.5)
    assert (
        columns["job"]["top"][0]["count"] == pc.max(pc.value_counts(bank_table.column("job")).field("counts")).as_py()
    )
    json.dumps(profile, allow_nan=False)  # JSON-safe


def test_psi_by_hand() -> None:
    # shares (0.5, 0.5) -> (0.25, 0.75): (0.25-0.5) ln(0.5) + (0.75-0.5) ln(1.5)
    assert psi([50, 50], [25, 75]) == pytest.approx(-0.25 * math.log(0.5) + 0.25 * math.log(1.5))
    # an empty bin counts as a share of 1e-4: (0.5-1) ln(0.5) + (0.5-1e-4) ln(0.5/1e-4)
    assert psi([100, 0], [50, 50]) == pytest.approx(-0.5 * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4))
    assert psi([3, 7, 0], [30, 70, 0]) == pytest.approx(0.0, abs=1e-12)
    assert [psi_label(v) for v in (0.0, 0.099, 0.1, 0.249, 0.25, 3.0)] == [
        "stable", "stable", "moderate", "moderate", "large", "large"
    ]  # fmt: skip
    with pytest.raises(DataError):
        psi([1, 2], [1, 2, 3])


def test_drift_is_zero_for_the_same_rows_and_large_for_shifted_rows() -> None:
    train = _small_table(seed=0)
    profile = profile_table(train)
    same = drift(profile, train)
    assert {d["column"] for d in same} == {"x", "count", "colour", "tags"}
    assert all(d["psi"] == pytest.approx(0.0, abs=1e-9) and d["label"] == "stable" for d in same)
    fresh = drift(profile, _small_table(seed=1))  # the same distributions, other rows
    assert all(d["psi"] < 0.1 for d in fresh)
    shifted = drift(profile, _small_table(seed=1, shift=3.0))  # x moves by 1.5 standard deviations
    assert shifted[0]["column"] == "x" and shifted[0]["label"] == "large"
    assert [d["psi"] for d in shifted] == sorted((d["psi"] for d in shifted), reverse=True)
    x = shifted[0]
    assert len(x["bins"]) == len(x["expected"]) == len(x["actual"]) == HISTOGRAM_BINS + 3  # + missing
    assert sum(x["expected"]) == pytest.approx(1.0) and sum(x["actual"]) == pytest.approx(1.0)
    assert x["psi"] == pytest.approx(psi(x["expected"], x["actual"]))


def test_drift_counts_missing_values_as_a_bin_and_names_absent_columns() -> None:
    train = _small_table()
    profile = profile_table(train)
    colour = train.column("colour").to_pylist()
    new = train.set_column(2, "colour", pa.array([None if i % 2 else v for i, v in enumerate(colour)], pa.string()))
    new = new.drop_columns(["tags"])
    result = drift(profile, new)
    assert result[0]["column"] == "tags" and result[0]["psi"] is None and result[0]["label"] == "absent"
    by_name = {d["column"]: d for d in result}
    assert by_name["colour"]["bins"][-1] == "missing"
    assert by_name["colour"]["actual"][-1] == pytest.approx(pc.mean(pc.is_null(new.column("colour"))).as_py())
    assert by_name["colour"]["label"] == "large"


def _python_lines(work: Callable[[], Any]) -> tuple[Any, int]:
    """``work()`` and the number of Python lines it ran (a loop's line counts once per turn)."""
    lines = 0

    def trace(frame: Any, event: str, arg: Any) -> Any:
        nonlocal lines
        if event == "line":
            lines += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        result = work()
    finally:
        sys.settrace(previous)
    return result, lines


def test_a_million_rows_run_as_many_python_lines_as_ten_thousand() -> None:
    """profile_table and drift work column by column in Arrow and numpy: the Python they run does not
    grow with the rows (a loop over the rows would run a million times more lines)."""
    counted = {}
    for n in (10_000, 1_000_000):
        rng = np.random.default_rng(0)
        table = pa.table(
            {
                "amount": rng.lognormal(3, 1, n),
                "visits": rng.poisson(4, n),
                "channel": pa.array(rng.choice(["web", "app", "store", "phone"], n)),
            }
        )
        (profile, result), counted[n] = _python_lines(lambda t=table: (p := profile_table(t), drift(p, t)))
        assert profile["rows"] == n and all(d["psi"] < 1e-9 for d in result)
    assert counted[1_000_000] <= 1.1 * counted[10_000] + 100, counted


def test_columns_without_values_and_tables_without_rows() -> None:
    table = pa.table({"empty": pa.nulls(4), "flag": [True, False, None, True], "x": [1.0, 2.0, 3.0, None]})
    columns = _columns(profile_table(table))
    assert columns["empty"]["missing"] == 4 and columns["empty"]["distinct"] == 0
    assert columns["flag"]["kind"] == "categorical" and {t["value"] for t in columns["flag"]["top"]} == {
        "true",
        "false",
    }
    result = drift(profile_table(table), table.slice(0, 0))
    assert {d["column"] for d in result} == {"flag", "x"}
    assert all(d["psi"] is None and d["label"] == "no rows" for d in result)
