"""causalml's uplift scores, number for number: :func:`causalml_qini_score` and :func:`causalml_auuc_score`.

The same inputs as :mod:`needmap.metrics.uplift` (``outcome``, ``treatment`` 0/1, ``uplift``). causalml averages
a per-row curve, so the order of tied rows matters: rows are ranked as causalml ranks them (pandas' descending
sort, numpy's unstable quicksort), and the undefined leading points (before both groups appear) are filled by
linear interpolation from 0, as causalml does. Kept apart from the scikit-uplift metrics: another library's
conventions, matched one by one.
"""

from __future__ import annotations

import numpy as np

from needmap.errors import ConfigError
from needmap.metrics.uplift import _divide, _inputs


def _causalml_order(u: np.ndarray) -> np.ndarray:
    """Row order of ``DataFrame.sort_values(col, ascending=False)`` (pandas' ``nargsort``): the
    scores reversed, sorted ascending with numpy's default (unstable) quicksort, and the result
    reversed. Tied rows thus come in the order causalml sees them."""
    n = len(u)
    return np.arange(n)[::-1][np.argsort(u[::-1], kind="quicksort")][::-1]


def _interpolate(values: np.ndarray) -> np.ndarray:
    """``values`` [n + 1] with NaNs filled by linear interpolation between their valid neighbours, as
    ``pandas.DataFrame.interpolate()`` (the first value is valid; trailing NaNs keep the last one)."""
    valid = ~np.isnan(values)
    positions = np.arange(len(values))
    return np.interp(positions, positions[valid], values[valid])


def _causalml_curves(outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """causalml's per-row cumulative gain and Qini curves (``get_cumgain``, ``get_qini`` without a
    true effect), each [n + 1]: index i = the top i rows, index 0 = 0.

    Per row: lift_i = treated mean - control mean among the top i, gain_i = lift_i * i,
    qini_i = treated sum - control sum * n_treated / n_control among the top i. Rows before both
    groups (lift) or the control group (Qini) have appeared are undefined and filled by linear
    interpolation from 0, as causalml does; the gain is lift * i after that filling.
    """
    y, t, u = _inputs(outcome, treatment, uplift)
    order = _causalml_order(u)
    y, t = y[order], t[order]
    rows = np.arange(1, len(y) + 1, dtype=np.float64)
    n_t = np.cumsum(t)
    n_c = rows - n_t
    s_t = np.cumsum(y * t)
    s_c = np.cumsum(y * (1 - t))
    lift = _divide(s_t, n_t, np.nan) - _divide(s_c, n_c, np.nan)
    qini = s_t - _divide(s_c * n_t, n_c, np.nan)
    gain = _interpolate(np.r_[0.0, lift]) * np.r_[0.0, rows]
    return gain, _interpolate(np.r_[0.0, qini])


def _scaled(curve: np.ndarray, normalize: bool) -> np.ndarray | None:
    """``curve`` / |its last value| when ``normalize`` (None when that is 0), else ``curve``."""
    if not isinstance(normalize, bool):
        raise ConfigError(f"normalize is {normalize!r}; expected True or False.")
    if not normalize:
        return curve
    return None if curve[-1] == 0 else curve / abs(curve[-1])


def causalml_qini_score(
    outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray, normalize: bool = True
) -> float:
    """``causalml.metrics.qini_score`` of one model: the mean height of causalml's per-row Qini
    curve above the random line.

    With Q_i the Qini value of the top i rows (i = 0..n, see :func:`qini_curve`, but one point per row,
    tied rows in causalml's order), divided by |Q_n| when ``normalize``: score =
    (sum_i Q_i - sum_i R_i) / (n + 1), R the straight line from Q_0 = 0 to Q_n at the same n + 1 points.
    With ``normalize`` the curve ends at +-1, so the score is in units of the total net gain; it is not
    divided by the perfect curve's area (unlike :func:`qini_auc_score`). NaN when ``normalize`` and
    Q_n = 0.
    """
    curve = _scaled(_causalml_curves(outcome, treatment, uplift)[1], normalize)
    if curve is None:
        return float("nan")
    random = np.linspace(curve[0], curve[-1], len(curve))
    return float((curve.sum() - random.sum()) / len(curve))


def causalml_auuc_score(
    outcome: np.ndarray, treatment: np.ndarray, uplift: np.ndarray, normalize: bool = True
) -> float:
    """``causalml.metrics.auuc_score`` of one model: the mean height of causalml's cumulative gain curve.

    With G_i = (treated mean - control mean among the top i rows) * i (i = 0..n, tied rows in
    causalml's order), divided by |G_n| when ``normalize``: score = sum_i G_i / (n + 1). Not measured
    against random: a random ranking scores about 0.5 when normalized. NaN when ``normalize`` and G_n = 0.
    """
    curve = _scaled(_causalml_curves(outcome, treatment, uplift)[0], normalize)
    if curve is None:
        return float("nan")
    return float(curve.sum() / len(curve))


# ---------------------------------------------------------------------------------------------------
# Known effects
# ---------------------------------------------------------------------------------------------------
