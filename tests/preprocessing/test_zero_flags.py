"""Zero flags: a 0/1 "is zero" column beside a numeric column that is mostly zero over a long range."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from needmap.cli.options import parse_value
from needmap.data.infer import infer_schema
from needmap.data.read import read
from needmap.errors import ConfigError
from needmap.preprocessing.describe import describe_schema
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor
from needmap.schema import ColumnSpec, Schema


def schema(**options: dict) -> Schema:
    names = ("spend", "visits", "rate", "levels")
    columns = [ColumnSpec(n, "numeric", "double", "test", options.get(n, {})) for n in names]
    return Schema([*columns, ColumnSpec("city", "categorical", "string", "test")])


def table(n: int = 2000, seed: int = 0) -> pa.Table:
    """spend: 60% zeros, the rest spread over six decades (thousands of values), 5% missing;
    visits: 20% zeros; rate: no zeros; levels: 60% zeros but only 5 distinct values."""
    rng = np.random.default_rng(seed)
    spend = np.where(rng.uniform(size=n) < 0.6, 0.0, 10.0 ** rng.uniform(-3, 3, size=n)).astype(object)
    spend[rng.uniform(size=n) < 0.05] = None
    visits = np.where(rng.uniform(size=n) < 0.2, 0.0, rng.exponential(50.0, size=n))
    levels = rng.choice([0.0, 1.0, 2.0, 3.0, 4.0], size=n, p=[0.6, 0.1, 0.1, 0.1, 0.1])
    return pa.table(
        {
            "spend": pa.array(spend.tolist(), pa.float64()),
            "visits": visits,
            "rate": rng.uniform(0.5, 2.0, size=n),
            "levels": levels,
            "city": rng.choice(["a", "b", "c"], size=n),
        }
    )


def test_mostly_zero_columns_over_a_long_range_get_a_flag_after_the_missing_indicators() -> None:
    train = table()
    pre = Preprocessor(schema()).fit(train)
    assert [c.name for c in pre.numeric_columns_ if c.zero_flag] == ["spend"]
    assert pre.numeric_names_ == ["spend", "visits", "rate", "levels", "spend__missing", "spend__zero"]
    share = pre.report_["columns"]["spend"]["zero_flag"]["zero_share"]
    assert 0.55 < share < 0.65
    new = table(300, seed=1)
    features = pre.transform(new).numeric
    raw = np.array([np.nan if v is None else v for v in new["spend"].to_pylist()])
    np.testing.assert_array_equal(features[:, 5], (raw == 0).astype(np.float32))  # missing is not zero
    np.testing.assert_array_equal(features[:, 4], np.isnan(raw).astype(np.float32))
    assert features[np.isnan(raw), 5].sum() == 0 and features[raw == 0, 5].min() == 1.0


def test_the_share_the_column_option_and_none_decide() -> None:
    train = table()
    flagged = {
        "default": Preprocessor(schema()).fit(train),
        "share 0.15": Preprocessor(schema(), PreprocessConfig(zero_flags=0.15)).fit(train),
        "none": Preprocessor(schema(), PreprocessConfig(zero_flags=None)).fit(train),
        "options": Preprocessor(schema(spend={"zero_flag": False}, levels={"zero_flag": True})).fit(train),
    }
    names = {key: [c.name for c in pre.numeric_columns_ if c.zero_flag] for key, pre in flagged.items()}
    assert names == {"default": ["spend"], "share 0.15": ["spend", "visits"], "none": [], "options": ["levels"]}
    with pytest.raises(ConfigError, match="bucketize and zero_flag: true"):
        Preprocessor(schema(spend={"bucketize": 5, "zero_flag": True})).fit(train)
    for bad in (0, 1.5, "0.3", True):
        with pytest.raises(ConfigError, match="zero_flags is"):
            PreprocessConfig(zero_flags=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="option zero_flag is 'yes', expected true or false"):
        Preprocessor(schema(spend={"zero_flag": "yes"}))


def test_zero_flags_survive_the_saved_state_and_the_one_row_path(rows_agree) -> None:
    pre = Preprocessor(schema()).fit(table())
    state = json.loads(json.dumps(pre.to_dict()))
    again = Preprocessor.from_dict(state)
    new = table(200, seed=2)
    np.testing.assert_array_equal(again.transform(new).numeric, pre.transform(new).numeric)
    odd = [{"spend": "0", "visits": 0, "rate": 1.0, "levels": 0, "city": "a"}, {"spend": "NA", "visits": 3}]
    odd[1].update(rate=1.0, levels=2.0, city="b")
    rows_agree(again, [*new.to_pylist(), *odd], reference=pre)
    # a state saved before zero flags has no 'zero_flag' key: it loads without flags
    for column in state["numeric"]:
        column.pop("zero_flag")
    old = Preprocessor.from_dict(state)
    assert old.numeric_names_ == ["spend", "visits", "rate", "levels", "spend__missing"]


def test_shoppers_durations_and_page_values_get_flags(shoppers_csv) -> None:
    """Real data: the columns that are mostly zero over a long range are flagged, counts are not."""
    data = read(shoppers_csv)
    pre = Preprocessor(infer_schema(data, target="Revenue")).fit(data)
    flagged = sorted(c.name for c in pre.numeric_columns_ if c.zero_flag)
    assert flagged == ["Administrative_Duration", "BounceRates", "Informational_Duration", "PageValues"]
    rows = {row["name"]: row["reason"] for row in describe_schema(infer_schema(data, target="Revenue"), data)}
    assert "+ a zero flag" in rows["PageValues"] and "+ a zero flag" not in rows["Administrative"]


@pytest.mark.slow
def test_a_step_at_zero_that_scaling_hides_is_learned_with_the_flag() -> None:
    """The label depends only on whether spend is zero; a third of the positive amounts lie below 0.01,
    where the scaled number is all but that of zero. With the flag an MLP finds the step."""
    rng = np.random.default_rng(3)
    n = 6000
    bought = rng.uniform(size=n) < 0.5
    spend = np.where(bought, 10.0 ** rng.uniform(-6, 3, size=n), 0.0)
    label = np.where(rng.uniform(size=n) < np.where(bought, 0.8, 0.2), "yes", "no")
    data = pa.table({"spend": spend, "noise": rng.normal(size=n), "y": label})
    train, test = data.slice(0, 4000), data.slice(4000)
    options = {"target": "y", "epochs": 5, "progress": False, "threads": 1, "seed": 0}
    with_flag = nm.Model("mlp", **options).fit(train)
    without = nm.Model("mlp", zero_flags=None, **options).fit(train)
    auc_with, auc_without = with_flag.evaluate(test)["auc"], without.evaluate(test)["auc"]
    assert auc_with > 0.77, auc_with  # the best possible is 0.80
    assert auc_with - auc_without > 0.05, (auc_with, auc_without)  # measured 0.793 against 0.645


def test_the_command_line_reads_a_share_or_none() -> None:
    assert parse_value(PreprocessConfig, "zero_flags", None) is None  # not given: the default applies
    assert parse_value(PreprocessConfig, "zero_flags", "none") is None
    assert parse_value(PreprocessConfig, "zero_flags", "0.25") == 0.25
    with pytest.raises(ConfigError, match="--zero-flags 'many'"):
        parse_value(PreprocessConfig, "zero_flags", "many")
    for bad in ("0", "1.5"):
        with pytest.raises(ConfigError, match="zero_flags is"):
            PreprocessConfig(zero_flags=parse_value(PreprocessConfig, "zero_flags", bad))


def test_the_demo_lists_the_zero_flag_of_a_column() -> None:
    from needmap.demo import _preprocessing_lines

    pre = Preprocessor(schema()).fit(table())
    lines = _preprocessing_lines({"preprocessing": pre.report_})
    spend = [line for line in lines if line.startswith("spend:")]
    assert len(spend) == 1 and "zero flag (6" in spend[0], lines  # about 60% zeros
    assert not any("zero flag" in line for line in lines if not line.startswith("spend:"))
