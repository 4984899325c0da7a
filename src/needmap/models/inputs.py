"""Inputs: the tensors of a batch, as every model's forward receives them (``model(*inputs)``)."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Inputs(NamedTuple):
    """Tensors of B rows.

    Attributes:
        numeric: float32 ``[B, n_numeric]``.
        categorical: int64 ``[B, n_categorical]``.
        lists: one int64 ``[B, max_len_k]`` tensor per list feature (0 = padding).

    A model is called as ``model(*inputs)``, i.e. ``forward(numeric, categorical, lists)``.
    """

    numeric: torch.Tensor
    categorical: torch.Tensor
    lists: tuple[torch.Tensor, ...] = ()

    @property
    def rows(self) -> int:
        return int(self.numeric.shape[0])

    def take(self, index: torch.Tensor) -> Inputs:
        """The rows at ``index`` (int64 tensor)."""
        return Inputs(self.numeric[index], self.categorical[index], tuple(t[index] for t in self.lists))

    def slice(self, start: int, stop: int) -> Inputs:
        """Rows ``start:stop`` (views, no copy)."""
        return Inputs(self.numeric[start:stop], self.categorical[start:stop], tuple(t[start:stop] for t in self.lists))

    def to(self, device: torch.device | str) -> Inputs:
        """The same tensors on ``device`` (the tensors themselves when they are there already)."""
        return Inputs(self.numeric.to(device), self.categorical.to(device), tuple(t.to(device) for t in self.lists))

    def widened(self) -> Inputs:
        """The same rows with int64 ids (what the models' embedding lookups take); itself when they are."""
        if self.categorical.dtype == torch.int64 and all(t.dtype == torch.int64 for t in self.lists):
            return self
        return Inputs(self.numeric, self.categorical.long(), tuple(t.long() for t in self.lists))
