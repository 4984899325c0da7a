"""The outcome models inside the meta-learners: LightGBM or any network of the zoo, on preprocessed features.

A meta-learner (:mod:`needmap.uplift.meta`) fits several of these, each on some rows and some target (the
outcome, or an imputed effect): :func:`fit_base` fits one and returns a :class:`BaseFit`, which predicts
(P(outcome) for a binary target, the value for a regression one) and saves itself as JSON and tensors, so
that a saved uplift model loads without executing code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from needmap.errors import ArtifactError, ConfigError
from needmap.preprocessing.batch import FeatureBatch

LIGHTGBM = "lightgbm"
#: LightGBM's options inside the meta-learners unless the caller sets them: an effect of a few points is a weak
#: signal, and trees grown as for a response model (31 leaves, leaves of 20 rows) fit its noise. Few leaves,
#: each holding at least :data:`LEAF_SHARE` of the rows (and 20), and a slower rate smooth the effect.
UPLIFT_LGBM = {"num_leaves": 7, "learning_rate": 0.03}
LEAF_SHARE = 0.01


@dataclass
class BaseFit:
    """One fitted outcome model: ``kind`` ("lightgbm" or a zoo network's name), its ``task`` ("binary" or
    "regression") and the fitted object (a :class:`~needmap.workflows.baseline.Baseline` or a network)."""

    kind: str
    task: str
    fitted: Any

    def predict(self, x: FeatureBatch) -> np.ndarray:
        """P(outcome = 1) for a binary task, the predicted value for a regression task: float64 ``[n]``."""
        if self.kind == LIGHTGBM:
            return self.fitted.predict(x)
        from needmap.training.predict import predict_proba, predict_raw

        if self.task == "binary":
            return np.asarray(predict_proba(self.fitted, x), dtype=np.float64)
        return np.asarray(predict_raw(self.fitted, x, task="regression"), dtype=np.float64)

    def document(self, name: str, tensors: dict[str, Any]) -> dict[str, Any]:
        """This fit as JSON; a network's weights go into ``tensors`` under ``name/``."""
        if self.kind == LIGHTGBM:
            return {"kind": LIGHTGBM, "task": self.task, "baseline": self.fitted.to_dict()}
        network = self.fitted
        for key, value in network.state_dict().items():
            tensors[f"{name}/{key}"] = value.detach().contiguous()
        return {
            "kind": self.kind,
            "task": self.task,
            "n_numeric": network.n_numeric,
            "cardinalities": list(network.cardinalities),
            "lists": list(network.lists),
            "config": network.config(),
        }

    @classmethod
    def from_document(cls, name: str, document: dict[str, Any], tensors: dict[str, Any], file: str) -> BaseFit:
        """The fit that :meth:`document` described (its weights read from ``tensors``)."""
        try:
            kind, task = document["kind"], document["task"]
        except (KeyError, TypeError):
            raise ArtifactError(
                f"{file}: the outcome model {name!r} has no kind and task; the file is damaged."
            ) from None
        if kind == LIGHTGBM:
            from needmap.workflows.baseline import Baseline

            return cls(kind, task, Baseline.from_dict(document["baseline"], file=file, label=name))
        from needmap.models.registry import build_model

        network = build_model(
            kind,
            n_numeric=document["n_numeric"],
            cardinalities=document["cardinalities"],
            n_outputs=1,
            lists=document["lists"],
            **document["config"],
        )
        prefix = f"{name}/"
        state = {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
        try:
            network.load_state_dict(state)
        except RuntimeError as exc:
            raise ArtifactError(f"{file}: the weights of {name!r} do not fit its network: {exc}") from None
        network.eval()
        return cls(kind, task, network)


def fit_base(
    kind: str,
    x: FeatureBatch,
    y: np.ndarray,
    task: str,
    cardinalities: list[int],
    *,
    x_valid: FeatureBatch | None = None,
    y_valid: np.ndarray | None = None,
    seed: int = 0,
    threads: int | None = None,
    params: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
    for_effects: bool = True,
) -> BaseFit:
    """Fit an outcome model of ``kind`` ("lightgbm" or a zoo network's name) on ``x``, ``y``.

    With validation rows, LightGBM stops early on them and a network keeps its best epoch. ``params``: the
    model's own options (LightGBM's by its names, a network's hyper-parameters); ``train``: a network's
    training options (epochs, lr, batch_size, ...). ``for_effects``: LightGBM starts from :data:`UPLIFT_LGBM` and
    leaves of :data:`LEAF_SHARE` of the rows (False: LightGBM's needmap defaults, as for a response model)."""
    if task not in ("binary", "regression"):
        raise ConfigError(f"task {task!r} for an outcome model; expected 'binary' or 'regression'.")
    if kind == LIGHTGBM:
        from needmap.workflows.baseline import fit_lightgbm

        if for_effects:
            params = {**UPLIFT_LGBM, "min_child_samples": max(20, round(LEAF_SHARE * len(y))), **(params or {})}
        baseline = fit_lightgbm(
            x, y, task, cardinalities, seed=seed, x_valid=x_valid, y_valid=y_valid, num_threads=threads,
            params=params or None,
        )  # fmt: skip
        return BaseFit(LIGHTGBM, task, baseline)
    import torch

    from needmap.models.registry import build_model
    from needmap.training.config import TrainConfig
    from needmap.training.trainer import Trainer

    torch.manual_seed(seed)
    network = build_model(
        kind, n_numeric=x.numeric.shape[1], cardinalities=list(cardinalities), n_outputs=1, **(params or {})
    )
    config = TrainConfig.from_dict({"seed": seed, "progress": False, "threads": threads, **(train or {})})
    Trainer(network, task, config).fit(
        x, y.astype(np.float32), x_valid, None if y_valid is None else y_valid.astype(np.float32)
    )
    network.eval()
    return BaseFit(kind, task, network)
