"""Helpers shared by the preprocessor tests: schemas built by hand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from needmap.data.read import read
from needmap.preprocessing.preprocess import Preprocessor
from needmap.preprocessing.row import RowEncoder
from needmap.schema import ColumnSpec, Schema


def build_schema(
    numeric: tuple[str, ...] = (),
    categorical: tuple[str, ...] = (),
    target: str | None = None,
    task: str | None = None,
    classes: tuple[str, ...] = (),
) -> Schema:
    """A schema with the given numeric and categorical features and optional target."""
    columns = [ColumnSpec(n, "numeric", "double", "test") for n in numeric]
    columns += [ColumnSpec(n, "categorical", "string", "test") for n in categorical]
    if target is not None:
        columns.append(ColumnSpec(target, "target", "string", "test"))
    return Schema(columns, target=target, task=task, classes=list(classes))


@pytest.fixture
def make_schema() -> Callable[..., Schema]:
    return build_schema


def assert_rows_agree(pre: Preprocessor, rows: list[dict], reference: Preprocessor | None = None) -> None:
    """Each row's features from ``pre``'s one-row path equal those of ``reference.transform`` (default
    ``pre``) on that row: numerics to float32 precision, ids exactly."""
    encoder = RowEncoder(pre)
    assert encoder.covered
    batch_path = reference or pre
    for row in rows:
        fast = encoder.encode(row)
        assert fast is not None, row
        batch = batch_path.transform(read([row]))
        np.testing.assert_allclose(fast.numeric, batch.numeric, rtol=1e-6, atol=1e-7)
        assert fast.categorical.tolist() == batch.categorical.tolist(), row
        assert [a.tolist() for a in fast.lists] == [a.tolist() for a in batch.lists], row


@pytest.fixture
def rows_agree() -> Callable[..., None]:
    return assert_rows_agree
