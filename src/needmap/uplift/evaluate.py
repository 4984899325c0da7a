"""The uplift metrics of predicted effects on a campaign's rows, one offer at a time against control.

Each offer is judged on its own rows and the control rows (the other offers' rows tell nothing about it),
ranked by its predicted effect. What each number means and how it is normalized is in ``NORMALIZATION``,
which every result carries (docs/uplift.md says the same).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from needmap.errors import DataError
from needmap.uplift.campaign_rows import Arms

NORMALIZATION = {
    "qini_coefficient": "area between the Qini curve and the random line over the same for the perfect ranking "
    "(1 = perfect, 0 = random); scikit-uplift's qini_auc_score",
    "auuc": "area between the uplift curve and the random line over the same for the perfect ranking; "
    "scikit-uplift's uplift_auc_score (0/1 outcomes only)",
    "causalml_qini": "causalml's qini_score (normalize=True): the Qini curve's mean gain over random, curves "
    "scaled by their last value",
    "causalml_auuc": "causalml's auuc_score (normalize=True): the mean of the cumulative gain curve scaled by its "
    "last value",
    "uplift_at_k": "mean outcome of the treated minus the control among the top k share (scikit-uplift's "
    "uplift_at_k, strategy 'overall')",
    "incremental_at_k": "uplift_at_k times the number of rows in the top k share: the extra conversions (or "
    "revenue) had the top k been treated, in this data's units",
    "by_decile": "treated and control outcome rates and their difference in each tenth of the ranking, highest first",
    "pehe": "root mean squared error of the predicted effect against the true one (known truth only)",
    "incremental_curve": "incremental outcome (treated mean minus control mean, times the rows) when the top share "
    "of the ranking is contacted, at 50 shares: the profit curve for a value of 1 per unit and no cost",
}
#: Points of the incremental curve kept with the metrics (for the report's charts).
CURVE_POINTS = 50


def incremental_curve(
    outcome: np.ndarray, treated: np.ndarray, score: np.ndarray, points: int = CURVE_POINTS
) -> dict[str, list]:
    """The estimated incremental outcome of contacting the top share of the ranking by ``score``, at ``points``
    shares from 1/points to 1: ``(treated mean - control mean among the top) x rows in the top`` (None where the
    top holds no treated or no control row)."""
    order = np.argsort(-score, kind="stable")
    y, t = outcome[order], treated[order].astype(np.float64)
    n = len(y)
    sum_t, count_t = np.cumsum(y * t), np.cumsum(t)
    sum_c, count_c = np.cumsum(y * (1 - t)), np.cumsum(1 - t)
    shares = np.arange(1, points + 1) / points
    at = np.maximum(np.round(shares * n).astype(np.int64), 1) - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        lift = sum_t[at] / count_t[at] - sum_c[at] / count_c[at]
    values = lift * (at + 1)
    return {"share": shares.tolist(), "incremental": [None if not np.isfinite(v) else float(v) for v in values]}


def evaluate_effects(
    effect: np.ndarray,
    arms: Arms,
    y: np.ndarray,
    task: str,
    *,
    k: float = 0.3,
    truth: np.ndarray | None = None,
) -> dict[str, Any]:
    """Per offer: the metrics of ``NORMALIZATION`` for the effect column of that offer; ``truth``
    ``[n, offers]`` adds PEHE (on every row)."""
    from needmap.metrics import uplift as m
    from needmap.metrics.uplift_causalml import causalml_auuc_score, causalml_qini_score

    out: dict[str, Any] = {"k": k, "normalization": NORMALIZATION, "arms": {}}
    for j, offer in enumerate(arms.offers, start=1):
        rows = np.flatnonzero((arms.index == j) | (arms.index == 0))
        outcome, treated, score = y[rows], (arms.index[rows] == j).astype(np.int64), effect[rows, j - 1]
        deciles = m.uplift_by_percentile(outcome, treated, score, bins=10)
        result = {
            "rows_treated": int(treated.sum()),
            "rows_control": int(len(rows) - treated.sum()),
            "qini_coefficient": m.qini_auc_score(outcome, treated, score),
            "auuc": m.uplift_auc_score(outcome, treated, score) if task == "binary" else None,
            "causalml_qini": causalml_qini_score(outcome, treated, score),
            "causalml_auuc": causalml_auuc_score(outcome, treated, score),
            "uplift_at_k": m.uplift_at_k(outcome, treated, score, k=k),
            "incremental_at_k": m.incremental_at_k(outcome, treated, score, k),
            "by_decile": {key: np.asarray(value).tolist() for key, value in deciles.items()},
            "incremental_curve": incremental_curve(outcome, treated, score),
        }
        if truth is not None:
            result["pehe"] = m.pehe(truth[:, j - 1], effect[:, j - 1])
        out["arms"][offer] = result
    return out


def paired_qini_interval(
    y: np.ndarray,
    arm: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    *,
    resamples: int = 200,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The difference of the mean Qini coefficient over the offers, ranking A minus ranking B, on the same rows,
    with a 95% paired bootstrap interval (rows drawn with replacement, both rankings judged on each draw):
    ``(difference, low, high)``. ``arm``: 0 = control, k = offer k; ``score_*``: ``[n, offers]``."""
    from needmap.metrics.uplift import qini_auc_score

    def mean_qini(rows: np.ndarray, score: np.ndarray) -> float:
        values = []
        for j in range(score.shape[1]):
            mine = rows[(arm[rows] == j + 1) | (arm[rows] == 0)]
            values.append(qini_auc_score(y[mine], (arm[mine] == j + 1).astype(np.int64), score[mine, j]))
        return float(np.mean(values))

    everyone = np.arange(len(y))
    point = mean_qini(everyone, score_a) - mean_qini(everyone, score_b)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        rows = rng.integers(0, len(y), size=len(y))
        try:
            draws.append(mean_qini(rows, score_a) - mean_qini(rows, score_b))
        except DataError:  # a draw without a treated or a control row of some offer: skipped
            continue
    low, high = np.percentile(draws, [2.5, 97.5]) if draws else (float("nan"), float("nan"))
    return point, float(low), float(high)
