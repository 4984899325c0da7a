"""What each metric is called for a reader who is not a data scientist, and how its value is written.

One table, :data:`METRIC_NAMES`: per metric key of metrics.json (``auc``, ``pr_auc``, ``capture_at_10``, ...)
its plain name, a one-line explanation and its unit. The report page and the model card name metrics
through it (the plain name first, the key in small print), and write their values with
:func:`metric_text`, so that the same metric reads the same everywhere: ranking scores with four decimals,
shares as percentages, lifts as multiples, amounts in the target's units with thousands separators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricName:
    """A metric as a reader sees it.

    Attributes:
        plain: its name in words ("ranking quality").
        meaning: one line on what it says and which way is better.
        unit: how its value is written: "score" (decimals), "share" (a percentage), "multiple" (a lift,
            "2.14×"), "amount" (in the target's units) or "count".
        decimals: decimals shown.
    """

    plain: str
    meaning: str
    unit: str = "score"
    decimals: int = 4


METRIC_NAMES: dict[str, MetricName] = {
    "auc": MetricName(
        "ranking quality (AUC)",
        "the chance that a random responder is scored above a random non-responder: 0.5 is guessing, 1 is perfect",
    ),
    "pr_auc": MetricName(
        "precision over all cut-offs",
        "the average share of responders among the rows flagged, over every cut-off: higher is better; "
        "guessing gets the response rate",
    ),
    "logloss": MetricName(
        "probability error (log loss)",
        "how far the predicted probabilities are from what happened: lower is better",
    ),
    "lift_at_10": MetricName(
        "lift in the top 10%",
        "the response rate of the 10% best-scored rows divided by the overall rate: 2× means twice as many "
        "responders as contacting at random",
        "multiple",
        2,
    ),
    "capture_at_10": MetricName(
        "responders in the top 10%",
        "the share of all responders found by contacting the 10% best-scored rows: random contact finds 10%",
        "share",
        1,
    ),
    "ece": MetricName(
        "calibration error",
        "the average gap between the predicted and the observed response rate: lower is better",
        "share",
        2,
    ),
    "accuracy": MetricName(
        "accuracy", "the share of rows whose most likely outcome (for yes/no: a score above 0.5) is right", "share", 1
    ),
    "macro_auc": MetricName(
        "ranking quality per class (AUC)",
        "the AUC of each class against the others, averaged: 0.5 is guessing, 1 is perfect",
    ),
    "rmse": MetricName(
        "typical error (RMSE)",
        "the root mean squared gap between prediction and actual value, in the target's units: lower is "
        "better; large misses weigh more",
        "amount",
        2,
    ),
    "mae": MetricName(
        "average error (MAE)",
        "the mean absolute gap between prediction and actual value, in the target's units: lower is better",
        "amount",
        2,
    ),
    "r2": MetricName(
        "variance explained (R²)",
        "the share of the target's variation that the predictions account for: 1 is perfect, 0 is no better "
        "than predicting the average",
    ),
    "normalized_gini": MetricName(
        "spend ranking (normalized Gini)",
        "how much of the spend the customers ranked first account for, as a share of what a perfect ranking "
        "reaches: 1 is perfect, 0 is random; the few largest spenders weigh most",
    ),
    "spearman": MetricName(
        "rank agreement (Spearman)",
        "the correlation between the predicted and the actual order of spend, each customer alike: 1 is the same "
        "order, 0 none",
    ),
    "decile_mape": MetricName(
        "decile calibration error",
        "the customers cut into ten groups by prediction: the mean gap between each group's predicted and actual "
        "spend, relative to the actual: lower is better",
        "share",
        1,
    ),
    "aggregate_error": MetricName(
        "total spend error",
        "the predicted total spend over the actual total, minus one: 0 is exact, below 0 an underestimate",
        "share",
        1,
    ),
    "n": MetricName("rows", "the rows the metrics were measured on", "count", 0),
    "psi": MetricName(
        "distribution shift (PSI)",
        "how far a column's values moved from the training rows: below 0.1 stable, below 0.25 moderate, else large",
        "score",
        3,
    ),
}


def plain_name(key: str) -> str:
    """The plain name of the metric ``key``; the key itself, its underscores as spaces, when unknown."""
    entry = METRIC_NAMES.get(key)
    return entry.plain if entry else key.replace("_", " ")


def amount_text(value: float, decimals: int = 2) -> str:
    """An amount with thousands separators and ``decimals`` decimals ("12,345.68"; a small negative value keeps
    its sign: "-0.00"); "–" for None or NaN."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:,.{decimals}f}"


def metric_text(key: str, value: float | None) -> str:
    """The value of the metric ``key`` as the report and the card write it: "0.7812", "21.4%", "2.14×",
    "1,234.57", "3,000"; "–" for None or NaN. An unknown key is written as a score (four decimals)."""
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return "–"
    entry = METRIC_NAMES.get(key, MetricName(key, ""))
    if entry.unit == "share":
        return f"{value * 100:.{entry.decimals}f}%"
    if entry.unit == "multiple":
        return f"{value:.{entry.decimals}f}×"
    if entry.unit == "count":
        return f"{value:,.0f}"
    if entry.unit == "amount" or abs(value) >= 10_000:
        return amount_text(value, entry.decimals)
    return f"{value:.{entry.decimals}f}"
