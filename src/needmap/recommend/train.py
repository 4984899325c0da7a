"""Training a recommender the honest way: every candidate on the same split, full ranking, a verdict.

1. The interactions are split (leave-last-out by time, or one time cut: :mod:`needmap.recommend.split`).
2. Each candidate is fitted on the training events; networks stop early on the validation customers.
   The validation NDCG@k chooses the model (unless the user named one).
3. Each candidate is fitted again on training plus validation events (networks for the epochs that were
   best on validation) and ranks the whole catalogue for the test customers, leaving out what each already
   has. Every candidate is measured the same way, so the test table compares like with like.
4. The verdict compares the chosen model with every other on the test customers' NDCG@k by a paired
   bootstrap: better, worse, or no clear winner; a model that beats the chosen one is named and recommended.
5. The model kept is the chosen one fitted on training plus validation events, serving from every event
   (its histories include the test events, so recommendations start from what each customer did last).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from needmap.errors import ConfigError
from needmap.metrics.ranking import per_customer, ranking_metrics
from needmap.recommend.algorithm import histories_of
from needmap.recommend.interactions import Interactions
from needmap.recommend.recommender import MODEL_NAMES, Recommender, make_algorithm
from needmap.recommend.split import HeldOut, split_interactions
from needmap.recommend.top_k import exact_top_k

#: The closed-form baselines trained beside a model the user named, for the verdict.
BASELINES = ("ease", "itemknn", "popular")
#: Resamples of the paired bootstrap behind the verdict.
RESAMPLES = 1000


@dataclass
class RecommendOutcome:
    """The kept recommender, its metrics (also in ``recommender.metrics_``) and what was noted on the way."""

    recommender: Recommender
    metrics: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def evaluate_algorithm(algorithm: Any, history: Interactions, held: HeldOut, k: int, popularity: np.ndarray) -> tuple[
    dict[str, float], np.ndarray
]:  # fmt: skip
    """Full-ranking metrics of ``algorithm`` for the held-out customers from their ``history``, leaving out
    what each already has; and each customer's NDCG@k (for the verdict)."""
    histories = histories_of(history, held.customers)
    top, _ = exact_top_k(algorithm, histories, k, exclude=histories)
    return ranking_metrics(top, held.items, popularity), per_customer(top, held.items)["ndcg"]


def train_recommender(
    data: Interactions,
    *,
    model: str | None = None,
    candidates: Sequence[str] = MODEL_NAMES,
    params: dict[str, dict[str, Any]] | None = None,
    split: str = "leave-last-out",
    test_share: float = 0.1,
    validation_share: float = 0.1,
    k: int = 10,
    seed: int = 0,
    item_features: dict[str, np.ndarray] | None = None,
    report: Callable[[str], None] | None = None,
) -> RecommendOutcome:
    """Split, fit and measure the candidates, choose, give a verdict (see the module's docstring).

    ``model``: train this one only (with the baselines beside it for the verdict: popularity always, and
    EASE and ItemKNN where they are among ``candidates``); None: choose among ``candidates`` by validation
    NDCG@k. ``params``: options by model name."""
    say = report or (lambda text: None)
    params = params or {}
    unknown = sorted(set(candidates) - set(MODEL_NAMES))
    if unknown or not candidates:
        raise ConfigError(f"candidates {list(candidates)}: expected some of {', '.join(MODEL_NAMES)}.")
    if model is not None and model not in MODEL_NAMES:
        raise ConfigError(f"recommender model {model!r} is unknown; expected one of {', '.join(MODEL_NAMES)}.")
    if model:
        names = list(dict.fromkeys([model, *(c for c in candidates if c in BASELINES)]))
    else:
        names = list(dict.fromkeys(candidates))
    started = time.perf_counter()
    parts = split_interactions(data, split, test_share=test_share, validation_share=validation_share)
    say(parts.note)
    notes: list[str] = []
    popularity = parts.train.popularity()
    results: dict[str, dict[str, Any]] = {}
    test_ndcg: dict[str, np.ndarray] = {}
    for name in names:
        options = _with_seed(name, params.get(name, {}), seed, item_features)
        first = make_algorithm(name, options)
        fit_started = time.perf_counter()
        try:
            first.fit(parts.train, parts.validation)
        except ConfigError as err:
            if name == model:
                raise
            notes.append(f"{name} left out: {err}")
            say(notes[-1])
            continue
        validation, _ = evaluate_algorithm(first, parts.train, parts.validation, k, popularity)
        fit_s = time.perf_counter() - fit_started
        second_options = dict(options)
        summary = first.summary()
        if first.network and summary.get("best_epoch"):
            second_options["epochs"] = int(summary["best_epoch"])
        refit_started = time.perf_counter()
        second = make_algorithm(name, second_options).fit(parts.train_and_validation)
        test, ndcg = evaluate_algorithm(second, parts.train_and_validation, parts.test, k, popularity)
        results[name] = {
            "validation": validation,
            "test": test,
            "training": {**summary, "fit_s": round(fit_s, 3), "refit_s": round(time.perf_counter() - refit_started, 3)},
            "_fitted": second,
        }
        test_ndcg[name] = ndcg
        say(f"{name}: validation ndcg@{k} {validation[f'ndcg@{k}']:.4f}, test ndcg@{k} {test[f'ndcg@{k}']:.4f}")
    if not results:
        raise ConfigError("no candidate could be trained: " + "; ".join(notes))
    key = f"ndcg@{k}"
    chosen = model if model in results else max(results, key=lambda n: (results[n]["validation"][key], -names.index(n)))
    verdict = verdict_text(chosen, test_ndcg, key, seed=seed, chosen_by="named" if model else "validation")
    recommender = Recommender(chosen, **params.get(chosen, {}))
    recommender.algorithm_ = results[chosen]["_fitted"]
    recommender.data_ = data
    recommender.popularity_ = data.popularity()
    metrics = {
        "task": "recommend",
        "k": k,
        "split": parts.kind,
        "split_note": parts.note,
        "model": chosen,
        "chosen_by": f"validation {key}" if not model else "named by the user",
        "validation": results[chosen]["validation"],
        "test": results[chosen]["test"],
        "models": {n: {k2: v for k2, v in r.items() if k2 != "_fitted"} for n, r in results.items()},
        "verdict": verdict,
        "notes": notes,
        "data": {"customers": data.n_customers, "items": data.n_items, "events": len(data), "bad_rows": data.bad_rows},
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    recommender.metrics_ = metrics
    return RecommendOutcome(recommender, metrics, notes)


def _with_seed(name: str, options: dict[str, Any], seed: int, item_features: Any) -> dict[str, Any]:
    from needmap.recommend.recommender import algorithm_class

    algorithm = algorithm_class(name)
    out = dict(options)
    if "seed" in algorithm.param_names():
        out.setdefault("seed", seed)
    if item_features is not None and "item_features" in algorithm.param_names():
        out.setdefault("item_features", item_features)
    return out


def paired_interval(one: np.ndarray, other: np.ndarray, *, seed: int = 0, resamples: int = RESAMPLES) -> tuple[
    float, float, float
]:  # fmt: skip
    """The mean of ``one - other`` over customers and its 95% paired-bootstrap interval."""
    diff = np.asarray(one, dtype=np.float64) - np.asarray(other, dtype=np.float64)
    n = len(diff)
    if n == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = max(1, 20_000_000 // max(n, 1))
    for start in range(0, resamples, step):
        take = min(step, resamples - start)
        means[start : start + take] = diff[rng.integers(0, n, size=(take, n))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(diff.mean()), float(low), float(high)


def verdict_text(chosen: str, ndcg: dict[str, np.ndarray], key: str, *, seed: int = 0, chosen_by: str) -> str:
    """One paragraph: how the chosen model compares with each other on the test customers' ``key``."""
    better, worse, tied = [], [], []
    for name, values in ndcg.items():
        if name == chosen:
            continue
        mean, low, high = paired_interval(ndcg[chosen], values, seed=seed)
        shown = f"{name} ({mean:+.4f} [{low:+.4f}, {high:+.4f}])"
        if low > 0:
            better.append(shown)
        elif high < 0:
            worse.append((mean, name, shown))
        else:
            tied.append(shown)
    how = {"validation": "chosen on the validation customers", "named": "named by the user"}.get(chosen_by)
    where = "the test customers'" if chosen_by != "saved" else "these customers'"
    text = f"{chosen}{f' ({how})' if how else ''}, on {where} {key} (paired bootstrap, 95%)"
    said = []
    if better:
        said.append(f"is better than {_joined(better)}")
    if tied:
        said.append(f"has no clear winner against {_joined(tied)}")
    if worse:
        said.append(f"is worse than {_joined([w[2] for w in worse])}")
    if not said:
        return f"{chosen} is the only model trained; nothing to compare it with."
    text += ": " + "; ".join(said) + "."
    if worse:
        best = max(worse)[1]
        text += f" Use {best} (--model {best}): it ranks {where} items better."
    return text


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
