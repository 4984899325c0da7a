"""Group AUC against a hand-computed case and a per-group loop over scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from needmap.errors import DataError
from needmap.metrics import group_auc


def test_group_auc_hand_computed_with_a_skipped_one_class_group() -> None:
    # group "a": positive .9 above negatives .5 and .7 -> AUC 1 (3 rows)
    # group "b": positives .2 .6, negatives .4 .6 -> pairs 0, 0, 1, 1/2 -> AUC 1.5 / 4 = .375 (4 rows)
    # group "c": negatives only -> skipped
    # GAUC = (3 * 1 + 4 * .375) / 7
    rows = [
        ("b", 1, 0.2),
        ("a", 1, 0.9),
        ("c", 0, 0.3),
        ("b", 0, 0.4),
        ("a", 0, 0.5),
        ("b", 1, 0.6),
        ("c", 0, 0.8),
        ("a", 0, 0.7),
        ("b", 0, 0.6),
    ]
    groups = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    p = np.array([r[2] for r in rows])
    result = group_auc(y, p, groups)
    assert result["gauc"] == pytest.approx(4.5 / 7)
    assert (result["groups_used"], result["groups_skipped"], result["rows_used"]) == (2, 1, 7)
    assert "note" not in result


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_auc_matches_a_loop_over_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 1000
    groups = rng.integers(0, 30, n)
    y = (rng.random(n) < 0.2 + 0.3 * (groups % 2)).astype(int)
    p = np.round(0.2 * y + rng.random(n), 1)  # ties within groups
    used, weighted, rows = 0, 0.0, 0
    for g in np.unique(groups):
        mask = groups == g
        if 0 < y[mask].sum() < mask.sum():
            used += 1
            rows += int(mask.sum())
            weighted += mask.sum() * roc_auc_score(y[mask], p[mask])
    result = group_auc(y, p, groups)
    assert result["gauc"] == pytest.approx(weighted / rows, abs=1e-12)
    assert result["groups_used"] == used and result["rows_used"] == rows
    assert result["groups_used"] + result["groups_skipped"] == len(np.unique(groups))
    assert type(result["gauc"]) is float


def test_group_auc_without_a_usable_group_is_none_with_a_note() -> None:
    result = group_auc(np.array([1, 1, 0, 0]), np.array([0.1, 0.2, 0.3, 0.4]), np.array(["x", "x", "y", "y"]))
    assert result["gauc"] is None and result["groups_used"] == 0 and result["groups_skipped"] == 2
    assert "none of the 2 groups" in result["note"]


def test_group_auc_accepts_missing_group_values_beside_names() -> None:
    groups = np.array(["x", None, "x", None, "x"], dtype=object)
    result = group_auc(np.array([1, 1, 0, 0, 0]), np.array([0.9, 0.8, 0.1, 0.2, 0.5]), groups)
    assert result["gauc"] == pytest.approx(1.0) and result["groups_used"] == 2


def test_group_auc_names_the_length_mismatch() -> None:
    with pytest.raises(DataError, match="y_true has 4 rows and groups has 3"):
        group_auc(np.array([1, 0, 1, 0]), np.array([0.1, 0.2, 0.3, 0.4]), np.array([1, 1, 2]))
