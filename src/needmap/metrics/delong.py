"""DeLong's placement values of a ranking, and the paired variance of the difference of two AUCs.

DeLong, DeLong and Clarke-Pearson (Biometrics 1988) write the AUC as the mean placement value of the
positives: a positive's placement is the share of the negatives it outranks, a negative's the share of the
positives that outrank it, ties counted 1/2 either way. The AUC's variance is ``var(positives' placements) /
n_pos + var(negatives' placements) / n_neg``; for two models scored on the same rows, the variance of their
AUC difference is the same formula on the differences of their placements, row by row (the paper's
``S10`` and ``S01`` matrices contrasted with ``(1, -1)``). Sun and Xu (IEEE Signal Processing Letters 2014)
find the placements from midranks: one sort of all the rows and one of each class, ``O(n log n)`` rather
than the ``O(n_pos n_neg)`` of comparing every pair.
"""

from __future__ import annotations

import numpy as np


def midranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values`` ``[n]``, ties given the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    new = np.r_[True, ranked[1:] != ranked[:-1]]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(values)]
    block = np.cumsum(new) - 1
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = ((starts + ends - 1) / 2 + 1)[block]
    return ranks


def placements(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The placement values of the positives ``[n_pos]`` and of the negatives ``[n_neg]``, each in row order.

    ``positive``: bool ``[n]``, both classes present; ``scores``: float ``[n]``. A positive's midrank among
    all rows less its midrank among the positives counts the negatives below it (a tied one as 1/2).
    """
    s = np.asarray(scores, dtype=np.float64)
    m, n = int(positive.sum()), int((~positive).sum())
    ranks = midranks(s)
    v_pos = (ranks[positive] - midranks(s[positive])) / n
    v_neg = 1.0 - (ranks[~positive] - midranks(s[~positive])) / m
    return v_pos, v_neg


def auc_difference_variance(positive: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """DeLong's variance of ``AUC(a) - AUC(b)`` for scores ``a`` and ``b`` ``[n]`` of the same rows.

    ``positive``: bool ``[n]`` with at least 2 rows of each class (the sample variances need 2). The
    placements of both models are paired row by row, so what the two rankings share cancels.
    """
    pos_a, neg_a = placements(positive, a)
    pos_b, neg_b = placements(positive, b)
    return float(np.var(pos_a - pos_b, ddof=1) / len(pos_a) + np.var(neg_a - neg_b, ddof=1) / len(neg_a))
