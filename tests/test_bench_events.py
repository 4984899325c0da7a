"""The behaviour-log benchmark run whole on a small generated log: features, propensity, lifetime value and
the truth, each figure read from the commands' own files and written to its tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_benchmark_runs_the_commands_and_tables_their_figures(tmp_path: Path) -> None:
    out = tmp_path / "events.md"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "benchmarks.bench_events", "--datasets", "generated", "--customers", "600",
               "--work", str(tmp_path / "work"), "--out", str(out)]  # fmt: skip
    done = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    result = json.loads(out.with_suffix(".json").read_text())["results"][0]
    assert result["dataset"] == "generated" and result["features"]["cutoffs"] == 9
    saved = json.loads((tmp_path / "work" / "generated" / "spend" / "metrics.json").read_text())
    network = saved.get("network_test") or saved["test"]
    scorer = saved["selection"]["scorer"]
    assert result["ltv"]["models"]["network"]["normalized_gini"] == network["normalized_gini"]
    assert result["ltv"]["models"][f"chosen: {scorer}"]["normalized_gini"] == saved["test"]["normalized_gini"]
    assert f"| generated | network | {network['normalized_gini']:.4f} |" in text
    # the chosen scorer's paired intervals against each other model, in both measures of the spend ranking
    others = {c["baseline"] for c in result["ltv"]["comparisons"]}
    assert "BG/NBD + Gamma-Gamma" in others and len(others) == {"network": 2, "LightGBM": 2, "blend": 3}[scorer]
    for other in others:
        found = {c["metric"]: c for c in result["ltv"]["comparisons"] if c["baseline"] == other}
        gini, rank = found["normalized_gini"], found["spearman"]
        assert (
            f"| generated | {other} | {gini['difference']:+.4f} [{gini['low']:+.4f}, {gini['high']:+.4f}] | "
            f"{rank['difference']:+.4f} [{rank['low']:+.4f}, {rank['high']:+.4f}] |"
        ) in text
    truth = result["truth"]
    assert truth["rows"] == truth["of"] > 0 and 0.5 < truth["auc"] <= 1.0
    assert "- generated, ltv: Scores with " in text
