"""The ids in the scores: written exactly as they came in, in every output format; a note when the rows lack
them; an output column never hides an id column of its name. Through ``needmap predict`` and Python."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import needmap as nm
from needmap.cli import app
from needmap.workflows.predict import predict_stream

runner = CliRunner()
ROWS = 120


def write_customers(path: Path, id_name: str = "customer_id", with_id: bool = True) -> Path:
    """``id_name`` 00001..00120 (unless ``with_id`` is False), two features, a 0/1 target, as a CSV file."""
    rng = np.random.default_rng(5)
    spend = rng.gamma(2.0, 30.0, ROWS)
    lines = [",".join(([id_name] if with_id else []) + ["spend", "region", "y"])]
    for i in range(ROWS):
        row = [f"{i + 1:05d}"] if with_id else []
        lines.append(",".join([*row, f"{spend[i]:.2f}", ["north", "south"][i % 2], str(int(spend[i] > 60))]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fitted(folder: Path, id_name: str) -> tuple[Path, Path]:
    data = write_customers(folder / f"{id_name}.csv", id_name)
    model = nm.Model("mlp", target="y", epochs=1, progress=False, seed=0).fit(data)
    assert model.schema_.column(id_name).role == "id"
    return model.predictor_.save(folder / f"model_{id_name}"), data


@pytest.fixture(scope="module")
def customers_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return fitted(tmp_path_factory.mktemp("customers"), "customer_id")


def predict(model: Path, data: Path, out: Path) -> str:
    result = runner.invoke(app, ["predict", str(model), str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_ids_with_leading_zeros_come_out_as_they_went_in(customers_model, tmp_path: Path, suffix: str) -> None:
    model, data = customers_model
    out = tmp_path / f"scores{suffix}"
    predict(model, data, out)
    expected = [f"{i + 1:05d}" for i in range(ROWS)]
    if suffix == ".csv":
        written = [line.split(",")[0].strip('"') for line in out.read_text(encoding="utf-8").splitlines()[1:]]
    elif suffix == ".parquet":
        table = pq.read_table(out)
        assert table.schema.field("customer_id").type == pa.string()
        written = table.column("customer_id").to_pylist()
    else:
        written = [json.loads(line)["customer_id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert written == expected


def test_rows_without_the_id_column_are_scored_with_a_note(customers_model, tmp_path: Path) -> None:
    model, _ = customers_model
    bare = write_customers(tmp_path / "no_ids.csv", with_id=False)
    output = predict(model, bare, tmp_path / "scores.csv")
    assert "no id column 'customer_id'" in " ".join(output.split())
    assert pacsv.read_csv(tmp_path / "scores.csv").column_names == ["score"]
    _, rows, report = predict_stream(nm.load(model), bare, tmp_path / "again.csv")
    assert rows == ROWS and any("no id column 'customer_id'" in note for note in report["notes"])
    with pytest.warns(UserWarning, match="no id column 'customer_id'"):
        nm.load(model).predict(bare)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nm.load(model).predict(write_customers(tmp_path / "with_ids.csv"))  # ids there: no warning


@pytest.mark.slow
def test_an_id_column_named_score_keeps_its_name_and_the_scores_move_beside_it(tmp_path: Path) -> None:
    model, data = fitted(tmp_path, "score")
    output = " ".join(predict(model, data, tmp_path / "scores.csv").split())
    assert "the model's 'score' is written as 'needmap_score'" in output
    written = pacsv.read_csv(
        tmp_path / "scores.csv", convert_options=pacsv.ConvertOptions(column_types={"score": pa.string()})
    )
    assert written.column_names == ["score", "needmap_score"]
    assert written.column("score").to_pylist() == [f"{i + 1:05d}" for i in range(ROWS)]
    probabilities = written.column("needmap_score").to_numpy()
    assert ((probabilities > 0) & (probabilities < 1)).all()
    with pytest.warns(UserWarning, match="needmap_score"):
        assert nm.load(model).predict(data).column_names == ["score", "needmap_score"]


def test_a_repeated_customer_id_is_an_input_and_the_key_of_the_scores(tmp_path: Path) -> None:
    # A purchase log's customer_id repeats: it is a categorical input (named like an identifier), and the scores
    # carry it, exactly as written, to join back on; a repeated column not named like one is not carried.
    rng = np.random.default_rng(7)
    customers = rng.integers(1, 40, ROWS)
    lines = ["customer_id,shop,amount,y"] + [
        f"{c:05d},{c % 4},{a:.2f},{int(a > 30)}" for c, a in zip(customers, rng.gamma(2.0, 20.0, ROWS), strict=True)
    ]
    data = tmp_path / "log.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = nm.Model("mlp", target="y", epochs=1, progress=False, seed=0).fit(data)
    assert model.schema_.column("customer_id").role == "categorical"
    saved = model.predictor_.save(tmp_path / "model")
    predict(saved, data, tmp_path / "scores.csv")
    scores = pacsv.read_csv(tmp_path / "scores.csv", convert_options=pacsv.ConvertOptions(strings_can_be_null=False,
        column_types={"customer_id": pa.string()}))  # fmt: skip
    assert scores.column_names == ["customer_id", "score"]
    assert scores.column("customer_id").to_pylist() == [f"{c:05d}" for c in customers]
