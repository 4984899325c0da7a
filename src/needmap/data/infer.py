"""Infer the role of every column (numeric, categorical, multihot, id, datetime, target, ignored) and the task.

All statistics are computed with ``pyarrow.compute`` on whole columns; text columns are examined
through their distinct values (``value_counts``), so a column of ``n`` rows with ``k`` distinct
values costs one hash pass over ``n`` plus regular expressions over ``k`` strings.

List columns: an Arrow list column (``list<string>``, ``list<int64>``, ... from Parquet, JSON lines
or a frame) is ``multihot``. A text column is ``multihot`` with separator ``"|"`` when at least half
of its non-missing values contain ``"|"`` and its ``"|"``-separated tokens repeat: there are at
least two distinct tokens and the token occurrences number at least twice the distinct tokens (so
genres such as ``"Adventure|Animation"`` qualify, unique codes such as ``"A17|X9"`` in every row
do not). Sequences are never inferred from the values: their order matters, so the user names them, or
a feature table built from an event log names them in its description (``last_items``, see docs/events.md).

Integer columns named like an identifier (``userId``, ``customer_id``, ``store_ID``): all values unique, the
column is an ``id`` (a row's key, kept in the scores); with repeated values it is ``categorical``, an entity
such as a customer or a product that the models learn one embedding (LightGBM one category) per value for.
Their numbers are labels, not amounts: read as numbers, the MovieLens user and movie ids taught the network
next to nothing (BENCHMARKS.md, the chosen scorer against LightGBM).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.code_text import LEADING_ZERO, has_leading_zero
from needmap.data.column_values import NUMBER_RE, _clip, _n_missing, _plain, _valid
from needmap.data.infer_target import _infer_target
from needmap.data.options import check_options
from needmap.data.overrides import FEATURE_ROLES, parse_column_list, parse_column_options, parse_feature_columns
from needmap.data.provenance import source_of
from needmap.data.role_hints import code_note, mostly_numbers_note
from needmap.data.values import MULTIHOT_SEPARATOR, is_list_type, stringify
from needmap.errors import ConfigError, SchemaError
from needmap.schema import TASKS, ColumnSpec, Schema

ID_MIN_ROWS = 20
LIST_SHARE = 0.5  # share of a text column's values that must contain '|' to infer a multihot list
TOKEN_REPEATS = 2.0  # least mean occurrences per distinct token of an inferred multihot list

INTEGER_RE = r"^\s*[+-]?\d+\s*$"
_DATE = r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?"
DATETIME_RE = rf"^\s*(?:{_DATE}(?:[T ]{_TIME}(?:Z|[+-]\d{{2}}:?\d{{2}})?)?|{_TIME})\s*$"
_ID_NAME = re.compile(r"(?i:(?:^|[_\W])id$|^uuid$|^guid$)|[a-z0-9](?:Id|ID)$")


def looks_like_identifier(name: str) -> bool:
    """Whether a column's name reads as an identifier: ``customer_id``, ``userId``, ``ID``, ``uuid``."""
    return _ID_NAME.search(name) is not None


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
    multihot: str | Iterable[str] | Mapping[str, Any] | None = None,
    sequence: str | Iterable[str] | Mapping[str, Any] | None = None,
    hash: str | Iterable[str] | Mapping[str, Any] | None = None,
    bucketize: str | Iterable[str] | Mapping[str, Any] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
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
        multihot, sequence: list columns (multi-hot sets; ordered behaviour sequences), as names or
            ``{name: options}`` (``separator``, ``max_len``, ``pooling``, ``vocabulary_of``).
        hash: categorical columns whose values are hashed, as names (100,000 buckets) or
            ``{name: buckets}``; the role stays ``categorical`` with option ``hash_buckets``.
        bucketize: numeric columns turned into quantile-bucket ids, as names (10 buckets) or
            ``{name: buckets}``; the role stays ``numeric`` with option ``bucketize``.
        options: ``{name: {option: value}}``, further per-column options (e.g. a separator for an
            inferred multihot column); they land in ``ColumnSpec.options`` after those above.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from the target when None.
        numeric_parse_ratio: a text column is numeric when at least this share of its non-missing
            values parse as numbers.

    Returns:
        A :class:`Schema` in table order; ``classes`` holds the target's labels as strings (made with
        :func:`needmap.data.values.stringify`), the positive class last for a binary task.

    Raises:
        SchemaError: the target or an override names no column, a column is given two roles, a
            ``vocabulary_of`` names a column that is not categorical, or the target cannot serve
            the task (one class, all missing, too many classes, not numeric).
        ConfigError: ``task`` or ``numeric_parse_ratio`` has a value that is not accepted, or a
            column's options have a key its role does not accept (the message names the column and
            the accepted keys) or a value out of range.
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
    featured = {
        key: parse_feature_columns(key, value, file=file)
        for key, value in (("multihot", multihot), ("sequence", sequence), ("hash", hash), ("bucketize", bucketize))
    }
    extra = parse_column_options(options, file=file)
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
            **{key: list(cols) for key, cols in featured.items()},
        },
    )
    given: dict[str, dict[str, Any]] = {}
    for cols in featured.values():
        for name, opts in cols.items():
            given.setdefault(name, {}).update(opts)
    for name, opts in extra.items():
        if name not in names:
            raise SchemaError(
                f"options name column {name!r}, which is not in the table; expected one of the columns: "
                f"{_list(names)}.",
                file=file,
                hint=_closest(name, names),
            )
        given.setdefault(name, {}).update(opts)
    columns: list[ColumnSpec] = []
    classes: list[str] = []
    listed = _feature_table_lists(table)
    inferred_task: str | None = None
    for i, name in enumerate(names):
        col = _plain(table.column(i))
        dtype = str(table.schema.field(i).type)
        if name == target:
            inferred_task, classes, reason = _infer_target(name, col, task, file)
            spec = ColumnSpec(name, "target", dtype, reason)
        elif name in roles:
            spec = ColumnSpec(name, roles[name], dtype, _user_reason(roles[name], given.get(name, {})))
        elif name in listed and (listed[name] == "ignored" or is_list_type(col.type)):
            spec = ColumnSpec(name, listed[name], dtype, _LISTED_REASONS[listed[name]])
        else:
            role, reason, inferred = _infer_feature(name, col, numeric_parse_ratio)
            spec = ColumnSpec(name, role, dtype, reason, dict(inferred))
        if name in given:
            spec.options = check_options(name, spec.role, {**spec.options, **given[name]}, file=file)
        columns.append(spec)
    _promote_item_columns(columns, roles)
    _check_shared_vocabularies(columns, names, file)
    return Schema(columns=columns, target=target, task=inferred_task, classes=classes)


def _feature_table_lists(table: pa.Table) -> dict[str, str]:
    """The roles a feature table built from an event log gives its own columns, as its description in the
    schema metadata records them: ``last_items`` a sequence, ``categories`` multi-hot, and the label columns
    ignored (outcomes after the cutoff would leak into the inputs); the target keeps its role."""
    from needmap.events.table_info import FEATURES_KEY, info_of

    if FEATURES_KEY not in (table.schema.metadata or {}):
        return {}
    try:
        info = info_of(table)
    except Exception:  # an unreadable description: the columns are inferred as any others
        return {}
    if info is None:
        return {}
    found = {str(k): str(v) for k, v in (info.extra.get("list_columns") or {}).items() if v in _LISTED_REASONS}
    found.update({label: "ignored" for label in info.labels})
    return found


_LISTED_REASONS = {
    "sequence": "the last items of a feature table built from a log (oldest first)",
    "multihot": "the categories of a feature table built from a log",
    "ignored": "a label of a feature table (an outcome after the cutoff): never an input",
}


def column_counts(column: pa.ChunkedArray) -> tuple[int | None, int]:
    """Distinct non-missing values of ``column`` (None where its type cannot be counted) and missing
    values (nulls, and NaNs in a float column): the counts that a printed schema shows."""
    col = _plain(column)
    try:
        distinct: int | None = int(pc.count_distinct(_valid(col), mode="only_valid").as_py())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        distinct = None
    return distinct, _n_missing(col)


# -- overrides ---------------------------------------------------------------------------------------
def _as_names(value: str | Iterable[str] | None, names: Sequence[str]) -> list[str]:
    """A string is one column name when the table has it, else a comma-separated list."""
    if isinstance(value, str) and value in names:
        return [value]
    return parse_column_list(value)


def _override_roles(
    names: Sequence[str], file: str | None, target: str | None, groups: dict[str, list[str]]
) -> dict[str, str]:
    """Role of every column an override names; a column may be in two groups that give the same role
    (``categorical`` and ``hash``, ``numeric`` and ``bucketize``)."""
    role_of = {"drop": "ignored", "ids": "id", "categorical": "categorical", "numeric": "numeric"}
    role_of.update(datetime="datetime", target="target", **FEATURE_ROLES)
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
            if col in owner and role_of[owner[col]] != role_of[group]:
                raise SchemaError(
                    f"column is given two roles, in {owner[col]} and in {group}; expected one role per column.",
                    file=file,
                    column=col,
                )
            owner.setdefault(col, group)
            roles[col] = role_of[group]
    return roles


def _user_reason(role: str, options: dict[str, Any]) -> str:
    if role == "categorical" and "hash_buckets" in options:
        return f"set by user: hashed into {options['hash_buckets']:,} buckets"
    if role == "numeric" and "bucketize" in options:
        return f"set by user: {options['bucketize']} quantile buckets"
    return "set by user"


def _promote_item_columns(columns: list[ColumnSpec], user_roles: dict[str, str]) -> None:
    """A column whose vocabulary a list shares holds item ids: when its role was inferred as numeric or
    id (movie ids read as integers), it becomes categorical. A role the user set is left alone."""
    by_name = {c.name: c for c in columns}
    for spec in columns:
        shared = spec.options.get("vocabulary_of")
        item = by_name.get(shared) if shared is not None else None
        if item is not None and item.name not in user_roles and item.role in ("numeric", "id"):
            item.role = "categorical"
            item.reason = f"item ids: the list '{spec.name}' shares its vocabulary"
            item.options = {}


def _check_shared_vocabularies(columns: list[ColumnSpec], names: Sequence[str], file: str | None) -> None:
    """SchemaError when a list's ``vocabulary_of`` names a column that is absent or not categorical."""
    role = {c.name: c.role for c in columns}
    for spec in columns:
        shared = spec.options.get("vocabulary_of")
        if shared is None:
            continue
        if shared not in role:
            raise SchemaError(
                f"vocabulary_of names column {shared!r}, which is not in the table; expected a categorical "
                f"column of: {_list(names)}.",
                file=file,
                column=spec.name,
                hint=_closest(shared, names),
            )
        if role[shared] != "categorical":
            raise SchemaError(
                f"vocabulary_of names column {shared!r}, whose role is {role[shared]}; expected a categorical "
                "column, whose ids the list can share.",
                file=file,
                column=spec.name,
                hint=f"Mark {shared!r} categorical (categorical=[{shared!r}]).",
            )


# -- features ----------------------------------------------------------------------------------------
def _infer_feature(name: str, col: pa.ChunkedArray, ratio: float) -> tuple[str, str, dict[str, Any]]:
    """Role, reason and options of a feature column of ``n`` rows."""
    role, reason = _infer_role(name, col, ratio)
    if role == "multihot" and pa.types.is_string(col.type):
        return role, reason, {"separator": MULTIHOT_SEPARATOR}
    return role, reason, {}


def _infer_role(name: str, col: pa.ChunkedArray, ratio: float) -> tuple[str, str]:
    """Role and reason of a feature column of ``n`` rows."""
    typ = col.type
    n = len(col)
    missing = _n_missing(col)
    if pa.types.is_null(typ) or missing == n:
        return "ignored", f"all values missing ({n:,} rows)"
    if is_list_type(typ):
        element = typ.value_type
        if pa.types.is_nested(element) or pa.types.is_binary(element) or pa.types.is_large_binary(element):
            return "ignored", f"type {typ} is not supported (lists of {element})"
        missing_note = f"; {missing:,} missing" if missing else ""
        return "multihot", f"Arrow list column ({typ}){missing_note}"
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
    if pa.types.is_string(typ):
        listed = _pipe_lists(values, counts, n_valid)
        if listed is not None:
            return "multihot", listed
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
        if has_leading_zero(values):  # "00001", "007": codes, kept as text (needmap.data.code_text)
            return _codes_role(name, values, n_distinct, n_valid, missing_note)
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
    if not floaty and _ID_NAME.search(name) and (text_numbers is None or len(text_numbers[1]) == 0):
        return "categorical", (
            f"integers named like an identifier, {n_distinct:,} distinct in {n_valid:,} rows: an entity "
            f"(customer, product, ...) learned per value{missing_note}"
        )
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
        note = mostly_numbers_note(name, values, counts, pc.match_substring_regex(values, NUMBER_RE), n_valid)
        return "categorical", "text" if note is None else f"text, though {note}"
    note = code_note(name, values, counts)
    return "numeric", "numbers" if note is None else f"numbers; {note}"


def _codes_role(name: str, values: pa.Array, n_distinct: int, n_valid: int, missing_note: str) -> tuple[str, str]:
    """Role and reason of a text column in which some values are numbers written with a leading zero."""
    shown = pc.filter(values, pc.match_substring_regex(values, LEADING_ZERO)).slice(0, 1)[0].as_py()
    codes = f"codes written with leading zeros (e.g. {_clip(shown)!r}), kept as text"
    if n_distinct == n_valid and (n_valid > ID_MIN_ROWS or _ID_NAME.search(name)):
        return "id", f"{codes}; all {n_valid:,} values unique{missing_note}"
    return "categorical", f"{codes}{missing_note}"


def _pipe_lists(values: pa.Array, counts: pa.Array, n_valid: int) -> str | None:
    """Reason for a '|'-separated multihot list (see the module docstring), or None.

    ``values``: distinct non-missing strings ``[k]``; ``counts``: their rows ``[k]``.
    """
    with_pipe = int(pc.sum(pc.if_else(pc.match_substring(values, MULTIHOT_SEPARATOR), counts, 0)).as_py() or 0)
    if with_pipe < LIST_SHARE * n_valid:
        return None
    split = pc.split_pattern(values, pattern=MULTIHOT_SEPARATOR)
    lengths = np.asarray(pc.list_value_length(split).to_numpy(zero_copy_only=False), dtype=np.int64)
    tokens = pc.utf8_trim_whitespace(pc.list_flatten(split))
    rows = np.repeat(np.asarray(counts.to_numpy(zero_copy_only=False), dtype=np.int64), lengths)
    present = np.asarray(pc.not_equal(tokens, "").to_numpy(zero_copy_only=False), dtype=bool)
    distinct = len(pc.unique(tokens.filter(pa.array(present))))
    occurrences = int(rows[present].sum())
    if distinct < 2 or occurrences < TOKEN_REPEATS * distinct:
        return None
    return (
        f"lists separated by '|' ({with_pipe:,} of {n_valid:,} values hold '|'; {distinct:,} distinct tokens, "
        f"{occurrences / distinct:.1f} occurrences each on average)"
    )


def _count_matching(values: pa.Array, counts: pa.Array, pattern: str) -> int:
    """Rows whose value matches ``pattern``, given distinct ``values`` and their row ``counts``."""
    hit = pc.match_substring_regex(values, pattern)
    return int(pc.sum(pc.if_else(hit, counts, 0)).as_py() or 0)


# -- small helpers -----------------------------------------------------------------------------------


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
