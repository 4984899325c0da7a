"""The training population, summarized and saved with the model, so that one customer can be explained alone.

Reasons compare a customer with a population ("higher than 91% of customers", "as 36% of customers") and
attributions are measured from the population's reference row (each number's mean and each category's most
frequent id). Without a saved population both come from the rows explained: right for a file of customers,
meaningless for one customer scored online. :class:`Population` keeps what both need from the rows a model
was fitted on (up to :data:`SAMPLE_ROWS` of them, sampled with a fixed seed), as ``population.json`` in the
model directory:

- the reference row, encoded (the mean of each numeric input, the most frequent id of each categorical one;
  lists empty), as :func:`needmap.explain.attributions.reference_batch` computes it from rows;
- per numeric column :data:`QUANTILES` + 1 quantiles of its values (missing values left out), which stand for
  the population when a value is placed among it (to within 0.1%);
- per categorical column the share of rows of each of its :data:`TOP_CATEGORIES` most frequent values
  (missing counted as ``missing``); a value outside them is compared as 0%.

No customer's row is stored: quantiles and shares only, like the preprocessor's own clip bounds and vocabularies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.values import category_strings, parse_numeric
from needmap.errors import ArtifactError
from needmap.preprocessing.batch import FeatureBatch

#: The file of a model directory that holds the population.
POPULATION_FILE = "population.json"
#: Rows (at most) the population is summarized from.
SAMPLE_ROWS = 100_000
#: Numeric columns keep their quantiles at levels 0, 1/QUANTILES, ..., 1.
QUANTILES = 1000
#: Categorical columns keep the shares of this many most frequent values.
TOP_CATEGORIES = 1000
FORMAT = "needmap.population"


def _text(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class NumberSpread:
    """Where a number stands among a population's values (sorted, or quantiles standing for them)."""

    def __init__(self, values: np.ndarray) -> None:
        self.sorted = np.sort(np.asarray(values, dtype=np.float64))

    def compare(self, value: Any) -> str:
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return ""
        if not len(self.sorted):
            return ""
        below = np.searchsorted(self.sorted, float(value), side="left") / len(self.sorted)
        above = 1.0 - np.searchsorted(self.sorted, float(value), side="right") / len(self.sorted)
        if below >= above:
            return f"higher than {below:.0%} of customers"
        return f"lower than {above:.0%} of customers"


class CategoryShares:
    """The share of a population with each value of a column."""

    def __init__(self, shares: dict[str, float]) -> None:
        self.shares = shares

    def compare(self, value: Any) -> str:
        if value is None:
            return ""
        return f"as {self.shares.get(_text(value), 0.0):.0%} of customers"


def column_stats(values: list[Any]) -> NumberSpread | CategoryShares:
    """How a population's ``values`` of one column compare a value: numbers by rank, anything else by share."""
    present = [v for v in values if v is not None and v == v]  # NaN, a missing number, is no value
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return NumberSpread(np.asarray(present, dtype=np.float64))
    keys, counts = np.unique(np.asarray([_text(v) for v in values], dtype=object), return_counts=True)
    return CategoryShares(dict(zip(keys.tolist(), (counts / max(len(values), 1)).tolist(), strict=True)))


@dataclass
class Population:
    """A population summarized (see the module): ``rows`` it was taken from, the encoded ``reference`` row,
    ``quantiles`` per numeric column and ``shares`` per categorical column."""

    rows: int
    reference: FeatureBatch
    quantiles: dict[str, list[float]]
    shares: dict[str, dict[str, float]]

    @staticmethod
    def rows_of(table: pa.Table, *, seed: int = 0) -> pa.Table:
        """The rows of ``table`` that :meth:`of` summarizes: a seeded sample of :data:`SAMPLE_ROWS`, or every row of
        a smaller table. ``of(rows_of(table))`` is ``of(table)``: a fit takes them before its preprocessor is
        fitted, so that the whole table's memory can go once it is encoded."""
        if table.num_rows > SAMPLE_ROWS:
            pick = np.sort(np.random.default_rng(seed).choice(table.num_rows, SAMPLE_ROWS, replace=False))
            table = table.take(pa.array(pick))
        return table

    @classmethod
    def of(cls, table: pa.Table, preprocessor: Any, *, seed: int = 0) -> Population:
        """The population of ``table`` (the rows a model was fitted on) for its fitted ``preprocessor``."""
        from needmap.explain.attributions import reference_batch

        table = cls.rows_of(table, seed=seed)
        schema = preprocessor.schema
        reference = reference_batch(preprocessor.transform(table))
        levels = np.linspace(0.0, 1.0, QUANTILES + 1)
        quantiles, shares = {}, {}
        for name in schema.numeric:
            values = parse_numeric(table.column(name), column=name, file=None).values
            present = values[np.isfinite(values)]
            quantiles[name] = [float(q) for q in np.quantile(present, levels)] if present.size else []
        for name in schema.categorical:
            strings = pc.fill_null(category_strings(table.column(name), column=name, file=None), "missing")
            counted = pc.value_counts(strings)  # by Arrow's hash table: no sort of the rows
            values = pa.table({"value": counted.field("values"), "count": counted.field("counts")})
            top = values.take(
                pc.sort_indices(values, sort_keys=[("count", "descending"), ("value", "ascending")])[:TOP_CATEGORIES]
            )  # the most frequent first, equal counts by value
            shares[name] = {
                str(v): float(c / table.num_rows)
                for v, c in zip(top.column("value").to_pylist(), top.column("count").to_pylist(), strict=True)
            }
        return cls(int(table.num_rows), reference, quantiles, shares)

    def stats(self, columns: list[str]) -> dict[str, NumberSpread | CategoryShares]:
        """How each of ``columns`` that the population summarizes compares a customer's value."""
        out: dict[str, NumberSpread | CategoryShares] = {}
        for name in columns:
            if name in self.quantiles:
                out[name] = NumberSpread(np.asarray(self.quantiles[name]))
            elif name in self.shares:
                out[name] = CategoryShares(self.shares[name])
        return out

    def check(self, preprocessor: Any, *, file: str | None = None) -> Population:
        """ArtifactError, naming ``file``, when the reference row does not fit ``preprocessor``'s inputs (another
        model's population, or an edited one); else self."""
        ref = self.reference
        widths = [int(spec["max_len"]) for spec in preprocessor.list_specs_]
        cards = np.asarray(preprocessor.cardinalities_, dtype=np.int64)
        fits = (
            ref.numeric.shape[1] == preprocessor.n_numeric_
            and ref.categorical.shape[1] == len(cards)
            and bool((ref.categorical[0] < cards).all())
            and [a.shape[1] for a in ref.lists] == widths
        )
        if not fits:
            raise ArtifactError(
                f"{POPULATION_FILE}'s reference row does not fit the model's inputs ({ref.numeric.shape[1]} numbers, "
                f"{ref.categorical.shape[1]} ids, lists {[a.shape[1] for a in ref.lists]}; expected "
                f"{preprocessor.n_numeric_}, {len(cards)} ids under their cardinalities, lists {widths}).",
                file=file,
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "rows": self.rows,
            "reference": {
                "numeric": self.reference.numeric[0].tolist(),
                "categorical": self.reference.categorical[0].tolist(),
                "lists": [a.shape[1] for a in self.reference.lists],
            },
            "quantiles": self.quantiles,
            "shares": self.shares,
        }

    @classmethod
    def from_dict(cls, data: Any, *, file: str | None = None) -> Population:
        """The population of ``to_dict``'s output; ArtifactError naming ``file`` when it is not one."""
        try:
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r}")
            ref = data["reference"]
            numeric = np.asarray([ref["numeric"]], dtype=np.float32)
            categorical = np.asarray([ref["categorical"]], dtype=np.int64)
            lists = tuple(np.zeros((1, int(width)), dtype=np.int64) for width in ref["lists"])
            quantiles = {str(k): [float(v) for v in values] for k, values in data["quantiles"].items()}
            shares = {str(k): {str(c): float(s) for c, s in v.items()} for k, v in data["shares"].items()}
            if not np.isfinite(numeric).all() or (categorical < 0).any():
                raise ValueError("the reference row holds a value that is not finite or a negative id")
            return cls(int(data["rows"]), FeatureBatch(numeric, categorical, lists), quantiles, shares)
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            raise ArtifactError(f"{POPULATION_FILE} is not a population needmap wrote ({err}).", file=file) from None
