"""Helpers shared by the preprocessor tests: schemas built by hand."""

from __future__ import annotations

from collections.abc import Callable

import pytest

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
