"""List features: multi-hot sets (interests, genres) and behaviour sequences (items seen, in order).

Input: a cell is either an Arrow list (``list<string>``, ``list<int64>``, ...; from Parquet, JSON
lines or a frame of lists) or text split at a separator. Elements are named like categories
(:func:`needmap.data.values.stringify`, so ``list<int64>`` items match an ``int64`` item column),
trimmed, and empty or null elements are dropped. A null cell is a missing list; it and an empty
list both become all padding.

Separators of text cells: the ``separator`` option; by default ``"|"`` for a multi-hot column
(``"Adventure|Animation"``), and for a sequence the first of ``"|"``, ``","``, ``";"``, ``" "``
found in the training values (``","`` when none is, e.g. every list has one item, or the training
column held Arrow lists). The separator used is recorded, so new data given as text is split the
same way.

Ids: 0 = padding, 1 = out-of-vocabulary (unseen in training, or rarer than ``min_frequency``),
2.. = the vocabulary, most frequent token first (ties by the token). A sequence with
``vocabulary_of: col`` has no vocabulary of its own: its items get the ids of categorical column
``col`` (its vocabulary, or its hash buckets when ``col`` is hashed), unseen items 1, so the model
can share ``col``'s embedding table.

Layout: int64 ``[n, max_len]``, left-aligned and right-padded with 0. A multi-hot list keeps its
first ``max_len`` tokens; a sequence keeps its last ``max_len`` items (the most recent) in their
order. Repeated tokens are kept. ``max_len`` is the option when given, else the 95th percentile
(rounded up) of the lengths of the non-empty training lists, at least 1 and at most
:data:`MAX_LEN_CAP`; the value used is recorded.

Everything is vectorized: ``pyarrow.compute`` splits and flattens the lists, ``index_in`` looks the
tokens up, and one numpy scatter writes the padded array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from needmap.data.values import MULTIHOT_SEPARATOR, ListTokens, is_text_type, list_tokens, plain_array
from needmap.preprocessing import state_checks as checks
from needmap.preprocessing.hashing import HashedColumn
from needmap.preprocessing.vocab import OOV_ID, Vocabulary

PADDING_ID = 0
LIST_OOV_ID = 1
LIST_KINDS: tuple[str, ...] = ("multihot", "sequence")
SEQUENCE_SEPARATORS: tuple[str, ...] = ("|", ",", ";", " ")
FALLBACK_SEPARATOR = ","
MAX_LEN_CAP = 50
#: The longest ``max_len`` a saved list feature may have (an option may set more than :data:`MAX_LEN_CAP`).
MAX_LOADED_LEN = 100_000
LENGTH_QUANTILE = 0.95

SharedEncoder = Vocabulary | HashedColumn


def detect_separator(array: pa.Array | pa.ChunkedArray) -> str:
    """The separator of a text sequence column: the first of :data:`SEQUENCE_SEPARATORS` found in it.

    :data:`FALLBACK_SEPARATOR` when no candidate occurs in any value, or the column holds Arrow
    lists (new data given as text is then split at it).
    """
    plain = plain_array(array)
    if not is_text_type(plain.type):
        return FALLBACK_SEPARATOR
    for separator in SEQUENCE_SEPARATORS:
        if pc.any(pc.match_substring(plain, separator)).as_py():
            return separator
    return FALLBACK_SEPARATOR


def token_positions(
    rows: np.ndarray, lengths: np.ndarray, max_len: int, *, keep_last: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Column of each token ``[t]`` in the padded ``[n, max_len]`` array, and which tokens are kept.

    Tokens are left-aligned; a row keeps its first ``max_len`` tokens, or its last ``max_len`` (in
    order) when ``keep_last``. Returns int64 ``[t]`` (meaningful where kept) and bool ``[t]``.
    """
    starts = np.cumsum(lengths) - lengths
    position = np.arange(len(rows), dtype=np.int64) - starts[rows]
    if keep_last:
        position = position - np.maximum(lengths - max_len, 0)[rows]
        return position, position >= 0
    return position, position < max_len


def pad(ids: np.ndarray, rows: np.ndarray, lengths: np.ndarray, max_len: int, *, keep_last: bool) -> np.ndarray:
    """Scatter token ids ``[t]`` of rows ``[t]`` into int64 ``[n, max_len]``, left-aligned, 0-padded
    (see :func:`token_positions` for which tokens are kept)."""
    position, kept = token_positions(rows, lengths, max_len, keep_last=keep_last)
    out = np.zeros((len(lengths), max_len), dtype=np.int64)
    out[rows[kept], position[kept]] = ids[kept]
    return out


def default_max_len(lengths: np.ndarray) -> int:
    """95th percentile (rounded up) of the non-zero ``lengths``, clipped to ``[1, MAX_LEN_CAP]``."""
    present = lengths[lengths > 0]
    if present.size == 0:
        return 1
    return int(min(max(int(np.ceil(np.quantile(present, LENGTH_QUANTILE))), 1), MAX_LEN_CAP))


@dataclass
class ListColumn:
    """What one list column learned from the training rows (see the module docstring).

    Attributes:
        name: column name.
        kind: "multihot" or "sequence".
        max_len: width of its padded array.
        pooling: "mean" or "sum", how the model pools it.
        separator: separator of text cells (also used when training saw Arrow lists and new data is text).
        values: its own vocabulary (``values[k]`` has id ``k + 2``); empty when shared.
        vocabulary_of: the categorical column whose ids it uses, or None.
    """

    name: str
    kind: str
    max_len: int
    pooling: str = "mean"
    separator: str = MULTIHOT_SEPARATOR
    values: list[str] = field(default_factory=list)
    vocabulary_of: str | None = None
    _vocabulary: Vocabulary = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in LIST_KINDS:
            raise ValueError(f"unknown list kind {self.kind!r}; expected one of {LIST_KINDS}")
        self._vocabulary = Vocabulary(self.name, self.values)

    @property
    def keep_last(self) -> bool:
        return self.kind == "sequence"

    def cardinality(self, shared: SharedEncoder | None = None) -> int:
        """Number of ids (padding and OOV included): the shared column's, else ``len(values) + 2``."""
        return shared.cardinality if shared is not None else self._vocabulary.cardinality

    @classmethod
    def fit(
        cls,
        name: str,
        kind: str,
        array: pa.Array | pa.ChunkedArray,
        options: dict[str, Any],
        *,
        shared: SharedEncoder | None,
        min_frequency: int,
        max_categories: int | None,
        file: str | None,
    ) -> tuple[ListColumn, dict[str, Any]]:
        """Learn separator, vocabulary (unless shared) and ``max_len`` from the training cells ``[n]``.

        Returns the column and its fit report: ``role``, ``missing`` (null cells), ``empty_rows``,
        ``tokens``, ``mean_length``, ``longest``, ``max_len`` and ``max_len_from`` ("option" or
        "95th percentile"), ``truncated_rows`` (longer than ``max_len``), ``oov_tokens`` (kept
        tokens with id 1), and for an own vocabulary ``vocabulary_size``, ``folded_values`` and
        ``folded_tokens`` (rare tokens sent to OOV); for a shared one ``vocabulary_of``.
        """
        if "separator" in options:
            separator = str(options["separator"])
        elif kind == "multihot":
            separator = MULTIHOT_SEPARATOR
        else:
            separator = detect_separator(array)
        parsed = list_tokens(array, separator=separator, column=name, file=file)
        report: dict[str, Any] = {"role": kind}
        values: list[str] = []
        if shared is None:
            vocabulary, vocab_report = Vocabulary.fit(
                name, pa.chunked_array([parsed.tokens]), min_frequency=min_frequency, max_categories=max_categories
            )
            values = vocabulary.values
            report.update(
                vocabulary_size=vocab_report["vocabulary_size"],
                folded_values=vocab_report["folded_categories"],
                folded_tokens=vocab_report["folded_rows"],
            )
        else:
            report["vocabulary_of"] = options["vocabulary_of"]
        if "max_len" in options:
            max_len, max_len_from = int(options["max_len"]), "option"
        else:
            max_len, max_len_from = default_max_len(parsed.lengths), "95th percentile"
        column = cls(
            name,
            kind,
            max_len,
            pooling=str(options.get("pooling", "mean")),
            separator=separator,
            values=values,
            vocabulary_of=options.get("vocabulary_of"),
        )
        _, counts = column._encode_parsed(parsed, shared)
        present = parsed.lengths[~parsed.missing]
        report.update(
            missing=counts["missing"],
            empty_rows=int((present == 0).sum()),
            tokens=counts["tokens"],
            mean_length=float(present.mean()) if present.size else 0.0,
            longest=int(parsed.lengths.max()) if parsed.lengths.size else 0,
            max_len=max_len,
            max_len_from=max_len_from,
            truncated_rows=counts["truncated_rows"],
            oov_tokens=counts["oov_tokens"],
        )
        return column, report

    def encode(
        self, array: pa.Array | pa.ChunkedArray, *, shared: SharedEncoder | None = None, file: str | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Padded ids int64 ``[n, max_len]`` of the cells ``[n]`` and counts: ``role``, ``missing``,
        ``tokens``, ``truncated_rows``, ``oov_tokens`` (kept tokens outside the vocabulary)."""
        parsed = list_tokens(array, separator=self.separator, column=self.name, file=file)
        out, counts = self._encode_parsed(parsed, shared)
        return out, {"role": self.kind, **counts}

    def _encode_parsed(self, parsed: ListTokens, shared: SharedEncoder | None) -> tuple[np.ndarray, dict[str, int]]:
        if (shared is None) != (self.vocabulary_of is None):
            raise ValueError(f"list column {self.name!r}: shared encoder and vocabulary_of disagree")
        encoder: SharedEncoder = shared if shared is not None else self._vocabulary
        position, kept = token_positions(parsed.rows, parsed.lengths, self.max_len, keep_last=self.keep_last)
        # only the kept tokens are looked up: long histories cost their last max_len items
        ids, _, _ = encoder.encode(parsed.tokens.filter(pa.array(kept)))
        ids = np.where(ids == OOV_ID, LIST_OOV_ID, ids)
        out = np.zeros((len(parsed.lengths), self.max_len), dtype=np.int64)
        out[parsed.rows[kept], position[kept]] = ids
        counts = {
            "missing": int(parsed.missing.sum()),
            "tokens": len(parsed.rows),
            "truncated_rows": int((parsed.lengths > self.max_len).sum()),
            "oov_tokens": int((ids == LIST_OOV_ID).sum()),
        }
        return out, counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "max_len": self.max_len,
            "pooling": self.pooling,
            "separator": self.separator,
            "values": list(self.values),
            "vocabulary_of": self.vocabulary_of,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ListColumn:
        """The list feature of :meth:`to_dict`'s output; ValueError when its kind or pooling is unknown,
        ``max_len`` is not from 1 to :data:`MAX_LOADED_LEN`, the separator is empty or a value is not a
        string."""
        name = checks.text(data, "name", "a list feature")
        what = f"list feature {name!r}"
        vocabulary_of = data.get("vocabulary_of")
        separator = checks.text(data, "separator", what)
        if not separator:
            raise ValueError(f"{what}: 'separator' is empty; expected the text that separates its items")
        return cls(
            name=name,
            kind=checks.one_of(data, "kind", what, LIST_KINDS),
            max_len=checks.whole(data, "max_len", what, 1, MAX_LOADED_LEN),
            pooling=checks.one_of(data, "pooling", what, ("mean", "sum")),
            separator=separator,
            values=checks.texts(data, "values", what),
            vocabulary_of=None if vocabulary_of is None else checks.text(data, "vocabulary_of", what),
        )
