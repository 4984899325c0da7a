"""FeatureBatch: the one array layout that every model reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FeatureBatch:
    """Preprocessed features of ``n`` rows, as contiguous arrays.

    Attributes:
        numeric: float32 ``[n, n_numeric]``: scaled numerics, then missing-indicators (0/1), then zero flags (0/1).
        categorical: int64 ``[n, n_categorical]`` (int32 in rows kept for training, :meth:`compact`): per-column
            ids in ``[0, cardinality)``;
            id 0 is the out-of-vocabulary id, id 1 the missing-value id. Hashed categoricals and
            bucketized numerics are categorical columns too.
        lists: one int64 ``[n, max_len_k]`` array per list feature (multi-hot interests and
            behaviour sequences), in the order of the preprocessor's ``list_specs_``; id 0 is
            padding, id 1 out-of-vocabulary, values start at the left and sequences keep their order
            (most recent last).
    """

    numeric: np.ndarray
    categorical: np.ndarray
    lists: tuple[np.ndarray, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self.lists = tuple(self.lists)
        if self.numeric.ndim != 2 or self.categorical.ndim != 2 or any(a.ndim != 2 for a in self.lists):
            raise ValueError("FeatureBatch arrays must be 2-D")
        counts = {len(self.numeric), len(self.categorical), *(len(a) for a in self.lists)}
        if len(counts) != 1:
            raise ValueError(
                f"FeatureBatch arrays disagree on the row count: {len(self.numeric)} numeric rows, "
                f"{len(self.categorical)} categorical rows, list rows {[len(a) for a in self.lists]}"
            )

    def __len__(self) -> int:
        return len(self.numeric)

    def compact(self) -> FeatureBatch:
        """This batch with its ids (categorical and list arrays) as int32 where they fit, half int64's memory:
        how rows kept for training are held (a model widens them to int64 a batch at a time). Arrays already
        int32, or holding an id of 2**31 or more, are kept as they are; the numerics are shared."""

        def narrow(ids: np.ndarray) -> np.ndarray:
            fits = ids.dtype != np.int32 and (ids.size == 0 or int(ids.max()) < 2**31)
            return ids.astype(np.int32) if fits else ids

        return FeatureBatch(self.numeric, narrow(self.categorical), tuple(narrow(a) for a in self.lists))

    def take(self, index: np.ndarray) -> FeatureBatch:
        """The rows at ``index`` (int array), as a new contiguous batch."""
        return FeatureBatch(self.numeric[index], self.categorical[index], tuple(a[index] for a in self.lists))

    def with_rows_of(
        self, order: np.ndarray, numeric: list[int], categorical: list[int], lists: list[int]
    ) -> FeatureBatch:
        """A new batch whose given columns (of ``numeric`` and ``categorical``, and the ``lists`` entries) hold
        the rows at ``order`` (a permutation of the rows) and whose other columns are these, shared, not copied."""
        num = self.numeric
        if numeric:
            num = num.copy()
            num[:, numeric] = self.numeric[np.ix_(order, numeric)]
        cat = self.categorical
        if categorical:
            cat = cat.copy()
            cat[:, categorical] = self.categorical[np.ix_(order, categorical)]
        listed = tuple(a[order] if k in lists else a for k, a in enumerate(self.lists))
        return FeatureBatch(num, cat, listed)
