"""k-fold cross-validation: the deep model and the baselines on every row, each row scored once.

The rows are cut into k folds (stratified by class, or at random). For each fold, a fresh copy of the
model (the same options) trains on the other folds, holding its own validation share out of them for
early stopping, and scores the fold; the baselines train on the same rows (LightGBM stops early on the
same validation rows) and score it too. The result gives each model's primary metric per fold with its
mean and standard deviation, the metrics of the pooled out-of-fold scores, and, for a binary target, a
paired bootstrap comparison of the pooled scores with each baseline and its verdict.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from needmap.data.provenance import source_of, take_rows
from needmap.errors import ConfigError
from needmap.estimator import Model, clone
from needmap.metrics import task_metrics
from needmap.metrics.compare import bootstrap_difference, verdict_sentence
from needmap.predictor import Predictor
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.target import strata
from needmap.schema import Schema
from needmap.workflows.baseline import fit_single_baselines

#: the primary metric of each task and whether higher is better
PRIMARY = {
    "binary": ("auc", True),
    "multiclass": ("logloss", False),
    "regression": ("rmse", False),
    "ltv": ("normalized_gini", True),
}
FOLD_METHODS = ("stratified", "random")


def check_fold_count(k: Any) -> None:
    """ConfigError unless ``k`` is a whole number of folds of at least 2."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
        raise ConfigError(f"cv={k!r} folds; expected a whole number of folds >= 2, such as 5.")


def fold_ids(n: int, k: int, *, method: str = "stratified", seed: int = 0, y: np.ndarray | None = None) -> np.ndarray:
    """The fold of each of ``n`` rows: int64 ``[n]`` in ``[0, k)``, folds as equal as they can be.

    ``"random"``: a random permutation dealt to the folds in turn; ``"stratified"``: each class of ``y``
    (``[n]`` labels) shuffled and dealt in turn, continuing where the previous class stopped, so that
    every fold holds about ``1/k`` of each class. Seeded by ``seed``.
    """
    if method not in FOLD_METHODS:
        raise ConfigError(
            f"cross-validation folds {method!r} are not known; expected one of {', '.join(FOLD_METHODS)}."
        )
    check_fold_count(k)
    if k > n:
        raise ConfigError(f"cv={k} folds for {n} rows; expected at most one fold per row.")
    rng = np.random.default_rng(seed)
    folds = np.empty(n, dtype=np.int64)
    if method == "random":
        folds[rng.permutation(n)] = np.arange(n) % k
        return folds
    if y is None or len(y) != n:
        raise ConfigError(f"stratified folds need a label per row; expected y of length {n}.")
    _, inverse = np.unique(np.asarray(y), return_inverse=True)
    start = 0
    for label in range(int(inverse.max()) + 1):
        members = rng.permutation(np.flatnonzero(inverse == label))
        folds[members] = (start + np.arange(len(members))) % k
        start += len(members)
    return folds


def check_fold_method(split: str) -> None:
    """ConfigError unless the folds can be dealt by ``split`` (a time split cannot: each fold would train on
    later rows than it scores)."""
    if split not in FOLD_METHODS:
        raise ConfigError(
            f"cross-validation folds by {split!r} are not supported; expected one of {', '.join(FOLD_METHODS)}.",
            hint="A time split keeps the latest rows for the test: train without --cv.",
        )


def fold_plan(table: pa.Table, schema: Schema, k: int, *, split: str, seed: int) -> tuple[np.ndarray, str]:
    """The fold of each row of ``table`` (rows already cleaned: each has a target) and how they were dealt.

    ``split``: "stratified" (by class of ``schema``'s target; a regression target is dealt at random) or
    "random"; ConfigError for another (a time split) or a bad ``k``. Returns ``(fold_ids(...), method)``.
    """
    check_fold_method(split)
    method = "random" if (schema.task or "binary") in ("regression", "ltv") else split
    labels = strata(table, schema) if method == "stratified" else None
    return fold_ids(table.num_rows, k, method=method, seed=seed, y=labels), method


def fold_parts(table: pa.Table, folds: np.ndarray, f: int) -> tuple[pa.Table, pa.Table]:
    """The rows of ``table`` outside fold ``f`` (to train on) and inside it (to score), each in table order."""
    rest, held = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
    return take_rows(table, pa.array(rest)), take_rows(table, pa.array(held))


def fit_fold(
    model: Model, rest: pa.Table, held: pa.Table, *, schema: Schema, validation: float, keep_encoded_rows: bool = False
) -> tuple[Predictor, FeatureBatch, np.ndarray]:
    """A fresh copy of ``model`` trained on ``rest`` (holding ``validation`` of it out for early stopping),
    and the held rows encoded by its preprocessor: ``(predictor, x_held, y_held)``; ``model`` stays unfitted.
    ``keep_encoded_rows``: the fit's encoded rows stay on the predictor, for the fold's baselines."""
    trained = clone(model).fit(rest, validation=validation, schema=schema, keep_encoded_rows=keep_encoded_rows)
    fitted = trained.predictor_
    assert fitted is not None
    prep = fitted.preprocessor_
    return fitted, prep.transform(held), prep.encode_target(held)


def fold_metric(task: str, y: np.ndarray, scores: np.ndarray) -> float | None:
    """The primary metric (:data:`PRIMARY`) of ``scores`` on one fold's rows; None where it is undefined
    (an AUC of a fold with a single class)."""
    return task_metrics(task, y, scores).get(PRIMARY[task][0])


def run_cv(
    table: pa.Table,
    model: Model,
    k: int,
    *,
    split: str = "stratified",
    seed: int = 0,
    baseline: bool = True,
    validation: float = 0.1,
    schema: Schema | None = None,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Cross-validate ``model`` (left unfitted) and the baselines on ``table`` with ``k`` folds.

    Args:
        table: labelled rows (rows without a target are left out first, as in training).
        model: the model whose parameters each fold's copy takes (:func:`needmap.clone`).
        k: number of folds (>= 2).
        split: "stratified" (by class; a regression target is dealt at random) or "random".
        seed: seed of the folds and of the bootstrap.
        baseline: also train logistic regression (Ridge for regression) and LightGBM per fold.
        validation: share of each fold's training rows held out for early stopping (0: none).
        schema: the schema to use (None: inferred once from ``table``).
        n_boot: bootstrap resamples of the pooled comparison (binary targets; none on many rows, where the
            interval is the asymptotic one: :data:`needmap.metrics.compare.ASYMPTOTIC_CELLS`).

    Returns:
        ``{"k", "split", "seed", "rows", "metric", "higher_is_better", "primary", "models",
        "folds": [{"fold", "rows", "train_rows", "validation_rows", "scores": {model: value}}],
        "mean": {model: value}, "std": {model: value} (population standard deviation over the folds),
        "pooled": {model: metrics of the out-of-fold scores}, "comparisons": [bootstrap_difference(...)
        + {"baseline"}] (binary; else []), "verdict": str, "out_of_fold": {"fold": int64 [n],
        "y": [n], "scores": {model: [n] or [n, K]}}}``; :func:`cv_summary` leaves the arrays out.
        The deep model's name is ``"<architecture> network"`` (``primary``).
    """
    schema = schema or model.infer_schema(table)
    if len(schema.heads) > 1:
        raise ConfigError("cross-validation takes a model with one target; this one has several (multi-task).")
    task = schema.task or "binary"
    check_fold_method(split)
    table, _ = model.clean(table, schema)
    n = table.num_rows
    folds, method = fold_plan(table, schema, k, split=split, seed=seed)
    key, higher_better = PRIMARY[task]
    deep_name = f"{model.model} network"
    y_all: np.ndarray | None = None
    scores: dict[str, np.ndarray] = {}
    fold_rows: list[dict[str, Any]] = []
    for f in range(k):
        hold = np.flatnonzero(folds == f)
        rest, held = fold_parts(table, folds, f)
        fitted, x_held, y_held = fit_fold(
            model, rest, held, schema=schema, validation=validation, keep_encoded_rows=baseline
        )
        assert fitted.fit_rows_ is not None
        prep = fitted.preprocessor_
        outputs = {deep_name: fitted.score(x_held)}
        if baseline:
            y_rest = prep.encode_target(rest)
            train, valid = fitted.fit_rows_["train"], fitted.fit_rows_["validation"]
            lists = [int(spec["cardinality"]) for spec in getattr(prep, "list_specs_", [])]
            bases = fit_single_baselines(
                fitted.fit_part(rest, "train"),
                y_rest[train],
                task,
                list(prep.cardinalities_),
                seed=seed,
                list_cardinalities=lists,
                x_valid=fitted.fit_part(rest, "validation") if len(valid) else None,
                y_valid=y_rest[valid] if len(valid) else None,
            )
            fitted.encoded_fit_rows_ = None
            outputs.update({b.name: b.predict(x_held) for b in bases})
        if y_all is None:
            y_all = np.zeros(n, dtype=y_held.dtype)
        y_all[hold] = y_held
        for name, out in outputs.items():
            if name not in scores:
                scores[name] = np.zeros((n, *out.shape[1:]), dtype=np.float64)
            scores[name][hold] = out
        fold_rows.append(
            {
                "fold": f + 1,
                "rows": len(hold),
                "train_rows": len(fitted.fit_rows_["train"]),
                "validation_rows": len(fitted.fit_rows_["validation"]),
                "scores": {name: fold_metric(task, y_held, out) for name, out in outputs.items()},
            }
        )
    assert y_all is not None
    names = list(scores)
    mean, std = {}, {}
    for name in names:
        values = [row["scores"][name] for row in fold_rows]
        defined = [v for v in values if v is not None]
        mean[name] = float(np.mean(defined)) if len(defined) == k else None
        std[name] = float(np.std(defined)) if len(defined) == k else None
    pooled = {name: task_metrics(task, y_all, scores[name]) for name in names}
    comparisons: list[dict[str, Any]] = []
    if task == "binary":
        for name in names[1:]:
            compared = bootstrap_difference(y_all, scores[deep_name], scores[name], n_boot=n_boot, seed=seed)
            comparisons.append({"baseline": name, **compared})
        verdict = verdict_sentence(comparisons)
    else:
        verdict = _verdict(key, higher_better, deep_name, {name: pooled[name].get(key) for name in names})
    return {
        "k": int(k),
        "split": method,
        "seed": int(seed),
        "rows": int(n),
        "source": source_of(table),
        "metric": key,
        "higher_is_better": higher_better,
        "primary": deep_name,
        "models": names,
        "folds": fold_rows,
        "mean": mean,
        "std": std,
        "pooled": pooled,
        "comparisons": comparisons,
        "verdict": verdict,
        "out_of_fold": {"fold": folds, "y": y_all, "scores": scores},
    }


def _verdict(key: str, higher_better: bool, deep_name: str, pooled: dict[str, float | None]) -> str:
    """The pooled out-of-fold comparison of a multiclass or regression model, in one sentence."""
    bases = {name: v for name, v in pooled.items() if name != deep_name and v is not None}
    deep = pooled.get(deep_name)
    if not bases or deep is None:
        return "no comparison: no baseline was scored on these rows." if not bases else f"the {key} is undefined."
    best = (max if higher_better else min)(bases, key=lambda name: bases[name])
    gain = (deep - bases[best]) if higher_better else (bases[best] - deep)
    if gain > 0:
        return f"the deep model is better than {best} by {abs(gain):.4f} pooled out-of-fold {key}."
    return f"use {best}: it is better than the deep model by {abs(gain):.4f} pooled out-of-fold {key}."


def cv_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe part of :func:`run_cv`'s result: everything but the out-of-fold arrays."""
    return {name: value for name, value in result.items() if name != "out_of_fold"}
