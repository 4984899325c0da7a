"""What a target column is: its task (binary, multiclass, regression) and its classes, in the model's order.

:func:`infer_target` decides from the column's values, or checks the task the user gave against them;
the positive class of a binary target is the one a marketer means ('yes', 'true', '1', ...).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.column_values import NUMBER_RE, _clip, _n_missing, _plain, _valid
from needmap.data.values import stringify
from needmap.errors import SchemaError

MAX_CLASSES = 50


POSITIVE_PAIRS: dict[frozenset[str], str] = {
    frozenset({"yes", "no"}): "yes",
    frozenset({"true", "false"}): "true",
    frozenset({"1", "0"}): "1",
    frozenset({"y", "n"}): "y",
    frozenset({"positive", "negative"}): "positive",
}


# -- target ------------------------------------------------------------------------------------------
def infer_target(
    name: str, column: pa.ChunkedArray, task: str | None = None, file: str | None = None
) -> tuple[str, list[str], str]:
    """(task, class labels, reason) of target column ``column`` named ``name``, by the rules of
    :func:`infer_schema` (``task`` given: checked against the values). SchemaError for a target
    that cannot be learned (one class, all missing, an unusable type)."""
    return _infer_target(name, _plain(column), task, file)


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
    if task in ("regression", "ltv"):
        if not (numeric_type or text_numbers):
            bad = pc.filter(labels, pc.invert(pc.match_substring_regex(labels, NUMBER_RE)))
            raise SchemaError(
                f"target holds {_clip(bad[0].as_py())!r}, which is not a number; expected numbers for a {task} target.",
                file=file,
                column=name,
            )
        span, suggestion = "", ""
        if numeric_type:
            bounds = pc.min_max(valid)
            low = bounds["min"].as_py()
            span = f", from {low} to {bounds['max'].as_py()}"
            if task == "ltv" and low < 0:
                raise SchemaError(
                    f"target holds {low}, a negative amount; expected spends >= 0 for a lifetime-value (ltv) target.",
                    file=file,
                    column=name,
                )
            zeros = int(pc.sum(pc.equal(valid, 0)).as_py() or 0)
            if task == "regression" and not given and low >= 0 and zeros * 2 >= len(valid):
                suggestion = (
                    f"; {zeros / len(valid):.0%} of its values are 0 and none is negative: for a spend, "
                    '--task ltv (task="ltv") learns the chance to buy and the amount apart'
                )
        kind = "lifetime-value (zero-inflated spend)" if task == "ltv" else "regression"
        return task, [], f"{kind} target ({how}){span}{dropped}{suggestion}"
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
