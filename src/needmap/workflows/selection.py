"""Which scorer a trained model answers with, target by target: its network, LightGBM, the linear model, or a
blend of the network with LightGBM; chosen on the network's validation rows, never on the test rows.

Deep learning is not always the better model. ``needmap train`` fits the network and both baselines on the
same training rows, scores all of them on the validation rows the network stopped early on, and keeps one
:class:`Choice` per target. ``predict``, ``evaluate``, the report and the one-row path then use the chosen
scorer (:meth:`needmap.predictor.Predictor.score`); the other models stay in the model directory for
comparison (baselines.json). The choice is saved as ``selection.json``.

How (``select``):

* ``"network"``, ``"lightgbm"``, ``"linear"`` (logistic or ridge regression): that model, as asked.
* ``"blend"``: ``w * network + (1 - w) * LightGBM`` (probabilities, class probabilities or predictions),
  ``w`` on a grid of :data:`BLEND_GRID`, the one with the best primary metric on the validation rows.
* ``"auto"`` (the default): the candidate with the best primary metric on the validation rows (AUC for a
  binary target, log loss multiclass, RMSE regression); the blend's own figure there is out of fold (its
  weight fitted on one half of the validation rows, scored on the other, both ways), so that fitting a
  weight is no advantage. When a binary target's validation rows hold fewer than :data:`FEW_EVIDENCE` of
  the rarer class, the figures cannot tell models apart: the choice falls back to the simplest candidate
  (linear, LightGBM, network, blend in that order) whose paired bootstrap interval against the best one
  holds zero.

Without baselines (``--no-baseline``) or without validation rows, ``auto`` keeps the network and says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from needmap.errors import ArtifactError, ConfigError
from needmap.metrics.compare import bootstrap_difference, weighted_auc
from needmap.metrics.ltv import normalized_gini
from needmap.workflows.baseline import LIGHTGBM, LOGISTIC, RIDGE, Baseline
from needmap.workflows.evidence import FEW_RARER
from needmap.workflows.run_options import SELECTIONS

NETWORK = "network"
BLEND = "blend"
#: The network's weights tried for a blend: 0, 0.05, ..., 1.
BLEND_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)
#: Fewer validation rows of a binary target's rarer class than this, and ``auto`` keeps the simplest
#: candidate that is not worse than the best within the paired bootstrap interval: the count below which an
#: AUC is known to no better than ±0.05 (:data:`needmap.workflows.evidence.FEW_RARER`, the rule the
#: warnings of few rows use), wider than the gaps between the candidates.
FEW_EVIDENCE = FEW_RARER
#: Resamples of that bootstrap. It stays a bootstrap whatever the number of rows: it decides only where the
#: rarer class is few, where a normal interval is least to be trusted.
EVIDENCE_BOOT = 500
#: Candidates from the simplest to the least simple.
SIMPLICITY = ("linear", LIGHTGBM, NETWORK, BLEND)
#: The primary metric of each task and whether higher is better (as cross-validation ranks them).
PRIMARY = {
    "binary": ("auc", True),
    "multiclass": ("logloss", False),
    "regression": ("rmse", False),
    "ltv": ("normalized_gini", True),
}
SELECTION_VERSION = 1
SELECTION_FILE = "selection.json"


@dataclass
class Choice:
    """One target's scorer and why.

    ``scorer``: "network", "LightGBM", "logistic regression" / "ridge regression" or "blend";
    ``weight``: the network's weight in a blend (LightGBM's is ``1 - weight``), else None;
    ``how``: "auto" or the ``select`` asked for; ``reason``: a sentence; ``metric`` and ``validation``: each
    candidate's primary metric on the validation rows (the blend's out of fold under ``auto``);
    ``rows``: the validation rows that have the target; ``target``: its name; ``on``: which scores the
    candidates were compared on ("validation", or "out-of-fold (5-fold cross-validation)" with ``--cv``).
    """

    target: str
    scorer: str = NETWORK
    weight: float | None = None
    how: str = "auto"
    reason: str = ""
    metric: str | None = None
    validation: dict[str, float | None] = field(default_factory=dict)
    rows: int = 0
    on: str = "validation"

    @property
    def needs_baselines(self) -> bool:
        return self.scorer != NETWORK

    def label(self, network_name: str = "network") -> str:
        """The scorer in words: "the mlp network", "LightGBM", "a blend of the mlp network (0.55) and LightGBM
        (0.45)"."""
        if self.scorer == NETWORK:
            return f"the {network_name}"
        if self.scorer == BLEND:
            w = float(self.weight if self.weight is not None else 1.0)  # as combine() scores it
            return f"a blend of the {network_name} ({w:.2f}) and LightGBM ({1 - w:.2f})"
        return self.scorer

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: Any, *, file: str | None = None) -> Choice:
        """A choice saved by :meth:`to_dict`; ArtifactError naming selection.json when it is not one."""
        scorers = (NETWORK, BLEND, LIGHTGBM, LOGISTIC, RIDGE)
        if not isinstance(document, dict) or not isinstance(document.get("target"), str):
            raise ArtifactError(
                f"'selection.json' holds {str(document)[:80]!r} as a choice; expected an object with a target, "
                "a scorer and a weight, as needmap wrote it.",
                file=file,
            )
        scorer, weight = document.get("scorer"), document.get("weight")
        if scorer not in scorers:
            raise ArtifactError(
                f"'selection.json' names the scorer {scorer!r} for the target {document['target']!r}; expected "
                f"one of {list(scorers)}.",
                file=file,
            )
        if scorer == BLEND and not (isinstance(weight, int | float) and 0.0 <= float(weight) <= 1.0):
            raise ArtifactError(
                f"'selection.json' gives the blend of the target {document['target']!r} the weight {weight!r}; "
                "expected a number from 0 to 1.",
                file=file,
            )
        known = {k: document[k] for k in cls.__dataclass_fields__ if k in document}
        return cls(**known)


def selection_document(choices: Sequence[Choice]) -> dict[str, Any]:
    """The content of ``selection.json``: ``{"version": 1, "targets": [Choice.to_dict(), ...]}``."""
    return {"version": SELECTION_VERSION, "targets": [c.to_dict() for c in choices]}


def load_selection(document: Any, targets: Sequence[str], *, file: str | None = None) -> list[Choice]:
    """The choices of a ``selection.json`` document, one per target in ``targets``' order; ArtifactError
    when the document is not one needmap wrote for these targets."""
    if not isinstance(document, dict) or document.get("version") != SELECTION_VERSION:
        raise ArtifactError(
            f"'selection.json' is not a selection of version {SELECTION_VERSION} ({str(document)[:80]}); expected "
            "the file needmap wrote.",
            file=file,
        )
    entries = document.get("targets")
    choices = [Choice.from_dict(e, file=file) for e in entries] if isinstance(entries, list) else []
    if [c.target for c in choices] != list(targets):
        raise ArtifactError(
            f"'selection.json' chooses for the targets {[c.target for c in choices]}; expected one choice for each "
            f"of the model's targets {list(targets)}.",
            file=file,
        )
    return choices


def scorer_of(baselines: Sequence[Baseline], scorer: str) -> Baseline:
    """The baseline named ``scorer`` ("LightGBM"; "linear" or a linear model's name for the linear one)."""
    for base in baselines:
        if base.name == scorer or (scorer == "linear" and base.name in (LOGISTIC, RIDGE)):
            return base
    raise ConfigError(f"no baseline {scorer!r} was trained; expected one of {[b.name for b in baselines]}.")


def combine(choice: Choice, network: np.ndarray, baselines: Sequence[Baseline], x: Any) -> np.ndarray:
    """The chosen scorer's outputs on encoded rows ``x``, given the network's outputs there (one head's:
    ``[n]``, ``[n, K]`` for a multiclass target, ``[n, 3]`` for a lifetime-value one) and that target's
    baselines. A lifetime-value head's baseline predicts the spend alone (one value per row): the chosen
    scorer gives the expected spend, the network the chance to buy (:func:`with_spend`)."""
    if choice.scorer == NETWORK:
        return network
    lightgbm = np.asarray(scorer_of(baselines, LIGHTGBM if choice.scorer == BLEND else choice.scorer).predict(x))
    w = float(choice.weight if choice.weight is not None else 1.0)
    if network.ndim == 2 and lightgbm.size == network.shape[0] != network.size:  # a spend beside [n, 3]
        spend = lightgbm.reshape(-1)
        return with_spend(network, spend if choice.scorer != BLEND else w * network[:, 0] + (1.0 - w) * spend)
    if choice.scorer != BLEND:
        return lightgbm.reshape(network.shape)
    return w * network + (1.0 - w) * lightgbm.reshape(network.shape)


def with_spend(network: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """A lifetime-value head's outputs ``[n, 3]`` (expected spend, chance to buy, spend if bought) with the
    expected spend ``spend`` ``[n]`` of another scorer: the chance to buy stays the network's, and the spend if
    bought becomes the one that keeps expected = chance x spend if bought (0 where the chance is 0)."""
    out = np.array(network, dtype=np.float64, copy=True)
    spend = np.clip(np.asarray(spend, dtype=np.float64), 0.0, None)
    out[:, 0] = spend
    chance = out[:, 1]
    out[:, 2] = np.divide(spend, chance, out=np.zeros_like(spend), where=chance > 0)
    return out.astype(network.dtype, copy=False)


def primary_value(task: str, y: np.ndarray, p: np.ndarray) -> float | None:
    """The primary metric of ``task`` (:data:`PRIMARY`) of outputs ``p`` against encoded targets ``y``; None
    when it is undefined (one class only). The AUC is needmap's own (equal to scikit-learn's): the blend's
    grid asks for it dozens of times per target, and scikit-learn's input checks cost more than the sums."""
    from sklearn.metrics import log_loss

    y = np.asarray(y)
    if task == "binary":
        labels = y.astype(np.int64)
        if labels.min() == labels.max():
            return None
        return weighted_auc(labels, np.asarray(p, dtype=np.float64))
    if task == "multiclass":
        probs = np.clip(np.asarray(p, dtype=np.float64), 1e-15, 1.0)
        probs = probs / probs.sum(axis=1, keepdims=True)
        return float(log_loss(y.astype(np.int64), probs, labels=np.arange(probs.shape[1])))
    if task == "ltv":  # the normalized Gini of the expected spend (column 0 of the network's scores)
        values = np.asarray(p, dtype=np.float64)
        return normalized_gini(y.astype(np.float64), values[:, 0] if values.ndim == 2 else values)
    return float(np.sqrt(np.mean((np.asarray(p, dtype=np.float64) - y.astype(np.float64)) ** 2)))


def _better(task: str, a: float | None, b: float | None) -> bool:
    """Whether primary value ``a`` beats ``b`` (an undefined value beats nothing)."""
    if a is None:
        return False
    if b is None:
        return True
    return a > b if PRIMARY[task][1] else a < b


def best_weight(task: str, y: np.ndarray, network: np.ndarray, lightgbm: np.ndarray) -> tuple[float, float | None]:
    """The network's weight in the blend with the best primary value on these rows, and that value; the
    first of equals on the grid (the weight nearest LightGBM alone)."""
    best_w, best = 1.0, None
    for w in BLEND_GRID:
        value = primary_value(task, y, w * network + (1.0 - w) * lightgbm)
        if best is None or _better(task, value, best):
            best_w, best = float(w), value
    return best_w, best


def out_of_fold_blend(task: str, y: np.ndarray, network: np.ndarray, lightgbm: np.ndarray, seed: int) -> float | None:
    """The blend's primary value on the validation rows with each half scored at the weight fitted on the
    other half (so that fitting a weight earns no advantage over the models it blends)."""
    n = len(y)
    if n < 4:
        return None
    half = np.random.default_rng(seed).permutation(n) < n // 2
    blended = np.empty_like(network, dtype=np.float64)
    for part in (half, ~half):
        w, _ = best_weight(task, y[~part], network[~part], lightgbm[~part])
        blended[part] = w * network[part] + (1.0 - w) * lightgbm[part]
    return primary_value(task, y, blended)


def _candidate_name(candidate: str, baselines: Mapping[str, np.ndarray]) -> str | None:
    """The baseline's name of a candidate ("linear": the logistic or ridge regression trained), or None when
    no such baseline was trained."""
    if candidate == "linear":
        return next((name for name in baselines if name in (LOGISTIC, RIDGE)), None)
    return candidate


def _asked(select: str, baselines: Mapping[str, np.ndarray]) -> str:
    """The baseline a ``select`` of "lightgbm" or "linear" names; ConfigError when it was not trained."""
    name = LIGHTGBM if select == "lightgbm" else _candidate_name(select, baselines)
    if name is None or name not in baselines:
        raise ConfigError(
            f"select={select!r} scores with a baseline that was not trained (trained: {list(baselines)}); expected "
            "one of those or select 'network'."
        )
    return name


def choose(
    select: str,
    target: str,
    task: str,
    y: np.ndarray | None,
    network: np.ndarray | None,
    baselines: Mapping[str, np.ndarray],
    *,
    network_name: str = "network",
    seed: int = 0,
    on: str = "validation",
) -> Choice:
    """One target's :class:`Choice` by ``select`` (:data:`SELECTIONS`), from the validation rows that have
    it: their encoded target ``y`` ``[n]``, the network's outputs there and each baseline's by name.

    ``y`` and ``network`` None (no validation rows) or no baselines: ``auto`` keeps the network, and the
    choices that need what is missing raise ConfigError. ``on``: which rows' scores these are, in words
    ("validation"; with cross-validation, the out-of-fold scores of every training row). A lifetime-value
    target is chosen on the expected spend (column 0 of the network's ``[n, 3]``), the baselines' prediction;
    whatever scores the spend, the chance to buy stays the network's, the only model that gives one.
    """
    if task == "ltv" and network is not None and np.ndim(network) == 2:
        network = np.asarray(network)[:, 0]
    choice = _choose(select, target, task, y, network, baselines, network_name=network_name, seed=seed, on=on)
    if task == "ltv" and choice.scorer != NETWORK:
        choice.reason += "; the chance to buy is the network's, the only model that gives one"
    return choice


def _choose(
    select: str,
    target: str,
    task: str,
    y: np.ndarray | None,
    network: np.ndarray | None,
    baselines: Mapping[str, np.ndarray],
    *,
    network_name: str = "network",
    seed: int = 0,
    on: str = "validation",
) -> Choice:
    """:func:`choose` on outputs of one value (or one row of class probabilities) per row."""
    if select not in SELECTIONS:
        raise ConfigError(f"select={select!r} is not a way to choose the scorer; expected one of {list(SELECTIONS)}.")
    metric = PRIMARY[task][0]
    if select == NETWORK:
        return Choice(target, NETWORK, how=select, reason="as asked (select network)", metric=metric)
    if not baselines:
        if select == "auto":
            return Choice(target, NETWORK, reason="no baselines were trained to choose from", metric=metric)
        raise ConfigError(
            f"select={select!r} scores with a baseline, and none was trained; expected baselines on "
            "(leave out --no-baseline) or select 'network'."
        )
    if y is None or network is None or len(y) == 0:
        if select in ("auto", BLEND):
            if select == BLEND:
                raise ConfigError(
                    "select='blend' fits the blend's weight on the validation rows, and there are none; expected a "
                    "validation share above 0."
                )
            return Choice(target, NETWORK, reason="no validation rows to choose on", metric=metric)
        name = _asked(select, baselines)
        return Choice(target, name, how=select, reason=f"as asked (select {select})", metric=metric)
    values: dict[str, float | None] = {NETWORK: primary_value(task, y, network)}
    for name, scores in baselines.items():
        values[name] = primary_value(task, y, scores)
    weight = None
    if LIGHTGBM in baselines:
        weight, fitted_value = best_weight(task, y, network, baselines[LIGHTGBM])
        values[BLEND] = (
            out_of_fold_blend(task, y, network, baselines[LIGHTGBM], seed) if select == "auto" else fitted_value
        )
    if select != "auto":
        name = BLEND if select == BLEND else _asked(select, baselines)
        if name == BLEND and weight is None:
            raise ConfigError("select='blend' blends the network with LightGBM, and no LightGBM was trained.")
        reason = f"as asked (select {select})"
        return Choice(target, name, weight if name == BLEND else None, select, reason, metric, values, len(y), on)
    defined = {k: v for k, v in values.items() if v is not None}
    if not defined:
        return Choice(target, NETWORK, None, "auto", f"the {on} {metric} is undefined", metric, values, len(y), on)
    best = max(defined, key=lambda k: defined[k]) if PRIMARY[task][1] else min(defined, key=lambda k: defined[k])
    chosen, reason = best, f"the best {on} {metric} ({defined[best]:.4f}) of {len(defined)} candidates"
    rarer = int(min(np.sum(y == 1), np.sum(y == 0))) if task == "binary" else None
    if rarer is not None and rarer < FEW_EVIDENCE:
        outputs = {**{NETWORK: network}, **dict(baselines)}
        if weight is not None:
            outputs[BLEND] = weight * network + (1.0 - weight) * baselines[LIGHTGBM]
        for candidate in SIMPLICITY:
            name = _candidate_name(candidate, baselines) if candidate == "linear" else candidate
            if name not in defined or name == best:
                if name == best:
                    break
                continue
            interval = bootstrap_difference(
                y, outputs[best], outputs[name], metric="auc", n_boot=EVIDENCE_BOOT, seed=seed, method="bootstrap"
            )
            if interval["low"] <= 0.0:
                chosen = name
                reason = (
                    f"the {on} scores hold {rarer} of the rarer class, too few to tell the candidates apart: "
                    f"the simplest one not worse than the best ({best}, {metric} {defined[best]:.4f}) within the "
                    f"paired interval [{interval['low']:+.4f}, {interval['high']:+.4f}]"
                )
                break
    return Choice(target, chosen, weight if chosen == BLEND else None, "auto", reason, metric, values, len(y), on)
