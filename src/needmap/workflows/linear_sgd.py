"""Logistic regression for many sparse rows: averaged stochastic gradient descent, stopped on validation rows.

The exact solver (L-BFGS, :func:`needmap.workflows.baseline.fit_baseline` on fewer rows) needs hundreds of
passes over the one-hot design before it converges; on hundreds of thousands of rows with high-cardinality
categories that is minutes, and its optimum of a weak L2 penalty fits the rare categories' noise. Large-data
users fit the same model the way online advertising does: a few passes of SGD with a small constant step and
Polyak-Ruppert averaging (the averaged weights are the model), stopped
when the validation rows' log loss stops falling. The result is the same kind of model (one weight per
design column and an intercept), saved and scored as the L-BFGS one is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

#: Training rows from which a binary target's logistic regression is fitted by averaged SGD (below: L-BFGS).
SGD_MIN_ROWS = 100_000
#: The L2 penalty per row (scikit-learn's ``alpha``), the constant step and the most passes over the rows.
SGD_ALPHA = 1e-6
SGD_STEP = 0.01
SGD_MAX_EPOCHS = 8
#: Passes run when there are no validation rows to stop on.
SGD_EPOCHS_WITHOUT_VALIDATION = 4
#: A pass must lower the validation log loss by more than this to count as better.
SGD_MIN_GAIN = 1e-4
#: Training rows up to which the design is built whole; on more, each pass builds it a part of
#: :data:`SGD_PART_ROWS` rows at a time (:class:`RowDesign`): the whole design of ten million rows of
#: 39 columns is about 5 GB of float64 and int32 arrays.
SGD_WHOLE_ROWS = 2_000_000
SGD_PART_ROWS = 1 << 19


@dataclass
class RowDesign:
    """A design too large to hold whole: ``n`` rows, ``width`` columns, ``rows(index)`` the sparse rows at
    ``index`` (sorted positions), built when a pass reaches them."""

    n: int
    width: int
    rows: Callable[[np.ndarray], sp.csr_matrix]


def _parts(n: int, order: np.ndarray | None = None) -> list[np.ndarray]:
    """Row positions ``[0, n)`` (or ``order``) in parts of :data:`SGD_PART_ROWS`, each sorted."""
    order = np.arange(n) if order is None else order
    return [np.sort(order[start : start + SGD_PART_ROWS]) for start in range(0, n, SGD_PART_ROWS)]


def positive_proba(model: Any, design: sp.csr_matrix | RowDesign) -> np.ndarray:
    """``model.predict_proba(design)[:, 1]``, a part at a time for a :class:`RowDesign`."""
    if isinstance(design, RowDesign):
        return np.concatenate([model.predict_proba(design.rows(part))[:, 1] for part in _parts(design.n)])
    return model.predict_proba(design)[:, 1]


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))


def fit_logistic_sgd(
    design: sp.csr_matrix | RowDesign,
    y: np.ndarray,
    *,
    seed: int,
    valid: tuple[sp.csr_matrix | RowDesign, np.ndarray] | None = None,
) -> tuple[LogisticRegression, dict[str, Any]]:
    """A binary logistic regression on ``design`` (rows x columns, sparse) by averaged SGD.

    Each pass goes over every row once, in an order the seed sets (a :class:`RowDesign`: its rows in a seeded
    order, a part at a time, each part's rows shuffled again); with ``valid`` (a design and 0/1 labels) the
    weights after the pass with the lowest validation log loss are kept, and fitting stops at the first
    pass that does not lower it by :data:`SGD_MIN_GAIN` (at most :data:`SGD_MAX_EPOCHS` passes); without,
    :data:`SGD_EPOCHS_WITHOUT_VALIDATION` passes. Returns a scikit-learn ``LogisticRegression`` holding those
    weights (scored and saved as any fitted one) and what the fit did: ``{"solver", "epochs", "alpha",
    "step", "validation_logloss"}``.
    """
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    classes = np.unique(y)
    sgd = SGDClassifier(
        loss="log_loss", alpha=SGD_ALPHA, learning_rate="constant", eta0=SGD_STEP, average=True, random_state=seed
    )
    epochs = SGD_MAX_EPOCHS if valid is not None else SGD_EPOCHS_WITHOUT_VALIDATION
    best: tuple[np.ndarray, np.ndarray] | None = None
    best_loss, best_epoch = np.inf, 0
    for epoch in range(1, epochs + 1):
        if isinstance(design, RowDesign):
            order = np.random.default_rng([seed, epoch]).permutation(design.n)
            for part in _parts(design.n, order):
                sgd.partial_fit(design.rows(part), y[part], classes=classes)
        else:
            sgd.partial_fit(design, y, classes=classes)  # one pass over the rows, in the seeded order
        if valid is None:
            best, best_epoch = (sgd.coef_.copy(), sgd.intercept_.copy()), epoch
            continue
        loss = _log_loss(np.asarray(valid[1]) == classes[1], positive_proba(sgd, valid[0]))
        if loss < best_loss - SGD_MIN_GAIN:
            best, best_loss, best_epoch = (sgd.coef_.copy(), sgd.intercept_.copy()), loss, epoch
        else:
            break
    assert best is not None
    model = LogisticRegression()
    model.coef_, model.intercept_ = (np.asarray(v, dtype=np.float64) for v in best)  # float32 from a float32 design
    model.classes_ = classes
    model.n_features_in_ = design.width if isinstance(design, RowDesign) else design.shape[1]
    fit = {
        "solver": "averaged SGD",
        "epochs": best_epoch,
        "alpha": SGD_ALPHA,
        "step": SGD_STEP,
        "validation_logloss": None if valid is None else round(float(best_loss), 6),
    }
    return model, fit
