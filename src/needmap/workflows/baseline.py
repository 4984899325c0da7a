"""The traditional baselines trained beside every deep model, on the same preprocessed features and
the same rows: logistic regression (Ridge for regression) and LightGBM (gradient-boosted trees).

A multi-task model gets both per target, each fitted on the rows that have that target
(:func:`fit_baselines`), and saved with the name of its target.

A fitted baseline is saved as JSON (:meth:`Baseline.to_dict`, ``baselines.json`` of a model directory,
:func:`baselines_document`) and read back without executing code (:func:`load_baselines`): the linear
models as their coefficients, LightGBM as its own model text, which LightGBM parses.

The module is over 400 lines on purpose: the checked reading of the saved form (``_Where`` and the
``*_from`` readers) rebuilds exactly the objects the fitting half makes, and keeping both in one place
keeps them in step (and is how ``make mutants`` tests them together).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from needmap.errors import ArtifactError
from needmap.preprocessing.batch import FeatureBatch
from needmap.runtime.device import usable_cores
from needmap.workflows.baselines_text import lightgbm_text_problem
from needmap.workflows.linear_sgd import SGD_MIN_ROWS, SGD_PART_ROWS, SGD_WHOLE_ROWS, RowDesign, fit_logistic_sgd

if TYPE_CHECKING:
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression, Ridge

LOGISTIC = "logistic regression"
RIDGE = "ridge regression"
LIGHTGBM = "LightGBM"
#: LightGBM's rounds: at most this many with early stopping on validation rows, else :data:`LGBM_ROUNDS`.
LGBM_MAX_ROUNDS = 2000
LGBM_ROUNDS = 200
LGBM_STOPPING_ROUNDS = 30
#: Training rows from which LightGBM is fitted as large-data users fit it (:data:`LGBM_LARGE_DATA`): the
#: histograms capped at 63 bins and built column by column, categories regularised as LightGBM documents for
#: many levels, and, unless a caller sets the rate, a rate of 0.3 so that early stopping comes in under a
#: hundred rounds, after :data:`LGBM_LARGE_STOPPING_ROUNDS` rounds without a better validation loss. Every bin, of
#: a category or of a numeric range, holds at least ``min_data_in_bin`` rows of LightGBM's binning sample (200,000
#: rows): LightGBM's default of 3 gives a column of many levels thousands of one-category bins, most of them fitted
#: to noise; at 100 the rarer categories share one bin (benchmarks/results/command_overheads_zen5_2026-12-08.md).
#: The histograms sum gradients quantized to 16 levels (LightGBM's ``use_quantized_grad``, its documented option for
#: faster training, with stochastic rounding from the seed): each round builds its histograms from small integers,
#: faster at the validation AUC of full gradients on the speed benchmark's rows, where fewer levels (LightGBM's
#: default of 4, or 8) lost AUC (benchmarks/results/speed_command_1m_intel_amx_2026-12-08.md).
LGBM_LARGE_ROWS = 200_000
LGBM_LARGE_DATA: dict[str, Any] = {
    "max_bin": 63,
    "min_data_in_bin": 100,
    "cat_smooth": 20,
    "min_data_per_group": 50,
    "force_col_wise": True,
    "use_quantized_grad": True,
    "num_grad_quant_bins": 16,
}
LGBM_LARGE_RATE = 0.3
LGBM_LARGE_STOPPING_ROUNDS = 10
#: LightGBM gets one thread per this many training rows, at most :func:`~needmap.runtime.device.usable_cores`: on small
#: tables, threads cost more in synchronisation than they save (and far more on a busy machine).
ROWS_PER_THREAD = 10_000
#: LightGBM's options a caller may set (:func:`fit_lightgbm`'s ``params``, a tuning search's space), by
#: LightGBM's own names, with their values when none is given; each maps to the scikit-learn API's name.
LGBM_DEFAULTS: dict[str, Any] = {
    "num_leaves": 31,
    "learning_rate": 0.05,
    "min_child_samples": 20,
    "feature_fraction": 1.0,
    "lambda_l2": 0.0,
}
_LGBM_SKLEARN_NAMES = {"feature_fraction": "colsample_bytree", "lambda_l2": "reg_lambda"}
#: The version of the ``baselines.json`` layout (:func:`baselines_document`).
BASELINES_VERSION = 1
BASELINES_FILE = "baselines.json"
BASELINE_TASKS = ("binary", "multiclass", "regression", "ltv")
#: LightGBM's objective for a lifetime-value (ltv) target: Tweedie, a compound Poisson-gamma law with an exact
#: mass at 0 and a skewed positive part, which is how spend over a horizon is spread (most rows 0, a few large);
#: squared error would chase the few large spends, and a log-normal on the buyers alone would need a second
#: model for the chance to buy. Its log link keeps predictions positive, and the variance power 1.5 sits midway
#: between Poisson (1) and gamma (2).
LGBM_LTV_OBJECTIVE = {"objective": "tweedie", "tweedie_variance_power": 1.5}


def _list_block(ids: np.ndarray, cardinality: int, dtype: type = np.float64) -> sp.csr_matrix:
    """Bag of ids of one list feature: sparse ``[n, cardinality]``, the share of the row's non-padding
    positions that hold each id (padding id 0 is left out; an empty list is a row of zeros)."""
    import scipy.sparse as sp  # imported when used: importing needmap must not set scipy's warning filters

    n, width = ids.shape
    rows = np.repeat(np.arange(n), width)
    cols = ids.reshape(-1)
    present = cols != 0
    lengths = np.maximum((ids != 0).sum(axis=1), 1).astype(np.float64)
    data = (1.0 / lengths[rows[present]]).astype(dtype)
    return sp.csr_matrix((data, (rows[present], cols[present])), shape=(n, int(cardinality)))


def _design(
    x: FeatureBatch, cardinalities: list[int], list_cardinalities: Sequence[int] = (), dtype: type = np.float64
) -> sp.csr_matrix:
    """Scaled numerics, a one-hot block per categorical column and a bag-of-ids block per list
    feature: sparse ``[n, n_num + sum(cardinalities) + sum(list_cardinalities)]`` of ``dtype``."""
    import scipy.sparse as sp  # imported when used: importing needmap must not set scipy's warning filters

    # Every row holds its n_num numerics then one 1 per categorical column, at increasing column positions:
    # the CSR arrays are written directly (no coordinate sort), which on many rows is several times faster.
    n, n_num = x.numeric.shape
    n_cat = x.categorical.shape[1]
    offsets = np.concatenate([[0], np.cumsum(cardinalities)[:-1]]).astype(np.int64) + n_num
    per_row = n_num + n_cat
    width = n_num + int(sum(cardinalities))
    index_type = np.int32 if max(width, n * per_row) < 2**31 else np.int64  # scipy's own choice of index type
    indices = np.empty((n, per_row), dtype=index_type)
    indices[:, :n_num] = np.arange(n_num)
    indices[:, n_num:] = x.categorical + offsets[None, :n_cat]
    data = np.ones((n, per_row), dtype=dtype)
    data[:, :n_num] = x.numeric
    indptr = np.arange(0, n * per_row + 1, per_row, dtype=index_type)
    fixed = sp.csr_matrix((data.reshape(-1), indices.reshape(-1), indptr), shape=(n, width))
    blocks = [_list_block(ids, c, dtype) for ids, c in zip(x.lists, list_cardinalities, strict=False)]
    return sp.hstack([fixed, *blocks], format="csr") if blocks else fixed


#: Rows a baseline scores at a time (:meth:`Baseline.predict`): their design, not the whole one, is in memory.
PREDICT_PART_ROWS = 1 << 17
#: Ids below this are exact in float32 (its 24-bit significand): LightGBM's design holds them as float32.
FLOAT32_IDS = 1 << 24


def _sgd_design(x: FeatureBatch, cardinalities: list[int], list_cardinalities: Sequence[int]) -> Any:
    """:func:`_design` of ``x`` whole, or on more than :data:`SGD_WHOLE_ROWS` rows a
    :class:`~needmap.workflows.linear_sgd.RowDesign` that builds it a part at a time. float32 (scikit-learn's SGD
    runs in the design's precision; the numerics are float32 already): two thirds of a float64 design's memory."""
    if len(x) <= SGD_WHOLE_ROWS:
        return _design(x, cardinalities, list_cardinalities, np.float32)
    width = x.numeric.shape[1] + int(sum(cardinalities)) + int(sum(list_cardinalities))
    return RowDesign(len(x), width, lambda rows: _design(x.take(rows), cardinalities, list_cardinalities, np.float32))


def _tree_design(x: FeatureBatch, list_cardinalities: Sequence[int] = ()) -> np.ndarray | sp.csr_matrix:
    """LightGBM's inputs: the preprocessed numerics as they are, then one column of ids per categorical
    column (a LightGBM categorical feature, see :func:`_categorical_columns`), then a bag-of-ids block per
    list feature. Dense ``[n, n_num + n_cat]`` without list features, else sparse with
    ``sum(list_cardinalities)`` more columns. float32, half float64's memory, where that holds every value
    exactly (the numerics are float32 already, ids below 2**24), which LightGBM reads as the same doubles: the
    same bins, trees and scores; float64 where an id is larger."""
    import scipy.sparse as sp  # imported when used: importing needmap must not set scipy's warning filters

    exact = x.numeric.dtype == np.float32 and (x.categorical.size == 0 or int(x.categorical.max()) < FLOAT32_IDS)
    dtype = np.float32 if exact else np.float64
    dense = np.empty((len(x), x.numeric.shape[1] + x.categorical.shape[1]), dtype=dtype)
    dense[:, : x.numeric.shape[1]] = x.numeric
    dense[:, x.numeric.shape[1] :] = x.categorical
    lists = [_list_block(ids, c) for ids, c in zip(x.lists, list_cardinalities, strict=False)]
    if not lists:
        return dense
    return sp.hstack([sp.csr_matrix(dense), *lists], format="csr")


def _categorical_columns(x: FeatureBatch) -> list[int]:
    """Column indices of :func:`_tree_design` that hold categorical ids."""
    n_num = x.numeric.shape[1]
    return list(range(n_num, n_num + x.categorical.shape[1]))


@dataclass
class Baseline:
    """A fitted baseline; ``name`` says which ("logistic regression", "ridge regression", "LightGBM").

    ``estimator``: the fitted scikit-learn model (LightGBM: an ``LGBMClassifier`` / ``LGBMRegressor``, or
    the ``lightgbm.Booster`` that :meth:`from_dict` rebuilt). ``rounds``: LightGBM's boosting rounds kept
    (the best iteration under early stopping), else None. ``target``: the target it predicts, for a
    baseline of a multi-task model (one per target); None for a single-target model's.
    """

    name: str
    estimator: Any
    task: str
    cardinalities: list[int]
    list_cardinalities: list[int] = field(default_factory=list)
    rounds: int | None = None
    target: str | None = None
    fit: dict[str, Any] = field(default_factory=dict)  # how it was fitted: solver, rows, ... (reported, saved)

    def _inputs(self, x: FeatureBatch) -> Any:
        if self.name == LIGHTGBM:
            return _tree_design(x, self.list_cardinalities)
        return _design(x, self.cardinalities, self.list_cardinalities)

    def _booster(self) -> Any:
        """LightGBM's Booster: the fitted estimator's, or the estimator itself when rebuilt from JSON."""
        return getattr(self.estimator, "booster_", self.estimator)

    def predict(self, x: FeatureBatch) -> np.ndarray:
        """P(positive) ``[n]``, class probabilities ``[n, K]`` or predictions ``[n]``, like Model.

        LightGBM scores through its Booster (up to its best round), the same numbers as the fitted
        estimator's ``predict_proba`` / ``predict``. More than :data:`PREDICT_PART_ROWS` rows are scored a part at
        a time, so that their design is never whole in memory."""
        if len(x) > PREDICT_PART_ROWS:
            parts = [self.predict(x.take(np.arange(s, min(s + PREDICT_PART_ROWS, len(x))))) for s in
                     range(0, len(x), PREDICT_PART_ROWS)]  # fmt: skip
            return np.concatenate(parts)
        design = self._inputs(x)
        if self.name == LIGHTGBM:
            return np.asarray(self._booster().predict(design), dtype=np.float64)
        if self.task == "binary":
            return np.asarray(self.estimator.predict_proba(design)[:, 1], dtype=np.float64)
        if self.task == "multiclass":
            return np.asarray(self.estimator.predict_proba(design), dtype=np.float64)
        return np.asarray(self.estimator.predict(design), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """This baseline as JSON-safe values, to be read back by :meth:`from_dict`.

        Keys: ``name``, ``task``, ``cardinalities``, ``list_cardinalities``, ``rounds`` (and ``target``
        for a baseline of a multi-task model; ``fit``, how it was fitted, when known), then the fitted
        model: ``coef`` (``[K, d]`` logistic regression, ``[d]`` Ridge; d the columns of the design),
        ``intercept`` (``[K]``, or a number for Ridge) and ``classes`` (logistic regression); or LightGBM's
        model in its own text format (``model``, the kept rounds only) and that text's sha256
        (``model_sha256``).
        """
        document: dict[str, Any] = {
            "name": self.name,
            "task": self.task,
            "cardinalities": [int(c) for c in self.cardinalities],
            "list_cardinalities": [int(c) for c in self.list_cardinalities],
            "rounds": None if self.rounds is None else int(self.rounds),
        }
        if self.target is not None:
            document["target"] = self.target
        if self.fit:
            document["fit"] = dict(self.fit)
        if self.name == LIGHTGBM:
            text = self._booster().model_to_string()
            document.update(model=text, model_sha256=_sha256(text))
            return document
        document["coef"] = np.asarray(self.estimator.coef_, dtype=np.float64).tolist()
        document["intercept"] = np.asarray(self.estimator.intercept_, dtype=np.float64).tolist()
        if self.name == LOGISTIC:
            document["classes"] = np.asarray(self.estimator.classes_).tolist()
        return document

    @classmethod
    def from_dict(cls, document: Any, *, file: str | None = None, label: str = "the baseline") -> Baseline:
        """Rebuild a baseline written by :meth:`to_dict`; it predicts the same numbers as before saving.

        Executes no code: the linear models get their coefficients set on a new scikit-learn estimator,
        LightGBM's model text is parsed by ``lightgbm.Booster(model_str=...)`` once its sha256 matches and
        :func:`needmap.workflows.baselines_text.lightgbm_text_problem` finds it well formed.
        Raises ArtifactError naming ``file`` (the model directory), ``label`` (which baseline of
        baselines.json) and what is wrong.
        """
        where = _Where(file, label)
        if not isinstance(document, dict):
            where.fail(f"is {type(document).__name__}", "an object with the keys that needmap wrote")
        name, task = document.get("name"), document.get("task")
        if name not in (LOGISTIC, RIDGE, LIGHTGBM):
            where.fail(f"has the name {name!r}", f"one of {LOGISTIC!r}, {RIDGE!r}, {LIGHTGBM!r}")
        allowed = {LOGISTIC: ("binary", "multiclass"), RIDGE: ("regression",)}.get(name, BASELINE_TASKS)
        if task not in allowed:
            where.fail(f"({name}) has the task {task!r}", f"one of {list(allowed)}")
        cards = where.counts(document.get("cardinalities"), "cardinalities")
        lists = where.counts(document.get("list_cardinalities", []), "list_cardinalities")
        rounds = document.get("rounds")
        if rounds is not None and not _is_count(rounds):
            where.fail(f"has rounds {rounds!r}", "a whole number of boosting rounds or null")
        target = document.get("target")
        if target is not None and not (isinstance(target, str) and target):
            where.fail(f"has the target {target!r}", "the name of one of the model's targets, or no target key")
        fit = document.get("fit", {})
        if not isinstance(fit, dict):
            where.fail(f"has fit {str(fit)[:80]}", "an object saying how the baseline was fitted, or no fit key")
        if name == LIGHTGBM:
            estimator = _booster_from(document, where)
        elif name == RIDGE:
            estimator = _ridge_from(document, where)
        else:
            estimator = _logistic_from(document, where)
        return cls(name, estimator, task, cards, lists, rounds=rounds, target=target, fit=dict(fit))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass
class _Where:
    """Which baseline of which model directory is being read: raises its ArtifactErrors."""

    file: str | None
    label: str

    def fail(self, found: str, expected: str) -> NoReturn:
        raise ArtifactError(
            f"'{BASELINES_FILE}': {self.label} {found}; expected {expected}.",
            file=self.file,
            hint="The file is corrupted: restore it from a copy or train the model again.",
        )

    def counts(self, value: Any, key: str) -> list[int]:
        if not isinstance(value, list) or not all(_is_count(v) for v in value):
            self.fail(f"has {key} {str(value)[:80]}", "a list of whole numbers")
        return list(value)

    def numbers(self, value: Any, key: str, ndim: int) -> np.ndarray:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is None or array.ndim != ndim or not np.isfinite(array).all():
            shape = {0: "a number", 1: "a list of numbers", 2: "a list of rows of numbers"}[ndim]
            self.fail(f"has {key} {str(value)[:80]}", f"{shape}, all finite")
        return array


def _logistic_from(document: dict[str, Any], where: _Where) -> LogisticRegression:
    coef = where.numbers(document.get("coef"), "coef", 2)
    intercept = where.numbers(document.get("intercept"), "intercept", 1)
    classes = document.get("classes")
    if not isinstance(classes, list) or len(classes) < 2:
        where.fail(f"has classes {str(classes)[:80]}", "a list of at least two classes")
    rows = 1 if len(classes) == 2 else len(classes)
    if coef.shape[0] != rows or intercept.shape != (rows,):
        where.fail(
            f"has coef of shape {coef.shape} and intercept of shape {intercept.shape} for {len(classes)} classes",
            f"{rows} row(s) of each",
        )
    from sklearn.linear_model import LogisticRegression

    estimator = LogisticRegression()
    estimator.coef_, estimator.intercept_ = coef, intercept
    estimator.classes_ = np.asarray(classes)
    estimator.n_features_in_ = coef.shape[1]
    return estimator


def _ridge_from(document: dict[str, Any], where: _Where) -> Ridge:
    from sklearn.linear_model import Ridge

    estimator = Ridge()
    estimator.coef_ = where.numbers(document.get("coef"), "coef", 1)
    estimator.intercept_ = np.float64(where.numbers(document.get("intercept"), "intercept", 0))
    estimator.n_features_in_ = estimator.coef_.shape[0]
    return estimator


def _booster_from(document: dict[str, Any], where: _Where) -> Any:
    import lightgbm as lgb

    text, recorded = document.get("model"), document.get("model_sha256")
    if not isinstance(text, str) or not text:
        where.fail("has no 'model' text", "LightGBM's model text")
    found = _sha256(text)
    if recorded != found:  # a changed text can make LightGBM's parser loop or crash: checked first
        where.fail(
            f"has model text whose sha256 is {found[:12]}…, the file recorded {str(recorded)[:12]}…",
            "the LightGBM model text that needmap wrote, unchanged",
        )
    problem = lightgbm_text_problem(text)  # its sha256 can be recomputed by whoever edits it: read it first
    if problem is not None:
        where.fail(f"has LightGBM model text that LightGBM's parser must not see: {problem}", "LightGBM's model text")
    try:
        booster = lgb.Booster(model_str=text)
    except (lgb.basic.LightGBMError, ValueError) as exc:
        where.fail(f"has model text that LightGBM cannot read ({exc})", "LightGBM's model text")
    per_round = booster.num_model_per_iteration()
    if (per_round > 1) != (document.get("task") == "multiclass"):
        where.fail(
            f"is a {document.get('task')} baseline whose LightGBM model has {per_round} tree(s) per round",
            "one tree per class and round for a multiclass target, else one per round",
        )
    return booster


def baselines_document(baselines: Sequence[Baseline]) -> dict[str, Any]:
    """The content of ``baselines.json``: ``{"version": 1, "baselines": [Baseline.to_dict(), ...]}``."""
    return {"version": BASELINES_VERSION, "baselines": [b.to_dict() for b in baselines]}


def load_baselines(document: Any, *, file: str | None = None) -> list[Baseline]:
    """The baselines of a ``baselines.json`` document (:func:`baselines_document`), in their order.

    ``file``: the model directory, named in errors. Raises ArtifactError naming baselines.json, which
    baseline and what is wrong when the document is not the one needmap wrote.
    """
    where = _Where(file, "the document")
    if not isinstance(document, dict):
        where.fail(f"is {type(document).__name__}", '{"version": 1, "baselines": [...]}')
    version = document.get("version")
    if version != BASELINES_VERSION:
        where.fail(f"has version {version!r}", f"version {BASELINES_VERSION}")
    entries = document.get("baselines")
    if not isinstance(entries, list):
        where.fail(f"has baselines {str(entries)[:80]}", "a list of baselines")
    bases = []
    for i, entry in enumerate(entries, start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        label = f"baseline {i}" + (f" ({name})" if isinstance(name, str) else "")
        bases.append(Baseline.from_dict(entry, file=file, label=label))
    return bases


def fit_baseline(
    x: FeatureBatch,
    y: np.ndarray,
    task: str,
    cardinalities: list[int],
    seed: int = 0,
    list_cardinalities: Sequence[int] = (),
    x_valid: FeatureBatch | None = None,
    y_valid: np.ndarray | None = None,
) -> Baseline:
    """Fit logistic regression (binary, multiclass; L2) or Ridge (regression) on ``x``.

    Logistic regression is fitted exactly by L-BFGS (C=1), except for a binary target on at least
    :data:`~needmap.workflows.linear_sgd.SGD_MIN_ROWS` rows: there by averaged SGD stopped on the
    validation rows ``x_valid``, ``y_valid`` when given (:mod:`needmap.workflows.linear_sgd`); the
    baseline's ``fit`` says which. ``list_cardinalities``: ids of each list feature of ``x``
    (``cardinality`` of the preprocessor's ``list_specs_``); lists without one are left out of the design.
    """
    # Imported here, as LightGBM is: importing scikit-learn sets KMP_* environment variables, which
    # fitting a baseline may do but importing needmap must not.
    from sklearn.linear_model import LogisticRegression, Ridge

    lists = [int(c) for c in list_cardinalities]
    if task == "binary" and len(x) >= SGD_MIN_ROWS:
        valid = None
        if x_valid is not None and y_valid is not None and len(x_valid):
            valid = (_sgd_design(x_valid, cardinalities, lists), y_valid)
        estimator, fit = fit_logistic_sgd(_sgd_design(x, cardinalities, lists), y, seed=seed, valid=valid)
        parts = {"design_part_rows": SGD_PART_ROWS} if len(x) > SGD_WHOLE_ROWS else {}
        return Baseline(LOGISTIC, estimator, task, cardinalities, lists, fit={**fit, "rows": len(x), **parts})
    design = _design(x, cardinalities, lists)
    if task == "regression":
        return Baseline(RIDGE, Ridge(alpha=1.0).fit(design, y), task, cardinalities, lists, fit={"rows": len(x)})
    estimator = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    estimator.fit(design, y)
    fit = {"solver": "L-BFGS", "C": 1.0, "iterations": int(np.max(estimator.n_iter_)), "rows": len(x)}
    return Baseline(LOGISTIC, estimator, task, cardinalities, lists, fit=fit)


def fit_lightgbm(
    x: FeatureBatch,
    y: np.ndarray,
    task: str,
    cardinalities: list[int],
    seed: int = 0,
    list_cardinalities: Sequence[int] = (),
    x_valid: FeatureBatch | None = None,
    y_valid: np.ndarray | None = None,
    num_threads: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> Baseline:
    """Fit LightGBM on ``x``: LGBMClassifier (binary, multiclass) or LGBMRegressor (regression).

    Inputs (:func:`_tree_design`): the preprocessed numerics as they are (trees ignore the scaling),
    each categorical column's ids as a LightGBM categorical feature, and each list feature as a sparse
    bag-of-ids block. With validation rows (``x_valid``, ``y_valid``: the rows the deep model stopped
    early on), training stops after :data:`LGBM_STOPPING_ROUNDS` rounds without a better validation loss
    (at most :data:`LGBM_MAX_ROUNDS`) and keeps the best round; without them it runs
    :data:`LGBM_ROUNDS` rounds (on many rows, :data:`LGBM_LARGE_STOPPING_ROUNDS` without a better loss).
    Learning rate 0.05, 31 leaves (:data:`LGBM_DEFAULTS`), seeded and
    deterministic, quiet; from :data:`LGBM_LARGE_ROWS` rows, :data:`LGBM_LARGE_DATA` and (without
    ``params``) the rate :data:`LGBM_LARGE_RATE`; ``num_threads``: CPU threads (None: one per
    :data:`ROWS_PER_THREAD` rows, at most :func:`~needmap.runtime.device.usable_cores`). ``params``: some
    of :data:`LGBM_DEFAULTS` by LightGBM's names, other values (a tuning trial's); ValueError for any other
    name. The baseline's ``fit`` records the rows, rate, leaves, bins, the early-stopping patience (None:
    no validation rows) and threads.
    """
    import lightgbm as lgb

    unknown = sorted(set(params or {}) - set(LGBM_DEFAULTS))
    if unknown:
        raise ValueError(f"LightGBM options {unknown} are not settable here; expected some of {sorted(LGBM_DEFAULTS)}")
    large = len(x) >= LGBM_LARGE_ROWS
    chosen = {**LGBM_DEFAULTS, **dict(params or {})} if params else {"learning_rate": 0.05, "num_leaves": 31}
    if large and not params:
        chosen["learning_rate"] = LGBM_LARGE_RATE
    lists = [int(c) for c in list_cardinalities]
    early = x_valid is not None and y_valid is not None and len(x_valid) > 0
    options: dict[str, Any] = {
        "n_estimators": LGBM_MAX_ROUNDS if early else LGBM_ROUNDS,
        **{_LGBM_SKLEARN_NAMES.get(name, name): value for name, value in chosen.items()},
        **(LGBM_LARGE_DATA if large else {}),
        "random_state": seed,
        "n_jobs": num_threads or min(usable_cores(), max(1, len(x) // ROWS_PER_THREAD)),
        "deterministic": True,
        "verbosity": -1,
    }
    if not large:  # histograms by row on few rows; by column on many (LGBM_LARGE_DATA), where that is faster
        options["force_row_wise"] = True
    if task == "ltv":
        options.update(LGBM_LTV_OBJECTIVE)
    regressor = task in ("regression", "ltv")
    estimator = lgb.LGBMRegressor(**options) if regressor else lgb.LGBMClassifier(**options)
    fit_args: dict[str, Any] = {"categorical_feature": _categorical_columns(x) or "auto"}
    patience = LGBM_LARGE_STOPPING_ROUNDS if large else LGBM_STOPPING_ROUNDS
    if early:
        assert x_valid is not None and y_valid is not None
        valid = _tree_design(x_valid, lists)
        if "eval_X" in inspect.signature(estimator.fit).parameters:  # LightGBM >= 4.7 (eval_set is deprecated)
            fit_args.update(eval_X=(valid,), eval_y=(y_valid,))
        else:
            fit_args["eval_set"] = [(valid, y_valid)]
        fit_args["callbacks"] = [lgb.early_stopping(patience, first_metric_only=True, verbose=False)]
    estimator.fit(_tree_design(x, lists), y, **fit_args)
    rounds = int(estimator.best_iteration_) if early and estimator.best_iteration_ else options["n_estimators"]
    fit = {
        "rows": len(x),
        "learning_rate": options["learning_rate"],
        "num_leaves": options["num_leaves"],
        "max_bin": options.get("max_bin", 255),
        "min_data_in_bin": options.get("min_data_in_bin", 3),
        "gradient_levels": options.get("num_grad_quant_bins") if options.get("use_quantized_grad") else None,
        "early_stopping": patience if early else None,
        "threads": options["n_jobs"],
    }
    if task == "ltv":
        fit.update(LGBM_LTV_OBJECTIVE)
    return Baseline(LIGHTGBM, estimator, task, cardinalities, lists, rounds=rounds, fit=fit)


def fit_single_baselines(
    x: FeatureBatch,
    y: np.ndarray,
    task: str,
    cardinalities: list[int],
    seed: int = 0,
    list_cardinalities: Sequence[int] = (),
    x_valid: FeatureBatch | None = None,
    y_valid: np.ndarray | None = None,
) -> list[Baseline]:
    """Both baselines of a single-target model, fitted on the same rows: logistic regression (Ridge for
    regression) on ``x``, then LightGBM on ``x`` with early stopping on ``x_valid`` when given. A lifetime-value
    (ltv) target gets LightGBM alone, with a Tweedie objective (:data:`LGBM_LTV_OBJECTIVE`); its other baseline,
    BG/NBD + Gamma-Gamma, reads the BTYD columns of the rows (:mod:`needmap.workflows.btyd`)."""
    lists = list(list_cardinalities)
    if task == "ltv":
        return [fit_lightgbm(x, y, task, cardinalities, seed=seed, list_cardinalities=lists, x_valid=x_valid,
                             y_valid=y_valid)]  # fmt: skip
    return [
        fit_baseline(x, y, task, cardinalities, seed=seed, list_cardinalities=lists, x_valid=x_valid, y_valid=y_valid),
        fit_lightgbm(x, y, task, cardinalities, seed=seed, list_cardinalities=lists, x_valid=x_valid, y_valid=y_valid),
    ]


def fit_baselines(
    x: FeatureBatch,
    y: np.ndarray,
    tasks: Sequence[str],
    cardinalities: list[int],
    seed: int = 0,
    list_cardinalities: Sequence[int] = (),
    x_valid: FeatureBatch | None = None,
    y_valid: np.ndarray | None = None,
    targets: Sequence[str] | None = None,
) -> list[list[Baseline]]:
    """Both baselines for each target of a multi-task model, as :func:`fit_single_baselines` fits them.

    ``y`` ``[n, T]`` and ``y_valid`` ``[n_valid, T]`` (NaN where a row has no value of a target),
    ``tasks`` of length T, ``targets`` their names (set as each baseline's ``target``). Target t's
    baselines train on the rows of ``x`` that have target t, and its LightGBM stops early on the rows of
    ``x_valid`` that have it (it runs :data:`LGBM_ROUNDS` rounds when none do). Returns T lists:
    ``[linear model, LightGBM]`` per target, in target order.
    """
    per_target = []
    lists = list(list_cardinalities)
    for t, task in enumerate(tasks):
        x_t, y_t = _labelled(x, y[:, t])
        valid: dict[str, Any] = {}
        if x_valid is not None and y_valid is not None and len(x_valid):
            xv, yv = _labelled(x_valid, y_valid[:, t])
            if len(xv):
                valid = {"x_valid": xv, "y_valid": yv}
        fitted = fit_single_baselines(x_t, y_t, task, cardinalities, seed=seed, list_cardinalities=lists, **valid)
        for base in fitted:
            base.target = None if targets is None else targets[t]
        per_target.append(fitted)
    return per_target


def _labelled(x: FeatureBatch, y: np.ndarray) -> tuple[FeatureBatch, np.ndarray]:
    """The rows of ``x`` and ``y`` ``[n]`` where ``y`` has a value (is not NaN)."""
    y = np.ascontiguousarray(y)  # a column of ``[n, T]`` targets: LightGBM copies strided arrays, with a warning
    labelled = ~np.isnan(np.asarray(y, dtype=np.float64))
    if labelled.all():
        return x, y
    return x.take(np.flatnonzero(labelled)), y[labelled]
