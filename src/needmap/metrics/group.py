"""Group AUC (GAUC): the ROC AUC within each group of rows (a customer, a campaign, a region),
averaged with each group weighted by its rows, as in the Deep Interest Network paper.

A model can rank well over all rows because it tells groups apart, yet rank poorly within each
group; GAUC measures only the ranking within groups. Groups holding one class only have no AUC and
are left out (counted in ``groups_skipped``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from needmap.errors import DataError
from needmap.metrics._checks import as_1d, binary_labels, same_length


def _group_ids(groups: np.ndarray) -> np.ndarray:
    """Dense integer ids ``[n]`` of the group values ``[n]`` (any type: numbers, strings, None)."""
    values = np.asarray(groups)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise DataError(f"groups has shape {values.shape}; expected a 1-D array of length n.")
    try:
        _, ids = np.unique(values, return_inverse=True)
    except TypeError:  # mixed types (None beside strings): compare their text
        _, ids = np.unique(values.astype(str), return_inverse=True)
    return ids.reshape(-1)


def group_auc(y: np.ndarray, p: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """Row-weighted mean of the per-group ROC AUC.

    Args:
        y: binary labels ``[n]`` (0/1 or bool).
        p: scores ``[n]`` (higher = more likely positive).
        groups: the group of each row ``[n]`` (any values that can be compared: ids, names).

    Returns:
        ``{"gauc", "groups_used", "groups_skipped", "rows_used"}``: ``gauc`` =
        sum over groups g with both classes of ``n_g * AUC_g`` / sum of their ``n_g`` (None, with a
        ``note``, when no group has both classes); ``groups_used`` and ``groups_skipped`` count the
        groups with both classes and with one class only; ``rows_used`` counts the rows of the used
        groups. Tied scores within a group count 1/2, as in ``roc_auc_score``.
    """
    labels = binary_labels(y)
    scores = as_1d(p, "p")
    same_length(labels, scores, "y_true", "p")
    ids = _group_ids(groups)
    same_length(labels, ids, "y_true", "groups")
    n_groups = int(ids.max()) + 1
    # Sort by group, then score: within a group, rows in ascending score order.
    order = np.lexsort((scores, ids))
    g, s, lab = ids[order], scores[order], labels[order]
    position = np.arange(1, len(g) + 1, dtype=np.float64)
    # tie blocks: runs of equal (group, score); each row gets the mean position of its block
    starts = np.r_[True, (g[1:] != g[:-1]) | (s[1:] != s[:-1])]
    block = np.cumsum(starts) - 1
    block_rank = np.bincount(block, weights=position) / np.bincount(block)
    rank = block_rank[block]
    size = np.bincount(g, minlength=n_groups).astype(np.float64)
    before = np.r_[0.0, np.cumsum(size)[:-1]]  # rows of the earlier groups: ranks within group start at 1
    positives = np.bincount(g, weights=lab, minlength=n_groups)
    negatives = size - positives
    rank_sum = np.bincount(g, weights=lab * rank, minlength=n_groups) - positives * before
    used = (positives > 0) & (negatives > 0)
    result: dict[str, Any] = {
        "gauc": None,
        "groups_used": int(used.sum()),
        "groups_skipped": int(n_groups - used.sum()),
        "rows_used": int(size[used].sum()),
    }
    if used.any():
        pos, neg = positives[used], negatives[used]
        auc = (rank_sum[used] - pos * (pos + 1) / 2) / (pos * neg)
        result["gauc"] = float(np.dot(size[used], auc) / size[used].sum())
    else:
        result["note"] = f"none of the {n_groups} groups holds both classes: GAUC is undefined, so it is None."
    return result
