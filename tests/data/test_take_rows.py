"""take_rows: the rows at the positions given, whichever way Arrow is asked for them (a filter for positions in
increasing order, take otherwise), with the source kept and the row numbers marked unknown."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from needmap.data.provenance import _increasing_mask, first_row_of, source_of, take_rows, with_source


def _table(n: int) -> pa.Table:
    """``n`` rows in three chunks, with nulls, text, numbers and lists."""
    rng = np.random.default_rng(n)
    words = [None if i % 7 == 3 else f"w{int(v)}" for i, v in enumerate(rng.integers(0, 50, n))]
    numbers = [None if i % 5 == 1 else float(v) for i, v in enumerate(rng.normal(size=n))]
    lists = [[int(v), int(v) + 1] if i % 4 else None for i, v in enumerate(rng.integers(0, 9, n))]
    whole = pa.table({"word": words, "x": numbers, "items": pa.array(lists, pa.list_(pa.int64()))})
    third = max(n // 3, 1)
    chunked = pa.concat_tables([whole.slice(0, third), whole.slice(third, third), whole.slice(2 * third)])
    return with_source(chunked, "shop.csv", 2)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.integers(0, n - 1), max_size=2 * n))))
def test_the_rows_are_those_of_arrow_take_in_any_order(case: tuple[int, list[int]]) -> None:
    n, positions = case
    table = _table(n)
    for chosen in (positions, sorted(set(positions))):  # any order with repeats, and increasing
        for given_as in (np.asarray(chosen, dtype=np.int64), pa.array(chosen, pa.int64())):
            part = take_rows(table, given_as)
            assert part.to_pylist() == table.take(pa.array(chosen, pa.int64())).to_pylist()
            assert part.schema.equals(table.schema)  # the same columns and types
            assert source_of(part) == "shop.csv" and first_row_of(part) is None


def test_positions_in_increasing_order_are_filtered_and_others_taken() -> None:
    assert _increasing_mask(np.array([0, 2, 3]), 5).to_pylist() == [True, False, True, True, False]
    assert _increasing_mask(pa.chunked_array([[1], [4]]), 5).to_pylist() == [False, True, False, False, True]
    for taken in ([2, 0], [1, 1], [], [-1, 2], [0, 5], [0.0, 1.0]):  # out of order, repeated, empty, outside
        assert _increasing_mask(np.asarray(taken), 5) is None, taken
    assert _increasing_mask(pa.array([0, None, 2]), 5) is None


@pytest.mark.parametrize("positions", [[0, 9], [-1], [3, 1, 9]])
def test_positions_outside_the_table_are_refused_as_arrow_refuses_them(positions: list[int]) -> None:
    table = _table(9)
    with pytest.raises(IndexError):
        table.take(pa.array(positions))
    with pytest.raises(IndexError):
        take_rows(table, pa.array(positions))
