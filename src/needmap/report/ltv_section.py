"""The section a lifetime-value (ltv) target has in place of the binary and regression charts: each model's
metrics on the test rows (normalized Gini first, the measure the verdict is stated in), the paired intervals of
the network against each baseline, and mean predicted against mean actual spend per decile of the prediction.

It reads the target's evaluation.json (:func:`needmap.workflows.evaluation.evaluation_document` wrote it with
:mod:`needmap.metrics.ltv`).
"""

from __future__ import annotations

from typing import Any

from needmap.report.content import NO_EVALUATION, ReportData
from needmap.report.curve_sections import task_documents
from needmap.report.html import Section, explain, note, table
from needmap.report.text import esc

#: The metrics of the table, in order, with their names on the page.
LTV_METRICS = (
    ("normalized_gini", "normalized Gini"),
    ("spearman", "Spearman"),
    ("auc", "AUC (buys)"),
    ("decile_mape", "decile MAPE"),
    ("aggregate_error", "aggregate error"),
    ("rmse", "RMSE"),
    ("mae", "MAE"),
)


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.4f}"


def _comparison_rows(document: dict[str, Any]) -> list[list[object]]:
    return [
        [c.get("baseline"), c.get("metric"), _number(c.get("deep")), _number(c.get("other")),
         _number(c.get("difference")), f"[{_number(c.get('low'))}, {_number(c.get('high'))}]"]
        for c in document.get("comparisons") or []
    ]  # fmt: skip


def ltv_section(data: ReportData) -> Section:
    """The metrics table, the paired comparisons and the decile calibration of each lifetime-value target."""
    ident, heading = "ltv", "Lifetime value: metrics and decile calibration"
    documents = task_documents(data, "ltv")
    if not documents:
        return Section(ident, heading, note(data.notes.get("curves", NO_EVALUATION)))
    parts = [
        explain(
            "Normalized Gini: how much of the spend the ranking by predicted spend puts first, against the perfect "
            "ranking (1 = perfect, 0 = chance). Spearman: rank correlation of predicted and actual spend. AUC: the "
            "chance to buy against whether the customer spent. Decile MAPE: the mean relative gap between mean "
            "predicted and mean actual spend per decile of the prediction. Aggregate error: total predicted over "
            "total spent, minus 1."
        )
    ]
    for document, suffix, _dashed, _target in documents:
        models = document.get("models") or {}
        parts.append(f"<h3>{esc((document.get('data') or 'test rows') + suffix)}</h3>")
        rows = [
            [name, *(_number((m.get("metrics") or {}).get(k)) for k, _ in LTV_METRICS)] for name, m in models.items()
        ]
        parts.append(
            table(["model", *(label for _, label in LTV_METRICS)], rows, numeric=range(1, len(LTV_METRICS) + 1))
        )
        comparisons = _comparison_rows(document)
        if comparisons:
            parts.append(
                explain("Paired bootstrap intervals of the difference (network minus baseline) on the same rows.")
            )
            parts.append(table(["baseline", "metric", "network", "baseline value", "difference", "interval"],
                               comparisons, numeric=(2, 3, 4)))  # fmt: skip
        if document.get("verdict"):
            parts.append(f"<p>{esc(str(document['verdict']))}</p>")
        for name, model in models.items():
            deciles = model.get("deciles") or []
            if not deciles:
                continue
            parts.append(f"<h4>{esc(name)}: mean spend per decile of its prediction (lowest first)</h4>")
            rows = [[d["decile"], d["rows"], _number(d["predicted"]), _number(d["actual"])] for d in deciles]
            parts.append(table(["decile", "rows", "mean predicted", "mean actual"], rows, numeric=(0, 1, 2, 3)))
    return Section(ident, heading, "".join(parts))
