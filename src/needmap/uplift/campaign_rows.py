"""The rows of a randomized test: arms read from the treatment column, and the checks before any model.

A campaign table holds one row per customer, the arm each was given (``treatment``: the control value or an
offer's name) and the outcome (0/1, or an amount). :func:`campaign_arms` reads the arms, control first and
the offers in sorted order, and checks what would make every uplift estimate wrong: an arm with too few rows,
an outcome constant within an arm, arm shares far from those the user declared, a propensity outside (0, 1].
:func:`balance_table` compares the covariates across arms (the randomization check): a standardized mean
difference above 0.1 is the usual sign that assignment was not random.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.errors import ConfigError, DataError

#: Fewest rows an arm may have: below this an arm's outcome rate is too noisy for any effect of a few points.
MIN_ARM_ROWS = 50
#: Largest gap between an arm's declared and observed share before the test is called not as declared.
SHARE_TOLERANCE = 0.05


@dataclass(frozen=True)
class Arms:
    """The arms of a campaign: ``names`` (control first, as they appear in the data, text), ``index`` (each
    row's arm, 0 = control) and ``counts`` (rows per arm)."""

    names: tuple[str, ...]
    index: np.ndarray
    counts: np.ndarray

    @property
    def offers(self) -> tuple[str, ...]:
        return self.names[1:]


def names_of(value: str | Iterable[str] | None) -> list[str]:
    """Column names given as None, one name or several, as a list (a name is never split)."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def treatment_text(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The treatment column as text (numbers and booleans too: ``1``, ``true``), nulls as None."""
    import pyarrow.compute as pc

    values = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    return np.asarray(values.to_pylist(), dtype=object)


def campaign_arms(
    treatment: np.ndarray,
    outcome: np.ndarray,
    control: str,
    *,
    column: str,
    outcome_column: str,
    file: str | None = None,
    shares: Mapping[str, float] | None = None,
    known: Sequence[str] | None = None,
) -> Arms:
    """Each row's arm, with the checks of the module docstring. ``treatment``: text per row, no None;
    ``known``: the arms a fitted model knows (for new rows: an unknown offer is an error)."""
    control = str(control)
    names = sorted(set(treatment.tolist()))
    if control not in names:
        raise DataError(
            f"no row has the control value {control!r} in column {column!r}; found {names[:10]}.",
            file=file, column=column, hint="--control names the value of the rows that got no offer.",
        )  # fmt: skip
    arms = (control, *[name for name in names if name != control])
    if len(arms) < 2:
        raise DataError(
            f"every row of column {column!r} is the control {control!r}; expected at least one offer beside it.",
            file=file, column=column,
        )  # fmt: skip
    if known is not None:
        unknown = [a for a in arms if a not in known]
        if unknown:
            raise DataError(
                f"column {column!r} holds {unknown}, which the model was not trained on; expected some of "
                f"{list(known)}.", file=file, column=column,
            )  # fmt: skip
        arms = tuple(known)
    lookup = {name: k for k, name in enumerate(arms)}
    index = np.fromiter((lookup[v] for v in treatment), dtype=np.int64, count=len(treatment))
    counts = np.bincount(index, minlength=len(arms))
    if known is None:
        small = [f"{arms[k]!r} ({counts[k]} rows)" for k in range(len(arms)) if counts[k] < MIN_ARM_ROWS]
        if small:
            raise DataError(
                f"arm(s) {', '.join(small)} of column {column!r} have fewer than {MIN_ARM_ROWS} rows; "
                "an effect of a few points cannot be estimated from so few.", file=file, column=column,
            )  # fmt: skip
        for k, name in enumerate(arms):
            values = outcome[index == k]
            if np.all(values == values[0]):
                raise DataError(
                    f"the outcome {outcome_column!r} is {values[0]:g} in every row of arm {name!r}; expected "
                    "outcomes that vary within each arm.", file=file, column=outcome_column,
                )  # fmt: skip
        if shares:
            check_shares(counts, arms, shares, column=column, file=file)
    return Arms(arms, index, counts)


def check_shares(
    counts: np.ndarray, arms: Sequence[str], shares: Mapping[str, float], *, column: str, file: str | None
) -> None:
    """DataError when an arm's observed share is more than :data:`SHARE_TOLERANCE` from its declared one."""
    missing = [a for a in shares if a not in arms]
    if missing:
        raise ConfigError(f"shares name arm(s) {missing} that column {column!r} does not hold; expected {list(arms)}.")
    total = counts.sum()
    for name, declared in shares.items():
        observed = counts[list(arms).index(name)] / total
        if abs(observed - float(declared)) > SHARE_TOLERANCE:
            raise DataError(
                f"arm {name!r} holds {observed:.1%} of the rows; {float(declared):.1%} were declared. A share so far "
                "from the design means assignment was not as declared (or the data is a subset).",
                file=file, column=column,
                hint="Give each row's chance of its arm as a propensity column, or declare the shares the test had.",
            )  # fmt: skip


def balance_table(table: pa.Table, arms: Arms, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The randomization check: for each numeric covariate, each offer's standardized mean difference against
    control (difference of means over the pooled standard deviation); for each categorical one, the largest
    difference in a level's share. Rows: ``column``, ``kind``, ``arm``, ``difference``, ``flag`` (above 0.1)."""
    out = []
    control = arms.index == 0
    for name in columns:
        col = table.column(name)
        numeric = pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type)
        if numeric:
            values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
        else:
            values = np.asarray(col.to_pylist(), dtype=object)
        for k, arm in enumerate(arms.offers, start=1):
            treated = arms.index == k
            if numeric:
                a, b = values[treated], values[control]
                a, b = a[~np.isnan(a)], b[~np.isnan(b)]
                pooled = np.sqrt((np.var(a) + np.var(b)) / 2) if len(a) and len(b) else 0.0
                diff = float((a.mean() - b.mean()) / pooled) if pooled > 0 else 0.0
            else:
                levels = set(values[treated].tolist()) | set(values[control].tolist())
                diff = max(
                    (abs(float(np.mean(values[treated] == v)) - float(np.mean(values[control] == v))) for v in levels),
                    default=0.0,
                )
            out.append(
                {"column": name, "kind": "numeric" if numeric else "categorical", "arm": arm,
                 "difference": round(diff, 4), "flag": abs(diff) > 0.1}
            )  # fmt: skip
    return out
