"""How training judges a fitted model on its held-out test rows: per target, the network's metrics, the two
baselines trained on the rows that trained the network, which of them is better, the verdict and the
evaluation document (curves, the paired comparisons and, for a binary target, the permutation
importance). Each model scores the test rows once: the chosen scorer is made from the network's and the
baselines' outputs (:func:`chosen_output`).

Every target is judged the same way, on the test rows that have it. The results of a model of one target are
that target's (``metrics["test"]`` is its metrics); a model of several targets gives each by target
(``{target: ...}``, :func:`needmap.predictor.by_target`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.data.provenance import source_of, take_rows
from needmap.data.split import sample_positions
from needmap.events.table_info import BTYD_COLUMNS, info_of, info_of_file
from needmap.metrics.compare import verdict_sentence
from needmap.metrics.score_order import shared_orders
from needmap.predictor import Predictor, by_target, head_columns
from needmap.preprocessing.batch import FeatureBatch
from needmap.preprocessing.target import target_names, target_tasks
from needmap.training.target_heads import labelled_metrics
from needmap.workflows.baseline import Baseline, fit_baselines
from needmap.workflows.btyd import BTYD_FILE, BTYD_NAME, BtydBaseline, btyd_scores, fit_btyd, not_fitted
from needmap.workflows.cv import PRIMARY
from needmap.workflows.evaluation import evaluation_document
from needmap.workflows.evidence import held_out_evidence
from needmap.workflows.importance import measure_importance
from needmap.workflows.selection import NETWORK, Choice, choose, combine
from needmap.workflows.verdict_text import decision_sentence


def verdict(task: str, deep_name: str, deep: dict[str, Any], base_name: str, base: dict[str, Any]) -> str:
    """One plain sentence saying which model did better on the test rows, and by how much."""
    key, higher_better = PRIMARY[task]
    a, b = deep.get(key), base.get(key)
    if a is None or b is None:
        return f"No comparison: the test {key} is undefined."
    diff = (a - b) if higher_better else (b - a)
    if abs(diff) < 1e-4:
        return f"The {deep_name} and the {base_name} are level on test {key} ({a:.4f})."
    if diff > 0:
        return f"The {deep_name} is better than the {base_name} by {abs(a - b):.4f} test {key} ({a:.4f} vs {b:.4f})."
    return (
        f"The {base_name} is better than the {deep_name} by {abs(a - b):.4f} test {key} ({b:.4f} vs {a:.4f}): "
        f"on this data the simpler model is the better choice."
    )


def best_baseline(task: str, baselines: dict[str, dict[str, Any]]) -> str:
    """The name of the baseline with the best test primary metric (highest AUC, lowest log loss or RMSE);
    a baseline whose metric is undefined comes last."""
    key, higher_better = PRIMARY[task]

    def rank(name: str) -> float:
        value = baselines[name].get(key)
        if value is None:
            return float("inf")
        return -value if higher_better else value

    return min(baselines, key=rank)


def train_baselines(
    fitted: Predictor, train_table: pa.Table, seed: int, max_rows: int | None = None
) -> list[list[Baseline]]:
    """The baselines of a fitted model, one list ``[linear model, LightGBM]`` per target, each trained on the
    rows that trained its network and have that target (at most ``max_rows`` of them: a random sample drawn with
    ``seed``, :func:`needmap.data.split.sample_positions`); LightGBM stops early on the network's validation rows
    that have it. A model of several targets names each baseline's target; the baselines of a model of one
    target are saved without one (they belong to its only target)."""
    assert fitted.fit_rows_ is not None
    prep = fitted.preprocessor_
    y_all = np.asarray(prep.encode_target(train_table)).reshape(train_table.num_rows, -1)
    train, valid = fitted.fit_rows_["train"], fitted.fit_rows_["validation"]
    x_train = fitted.fit_part(train_table, "train")
    sample = sample_positions(len(train), max_rows, seed)
    if sample is not None:
        train, x_train = np.asarray(train)[sample], x_train.take(sample)
    names = target_names(fitted.schema_)
    if any(h.task == "ltv" for h in fitted.schema_.heads):
        fitted.extras_[BTYD_FILE] = btyd_document(take_rows(train_table, pa.array(train)), train_table)
    return fit_baselines(
        x_train,
        y_all[train],
        target_tasks(fitted.schema_),
        list(prep.cardinalities_),
        seed=seed,
        list_cardinalities=[int(spec["cardinality"]) for spec in getattr(prep, "list_specs_", [])],
        targets=names if len(names) > 1 else None,
        **({"x_valid": fitted.fit_part(train_table, "validation"), "y_valid": y_all[valid]} if len(valid) else {}),
    )


def btyd_document(rows: pa.Table, table: pa.Table) -> dict[str, Any]:
    """The ``btyd.json`` of a lifetime-value target: BG/NBD + Gamma-Gamma fitted on the BTYD columns of the
    training ``rows`` over the horizon of ``table``'s feature description (:func:`needmap.workflows.btyd.fit_btyd`),
    or why it was not fitted (no feature description, no BTYD columns, too few usable rows)."""
    info = info_of_file(source_of(table), table) if source_of(table) else info_of(table)
    if info is None:
        return not_fitted("the table carries no feature description (needmap features), so no horizon to predict over")
    absent = [c for c in BTYD_COLUMNS if c not in rows.column_names]
    if absent:
        return not_fitted(f"the table has no BTYD column {', '.join(absent)}")
    fitted = fit_btyd(rows, float(info.spec.horizon_days))
    return fitted.to_dict() if isinstance(fitted, BtydBaseline) else fitted


def choose_scorers(
    fitted: Predictor, train_table: pa.Table, baselines: list[list[Baseline]] | None, select: str, seed: int
) -> list[Choice]:
    """One :class:`~needmap.workflows.selection.Choice` per target, on the network's validation rows (the rows
    of ``train_table`` at ``fitted.fit_rows_["validation"]``): each candidate scored there on the rows that
    have the target (:func:`needmap.workflows.selection.choose`). The test rows play no part."""
    schema = fitted.schema_
    valid = np.asarray((fitted.fit_rows_ or {}).get("validation", []), dtype=np.int64)
    network_name = f"{fitted.model} network"
    if len(valid) == 0:
        return [
            choose(select, h.name, str(h.task), None, None, {b.name: np.empty(0) for b in baselines[t]} if baselines
                   else {}, network_name=network_name, seed=seed)
            for t, h in enumerate(schema.heads)
        ]  # fmt: skip
    rows = take_rows(train_table, pa.array(valid))
    x_valid = fitted.fit_part(train_table, "validation")
    y_valid = np.asarray(fitted.preprocessor_.encode_target(rows)).reshape(len(valid), -1)
    kept = fitted.fit_validation_scores()  # the fit scored these rows already
    network = head_columns(schema, fitted.network_score(x_valid) if kept is None else kept)
    choices = []
    for t, head in enumerate(schema.heads):
        keep = ~np.isnan(y_valid[:, t].astype(np.float64))
        mine = baselines[t] if baselines is not None else []
        scores = {b.name: _like(np.asarray(b.predict(x_valid)), network[t])[keep] for b in mine}
        choices.append(
            choose(select, head.name, str(head.task), y_valid[keep, t], network[t][keep], scores,
                   network_name=network_name, seed=seed)
        )  # fmt: skip
    return choices


def _like(values: np.ndarray, network: np.ndarray) -> np.ndarray:
    """A baseline's outputs in the shape of the network's when they hold as many numbers (class probabilities),
    else as they are (a lifetime-value baseline's expected spend ``[n]`` beside the network's ``[n, 3]``)."""
    return values.reshape(network.shape) if values.size == network.size else values


def choose_on_cv(cv_result: dict[str, Any], schema: Any, select: str, seed: int) -> list[Choice]:
    """The choice of a model of one target from cross-validation's out-of-fold scores of the training part
    (:func:`needmap.workflows.cv.run_cv`): every training row scored by a network and baselines that did not
    train on it, so the choice rests on all of them rather than on the validation rows alone."""
    head = schema.heads[0]
    out_of_fold = cv_result["out_of_fold"]
    scores = dict(out_of_fold["scores"])
    network = scores.pop(cv_result["primary"])
    on = f"out-of-fold ({cv_result['k']}-fold cross-validation)"
    return [
        choose(select, head.name, str(head.task), out_of_fold["y"], network, scores,
               network_name=cv_result["primary"], seed=seed, on=on)
    ]  # fmt: skip


@dataclass(frozen=True)
class _Scored:
    """A baseline's outputs on the test rows, computed once, in the baseline's place where the chosen scorer is
    made of them (:func:`needmap.workflows.selection.combine` reads its ``name`` and ``predict``)."""

    name: str
    values: np.ndarray

    def predict(self, x: Any) -> np.ndarray:
        return self.values


def chosen_output(
    fitted: Predictor,
    t: int,
    choice: Choice,
    network: np.ndarray,
    baselines: Sequence[Baseline],
    scores: Mapping[str, np.ndarray],
    x: FeatureBatch,
) -> np.ndarray:
    """Target ``t``'s outputs on the rows ``x`` from its chosen scorer, as ``fitted.score(x)`` gives them, made
    from the network's (``network``) and the baselines' outputs (``scores``, by name) already computed there
    when the model's baselines for the target are these ``baselines`` (as training passes them): the test rows
    are scored once by each model. Other baselines: scored again by ``fitted.score``."""
    if not choice.needs_baselines:
        return network
    saved = fitted.baselines_of(choice.target)
    if saved and all(any(s is b for b in baselines) for s in saved):
        return combine(choice, network, [_Scored(s.name, scores[s.name]) for s in saved], x)
    return head_columns(fitted.schema_, fitted.score(x))[t]


@dataclass
class TestJudgement:
    """What the test rows say of a fitted model: the entries of its ``metrics`` and its ``evaluation.json``."""

    metrics: dict[str, Any]
    evaluation: dict[str, Any]


@shared_orders()  # each model's test metrics and score order computed once: the verdict and the document share them
def judge_on_test(
    fitted: Predictor,
    test_table: pa.Table,
    x_test: FeatureBatch,
    baselines: list[list[Baseline]] | None,
    *,
    description: str,
    seed: int,
    contact_cost: float,
    conversion_value: float,
    groups: np.ndarray | None,
    group_column: str | None,
    n_boot: int,
    importance_rows: pa.Table | None = None,
) -> TestJudgement:
    """Judge ``fitted`` on its test rows (``test_table``, encoded as ``x_test``), target by target.

    ``baselines``: per target, the baselines to compare with (:func:`train_baselines`); None without baselines.
    The metrics entries: ``test`` (the network's metrics, with ``rows_without_target``) and, with baselines,
    ``baselines`` (``{name: metrics}``), ``baseline_rounds`` (LightGBM's rounds), ``baseline`` (the better
    one's name), ``baseline_test`` (its metrics) and ``verdict`` (a sentence: the paired-interval verdict of a
    binary target, else :func:`verdict` against the better baseline); ``comparisons`` (the paired
    comparisons, binary targets: :func:`needmap.metrics.compare.bootstrap_difference`) and ``group_auc`` (with
    ``groups``) when there are any; ``evidence``, what the test rows can tell
    (:func:`needmap.workflows.evidence.held_out_evidence`: few rows, no signal). Each is the one target's for a
    model of one target, ``{target: ...}`` for several (the verdict: one sentence per target). The evaluation
    documents hold the permutation importance and ``importance_rows``, the rows it was measured on: a sample of
    ``test_table``, or of the ``importance_rows`` argument when given (test rows with every column, where
    ``test_table`` holds the targets and ids alone: a streamed file's).
    """
    schema = fitted.schema_
    deep_name = f"{fitted.model} network"
    y_test = np.asarray(fitted.preprocessor_.encode_target(test_table)).reshape(test_table.num_rows, -1)
    choices = fitted.selection_ or [Choice(h.name) for h in schema.heads]
    networks = head_columns(schema, fitted.network_score(x_test))  # scored once: the chosen scorer reuses them
    test: dict[str, Any] = {}
    network_test: dict[str, Any] = {}
    base_metrics: dict[str, dict[str, Any]] = {}
    rounds: dict[str, dict[str, int]] = {}
    best: dict[str, str] = {}
    verdicts: dict[str, str] = {}
    comparisons: dict[str, Any] = {}
    group_auc: dict[str, Any] = {}
    documents: dict[str, Any] = {}
    evidence: dict[str, Any] = {}
    for t, head in enumerate(schema.heads):
        name, task, choice = head.name, str(head.task), choices[t]
        column = y_test[:, t]
        keep = ~np.isnan(column.astype(np.float64))
        mine = baselines[t] if baselines is not None else []
        scores = {b.name: b.predict(x_test) for b in mine}
        output = chosen_output(fitted, t, choice, networks[t], mine, scores, x_test)  # the chosen scorer's
        if task == "ltv" and mine:  # the buy-till-you-die baseline reads the rows' BTYD columns, not the inputs
            scores.update(btyd_scores(fitted.extras_, test_table))
        test[name] = labelled_metrics(task, column, output)
        network_test[name] = test[name] if choice.scorer == NETWORK else labelled_metrics(task, column, networks[t])
        chosen = deep_name if choice.scorer == NETWORK else choice.scorer
        models = {chosen: output, deep_name: networks[t], **scores}  # the chosen scorer first, once
        evidence[name] = held_out_evidence(
            task, column[keep], {m: p[keep] for m, p in models.items()},
            classes=head.classes, train_mean=(fitted.target_scaling_[t] or {}).get("mean"), n_boot=n_boot, seed=seed,
        )  # fmt: skip
        if mine:
            per_base = {b: labelled_metrics(task, column, p) for b, p in scores.items()}
            for b, values in per_base.items():
                base_metrics.setdefault(b, {})[name] = values
            rounds[name] = {b.name: int(b.rounds) for b in mine if b.rounds is not None}
            best[name] = best_baseline(task, per_base)
            verdicts[name] = verdict(task, deep_name, test[name], best[name], per_base[best[name]])
        document = evaluation_document(
            column[keep],
            {m: p[keep] for m, p in models.items()},
            task=task,
            primary=chosen,
            data=description,
            contact_cost=contact_cost,
            conversion_value=conversion_value,
            groups=None if groups is None else groups[keep],
            group_column=group_column,
            n_boot=n_boot,
            seed=seed,
        )
        measurable = 0 < int(np.sum(column[keep])) < int(keep.sum()) if task == "binary" else int(keep.sum()) >= 2
        if measurable:  # the AUC drop of a binary target (both classes needed), the RMSE or log loss rise else
            measured = test_table if importance_rows is None else importance_rows
            importance = measure_importance(fitted, measured, seed=seed, target=name)
            document["importance"], document["importance_rows"] = importance.columns, importance.rows
        if task in ("binary", "ltv") and document.get("comparisons"):
            comparisons[name] = document["comparisons"]
            verdicts[name] = document["verdict"] if task == "ltv" else verdict_sentence(document["comparisons"])
        if fitted.selection_ is not None and mine:
            verdicts[name] = document["verdict"] = decision_sentence(choice, deep_name, document)
        if task == "ltv" and mine:
            verdicts[name] += btyd_sentence(fitted.extras_.get(BTYD_FILE))
        document["selection"] = choice.to_dict()
        if document.get("group_auc") is not None:
            group_auc[name] = document["group_auc"]
        documents[name] = document
    metrics: dict[str, Any] = {"test": by_target(schema, test)}
    if fitted.selection_ is not None:
        metrics["selection"] = by_target(schema, {c.target: c.to_dict() for c in choices})
        if any(c.scorer != NETWORK for c in choices):
            metrics["network_test"] = by_target(schema, network_test)
    if baselines is not None:
        metrics["baselines"] = {b: by_target(schema, m) for b, m in base_metrics.items()}
        metrics["baseline_rounds"] = by_target(schema, rounds)
        metrics["baseline"] = by_target(schema, best)
        metrics["baseline_test"] = by_target(schema, {n: base_metrics[best[n]][n] for n in best})
    if verdicts:
        metrics["verdict"] = joined_sentences(schema.heads, verdicts)
    if comparisons:
        metrics["comparisons"] = by_target(schema, comparisons)
    if group_auc:
        metrics["group_auc"] = by_target(schema, group_auc)
    metrics["evidence"] = by_target(schema, evidence)
    return TestJudgement(metrics, by_target(schema, documents))


def btyd_sentence(document: Any) -> str:
    """What the verdict of a lifetime-value target adds about its BTYD baseline: nothing when it was fitted (it is
    among the models compared), else " BG/NBD + Gamma-Gamma was not fitted: <why>." """
    if isinstance(document, dict) and document.get("fitted"):
        return ""
    reason = document.get("reason", "no BTYD columns") if isinstance(document, dict) else "no BTYD columns"
    return f" {BTYD_NAME} was not fitted: {reason}."


def joined_sentences(heads: list[Any], sentences: dict[str, str]) -> str:
    """One target's sentence as it is; several targets' each after its target's name ("income: ...")."""
    if len(heads) == 1:
        return sentences[heads[0].name]
    return " ".join(f"{name}: {text}" for name, text in sentences.items())
