"""Why this offer: each column's share of a customer's predicted effect of each offer, for every learner.

:func:`offer_terms` gives, for each customer and offer, one term per user column and a mean such that the terms
plus the mean are the predicted effect (:meth:`~needmap.uplift.model.UpliftPredictor.effects`). Every learner's
effect of offer k is a weighted sum of its models' predictions (:mod:`needmap.uplift.meta`, :func:`_parts`):
T's ``mu_k(x) - mu_0(x)``, S's ``mu(x, k) - mu(x, control)``, X's ``g tau_k,control(x) + (1 - g) tau_k,treated(x)``,
DR's ``tau_k(x)``, the ensemble's mean of S's, X's and DR's. So the terms of each model's prediction, weighted
the same way, are the terms of the effect. How a model's prediction is split:

- **LightGBM, exact.** TreeSHAP (path-dependent, Lundberg et al. 2020) splits a model's raw score into
  ``f(x) = m + sum_j a_j(x)``: the model's mean ``m`` and one Shapley value per input. For a regression (the
  effect models of X and DR, any learner's amount outcome) that is the prediction. For a 0/1 outcome (the
  outcome models of S and T) the prediction is ``sigma(f)``, and the rescale rule keeps every term's share of
  the logit's change from the mean: ``sigma(f) = sigma(m) + sum_j a_j (sigma(f) - sigma(m)) / (f - m)``
  (``sigma'(m)`` where ``f = m``), exactly. The S learner's model reads the arm too (one 0/1 input per offer);
  its inputs' values are those of the path-dependent game in which the arm is always known, set to the arm
  asked for: the arm is no player (it gets no term, and no share of its interactions with the columns, which
  are what makes the effect differ between customers), and the mean is the model's prediction for that arm
  with no column known. LightGBM's own ``pred_contrib`` has no such input held fixed, so these come from the
  trees (:mod:`needmap.uplift.tree_shap`): a tree's game is a sum over its leaves of products over the leaf's
  path, and the Shapley value of a product has a closed form, an integral of a polynomial that Gauss-Legendre
  integrates exactly. The other models' terms are LightGBM's ``pred_contrib`` (the same game with nothing held fixed).
  The terms of the encoded inputs (a number's scaled value, its missing indicator, a category's id) are
  summed to the user's columns. The terms plus the mean equal the predicted effect up to rounding.
- **Networks: Integrated Gradients.** The TARNet and DragonNet effect (the offer's head minus the control's,
  as probabilities for a 0/1 outcome, in the outcome's units for an amount) and the effect that S, T, X, DR or
  the ensemble make of zoo networks (``base="mlp"``, ``"deepfm"``, ...: the same weighted sum, written as one
  torch function) are integrated by :func:`needmap.explain.attributions.attribute` (through the embedding
  tables' outputs) along the straight line from a reference row: the numbers' means and each category's most
  frequent value over ``background`` (default: the rows explained). The mean is the reference row's effect.
  The terms plus the mean equal the predicted effect within 1% of the effect's change from the reference
  (:data:`COMPLETENESS`), or within 1e-4 (0.01 points of conversion chance) where that change is under one
  point (0.01 where an amount's change is under one unit): each row's integration steps double from
  :data:`STEPS` until its terms do, up to :data:`MAX_STEPS` (a row that still misses keeps those terms). The
  kinks of ReLU networks need more steps than smooth ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from needmap.errors import ConfigError
from needmap.preprocessing.batch import FeatureBatch
from needmap.uplift.base_learner import LIGHTGBM
from needmap.uplift.campaign_rows import names_of
from needmap.uplift.networks import UpliftNetwork
from needmap.uplift.tree_shap import Forest, tree_terms

#: Integrated Gradients' promise (:func:`allowed`): ``|terms + mean - effect| <= COMPLETENESS * max(|effect -
#: mean|, floor)``, the floor :data:`FLOOR` for a 0/1 outcome, :data:`AMOUNT_FLOOR` for an amount.
COMPLETENESS = 0.01
#: A 0/1 outcome's effects are a few points of conversion chance: under a change of one point (0.01) from the
#: reference the promise is absolute, 1e-4 (0.01 points).
FLOOR = 0.01
#: An amount's effects are in the outcome's units: under a change of one unit the promise is absolute, 0.01.
AMOUNT_FLOOR = 1.0
#: Integration steps (Gauss-Legendre) of a row's first try, and the most a row gets: steps double while its
#: terms miss the promise. Smooth networks (TARNet's and DragonNet's SiLU) keep it at the first try; ReLU kinks
#: along the line (the zoo's MLP) need more, most of all where an effect is a small difference of two large
#: outputs (an S learner's amounts).
STEPS = 32
MAX_STEPS = 1024
#: Interpolated rows (rows x steps) per forward and backward pass.
CELLS_IG = 1 << 14


def _parts(fitted: Any, k: int) -> list[tuple[float, Any, int | None]]:
    """The effect of offer ``k`` of a meta-learner as ``sum c * fit.predict(x, arm)``: ``(c, fit, arm)``, with
    ``arm`` None for a model of the features alone, else the arm set in the S learner's arm inputs."""
    models, name = fitted.models, fitted.name
    if name == "s":
        return [(1.0, models["mu"], k), (-1.0, models["mu"], 0)]
    if name == "t":
        return [(1.0, models[f"mu{k}"], None), (-1.0, models["mu0"], None)]
    if name == "x":
        g = fitted.weights[k - 1]
        return [(g, models[f"tau{k}_control"], None), (1.0 - g, models[f"tau{k}_treated"], None)]
    if name == "dr":
        return [(1.0, models[f"tau{k}"], None)]
    if name == "ensemble":
        members = fitted.members()
        return [(c / len(members), fit, arm) for member in members for c, fit, arm in _parts(member, k)]
    raise ConfigError(f"the {name!r} learner has no per-column terms of its effects; "
                      "explain works for the s, t, x, dr, ensemble, tarnet and dragonnet learners.")  # fmt: skip


# -- LightGBM --------------------------------------------------------------------------------------------------
def _by_column(terms: np.ndarray, n_num: int, n_cat: int, prep: Any, columns: list[str],
               cards: list[int]) -> np.ndarray:  # fmt: skip
    """The design's terms ``[n, design]`` (``n_num`` numbers, ``n_cat`` category ids, then the lists' bags of
    ids) summed to ``columns``: ``[n, columns]``."""
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


def _tree_offer_terms(predictor: Any, x: FeatureBatch, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Terms ``[n, offers, columns]`` and mean ``[n, offers]`` of a meta-learner over LightGBM (see the module)."""
    from needmap.uplift.meta import with_arm

    prep, fitted = predictor.preprocessor, predictor.fitted
    cards = [int(s["cardinality"]) for s in getattr(prep, "list_specs_", [])]
    n_num, n_cat = x.numeric.shape[1], x.categorical.shape[1]
    done: dict[tuple[int, int | None], tuple[np.ndarray, np.ndarray]] = {}
    forests: dict[int, Forest] = {}

    def model_terms(fit: Any, arm: int | None) -> tuple[np.ndarray, np.ndarray]:
        key = (id(fit), arm)
        if key not in done:
            rows = x if arm is None else with_arm(x, arm, fitted.n_arms)
            fixed = set() if arm is None else set(range(n_num, rows.numeric.shape[1]))
            raw, mean = tree_terms(fit, rows, fixed, forests)
            if fit.task == "binary":  # the rescale rule: logit terms to probability terms, exactly
                p, p_mean = fit.predict(rows), 1.0 / (1.0 + np.exp(-mean))
                total = raw.sum(axis=1)
                small = np.abs(total) < 1e-6
                middle = mean + total / 2
                slope = np.exp(-middle) / (1.0 + np.exp(-middle)) ** 2
                rate = np.where(small, slope, (p - p_mean) / np.where(small, 1.0, total))
                raw, mean = raw * rate[:, None], p_mean
            done[key] = (_by_column(raw, rows.numeric.shape[1], n_cat, prep, columns, cards), mean)
        return done[key]

    offers = fitted.n_arms - 1
    terms = np.zeros((len(x), offers, len(columns)))
    mean = np.zeros((len(x), offers))
    for k in range(1, offers + 1):
        for c, fit, arm in _parts(fitted, k):
            t, m = model_terms(fit, arm)
            terms[:, k - 1] += c * t
            mean[:, k - 1] += c * m
    return terms, mean


# -- networks --------------------------------------------------------------------------------------------------
class _Heads(nn.Module):
    """A TARNet's or DragonNet's effect of offer ``k``, ``(numeric, categorical, lists) -> [B, 1]``: the offer's
    head minus the control's, as probabilities (0/1 outcome) or in the outcome's units (an amount)."""

    def __init__(self, net: UpliftNetwork, k: int, binary: bool) -> None:
        super().__init__()
        self.net, self.k, self.binary, self.std = net, k, binary, float(net.target_scaling[1])

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Any = ()) -> torch.Tensor:
        outcome, _ = self.net(numeric, categorical)
        if self.binary:
            return torch.sigmoid(outcome[:, self.k : self.k + 1]) - torch.sigmoid(outcome[:, :1])
        return (outcome[:, self.k : self.k + 1] - outcome[:, :1]) * self.std


class _Sum(nn.Module):
    """A meta-learner's effect of one offer over zoo networks, ``(numeric, categorical, lists) -> [B, 1]``:
    ``sum c * prediction`` over :func:`_parts`, each prediction as :meth:`BaseFit.predict` makes it (P(outcome)
    or the value in the target's units)."""

    def __init__(self, parts: list[tuple[float, Any, int | None]], n_arms: int) -> None:
        super().__init__()
        self.nets = nn.ModuleList(fit.fitted for _, fit, _ in parts)  # S's one network twice: its tables once
        self.parts = [(c, fit.task, arm) for c, fit, arm in parts]
        self.n_arms = n_arms

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Any = ()) -> torch.Tensor:
        total = torch.zeros((len(numeric), 1), dtype=numeric.dtype)
        for (c, task, arm), net in zip(self.parts, self.nets, strict=True):
            inputs = numeric
            if arm is not None:  # the S learner's arm inputs, one 0/1 per offer: constant along the line
                onehot = torch.zeros((len(numeric), self.n_arms - 1), dtype=numeric.dtype)
                if arm > 0:
                    onehot[:, arm - 1] = 1.0
                inputs = torch.cat([numeric, onehot], dim=1)
            out = net(inputs, categorical, tuple(lists))[:, :1]
            if task == "binary":
                out = torch.sigmoid(out)
            else:
                scaling = getattr(net, "target_scaling", None)
                mean, std = (0.0, 1.0) if scaling is None else (float(scaling[0]), float(scaling[1]))
                out = out * std + mean
            total = total + c * out
        return total


def _effect_modules(predictor: Any) -> list[nn.Module]:
    """One module per offer giving its predicted effect as the predictor reports it, for
    :func:`needmap.explain.attributions.attribute`."""
    fitted, binary = predictor.fitted, predictor.task == "binary"
    if isinstance(fitted, UpliftNetwork):
        return [_Heads(fitted, k, binary) for k in range(1, fitted.hyper["n_arms"])]
    return [_Sum(_parts(fitted, k), fitted.n_arms) for k in range(1, fitted.n_arms)]


def _integrated_offer_terms(
    predictor: Any, x: FeatureBatch, columns: list[str], reference: FeatureBatch
) -> tuple[np.ndarray, np.ndarray]:
    """Terms ``[n, offers, columns]`` and mean ``[n, offers]`` by Integrated Gradients (see the module): each
    row's integration steps double from :data:`STEPS` while its terms miss :func:`allowed`, up to
    :data:`MAX_STEPS`."""
    from needmap.explain.attributions import attribute, column_values
    from needmap.runtime.device import torch_threads

    modules = _effect_modules(predictor)
    terms = np.zeros((len(x), len(modules), len(columns)))
    mean = np.zeros((len(x), len(modules)))
    with torch_threads(predictor.params.get("threads")):
        for k, module in enumerate(modules):
            todo, steps = np.arange(len(x)), STEPS
            while len(todo):
                rows = x.take(todo)
                parts, output, reference_output, _ = attribute(
                    module, rows, reference, task="regression", steps=steps, chunk=max(1, CELLS_IG // steps)
                )
                found = column_values(parts, predictor.preprocessor, columns)[0]
                terms[todo, k], mean[todo, k] = found, reference_output
                error = np.abs(found.sum(axis=1) + reference_output - output)
                steps *= 2
                if steps > MAX_STEPS:
                    break
                todo = todo[error > allowed(output - reference_output, predictor.task)]
    return terms, mean


def allowed(change: np.ndarray, task: str) -> np.ndarray:
    """The completeness error that Integrated Gradients' terms may have on effects that changed by ``change``
    from the reference row's: :data:`COMPLETENESS` of the change, or of :data:`FLOOR` (``task`` "binary": a
    point of conversion chance) or :data:`AMOUNT_FLOOR` (an amount) where the change is smaller."""
    return COMPLETENESS * np.maximum(np.abs(change), FLOOR if task == "binary" else AMOUNT_FLOOR)


def offer_terms(predictor: Any, table: pa.Table, *, background: Any = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(columns, terms [n, offers, columns], mean [n, offers])``: each column's share of each offer's
    predicted effect on ``table``'s rows, and the mean they start from; terms plus mean give the predicted
    effect (see the module). ``background``: the rows whose means and most frequent categories make the networks'
    reference row, or a saved :class:`~needmap.explain.population.Population` whose reference row it is
    (default: ``table``); the trees' terms do not use it."""
    prep, fitted = predictor.preprocessor, predictor.fitted
    x = prep.transform(table)
    columns = list(predictor.schema.features)
    trees = not isinstance(fitted, UpliftNetwork) and all(f.kind == LIGHTGBM for f in fitted.models.values())
    if trees:
        terms, mean = _tree_offer_terms(predictor, x, columns)
    else:
        from needmap.explain.attributions import reference_batch

        if hasattr(background, "reference"):  # a saved population
            reference = background.reference
        else:
            reference = reference_batch(x if background is None else prep.transform(background))
        terms, mean = _integrated_offer_terms(predictor, x, columns, reference)
    return columns, terms, mean


def offer_reasons(predictor: Any, data: Any, *, top: int = 3, population: Any = None) -> pa.Table:
    """Per customer, the columns that raise and lower the predicted effect of their best offer (the offer of
    largest predicted effect), as sentences: :func:`needmap.explain.reasons.reason_table` on the offer's terms,
    with ``offer`` beside the ids. ``population`` (rows, or a saved
    :class:`~needmap.explain.population.Population`; default: the rows explained) is what values are compared with
    and, for networks, what makes the reference row."""
    from needmap.data.read import read
    from needmap.explain.attributions import Attributions
    from needmap.explain.reasons import reason_table

    table = data if isinstance(data, pa.Table) else read(data)
    columns, terms, mean = offer_terms(predictor, table, background=population)
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
