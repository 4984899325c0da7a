"""Generated rows (hypothesis) scored by tiny fitted models: the one-row path (``predict_proba(dict)``, through
:class:`~needmap.preprocessing.row.RowEncoder` where it covers the row) agrees with the batch path (the row read
as a table of one row) to float32 precision, or both raise a :class:`~needmap.errors.NeedmapError`; no other
exception; and ``predict`` of several rows keeps every row, in order, with its id exactly as given.

The models are fitted once per module (one epoch, one hidden layer of 8); the rows hold edge values in every
column: NaN, +-inf, 1e308, 5e-324, -0.0, huge integers, unicode, blank text, missing markers, numbers as text,
booleans, a missing column and an extra one.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

import needmap as nm
from needmap.data.read import read
from needmap.errors import NeedmapError
from property_tables import EDGE_INTS, FIXED, MARKERS, NUMBER_TEXT, TEXT, floats

pytestmark = pytest.mark.slow  # fits two models (about a second each)

FEATURES = ("x.amount", "n visits", "ünï cöde", "flag", "code")
TINY = {"epochs": 1, "progress": False, "batch_size": 16, "hidden": [8], "seed": 0}
#: What each property tried and how it ended, printed by the last test of the module (``pytest -s``).
TRIED: Counter[str] = Counter()


def training_rows(n: int = 40) -> pa.Table:
    """A small customer table with odd column names: a float, an integer, a unicode text category, a boolean,
    an integer code read as a category, a text id and a binary and a numeric target."""
    rng = np.random.default_rng(0)
    return read(
        [
            {
                "customer id": f"c{i:04d}",
                "x.amount": float(rng.normal(50, 20)) if i % 7 else None,
                "n visits": int(rng.integers(0, 9)),
                "ünï cöde": ["ä", "名前", "b c", "NA-like"][i % 4],
                "flag": bool(i % 3),
                "code": int(rng.integers(1, 4)),
                "y": ["no", "yes"][i % 2],
                "spend": float(i % 5) * 1.5,
            }
            for i in range(n)
        ]
    )


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    """A binary and a regression model fitted once on :func:`training_rows`."""
    rows = training_rows()
    common = {"id": "customer id", "categorical": "code", **TINY}
    return {
        "binary": nm.Model("mlp", target="y", drop="spend", **common).fit(rows),
        "regression": nm.Model("mlp", target="spend", drop="y", **common).fit(rows),
    }


TAME = {
    "x.amount": st.one_of(st.none(), floats()),
    "n visits": st.one_of(st.none(), st.sampled_from(EDGE_INTS), st.integers(0, 9)),
    "ünï cöde": st.sampled_from(["ä", " ä ", "名前", "b c", "NA-like", "unseen ü", *MARKERS]),
    "flag": st.one_of(st.none(), st.booleans()),
    "code": st.one_of(st.none(), st.integers(0, 5)),
}
WILD = st.one_of(
    st.none(),
    floats(),
    st.sampled_from([*EDGE_INTS, 2**63 - 1, 2**64, -(2**70)]),
    st.booleans(),
    TEXT,
    NUMBER_TEXT,
    st.sampled_from(["ä", " ä ", "名前", "b c", "1", "2", "2.0", " 3", "true", "FALSE", *MARKERS]),
)


@st.composite
def scoring_rows(draw: st.DrawFn, customer: int = 0, wild: bool = True) -> dict[str, Any]:
    """A row to score: an id, each feature with a value of its column's kind or (``wild``, one time in three) any
    value; one time in thirty a feature is left out; sometimes an extra column."""
    row: dict[str, Any] = {"customer id": f"k{customer:04d}"}
    for name in FEATURES:
        if draw(st.integers(0, 29)):
            row[name] = draw(WILD if wild and not draw(st.integers(0, 2)) else TAME[name])
    if draw(st.booleans()):
        row["extra ⚑"] = draw(WILD if wild else TEXT)
    return row


def scores(model: Any, data: Any) -> np.ndarray | NeedmapError:
    """``predict_proba`` of ``data``, or the NeedmapError it raises (any other exception fails the test)."""
    try:
        return np.asarray(model.predict_proba(data), dtype=np.float64)
    except NeedmapError as err:
        return err


@settings(FIXED, max_examples=150)
@given(row=scoring_rows())
@example(row={"customer id": "k0", "x.amount": 2**70, "n visits": 1})
@example(row={"customer id": "k0", "ünï cöde": " ä ", "code": "?", "flag": "FALSE", "x.amount": -0.0})
def test_one_row_agrees_with_the_batch_path_or_both_raise(models: dict[str, Any], row: dict[str, Any]) -> None:
    """``predict_proba(row)`` equals ``predict_proba(read([row]))`` (float32), or both raise a NeedmapError."""
    for task, model in models.items():
        TRIED[f"{task} rows"] += 1
        online, batch = scores(model, row), scores(model, read_or_error([row]))
        if isinstance(online, NeedmapError) or isinstance(batch, NeedmapError):
            event(f"{task}: {type(online).__name__} / {type(batch).__name__}")
            TRIED[f"{task} errors"] += 1
            assert isinstance(online, NeedmapError) and isinstance(batch, NeedmapError), (online, batch)
            continue
        assert online.shape == batch.shape == (1,) and np.isfinite(online).all()
        np.testing.assert_allclose(online, batch, rtol=1e-5, atol=1e-6)
        if task == "binary":
            assert 0.0 <= online[0] <= 1.0


def read_or_error(rows: list[dict[str, Any]]) -> pa.Table | NeedmapError:
    """``read(rows)``, or the NeedmapError it raises."""
    try:
        return read(rows)
    except NeedmapError as err:
        return err


@settings(FIXED, max_examples=40)
@given(rows=st.integers(1, 6).flatmap(lambda n: st.tuples(*(scoring_rows(customer=i, wild=False) for i in range(n)))))
def test_predict_keeps_every_row_in_order_with_its_id(models: dict[str, Any], rows: tuple[dict[str, Any]]) -> None:
    """``predict(rows)`` returns one score per row, the ids as given, in order; or a NeedmapError."""
    model = models["binary"]
    TRIED["predict tables"] += 1
    try:
        table = model.predict(list(rows))
    except NeedmapError as err:
        event(f"predict: {type(err).__name__}")
        TRIED["predict errors"] += 1
        return
    assert table.num_rows == len(rows)
    assert table.column("customer id").to_pylist() == [r["customer id"] for r in rows]
    assert all(math.isfinite(s) for s in table.column("score").to_pylist())


def test_report_cases_tried() -> None:
    """Print how many cases each property tried and how they ended (seen with ``pytest -s``)."""
    print("\nproperties of the one-row path:", dict(sorted(TRIED.items())))
