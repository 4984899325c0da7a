"""The command line reads files as downloaded: no header row, padded values, missing markers, aligned columns;
``schema`` says what it did, and ``train`` and ``predict`` read their files by the same rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from cli_run import run_cli

FAST = ["--epochs", "2", "--batch-size", "256", "--quiet"]


def run(*args: str | Path) -> tuple[int, str]:
    return run_cli(*args)


def census_file(path: Path, rows: int, *, padded: bool, seed: int = 0) -> Path:
    """Rows in the UCI census layout (no header, '?' for missing); ``padded``: a space after each comma."""
    rng = np.random.default_rng(seed)
    jobs = ["State-gov", "Private", "Self-emp", "?"]
    sep = ", " if padded else ","
    lines = []
    for _ in range(rows):
        age = int(rng.integers(17, 90))
        job = jobs[int(rng.integers(0, len(jobs)))]
        hours = int(rng.integers(10, 60))
        rich = rng.random() < 0.2 + 0.4 * (hours > 45) + 0.2 * (job == "Self-emp")
        lines.append(sep.join([str(age), job, str(hours), ">50K" if rich else "<=50K"]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_schema_of_a_headerless_padded_file_says_what_it_read(tmp_path: Path) -> None:
    path = census_file(tmp_path / "adult.data", 200, padded=True)
    code, output = run("schema", path, "--names", "age,workclass,hours,income", "--target", "income")
    assert code == 0, output
    assert "first row looks like data" in output
    assert "read 'workclass': 200 values stripped of spaces" in output
    assert "read as missing" in output
    assert "'>50K'" in output and "' >50K'" not in output


def test_aligned_log_schema_has_its_four_columns(tmp_path: Path) -> None:
    path = tmp_path / "cdnow.txt"
    lines = ["customer_id  date      number_of_cds  dollar_value"]
    lines += [f"{i:05d}        1997010{i % 9 + 1}  {i % 4 + 1:>13}  {i * 1.5:>12.2f}" for i in range(1, 60)]
    path.write_text("\n".join(lines) + "\n")
    code, output = run("schema", path, "--json")
    assert code == 0, output
    assert '"number_of_cds"' in output and '"dollar_value"' in output


NAMES = "age,workclass,hours,income"


@pytest.fixture(scope="module")
def census_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on a padded, headerless census-like file with --names."""
    folder = tmp_path_factory.mktemp("census")
    train = census_file(folder / "adult.data", 600, padded=True)
    out = folder / "model"
    code, output = run("train", train, "--names", NAMES, "--target", "income", "--out", out, *FAST)
    assert code == 0, output
    return out


def _scores(model: Path, data: Path, out: Path, *args: str) -> np.ndarray:
    code, output = run("predict", model, data, "--out", out, *args)
    assert code == 0, output
    assert "unseen in training" not in output, output
    return pacsv.read_csv(out).column("score").to_numpy()


def test_predict_reads_new_rows_by_the_rules_training_read_its_rows(census_model: Path, tmp_path: Path) -> None:
    padded = census_file(tmp_path / "new_padded.data", 50, padded=True, seed=5)
    clean = census_file(tmp_path / "new_clean.csv", 50, padded=False, seed=5)
    np.testing.assert_array_equal(
        _scores(census_model, padded, tmp_path / "a.csv", "--names", NAMES),
        _scores(census_model, clean, tmp_path / "b.csv", "--names", NAMES),
    )


def test_predict_names_a_headerless_file_as_the_training_file(census_model: Path, tmp_path: Path) -> None:
    rows = census_file(tmp_path / "adult.test", 50, padded=True, seed=6)
    code, output = run("predict", census_model, rows, "--out", tmp_path / "plain.csv")
    assert code == 0, output
    assert "named as the model's training columns" in output
    named = _scores(census_model, rows, tmp_path / "named.csv", "--names", NAMES)
    np.testing.assert_array_equal(pacsv.read_csv(tmp_path / "plain.csv").column("score").to_numpy(), named)
    no_target = tmp_path / "no_target.csv"
    no_target.write_text("".join(line.rsplit(",", 1)[0] + "\n" for line in rows.read_text().splitlines()))
    np.testing.assert_array_equal(_scores(census_model, no_target, tmp_path / "nt.csv"), named)
