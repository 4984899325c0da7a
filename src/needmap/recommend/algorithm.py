"""What every recommender algorithm is: fitted on interactions, it scores the whole catalogue for histories.

An algorithm works on indices only (customers and items as :class:`Interactions` numbers them); the ids,
the histories kept for serving, the top-k choice and the model directory belong to
:class:`needmap.recommend.recommender.Recommender`.

The contract, in scikit-learn's habits: the constructor stores its parameters as given (``get_params`` and
``clone`` read them back), ``fit`` returns the algorithm, and the fitted state is one dictionary of arrays,
``state_`` (what the model directory keeps, in safetensors), beside ``n_items_``. ``score(histories)`` gives
one row of scores over all items per history (the customer's items in time order; empty for a customer
with none); ``contributions(history, item)`` says what each item of a history adds to an item's score (for
:meth:`~needmap.recommend.recommender.Recommender.explain`). Retrieval networks also give
``vectors(histories)`` and ``item_vectors()`` whose inner products are the scores, so that an index (FAISS)
can search a large catalogue.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from needmap.errors import ConfigError
from needmap.recommend.interactions import Interactions


class Algorithm:
    """Base of the recommender algorithms (see the module's docstring)."""

    name: ClassVar[str] = ""
    #: Whether ``vectors`` / ``item_vectors`` exist (a two-tower or sequential network).
    retrieval: ClassVar[bool] = False
    #: Whether the algorithm trains in epochs with a validation check (a network).
    network: ClassVar[bool] = False

    state_: dict[str, np.ndarray]
    n_items_: int

    @classmethod
    def param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> Algorithm:
        unknown = sorted(set(params) - set(self.param_names()))
        if unknown:
            raise ConfigError(
                f"{self.name} has no option {', '.join(unknown)}; expected some of {', '.join(self.param_names())}."
            )
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit(self, data: Interactions, validation: Any = None) -> Algorithm:
        """Learn from ``data`` (``validation``: a :class:`needmap.recommend.split.HeldOut` a network may watch
        to stop early, recommended from ``data``'s histories). Returns self."""
        raise NotImplementedError

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Scores of every item (float32, ``len(histories) x n_items``); higher is better."""
        raise NotImplementedError

    def contributions(self, history: np.ndarray, item: int) -> np.ndarray:
        """How much each distinct item of ``history`` (in ``np.unique`` order) adds to ``item``'s score (float64):
        exact terms for models whose score is such a sum (ItemKNN, EASE), Integrated Gradients for the networks
        (:mod:`needmap.recommend.why`); NotImplementedError for the others."""
        raise NotImplementedError(f"{self.name} scores are not a sum over the history's items")

    def contributions_batch(self, histories: Sequence[np.ndarray], items: Sequence[int]) -> list[np.ndarray]:
        """:meth:`contributions` of each (history, item) pair; one by one here, at once where that is faster
        (a network integrates many pairs per pass)."""
        return [self.contributions(history, int(item)) for history, item in zip(histories, items, strict=True)]

    def vectors(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """The customers' vectors (retrieval networks only)."""
        raise NotImplementedError(f"{self.name} has no customer vectors")

    def item_vectors(self) -> np.ndarray:
        """The items' vectors (retrieval networks only)."""
        raise NotImplementedError(f"{self.name} has no item vectors")

    def restore(self, state: dict[str, np.ndarray], n_items: int) -> Algorithm:
        """The fitted algorithm again from its saved ``state_`` (the constructor's parameters already set)."""
        self.state_ = dict(state)
        self.n_items_ = n_items
        return self

    def summary(self) -> dict[str, Any]:
        """What training did, for metrics.json (epochs, time, speed); empty for closed forms."""
        return dict(getattr(self, "summary_", {}))


def histories_of(data: Interactions, customers: np.ndarray) -> list[np.ndarray]:
    """Each customer's items in time order."""
    starts = data.starts()
    return [data.item[starts[c] : starts[c + 1]] for c in customers]


def history_matrix(histories: Sequence[np.ndarray], n_items: int) -> Any:
    """The histories as a binary CSR matrix (one row per history)."""
    import scipy.sparse as sp

    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate(histories).astype(np.int32) if len(histories) and indptr[-1] else np.zeros(0, np.int32)
    matrix = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(histories), n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix
