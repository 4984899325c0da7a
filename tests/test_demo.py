"""The demo (``make demo``): the whole path on the bundled bank data, with its report."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from needmap.demo import run_demo


@pytest.mark.slow
def test_demo_trains_compares_scores_and_writes_the_report(tmp_path: Path) -> None:
    buffer = io.StringIO()
    metrics = run_demo(out=tmp_path, seed=0, epochs=2, quiet=True, console=Console(file=buffer, width=140))
    printed = buffer.getvalue()
    assert set(metrics["baselines"]) == {"logistic regression", "LightGBM"}
    for name, m in metrics["baselines"].items():
        assert f"{name} test AUC: {m['auc']:.4f}" in printed
    assert f"verdict: {metrics['verdict']}" in printed
    # the scorer chosen on the validation rows, and the network's own figure beside it
    chosen = metrics["selection"]["scorer"]
    assert f"the model answers with: {chosen} (test AUC {metrics['test']['auc']:.4f})" in printed
    network = metrics.get("network_test") or metrics["test"]
    assert f"MLP network test AUC: {network['auc']:.4f}" in printed
    if chosen in metrics["baselines"]:
        assert metrics["test"] == metrics["baselines"][chosen]
    assert (tmp_path / "test_scores.csv").stat().st_size > 0
    evaluation = json.loads((tmp_path / "model" / "evaluation.json").read_text())
    assert evaluation["rows"] == 8238 and evaluation["importance"]
    assert (tmp_path / "model" / "profile.json").is_file()
    html = (tmp_path / "report.html").read_text()
    assert 'id="importance"' in html and metrics["verdict"].split(" [")[0][:40] in html
    # the reasons of the top-scored test customer, as sentences
    assert 'id="reasons"' in html and html.count("<h3>customer ") == 5
    assert re.search(r'<li class="raises">[^<]+: raises the score</li>', html)
