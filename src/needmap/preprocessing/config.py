"""PreprocessConfig: the preprocessor's options, declared once (type, default, check, help), saved as a dict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from needmap import option_text
from needmap.declare import Options, is_number, number, one_of, option, optional, whole
from needmap.preprocessing.option_values import (
    DEFAULT_MIN_ROWS,
    DEFAULT_VALUE_FIELDS,
    DEFAULT_ZERO_SHARE,
    IMPUTES,
    SCALINGS,
)


def _clip(value: Any) -> str | None:
    if value is None:
        return None
    q = tuple(value) if isinstance(value, (list, tuple)) else ()
    if len(q) != 2 or not all(is_number(v) for v in q) or not 0.0 <= q[0] < q[1] <= 1.0:
        return "two quantiles 0 <= low < high <= 1, or None for no clipping"
    return None


def _column_scaling(value: Any) -> str | None:
    if not isinstance(value, dict) or not all(s in SCALINGS for s in value.values()):
        return f"a mapping from column to one of {', '.join(SCALINGS)}"
    return None


def _share(value: Any) -> str | None:
    if value is None or (is_number(value) and 0.0 < value <= 1.0):
        return None
    return "a share of zeros above 0 and at most 1, or None"


@dataclass
class PreprocessConfig(Options):
    """Options of the preprocessor (each field's help says what it does)."""

    kind: ClassVar[str] = "preprocessing"

    impute: str = option(
        "median", help="Value that replaces a missing numeric: the training median or mean.", check=one_of(*IMPUTES)
    )
    add_missing_indicator: bool = option(
        True,
        help="Add a 0/1 column '<col>__missing' for each numeric column with missing training values.",
        check=lambda v: None if isinstance(v, bool) else "true or false",
    )
    clip_quantiles: tuple[float, float] | None = option(
        (0.001, 0.999),
        help="Training quantiles 'low,high' that numeric values are clipped to; none: no clipping.",
        check=_clip,
        convert=lambda v: (float(v[0]), float(v[1])) if _clip(v) is None and v is not None else v,
        flag="--clip",
        metavar="LOW,HIGH",
    )
    scaling: str = option(
        "auto",
        help="Numeric scaling: auto (log1p for right-skewed columns such as counts and amounts, else standard), "
        "standard, log1p, quantile (empirical rank in [0, 1]) or none.",
        check=one_of(*SCALINGS),
    )
    column_scaling: dict[str, str] = option(
        help="Per-column scaling that overrides scaling, e.g. balance=log1p,age=none.",
        check=_column_scaling,
        convert=lambda v: dict(v) if isinstance(v, Mapping) else v,
        parse=lambda text: {k: str(v) for k, v in option_text.pairs(text).items()},
        metavar="COLUMN=SCALING,...",
        factory=dict,
    )
    n_bins: int = option(100, help="Quantile intervals that quantile scaling interpolates between.", check=whole(2))
    min_frequency: int = option(
        1, help="Categories seen fewer times than this in training go to the out-of-vocabulary id.", check=whole()
    )
    max_categories: int | None = option(
        None, help="Keep at most this many categories per column (the most frequent).", check=optional(whole())
    )
    max_unparseable: float = option(
        0.05,
        help="Largest share of a numeric column's non-empty values that may be text (they become missing); "
        "above it the column is an error.",
        check=number(0.0, high=1.0),
    )
    value_fields: int | None = option(
        DEFAULT_VALUE_FIELDS,
        help="Numeric columns whose values are levels or codes (at most this many distinct training values, "
        "filling less than half of their evenly spaced grid) also get an embedding per value; none: only "
        "columns with the option 'values: true'.",
        check=optional(whole()),
    )
    value_min_rows: int = option(
        DEFAULT_MIN_ROWS, help="Training rows a value needs for an id of its own in a value field.", check=whole()
    )
    zero_flags: float | None = option(
        DEFAULT_ZERO_SHARE,
        help="Numeric columns that are zero in at least this share of training values (over more than 200 "
        "distinct values) also get a 0/1 column '<col>__zero'; none: only columns with 'zero_flag: true'.",
        check=_share,
        convert=lambda v: float(v) if _share(v) is None and v is not None else v,
    )

    def scaling_of(self, column: str) -> str:
        """The scaling of one numeric column: its override, else the default."""
        return self.column_scaling.get(column, self.scaling)
