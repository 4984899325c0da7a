"""The command line with list features (multi-hot, sequences), hashing, buckets and several targets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from cli_run import run_cli
from reference_scores import saved_run_references

DATASETS = Path(__file__).resolve().parent / "datasets"  # slices of public datasets (see ATTRIBUTION.md there)


def run(*args: str | Path) -> tuple[int, str]:
    return run_cli(*args)


@pytest.fixture(scope="module")
def movielens_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ratings of 120 users as CTR rows: genres as 'A|B', the user's earlier movies as 'm1 m2 ...'."""
    ratings = pacsv.read_csv(DATASETS / "movielens_latest_small" / "ratings.csv.gz")
    movies = pacsv.read_csv(DATASETS / "movielens_latest_small" / "movies.csv.gz")
    ratings = ratings.filter(pc.less_equal(ratings.column("userId"), 120))
    order = np.lexsort((ratings.column("timestamp").to_numpy(), ratings.column("userId").to_numpy()))
    ratings = ratings.take(pa.array(order))
    genres = dict(zip(movies.column("movieId").to_pylist(), movies.column("genres").to_pylist(), strict=True))
    users, items = ratings.column("userId").to_pylist(), ratings.column("movieId").to_pylist()
    history, seen, last_user = [], [], None
    for user, item in zip(users, items, strict=True):
        if user != last_user:
            seen, last_user = [], user
        history.append(" ".join(str(m) for m in seen[-20:]))
        seen.append(item)
    table = pa.table(
        {
            "userId": pa.array([f"u{u}" for u in users]),
            "movieId": pa.array([str(m) for m in items]),
            "genres": pa.array([genres[m] for m in items]),
            "history": pa.array(history),
            "liked": pc.greater_equal(ratings.column("rating"), 4.0),
        }
    )
    path = tmp_path_factory.mktemp("ml") / "movielens_ctr.csv"
    pacsv.write_csv(table, path)
    return path


@pytest.mark.slow
def test_din_with_sequence_and_multihot_from_the_command_line(movielens_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "din"
    code, output = run(
        "train", movielens_csv, "--target", "liked", "--model", "din", "--multihot", "genres",
        "--sequence", "history:movieId", "--hash", "userId:5000", "--epochs", "2", "--quiet", "--out", out,
    )  # fmt: skip
    assert code == 0, output
    schema = {c["name"]: c for c in json.loads((out / "schema.json").read_text())["columns"]}
    assert schema["genres"]["role"] == "multihot" and schema["history"]["role"] == "sequence"
    assert schema["history"]["options"]["vocabulary_of"] == "movieId"
    assert schema["userId"]["options"]["hash_buckets"] == 5000
    model = json.loads((out / "model.json").read_text())
    kinds = {spec["name"]: spec for spec in model["lists"]}
    assert kinds["history"]["kind"] == "sequence" and kinds["history"]["share"] is not None
    auc = json.loads((out / "metrics.json").read_text())["test"]["auc"]
    reference = saved_run_references(movielens_csv, out, logistic=False)  # e.g. the user's share of liked movies
    assert auc > reference["best_column_auc"], (auc, reference)
    code, output = run("predict", out, movielens_csv, "--out", tmp_path / "s.parquet")
    assert code == 0, output


def test_schema_shows_inferred_multihot_and_bucketized_columns(movielens_csv: Path) -> None:
    code, output = run("schema", movielens_csv, "--target", "liked", "--sequence", "history:movieId", "--json")
    assert code == 0, output
    roles = {c["name"]: c["role"] for c in json.loads(output)["columns"]}
    assert roles["genres"] == "multihot"  # inferred from the '|' lists
    assert roles["history"] == "sequence"


@pytest.mark.slow
def test_two_targets_train_a_multitask_model(tmp_path: Path) -> None:
    names = [
        "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
        "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income",
    ]  # fmt: skip
    table = pacsv.read_csv(
        DATASETS / "census_income_adult" / "adult.data.gz",
        read_options=pacsv.ReadOptions(column_names=names),
        parse_options=pacsv.ParseOptions(delimiter=","),
    ).slice(0, 3000)
    table = table.append_column(
        "married", pc.equal(pc.utf8_trim_whitespace(table.column("marital_status")), "Married-civ-spouse")
    )
    path = tmp_path / "adult.csv"
    pacsv.write_csv(table.drop_columns(["marital_status", "relationship"]), path)
    out = tmp_path / "mmoe"
    code, output = run(
        "train", path, "--target", "income,married", "--model", "mmoe", "--bucketize", "age:8",
        "--epochs", "6", "--batch-size", "128", "--quiet", "--out", out,
    )  # fmt: skip
    assert code == 0, output
    metrics = json.loads((out / "metrics.json").read_text())["test"]
    for target in ("income", "married"):
        reference = saved_run_references(path, out, target=target)
        assert metrics[target]["auc"] > reference["best_column_auc"], (target, metrics[target], reference)
    # both baselines per target, in the printed table and in the model card's table of each target
    assert "(LightGBM)" in output and "(logistic" in output, output  # headers wrap at 80 columns
    card = (out / "card.md").read_text()
    assert "capital_gain (and a value field: an embedding for each of its" in card  # an amount, not a count
    assert "hours_per_week (and a value field" not in card  # 1..99 hours fill their grid
    for target in ("income", "married"):
        section = card.split(f"### `{target}`")[1].split("###")[0]
        assert "test LightGBM" in section and "test logistic regression" in section, section
    code, output = run("report", out, "--out", tmp_path / "report.html")
    assert code == 0, output
    html = (tmp_path / "report.html").read_text()
    best = json.loads((out / "metrics.json").read_text())["baseline"]
    for target in ("income", "married"):
        # the summary: each target's table beside its better baseline, as a one-target report's
        summary = html.split('id="summary"')[1].split(f"<h3>{target}</h3>")[1].split("</table>")[0]
        assert f"test ({best[target]})" in summary, (target, summary)
        # the baselines section: both baselines of each target on its test rows
        section = html.split('id="baselines"')[1].split(f"<h3>{target}</h3>")[1].split("</table>")[0]
        assert "LightGBM" in section and "logistic regression" in section, (target, section)
    code, output = run("predict", out, path, "--out", tmp_path / "s.csv")
    assert code == 0, output
    assert {"score_income", "score_married"} <= set(pacsv.read_csv(tmp_path / "s.csv").column_names)
    code, output = run("evaluate", out, path)
    assert code == 0 and "income" in output and "married" in output
    assert "LightGBM" in output and "verdict: income: " in output and " married: " in output, output
