"""What the commands never destroy: a directory that is not a model, the current directory, an input file; what
they say when they replace an output; and what is left after a run is stopped by SIGTERM or SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import needmap as nm
from cli_run import run_cli

FAST = ["--epochs", "1", "--batch-size", "256", "--quiet", "--no-baseline"]


def run(*args: str | Path) -> tuple[int, str]:
    return run_cli(*args)


def _rows(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pa.table(
        {
            "customer_id": [f"{i:07d}" for i in range(n)],
            "x": x,
            "channel": rng.choice(["web", "shop", "phone"], size=n),
            "y": (x + rng.normal(size=n) > 0).astype(np.int64),
        }
    )


@pytest.fixture
def data_folder(tmp_path: Path) -> Path:
    """A user's data folder: the rows to train on and their notes."""
    folder = tmp_path / "data"
    folder.mkdir()
    pacsv.write_csv(_rows(300, seed=0), folder / "customers.csv")
    (folder / "notes.txt").write_text("where the data came from\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained for one epoch on 300 generated rows."""
    folder = tmp_path_factory.mktemp("small")
    pacsv.write_csv(_rows(300, seed=0), folder / "customers.csv")
    code, output = run("train", folder / "customers.csv", "--target", "y", "--id", "customer_id", "--out",
                       folder / "model", *FAST)  # fmt: skip
    assert code == 0, output
    return folder / "model"


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- a directory that is not a model is never replaced ------------------------------------------------------
def test_train_refuses_an_out_directory_that_holds_the_users_files(data_folder: Path) -> None:
    # It deleted the whole folder, the training file and the notes in it, and exited 0.
    before = _contents(data_folder)
    code, output = run("train", data_folder / "customers.csv", "--target", "y", "--out", data_folder, *FAST)
    assert code == 2, output
    assert "is not a needmap model" in output and "customers.csv, notes.txt" in output and "Traceback" not in output
    assert _contents(data_folder) == before


def test_train_refuses_the_current_directory(data_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # --out . raised OSError (rename of '.') with a traceback; an empty current directory would have been
    # replaced under the user's shell.
    empty = data_folder.parent / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    for out in (".", str(empty), ".."):
        code, output = run("train", data_folder / "customers.csv", "--target", "y", "--out", out, *FAST)
        assert code == 2 and "is the current directory or holds it" in output, output
    assert list(empty.iterdir()) == [] and (data_folder / "notes.txt").exists()


def test_tune_refuses_a_model_folder_that_is_not_a_model_before_searching(data_folder: Path, tmp_path: Path) -> None:
    study = tmp_path / "study"
    (study / "model").mkdir(parents=True)
    (study / "model" / "notes.txt").write_text("mine\n", encoding="utf-8")
    code, output = run("tune", data_folder / "customers.csv", "--target", "y", "--trials", "1", "--out", study)
    assert code == 2 and "is not a needmap model" in output, output
    assert sorted(p.name for p in study.iterdir()) == ["model"]  # no study started
    assert (study / "model" / "notes.txt").read_text(encoding="utf-8") == "mine\n"


@pytest.mark.slow  # trains twice
def test_train_over_a_model_directory_replaces_it_and_says_so(data_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "models" / "m"
    code, first = run("train", data_folder / "customers.csv", "--target", "y", "--out", out, *FAST)
    assert code == 0 and "replaced" not in first, first
    code, second = run("train", data_folder / "customers.csv", "--target", "y", "--out", out, *FAST)
    assert code == 0 and "(replaced the model that was there)" in " ".join(second.split()), second
    assert sorted(p.name for p in out.parent.iterdir()) == ["m"]


# -- an input is never an output; a replaced output is named ------------------------------------------------
def test_predict_refuses_to_write_over_its_input(data_folder: Path, tmp_path: Path) -> None:
    # It replaced the input file with the scores, without a word.
    rows = data_folder / "customers.csv"
    before = rows.read_bytes()
    (tmp_path / "link.csv").symlink_to(rows)
    for out in (rows, tmp_path / "link.csv", data_folder / ".." / "data" / "customers.csv"):
        code, output = run("predict", tmp_path / "no-model", rows, "--out", out)
        assert code == 2 and "would overwrite the input data" in output, output
    code, output = run("predict", data_folder, rows, "--out", data_folder / "scores.csv")  # inside the "model"
    assert code == 2 and "would overwrite the input model" in output, output
    assert rows.read_bytes() == before


def test_report_profile_and_evaluate_refuse_to_write_over_their_inputs(data_folder: Path, tmp_path: Path) -> None:
    rows = data_folder / "customers.csv"
    model = tmp_path / "model"
    cases = [
        ("report", model, rows, "--out", rows),
        ("report", model, "--out", model / "card.md"),
        ("profile", rows, "--out", rows),
        ("profile", rows, "--json-out", rows),
        ("evaluate", model, rows, "--json-out", rows),
    ]
    for args in cases:
        code, output = run(*args)
        assert code == 2 and "would overwrite the input" in output, (args, output)
    code, output = run("profile", rows, "--out", tmp_path / "p.html", "--json-out", tmp_path / "p.html")
    assert code == 2 and "is the --out file" in output, output


def test_profile_says_when_it_replaced_its_page_and_its_json(data_folder: Path, tmp_path: Path) -> None:
    args = ("profile", data_folder / "customers.csv", "--out", tmp_path / "p.html", "--json-out", tmp_path / "p.json")
    code, first = run(*args)
    assert code == 0 and "replaced" not in first, first
    (tmp_path / "p.json").unlink()
    code, second = run(*args)
    words = " ".join(second.split())  # as printed, wrapped to the terminal's width
    assert code == 0 and words.count("(replaced the file that was there)") == 1, second
    assert "p.html (replaced the file that was there)" in words, second


@pytest.mark.slow  # uses the trained model
def test_predict_says_when_it_replaced_an_existing_output(small_model: Path, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    pacsv.write_csv(_rows(50, seed=1), rows)
    code, first = run("predict", small_model, rows, "--out", tmp_path / "scores.csv")
    assert code == 0 and "replaced" not in first, first
    code, second = run("predict", small_model, rows, "--out", tmp_path / "scores.csv")
    assert code == 0 and "(replaced the file that was there)" in " ".join(second.split()), second


# -- a run stopped by a signal ------------------------------------------------------------------------------
def _start_predict(model: Path, folder: Path, rows: int) -> subprocess.Popen[str]:
    source = folder / "big.parquet"
    if not source.exists():
        pq.write_table(_rows(rows, seed=2).drop(["y"]), source, row_group_size=50_000)
    src = str(Path(nm.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "needmap", "predict", str(model), str(source), "--out", str(folder / "s.parquet")]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _partial_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".s.parquet."))


def _stop_while_writing(process: subprocess.Popen[str], folder: Path, signum: int) -> tuple[str, str]:
    deadline = time.monotonic() + 120
    while not _partial_files(folder):  # the scores are being written
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.005)
    process.send_signal(signum)
    return process.communicate(timeout=60)


@pytest.mark.slow  # starts another interpreter that scores 600,000 rows
def test_sigterm_during_predict_writes_nothing_and_says_so(small_model: Path, tmp_path: Path) -> None:
    process = _start_predict(small_model, tmp_path, 600_000)
    _, err = _stop_while_writing(process, tmp_path, signal.SIGTERM)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "interrupted: nothing was written" in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.parquet"]


@pytest.mark.slow  # starts other interpreters that score 600,000 rows
def test_the_partial_file_of_a_killed_predict_is_removed_by_the_next_run(small_model: Path, tmp_path: Path) -> None:
    process = _start_predict(small_model, tmp_path, 600_000)
    _stop_while_writing(process, tmp_path, signal.SIGKILL)  # nothing runs after SIGKILL: the file stays
    assert process.returncode == -signal.SIGKILL and len(_partial_files(tmp_path)) == 1
    rerun = _start_predict(small_model, tmp_path, 600_000)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert _partial_files(tmp_path) == [] and pq.read_metadata(tmp_path / "s.parquet").num_rows == 600_000
