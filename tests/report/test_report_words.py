"""The report reads for a marketer: metrics named in words (the key in small print), one number format,
the training file by its name, negative importances with their sign, whole-number columns drifting in
whole-number bins, and a regression or multiclass model without sections that do not apply to it.

Pages are built from hand-made documents (no training) and read with :mod:`html.parser`.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from needmap.card import model_card
from needmap.data.profile import drift, profile_table
from needmap.report.content import ReportData
from needmap.report.html import page
from needmap.report.sections import report_sections
from needmap.report.text import number
from needmap.workflows.evaluation import evaluation_document

BINARY_METRICS = {"auc": 0.73491, "pr_auc": 0.5869, "logloss": 0.5719, "lift_at_10": 2.1154, "capture_at_10": 0.21374}
BINARY_METRICS |= {"ece": 0.0437, "accuracy": 0.7275, "n": 1440}
INSTALL_PATH = "/usr/lib/python3.12/site-packages/needmap/datasets/bank-additional-full.csv"


class _Page(HTMLParser):
    """The sections of a page: per section id, its text, its table rows (cells' text) and the texts of
    elements by class (``small.key``, bar values)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: dict[str, dict[str, Any]] = {}
        self._section: dict[str, Any] | None = None
        self._stack: list[tuple[str, str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section":
            self._section = {"text": [], "rows": [], "classes": {}, "charts": []}
            self.sections[str(found["id"])] = self._section
        if self._section is None:
            return
        if tag == "svg" and found.get("data-chart"):
            self._section["charts"].append(found["data-chart"])
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []
        self._stack.append((tag, found.get("class") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._section = None
        if self._section is None:
            return
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self._section["rows"].append(self._row)
            self._row = None
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._section is None:
            return
        self._section["text"].append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._stack:
            tag, css = self._stack[-1]
            self._section["classes"].setdefault(f"{tag}.{css}", []).append(data)

    def text(self, ident: str) -> str:
        return " ".join(self.sections[ident]["text"])


def _read(data: ReportData) -> _Page:
    return _Page(page(data.title, data.subtitle, report_sections(data)))


def test_metrics_are_named_in_words_with_their_key_in_small_print() -> None:
    data = ReportData(
        title="t",
        task="binary",
        targets={"y": "binary"},
        metrics={"validation": BINARY_METRICS, "test": BINARY_METRICS},
    )
    summary = _read(data).sections["summary"]
    assert summary["classes"]["small.key"] == [
        "auc",
        "pr_auc",
        "logloss",
        "lift_at_10",
        "capture_at_10",
        "ece",
        "accuracy",
    ]
    first_cells = {row[0] for row in summary["rows"][1:]}
    assert "responders in the top 10%capture_at_10the share of all responders found by contacting the 10% " in " ".join(
        first_cells
    )
    meanings = summary["classes"]["span.meaning"]
    assert len(meanings) == 7 and all(len(m) > 30 for m in meanings)  # a line each, in words


def test_the_model_card_names_metrics_as_the_report_does() -> None:
    rows = pa.table({"x": np.arange(40.0), "y": np.arange(40) % 2})
    schema = nm.Model("mlp", target="y").infer_schema(rows)
    card = model_card({"task": "binary", "target": "y", "architecture": "mlp"}, schema, {"test": BINARY_METRICS})
    assert "| ranking quality (AUC) `auc` | 0.7349 |" in card
    assert "| responders in the top 10% `capture_at_10` | 21.4% |" in card
    assert "| lift in the top 10% `lift_at_10` | 2.12× |" in card and "| rows `n` | 1,440 |" in card
    assert "- calibration error (`ece`): the average gap between the predicted and the observed response rate" in card


def test_numbers_have_one_format_and_no_scientific_notation() -> None:
    from needmap.metrics.names import metric_text

    assert [number(v) for v in (5.21e-05, -0.0004, 6.631, 99.14, 12345.6, 1234567.0)] == [
        "0.0000521", "-0.0004", "6.631", "99.1", "12,346", "1,234,567",
    ]  # fmt: skip
    assert [metric_text(k, v) for k, v in (("auc", 0.7), ("capture_at_10", 0.21374), ("lift_at_10", 2.1154))] == [
        "0.7000", "21.4%", "2.12×",
    ]  # fmt: skip
    assert [metric_text(k, v) for k, v in (("rmse", 13.3144), ("mae", 12345.678), ("r2", 0.86921), ("n", 3000))] == [
        "13.31", "12,345.68", "0.8692", "3,000",
    ]  # fmt: skip
    regression = {"rmse": 13.3144, "mae": 8.0813, "r2": 0.86921}
    metrics = {"validation": regression, "test": regression, "report": {"train_rows": 14400, "test_rows": 4000}}
    summary = _read(ReportData(title="t", task="regression", targets={"amount": "regression"}, metrics=metrics))
    rows = {row[0]: row[1:] for row in summary.sections["summary"]["rows"][1:]}
    assert [cells[0] for cells in rows.values()] == ["13.31", "8.08", "0.8692"]  # not "13.3" beside "8.0813"
    assert "14,400" in summary.text("summary") and "4,000" in summary.text("summary")


def test_the_training_data_is_named_by_its_file_name() -> None:
    from needmap.report.content import named_files

    metrics = {"report": {"source": INSTALL_PATH}}
    text = page("t", "s", report_sections(ReportData(title="t", targets={"y": "binary"}, metrics=metrics)))
    assert "bank-additional-full.csv" in _Page(text).text("summary") and "site-packages" not in text
    assert named_files(f"training rows of {INSTALL_PATH}", INSTALL_PATH) == "training rows of bank-additional-full.csv"


def test_negative_importances_keep_their_sign_and_are_explained() -> None:
    importance = [{"feature": "spend", "drop": 0.1712}, {"feature": "region", "drop": -0.000518}]
    data = ReportData(title="t", targets={"y": "binary"}, importance={"y": importance}, importance_rows="new.csv")
    section = _read(data).sections["importance"]
    assert section["classes"]["text.value"] == ["0.1712", "-0.0005"]  # not "0"
    assert "Below zero" in " ".join(section["text"])


def _months(n: int, low: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {"month": rng.integers(low, 13, n), "spend": rng.gamma(2.0, 50.0, n), "id": rng.integers(0, 500, n)}
    )


def test_whole_number_columns_drift_in_whole_number_bins() -> None:
    profile = profile_table(_months(2000, 1, seed=0))
    columns = {c["name"]: c for c in profile["columns"]}
    assert columns["month"]["histogram"]["integer"] is True
    assert "integer" not in columns["spend"]["histogram"] and "integer" not in columns["id"]["histogram"]
    assert len(columns["id"]["histogram"]["edges"]) == 21  # 500 values: equal-width bins as before
    moved = {d["column"]: d for d in drift(profile, _months(800, 6, seed=1))}
    assert moved["month"]["bins"] == ["< 1", *(str(m) for m in range(1, 13)), "> 12", "missing"]
    assert moved["month"]["actual"][1:6] == [0, 0, 0, 0, 0]  # months 1 to 5 are absent from the new rows
    counts = np.bincount(_months(2000, 1, seed=0)["month"].to_numpy())[1:]
    assert np.allclose(moved["month"]["expected"][1:13], counts / 2000)  # shares of the training rows, per month
    data = ReportData(title="t", targets={"y": "binary"}, drift=list(moved.values()), data_name="new.csv")
    ticks = _read(data).sections["drift"]["classes"]["text.tick"]
    assert {str(m) for m in range(1, 13)} <= set(ticks) and not any("–" in t and "." in t for t in ticks[:15])


def _regression_document(seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    y = rng.gamma(2.0, 50.0, 500)
    scores = {"mlp network": y + rng.normal(0, 20, 500), "ridge regression": y * 0.5 + 40 + rng.normal(0, 30, 500)}
    return y, scores, evaluation_document(y, scores, task="regression", primary="mlp network", data="test rows")


def test_regression_curves_on_known_numbers() -> None:
    from needmap.metrics.regression_curves import amount_gains, decile_calibration, residual_histogram

    y = np.arange(1.0, 21.0)
    yhat = y[::-1].copy()  # the largest prediction on the smallest value
    deciles = decile_calibration(y, yhat)
    assert deciles == {"mean_predicted": [1.5 + 2 * k for k in range(10)],
                       "mean_actual": [19.5 - 2 * k for k in range(10)], "count": [2] * 10}  # fmt: skip
    gains = amount_gains(y, yhat)
    assert gains["captured"][10] == (1 + 2) / 210 and gains["captured"][-1] == 1.0
    assert amount_gains(y, y)["captured"][10] == (20 + 19) / 210
    assert amount_gains(-y, yhat) is None  # no positive total: no share of it
    residuals = residual_histogram(y, yhat)
    assert sum(residuals["counts"]) == 20 and residuals["mean"] == 0.0 and len(residuals["edges"]) == 21


def test_a_regression_report_shows_residuals_deciles_and_gains_by_amount() -> None:
    y, scores, document = _regression_document()
    data = ReportData(title="t", task="regression", targets={"amount": "regression"}, evaluations={"amount": document})
    text = page("t", "s", report_sections(data))
    read = _Page(text)
    assert list(read.sections) == [
        "summary", "profile", "drift", "training", "residuals", "deciles", "amount-gains", "baselines", "importance",
        "reasons",
    ]  # fmt: skip
    assert "binary" not in " ".join(read.text(s) for s in ("residuals", "deciles", "amount-gains"))
    assert read.sections["residuals"]["charts"] == ["residuals-1"]
    assert read.sections["deciles"]["charts"] == ["deciles"]
    assert read.sections["amount-gains"]["charts"] == ["amount-gains"]
    order = np.argsort(scores["mlp network"], kind="stable")
    first, last = order[:50], order[-50:]
    decile_rows = read.sections["deciles"]["rows"][1:]
    assert decile_rows[0] == ["1", "50", f"{scores['mlp network'][first].mean():,.2f}", f"{y[first].mean():,.2f}"]
    assert decile_rows[-1][3] == f"{y[last].mean():,.2f}"
    top = np.argsort(-scores["mlp network"], kind="stable")[:50]
    gains_rows = read.sections["amount-gains"]["rows"]
    assert gains_rows[1][:2] == ["top 10.0%", f"{y[top].sum() / y.sum() * 100:.1f}%"]


def test_a_multiclass_report_has_no_sections_that_do_not_apply() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    probs = rng.dirichlet(np.ones(3), 300)
    document = evaluation_document(y, {"mlp network": probs}, task="multiclass", primary="mlp network", data="test")
    data = ReportData(title="t", task="multiclass", targets={"tier": "multiclass"}, evaluations={"tier": document})
    read = _read(data)
    assert list(read.sections) == ["summary", "profile", "drift", "training", "baselines", "importance"]
    assert "drawn for binary targets" not in " ".join(read.text(s) for s in read.sections)


class _PredictsSignal:
    """A stand-in regression model whose prediction is its column "signal": only that column can matter."""

    def __init__(self, table: pa.Table) -> None:
        self.schema_ = nm.Model("mlp", target="amount", task="regression").infer_schema(table)
        self.preprocessor_ = self

    def predict_proba(self, table: pa.Table) -> np.ndarray:
        return np.asarray(table.column("signal").to_numpy(), dtype=np.float64)


def test_permutation_importance_of_a_regression_target_is_the_rmse_rise() -> None:
    from needmap.workflows.importance import permutation_importance

    rng = np.random.default_rng(5)
    signal = rng.gamma(2.0, 50.0, 2000)
    table = pa.table({"signal": signal, "noise": rng.normal(size=2000), "amount": signal + rng.normal(0, 5, 2000)})
    result = permutation_importance(_PredictsSignal(table), table, max_rows=1000)
    assert [r["feature"] for r in result] == ["signal", "noise"]
    assert result[0]["drop"] > 50 and result[0]["rmse"] == pytest.approx(result[0]["drop"] + 5, abs=1.0)
    assert result[1]["drop"] == 0.0 and result[1]["rmse"] == pytest.approx(5, abs=0.5)  # the error as given
    data = ReportData(title="t", targets={"amount": "regression"}, importance={"amount": result})
    section = _read(data).sections["importance"]
    assert "the typical error (RMSE, in the target's units) grows" in " ".join(section["text"])
    assert section["classes"]["text.value"] == [f"{result[0]['drop']:,.2f}", "0.00"]


@pytest.mark.slow
def test_a_trained_regression_model_reports_its_charts_and_importance(tmp_path: Path) -> None:
    from needmap.report import build_report
    from needmap.workflows.train import run_train

    rng = np.random.default_rng(7)
    visits, month = rng.poisson(3, 600), rng.integers(1, 13, 600)
    spend = rng.gamma(2.0, 50.0, 600)
    table = pa.table({"visits": visits, "month": month, "spend": spend, "amount": 20 + 5 * visits + 0.5 * spend})
    model = nm.Model("mlp", target="amount", epochs=2, progress=False, hidden=(8,), batch_size=64)
    out = run_train(table, model, out=tmp_path / "model", test_size=0.25).out
    evaluation = nm.load(out).extras_["evaluation.json"]
    assert {r["feature"] for r in evaluation["importance"]} == {"visits", "month", "spend"}
    read = _Page(build_report(out, out=tmp_path / "report.html").read_text(encoding="utf-8"))
    assert {"residuals", "deciles", "amount-gains"} <= set(read.sections) and "roc" not in read.sections
    assert read.sections["importance"]["charts"] == ["importance"]  # measured on the test rows at training
    assert "binary" not in " ".join(read.text(s) for s in read.sections)
