"""The contract's JavaScript reference (contract.mjs, copied beside the graph) against the Python path: raw rows
encoded by it equal the preprocessor's inputs, and its scores of ONNX Runtime's outputs equal ``predict``'s.

It needs Node.js: without ``node`` on the PATH the tests skip on a user's machine and fail where
NEEDMAP_REQUIRE_NODE=1 (CI)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
import needs
from needmap.training.heads import head_kind
from needmap.workflows.onnx import CONTRACT_FILE, REFERENCE_FILE, OnnxNetwork, export_onnx

pytestmark = pytest.mark.slow

ITEMS = [f"i{k}" for k in range(12)]


def json_rows(rows: pa.Table) -> list[dict]:
    """Rows as JSON objects: a missing number (NaN) is null, as JSON has no NaN."""
    return [{k: None if isinstance(v, float) and v != v else v for k, v in row.items()} for row in rows.to_pylist()]


def js(directory, command: str, data) -> subprocess.CompletedProcess:
    """``node contract.mjs COMMAND contract.json data.json`` in the export ``directory``."""
    (directory / "data.json").write_text(json.dumps(data), encoding="utf-8")
    files = [str(directory / name) for name in (REFERENCE_FILE, CONTRACT_FILE, "data.json")]
    return subprocess.run([needs.node(), files[0], command, *files[1:]], capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip


def run_js(directory, command: str, data) -> dict:
    done = js(directory, command, data)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def table() -> pa.Table:
    """Every kind of input: scaled numbers (one with missing values, one mostly zero, one of a few levels: a
    value field), a bucketized number, text, boolean and integer-coded categories, a hashed id, a multi-hot list
    and a sequence sharing an item column's ids."""
    rng = np.random.default_rng(5)
    n = 1200
    a = rng.normal(size=n)
    a[rng.random(n) < 0.1] = np.nan
    spend = np.where(rng.random(n) < 0.5, 0.0, np.round(np.exp(rng.normal(3, 1, n)), 2))
    level = rng.choice([0.0, 1902.0, 2415.0, 7688.0], n)
    age = rng.integers(18, 90, n).astype(np.float64)
    c = rng.choice(["p", "q", "r", "s", "rare"], n, p=[0.3, 0.3, 0.2, 0.199, 0.001])
    flag = rng.random(n) < 0.4
    code = rng.choice([1, 2, 3, 17], n)
    user = [f"user{k}" for k in rng.integers(0, 500, n)]
    item = rng.choice(ITEMS, n)
    tags = ["|".join(rng.choice(["x", "y", "z", "w"], rng.integers(0, 4), replace=False)) for _ in range(n)]
    history = [",".join(rng.choice(ITEMS, rng.integers(1, 6))) for _ in range(n)]
    logit = np.nan_to_num(a) + (c == "p") + 0.5 * flag - 0.3 * (code == 17) + 0.001 * spend
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pa.table({"id": [f"c{i}" for i in range(n)], "a": a, "spend": spend, "level": level, "age": age, "c": c,
                     "flag": flag, "code": code, "user": user, "item": item, "tags": tags, "history": history,
                     "y": y})  # fmt: skip


@pytest.fixture(scope="module")
def exported(table, tmp_path_factory):
    kw = {"id": "id", "epochs": 2, "seed": 0, "progress": False, "multihot": ["tags"], "categorical": ["code"],
          "sequence": {"history": {"vocabulary_of": "item"}}, "hash": {"user": 64}, "bucketize": {"age": 5},
          "calibrate": "isotonic"}  # fmt: skip
    predictor = nm.Model("din", target="y", **kw).fit(table).predictor_
    directory = tmp_path_factory.mktemp("onnx")
    export_onnx(predictor, directory, check_rows=table.slice(0, 200))
    return predictor, directory


def test_the_reference_encodes_rows_as_the_preprocessor_does(table, exported) -> None:
    predictor, directory = exported
    prep = predictor.preprocessor_
    assert any(c.zero_flag for c in prep.numeric_columns_) and any(c.indicator for c in prep.numeric_columns_)
    kinds = {type(e).__name__ for e in prep.vocabularies_}
    assert {"Vocabulary", "HashedColumn", "BucketColumn", "ValueColumn"} <= kinds
    rows = table.slice(0, 300)
    expected = prep.transform(rows)
    found = run_js(directory, "encode", json_rows(rows))["inputs"]
    np.testing.assert_allclose(np.asarray(found["numeric"]["data"]).reshape(found["numeric"]["dims"]),
                               expected.numeric, rtol=1e-6, atol=1e-6)  # fmt: skip
    np.testing.assert_array_equal(np.asarray(found["categorical"]["data"]).reshape(found["categorical"]["dims"]),
                                  expected.categorical)  # fmt: skip
    for spec, ids in zip(prep.list_specs_, expected.lists, strict=True):
        got = found[f"list_{spec['name']}"]
        np.testing.assert_array_equal(np.asarray(got["data"]).reshape(got["dims"]), ids)


def test_rows_through_the_reference_and_onnx_runtime_score_as_predict(table, exported) -> None:
    predictor, directory = exported
    assert predictor.calibrator_ is not None
    rows = table.slice(300, 300)
    found = run_js(directory, "encode", json_rows(rows))["inputs"]
    feed = {name: np.asarray(t["data"], dtype=np.float32 if t["type"] == "float32" else np.int64).reshape(t["dims"])
            for name, t in found.items()}  # fmt: skip
    outputs = OnnxNetwork(directory / "model.onnx").session.run(None, feed)[0]
    scores = np.asarray(run_js(directory, "scores", {"outputs": outputs.tolist()})["score"])
    # The reference's arithmetic: the same outputs scored and calibrated as needmap scores the network's.
    probability = head_kind("binary").scores(outputs.astype(np.float64).reshape(len(outputs), -1),
                                             predictor.target_scaling_[0])  # fmt: skip
    np.testing.assert_allclose(scores, predictor.calibrator_.transform(probability), rtol=0, atol=1e-9)
    # ONNX Runtime's network gives torch's logits to float32 rounding (the kernels differ by CPU) ...
    logits = predictor._raw(predictor.preprocessor_.transform(rows))
    np.testing.assert_allclose(outputs[:, 0], logits, rtol=0, atol=1e-5)
    # ... which the isotonic calibrator's steepest steps can widen (1.1e-5 seen on one Intel Xeon with AMX).
    expected = predictor.predict(rows).column("score").to_numpy()
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-4)


def test_values_as_text_read_as_a_file_reads_them(table, exported) -> None:
    """Rows of text as a form or a CSV line gives them ("7.0", " NA ", "FALSE", "0", a list as text), and values
    never seen: the reference gives each row the scores of needmap's one-row path."""
    predictor, directory = exported
    base = json_rows(table.slice(0, 1))[0]
    variants = [
        {"a": "1.5", "spend": "0", "level": "1902.0", "age": " 40 ", "c": "p", "flag": "FALSE", "code": "17.0"},
        {"a": " NA ", "spend": "", "level": None, "age": "nan", "c": "", "flag": 1, "code": "3"},
        {"a": "-0.25e1", "spend": "+7", "level": "0", "age": "18", "c": " NA ", "flag": "0", "code": "+2"},
        {"a": 2, "spend": 12.5, "level": 5.0, "age": 200, "c": "never seen", "flag": "true", "code": 99},
        {"a": -1e9, "spend": "null", "level": "7688", "age": -3, "c": None, "flag": None, "code": None,
         "tags": "z| x |", "history": [], "user": 12345, "item": "unknown"},
        {"tags": None, "history": None, "user": None, "item": None},
        {"tags": ["y", "w", "x", "z", "y", "x"], "history": "i1,i2,i3,i4,i5,i6,i7,i8,i9,i10,i11,i0,i1,i2"},
    ]  # fmt: skip
    rows = [{**base, **v} for v in variants]
    encoded = run_js(directory, "encode", rows)
    prep = predictor.preprocessor_
    for i, row in enumerate(rows):  # each row's inputs as the preprocessor encodes that row alone
        one = prep.transform(pa.Table.from_pylist([row]))
        found = {name: np.asarray(t["data"]).reshape(t["dims"])[i] for name, t in encoded["inputs"].items()}
        np.testing.assert_allclose(found["numeric"], one.numeric[0], rtol=1e-6, atol=1e-6, err_msg=str(row))
        np.testing.assert_array_equal(found["categorical"], one.categorical[0], err_msg=str(row))
        for spec, ids in zip(prep.list_specs_, one.lists, strict=True):
            np.testing.assert_array_equal(found[f"list_{spec['name']}"], ids[0], err_msg=str(row))
    feed = {name: np.asarray(t["data"], dtype=np.float32 if t["type"] == "float32" else np.int64).reshape(t["dims"])
            for name, t in encoded["inputs"].items()}  # fmt: skip
    outputs = OnnxNetwork(directory / "model.onnx").session.run(None, feed)[0]
    scores = np.asarray(run_js(directory, "scores", {"outputs": outputs.tolist()})["score"])
    expected = np.array([float(np.asarray(predictor.predict_proba(row)).reshape(-1)[0]) for row in rows])
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
    assert encoded["report"]["unparseable"] == {"a": 0, "spend": 0, "level": 0}


def test_a_row_without_a_feature_column_is_refused_by_name(table, exported) -> None:
    _, directory = exported
    row = json_rows(table.slice(0, 1))[0]
    del row["c"]
    done = js(directory, "encode", [row])
    assert done.returncode == 1 and "row 1 has no column 'c'" in done.stderr


def test_the_contract_names_the_scorer_that_predict_answers_with(exported) -> None:
    predictor, directory = exported
    contract = json.loads((directory / CONTRACT_FILE).read_text())
    assert contract["scorers"] == [{"target": "y", "scorer": "network", "weight": None}]
    assert contract["calibrator"] == predictor.calibrator_.to_dict()
    assert contract["heads"] == [{"name": "y", "task": "binary", "n_outputs": 1, "classes": ["0", "1"]}]
