"""Permutation importance of a trained model from one encoding of its rows: the same figures as encoding the
rows again for every shuffled column, and the rows it was measured on kept in evaluation.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import needmap as nm
from needmap.workflows.importance import measure_importance, permutation_importance


class _TablesOnly:
    """The model as a stand-in that scores tables only: permutation importance encodes every shuffled table."""

    def __init__(self, model: nm.Predictor) -> None:
        self.model, self.schema_, self.preprocessor_ = model, model.schema_, model.preprocessor_
        self.tables = 0

    def predict_proba(self, table: pa.Table) -> np.ndarray:
        self.tables += 1
        return self.model.predict_proba(table)


def test_one_encoding_gives_the_figures_of_encoding_every_shuffle(bank_model_dir: Path, bank_holdout_csv: Path) -> None:
    model = nm.load(bank_model_dir)
    table = nm.read(bank_holdout_csv)
    stand_in = _TablesOnly(model)
    by_tables = measure_importance(stand_in, table, max_rows=300, repeats=2, seed=3)
    assert stand_in.tables == 1 + 2 * len(model.schema_.features)  # the slow path did encode every shuffle
    encoded = measure_importance(model, table, max_rows=300, repeats=2, seed=3)
    assert encoded.columns == by_tables.columns and encoded.rows == by_tables.rows == 300
    assert permutation_importance(model, table, max_rows=300, repeats=2, seed=3) == encoded.columns
    assert measure_importance(model, table, seed=3).rows == table.num_rows  # 600 rows: all of them


def test_training_keeps_the_rows_its_importance_was_measured_on(bank_model_dir: Path) -> None:
    evaluation: dict[str, Any] = nm.load(bank_model_dir).extras_["evaluation.json"]
    assert evaluation["importance"] and evaluation["importance_rows"] == evaluation["rows"]  # fewer than the cap
