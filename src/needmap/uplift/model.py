"""``UpliftModel`` (parameters and fit) and ``UpliftPredictor`` (what fit produces and load returns).

    model = UpliftModel("x", base="lightgbm", treatment="treatment", control="control", outcome="converted")
    predictor = model.fit(campaign_table).predictor_
    predictor.predict(new_customers)      # id columns, uplift_<offer> per offer, best_offer, best_uplift
    predictor.save("models/campaign")

The features are preprocessed as for every other needmap model (a Preprocessor fitted on the training rows
only, saved with the model); the treatment, the outcome and the propensity are never inputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.errors import ArtifactError, ConfigError, DataError
from needmap.explain.population import POPULATION_FILE, Population
from needmap.uplift.campaign_rows import balance_table, campaign_arms, names_of, treatment_text
from needmap.uplift.meta import LEARNERS, META_LEARNERS, MetaLearner, Rows, meta_from_document
from needmap.uplift.networks import NETWORKS, UpliftNetwork, fit_network, network_outcomes

FORMAT_VERSION = 1
FILES = ("uplift.json", "weights.safetensors", "metrics.json", "card.md", "population.json")
UPLIFT_FILES = frozenset(FILES)
LEARNER_NAMES = (*META_LEARNERS, *NETWORKS)
#: The column of :meth:`UpliftPredictor.predict` naming each customer's best arm (control when no offer lifts).
BEST = "best_offer"


class UpliftModel:
    """The parameters of an uplift model, scikit-learn style (stored as given; ``fit`` returns self and puts
    what it learned in ``predictor_``).

    Args:
        learner: "s", "t", "x", "dr" (meta-learners over ``base``), "tarnet" or "dragonnet" (networks).
        base: the meta-learners' outcome model: "lightgbm" or a zoo network's name ("mlp", "deepfm", ...).
        treatment, control: the column naming each row's arm and its value for the control rows.
        outcome: the outcome column: 0/1 (conversion) or an amount (spend).
        id: columns copied to the predictions as they came in (never inputs).
        drop: columns that are no inputs.
        propensity: a column holding each row's chance of the arm it received (when assignment was not
            uniform); else the arms' shares.
        shares: the arms' declared shares ({arm: share}); fit checks the data against them.
        validation: share of the rows held out for early stopping.
        seed, threads: randomness and CPU threads. epochs, lr, batch_size: the networks' training.
        params: the outcome model's or network's own options.
    """

    def __init__(
        self,
        learner: str = "t",
        *,
        base: str = "lightgbm",
        treatment: str = "treatment",
        control: str = "control",
        outcome: str | None = None,
        id: str | Iterable[str] | None = None,
        drop: str | Iterable[str] | None = None,
        propensity: str | None = None,
        shares: Mapping[str, float] | None = None,
        validation: float = 0.1,
        seed: int = 0,
        threads: int | None = None,
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 512,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.learner = learner
        self.base = base
        self.treatment = treatment
        self.control = control
        self.outcome = outcome
        self.id = id
        self.drop = drop
        self.propensity = propensity
        self.shares = shares
        self.validation = validation
        self.seed = seed
        self.threads = threads
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.params = params
        if learner not in LEARNER_NAMES:
            raise ConfigError(
                f"learner {learner!r} is not an uplift learner; expected one of {', '.join(LEARNER_NAMES)}."
            )
        if not 0 <= validation < 1:
            raise ConfigError(f"validation={validation} is not a share of the rows; expected 0 <= validation < 1.")
        self.predictor_: UpliftPredictor | None = None

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> UpliftModel:
        unknown = set(params) - set(self.get_params())
        if unknown:
            raise ConfigError(f"unknown parameter(s) {sorted(unknown)}; expected some of {sorted(self.get_params())}.")
        return type(self)(**{**self.get_params(), **params})

    def fit(self, data: Any) -> UpliftModel:
        """Read the campaign, check it, fit the preprocessing on the training rows and the learner."""
        from needmap.data.read import read
        from needmap.data.split import split_indices
        from needmap.preprocessing.config import PreprocessConfig
        from needmap.preprocessing.preprocess import Preprocessor
        from needmap.preprocessing.roles_schema import schema_with_roles

        if self.outcome is None:
            raise ConfigError("no outcome column given; expected UpliftModel(..., outcome='column').")
        table = data if isinstance(data, pa.Table) else read(data)
        table, report = _complete_rows(table, self.treatment, self.outcome, self.propensity)
        file = _source(table)
        y, task = outcome_values(table, self.outcome, file)
        arms = campaign_arms(
            treatment_text(table.column(self.treatment)), y, self.control, column=self.treatment,
            outcome_column=self.outcome, file=file, shares=self.shares,
        )  # fmt: skip
        not_inputs = [self.treatment, *names_of(self.drop)] + ([self.propensity] if self.propensity else [])
        schema = schema_with_roles(table, self.outcome, "binary" if task == "binary" else "regression",
                                   drop=not_inputs, id=self.id)  # fmt: skip
        strata = arms.index * 2 + (y > 0)
        if self.validation > 0:
            train_idx, valid_idx = split_indices(
                table.num_rows, method="stratified", test_size=self.validation, seed=self.seed, y=strata
            )
        else:
            train_idx, valid_idx = np.arange(table.num_rows), np.array([], dtype=np.int64)
        preprocessor = Preprocessor(schema, PreprocessConfig()).fit(table.take(pa.array(train_idx)))
        x = preprocessor.transform(table)
        propensity = _propensity(table, self.propensity, file)
        rows = Rows(x, arms.index, y, task, list(preprocessor.cardinalities_), propensity)
        train, valid = rows.take(train_idx), (rows.take(valid_idx) if len(valid_idx) else None)
        fitted = self._fit_learner(train, valid, len(arms.names))
        inputs = list(schema.features)
        report.update(
            {"train_rows": len(train_idx), "validation_rows": len(valid_idx),
             "arms": dict(zip(arms.names, arms.counts.tolist(), strict=True)),
             "balance": balance_table(table, arms, inputs)}
        )  # fmt: skip
        self.predictor_ = UpliftPredictor(self.get_params(), arms.names, task, schema, preprocessor, fitted, report)
        # the customers of the test, summarized: what one customer's reasons compare with
        self.predictor_.population = Population.of(table, preprocessor, seed=self.seed)
        if valid is not None:
            self.predictor_.metrics_["validation"] = self.predictor_.evaluate(table.take(pa.array(valid_idx)))
        return self

    def _fit_learner(self, train: Rows, valid: Rows | None, n_arms: int) -> MetaLearner | UpliftNetwork:
        if self.learner in NETWORKS:
            return fit_network(
                self.learner, train.x, train.arm, train.y, train.task, train.cardinalities,
                x_valid=None if valid is None else valid.x, arm_valid=None if valid is None else valid.arm,
                y_valid=None if valid is None else valid.y, n_arms=n_arms, seed=self.seed, epochs=self.epochs,
                lr=self.lr, batch_size=self.batch_size, threads=self.threads, params=dict(self.params or {}),
            )  # fmt: skip
        fit_kw: dict[str, Any] = {"kind": self.base, "seed": self.seed, "threads": self.threads,
                                  "params": dict(self.params or {})}  # fmt: skip
        if self.base != "lightgbm":
            fit_kw["train"] = {"epochs": self.epochs, "lr": self.lr, "batch_size": self.batch_size}
        return LEARNERS[self.learner](n_arms).fit(train, valid, fit_kw)


def _source(table: pa.Table) -> str | None:
    from needmap.data.provenance import source_of

    return source_of(table)


def _complete_rows(
    table: pa.Table, treatment: str, outcome: str, propensity: str | None
) -> tuple[pa.Table, dict[str, Any]]:
    """The rows with a treatment and an outcome (and a propensity when one is named); the others are left out
    and counted by reason."""
    import pyarrow.compute as pc

    file = _source(table)
    for name in (treatment, outcome, *([propensity] if propensity else [])):
        if name not in table.column_names:
            raise DataError(
                f"the table has no column {name!r}; expected one of {', '.join(table.column_names)}.", file=file
            )
    report: dict[str, Any] = {"rows_in": table.num_rows}
    keep = None
    for name, key in ((treatment, "rows_without_treatment"), (outcome, "rows_without_outcome"),
                      *(((propensity, "rows_without_propensity"),) if propensity else ())):  # fmt: skip
        valid = pc.is_valid(table.column(name))
        report[key] = int(table.num_rows - pc.sum(valid).as_py()) if table.num_rows else 0
        keep = valid if keep is None else pc.and_(keep, valid)
    if keep is not None and any(report[k] for k in report if k.startswith("rows_without")):
        table = table.filter(keep)
    if table.num_rows == 0:
        raise DataError("no row has both a treatment and an outcome; expected a campaign's rows.", file=file)
    return table, report


def outcome_values(table: pa.Table, column: str, file: str | None) -> tuple[np.ndarray, str]:
    """The outcome as float64 and its task: "binary" when every value is 0 or 1 (or true/false), else
    "regression" (an amount). DataError for text."""
    col = table.column(column)
    if pa.types.is_boolean(col.type):
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64), "binary"
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise DataError(
            f"the outcome column {column!r} is {col.type}; expected 0/1 (a conversion) or numbers (an amount).",
            file=file, column=column,
        )  # fmt: skip
    y = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
    if not np.isfinite(y).all():
        raise DataError(f"the outcome column {column!r} holds NaN or infinite values; expected numbers.",
                        file=file, column=column)  # fmt: skip
    return y, "binary" if np.isin(y, (0.0, 1.0)).all() else "regression"


def _propensity(table: pa.Table, column: str | None, file: str | None) -> np.ndarray | None:
    if column is None:
        return None
    p = np.asarray(table.column(column).to_numpy(zero_copy_only=False), dtype=np.float64)
    bad = np.flatnonzero(~((p > 0) & (p <= 1)))
    if len(bad):
        raise DataError(
            f"the propensity column {column!r} holds {float(p[bad[0]])!r} in data row {bad[0] + 1}; expected each "
            "row's chance of the arm it received, above 0 and at most 1.", file=file, column=column,
        )  # fmt: skip
    return p


class UpliftPredictor:
    """A fitted uplift model: its parameters, arms, schema, preprocessor, fitted learner, report and metrics."""

    def __init__(
        self,
        params: dict[str, Any],
        arms: tuple[str, ...],
        task: str,
        schema: Any,
        preprocessor: Any,
        fitted: MetaLearner | UpliftNetwork,
        report: dict[str, Any],
    ) -> None:
        self.params = params
        self.arms = tuple(arms)
        self.task = task
        self.schema = schema
        self.preprocessor = preprocessor
        self.fitted = fitted
        self.report_ = report
        self.metrics_: dict[str, Any] = {}
        #: The campaign's customers summarized (:class:`needmap.explain.population.Population`): the reference row
        #: of the networks' attributions and what reasons compare a customer with; None for a directory saved
        #: without one.
        self.population: Population | None = None

    @property
    def offers(self) -> tuple[str, ...]:
        return self.arms[1:]

    @property
    def learner(self) -> str:
        return str(self.params["learner"])

    def _table(self, data: Any) -> pa.Table:
        from needmap.data.read import read

        return data if isinstance(data, pa.Table) else read(data)

    def effects(self, data: Any) -> np.ndarray:
        """Each row's predicted effect of each offer against control, float64 ``[n, offers]``: points of
        conversion chance for a 0/1 outcome, the outcome's units for an amount."""
        x = self.preprocessor.transform(self._table(data))
        if isinstance(self.fitted, UpliftNetwork):
            outcomes = network_outcomes(self.fitted, x, self.task)
            return outcomes[:, 1:] - outcomes[:, :1]
        return self.fitted.effect(x)

    def predict(self, data: Any) -> pa.Table:
        """The id columns as they came in, ``uplift_<offer>`` per offer, ``best_offer`` (the offer of largest
        predicted uplift, or the control value when none is above 0) and ``best_uplift``."""
        table = self._table(data)
        effect = self.effects(table)
        columns: dict[str, Any] = {}
        for name in names_of(self.params.get("id")):
            if name in table.column_names:
                columns[name] = table.column(name)
        for k, arm in enumerate(self.offers):
            columns[f"uplift_{arm}"] = pa.array(effect[:, k])
        best = np.argmax(effect, axis=1)
        best_value = effect[np.arange(len(effect)), best]
        names = np.asarray(self.offers, dtype=object)[best]
        names[best_value <= 0] = self.arms[0]
        columns[BEST] = pa.array(names.astype(str).tolist() if len(names) else [], type=pa.string())
        columns["best_uplift"] = pa.array(np.maximum(best_value, 0.0))
        return pa.table(columns)

    def explain(self, data: Any, *, top: int = 3, background: Any = None) -> pa.Table:
        """Why each customer's best offer: the columns that raise and lower its predicted effect, with the
        customer's value and how it compares with the population (``background``; by default the campaign the
        model was fitted on, as it saved it, or ``data`` for a model saved without it), as sentences. Every
        learner explains (:mod:`needmap.uplift.why`): exactly over lightgbm (TreeSHAP), by Integrated Gradients
        for networks, whose reference row is the population's means and modes."""
        from needmap.uplift.why import offer_reasons

        population = self.population if background is None else self._table(background)
        return offer_reasons(self, self._table(data), top=top, population=population)

    def evaluate(self, data: Any, *, k: float = 0.3) -> dict[str, Any]:
        """The uplift metrics of each offer on ``data`` (rows of that offer and control): Qini coefficient,
        AUUC (normalized), uplift and incremental outcome at ``k``, uplift by decile."""
        from needmap.uplift.evaluate import evaluate_effects

        table = self._table(data)
        table, _ = _complete_rows(table, self.params["treatment"], self.params["outcome"], None)
        file = _source(table)
        y, _ = outcome_values(table, self.params["outcome"], file)
        arms = campaign_arms(
            treatment_text(table.column(self.params["treatment"])), y, self.arms[0],
            column=self.params["treatment"], outcome_column=self.params["outcome"], file=file, known=self.arms,
        )  # fmt: skip
        return evaluate_effects(self.effects(table), arms, y, self.task, k=k)

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model directory at ``path`` atomically: uplift.json (parameters, arms, schema,
        preprocessor, the learner's description; LightGBM as its own text), weights.safetensors (networks),
        metrics.json and card.md."""
        from safetensors.torch import save_file

        from needmap.model_place import write_json_file, write_model_directory

        def write(staging: Path) -> None:
            tensors: dict[str, Any] = {}
            if isinstance(self.fitted, UpliftNetwork):
                learner = {"network": self.fitted.hyper}
                tensors.update({f"network/{k}": v.detach().contiguous() for k, v in self.fitted.state_dict().items()})
            else:
                learner = {"meta": self.fitted.document(tensors)}
            if not tensors:  # safetensors needs one tensor; a model of trees has none
                import torch

                tensors["empty"] = torch.zeros(1)
            save_file(tensors, str(staging / "weights.safetensors"))
            document = {
                "format_version": FORMAT_VERSION, "kind": "uplift", "params": _plain(self.params),
                "arms": list(self.arms), "task": self.task, "schema": self.schema.to_dict(),
                "preprocessor": self.preprocessor.to_dict(), "learner": learner, "report": _plain(self.report_),
            }  # fmt: skip
            write_json_file(staging / "uplift.json", document)
            write_json_file(staging / "metrics.json", _plain(self.metrics_))
            if self.population is not None:
                write_json_file(staging / POPULATION_FILE, self.population.to_dict())
            (staging / "card.md").write_text(_card(self), encoding="utf-8")

        return write_model_directory(Path(path), UPLIFT_FILES, write)


def is_uplift(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an uplift model directory."""
    return (Path(path) / "uplift.json").is_file()


def load_uplift(path: str | os.PathLike[str]) -> UpliftPredictor:
    """The uplift model saved at ``path`` (JSON and safetensors only: loading executes no code)."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    from needmap.model_place import MANIFEST, check_manifest, read_model_version
    from needmap.preprocessing.preprocess import Preprocessor
    from needmap.safe_json import load_json
    from needmap.schema import Schema

    folder = Path(path)
    file = str(folder / "uplift.json")
    files, listing = read_model_version(folder, (*FILES, MANIFEST))
    if "uplift.json" not in files:
        raise ArtifactError(f"{folder} is not an uplift model directory (no uplift.json).")
    check_manifest(folder, files, listing, UPLIFT_FILES)  # before anything is parsed
    document = load_json(files["uplift.json"], name="uplift.json", file=str(folder))
    try:
        tensors = load_tensors(files["weights.safetensors"])
    except (KeyError, SafetensorError) as exc:
        raise ArtifactError(f"{folder / 'weights.safetensors'}: cannot be read ({exc}).") from None
    if not isinstance(document, dict) or (document.get("format_version"), document.get("kind")) != (
        FORMAT_VERSION,
        "uplift",
    ):
        found = document.get("format_version") if isinstance(document, dict) else type(document).__name__
        raise ArtifactError(f"{file}: format {found!r}; expected {FORMAT_VERSION}.")
    learner = document["learner"]
    if "network" in learner:
        fitted: MetaLearner | UpliftNetwork = UpliftNetwork(**learner["network"])
        state = {k[len("network/") :]: v for k, v in tensors.items() if k.startswith("network/")}
        fitted.load_state_dict(state)
        fitted.eval()
    else:
        fitted = meta_from_document(learner["meta"], tensors, file)
    predictor = UpliftPredictor(
        document["params"], tuple(document["arms"]), document["task"], Schema.from_dict(document["schema"]),
        Preprocessor.from_dict(document["preprocessor"]), fitted, document.get("report", {}),
    )  # fmt: skip
    if "metrics.json" in files:
        predictor.metrics_ = load_json(files["metrics.json"], name="metrics.json", file=str(folder))
    if POPULATION_FILE in files:
        document = load_json(files[POPULATION_FILE], name=POPULATION_FILE, file=str(folder))
        predictor.population = Population.from_dict(document, file=str(folder / POPULATION_FILE)).check(
            predictor.preprocessor, file=str(folder / POPULATION_FILE)
        )
    return predictor


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _card(predictor: UpliftPredictor) -> str:
    params = predictor.params
    lines = [
        f"# Uplift model: {predictor.learner}"
        + (f" over {params['base']}" if predictor.learner in META_LEARNERS else ""),
        "",
        f"- treatment column `{params['treatment']}`, control `{predictor.arms[0]}`, offers: "
        + ", ".join(f"`{a}`" for a in predictor.offers),
        f"- outcome `{params['outcome']}` ({'0/1' if predictor.task == 'binary' else 'an amount'})",
        f"- rows: {predictor.report_.get('train_rows')} training, "
        f"{predictor.report_.get('validation_rows')} validation",
    ]
    validation = predictor.metrics_.get("validation") or {}
    for arm, m in (validation.get("arms") or {}).items():
        lines.append(f"- validation, {arm}: Qini coefficient {m['qini_coefficient']:.4f}, AUUC {m['auuc']:.4f}")
    return "\n".join(lines) + "\n"
