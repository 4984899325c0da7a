"""The uplift model's report page: the randomization check, the learners, the profit curves, the verdict."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from needmap.report.build import build_uplift_report
from needmap.uplift.generate import campaign
from needmap.uplift.train import train_uplift

pytestmark = pytest.mark.slow


def test_the_page_shows_balance_learners_curves_and_verdict(tmp_path) -> None:
    table = campaign(5000, seed=4).table
    # an unbalanced column: the discount's customers are older, as when assignment was not random
    arms = table.column("treatment").to_pylist()
    age = [a + (15 if arm == "discount" else 0) for a, arm in zip(table.column("age").to_pylist(), arms, strict=True)]
    table = table.set_column(table.column_names.index("age"), "age", pa.array(age))
    outcome = train_uplift(table, treatment="treatment", control="control", outcome="converted", learners=["t", "x"],
                           id="customer_id", drop="spend")  # fmt: skip
    outcome.predictor.save(tmp_path / "m")
    html = build_uplift_report(tmp_path / "m", out=tmp_path / "r.html").read_text()
    assert "Randomization check" in html and "1 of 22 comparisons differ by more than 0.1" in html
    assert re.search(r"<td>age</td>\s*<td>numeric</td>\s*<td>discount</td>", html)
    for name in ("x", "t", "response model"):
        assert f">{name}" in html
    assert html.count('data-chart="profit-') == 2 and "free_shipping: profit curve and deciles" in html
    assert "Verdict" in html and outcome.metrics["verdict"][:40] in html
