"""ONNX export: every network of the zoo scores the same through ONNX Runtime as through PyTorch, and raw rows
through the contract (the preprocessor's JSON) plus ONNX Runtime give the scores of ``predict``."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from cli_run import run_cli
from needmap.models.registry import available_models
from needmap.workflows.onnx import CONTRACT_FILE, export_onnx, use_onnxruntime

pytestmark = pytest.mark.slow

ITEMS = [f"i{k}" for k in range(15)]


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rng = np.random.default_rng(2)
    n = 1500
    a, b = rng.normal(size=n), rng.integers(0, 9, n)
    c = rng.choice(list("pqrst"), n)
    item = rng.choice(ITEMS, n)
    tags = ["|".join(rng.choice(["x", "y", "z", "w"], 2, replace=False)) for _ in range(n)]
    history = ["|".join(rng.choice(ITEMS, 3)) for _ in range(n)]
    y = (rng.random(n) < 1 / (1 + np.exp(-(a + (c == "p"))))).astype(np.int64)
    spend = np.round(np.exp(rng.normal(size=n)) * (1 + y), 2)
    return pa.table({"id": [f"u{i}" for i in range(n)], "a": a, "b": b, "c": c, "item": item, "tags": tags,
                     "history": history, "y": y, "spend": spend})  # fmt: skip


def fitted(name: str, table: pa.Table):
    kw = {"id": "id", "epochs": 1, "seed": 0, "progress": False, "multihot": ["tags"]}
    if name == "din":
        kw["sequence"] = {"history": {"vocabulary_of": "item"}}
    else:
        kw["drop"] = ["history"]
    target = ["y", "spend"] if name in ("mmoe", "ple") else "y"
    if target == "y":
        kw["drop"] = [*kw.get("drop", []), "spend"]
    return nm.Model(name, target=target, **kw).fit(table).predictor_


@pytest.mark.parametrize("name", available_models())
def test_every_network_scores_the_same_through_onnx_runtime(name, table, tmp_path) -> None:
    predictor = fitted(name, table)
    rows = table.slice(0, 400)
    expected = predictor.predict_proba(rows)
    path = export_onnx(predictor, tmp_path / "onnx", check_rows=rows)
    contract = json.loads((tmp_path / "onnx" / CONTRACT_FILE).read_text())
    assert contract["checked"]["max_abs_difference"] <= 1e-5 and contract["model"] == name
    assert contract["inputs"][:2] == ["numeric", "categorical"]
    # raw rows through the contract (the preprocessor read from its JSON) and ONNX Runtime
    from needmap.preprocessing.preprocess import Preprocessor

    assert Preprocessor.from_dict(contract["preprocessor"]).to_dict() == predictor.preprocessor_.to_dict()
    found = use_onnxruntime(predictor, path).predict_proba(rows)
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-5)
    one = predictor.predict_proba(rows.slice(3, 1))
    np.testing.assert_allclose(one, expected[3:4], rtol=0, atol=1e-5)


def test_the_export_command(table, tmp_path) -> None:
    predictor = fitted("deepfm", table)
    predictor.save(tmp_path / "model")
    code, text = run_cli("export", tmp_path / "model", "--format", "onnx", "--out", tmp_path / "exported")
    assert code == 0, text
    assert (tmp_path / "exported" / "model.onnx").is_file() and "model.onnx" in text
    assert (tmp_path / "exported" / "contract.mjs").is_file() and "contract.mjs" in text
    assert "note:" not in text
    # a model that answers with LightGBM: the export says its graph's scores differ from predict's
    import pyarrow.csv as pcsv

    pcsv.write_csv(table.select(["a", "b", "c", "y"]), tmp_path / "rows.csv")
    code, text = run_cli("train", tmp_path / "rows.csv", "--target", "y", "--model", "mlp", "--epochs", "1",
                         "--select", "lightgbm", "--out", tmp_path / "chose-lightgbm")  # fmt: skip
    assert code == 0, text
    code, text = run_cli("export", tmp_path / "chose-lightgbm", "--out", tmp_path / "exported2")
    assert code == 0, text
    assert "for target 'y' the model answers with LightGBM" in " ".join(text.split())
    contract = json.loads((tmp_path / "exported2" / CONTRACT_FILE).read_text())
    assert contract["scorers"] == [{"target": "y", "scorer": "LightGBM", "weight": None}]
    code, text = run_cli("export", tmp_path / "model", "--format", "tflite", "--out", tmp_path / "x")
    assert code != 0 and "--format tflite" in text


def test_a_model_without_list_columns_exports_too(table, tmp_path) -> None:
    plain = table.select(["a", "b", "c", "y"])
    predictor = nm.Model("mlp", target="y", epochs=1, seed=0, progress=False).fit(plain).predictor_
    expected = predictor.predict_proba(plain)
    use_onnxruntime(predictor, export_onnx(predictor, tmp_path / "onnx"))
    np.testing.assert_allclose(predictor.predict_proba(plain), expected, rtol=0, atol=1e-5)


def test_predict_with_the_onnxruntime_backend(table, tmp_path) -> None:
    import pyarrow.csv as pcsv

    predictor = fitted("dcnv2", table)
    predictor.save(tmp_path / "model")
    pcsv.write_csv(table, tmp_path / "rows.csv")
    assert run_cli("export", tmp_path / "model", "--out", tmp_path / "onnx")[0] == 0
    code, text = run_cli("predict", tmp_path / "model", tmp_path / "rows.csv", "--out", tmp_path / "torch.csv")
    assert code == 0, text
    code, text = run_cli("predict", tmp_path / "model", tmp_path / "rows.csv", "--backend", "onnxruntime", "--onnx",
                         tmp_path / "onnx" / "model.onnx", "--out", tmp_path / "ort.csv")  # fmt: skip
    assert code == 0, text
    torch_scores = pcsv.read_csv(tmp_path / "torch.csv").column("score").to_numpy()
    ort_scores = pcsv.read_csv(tmp_path / "ort.csv").column("score").to_numpy()
    np.testing.assert_allclose(ort_scores, torch_scores, rtol=0, atol=1e-5)
    code, text = run_cli("predict", tmp_path / "model", tmp_path / "rows.csv", "--backend", "onnxruntime",
                         "--out", tmp_path / "x.csv")  # fmt: skip
    assert code != 0 and "expected --onnx FILE with it" in text
