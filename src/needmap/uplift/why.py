"""Why this offer: each column's share of a customer's predicted effect, for the X and DR learners over LightGBM.

Their effect models are LightGBM regressions of the effect itself, so LightGBM's own TreeSHAP contributions
(``pred_contrib``) split each customer's predicted effect exactly into one term per input (plus the model's
mean): the X learner's two effect models weighted as it weighs them, the DR learner's one. The terms of the
encoded inputs (a number's scaled value, its missing indicator, a category's id) are summed to the user's
columns. The other learners' effects are differences of two outcome models' probabilities, which such terms do
not split; they say so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from needmap.errors import ConfigError
from needmap.preprocessing.batch import FeatureBatch
from needmap.uplift.campaign_rows import names_of

EXPLAINED = ("x", "dr")


def _contributions(fit: Any, x: FeatureBatch) -> np.ndarray:
    """TreeSHAP terms of one LightGBM effect model: ``[n, design columns + 1]`` (the last: the mean)."""
    baseline = fit.fitted
    design = baseline._inputs(x)
    return np.asarray(baseline._booster().predict(design, pred_contrib=True), dtype=np.float64)


def _by_column(terms: np.ndarray, x: FeatureBatch, prep: Any, columns: list[str], cards: list[int]) -> np.ndarray:
    """The design's terms ``[n, design + 1]`` summed to ``columns``: ``[n, columns]``."""
    n_num, n_cat = x.numeric.shape[1], x.categorical.shape[1]
    starts = np.cumsum([0, *cards])
    out = np.zeros((len(terms), len(columns)))
    for c, name in enumerate(columns):
        numeric, categorical, lists = prep.column_positions(name)
        at = [*numeric, *(n_num + j for j in categorical)]
        for k in lists:
            at += list(range(n_num + n_cat + int(starts[k]), n_num + n_cat + int(starts[k + 1])))
        if at:
            out[:, c] = terms[:, at].sum(axis=1)
    return out


def offer_terms(predictor: Any, table: pa.Table) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(columns, terms [n, offers, columns], mean [n, offers])``: each column's share of each offer's
    predicted effect, and the effect model's mean; terms plus mean give the predicted effect."""
    learner = predictor.learner
    base = predictor.params.get("base", "lightgbm")
    if learner not in EXPLAINED or base != "lightgbm":
        raise ConfigError(f"the {learner} learner over {base} gives no exact per-column terms of its effects; "
                          "explain works for the x and dr learners over lightgbm.")  # fmt: skip
    prep = predictor.preprocessor
    x = prep.transform(table)
    columns = list(predictor.schema.features)
    cards = [int(s["cardinality"]) for s in getattr(prep, "list_specs_", [])]
    fitted = predictor.fitted
    offers = len(predictor.offers)
    terms = np.zeros((len(x), offers, len(columns)))
    mean = np.zeros((len(x), offers))
    for k in range(1, offers + 1):
        if learner == "dr":
            raw = _contributions(fitted.models[f"tau{k}"], x)
        else:
            g = fitted.weights[k - 1]
            raw = g * _contributions(fitted.models[f"tau{k}_control"], x) + (1 - g) * _contributions(
                fitted.models[f"tau{k}_treated"], x
            )
        terms[:, k - 1] = _by_column(raw[:, :-1], x, prep, columns, cards)
        mean[:, k - 1] = raw[:, -1]
    return columns, terms, mean


def offer_reasons(predictor: Any, data: Any, *, top: int = 3, population: pa.Table | None = None) -> pa.Table:
    """Per customer, the columns that raise and lower the predicted effect of their best offer (the offer of
    largest predicted effect), as sentences: :func:`needmap.explain.reasons.reason_table` on the offer's terms,
    with ``offer`` beside the ids."""
    from needmap.data.read import read
    from needmap.explain.attributions import Attributions
    from needmap.explain.reasons import reason_table

    table = data if isinstance(data, pa.Table) else read(data)
    columns, terms, mean = offer_terms(predictor, table)
    effect = terms.sum(axis=2) + mean
    best = np.argmax(effect, axis=1)
    rows = np.arange(len(best))
    found = Attributions(columns, terms[rows, best], effect[rows, best], mean[rows, best], np.zeros(len(best)), {})
    ids = [c for c in names_of(predictor.params.get("id")) if c in table.column_names]
    # without ids the reasons name each row's position (``row``, from 1): its offer, then its ids in its place
    reasons = reason_table(found, table, top=top, population=population, outcome="offer's effect")
    at = pa.array(reasons.column("row").to_numpy() - 1)
    offers = np.asarray(predictor.offers, dtype=object)[best[at.to_numpy()]].tolist()
    reasons = reasons.add_column(1, "offer", pa.array(offers, type=pa.string()))
    if ids:
        reasons = reasons.drop_columns(["row"])
        for name in reversed(ids):
            reasons = reasons.add_column(0, name, table.column(name).take(at))
    return reasons
