"""Zero flags: a 0/1 "is zero" column beside a numeric column whose zero is a state, not a small amount.

Many customer columns are zero for most rows and spread over a long range for the rest: the time
spent on product pages, the value of the pages seen, a bounce rate, a balance. Zero there means
"did not happen", and the first positive value already means it did. After scaling (the log of a
long tail, then standardization) zero and the smallest positive values are almost the same number,
so a network has to learn a step from a tiny difference of its input. A 0/1 column ``<col>__zero``
states it outright. On online shoppers (ten seeds, the benchmark's split and policy) it raised the
test AUC of every deep model tried, needmap's more than the peers' (benchmarks/results/HISTORY.md).

With ``PreprocessConfig.zero_flags = s`` (default
:data:`~needmap.preprocessing.option_values.DEFAULT_ZERO_SHARE`), a numeric column gets
a zero flag when at least the share ``s`` of its non-missing training values are exactly zero and
they hold more than :data:`MIN_DISTINCT` distinct values (a column with fewer, levels or a short count
range, either has a value field, whose exact-value id already tells zero apart, or steps from 0 to
the next value by a clear gap). The per-column option ``zero_flag: true`` / ``false`` decides for one
column. The flag reads the raw value: a missing value is not zero (it has its missing indicator).
"""

from __future__ import annotations

import numpy as np

from needmap.data.values import ParsedNumbers

#: ... when it also holds more than this many distinct non-missing training values.
MIN_DISTINCT = 200


def zero_share(parsed: ParsedNumbers) -> float:
    """The share of the finite values of the column ``[n]`` that are exactly zero (0.0 when there are none)."""
    finite = parsed.values[np.isfinite(parsed.values)]
    return float(np.mean(finite == 0.0)) if finite.size else 0.0


def chooses_zero_flag(parsed: ParsedNumbers, *, option: bool | None, share: float | None) -> bool:
    """Whether a numeric column gets a zero flag: ``option`` (the column's ``zero_flag``) when set,
    else the rule of the module docstring with ``share`` (None: no column by the rule)."""
    if option is not None:
        return option
    if share is None:
        return False
    if zero_share(parsed) < share:  # also 0.0, below any share, for a column with no value
        return False
    return int(np.unique(parsed.values[np.isfinite(parsed.values)]).size) > MIN_DISTINCT


def zero_flags(values: np.ndarray) -> np.ndarray:
    """1.0 where a raw value ``[n]`` is exactly zero, else 0.0 (NaN, a missing value, gives 0.0); float32 ``[n]``."""
    return (values == 0.0).astype(np.float32)
