"""Generated tables (hypothesis) through schema inference and preprocessing: one row or a few, one class or two, all
missing columns, edge numbers, unicode and blank text, numbers and text in one column, odd column names. Each
step ends in a result or a :class:`~needmap.errors.NeedmapError`, never another exception; the features keep
every row in order and are finite; and each row's features are the same from the whole table, from a table of
that row alone and from the row as a dict (:class:`~needmap.preprocessing.row.RowEncoder`), to float32 precision.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
from hypothesis import event, example, given, settings

from needmap.data.infer import infer_schema
from needmap.data.read import read
from needmap.errors import NeedmapError
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.preprocess import Preprocessor
from needmap.preprocessing.row import RowEncoder
from property_tables import FIXED, tables

#: What the property tried and where each case ended, printed by the last test of the module (``pytest -s``).
TRIED: Counter[str] = Counter()


def same_features(one: FeatureBatch, batch: FeatureBatch, i: int) -> None:
    """Row ``i`` of ``batch`` and the one row of ``one`` hold the same features (float32 precision)."""
    np.testing.assert_allclose(one.numeric[0], batch.numeric[i], rtol=1e-6, atol=1e-6)
    assert one.categorical[0].tolist() == batch.categorical[i].tolist()


def ended(step: str, err: NeedmapError) -> None:
    """Count a case that ended in a needmap error at ``step``."""
    event(f"{step}: {type(err).__name__}")
    TRIED[f"{step}: {type(err).__name__}"] += 1


@settings(FIXED, max_examples=80)
@given(table=tables(max_rows=8, unique_names=True, target=True))
@example(table=pa.table({"row_id": ["r0"], "x": [1e308], "y": ["no"]}))
@example(table=pa.table({"row_id": ["r0", "r1"], "x": [None, None], "t": ["?", " "], "y": ["no", "yes"]}))
def test_schema_and_features_of_generated_tables_keep_every_row_and_agree_row_by_row(table: pa.Table) -> None:
    """read -> infer_schema -> fit -> transform on the whole table, on each row alone and on each row as a dict."""
    TRIED["tables"] += 1
    try:
        rows = read(table.to_pylist())  # cleaned as a file's rows are
    except NeedmapError as err:
        return ended("read", err)
    assert rows.num_rows == table.num_rows
    assert rows.column("row_id").to_pylist() == table.column("row_id").to_pylist()
    try:
        schema = infer_schema(rows, target="y")
        pre = Preprocessor(schema).fit(rows)
    except NeedmapError as err:
        return ended("schema or fit", err)
    batch = pre.transform(rows)
    TRIED["fitted"] += 1
    assert batch.numeric.shape == (rows.num_rows, pre.n_numeric_) and np.isfinite(batch.numeric).all()
    assert batch.categorical.shape == (rows.num_rows, len(pre.categorical_names_))
    encoder = RowEncoder(pre)
    for i, row in enumerate(rows.to_pylist()):
        same_features(pre.transform(rows.slice(i, 1)), batch, i)
        from_dict = pre.transform(read([row]))
        same_features(from_dict, batch, i)
        one = encoder.encode(row)
        TRIED["rows by RowEncoder" if one is not None else "rows by the batch path"] += 1
        if one is not None:
            same_features(one, batch, i)


def test_report_cases_tried() -> None:
    """Print how many cases the property tried and where they ended (seen with ``pytest -s``)."""
    print("\nproperties of preprocessing:", dict(sorted(TRIED.items())))
