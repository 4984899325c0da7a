"""One row is read by the rules of a file: each row of a CSV file, given as the text a CSV reader yields
(``csv.DictReader``) or as typed values, gets the features, and the scores, of the file read whole; and
every spelling of a value that a file reads as one value (``False``, ``"FALSE"``, ``0``, ``"0"`` for a
true/false column; ``"7.0"`` for 7) gives one category."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import needmap as nm
from needmap.data.infer import infer_schema
from needmap.data.read import read
from needmap.preprocessing.preprocess import PreprocessConfig, Preprocessor
from needmap.preprocessing.row import RowEncoder

ROWS = 80


@pytest.fixture(scope="module")
def campaign_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV file with a column of each type: true/false (three spellings), integer codes named like an
    identifier (categorical), text with blanks and NA, integers, decimals with NA, a 0/1 target."""
    rng = np.random.default_rng(11)
    spellings = {True: ["True", "TRUE", "true"], False: ["False", "FALSE", "false"]}
    lines = ["weekend,store_id,channel,visits,spend,y"]
    for i in range(ROWS):
        weekend = bool(rng.random() < 0.4)
        channel = ["email", "web", "", "NA", "phone"][i % 5]
        spend = "NA" if i % 7 == 0 else f"{rng.gamma(2.0, 20.0):.2f}"
        y = int(rng.random() < (0.6 if weekend else 0.3))
        lines.append(f"{spellings[weekend][i % 3]},{1 + i % 4},{channel},{rng.integers(0, 9)},{spend},{y}")
    path = tmp_path_factory.mktemp("campaign") / "campaign.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows as a CSV reader yields them: every value text, an empty field ''."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [{k: v for k, v in row.items() if k != "y"} for row in csv.DictReader(fh)]


def one_row_features(pre: Preprocessor, row: dict) -> tuple[np.ndarray, np.ndarray]:
    batch = RowEncoder(pre).encode(row) or pre.transform(read([row]))
    return batch.numeric[0], batch.categorical[0]


def test_each_row_as_csv_text_gets_the_features_of_the_file(campaign_csv: Path) -> None:
    table = read(campaign_csv)
    schema = infer_schema(table, target="y")
    assert schema.column("weekend").dtype == "bool" and schema.column("store_id").role == "categorical"
    pre = Preprocessor(schema, PreprocessConfig()).fit(table)
    whole = pre.transform(table)
    for i, row in enumerate(csv_rows(campaign_csv)):
        numeric, ids = one_row_features(pre, row)
        np.testing.assert_allclose(numeric, whole.numeric[i], rtol=1e-6, atol=1e-7, err_msg=str(row))
        assert ids.tolist() == whole.categorical[i].tolist(), row
        batch_of_one = pre.transform(read([row]))  # the same text as a table of one row
        assert batch_of_one.categorical[0].tolist() == whole.categorical[i].tolist(), row


def test_every_spelling_of_false_and_of_a_number_is_one_category(campaign_csv: Path) -> None:
    table = read(campaign_csv)
    pre = Preprocessor(infer_schema(table, target="y"), PreprocessConfig()).fit(table)
    row = table.drop(["y"]).to_pylist()[0]
    reference = one_row_features(pre, {**row, "weekend": False, "store_id": 3})[1].tolist()
    for weekend in (False, "False", "FALSE", "false", " false ", 0, "0", 0.0):
        for store in (3, "3", " 3", "3.0", 3.0, "+3"):
            assert one_row_features(pre, {**row, "weekend": weekend, "store_id": store})[1].tolist() == reference
            assert pre.transform(read([{**row, "weekend": weekend, "store_id": store}])).categorical[0].tolist() == (
                reference
            )
    unseen = one_row_features(pre, {**row, "weekend": "maybe", "store_id": "007"})[1].tolist()
    assert unseen[:2] == [0, 0]  # not a spelling of a known value: out of the vocabulary
    missing = one_row_features(pre, {**row, "weekend": "NA", "store_id": "null"})[1].tolist()
    assert missing[:2] == [1, 1]  # what a file reads as missing is missing, not unseen


@pytest.mark.slow
def test_each_row_scored_alone_equals_the_file_scored_whole(campaign_csv: Path) -> None:
    model = nm.Model("mlp", target="y", epochs=2, progress=False, seed=0).fit(campaign_csv)
    whole = model.predict_proba(campaign_csv)
    typed = read(campaign_csv).drop(["y"]).to_pylist()
    for i, (text_row, typed_row) in enumerate(zip(csv_rows(campaign_csv), typed, strict=True)):
        assert model.predict_proba(text_row)[0] == pytest.approx(whole[i], rel=1e-5, abs=1e-6), text_row
        assert model.predict_proba(typed_row)[0] == pytest.approx(whole[i], rel=1e-5, abs=1e-6), typed_row
