"""Files of extreme values (integers beyond 2^53, floats near the float64 limit) through the whole path a
user takes: read, schema, fit, batch scores from the file, the file scored in chunks into a CSV, and one
row at a time. The features' own checks are in tests/preprocessing/test_extreme_values.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings

import needmap as nm
from extreme_tables import extreme_tables
from needmap.data.infer import infer_schema
from needmap.data.read import read
from needmap.preprocessing.describe import describe_schema
from needmap.workflows.predict import predict_stream

FAST = {"epochs": 1, "progress": False, "batch_size": 64}


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=extreme_tables())
def test_files_of_extreme_values_go_through_schema_fit_and_predict(table: pa.Table) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "extreme.csv"
        pacsv.write_csv(table, path)
        rows = read(path)
        schema = infer_schema(rows, target="y")
        assert len(describe_schema(schema, rows)) == rows.num_columns
        model = nm.Model("mlp", target="y", seed=0, **FAST).fit(rows)
        scores = model.predict(path).column("score").to_numpy()
        assert len(scores) == rows.num_rows and np.isfinite(scores).all()
        _, written, _ = predict_stream(model, path, Path(folder) / "scores.csv", chunk_rows=7)
        assert written == rows.num_rows
        streamed = pacsv.read_csv(Path(folder) / "scores.csv").column("score").to_numpy()
        np.testing.assert_allclose(streamed, scores, rtol=1e-6)
        for i, row in enumerate(rows.drop(["y"]).to_pylist()):
            assert model.predict_proba(row)[0] == pytest.approx(scores[i], rel=1e-5, abs=1e-6)
