"""Value fields: a numeric column's exact values as a categorical field beside its scaled number."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

import needmap as nm
from needmap.data.values import parse_numeric
from needmap.errors import ArtifactError, ConfigError
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor
from needmap.preprocessing.values import MIN_KEPT_VALUES, ValueColumn
from needmap.schema import ColumnSpec, Schema


def schema(**options: dict) -> Schema:
    return Schema(
        [
            ColumnSpec("amount", "numeric", "double", "test", options.get("amount", {})),
            ColumnSpec("score", "numeric", "double", "test", options.get("score", {})),
            ColumnSpec("city", "categorical", "string", "test"),
        ]
    )


def table(n: int = 400, seed: int = 0) -> pa.Table:
    """amount: 5 distinct amounts (one of them seen 3 times) and some missing; score: continuous."""
    rng = np.random.default_rng(seed)
    amount = rng.choice([0.0, 1902.0, 7688.0, 2415.0], size=n, p=[0.7, 0.1, 0.1, 0.1]).astype(object)
    amount[:3] = 99999.0
    amount[rng.uniform(size=n) < 0.05] = None
    return pa.table(
        {
            "amount": pa.array(amount.tolist(), pa.float64()),
            "score": rng.normal(size=n),
            "city": rng.choice(["a", "b", "c"], size=n),
        }
    )


def test_value_column_keeps_values_seen_often_enough_in_increasing_order() -> None:
    values = pa.chunked_array([pa.array([3.0, 1.0, 3.0, None, 2.0, 3.0, 1.0, 5.0])])
    parsed = parse_numeric(values, column="x", file=None)
    column, report = ValueColumn.fit("x", parsed, min_rows=2)
    assert column.values == [1.0, 3.0] and column.cardinality == 4
    assert report == {"values": 2, "rare_values": 2, "rare_rows": 2, "min_rows": 2}
    ids = column.encode_values(np.array([1.0, 3.0, 2.0, np.nan, 4.0, 1e9, -1.0]))
    assert ids.tolist() == [2, 3, 0, 1, 0, 0, 0]  # kept values 2.., rare or unseen 0, missing 1
    assert column.id_map() == {1.0: 2, 3.0: 3}  # the one-row path's lookup: the same ids
    again = ValueColumn.from_dict(json.loads(json.dumps(column.to_dict())))
    assert again == column
    with pytest.raises(ValueError, match="strictly increasing"):
        ValueColumn.from_dict({"kind": "values", "name": "x", "min_rows": 1, "values": [3.0, 1.0]})


def test_columns_with_few_distinct_values_get_a_value_field_beside_their_number() -> None:
    train = table()
    pre = Preprocessor(schema(), PreprocessConfig(value_min_rows=2)).fit(train)
    # score has 400 distinct values (above the default 200): no value field
    assert pre.numeric_names_ == ["amount", "score", "amount__missing"]
    assert pre.categorical_names_ == ["city", "amount"] and pre.cardinalities_ == [5, 2 + 5]
    assert pre.report_["columns"]["amount"]["value_field"] == {
        "values": 5,
        "rare_values": 0,
        "rare_rows": 0,
        "min_rows": 2,
    }
    assert "value_field" not in pre.report_["columns"]["score"]
    new = pa.table({"amount": [7688.0, None, 5.0, 0.0], "score": [0.1, 0.2, 0.3, 0.4], "city": ["a"] * 4})
    batch = pre.transform(new)
    values = pre.vocabularies_[1].values
    assert batch.categorical[:, 1].tolist() == [2 + values.index(7688.0), 1, 0, 2 + values.index(0.0)]
    assert batch.numeric.shape == (4, 3)  # the scaled numbers stay
    assert pre.last_transform_report_["columns"]["amount"]["value_oov"] == 1  # 5.0 was never seen
    assert pre.last_transform_report_["columns"]["amount"]["missing"] == 1


def test_the_rule_and_the_column_option_decide_which_columns_get_one() -> None:
    train = table()
    limit = Preprocessor(schema(), PreprocessConfig(value_fields=4)).fit(train)
    assert limit.categorical_names_ == ["city"]  # amount has 5 distinct values, above 4
    off = Preprocessor(schema(), PreprocessConfig(value_fields=None)).fit(train)
    assert off.categorical_names_ == ["city"]
    forced = Preprocessor(schema(score={"values": True}, amount={"values": False})).fit(train)
    assert forced.categorical_names_ == ["city", "score"]  # above the limit, but asked for
    assert forced.cardinalities_[1] == 2 + 400  # every training value of score keeps an id
    rare = Preprocessor(schema(), PreprocessConfig(value_min_rows=500)).fit(train)
    assert rare.categorical_names_ == ["city"]  # no value seen 500 times: no field
    assert rare.report_["columns"]["amount"]["value_field"]["used"] is False
    with pytest.raises(ConfigError, match="bucketize and values"):
        Preprocessor(schema(amount={"bucketize": 4, "values": True})).fit(train)
    with pytest.raises(ConfigError, match="option values is 'yes'"):
        Preprocessor(schema(amount={"values": "yes"}))
    with pytest.raises(ConfigError, match="value_fields is 0"):
        PreprocessConfig(value_fields=0)
    with pytest.raises(ConfigError, match="value_min_rows is 0"):
        PreprocessConfig(value_min_rows=0)


def test_two_kept_values_are_enough_for_the_rule_and_the_option_keeps_even_fewer() -> None:
    # amounts 0 (5 rows), 1000 (5 rows), 1001 and 5000 (1 row each): 4 distinct values filling 4 of the
    # 5001 points of their grid, so the rule chooses the column; with value_min_rows 5 it keeps 0 and
    # 1000, exactly MIN_KEPT_VALUES
    train = pa.table({"amount": [0.0] * 5 + [1000.0] * 5 + [1001.0, 5000.0], "score": [0.5] * 12, "city": ["a"] * 12})
    assert MIN_KEPT_VALUES == 2
    ruled = Preprocessor(schema(), PreprocessConfig(value_fields=4, value_min_rows=5)).fit(train)
    assert ruled.categorical_names_ == ["city", "amount"] and ruled.cardinalities_[1] == 2 + 2
    assert "used" not in ruled.report_["columns"]["amount"]["value_field"]
    # value_min_rows 6: no value kept; the rule drops the field, the option values: true keeps it anyway
    few = PreprocessConfig(value_fields=4, value_min_rows=6)
    assert Preprocessor(schema(), few).fit(train).categorical_names_ == ["city"]
    forced = Preprocessor(schema(amount={"values": True}), few).fit(train)
    assert forced.categorical_names_ == ["city", "amount"] and forced.cardinalities_[1] == 2  # OOV, missing


def test_value_fields_survive_the_saved_state_and_the_one_row_path(rows_agree) -> None:
    train = table()
    pre = Preprocessor(schema()).fit(train)
    state = json.loads(json.dumps(pre.to_dict()))
    again = Preprocessor.from_dict(state)
    new = table(50, seed=1)
    np.testing.assert_array_equal(again.transform(new).categorical, pre.transform(new).categorical)
    odd = [{"amount": "1902", "score": 0.0, "city": "b"}, {"amount": 3.5, "score": 1, "city": None}]
    rows_agree(again, [*new.to_pylist(), *odd], reference=pre)
    broken = dict(state, numeric=[c for c in state["numeric"] if c["name"] != "amount"])
    with pytest.raises(ArtifactError, match="value field of 'amount'"):
        Preprocessor.from_dict(broken)


# 12,000 random lines of adult.data in random order (tests/datasets/ATTRIBUTION.md)
ADULT = Path(__file__).resolve().parents[1] / "datasets" / "census_income_adult" / "adult.data.gz"
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income",
]  # fmt: skip


@pytest.mark.slow
def test_value_fields_of_census_amounts_lift_an_mlp_on_real_data() -> None:
    """Census (Adult): whether a person is married, from age, work, education, sex, hours and capital
    gains and losses (marital status and relationship dropped). Certain exact amounts of capital loss
    and gain go with married couples; as scaled numbers an MLP cannot single them out."""
    raw = pacsv.read_csv(ADULT, read_options=pacsv.ReadOptions(column_names=ADULT_COLUMNS))
    text = {n: pc.utf8_trim_whitespace(raw[n]) for n in raw.column_names if pa.types.is_string(raw[n].type)}
    table = pa.table({n: text.get(n, raw[n]) for n in raw.column_names})
    table = table.append_column("married", pc.equal(table["marital_status"], "Married-civ-spouse"))
    table = table.drop_columns(["marital_status", "relationship", "income", "fnlwgt"])
    train, test = table.slice(0, 8000), table.slice(8000)  # the slice's rows are in random order
    assert test.num_rows == 4000
    options = {"target": "married", "epochs": 6, "progress": False, "threads": 1, "seed": 0}
    with_fields = nm.Model("mlp", **options).fit(train)
    prep = with_fields.preprocessor_
    assert prep is not None
    fields = [e.name for e in prep.vocabularies_ if isinstance(e, ValueColumn)]
    assert fields == ["capital_gain", "capital_loss"]  # age, education_num and hours fill their grid
    assert prep.report_["columns"]["capital_loss"]["value_field"]["values"] > 50
    without = nm.Model("mlp", value_fields=None, **options).fit(train)
    gained = with_fields.evaluate(test)["auc"] - without.evaluate(test)["auc"]
    assert gained > 0.01, gained  # measured +0.023 (0.861 against 0.838)
