"""Request and response models made from each model's schema, with an example row; and how a body is read.

Each served model gets its own pydantic models (:class:`Bodies`): a row holds one field per input column of the
model, typed by the type the column had in training (a numeric column takes a number, a categorical column of
text takes text, one of whole numbers a whole number, ...; any of them may be null, a missing value), and an
optional field per id column, copied to the answer. Every input column must be in every row (null where its
value is missing), so that a forgotten column is named rather than scored as missing. Other fields are
ignored. The request models (``rows`` with the route's options) and the response models are what the API's
description shows (``/docs``), with an example made from the model's training (the most frequent category, a
typical number).

A body is checked in full before the model sees it: the first problem found answers 422 naming the row (its
position in ``rows``, from 0) and the field, with how many more there are. The rows that pass are given to the
model as they came (:mod:`needmap.serve.rows` reads them), not as pydantic converted them.

A model served with online features (:mod:`needmap.serve.online`) also takes a row of its customer column alone
(``{"customer_id": "C000042"}``): its feature fields are optional in the request model, and the check that
follows pydantic's asks each row for either every feature column (as above) or none of them with a customer id
(text or a whole number). Its API description shows both forms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from needmap.serve.errors import ServiceError
from needmap.serve.online import OnlineInputs
from needmap.serve.scorers import Column, Output, Scorer, dtype_json_type

#: How a JSON type is said in an error message.
EXPECTED = {
    "number": "a number",
    "integer": "a whole number",
    "string": "text",
    "boolean": "true or false",
    "array": "a list",
}
_PYTHON = {"number": float, "integer": int, "string": str, "boolean": bool}
#: The largest cost or worth of one contact (sums of gains stay far from overflowing).
MONEY = 1e12


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


async def json_body(request: Any) -> Any:
    """The request's body read as JSON: 400 (kind ``json``) for an empty body or one that is not JSON (NaN and
    Infinity included: JSON has no such values)."""
    body = await request.body()
    if not body.strip():
        raise ServiceError(400, "json", "the request has no body; expected a JSON object.")
    try:
        document = json.loads(body, parse_constant=_refuse_constant)
        json.dumps(document, ensure_ascii=False).encode("utf-8")  # a lone surrogate escape is no text
        return document
    except UnicodeEncodeError:
        raise ServiceError(
            400, "json", "the body holds a \\u escape that is half a character; expected text."
        ) from None
    except json.JSONDecodeError as err:
        raise ServiceError(
            400, "json", f"the body is not JSON: {err.msg} at line {err.lineno}, column {err.colno}."
        ) from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ServiceError(400, "json", f"the body is not JSON: {err}.") from None


def component_name(name: str) -> str:
    """A model's name as the start of its schemas' names: ``churn-v2`` -> ``ChurnV2``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part) or "Model"


def _within_64_bits(value: Any) -> Any:
    """A whole number as Arrow holds it (64 bits): JSON's are of any size."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise ValueError("out of range")
    return value


def _sized(kind: Any) -> Any:
    """``kind`` taking no whole number beyond 64 bits."""
    from typing import Annotated

    from pydantic import BeforeValidator

    return Annotated[kind, BeforeValidator(_within_64_bits)]


def _bounded(low: float, high: float) -> Any:
    """A number from ``low`` to ``high``."""
    from typing import Annotated

    from pydantic import Field

    return Annotated[float, Field(ge=low, le=high)]


def _value_type(column: Column) -> Any:
    kind = dtype_json_type(column.dtype)
    if column.role == "id":
        return _sized((str | int | float) if kind == "number" else (str | int))
    if column.role in ("multihot", "sequence"):
        return list[_sized(str | int)] if kind == "array" else str
    return _sized(_PYTHON.get(kind, str))


def _expected(column: Column) -> str:
    if column.role == "id":
        return "text or a whole number"
    kind = dtype_json_type(column.dtype)
    kind = "array" if column.role in ("multihot", "sequence") and kind == "array" else kind
    return EXPECTED.get(kind, "text")


def _output_type(output: Output) -> Any:
    if output.type == "array":
        return list[Any] | None
    return _PYTHON.get(output.type, str) | None


def _model(title: str, fields: Mapping[str, tuple[Any, Any]], *, extra: str, example: Any = None) -> Any:
    from pydantic import ConfigDict, create_model

    config = ConfigDict(strict=True, extra=extra, allow_inf_nan=False, title=title, populate_by_name=False,
                        json_schema_extra={"examples": [example]} if example is not None else None)  # fmt: skip
    return create_model(title, __config__=config, **fields)


def _field(alias: str, default: Any = ..., **constraints: Any) -> Any:
    from pydantic import Field

    return Field(default, alias=alias, title=alias, **constraints)


def _row_fields(columns: tuple[Column, ...], online: OnlineInputs | None = None) -> dict[str, tuple[Any, Any]]:
    optional = online.feature_set if online is not None else frozenset()
    return {
        f"c{i}": (
            _value_type(c) | None,
            _field(c.name, ... if c.required and c.name not in optional else None, description=_describe(c, online)),
        )
        for i, c in enumerate(columns)
    }


def _describe(column: Column, online: OnlineInputs | None = None) -> str:
    if online is not None and column.name == online.customer:
        return (
            "The customer's id: copied to the answer as it came. Alone in a row (no feature column), the customer's "
            f"features are read from Redis at {online.source.where}."
        )
    if column.role == "id":
        return "An id column of the model: copied to the answer as it came."
    text = f"A {column.role} input, trained as {column.dtype}: {_expected(column)}, or null where it is missing."
    if online is not None and column.name in online.feature_set:
        text += f" Required unless the row holds '{online.customer}' alone."
    return text


def _out_fields(ids: list[Column], outputs: tuple[Output, ...], extra: tuple[Output, ...] = ()) -> dict:
    fields: dict[str, tuple[Any, Any]] = {}
    for i, c in enumerate(ids):
        fields[f"i{i}"] = (_value_type(c) | None, _field(c.name, None))
    for i, o in enumerate((*extra, *outputs)):
        fields[f"o{i}"] = (_output_type(o), _field(o.name, None if o in extra else ...))
    return fields


class Bodies:
    """The request and response models of one served model (see the module)."""

    def __init__(self, name: str, scorer: Scorer, online: OnlineInputs | None = None) -> None:
        self.name = name
        self.scorer = scorer
        self.online = online
        self.prefix = component_name(name)
        self.requests: dict[str, Any] = {}
        self.responses: dict[str, Any] = {}
        #: the request examples of a route with more than one, for the API's description: (name, summary, value)
        self.examples: dict[str, list[tuple[str, str, Any]]] = {}
        self.columns = {c.name: c for c in scorer.inputs}
        if scorer.kind == "recommender":
            self._recommender(scorer)
        else:
            self._rows(scorer)

    # -- building --------------------------------------------------------------------------------------------
    def _common(self) -> dict[str, tuple[Any, Any]]:
        return {"model": (str, _field("model")), "version": (str, _field("version"))}

    def _rows(self, scorer: Scorer) -> None:
        p = self.prefix
        example = scorer.example_row()
        online = self.online
        row = _model(f"{p}Row", _row_fields(scorer.inputs, online), extra="ignore", example=example)
        rows = (list[row], _field("rows", min_length=1, description="The rows to score, one JSON object each."))
        ids = [c for c in scorer.inputs if c.role == "id"]
        top = max(1, len([c for c in scorer.inputs if c.role != "id"]))
        default_top = 5 if scorer.kind == "table" else 3
        self.requests["predict"] = _model(f"{p}PredictRequest", {"rows": rows}, extra="forbid",
                                          example={"rows": [example]})  # fmt: skip
        scored = _model(f"{p}PredictRow", _out_fields(ids, scorer.outputs), extra="allow")
        notes = (list[str], _field("notes", [], description="What the rows lack (an id column), as sentences."))
        self.responses["predict"] = _model(f"{p}PredictResponse", {**self._common(), "rows": (list[scored],
                                           _field("rows")), "notes": notes}, extra="allow")  # fmt: skip
        explain_top = (
            int,
            _field(
                "top",
                min(default_top, top),
                ge=1,
                le=top,
                description="Columns per row that raise the score, and as many that lower it.",
            ),
        )
        self.requests["explain"] = _model(f"{p}ExplainRequest", {"rows": rows, "top": explain_top}, extra="forbid",
                                          example={"rows": [example], "top": min(default_top, top)})  # fmt: skip
        self.responses["explain"] = self._loose(f"{p}ExplainResponse")
        if "target" not in scorer.routes:
            self._online_examples()
            return
        number = int | None
        fields: dict[str, tuple[Any, Any]] = {
            "rows": rows,
            "budget": (number, _field("budget", None, ge=1, description="Contact exactly this many (the best).")),
            "max_contacts": (number, _field("max_contacts", None, ge=1,
                                            description="Without budget: at most this many of those who gain.")),
            "cost": (float, _field("cost", 0.0, ge=0, le=MONEY, description="Cost of one contact.")),
            "value": (float, _field("value", 1.0, gt=0, le=MONEY, description="Worth of one unit of the outcome.")),
        }  # fmt: skip
        if scorer.kind == "uplift":
            offer = Literal[tuple(scorer.model.offers)]  # type: ignore[valid-type]
            fields["cost_per_arm"] = (dict[offer, _bounded(0, MONEY)] | None, _field("cost_per_arm", None,
                                      description="Cost of a contact per offer (default: cost)."))  # fmt: skip
        target_example = {"rows": [example], "budget": 1, "cost": 0.0, "value": 1.0}
        self.requests["target"] = _model(f"{p}TargetRequest", fields, extra="forbid", example=target_example)
        self._online_examples()
        contact = _model(f"{p}Contact", _out_fields(ids, scorer.contact_outputs, (Output("row", "integer"),)),
                         extra="allow")  # fmt: skip
        self.responses["target"] = _model(f"{p}TargetResponse", {
            **self._common(), "rows": (list[contact], _field("rows")),
            "customers": (int, _field("customers")), "eligible": (int, _field("eligible")),
            "short": (bool, _field("short")), "expected_gain": (float | None, _field("expected_gain")),
            "note": (str | None, _field("note", None)),
        }, extra="allow")  # fmt: skip

    def _online_examples(self) -> None:
        """With online features, each rows route's examples: the row with its features, and the customer id alone."""
        online = self.online
        if online is None:
            return
        example = self.scorer.example_row()
        alone = {online.customer: example.get(online.customer)}
        for route, request in self.requests.items():
            full = (request.model_config.get("json_schema_extra") or {}).get("examples", [None])[0]
            if not isinstance(full, dict) or "rows" not in full:
                continue
            self.examples[route] = [
                ("features", "A row with its features", full),
                ("customer", f"The customer id alone: the features from Redis at {online.source.where}",
                 {**full, "rows": [alone]}),
            ]  # fmt: skip

    def _recommender(self, scorer: Scorer) -> None:
        p = self.prefix
        customer = _sized(_PYTHON.get(scorer.customer_type, str | int))
        example = scorer.example_customer()
        customers = (list[customer], _field("customers", min_length=1, description="Customer ids."))
        k = (int, _field("k", min(10, scorer.items), ge=1, le=max(1, scorer.items), description="Items a customer."))
        keep_seen = (bool, _field("keep_seen", False, description="Also recommend what a customer already has."))
        allow = (
            list[_sized(_PYTHON.get(scorer.item_type, str | int))] | None,
            _field("allow", None, description="The only items allowed."),
        )
        self.requests["recommend"] = _model(
            f"{p}RecommendRequest", {"customers": customers, "k": k, "keep_seen": keep_seen, "allow": allow},
            extra="forbid", example={"customers": [example], "k": min(10, scorer.items)},
        )  # fmt: skip
        row = _model(f"{p}Recommendation", _out_fields([], scorer.outputs), extra="allow")
        self.responses["recommend"] = _model(f"{p}RecommendResponse", {**self._common(),
                                             "rows": (list[row], _field("rows"))}, extra="allow")  # fmt: skip
        top = (int, _field("top", 3, ge=1, le=20, description="History items named per recommendation."))
        self.requests["explain"] = _model(
            f"{p}RecommendExplainRequest", {"customers": customers, "k": k, "top": top, "keep_seen": keep_seen},
            extra="forbid", example={"customers": [example], "k": min(3, scorer.items), "top": 2},
        )  # fmt: skip
        self.responses["explain"] = self._loose(f"{p}RecommendExplainResponse")

    def _loose(self, title: str) -> Any:
        rows = (list[dict[str, Any]], _field("rows", description="One row per reason."))
        return _model(title, {**self._common(), "rows": rows}, extra="allow")

    # -- checking --------------------------------------------------------------------------------------------
    def check(self, route: str, document: Any) -> dict[str, Any]:
        """``document`` checked against the route's request model: its options as validated, its rows (or
        customers) as they came. ServiceError 422 naming the row and the field of the first problem."""
        from pydantic import ValidationError

        model = self.requests[route]
        try:
            checked = model.model_validate(document)
        except ValidationError as err:
            raise self._problem(route, err.errors(include_url=False, include_context=False)) from None
        raw = {"rows", "customers", "allow"} & set(type(checked).model_fields)
        values = checked.model_dump(by_alias=True, exclude=raw)
        values.update({name: document.get(name) for name in raw})
        if self.online is not None and "rows" in raw:
            self._check_online(values["rows"])
        return values

    def _check_online(self, rows: list[dict[str, Any]]) -> None:
        """Each row holds every feature column, or none of them and a customer id (text or a whole number):
        ServiceError 422 naming the first row that does neither."""
        online = self.online
        assert online is not None
        customer, features = online.customer, online.feature_set
        for i, row in enumerate(rows):
            if row.keys().isdisjoint(features):
                value = row.get(customer)
                if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
                    continue
                found = f"{_shown(value)} in '{customer}'" if customer in row else f"no field '{customer}'"
                raise ServiceError(
                    422, "validation", f"row {i} has no feature column and {found}; expected every input column "
                    f"in each row (null where its value is missing), or the customer id alone in '{customer}' (text "
                    "or a whole number) to read the features from Redis.", row=i, field=customer,
                )  # fmt: skip
            if not features.issubset(row.keys()):
                field = next(c.name for c in self.scorer.inputs if c.name in features and c.name not in row)
                raise ServiceError(
                    422, "validation", f"row {i} has no field '{field}'; expected every input column in each row "
                    f"(null where its value is missing), or the customer id alone in '{customer}' to read the "
                    "features from Redis.", row=i, field=field,
                )  # fmt: skip

    def _problem(self, route: str, problems: list[dict[str, Any]]) -> ServiceError:
        first = problems[0]
        loc = list(first.get("loc", ()))
        more = f" ({len(problems) - 1} more problem{'s' if len(problems) > 2 else ''} in the body)" if len(
            problems) > 1 else ""  # fmt: skip
        kind = first.get("type", "")
        if len(loc) >= 3 and loc[0] == "rows" and isinstance(loc[1], int):
            row, field = loc[1], str(loc[2])
            column = self.columns.get(field)
            if kind == "value_error":
                message = f"row {row}, field '{field}': {_shown(first.get('input'))} is out of range (64 bits)."
            elif kind == "missing":
                message = (f"row {row} has no field '{field}'; expected every input column in each row (null where "
                           "its value is missing).")  # fmt: skip
            else:
                wanted = _expected(column) if column is not None else "another value"
                message = f"row {row}, field '{field}': {_shown(first.get('input'))} is not {wanted} (or null)."
            return ServiceError(422, "validation", message[:-1] + more + ".", row=row, field=field)
        if len(loc) >= 2 and loc[0] in ("rows", "customers", "allow") and isinstance(loc[1], int):
            what = {"rows": "row", "customers": "customer", "allow": "allowed item"}[loc[0]]
            wanted = "a JSON object" if loc[0] == "rows" else "an id: text or a whole number"
            message = f"{what} {loc[1]}: {_shown(first.get('input'))} is not {wanted}."
            return ServiceError(422, "validation", message[:-1] + more + ".", row=loc[1], field=str(loc[0]))
        if not loc:
            return ServiceError(422, "validation", f"the body is not a JSON object of {self._fields(route)}{more}.")
        field = str(loc[0])
        if kind == "extra_forbidden":
            message = f"the body has a field '{field}', which this route does not take; expected {self._fields(route)}."
        elif kind == "missing":
            message = f"the body has no field '{field}'; expected {self._fields(route)}."
        else:
            message = f"field '{field}': {first.get('msg', 'not valid')}; {_shown(first.get('input'))} was given."
        return ServiceError(422, "validation", message[:-1] + more + ".", field=field)

    def _fields(self, route: str) -> str:
        """The fields of the route's body, for a message: ``rows (required), top``."""
        fields = self.requests[route].model_fields.values()
        return "the fields " + ", ".join(f"{f.alias}{' (required)' if f.is_required() else ''}" for f in fields)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
