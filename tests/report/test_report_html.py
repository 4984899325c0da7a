"""The report page: every section, nothing fetched, text escaped, the data's curves, drift and importance;
the permutation importance; the report and profile commands."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import needmap as nm
from needmap.cli import app
from needmap.data.profile import drift, profile_table
from needmap.model_place import write_manifest
from needmap.report import build_profile_report, build_report, permutation_importance
from needmap.report.content import NO_EVALUATION, ReportData
from needmap.report.html import page
from needmap.report.sections import report_sections

SECTIONS = ("summary", "profile", "drift", "training", "roc", "pr", "calibration", "gains", "lift", "profit")
SECTIONS += ("baselines", "importance", "reasons")
runner = CliRunner()


def _self_contained(text: str) -> None:
    assert text.startswith("<!DOCTYPE html>")
    for banned in ("http://", "https://", "<script", "<link", "<img", "<iframe", "url(", "@import", "src="):
        assert banned not in text.lower(), banned


def _charts(text: str) -> set[str]:
    return set(re.findall(r'<svg class="chart[^"]*" data-chart="([^"]+)"', text))


def _section(text: str, ident: str) -> str:
    match = re.search(rf'<section id="{ident}">(.*?)</section>', text, re.S)
    assert match, ident
    return match.group(1)


def test_report_of_a_model_directory(tmp_path: Path, bank_model_dir: Path) -> None:
    out = build_report(bank_model_dir, out=tmp_path / "r" / "report.html")
    text = out.read_text(encoding="utf-8")
    _self_contained(text)
    assert re.findall(r'<section id="([^"]+)">', text) == list(SECTIONS)
    model = nm.load(bank_model_dir)
    evaluation = model.extras_["evaluation.json"]
    assert {"training-loss", "training-metric", "roc", "pr", "calibration", "gains", "lift", "profit"} <= _charts(text)
    verdict = re.search(r"<div class=\"verdict[^\"]*\" data-verdict>(.*?)</div>", _section(text, "baselines")).group(1)
    assert verdict == html.escape(evaluation["verdict"])
    roc = _section(text, "roc")
    for name, entry in evaluation["models"].items():  # one line per model, its AUC in the legend
        assert f'data-series="{name} (AUC {entry["metrics"]["auc"]:.3f})"' in roc
    baselines = _section(text, "baselines")
    for entry in evaluation["models"].values():  # table metrics with four decimals (AUC differences of 0.001 show)
        assert f">{entry['metrics']['auc']:.4f}<" in baselines
    assert "no data given" in _section(text, "drift")  # no data: the drift section says so
    assert 'data-chart="hist-0"' in _section(text, "profile")
    assert list(tmp_path.joinpath("r").iterdir()) == [out]  # no temporary file left


def test_report_with_data_adds_its_curves_drift_and_importance(
    tmp_path: Path, bank_model_dir: Path, bank_holdout_csv: Path
) -> None:
    data = nm.read(bank_holdout_csv)
    text = build_report(bank_model_dir, data, out=tmp_path / "report.html", title="<b>campaign</b> 7").read_text()
    _self_contained(text)
    assert "<title>&lt;b&gt;campaign&lt;/b&gt; 7</title>" in text
    # the model's chosen scorer (the network, a baseline or the blend) is drawn on the data
    chosen = json.loads((bank_model_dir / "evaluation.json").read_text())["primary"]
    assert f'data-series="{chosen} on bank_holdout.csv' in _section(text, "roc")
    assert re.search(rf'data-series="{chosen} on bank_holdout.csv"[^>]*stroke-dasharray', _section(text, "gains"))
    drift = _section(text, "drift")
    assert {"drift-1", "drift-2", "drift-3"} <= _charts(drift)
    assert drift.count("<tr>") - 1 == 20  # one row per profiled column (19 inputs and the target)
    importance = _section(text, "importance")
    assert "importance" in _charts(importance)
    assert importance.count('<g class="bar">') == len(nm.load(bank_model_dir).schema_.features)


def test_sections_without_documents_say_so(tmp_path: Path, bank_model_dir: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(bank_model_dir, bare)
    (bare / "evaluation.json").unlink()
    (bare / "profile.json").unlink()
    write_manifest(bare)  # a model saved without them
    text = build_report(bare, out=tmp_path / "report.html").read_text()
    _self_contained(text)
    for ident in ("roc", "pr", "calibration", "gains", "lift", "profit"):
        assert html.escape(NO_EVALUATION) in _section(text, ident) and "<svg" not in _section(text, ident)
    assert "no profile.json in this model directory" in _section(text, "profile")
    assert "<svg" not in _section(text, "importance")
    assert "training-loss" in _charts(text)  # metrics.json still gives the training history


def test_drift_without_profile_and_data_says_why(tmp_path: Path, bank_model_dir: Path, bank_holdout_csv: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(bank_model_dir, bare)
    (bare / "profile.json").unlink()
    write_manifest(bare)  # a model saved without it
    text = build_report(bare, nm.read(bank_holdout_csv), out=tmp_path / "report.html").read_text()
    assert "no profile.json in this model directory" in _section(text, "drift")
    assert "roc" in _charts(text)


def test_text_from_data_is_escaped(tmp_path: Path, fake_document: Any) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    doc = fake_document(y, {"<b>deep</b>": y * 0.5 + rng.random(400) * 0.5, "lr & co": rng.random(400)})
    table = pa.table({"<b>x</b>": rng.normal(size=400), "c": pa.array(["<i>a</i>", "b"] * 200)})
    profile = profile_table(table)
    data = ReportData(
        title="t",
        task="binary",
        targets={"y": "binary"},
        evaluations={"y": doc},
        profile=profile,
        drift=drift(profile, table),
        importance={"y": [{"feature": "<b>x</b>", "drop": 0.1}]},
    )
    text = page("t", "s", report_sections(data))
    _self_contained(text)
    assert "<b>" not in text and "<i>" not in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "&lt;i&gt;a&lt;/i&gt;" in text and "lr &amp; co" in text
    out = build_profile_report(table, out=tmp_path / "p.html", source="<b>file</b>.csv")
    assert "<b>" not in out.read_text() and "&lt;b&gt;x&lt;/b&gt;" in out.read_text()


class _ScoreIsColumn:
    """A stand-in binary model whose score is its column "signal": only that column can matter."""

    def __init__(self) -> None:
        self.schema_ = nm.Model("mlp", target="y").infer_schema(_signal_table())
        self.preprocessor_ = self

    def encode_target(self, table: pa.Table) -> np.ndarray:
        return np.asarray(table.column("y").to_numpy(), dtype=np.float32)

    def predict_proba(self, table: pa.Table) -> np.ndarray:
        return np.asarray(table.column("signal").to_numpy(), dtype=np.float64)


def _signal_table(n: int = 3000) -> pa.Table:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, n)
    return pa.table({"signal": y + rng.normal(0, 0.8, n), "noise": rng.normal(size=n), "y": y})


def test_permutation_importance_finds_the_column_the_score_uses() -> None:
    model = _ScoreIsColumn()
    result = permutation_importance(model, _signal_table(), repeats=2, max_rows=1000)
    assert [r["feature"] for r in result] == ["signal", "noise"]
    table = _signal_table()
    full = roc_auc_score(table.column("y").to_numpy(), table.column("signal").to_numpy())
    assert result[0]["drop"] > 0.2 and result[0]["auc"] == pytest.approx(0.5, abs=0.06)
    assert result[0]["drop"] == pytest.approx(full - result[0]["auc"], abs=0.04)  # measured on 1,000 of the rows
    assert result[1]["drop"] == 0.0  # shuffling a column the score ignores changes nothing


def test_permutation_importance_of_a_trained_model(bank_model_dir: Path, bank_holdout_csv: Path) -> None:
    model = nm.load(bank_model_dir)
    result = permutation_importance(model, nm.read(bank_holdout_csv), max_rows=300)
    assert sorted(r["feature"] for r in result) == sorted(model.schema_.features)
    assert [r["drop"] for r in result] == sorted((r["drop"] for r in result), reverse=True)
    assert result[0]["drop"] > 0


def test_report_of_the_shoppers_model_and_its_profile_json(tmp_path: Path, shoppers_model_dir: Path) -> None:
    model = nm.load(shoppers_model_dir)
    text = build_report(shoppers_model_dir, out=tmp_path / "report.html").read_text()
    _self_contained(text)
    assert model.schema_.target == "Revenue" and "roc" in _charts(text)
    profile = model.extras_["profile.json"]
    assert {c["name"] for c in profile["columns"]} >= {"PageValues", "Month", "VisitorType"}


def test_report_command(tmp_path: Path, bank_model_dir: Path, bank_holdout_csv: Path) -> None:
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(bank_model_dir), str(bank_holdout_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    _self_contained(text)
    assert {"importance", "drift-1", "roc", "attribution"} <= _charts(text)
    # partial dependence of the numeric columns of largest attribution (up to three), each over a sample
    assert 1 <= len([c for c in _charts(text) if c.startswith("pd-")]) <= 3
    assert "the partial dependence; the dashed lines bound the middle 80%" in text
    missing = runner.invoke(app, ["report", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.html")])
    assert missing.exit_code == 2 and "nowhere" in missing.output and not (tmp_path / "x.html").exists()


def test_profile_command(tmp_path: Path, bank_csv: Path) -> None:
    out, json_out = tmp_path / "profile.html", tmp_path / "profile.json"
    args = ["profile", str(bank_csv), "--target", "y", "--out", str(out), "--json-out", str(json_out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    _self_contained(text)
    assert re.findall(r'<section id="([^"]+)">', text) == ["summary", "profile"]
    assert "target" in _charts(text)
    profile = json.loads(json_out.read_text())
    assert profile["rows"] == 3000 and profile["source"] == str(bank_csv)
    assert {c["name"]: c["role"] for c in profile["columns"]}["y"] == "target"
    bad = runner.invoke(app, ["profile", str(bank_csv), "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "is a directory" in bad.output
