"""Infer the role of every column (numeric, categorical, id, datetime, target, ignored) and the task.

All statistics are computed with ``pyarrow.compute`` on whole columns; text columns are examined
through their distinct values (``value_counts``), so a column of ``n`` rows with ``k`` distinct
values costs one hash pass over ``n`` plus regular expressions over ``k`` strings.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.overrides import parse_column_list
from needmap.data.read import source_of
from needmap.data.values import stringify
from needmap.errors import ConfigError, SchemaError
from needmap.schema import TASKS, ColumnSpec, Schema

MAX_CLASSES = 50
ID_MIN_ROWS = 20

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
NUMBER_RE = rf"^\s*{_NUMBER}\s*$"
INTEGER_RE = r"^\s*[+-]?\d+\s*$"
_DATE = r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?"
DATETIME_RE = rf"^\s*(?:{_DATE}(?:[T ]{_TIME}(?:Z|[+-]\d{{2}}:?\d{{2}})?)?|{_TIME})\s*$"
_ID_NAME = re.compile(r"(?i:(?:^|[_\W])id$|^uuid$|^guid$)|[a-z0-9](?:Id|ID)$")
POSITIVE_PAIRS: dict[frozenset[str], str] = {
    frozenset({"yes", "no"}): "yes",
    frozenset({"true", "false"}): "true",
    frozenset({"1", "0"}): "1",
    frozenset({"y", "n"}): "y",
    frozenset({"positive", "negative"}): "positive",
}


# -- public API --------------------------------------------------------------------------------------
def infer_schema(
    table: pa.Table,
    target: str | None = None,
    *,
    drop: str | Iterable[str] = (),
    ids: str | Iterable[str] = (),
    categorical: str | Iterable[str] = (),
    numeric: str | Iterable[str] = (),
    datetime: str | Iterable[str] = (),
    task: str | None = None,
    numeric_parse_ratio: float = 0.95,
) -> Schema:
    """Give every column of ``table`` a role and a reason, and infer the task from ``target``.

    Args:
        table: the data, ``n`` rows (as returned by :func:`needmap.data.read.read`).
        target: the column to predict, or None (e.g. to describe a table before training).
        drop, ids, categorical, numeric, datetime: columns forced to the roles ``ignored``, ``id``,
            ``categorical``, ``numeric``, ``datetime``; each a list of names or a comma-separated
            string. They win over inference (reason ``"set by user"``).
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from the target when None.
        numeric_parse_ratio: a text column is numeric when at least this share of its non-missing
            values parse as numbers.

    Returns:
        A :class:`Schema` in table order; ``classes`` holds the target's labels as strings (made with
        :func:`needmap.data.values.stringify`), the positive class last for a binary task.

    Raises:
        SchemaError: the target or an override names no column, a column is in two overrides, or the
            target cannot serve the task (one class, all missing, too many classes, not numeric).
        ConfigError: ``task`` or ``numeric_parse_ratio`` has a value that is not accepted.
    """
    if task is not None and task not in TASKS:
        raise ConfigError(f"task {task!r} is not known; expected one of {', '.join(TASKS)}.")
    if not 0.0 < numeric_parse_ratio <= 1.0:
        raise ConfigError(f"numeric_parse_ratio is {numeric_parse_ratio}; expected a number in (0, 1].")
    names = table.column_names
    file = _file_of(table)
    _check_unique(names, file)
    if target is not None and target not in names:
        raise SchemaError(
            f"target column {target!r} is not in the table; expected one of the columns: {_list(names)}.",
            file=file,
            hint=_closest(target, names),
        )
    roles = _override_roles(
        names,
        file,
        target,
        {
            "drop": _as_names(drop, names),
            "ids": _as_names(ids, names),
            "categorical": _as_names(categorical, names),
            "numeric": _as_names(numeric, names),
            "datetime": _as_names(datetime, names),
        },
    )
    columns: list[ColumnSpec] = []
    classes: list[str] = []
    inferred_task: str | None = None
    for i, name in enumerate(names):
        col = _plain(table.column(i))
        dtype = str(table.schema.field(i).type)
        if name == target:
            inferred_task, classes, reason = _infer_target(name, col, task, file)
            columns.append(ColumnSpec(name, "target", dtype, reason))
        elif name in roles:
            columns.append(ColumnSpec(name, roles[name], dtype, "set by user"))
        else:
            role, reason = _infer_feature(name, col, numeric_parse_ratio)
            columns.append(ColumnSpec(name, role, dtype, reason))
    return Schema(columns=columns, target=target, task=inferred_task, classes=classes)


def describe_schema(schema: Schema, table: pa.Table) -> list[dict[str, Any]]:
    """One row per column of ``schema`` for a printed table.

    Returns:
        dicts with keys ``name``, ``role``, ``type`` (Arrow type as text), ``distinct`` (count of
        distinct non-missing values), ``missing`` (count of null or NaN values) and ``reason``;
        ``distinct`` and ``missing`` are None for a column that ``table`` lacks or whose type cannot
        be counted.
    """
    rows = []
    present = set(table.column_names)
    for spec in schema.columns:
        distinct = missing = None
        if spec.name in present:
            col = _plain(table.column(spec.name))
            missing = _n_missing(col)
            try:
                distinct = int(pc.count_distinct(_valid(col), mode="only_valid").as_py())
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
                distinct = None
        rows.append(
            {
                "name": spec.name,
                "role": spec.role,
                "type": spec.dtype,
                "distinct": distinct,
                "missing": missing,
                "reason": spec.reason,
            }
        )
    return rows


# -- overrides ---------------------------------------------------------------------------------------
def _as_names(value: str | Iterable[str] | None, names: Sequence[str]) -> list[str]:
    """A string is one column name when the table has it, else a comma-separated list."""
    if isinstance(value, str) and value in names:
        return [value]
    return parse_column_list(value)


def _override_roles(
    names: Sequence[str], file: str | None, target: str | None, groups: dict[str, list[str]]
) -> dict[str, str]:
    role_of = {"drop": "ignored", "ids": "id", "categorical": "categorical", "numeric": "numeric"}
    role_of["datetime"] = "datetime"
    owner: dict[str, str] = {target: "target"} if target is not None else {}
    roles: dict[str, str] = {}
    for group, cols in groups.items():
        for col in cols:
            if col not in names:
                raise SchemaError(
                    f"{group} names column {col!r}, which is not in the table; expected one of the "
                    f"columns: {_list(names)}.",
                    file=file,
                    hint=_closest(col, names),
                )
            if col in owner and owner[col] != group:
                raise SchemaError(
                    f"column is given two roles, in {owner[col]} and in {group}; expected one role per column.",
                    file=file,
                    column=col,
                )
            owner[col] = group
            roles[col] = role_of[group]
    return roles


# -- features ----------------------------------------------------------------------------------------
def _infer_feature(name: str, col: pa.ChunkedArray, ratio: float) -> tuple[str, str]:
    """Role and reason of a feature column of ``n`` rows."""
    typ = col.type
    n = len(col)
    missing = _n_missing(col)
    if pa.types.is_null(typ) or missing == n:
        return "ignored", f"all values missing ({n:,} rows)"
    temporal = pa.types.is_temporal(typ) and not pa.types.is_duration(typ)
    supported = (
        temporal
        or pa.types.is_boolean(typ)
        or pa.types.is_integer(typ)
        or pa.types.is_floating(typ)
        or pa.types.is_string(typ)
    )
    if not supported:
        return "ignored", f"type {typ} is not supported"
    valid = _valid(col)
    n_valid = n - missing
    vc = pc.value_counts(valid)
    values, counts = vc.field("values"), vc.field("counts")
    n_distinct = len(values)
    missing_note = f" ({missing:,} missing)" if missing else ""
    if n_distinct == 1:
        shown = stringify(values.slice(0, 1))[0].as_py()
        return "ignored", f"constant: every row is {_clip(shown)!r}{missing_note}"
    if temporal:
        return "datetime", f"dates/times ({typ}); left out of the features"
    if pa.types.is_boolean(typ):
        return "categorical", "true/false values"
    floaty = pa.types.is_floating(typ)
    text_numbers: tuple[int, pa.Array] | None = None
    if pa.types.is_string(typ):
        n_dates = _count_matching(values, counts, DATETIME_RE)
        if n_dates >= ratio * n_valid:
            return "datetime", f"text in ISO date/time format ({n_dates:,} of {n_valid:,} values); left out"
        is_number = pc.match_substring_regex(values, NUMBER_RE)
        n_numbers = int(pc.sum(pc.if_else(is_number, counts, 0)).as_py() or 0)
        if n_numbers >= ratio * n_valid:
            text_numbers = (n_numbers, pc.filter(values, pc.invert(is_number)))
            floaty = not bool(pc.all(pc.match_substring_regex(pc.filter(values, is_number), INTEGER_RE)).as_py())
    if not floaty and n_distinct == n_valid:
        if n_valid > ID_MIN_ROWS:
            return "id", f"all {n_valid:,} values unique{missing_note}"
        if _ID_NAME.search(name):
            return "id", f"named like an identifier and all {n_valid:,} values unique{missing_note}"
    elif floaty and n_distinct == n_valid and _ID_NAME.search(name):
        return "id", f"named like an identifier and all {n_valid:,} values unique{missing_note}"
    if text_numbers is not None:
        n_numbers, bad = text_numbers
        n_bad = n_valid - n_numbers
        if n_bad == 0:
            return "numeric", f"text that parses as numbers (all {n_valid:,} values)"
        examples = ", ".join(repr(_clip(v)) for v in bad.slice(0, 3).to_pylist())
        return "numeric", (
            f"text that parses as numbers: {n_numbers:,} of {n_valid:,} values; {n_bad:,} did not (e.g. {examples})"
        )
    if pa.types.is_string(typ):
        return "categorical", "text"
    return "numeric", "numbers"


def _count_matching(values: pa.Array, counts: pa.Array, pattern: str) -> int:
    """Rows whose value matches ``pattern``, given distinct ``values`` and their row ``counts``."""
    hit = pc.match_substring_regex(values, pattern)
    return int(pc.sum(pc.if_else(hit, counts, 0)).as_py() or 0)


# -- target ------------------------------------------------------------------------------------------
def _infer_target(name: str, col: pa.ChunkedArray, task: str | None, file: str | None) -> tuple[str, list[str], str]:
    """Task, class labels and reason for the target column ``col`` of ``n`` rows."""
    typ = col.type
    n = len(col)
    missing = _n_missing(col)
    dropped = f"; {missing:,} rows with a missing target will be dropped" if missing else ""
    numeric_type = pa.types.is_integer(typ) or pa.types.is_floating(typ)
    if not (numeric_type or pa.types.is_boolean(typ) or pa.types.is_string(typ) or pa.types.is_null(typ)):
        raise SchemaError(
            f"target has type {typ}; expected numbers, text or true/false values.", file=file, column=name
        )
    if missing == n:
        raise SchemaError(
            f"target has no values: all {n:,} rows are missing; expected at least two classes "
            "(or numbers for regression).",
            file=file,
            column=name,
        )
    valid = _valid(col)
    labels = stringify(valid)
    distinct = pc.unique(labels).to_pylist()
    text_numbers = pa.types.is_string(typ) and bool(
        pc.all(pc.match_substring_regex(pa.array(distinct, pa.string()), NUMBER_RE)).as_py()
    )
    given = task is not None
    if task is None:
        if len(distinct) == 2 or pa.types.is_boolean(typ):
            task = "binary"
        elif pa.types.is_floating(typ):
            task = "regression"
        elif len(distinct) <= MAX_CLASSES:
            task = "multiclass"
        elif pa.types.is_integer(typ) or text_numbers:
            task = "regression"
        else:
            raise SchemaError(
                f"target has {len(distinct):,} distinct text values; expected at most {MAX_CLASSES} classes "
                "for a classification target.",
                file=file,
                column=name,
                hint='If that is right, pass task="multiclass" (command line: --task multiclass).',
            )
    how = "set by user" if given else "inferred"
    if len(distinct) < 2:
        raise SchemaError(
            f"target has one class: every non-missing row is {_clip(distinct[0])!r}; expected at least "
            "two classes (or two different numbers for regression).",
            file=file,
            column=name,
        )
    if task == "regression":
        if not (numeric_type or text_numbers):
            bad = pc.filter(labels, pc.invert(pc.match_substring_regex(labels, NUMBER_RE)))
            raise SchemaError(
                f"target holds {_clip(bad[0].as_py())!r}, which is not a number; expected numbers for "
                "a regression target.",
                file=file,
                column=name,
            )
        span = ""
        if numeric_type:
            bounds = pc.min_max(valid)
            span = f", from {bounds['min'].as_py()} to {bounds['max'].as_py()}"
        return task, [], f"regression target ({how}){span}{dropped}"
    if task == "binary" and len(distinct) > 2:
        shown = ", ".join(repr(v) for v in _ordered(distinct, numeric_type or text_numbers)[:5])
        raise SchemaError(
            f"target has {len(distinct)} classes ({shown}{', ...' if len(distinct) > 5 else ''}); "
            "expected exactly two for a binary task.",
            file=file,
            column=name,
            hint='Pass task="multiclass" (command line: --task multiclass), or recode the target.',
        )
    classes = _ordered(distinct, numeric_type or text_numbers)
    if task == "binary":
        classes = _binary_order(classes)
        positives = int(pc.sum(pc.equal(labels, classes[1])).as_py() or 0)
        share = positives / len(labels)
        return (
            task,
            classes,
            (
                f"binary target ({how}): positive class {classes[1]!r} in {positives:,} of {len(labels):,} "
                f"rows ({share:.1%}){dropped}"
            ),
        )
    return task, classes, f"multiclass target ({how}): {len(classes)} classes{dropped}"


def _ordered(labels: list[str], numeric: bool) -> list[str]:
    """Class labels sorted by value when they are numbers, else as strings."""
    if numeric:
        return sorted(labels, key=lambda v: (float(v), v))
    return sorted(labels)


def _binary_order(classes: list[str]) -> list[str]:
    """Two labels with the positive one last: yes/no, true/false, 1/0, y/n, positive/negative."""
    lowered = {c.lower(): c for c in classes}
    positive = POSITIVE_PAIRS.get(frozenset(lowered))
    if positive is None:
        return classes
    pos = lowered[positive]
    return [c for c in classes if c != pos] + [pos]


# -- small helpers -----------------------------------------------------------------------------------
def _plain(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary columns decoded to their values, large/view strings as ``string``."""
    typ = col.type
    if pa.types.is_dictionary(typ):
        return _plain(pc.cast(col, typ.value_type))
    if pa.types.is_large_string(typ) or typ == pa.string_view():
        return pc.cast(col, pa.string())
    return col


def _nan_mask(col: pa.ChunkedArray) -> pa.ChunkedArray | None:
    return pc.is_nan(col) if pa.types.is_floating(col.type) else None


def _n_missing(col: pa.ChunkedArray) -> int:
    """Nulls, plus NaNs in a float column."""
    nan = _nan_mask(col)
    extra = int(pc.sum(nan).as_py() or 0) if nan is not None else 0
    return col.null_count + extra


def _valid(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """``col`` without nulls and NaNs."""
    nan = _nan_mask(col)
    if nan is not None:
        col = pc.filter(col, pc.invert(pc.fill_null(nan, True)))
    return pc.drop_null(col)


def _check_unique(names: Sequence[str], file: str | None) -> None:
    seen: set[str] = set()
    dups = sorted({n for n in names if n in seen or seen.add(n)})
    if dups:
        raise SchemaError(
            f"duplicate column names {', '.join(map(repr, dups))}; expected every column name once.",
            file=file,
        )


def _file_of(table: pa.Table) -> str | None:
    source = source_of(table)
    return source if source is not None and os.path.exists(source) else None


def _list(names: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names) - limit} more)"


def _closest(name: str, names: Sequence[str]) -> str | None:
    lowered = {n.lower(): n for n in names}
    if name.lower() in lowered:
        return f"Did you mean {lowered[name.lower()]!r}?"
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return f"Did you mean {close[0]!r}?" if close else None


def _clip(value: Any, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
