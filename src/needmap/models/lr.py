""" "lr": logistic regression (or a linear model of K classes / a regression) inside needmap's pipeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from needmap.models.base import TabularModel
from needmap.models.fields import LinearTerms
from needmap.models.registration import register
from needmap.models.space import Dimension


@register("lr")
class LogisticRegression(TabularModel):
    """A linear model: a weight per numeric column, per category id and per list token, and a bias.

    The preprocessor's scaling, missing-indicators, vocabularies and out-of-vocabulary ids apply as
    for every model, so this is the baseline the deep models must beat. Binary: logistic
    regression; K classes: multinomial (softmax) regression; regression: linear regression.

    Args:
        n_numeric, cardinalities, n_outputs, lists: see :class:`~needmap.models.base.TabularModel`.
        (no hyper-parameter; regularize with the trainer's ``weight_decay``.)

    Shapes:
        forward(numeric float32 ``[B, n_numeric]``, categorical int64 ``[B, n_categorical]``,
        lists tuple of int64 ``[B, L_k]``) -> logits ``[B, n_outputs]``.
    """

    search_space: ClassVar[dict[str, Dimension]] = {}

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        n_outputs: int,
        lists: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(n_numeric, cardinalities, n_outputs, lists)
        self.linear = LinearTerms(self.n_numeric, self.cardinalities, self.lists, self.n_outputs)

    def config(self) -> dict[str, Any]:
        return {}

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor, lists: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """Logits ``[B, n_outputs]``."""
        return self.linear(numeric, categorical, lists)
