"""Meta-learners: the effect of each offer against control, estimated with ordinary outcome models.

Arms are numbered 0 (control), 1..K (the offers). Every learner fits on preprocessed features ``x``, the arm
each row received and its outcome ``y``, and returns the effect of each offer for new rows,
``effect(x) -> [n, K]`` (points of conversion chance for a binary outcome, units for an amount):

- **S** (single model): one outcome model on the features plus the arm (one-hot); the effect of offer k is
  its prediction with arm k minus its prediction with control. Shrinks effects towards 0 when the arm is a
  weak feature among many.
- **T** (two models, one per arm): the effect is the offer's model minus control's.
- **X** (Kuenzel et al. 2019): T's models impute each row's effect (``y - mu_0(x)`` for treated rows,
  ``mu_k(x) - y`` for control rows); two effect models fitted on those are averaged, weighted by the
  propensity of the offer.
- **DR** (doubly robust, Kennedy 2020): the pseudo-outcome ``mu_k - mu_0 + [arm=k](y - mu_k)/e_k -
  [arm=0](y - mu_0)/e_0``, with outcome models cross-fitted on two halves so that no row's nuisance saw its
  own outcome, regressed on the features.
- **ensemble**: the mean of S's, X's and DR's effects.

Propensities are the arms' shares among the rows (a randomized test) unless a propensity per row (the chance
of the arm each row received) is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from needmap.errors import ArtifactError
from needmap.preprocessing.batch import FeatureBatch
from needmap.uplift.base_learner import BaseFit, fit_base

META_LEARNERS = ("s", "t", "x", "dr", "ensemble")
#: The members of the "ensemble" learner, whose effects it averages.
ENSEMBLE = ("s", "x", "dr")


@dataclass
class Rows:
    """Preprocessed rows of a campaign: features, arm (0 = control) and outcome, with the outcome's task,
    the categorical cardinalities and, optionally, each row's chance of the arm it received."""

    x: FeatureBatch
    arm: np.ndarray
    y: np.ndarray
    task: str
    cardinalities: list[int]
    propensity: np.ndarray | None = None

    def take(self, index: np.ndarray) -> Rows:
        p = None if self.propensity is None else self.propensity[index]
        return Rows(self.x.take(index), self.arm[index], self.y[index], self.task, self.cardinalities, p)

    def received_propensity(self, n_arms: int) -> np.ndarray:
        """Each row's chance of the arm it received: the given propensity, else its arm's share."""
        if self.propensity is not None:
            return self.propensity
        share = np.bincount(self.arm, minlength=n_arms) / len(self.arm)
        return share[self.arm]


def with_arm(x: FeatureBatch, arm: np.ndarray | int, n_arms: int) -> FeatureBatch:
    """``x`` with one 0/1 numeric column per offer (all 0 for control) appended: the S-learner's input."""
    n = len(x)
    onehot = np.zeros((n, n_arms - 1), dtype=np.float32)
    arms = np.full(n, arm) if np.isscalar(arm) else np.asarray(arm)
    treated = arms > 0
    onehot[np.flatnonzero(treated), arms[treated] - 1] = 1.0
    return FeatureBatch(np.hstack([x.numeric, onehot]), x.categorical, x.lists)


@dataclass
class MetaLearner:
    """A fitted meta-learner: its name, the number of arms, and its outcome / effect models by name."""

    name: ClassVar[str] = ""
    n_arms: int
    models: dict[str, BaseFit] = field(default_factory=dict)
    weights: list[float] = field(default_factory=list)

    def effect(self, x: FeatureBatch) -> np.ndarray:
        """The effect of each offer against control, float64 ``[n, n_arms - 1]``."""
        raise NotImplementedError

    def document(self, tensors: dict[str, Any]) -> dict[str, Any]:
        return {
            "learner": self.name,
            "n_arms": self.n_arms,
            "weights": list(self.weights),
            "models": {key: fit.document(key, tensors) for key, fit in self.models.items()},
        }


class SLearner(MetaLearner):
    name = "s"

    def fit(self, rows: Rows, valid: Rows | None, fit_kw: dict[str, Any]) -> SLearner:
        self.models["mu"] = fit_base(
            x=with_arm(rows.x, rows.arm, self.n_arms), y=rows.y, task=rows.task, cardinalities=rows.cardinalities,
            x_valid=None if valid is None else with_arm(valid.x, valid.arm, self.n_arms),
            y_valid=None if valid is None else valid.y, **fit_kw,
        )  # fmt: skip
        return self

    def effect(self, x: FeatureBatch) -> np.ndarray:
        mu = self.models["mu"]
        base = mu.predict(with_arm(x, 0, self.n_arms))
        return np.column_stack([mu.predict(with_arm(x, k, self.n_arms)) - base for k in range(1, self.n_arms)])


def _fit_per_arm(rows: Rows, valid: Rows | None, n_arms: int, fit_kw: dict[str, Any]) -> list[BaseFit]:
    fits = []
    for k in range(n_arms):
        mine = rows.take(np.flatnonzero(rows.arm == k))
        theirs = None if valid is None else valid.take(np.flatnonzero(valid.arm == k))
        fits.append(
            fit_base(
                x=mine.x,
                y=mine.y,
                task=rows.task,
                cardinalities=rows.cardinalities,
                x_valid=None if theirs is None else theirs.x,
                y_valid=None if theirs is None else theirs.y,
                **fit_kw,
            )
        )
    return fits


class TLearner(MetaLearner):
    name = "t"

    def fit(self, rows: Rows, valid: Rows | None, fit_kw: dict[str, Any]) -> TLearner:
        for k, fit in enumerate(_fit_per_arm(rows, valid, self.n_arms, fit_kw)):
            self.models[f"mu{k}"] = fit
        return self

    def effect(self, x: FeatureBatch) -> np.ndarray:
        base = self.models["mu0"].predict(x)
        return np.column_stack([self.models[f"mu{k}"].predict(x) - base for k in range(1, self.n_arms)])


class XLearner(MetaLearner):
    name = "x"

    def fit(self, rows: Rows, valid: Rows | None, fit_kw: dict[str, Any]) -> XLearner:
        mu = _fit_per_arm(rows, valid, self.n_arms, fit_kw)
        share = np.bincount(rows.arm, minlength=self.n_arms) / len(rows.arm)
        control = np.flatnonzero(rows.arm == 0)
        for k in range(1, self.n_arms):
            treated = np.flatnonzero(rows.arm == k)
            imputed_t = rows.y[treated] - mu[0].predict(rows.x.take(treated))
            imputed_c = mu[k].predict(rows.x.take(control)) - rows.y[control]
            v_t = v_c = None
            if valid is not None:
                vt, vc = np.flatnonzero(valid.arm == k), np.flatnonzero(valid.arm == 0)
                v_t = (valid.x.take(vt), valid.y[vt] - mu[0].predict(valid.x.take(vt)))
                v_c = (valid.x.take(vc), mu[k].predict(valid.x.take(vc)) - valid.y[vc])
            common = {"task": "regression", "cardinalities": rows.cardinalities, **fit_kw}
            self.models[f"tau{k}_treated"] = fit_base(
                x=rows.x.take(treated), y=imputed_t, x_valid=v_t and v_t[0], y_valid=v_t and v_t[1], **common
            )
            self.models[f"tau{k}_control"] = fit_base(
                x=rows.x.take(control), y=imputed_c, x_valid=v_c and v_c[0], y_valid=v_c and v_c[1], **common
            )
            # g = P(offer k | offer k or control): weights the control-side model, which extrapolates from
            # the larger group's outcomes (Kuenzel et al.'s choice of g = propensity).
            self.weights.append(float(share[k] / (share[k] + share[0])))
        return self

    def effect(self, x: FeatureBatch) -> np.ndarray:
        out = []
        for k in range(1, self.n_arms):
            g = self.weights[k - 1]
            out.append(
                g * self.models[f"tau{k}_control"].predict(x) + (1 - g) * self.models[f"tau{k}_treated"].predict(x)
            )
        return np.column_stack(out)


class DRLearner(MetaLearner):
    name = "dr"

    def fit(self, rows: Rows, valid: Rows | None, fit_kw: dict[str, Any]) -> DRLearner:
        rng = np.random.default_rng(fit_kw.get("seed", 0))
        half = rng.random(len(rows.arm)) < 0.5
        mu = np.zeros((len(rows.arm), self.n_arms))
        for fold in (half, ~half):  # cross-fitting: each half's nuisances come from the other half
            train, held = np.flatnonzero(~fold), np.flatnonzero(fold)
            for k, fit in enumerate(_fit_per_arm(rows.take(train), None, self.n_arms, fit_kw)):
                mu[held, k] = fit.predict(rows.x.take(held))
        e = rows.received_propensity(self.n_arms)
        valid_pseudo = None
        if valid is not None:
            v_mu = np.column_stack([f.predict(valid.x) for f in _fit_per_arm(rows, None, self.n_arms, fit_kw)])
            valid_pseudo = (valid, v_mu, valid.received_propensity(self.n_arms))
        for k in range(1, self.n_arms):
            pseudo = _pseudo_outcome(rows.arm, rows.y, mu, e, k)
            x_valid = y_valid = None
            if valid_pseudo is not None:
                v, v_mu, v_e = valid_pseudo
                x_valid, y_valid = v.x, _pseudo_outcome(v.arm, v.y, v_mu, v_e, k)
            self.models[f"tau{k}"] = fit_base(
                x=rows.x, y=pseudo, task="regression", cardinalities=rows.cardinalities, x_valid=x_valid,
                y_valid=y_valid, **fit_kw,
            )  # fmt: skip
        return self

    def effect(self, x: FeatureBatch) -> np.ndarray:
        return np.column_stack([self.models[f"tau{k}"].predict(x) for k in range(1, self.n_arms)])


def _pseudo_outcome(arm: np.ndarray, y: np.ndarray, mu: np.ndarray, e: np.ndarray, k: int) -> np.ndarray:
    """The doubly robust pseudo-outcome of offer ``k`` against control for every row (0 correction for rows
    of other offers, whose outcome tells nothing about these two arms)."""
    correction = np.where(arm == k, (y - mu[:, k]) / e, 0.0) - np.where(arm == 0, (y - mu[:, 0]) / e, 0.0)
    return mu[:, k] - mu[:, 0] + correction


class EnsembleLearner(MetaLearner):
    """The mean effect of the S, X and DR learners (:data:`ENSEMBLE`), each fitted on the same rows: their
    errors differ (S shrinks effects, X and DR model them directly), so the mean ranks better than each alone
    when the effects are weak. Its members' models are kept under ``<member>.<model>``."""

    name = "ensemble"

    def fit(self, rows: Rows, valid: Rows | None, fit_kw: dict[str, Any]) -> EnsembleLearner:
        for member in ENSEMBLE:
            learner = LEARNERS[member](self.n_arms).fit(rows, valid, fit_kw)
            self.models.update({f"{member}.{key}": fit for key, fit in learner.models.items()})
            if member == "x":
                self.weights = list(learner.weights)
        return self

    def members(self) -> list[MetaLearner]:
        out = []
        for member in ENSEMBLE:
            prefix = f"{member}."
            models = {key[len(prefix) :]: fit for key, fit in self.models.items() if key.startswith(prefix)}
            out.append(LEARNERS[member](self.n_arms, models, self.weights if member == "x" else []))
        return out

    def effect(self, x: FeatureBatch) -> np.ndarray:
        return np.mean([member.effect(x) for member in self.members()], axis=0)


LEARNERS: dict[str, type[MetaLearner]] = {
    cls.name: cls for cls in (SLearner, TLearner, XLearner, DRLearner, EnsembleLearner)
}


def meta_from_document(document: dict[str, Any], tensors: dict[str, Any], file: str) -> MetaLearner:
    """The meta-learner that :meth:`MetaLearner.document` described."""
    try:
        cls = LEARNERS[document["learner"]]
        learner = cls(int(document["n_arms"]), weights=[float(w) for w in document["weights"]])
        for key, fit in document["models"].items():
            learner.models[key] = BaseFit.from_document(key, fit, tensors, file)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{file}: the meta-learner's description is damaged ({exc!r}).") from None
    return learner
