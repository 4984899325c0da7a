"""Uplift (causal) metrics: how well a score ranks customers by the lift that a treatment gives them.

Pure numpy on arrays. Every function takes the same three 1-D arrays of length n:

- ``outcome``: what each customer did, binary 0/1 (converted or not) or an amount (revenue);
- ``treatment``: 1 = treated by the arm being evaluated, 0 = control. Rows of other arms must be
  dropped by the caller first, and both groups must be present;
- ``uplift``: the predicted lift of the treatment for the customer; higher = target first.

Rows are ranked by ``uplift`` from high to low (one sort, then cumulative sums). Since the true
effect of one customer is never observed, every metric compares the outcome of the treated and the
control customers among the top-ranked rows of a randomized test.

Two reference implementations are matched number for number, because papers, vendors and
colleagues quote one or the other:

- scikit-uplift (``sklift.metrics``, 0.5): :func:`uplift_curve`, :func:`qini_curve`,
  :func:`perfect_uplift_curve`, :func:`perfect_qini_curve`, :func:`qini_auc_score` (needmap's
  "Qini coefficient"), :func:`uplift_auc_score`, :func:`uplift_at_k`, :func:`uplift_by_percentile`.
  Curves are evaluated at the distinct-score thresholds, so the order of tied rows does not matter
  there; the top-k and per-bin metrics break ties as scikit-uplift does (the row later in the input
  ranks first).
- causalml (``causalml.metrics``, 0.18): ``causalml_qini_score`` and ``causalml_auuc_score`` in
  :mod:`needmap.metrics.uplift_causalml`, which average a per-row curve and so depend on the order of tied
  rows: they rank as causalml does (pandas' descending quicksort of the scores).
"""

from __future__ import annotations

import math

import numpy as np

from needmap.errors import ConfigError, DataError
from needmap.metrics._checks import as_1d, same_length

STRATEGIES = ("overall", "by_group")


# ---------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------


def _treatment(treatment: np.ndarray) -> np.ndarray:
    """``treatment`` as float64 [n] of 0/1 with both groups present; DataError otherwise."""
    t = as_1d(treatment, "treatment")
    bad = (t != 0) & (t != 1)
    if bad.any():
        raise DataError(
            f"treatment holds {int(bad.sum())} values other than 0 and 1 (first: {float(t[bad][0])!r}); "
            "expected 1 = treated by the arm, 0 = control (keep only the rows of one arm and of control)."
        )
    treated = int(t.sum())
    if treated == 0 or treated == len(t):
        missing, present = ("treated", "control") if treated == 0 else ("control", "treated")
        raise DataError(
            f"treatment has no {missing} row (all {len(t)} rows are {present}); "
            "expected both treated (1) and control (0) rows, since uplift compares the two."
        )
    return t


def _inputs(outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(outcome, treatment, uplift)`` as float64 arrays [n] of one length, checked."""
    y = as_1d(outcome, "outcome")
    t = _treatment(treatment)
    u = as_1d(uplift, "uplift")
    same_length(y, t, "outcome", "treatment")
    same_length(y, u, "outcome", "uplift")
    return y, t, u


def _need_binary(y: np.ndarray, what: str) -> None:
    """DataError when ``y`` holds values other than 0/1: ``what`` is defined for conversions only."""
    bad = (y != 0) & (y != 1)
    if bad.any():
        raise DataError(
            f"outcome holds {int(bad.sum())} values other than 0 and 1 (first: {float(y[bad][0])!r}); "
            f"{what} is defined for a binary outcome (1 = converted) only."
        )


def _top_rows(n: int, k: float | int) -> int:
    """Rows in the top ``k``: ``k`` itself when an integer in [1, n], else floor(k * n) for a share in (0, 1].

    floor is scikit-uplift's ``int(k * n)``, but taken after rounding to 9 decimals so that a product
    such as 0.29 * 100 = 28.999999999999996 counts 29 rows, not 28.
    """
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
        if not 1 <= k <= n:
            raise ConfigError(f"k is {k!r}; expected a number of rows in [1, {n}] or a share in (0, 1].")
        return int(k)
    if isinstance(k, (float, np.floating)) and 0 < k <= 1:
        rows = math.floor(round(float(k) * n, 9))
        if rows == 0:
            raise ConfigError(f"k is {k!r}, which selects no row of {n}; expected a share of at least 1 / {n}.")
        return rows
    raise ConfigError(f"k is {k!r}; expected a share in (0, 1] or a number of rows in [1, {n}].")


def _descending(u: np.ndarray) -> np.ndarray:
    """Row order by score, high to low, as scikit-uplift ranks (a stable ascending sort, reversed):
    among tied scores the row later in the input comes first."""
    return np.argsort(u, kind="stable")[::-1]


def _area(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoid area under the points ``(x, y)`` (x increasing), as ``sklearn.metrics.auc``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float((np.diff(x) * (y[1:] + y[:-1]) / 2.0).sum())


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is 0 (the normalized score is undefined)."""
    return float(numerator / denominator) if denominator != 0 else float("nan")


def _divide(a: np.ndarray, b: np.ndarray, fill: float) -> np.ndarray:
    """a / b elementwise, ``fill`` where b is 0."""
    return np.divide(a, b, out=np.full(len(a), fill, dtype=np.float64), where=b != 0)


# ---------------------------------------------------------------------------------------------------
# Curves (scikit-uplift)
# ---------------------------------------------------------------------------------------------------


def _cumulative(y: np.ndarray, t: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, ...]:
    """Counts and outcome sums of each group among the top x rows, at every distinct-score threshold.

    Returns ``(x, n_treated, n_control, sum_treated, sum_control)``, each [m] for the m distinct
    scores: x = number of rows with a score >= the threshold. Tied rows enter together.
    """
    order = _descending(u)
    y, t, u = y[order], t[order], u[order]
    last = np.r_[np.flatnonzero(np.diff(u)), len(u) - 1]
    x = last + 1
    n_treated = np.cumsum(t)[last]
    sum_treated = np.cumsum(y * t)[last]
    sum_control = np.cumsum(y * (1 - t))[last]
    return x, n_treated, x - n_treated, sum_treated, sum_control


def uplift_curve(outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative uplift curve, as ``sklift.metrics.uplift_curve``.

    At each distinct score, with the x rows scored at least that high:
    y = (mean outcome of the treated - mean outcome of the control among them) * x, the extra
    outcome that treating those x customers would bring if their groups' difference held for all of
    them. A group with no row yet counts a mean of 0.

    Returns:
        ``(x, y)``: x int64 [m + 1] (number of customers targeted), y float64 [m + 1]; the first point
        is (0, 0), then one point per distinct score.
    """
    y, t, u = _inputs(outcome, treatment, uplift)
    x, n_t, n_c, s_t, s_c = _cumulative(y, t, u)
    values = (_divide(s_t, n_t, 0.0) - _divide(s_c, n_c, 0.0)) * x
    return np.r_[0, x], np.r_[0.0, values]


def qini_curve(outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve (Radcliffe 2007), as ``sklift.metrics.qini_curve``.

    At each distinct score, with the x rows scored at least that high:
    y = treated outcome sum - control outcome sum * n_treated / n_control among them, the
    treated outcome minus what the same number of treated would have done without treatment. The
    control term is 0 while no control row is among them.

    Returns:
        ``(x, y)``: x int64 [m + 1] (number of customers targeted), y float64 [m + 1]; the first point
        is (0, 0), then one point per distinct score.
    """
    y, t, u = _inputs(outcome, treatment, uplift)
    x, n_t, n_c, s_t, s_c = _cumulative(y, t, u)
    values = s_t - s_c * _divide(n_t, n_c, 0.0)
    return np.r_[0, x], np.r_[0.0, values]


def perfect_uplift_curve(outcome: np.ndarray, treatment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best uplift curve any ranking reaches on these rows, as ``sklift.metrics.perfect_uplift_curve``.

    It ranks treated converters and control non-converters first and the other two kinds last, in the
    order scikit-uplift chooses from the counts of control converters and treated non-converters.
    Binary outcome only.
    """
    y = as_1d(outcome, "outcome")
    t = _treatment(treatment)
    same_length(y, t, "outcome", "treatment")
    _need_binary(y, "the perfect uplift curve")
    control_converters = int(((y == 1) & (t == 0)).sum())
    treated_idle = int(((y == 0) & (t == 1)).sum())
    summand = y if control_converters > treated_idle else t
    return uplift_curve(y, t, 2.0 * (y == t) + summand)


def perfect_qini_curve(
    outcome: np.ndarray, treatment: np.ndarray, negative_effect: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The best Qini curve, as ``sklift.metrics.perfect_qini_curve``.

    ``negative_effect=True``: the Qini curve of the ranking treated rows by outcome (high first), then
    control rows by outcome (low first), so that customers whom treatment hurts come last. It is also
    defined for an amount outcome (the same ranking).
    ``negative_effect=False`` (binary outcome only): the curve rises straight to the net number of
    conversions R = treated conversions - control conversions * n_treated / n_control at x = R, then
    stays flat to x = n.
    """
    y = as_1d(outcome, "outcome")
    t = _treatment(treatment)
    same_length(y, t, "outcome", "treatment")
    if not isinstance(negative_effect, bool):
        raise ConfigError(f"negative_effect is {negative_effect!r}; expected True or False.")
    if negative_effect:
        return qini_curve(y, t, y * t - y * (1 - t))
    _need_binary(y, "the perfect Qini curve with negative_effect=False")
    net = y[t == 1].sum() - (t == 1).sum() * y[t == 0].sum() / (t == 0).sum()
    if net < 0:
        raise DataError(
            f"the treated convert less than the control (net conversions {net:.6g}); "
            "the perfect Qini curve with negative_effect=False needs a net gain: use negative_effect=True."
        )
    return np.array([0.0, net, float(len(y))]), np.array([0.0, net, net])


def _normalized_area(curve: tuple[np.ndarray, np.ndarray], perfect: tuple[np.ndarray, np.ndarray]) -> float:
    """(area under ``curve`` - random) / (area under ``perfect`` - random), the random line joining
    (0, 0) to the perfect curve's last point."""
    x_end, y_end = float(perfect[0][-1]), float(perfect[1][-1])
    random = x_end * y_end / 2.0
    return _ratio(_area(*curve) - random, _area(*perfect) - random)


def qini_auc_score(
    outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray, negative_effect: bool = True
) -> float:
    """needmap's Qini coefficient: ``sklift.metrics.qini_auc_score``.

    Normalization: (area under the model's Qini curve - area under the random line) divided by
    (area under the perfect Qini curve - area under the random line). Areas are trapezoids over
    x = number of customers targeted (0..n); the random line joins (0, 0) to (n, final Qini value),
    the curve of a ranking that carries no information. 1 = the perfect ranking, 0 = no better than
    random, < 0 = worse than random. ``negative_effect`` picks the perfect curve (see
    :func:`perfect_qini_curve`). NaN when the perfect curve has no area above the random line.

    Differs from :func:`causalml_qini_score`, which is not divided by the perfect curve's area.
    """
    y, t, u = _inputs(outcome, treatment, uplift)
    return _normalized_area(qini_curve(y, t, u), perfect_qini_curve(y, t, negative_effect))


def uplift_auc_score(outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray) -> float:
    """Normalized area under the uplift curve (AUUC), as ``sklift.metrics.uplift_auc_score``.

    (area under the model's uplift curve - area under the random line) / (area under the perfect
    uplift curve - the same random area), the random line joining (0, 0) to (n, final uplift curve
    value). 1 = perfect, 0 = random. Binary outcome only (the perfect curve needs it). NaN when the
    perfect curve has no area above the random line.
    """
    y, t, u = _inputs(outcome, treatment, uplift)
    _need_binary(y, "uplift_auc_score")
    return _normalized_area(uplift_curve(y, t, u), perfect_uplift_curve(y, t))


# ---------------------------------------------------------------------------------------------------
# Top-k and per-bin metrics (scikit-uplift)
# ---------------------------------------------------------------------------------------------------


def _group_means(y: np.ndarray, t: np.ndarray, rows: int) -> tuple[float, float]:
    """Mean outcome of the treated and of the control among the first ``rows`` of already ranked
    arrays; DataError when either group has no row there."""
    top_y, top_t = y[:rows], t[:rows]
    treated = int(top_t.sum())
    if treated == 0 or treated == rows:
        missing = "treated" if treated == 0 else "control"
        raise DataError(
            f"the top {rows} rows by uplift hold no {missing} row, so their uplift is undefined; "
            "expected both groups there: use a larger k."
        )
    return float((top_y * top_t).sum() / treated), float((top_y * (1 - top_t)).sum() / (rows - treated))


def uplift_at_k(
    outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray, k: float | int = 0.3, strategy: str = "overall"
) -> float:
    """Uplift in the top ``k`` by score, as ``sklift.metrics.uplift_at_k``.

    ``k``: a share in (0, 1] (rows: floor(k * n), see below) or a number of rows (int).
    ``strategy="overall"``: the top k of all rows; the treated mean outcome minus the control mean
    outcome among them. ``"by_group"``: the top k of the treated rows (floor(k * n_treated), or k rows)
    and, separately, of the control rows; the difference of their mean outcomes.

    Differences from scikit-uplift, which rejects these or returns NaN: k = 1.0 and k = n are
    allowed; a top group without a treated or a control row raises DataError; and floor(k * n) is
    taken after rounding to 9 decimals (scikit-uplift's ``int(0.29 * 100)`` counts 28 rows, here 29).
    """
    y, t, u = _inputs(outcome, treatment, uplift)
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy is {strategy!r}; expected one of {', '.join(STRATEGIES)}.")
    order = _descending(u)
    y, t = y[order], t[order]
    if strategy == "overall":
        mean_treated, mean_control = _group_means(y, t, _top_rows(len(y), k))
        return mean_treated - mean_control
    means = []
    for group, name in ((1, "treated"), (0, "control")):
        values = y[t == group]
        try:
            rows = _top_rows(len(values), k)
        except ConfigError as error:
            raise ConfigError(f"{name} group ({len(values)} rows): {error.detail}") from None
        means.append(float(values[:rows].mean()))
    return means[0] - means[1]


def incremental_at_k(outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray, k: float | int) -> float:
    """Expected incremental outcome of treating the top ``k`` by score: conversions for a binary
    outcome, revenue for an amount.

    Estimated as (treated mean outcome - control mean outcome among the top k rows) * rows in the top
    k, that is :func:`uplift_at_k` (``strategy="overall"``) times the number of customers targeted.
    ``k``: a share in (0, 1] (floor(k * n) rows) or a number of rows.
    """
    y, t, u = _inputs(outcome, treatment, uplift)
    rows = _top_rows(len(y), k)
    order = _descending(u)
    mean_treated, mean_control = _group_means(y[order], t[order], rows)
    return (mean_treated - mean_control) * rows


def uplift_by_percentile(
    outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray, bins: int = 10
) -> dict[str, np.ndarray]:
    """Group sizes, response rates and uplift in ``bins`` bins of rows ranked by score, high first,
    as ``sklift.metrics.uplift_by_percentile`` with ``strategy="overall"``.

    The ranked rows are cut as ``numpy.array_split`` cuts them: n // bins rows a bin, the first
    n % bins bins one more.

    Returns:
        dict of arrays [bins], bin 0 the highest scores: ``n_treatment`` and ``n_control`` (int64),
        ``response_rate_treatment`` and ``response_rate_control`` (mean outcome of the group in the bin;
        NaN when the bin has no row of that group) and ``uplift`` (their difference).
    """
    y, t, u = _inputs(outcome, treatment, uplift)
    n = len(y)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 1 <= bins <= n:
        raise ConfigError(f"bins is {bins!r}; expected an integer in [1, {n}] (the number of rows).")
    order = _descending(u)
    y, t = y[order], t[order]
    sizes = np.full(bins, n // bins)
    sizes[: n % bins] += 1
    index = np.repeat(np.arange(bins), sizes)
    n_treatment = np.bincount(index, weights=t, minlength=bins).astype(np.int64)
    n_control = sizes - n_treatment
    rate_treatment = _divide(np.bincount(index, weights=y * t, minlength=bins), n_treatment, np.nan)
    rate_control = _divide(np.bincount(index, weights=y * (1 - t), minlength=bins), n_control, np.nan)
    return {
        "n_treatment": n_treatment,
        "n_control": n_control.astype(np.int64),
        "response_rate_treatment": rate_treatment,
        "response_rate_control": rate_control,
        "uplift": rate_treatment - rate_control,
    }


def pehe(true_effect: np.ndarray, predicted_effect: np.ndarray) -> float:
    """Precision in estimating heterogeneous effects: sqrt(mean((true - predicted)^2)).

    The root mean squared error of the predicted individual effect, for data where the true effect
    of each row is known (simulations, semi-synthetic benchmarks); 0 = exact.
    """
    truth = as_1d(true_effect, "true_effect")
    predicted = as_1d(predicted_effect, "predicted_effect")
    same_length(truth, predicted, "true_effect", "predicted_effect")
    return float(np.sqrt(np.mean((truth - predicted) ** 2)))
