"""FeatureBatch: the one array layout that every model reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FeatureBatch:
    """Preprocessed features of ``n`` rows, as contiguous arrays.

    Attributes:
        numeric: float32 ``[n, n_numeric]``: scaled numerics, then missing-indicators (0/1).
        categorical: int64 ``[n, n_categorical]``: per-column ids in ``[0, cardinality)``;
            id 0 is the out-of-vocabulary id, id 1 the missing-value id.
    """

    numeric: np.ndarray
    categorical: np.ndarray

    def __post_init__(self) -> None:
        if self.numeric.ndim != 2 or self.categorical.ndim != 2:
            raise ValueError("FeatureBatch arrays must be 2-D")
        if len(self.numeric) != len(self.categorical):
            raise ValueError(
                f"FeatureBatch arrays disagree on the row count: {len(self.numeric)} numeric rows, "
                f"{len(self.categorical)} categorical rows"
            )

    def __len__(self) -> int:
        return len(self.numeric)

    def take(self, index: np.ndarray) -> FeatureBatch:
        """The rows at ``index`` (int array), as a new contiguous batch."""
        return FeatureBatch(self.numeric[index], self.categorical[index])
