"""A feature table built from an event log: its labels, cutoff and customer are no inputs, its test rows are the
latest cutoff's, its validation rows the latest remaining cutoff's, and the rows whose label window reaches past
either are left out and counted."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import needmap as nm
from needmap.errors import ConfigError
from needmap.events.cutoffs import cutoff_values, split_latest
from needmap.events.table_info import info_of
from needmap.training_rows import validation_by_cutoff
from needmap.workflows.event_split import cutoff_split, default_split
from needmap.workflows.train import run_train
from needmap.workflows.train_table import split_rows

FOUR = ("2026-01-01", "2026-02-01", "2026-03-01", "2026-03-15")  # 03-01 + 30 days reaches past 03-15


def _cutoffs_of(table: pa.Table, rows: np.ndarray) -> set[str]:
    return {str(v)[:10] for v in pc.take(table.column("cutoff"), pa.array(rows)).to_pylist()}


def test_labels_that_are_not_the_target_cutoff_and_customer_are_not_inputs(make_table: Callable) -> None:
    table = make_table(FOUR)
    schema = nm.Model("mlp", target="label_bought").infer_schema(table)
    assert schema.target == "label_bought"
    assert schema.ids == ["customer_id"]
    for name in ("label_purchases", "label_spend", "cutoff"):
        assert schema.column(name).role == "ignored", name
        assert name not in schema.features
    assert "the future" in schema.column("label_spend").reason
    assert set(schema.features) == {"purchases_30d", "amount_30d"}
    # the same table without its description: the labels would be inputs, which is the leak left out above
    plain = nm.Model("mlp", target="label_bought").infer_schema(table.replace_schema_metadata(None))
    assert "label_purchases" in plain.features


def test_a_label_given_an_input_role_is_an_error_naming_it(make_table: Callable) -> None:
    table = make_table(FOUR)
    with pytest.raises(ConfigError, match=r"'label_purchases' is given the role numeric.*a label of this feature"):
        nm.Model("mlp", target="label_bought", numeric=["label_purchases"]).infer_schema(table)
    # as a target it is no input, and the other labels are still left out
    schema = nm.Model("mlp", target="label_purchases", task="regression").infer_schema(table)
    assert "label_bought" not in schema.features and schema.target == "label_purchases"


def test_the_test_rows_are_the_latest_cutoffs_and_the_horizon_gap_is_left_out(make_table: Callable) -> None:
    table = make_table(FOUR, customers=50)
    assert default_split(None, table) == "cutoff" and default_split("random", table) == "random"
    assert default_split(None, table.replace_schema_metadata(None)) == "stratified"
    split = cutoff_split(table)
    assert _cutoffs_of(table, split.latest) == {"2026-03-15"} and len(split.latest) == 50
    assert _cutoffs_of(table, split.gap) == {"2026-03-01"} and len(split.gap) == 50
    assert _cutoffs_of(table, split.earlier) == {"2026-01-01", "2026-02-01"}
    assert split.describe()["horizon_gap_rows"] == 50
    schema = nm.Model("mlp", target="label_bought").infer_schema(table)
    train, test, method = split_rows(table, schema, test_size=0.2, split="cutoff", time_column=None, seed=0)
    assert method == "cutoff"
    assert np.array_equal(test, split.latest) and np.array_equal(train, split.earlier)


def test_a_window_ending_on_the_test_cutoff_does_not_overlap_it() -> None:
    cutoffs = np.array(["2026-01-01", "2026-01-31", "2026-03-02"], dtype="datetime64[us]")
    split = split_latest(cutoffs, np.arange(3), horizon_days=30)
    assert split.latest.tolist() == [2] and split.gap.tolist() == [] and split.earlier.tolist() == [0, 1]
    split = split_latest(cutoffs, np.arange(3), horizon_days=31)
    assert split.gap.tolist() == [1] and split.earlier.tolist() == [0]


def test_validation_is_the_latest_remaining_cutoff_with_its_own_gap(make_table: Callable) -> None:
    table = make_table(("2026-01-01", "2026-01-20", "2026-02-15"), customers=40)
    train, valid, described = validation_by_cutoff(table)
    assert _cutoffs_of(table, valid) == {"2026-02-15"}
    assert _cutoffs_of(table, train) == {"2026-01-01"}  # 01-20 + 30 days reaches past 02-15
    assert described["method"] == "cutoff" and described["horizon_gap_rows"] == 40
    assert validation_by_cutoff(table.replace_schema_metadata(None)) is None
    assert validation_by_cutoff(make_table(("2026-01-01",), customers=10)) is None


def test_cutoff_errors_and_cross_validation_are_refused(make_table: Callable) -> None:
    model = nm.Model("mlp", target="label_bought", epochs=1, hidden=[4], progress=False)
    with pytest.raises(ConfigError, match="a cutoff split rules out"):
        run_train(make_table(FOUR), model, out=None, cv=3, baseline=False)
    with pytest.raises(ConfigError, match="single cutoff"):
        cutoff_split(make_table(("2026-01-01",), customers=10))
    with pytest.raises(ConfigError, match="nothing is left to train on"):
        cutoff_split(make_table(("2026-01-01", "2026-01-10"), customers=10))
    with pytest.raises(ConfigError, match="carries no feature description"):
        cutoff_split(make_table(FOUR).replace_schema_metadata(None))
    info = info_of(make_table(FOUR))
    assert info is not None and cutoff_values(make_table(FOUR), info).dtype == np.dtype("datetime64[us]")
