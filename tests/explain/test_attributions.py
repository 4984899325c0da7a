"""Attributions summed to the user's columns: they find the columns that drive the outcome, and they add up."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from needmap.explain.attributions import column_attributions

pytestmark = pytest.mark.slow

ITEMS = [f"i{k}" for k in range(12)]


@pytest.fixture(scope="module")
def table() -> pa.Table:
    """Only ``a`` (a number) and ``c`` (a category) drive the outcome; ``b``, ``d``, ``e``, the candidate ``item``
    and the ``history`` of items are noise."""
    rng = np.random.default_rng(0)
    n = 8000
    a, b, d = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    c, e = rng.choice(list("pqrs"), n), rng.choice(list("xyzw"), n)
    logit = 1.5 * a + np.where(c == "p", 1.5, np.where(c == "q", -1.5, 0.0))
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    item = rng.choice(ITEMS, n)
    history = ["|".join(rng.choice(ITEMS, 4)) for _ in range(n)]
    return pa.table({"a": a, "b": b, "c": c, "d": d, "e": e, "item": item, "history": history, "y": y})


def fitted(name: str, table: pa.Table):
    if name == "din":
        model = nm.Model("din", target="y", sequence={"history": {"vocabulary_of": "item"}}, epochs=5, seed=0,
                         progress=False)  # fmt: skip
        return model.fit(table).predictor_
    return nm.Model(name, target="y", drop=["item", "history"], epochs=5, seed=0, progress=False).fit(table).predictor_


@pytest.fixture(scope="module", params=["mlp", "deepfm", "dcnv2", "din"])
def explained(request, table):
    predictor = fitted(request.param, table)
    return request.param, column_attributions(predictor, table.slice(0, 500), background=table)


def test_the_two_driving_columns_carry_most_of_the_attribution(explained) -> None:
    name, found = explained
    share = np.abs(found.values).sum(axis=0) / np.abs(found.values).sum()
    by_column = dict(zip(found.columns, share, strict=True))
    assert by_column["a"] + by_column["c"] >= 0.8, (name, by_column)


def test_a_rows_attributions_add_up_to_its_output_minus_the_reference(explained) -> None:
    """Completeness within 1% of the change (0.01 logits where the change is under one logit)."""
    name, found = explained
    change = found.output - found.reference_output
    error = np.abs(found.values.sum(axis=1) - change)
    assert (error <= 0.01 * np.maximum(np.abs(change), 1.0)).all(), (name, error.max())


def test_a_sequence_gets_a_share_per_item(explained) -> None:
    name, found = explained
    if name != "din":
        assert found.items == {}
        return
    items = found.items["history"]
    assert items.shape[0] == 500 and items.shape[1] >= 4
    column = found.columns.index("history")
    assert np.allclose(items.sum(axis=1), found.values[:, column])
