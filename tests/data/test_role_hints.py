"""Notes in the schema's reasons where the data suggests another role: text that is mostly numbers, integers
that look like codes. Each note names the options that declare the other role, and following it works."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from needmap.cli.options import flag_of
from needmap.data.infer import infer_schema
from needmap.data.read import read
from needmap.data.roles import ColumnRoles
from needmap.preprocessing.config import PreprocessConfig
from needmap.preprocessing.preprocess import Preprocessor


def spend_table(rows: int = 200, text_every: int = 10) -> pa.Table:
    """``spend``: numbers as text, every ``text_every``-th value a word; a 0/1 target."""
    rng = np.random.default_rng(7)
    words = ["n.a.", "unknown", "-"]
    spend = [words[i % 3] if i % text_every == 0 else f"{rng.normal() * 50 + 100:.2f}" for i in range(rows)]
    return pa.table({"spend": spend, "y": [i % 2 for i in range(rows)]})


def reason_of(table: pa.Table, name: str, **given: object) -> str:
    return infer_schema(table, target="y", **given).column(name).reason


def test_text_that_is_mostly_numbers_says_how_many_are_not_and_how_to_read_it_as_numbers() -> None:
    table = spend_table()
    spec = infer_schema(table, target="y").column("spend")
    assert spec.role == "categorical"
    assert spec.reason.startswith("text, though 180 of 200 values are numbers; 20 (10.0%) are not")
    assert "'n.a.'" in spec.reason and "'unknown'" in spec.reason and "'-'" in spec.reason
    assert spec.reason.endswith("As numbers (those missing): --numeric spend --max-unparseable 0.2")
    # the options it names exist, and with them the column is numeric and trains
    assert flag_of(ColumnRoles, "numeric") == "--numeric"
    assert flag_of(PreprocessConfig, "max_unparseable") == "--max-unparseable"
    schema = infer_schema(table, target="y", numeric=["spend"])
    fitted = Preprocessor(schema, PreprocessConfig(max_unparseable=0.2)).fit(table)
    assert fitted.report_["columns"]["spend"]["unparseable"] == 20


def test_the_share_to_allow_is_twice_the_file_s_rounded_up_and_named_only_when_the_default_is_too_small() -> None:
    odd = spend_table(rows=300, text_every=7)  # 43 of 300 words: 14.33%, twice 28.67% -> 0.3
    assert reason_of(odd, "spend").endswith("--numeric spend --max-unparseable 0.3")
    named = spend_table().rename_columns(["monthly spend", "y"])
    assert reason_of(named, "monthly spend").endswith("--numeric 'monthly spend' --max-unparseable 0.2")
    loose = reason_of(spend_table(rows=200, text_every=100), "spend", numeric_parse_ratio=1.0)
    assert loose.endswith("As numbers (those missing): --numeric spend")  # 1%: twice is within the default 5%


def test_text_of_few_numbers_has_no_note_and_unique_text_is_still_an_id() -> None:
    words = pa.table({"city": ["paris", "lyon", "12", "nice"] * 25, "y": [0, 1] * 50})
    assert reason_of(words, "city") == "text"
    keys = pa.table({"key": [f"k{i}" if i % 3 else str(i) for i in range(100)], "y": [0, 1] * 50})
    assert infer_schema(keys, target="y").column("key").role == "id"


def test_integer_codes_of_online_shoppers_are_flagged_and_its_counts_are_not(shoppers_csv) -> None:
    schema = infer_schema(read(shoppers_csv), target="Revenue")
    flagged = {c.name for c in schema.columns if "likely codes" in c.reason}
    assert flagged == {"OperatingSystems", "Browser", "Region", "TrafficType"}
    browser = schema.column("Browser")
    assert browser.role == "numeric"  # a hint, not a role change
    assert re.search(r"likely codes \(\d+ integers 1-\d+, .*\): if unordered, --categorical Browser$", browser.reason)
    assert flag_of(ColumnRoles, "categorical") == "--categorical"
    declared = infer_schema(read(shoppers_csv), target="Revenue", categorical=["Browser"]).column("Browser")
    assert (declared.role, declared.reason) == ("categorical", "set by user")


def test_counts_levels_and_spread_out_codes_are_not_flagged(bank_table: pa.Table) -> None:
    schema = infer_schema(bank_table, target="y")
    assert not [c.name for c in schema.columns if "likely codes" in c.reason]
    rng = np.random.default_rng(3)
    table = pa.table(
        {
            "children": np.minimum(rng.geometric(0.5, 500) - 1, 6),  # a count: frequencies fall
            "ad_width": rng.choice([216, 300, 320, 728], 500),  # codes, spread out: a value field reads them
            "store": rng.choice(np.arange(40), 500),  # 40 values: more than a few codes
            "segment": rng.choice([1, 2, 3, 4, 5], 500, p=[0.1, 0.4, 0.1, 0.3, 0.1]),
            "y": [0, 1] * 250,
        }
    )
    notes = {c.name: "likely codes" in c.reason for c in infer_schema(table, target="y").columns}
    assert notes == {"children": False, "ad_width": False, "store": False, "segment": True, "y": False}
