"""``needmap train --task uplift``: every uplift learner (or the one asked for) on the same rows, judged on
held-out test rows, the best by validation kept.

The campaign's rows are split once: a test share (stratified by arm and outcome) that no learner sees, and the
rest, from which each learner holds out its validation rows with the same seed. Each learner's predicted
effects are judged per offer on the test rows (:mod:`needmap.uplift.evaluate`); so is a plain response model
(LightGBM predicting the outcome from the features, what a team without uplift would target with), whose Qini
coefficient shows what ranking by the chance to buy gives. The learner kept is the one with the largest mean
Qini coefficient over the offers on the validation rows, so that the test rows judge it without having chosen
it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.errors import ConfigError
from needmap.uplift.campaign_rows import campaign_arms, names_of, treatment_text
from needmap.uplift.evaluate import evaluate_effects
from needmap.uplift.model import (
    LEARNER_NAMES,
    UpliftModel,
    UpliftPredictor,
    _complete_rows,
    _source,
    outcome_values,
)

#: The learners tried when none is named: every one.
DEFAULT_LEARNERS = LEARNER_NAMES
RESPONSE = "response model"


@dataclass
class UpliftOutcome:
    """What :func:`train_uplift` produced: the chosen predictor and every candidate's metrics."""

    predictor: UpliftPredictor
    metrics: dict[str, Any] = field(default_factory=dict)


def _mean_qini(result: Mapping[str, Any]) -> float:
    values = [arm["qini_coefficient"] for arm in result["arms"].values()]
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("-inf")


def train_uplift(
    data: Any,
    *,
    treatment: str,
    control: str,
    outcome: str,
    learners: Sequence[str] | None = None,
    test_share: float = 0.2,
    k: float = 0.3,
    say: Callable[[str], None] | None = None,
    **model: Any,
) -> UpliftOutcome:
    """Fit each learner of ``learners`` (default: all) with the options ``model`` (those of
    :class:`~needmap.uplift.model.UpliftModel`), judge them and the response model on the test rows, and return
    the one chosen by validation with every candidate's metrics."""
    from needmap.data.read import read
    from needmap.data.split import split_indices

    chosen_learners = list(learners or DEFAULT_LEARNERS)
    unknown = [name for name in chosen_learners if name not in LEARNER_NAMES]
    if unknown:
        raise ConfigError(f"uplift learner(s) {unknown}; expected some of {', '.join(LEARNER_NAMES)}.")
    if not 0 < test_share < 1:
        raise ConfigError(f"test share {test_share}; expected a share between 0 and 1.")
    table = data if isinstance(data, pa.Table) else read(data)
    table, rows_report = _complete_rows(table, treatment, outcome, model.get("propensity"))
    file = _source(table)
    y, task = outcome_values(table, outcome, file)
    arms = campaign_arms(treatment_text(table.column(treatment)), y, control, column=treatment,
                         outcome_column=outcome, file=file, shares=model.get("shares"))  # fmt: skip
    seed = int(model.get("seed", 0))
    train_idx, test_idx = split_indices(
        table.num_rows, method="stratified", test_size=test_share, seed=seed, y=arms.index * 2 + (y > 0)
    )
    train, test = table.take(pa.array(train_idx)), table.take(pa.array(test_idx))
    test_arms = campaign_arms(treatment_text(test.column(treatment)), y[test_idx], control, column=treatment,
                              outcome_column=outcome, file=file, known=arms.names)  # fmt: skip
    results: dict[str, Any] = {}
    fitted: dict[str, UpliftPredictor] = {}
    scores: dict[str, np.ndarray] = {}
    for name in chosen_learners:
        if say:
            say(f"fitting the {name} learner")
        predictor = (
            UpliftModel(name, treatment=treatment, control=control, outcome=outcome, **model).fit(train).predictor_
        )
        assert predictor is not None
        fitted[name] = predictor
        scores[name] = predictor.effects(test)
        results[name] = {
            "validation": predictor.metrics_.get("validation"),
            "test": evaluate_effects(scores[name], test_arms, y[test_idx], task, k=k),
        }
    response = _response_scores(train, test, outcome, task, [treatment, *names_of(model.get("drop"))],
                                model.get("id"), seed)  # fmt: skip
    scores[RESPONSE] = np.repeat(response[:, None], len(arms.offers), axis=1)
    results[RESPONSE] = {"test": evaluate_effects(scores[RESPONSE], test_arms, y[test_idx], task, k=k)}
    ranked = sorted(
        fitted, key=lambda n: _mean_qini(results[n]["validation"]) if results[n]["validation"] else float("-inf"),
        reverse=True,
    )  # fmt: skip
    best = ranked[0]
    chosen = fitted[best]
    metrics = {
        "task": "uplift",
        "chosen": best,
        "why": "largest mean Qini coefficient over the offers on the validation rows"
        if len(fitted) > 1
        else "the only learner fitted",
        "rows": {**rows_report, "train": len(train_idx), "test": len(test_idx)},
        "arms": dict(zip(arms.names, arms.counts.tolist(), strict=True)),
        "outcome_kind": "conversion (0/1)" if task == "binary" else "amount",
        "k": k,
        "candidates": results,
    }
    metrics["comparisons"] = _comparisons(results, best, scores, y[test_idx], test_arms.index, seed)
    metrics["verdict"] = verdict_text(results, best, metrics["comparisons"])
    chosen.metrics_ = {**chosen.metrics_, **metrics}
    return UpliftOutcome(chosen, metrics)


def _response_scores(
    train: pa.Table, test: pa.Table, outcome: str, task: str, not_inputs: list[str], ids: Any, seed: int
) -> np.ndarray:
    """P(outcome) (or the expected amount) of a LightGBM response model fitted on the training rows, for the test
    rows: the ranking of a team that targets those most likely to buy."""
    from needmap.preprocessing.config import PreprocessConfig
    from needmap.preprocessing.preprocess import Preprocessor
    from needmap.preprocessing.roles_schema import schema_with_roles
    from needmap.uplift.base_learner import fit_base

    schema = schema_with_roles(train, outcome, "binary" if task == "binary" else "regression", drop=not_inputs, id=ids)
    prep = Preprocessor(schema, PreprocessConfig()).fit(train)
    y, _ = outcome_values(train, outcome, None)
    fit = fit_base("lightgbm", prep.transform(train), y, task, list(prep.cardinalities_), seed=seed, for_effects=False)
    return fit.predict(prep.transform(test))


def _comparisons(
    results: Mapping[str, Any], best: str, scores: Mapping[str, np.ndarray], y: np.ndarray, arm: np.ndarray, seed: int
) -> dict[str, Any]:
    """The kept learner against the response model and against the learner best on the test rows (when that is
    another): the difference of the mean Qini coefficient with its paired bootstrap interval."""
    from needmap.uplift.evaluate import paired_qini_interval

    others = {n: _mean_qini(r["test"]) for n, r in results.items() if n not in (best, RESPONSE)}
    rivals = [RESPONSE]
    if others and max(others.values()) > _mean_qini(results[best]["test"]):
        rivals.append(max(others, key=lambda n: others[n]))
    out = {}
    for rival in rivals:
        diff, low, high = paired_qini_interval(y, arm, scores[best], scores[rival], seed=seed)
        out[rival] = {"difference": diff, "low": low, "high": high}
    return out


def verdict_text(results: Mapping[str, Any], best: str, comparisons: Mapping[str, Any]) -> str:
    """One paragraph: the kept learner's test Qini coefficient per offer, how it compares (with a 95% paired
    bootstrap interval of the difference) with the learner best on the test rows and with the response model,
    and what that means for targeting."""
    mine = results[best]["test"]["arms"]
    offers = ", ".join(f"{arm} {m['qini_coefficient']:.4f}" for arm, m in mine.items())
    parts = [f"{best} is kept (largest validation Qini). Its Qini coefficient on the test rows: {offers} (0 = random)."]
    for rival, c in comparisons.items():
        if rival == RESPONSE:
            continue
        interval = f"{c['difference']:+.4f}, 95% interval {c['low']:+.4f} to {c['high']:+.4f}"
        if c["high"] < 0:
            parts.append(f"On the test rows {rival} ranks better ({interval}): use {rival} (--model {rival}).")
        else:
            parts.append(f"On the test rows {rival} scores higher, but the two cannot be told apart ({interval}).")
    if len(comparisons) == 1 and len(results) > 2:
        parts.append(f"It is the best of the {len(results) - 1} learners on the test rows too.")
    c = comparisons[RESPONSE]
    interval = f"{c['difference']:+.4f}, 95% interval {c['low']:+.4f} to {c['high']:+.4f}"
    if c["low"] > 0:
        parts.append(f"It ranks better than a response model ({interval}): targeting by the chance to buy would "
                     "spend contacts on customers who buy anyway.")  # fmt: skip
    elif c["high"] < 0:
        parts.append(f"A response model ranks better ({interval}): the effects are too weak to learn from these rows; "
                     "do not target by these uplift scores.")  # fmt: skip
    else:
        parts.append(f"It cannot be told apart from a response model ({interval}): more rows, or a stronger "
                     "campaign, are needed before targeting by uplift pays.")  # fmt: skip
    if _mean_qini(results[best]["test"]) <= 0:
        parts.append("It ranks no better than random on the test rows: do not target by these scores.")
    return " ".join(parts)
