"""The preprocessor on a 2,000-row slice of the real bank marketing data."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from needmap.datasets import bank_marketing_path
from needmap.preprocessing.preprocess import Preprocessor
from needmap.schema import ColumnSpec, Schema

BANK = bank_marketing_path()  # the whole file, as needmap ships it


def bank_slice(rows: int = 2000) -> pa.Table:
    table = pcsv.read_csv(BANK, parse_options=pcsv.ParseOptions(delimiter=";"))
    return table.slice(0, rows)


def bank_schema(table: pa.Table) -> Schema:
    columns = []
    for field in table.schema:
        if field.name == "y":
            role = "target"
        elif field.name == "duration":  # known only after the call: leaks the target
            role = "ignored"
        elif pa.types.is_string(field.type):
            role = "categorical"
        else:
            role = "numeric"
        columns.append(ColumnSpec(field.name, role, str(field.type), "test"))
    return Schema(columns, target="y", task="binary", classes=["no", "yes"])


def test_bank_slice_fits_on_training_rows_and_transforms_new_rows():
    table = bank_slice()
    schema = bank_schema(table)
    assert len(schema.numeric) == 9 and len(schema.categorical) == 10
    train, test = table.slice(0, 1500), table.slice(1500)
    pre = Preprocessor(schema).fit(train)
    fitted = pre.transform(train)
    out = pre.transform(test)
    # no value field: the file's first rows are all of May 2008, so each macro-economic indicator has
    # one value, and the other numerics are count ranges (see test_values.py for the whole file)
    assert pre.categorical_names_ == list(schema.categorical)
    assert out.numeric.shape == (500, 9) and out.categorical.shape == (500, 10)
    assert np.isfinite(out.numeric).all()
    assert (out.categorical >= 0).all() and (out.categorical < np.array(pre.cardinalities_)).all()
    # standardized on the training rows (columns that vary there)
    varying = fitted.numeric.std(axis=0) > 0
    np.testing.assert_allclose(fitted.numeric[:, varying].mean(axis=0), 0.0, atol=1e-4)
    # the month seen most often in training gets the first vocabulary id
    months = pc.value_counts(train["month"]).to_pylist()
    top = max(months, key=lambda m: m["counts"])["values"]
    assert pre.vocabularies_[pre.categorical_names_.index("month")].values[0] == top
    assert pre.report_["rows"] == 1500
    y = pre.encode_target(test)
    assert y.shape == (500,) and set(np.unique(y).tolist()) <= {0.0, 1.0}
    assert y.sum() == pc.sum(pc.equal(test["y"], "yes")).as_py()
