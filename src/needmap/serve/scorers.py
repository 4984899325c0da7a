"""What each kind of saved model answers, in JSON rows: the one place the service calls the models.

:func:`scorer_for` wraps what :func:`needmap.predictor.load` returned:

- a model of a table (:class:`~needmap.predictor.Predictor`): ``predict`` (the id columns as they came in, then
  the outputs ``needmap predict`` writes: :mod:`needmap.score_columns`), ``explain`` (reason codes) and, for a
  model of one binary target, ``target`` (the contact list of a response model, which says it is not causal);
- an uplift model (:class:`~needmap.uplift.model.UpliftPredictor`): ``predict`` (``uplift_<offer>``,
  ``best_offer``, ``best_uplift``), ``explain`` and ``target`` (:func:`needmap.uplift.target.choose_contacts`);
- a recommender (:class:`~needmap.recommend.recommender.Recommender`): ``recommend`` and, for ItemKNN and EASE,
  ``explain``.

One row scored by a model of a table takes the predictor's one-row path (``predict_proba`` of a dict: the row
encoded in plain Python and the network's traced one-row graph), whose scores are those of ``predict`` on that
row: the same path runs for a table of one row. Its id values are copied as they came when reading would keep
them as they are (:func:`needmap.serve.rows.reads_as_given`); otherwise the row goes the table's way.
Every method here blocks: the routes run them on the service's threads (:class:`needmap.serve.limits.Runner`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.serve.rows import json_rows, picked, plain, reads_as_given, rows_table

#: The routes a model may answer, in the order they are listed.
ROUTES = ("predict", "explain", "target", "recommend")
RESPONSE_NOTE = (
    "a response model ranks by the chance to buy, not by what the contact changes: the list includes customers "
    "who would buy anyway (an uplift model, trained on a randomized test, ranks by the change)."
)


@dataclass(frozen=True)
class Column:
    """One field of a request's rows: a column of the model's input (``role``: numeric, categorical, multihot,
    sequence) or an id column (``role`` id, copied to the answer), with the Arrow type it was trained with
    (``dtype``), an example value, and whether every row must hold it (an id column need not)."""

    name: str
    role: str
    dtype: str
    example: Any
    required: bool


@dataclass(frozen=True)
class Output:
    """One field of an answer's rows: its name and JSON type (number, integer, string, boolean, array)."""

    name: str
    type: str


def json_type(kind: pa.DataType) -> str:
    """The JSON type of an Arrow type's values."""
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return "array"
    return "string"


def dtype_json_type(dtype: str) -> str:
    """The JSON type of a column trained as ``dtype`` (an Arrow type's name)."""
    try:
        return json_type(pa.type_for_alias(dtype))
    except (ValueError, KeyError):
        return "array" if dtype.startswith(("list", "large_list")) else "string"


def headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers of a model's validation (or test) metrics, nested as they are, lists left out."""

    def numbers(value: Any, depth: int) -> Any:
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return value if math.isfinite(value) else None
        if isinstance(value, Mapping) and depth < 3:
            kept = {str(k): numbers(v, depth + 1) for k, v in value.items()}
            kept = {k: v for k, v in kept.items() if v is not None and v != {}}
            return kept or None
        return None

    for part in ("validation", "test"):
        found = numbers(metrics.get(part), 0)
        if found:
            return found
    return {}


def _example(name: str, role: str, dtype: str, preprocessor: Any) -> Any:
    """A plausible value of a column, from what the preprocessor kept of training (a numeric column's
    imputation value, a categorical column's most frequent category)."""
    kind = dtype_json_type(dtype)
    if role == "numeric":
        for column in getattr(preprocessor, "numeric_columns_", ()):
            if column.name == name and math.isfinite(column.impute_value):
                return round(column.impute_value) if kind == "integer" else round(float(column.impute_value), 4)
        return False if kind == "boolean" else 0
    if role == "categorical":
        for encoder in getattr(preprocessor, "vocabularies_", ()):
            values = getattr(encoder, "values", None) if encoder.name == name else None
            if values:
                try:
                    return {"integer": int, "number": float, "boolean": lambda v: v.lower() == "true"}.get(kind, str)(
                        values[0]
                    )
                except ValueError:
                    break
        return {"integer": 1, "number": 1.0, "boolean": True}.get(kind, "a")
    if role in ("multihot", "sequence"):
        return [] if kind == "array" else "a"
    return {"integer": 1, "number": 1.0, "boolean": True}.get(kind, "customer-1")


class Scorer:
    """The answers of one loaded model (see the module); a subclass per kind of model."""

    kind = ""
    #: the routes this model answers (some of :data:`ROUTES`)
    routes: tuple[str, ...] = ()
    #: the fields of a request's rows (none for a recommender)
    inputs: tuple[Column, ...] = ()
    #: the fields of predict's rows after the id columns
    outputs: tuple[Output, ...] = ()
    #: the fields of target's rows after the id columns
    contact_outputs: tuple[Output, ...] = ()
    #: a recommender's customer ids' and items' JSON types
    customer_type = "string"
    item_type = "string"
    #: how many items a recommender knows (the most it can recommend to one customer)
    items = 0

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    def ids(self) -> list[str]:
        return [c.name for c in self.inputs if c.role == "id"]

    @property
    def reads(self) -> frozenset[str]:
        """The row fields the model reads (the others are ignored)."""
        return frozenset(c.name for c in self.inputs)

    def example_row(self) -> dict[str, Any]:
        return {c.name: c.example for c in self.inputs}

    def example_customer(self) -> Any:
        return None

    def describe(self) -> dict[str, Any]:
        """What ``GET /v1/models`` says of the model beside its name and version."""
        return {
            "kind": self.kind,
            "routes": list(self.routes),
            "metrics": headline(getattr(self.model, "metrics_", None) or {}),
            "inputs": [
                {
                    "name": c.name,
                    "role": c.role,
                    "dtype": c.dtype,
                    "type": dtype_json_type(c.dtype),
                    "required": c.required,
                }
                for c in self.inputs
            ],
            "outputs": [{"name": o.name, "type": o.type} for o in self.outputs],
        }

    def warm(self) -> None:
        """Score the example once (and two rows at once), so that the first request does not pay for what a
        model builds on its first call (the one-row graph)."""
        if "predict" in self.routes:
            example = self.example_row()
            self.predict([example])
            self.predict([example, example])

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
        raise NotImplementedError

    def explain(self, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def target(self, request: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def recommend(self, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError


def _contacts(table: pa.Table, contacts: Any, ids: list[str], offers: Sequence[str], uplift_name: str) -> dict:
    from needmap.uplift.contact_list import contact_table

    result = contact_table(table, [c for c in ids if c in table.column_names], contacts, offers,
                           uplift_name=uplift_name)  # fmt: skip
    return {
        "rows": json_rows(result),
        "customers": table.num_rows,
        "eligible": int(contacts.eligible),
        "short": bool(contacts.short),
        "expected_gain": plain(float(np.sum(contacts.gain, dtype=np.float64))),
    }


class TableScorer(Scorer):
    """A model of a table (a :class:`needmap.predictor.Predictor`)."""

    kind = "table"

    def __init__(self, model: Any) -> None:
        from needmap.predictor import network_outputs
        from needmap.score_columns import key_columns, present_ids, scores_table

        super().__init__(model)
        schema = model.schema_
        self.schema = schema
        keys = key_columns(schema)
        preprocessor = model.preprocessor_
        inputs = []
        for name in [*(n for n in keys if n not in schema.features), *schema.features]:
            spec = schema.column(name)
            role = "id" if name not in schema.features else spec.role
            inputs.append(Column(name, role, spec.dtype, _example(name, role, spec.dtype, preprocessor), role != "id"))
        self.inputs = tuple(inputs)
        self.one_binary = len(schema.heads) == 1 and schema.task == "binary"
        self.routes = ("predict", "explain", "target") if self.one_binary else ("predict", "explain")
        example_ids = pa.table({n: [self.example_row()[n]] for n in keys}) if keys else pa.table({})
        shaped = scores_table(example_ids, schema, np.zeros((1, network_outputs(schema))))
        self.outputs = tuple(
            Output(f.name, json_type(f.type)) for f in shaped.schema if f.name not in example_ids.column_names
        )
        self.keys = tuple(present_ids(schema, self.reads))
        self.one_row = True  # whether one row takes the one-row path (checked by warm)
        self._layouts: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self.contact_outputs = (Output("offer", "string"), Output("probability", "number"),
                                Output("expected_gain", "number"), Output("rank", "integer"))  # fmt: skip

    def describe(self) -> dict[str, Any]:
        heads = self.schema.heads
        task = heads[0].task if len(heads) == 1 else "multi-task"
        return {**super().describe(), "task": task, "architecture": self.model.model,
                "targets": [h.name for h in heads]}  # fmt: skip

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
        from needmap.score_columns import scores_notes, scores_table

        if self.one_row and len(rows) == 1 and all(reads_as_given(rows[0].get(k)) for k in self.keys):
            return self.predict_one(picked(rows[0], self.reads))
        table = rows_table(rows, self.reads)
        scores = scores_table(table, self.schema, self.model.predict_proba(table))
        return json_rows(scores), scores_notes(self.schema, table.column_names)

    def predict_one(self, row: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        """One row by the predictor's one-row path, written without Arrow: the id values as they came (they read
        as given), then the outputs under the names :func:`needmap.score_columns.scores_table` gives them."""
        present = tuple(k for k in self.keys if k in row)
        names, notes = self._layout(present)
        values = self._values(self.model.predict_proba(row))
        scored = {k: row[k] for k in present}
        scored.update(zip(names, values, strict=True))
        return [scored], list(notes)

    def _layout(self, present: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The output names and the notes of rows holding the key columns ``present`` (made once for each)."""
        from needmap.predictor import network_outputs
        from needmap.score_columns import scores_notes, scores_table

        found = self._layouts.get(present)
        if found is None:
            ids = pa.table({k: pa.nulls(1) for k in present}) if present else pa.table({})
            shaped = scores_table(ids, self.schema, np.zeros((1, network_outputs(self.schema))))
            names = tuple(name for name in shaped.column_names if name not in present)
            found = self._layouts[present] = (names, tuple(scores_notes(self.schema, present)))
        return found

    def _values(self, out: np.ndarray) -> list[Any]:
        """One row's outputs in the order of its columns: per target, a multiclass target's predicted class then
        its probabilities, every other target's values as they are (NaN and infinities as null)."""
        from needmap.score_columns import head_columns

        values: list[Any] = []
        for head, part in zip(self.schema.heads, head_columns(self.schema, out), strict=True):
            numbers = [float(v) for v in np.asarray(part, dtype=np.float64).reshape(-1)]
            if head.task == "multiclass":
                values.append(head.classes[int(np.argmax(numbers))])
            values += [v if math.isfinite(v) else None for v in numbers]
        return values

    def warm(self) -> None:
        """Score the example, and check that its one-row answer is the table's, value for value (else every row
        takes the table's way)."""
        from needmap.score_columns import scores_table

        super().warm()
        example = picked(self.example_row(), self.reads)
        table = rows_table([example], self.reads)
        expected = json_rows(scores_table(table, self.schema, self.model.predict_proba(table)))
        self.one_row = self.predict_one(example)[0] == expected

    def explain(self, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        return json_rows(self.model.explain(rows_table(request["rows"], self.reads), top=request["top"]))

    def target(self, request: Mapping[str, Any]) -> dict[str, Any]:
        from needmap.uplift.target import response_contacts

        table = rows_table(request["rows"], self.reads)
        contacts = response_contacts(
            self.model.predict_proba(table), request["cost"], value=request["value"], budget=request["budget"],
            max_contacts=request["max_contacts"],
        )  # fmt: skip
        return {**_contacts(table, contacts, self.schema.ids, ("contact",), "probability"), "note": RESPONSE_NOTE}


class UpliftScorer(Scorer):
    """An uplift model (a :class:`needmap.uplift.model.UpliftPredictor`)."""

    kind = "uplift"
    routes = ("predict", "explain", "target")

    def __init__(self, model: Any) -> None:
        from needmap.uplift.campaign_rows import names_of
        from needmap.uplift.model import BEST

        super().__init__(model)
        schema, preprocessor = model.schema, model.preprocessor
        self.id_names = names_of(model.params.get("id"))
        dtypes = {c.name: c.dtype for c in schema.columns}
        inputs = []
        for name in [*(n for n in self.id_names if n not in schema.features), *schema.features]:
            role = "id" if name not in schema.features else schema.column(name).role
            dtype = dtypes.get(name, "string")
            inputs.append(Column(name, role, dtype, _example(name, role, dtype, preprocessor), role != "id"))
        self.inputs = tuple(inputs)
        self.outputs = (
            *(Output(f"uplift_{offer}", "number") for offer in model.offers),
            Output(BEST, "string"),
            Output("best_uplift", "number"),
        )
        self.contact_outputs = (Output("offer", "string"), Output("predicted_uplift", "number"),
                                Output("expected_gain", "number"), Output("rank", "integer"))  # fmt: skip

    def describe(self) -> dict[str, Any]:
        model = self.model
        return {**super().describe(), "task": model.task, "learner": model.learner, "control": model.arms[0],
                "offers": list(model.offers)}  # fmt: skip

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
        return json_rows(self.model.predict(rows_table(rows, self.reads))), []

    def explain(self, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        return json_rows(self.model.explain(rows_table(request["rows"], self.reads), top=request["top"]))

    def target(self, request: Mapping[str, Any]) -> dict[str, Any]:
        from needmap.uplift.target import choose_contacts, offer_costs

        table = rows_table(request["rows"], self.reads)
        costs = offer_costs(self.model.offers, request["cost"], request.get("cost_per_arm") or {})
        contacts = choose_contacts(
            self.model.effects(table), costs, value=request["value"], budget=request["budget"],
            max_contacts=request["max_contacts"],
        )  # fmt: skip
        return {**_contacts(table, contacts, self.id_names, self.model.offers, "predicted_uplift"), "note": None}


class RecommenderScorer(Scorer):
    """A recommender (a :class:`needmap.recommend.recommender.Recommender`)."""

    kind = "recommender"

    def __init__(self, model: Any) -> None:
        from needmap.recommend.algorithm import Algorithm

        super().__init__(model)
        explains = type(model.algorithm_).contributions is not Algorithm.contributions
        self.routes = ("recommend", "explain") if explains else ("recommend",)
        self.customer_type = json_type(model.data_.customer_ids.type)
        self.item_type = json_type(model.data_.item_ids.type)
        self.items = int(model.data_.n_items)
        self.outputs = (Output("customer", self.customer_type), Output("rank", "integer"),
                        Output("item", self.item_type), Output("score", "number"))  # fmt: skip

    def example_customer(self) -> Any:
        ids = self.model.data_.customer_ids
        return ids[0].as_py() if len(ids) else ("customer-1" if self.customer_type == "string" else 1)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "algorithm": self.model.algorithm_.name, "items": self.items,
                "customer_type": self.customer_type, "item_type": self.item_type}  # fmt: skip

    def warm(self) -> None:
        self.recommend({"customers": [self.example_customer()], "k": 1, "keep_seen": False, "allow": None})

    def recommend(self, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        found = self.model.recommend(
            request["customers"], request["k"], keep_seen=request["keep_seen"], allow=request.get("allow")
        )
        return json_rows(found)

    def explain(self, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        found = self.model.explain(request["customers"], request["k"], top=request["top"],
                                   keep_seen=request["keep_seen"])  # fmt: skip
        return json_rows(found)


def scorer_for(model: Any) -> Scorer:
    """The scorer of a loaded model (what :func:`needmap.predictor.load` returned)."""
    from needmap.predictor import Predictor
    from needmap.recommend.recommender import Recommender
    from needmap.uplift.model import UpliftPredictor

    if isinstance(model, Predictor):
        return TableScorer(model)
    if isinstance(model, UpliftPredictor):
        return UpliftScorer(model)
    if isinstance(model, Recommender):
        return RecommenderScorer(model)
    raise TypeError(f"needmap serve cannot serve a {type(model).__name__}")
