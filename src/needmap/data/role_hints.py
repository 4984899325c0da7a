"""Notes in a column's schema reason where the data suggests another role than the one inferred.

Inference gives each column one role by fixed rules; two common cases sit just on the other side of a rule,
and the schema output says so, with the option that declares the other role:

- :func:`mostly_numbers_note`: a text column most of whose values are numbers, but fewer than the share
  that makes it numeric (a spend column with "n.a." or "unknown" in 10% of the rows). It becomes
  categorical; the note gives the share of values that are not numbers, examples, and the options that
  read it as numbers (the others missing). The ``max_unparseable`` it names is twice that share (rounded
  up to a twentieth): the limit applies to each part of the rows on its own (training, validation and
  test rows, each chunk scored), whose shares vary about the whole file's.
- :func:`code_note`: a numeric column of a few integers that look like codes (a browser, a region, a
  traffic source numbered 1 to 13): categories without order, which a network reads best as categories.
  Counts (contacts, page views, children) have small integer values too; their frequencies fall as the
  value grows (many rows at 0 or 1, fewer at each step up), while the frequencies of codes rise and fall
  without order. Codes whose values are spread out (216, 300, 320) get a value field already
  (:mod:`needmap.preprocessing.values`), an embedding per value, so only integers that fill their range are
  flagged. On the public online shoppers file this flags Browser, Region, TrafficType and
  OperatingSystems, and none of its counts (Administrative, Informational); on bank marketing, none.

The role stays as inferred: a note is a hint, the user decides.
"""

from __future__ import annotations

import shlex

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.column_values import MAX_GRID_SHARE, _clip, grid_share

#: A text column gets the mostly-numbers note when at least this share of its values are numbers.
MOSTLY_NUMBERS = 0.5
#: The fewest and the most distinct integers a column of codes holds.
CODES_MIN, CODES_MAX = 3, 30
#: Least share of rows by which the frequencies rise from one value to the next (a count's fall).
CODES_RISE = 0.1
#: The default ``max_unparseable`` of the preprocessor (``PreprocessConfig``).
DEFAULT_MAX_UNPARSEABLE = 0.05


def mostly_numbers_note(name: str, values: pa.Array, counts: pa.Array, is_number: pa.Array, n_valid: int) -> str | None:
    """The note of a text column of ``n_valid`` non-missing values whose distinct ``values`` ``[k]``
    (``counts`` rows each; ``is_number`` whether each parses as a number) are mostly numbers, else None."""
    rows = np.asarray(counts.to_numpy(zero_copy_only=False), dtype=np.int64)
    number = np.asarray(is_number.to_numpy(zero_copy_only=False), dtype=bool)
    n_numbers = int(rows[number].sum())
    n_other = n_valid - n_numbers
    if n_numbers < MOSTLY_NUMBERS * n_valid or n_other == 0:
        return None
    other = np.flatnonzero(~number)
    other = other[np.argsort(-rows[other], kind="stable")][:3]
    examples = ", ".join(repr(_clip(values[int(i)].as_py())) for i in other)
    needed = min(1.0, -(-n_other * 40 // n_valid) / 20)  # twice the share, rounded up to a twentieth
    options = f"--numeric {shlex.quote(name)}"
    if needed > DEFAULT_MAX_UNPARSEABLE:
        options += f" --max-unparseable {needed:g}"
    return (
        f"{n_numbers:,} of {n_valid:,} values are numbers; {n_other:,} ({n_other / n_valid:.1%}) are not, e.g. "
        f"{examples}. As numbers (those missing): {options}"
    )


def code_note(name: str, values: pa.Array, counts: pa.Array) -> str | None:
    """The note of an integer column whose distinct ``values`` ``[k]`` (``counts`` rows each) look like codes
    (see the module docstring), else None."""
    if not pa.types.is_integer(values.type) or not (CODES_MIN <= len(values) <= CODES_MAX):
        return None
    levels = np.asarray(pc.cast(values, pa.float64(), safe=False).to_numpy(zero_copy_only=False), dtype=np.float64)
    if levels.min() < 0 or levels.max() > 2.0**53:  # codes are small; beyond 2^53 floats merge integers
        return None
    order = np.argsort(levels)
    levels = levels[order]
    rows = np.asarray(counts.to_numpy(zero_copy_only=False), dtype=np.int64)[order]
    if grid_share(levels) < MAX_GRID_SHARE:
        return None  # spread-out values: a value field reads each of them already
    rise = float(np.clip(np.diff(rows), 0, None).sum()) / float(rows.sum())
    if rise < CODES_RISE:
        return None
    return (
        f"likely codes ({len(levels)} integers {levels[0]:.0f}-{levels[-1]:.0f}, frequencies not falling as a "
        f"count's do): if unordered, --categorical {shlex.quote(name)}"
    )
