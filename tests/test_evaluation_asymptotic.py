"""What the evaluate phase writes when its rows are many: comparisons whose interval is DeLong's (and say so in
evaluation.json, the verdict and the report), the test rows scored once per model, and the permutation
importance's rows stated."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from needmap.metrics import compare
from needmap.report.baselines_section import baselines_section
from needmap.report.build import importance_rows
from needmap.report.content import ReportData
from needmap.report.metric_tables import comparisons_heading
from needmap.workflows.evaluation import evaluation_document
from needmap.workflows.held_out import chosen_output
from needmap.workflows.selection import BLEND, LIGHTGBM, NETWORK, Choice, combine

KEYS = ["baseline", "metric", "deep", "other", "difference", "low", "high", "level", "n_boot"]


def _scored(n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(np.int64)
    shared = 1.2 * y + rng.normal(0, 1, n)
    squash = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    return y, {
        "mlp network": squash(shared + rng.normal(0, 0.5, n) - 1),
        "logistic regression": np.round(squash(0.7 * shared + rng.normal(0, 0.8, n) - 1), 2),
        "LightGBM": squash(shared + rng.normal(0, 0.7, n) - 1),
    }


def _document(y: np.ndarray, scores: dict[str, np.ndarray], n_boot: int) -> dict[str, Any]:
    return evaluation_document(y, scores, task="binary", primary="mlp network", data="test rows", n_boot=n_boot)


def test_many_rows_get_delong_comparisons_that_say_so_and_few_rows_keep_the_bootstrap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compare, "ASYMPTOTIC_CELLS", 100 * 3000)
    y, scores = _scored(3000, seed=0)
    few = _document(y, scores, n_boot=100)  # 100 x 3000 cells: at the line, the bootstrap
    many = _document(y, scores, n_boot=101)
    for c in few["comparisons"]:
        assert list(c) == KEYS and c["n_boot"] == 100  # the layout written before asymptotic intervals
    assert few["verdict"].endswith("95% bootstrap interval).")
    for c in many["comparisons"]:
        assert list(c) == [*KEYS, "method"] and c["method"] == "delong" and c["n_boot"] == 0
        expected = compare.bootstrap_difference(y, scores["mlp network"], scores[c["baseline"]], method="asymptotic")
        assert (c["low"], c["high"]) == (expected["low"], expected["high"])
    assert many["verdict"].endswith("95% DeLong interval).") and many["verdict"].startswith("the deep model is")
    assert [c["difference"] for c in many["comparisons"]] == [c["difference"] for c in few["comparisons"]]


def test_the_report_names_the_interval_and_shows_no_resamples_for_delong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compare, "ASYMPTOTIC_CELLS", 10)
    y, scores = _scored(2000, seed=1)
    document = _document(y, scores, n_boot=50)
    body = baselines_section(ReportData(title="t", targets={"y": "binary"}, evaluations={"y": document})).body
    assert "Paired DeLong intervals over the test rows" in body and "Paired bootstrap" not in body
    assert body.count("none (DeLong)") == 2 and "95% DeLong interval" in body
    monkeypatch.setattr(compare, "ASYMPTOTIC_CELLS", 10**9)
    booted = _document(y, scores, n_boot=50)
    body = baselines_section(ReportData(title="t", targets={"y": "binary"}, evaluations={"y": booted})).body
    assert "Paired bootstrap over the test rows" in body and "DeLong" not in body
    mixed = [booted["comparisons"][0], document["comparisons"][1]]
    assert comparisons_heading(mixed, "new.csv") == "Paired bootstrap and DeLong intervals over new.csv"


def test_the_report_says_how_many_of_the_test_rows_the_importance_was_measured_on() -> None:
    sampled = {"data": "test rows (80% of x.parquet)", "rows": 200_000, "importance_rows": 20_000}
    assert importance_rows(sampled) == "test rows (80% of x.parquet); 20,000 of these 200,000 rows, drawn at random"
    assert importance_rows({**sampled, "importance_rows": 200_000}) == "test rows (80% of x.parquet)"
    assert importance_rows({"data": "test rows", "rows": 500}) == "test rows"  # written before importance_rows


class _Once:
    """A baseline that may be asked for its outputs once: the test rows are scored once by each model."""

    def __init__(self, name: str, values: np.ndarray) -> None:
        self.name, self.values, self.calls = name, values, 0

    def predict(self, x: Any) -> np.ndarray:
        self.calls += 1
        if self.calls > 1:
            raise AssertionError(f"{self.name} scored the same rows twice")
        return self.values


class _Fitted:
    """The parts of a Predictor that chosen_output reads: its saved baselines, and score() as a fallback."""

    def __init__(self, saved: list[Any], score: np.ndarray | None = None) -> None:
        self.saved, self.scored = saved, score
        self.schema_ = type("S", (), {"heads": [type("H", (), {"n_outputs": 1})()]})()

    def baselines_of(self, target: str) -> list[Any]:
        return self.saved

    def score(self, x: Any) -> np.ndarray:
        if self.scored is None:
            raise AssertionError("scored again")
        return self.scored


def test_the_chosen_scorer_is_made_from_the_outputs_already_computed() -> None:
    rng = np.random.default_rng(2)
    network, lightgbm, linear = rng.random(50), rng.random(50), rng.random(50)
    mine = [_Once("logistic regression", linear), _Once(LIGHTGBM, lightgbm)]
    scores = {b.name: b.predict(None) for b in mine}
    fitted = _Fitted(mine)
    blend = Choice("y", BLEND, weight=0.3)
    made = chosen_output(fitted, 0, blend, network, mine, scores, x=None)
    assert np.array_equal(made, 0.3 * network + 0.7 * lightgbm)
    assert np.array_equal(made, combine(blend, network, [_Once(LIGHTGBM, lightgbm)], None))
    assert np.array_equal(chosen_output(fitted, 0, Choice("y", LIGHTGBM), network, mine, scores, None), lightgbm)
    assert chosen_output(fitted, 0, Choice("y", NETWORK), network, mine, scores, None) is network
    # baselines other than the model's own: its own score() decides
    other = _Fitted([_Once(LIGHTGBM, lightgbm)], score=np.full(50, 0.25))
    assert np.array_equal(chosen_output(other, 0, blend, network, mine, scores, None), np.full(50, 0.25))
