"""The reasons section of a model's report: why the top-scored customers of the given data got their scores,
and the mean absolute attribution of each column beside the permutation importance."""

from __future__ import annotations

from needmap.report.bar_charts import bar_chart
from needmap.report.content import MOST_BARS, ReportData
from needmap.report.html import Section, explain, note
from needmap.report.line_charts import Series, line_chart
from needmap.report.text import esc


def reasons_section(data: ReportData) -> Section:
    """Per top-scored customer, the columns that raise and lower their score as sentences; then the mean
    absolute attribution per column."""
    if not data.reasons:
        return Section("reasons", "Reasons", note("give labelled data to the report to see the reasons of its "
                                                  "top-scored customers"))  # fmt: skip
    parts = [
        explain(
            "Why the customers with the highest scores in the given data got them: the columns that raise each "
            "score and the columns that lower it (Integrated Gradients on the network's output, summed to the "
            "columns, measured from a reference customer: the population's means and most frequent categories), "
            "with the customer's value and how it compares with the population (a random sample of the data)."
        )
    ]
    for customer in data.reasons:
        items = "".join(f'<li class="{esc(r["effect"])}">{esc(r["reason"])}</li>' for r in customer["reasons"])
        parts.append(f"<h3>{esc(customer['label'])}: score {customer['score']:.4f}</h3><ul>{items}</ul>")
    if data.attribution:
        shown = data.attribution[:MOST_BARS]
        parts.append(
            explain(
                f"Mean absolute attribution per column ({data.attribution_rows}): how far, on average, each column "
                "moves a customer's score (in logits for a 0/1 target) from the reference customer's. Beside the "
                "permutation importance above: a column can move single scores a lot and still matter little to "
                "the ranking as a whole."
            )
        )
        parts.append(
            bar_chart(
                "attribution",
                "mean absolute attribution per column",
                [r["feature"] for r in shown],
                [r["value"] for r in shown],
                x_label="mean |attribution|",
                value_text=lambda v: f"{v:.3f}",
            )
        )
    for curve in data.dependence:
        series = [
            Series("partial dependence (mean)", curve["values"], curve["pd"]),
            Series("10th percentile of customers", curve["values"], curve["p10"], dashed=True),
            Series("90th percentile of customers", curve["values"], curve["p90"], dashed=True),
        ]
        parts.append(
            explain(
                f"{curve['column']}: each sampled customer scored again with {curve['column']} set to each value "
                "(its 5th to 95th percentiles), all else as it is. The mean of those curves is the partial "
                "dependence; the dashed lines bound the middle 80% of the customers' own curves (ICE)."
            )
        )
        parts.append(
            line_chart(
                f"pd-{curve['column']}",
                f"partial dependence on {curve['column']}",
                series,
                x_label=curve["column"],
                y_label="score",
            )
        )
    return Section("reasons", "Reasons", "".join(parts))
