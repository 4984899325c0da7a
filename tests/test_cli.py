"""The command line end to end on slices of the real datasets, and its answers to bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import needmap as nm
from cli_run import run_cli
from reference_scores import saved_run_references, table_references

FAST = ["--epochs", "3", "--batch-size", "256", "--quiet"]


def run(*args: str | Path) -> tuple[int, str]:
    return run_cli(*args)


@pytest.fixture(scope="module")
def bank_parts(tmp_path_factory: pytest.TempPathFactory, bank_table: pa.Table) -> tuple[Path, Path]:
    """The bank slice in two ';'-separated files: 2,400 random rows to train on and 600 held out."""
    folder = tmp_path_factory.mktemp("bank_parts")
    idx = np.random.default_rng(0).permutation(bank_table.num_rows)
    paths = (folder / "bank_train.csv", folder / "bank_holdout.csv")
    for path, rows in zip(paths, (idx[:2400], idx[2400:]), strict=True):
        pacsv.write_csv(bank_table.take(pa.array(rows)), path, write_options=pacsv.WriteOptions(delimiter=";"))
    return paths


@pytest.fixture(scope="module")
def bank_model(tmp_path_factory: pytest.TempPathFactory, bank_parts: tuple[Path, Path]) -> Path:
    out = tmp_path_factory.mktemp("models") / "bank"
    code, output = run("train", bank_parts[0], "--target", "y", "--drop", "duration", "--out", out, *FAST)
    assert code == 0, output
    return out


def test_schema_prints_roles_and_reasons(bank_csv: Path) -> None:
    code, output = run("schema", bank_csv, "--target", "y", "--drop", "duration")
    assert code == 0, output
    for word in ("age", "numeric", "categorical", "target", "duration", "ignored", "binary"):
        assert word in output


def test_schema_json_respects_overrides(bank_csv: Path) -> None:
    code, output = run("schema", bank_csv, "--target", "y", "--categorical", "campaign", "--json")
    assert code == 0, output
    roles = {c["name"]: c["role"] for c in json.loads(output)["columns"]}
    assert roles["campaign"] == "categorical" and roles["age"] == "numeric" and roles["y"] == "target"


def test_train_writes_a_complete_model_directory(bank_model: Path, bank_parts: tuple[Path, Path]) -> None:
    metrics = json.loads((bank_model / "metrics.json").read_text())
    reference = saved_run_references(bank_parts[0], bank_model, ("duration",))  # on the same test rows
    assert metrics["test"]["auc"] > reference["best_column_auc"], (metrics["test"], reference)
    assert metrics["baseline_test"]["auc"] > reference["best_column_auc"], (metrics["baseline_test"], reference)
    assert metrics["training"]["rows_per_s"] > 0 and metrics["training"]["wall_time_s"] > 0
    assert "verdict" in metrics
    card = (bank_model / "card.md").read_text()
    assert "`y` is `yes`" in card and "auc" in card
    assert json.loads((bank_model / "model.json").read_text())["format_version"] == 1


def test_evaluate_and_predict_round_trip(
    bank_model: Path, bank_parts: tuple[Path, Path], bank_csv: Path, tmp_path: Path
) -> None:
    train, holdout = bank_parts
    code, output = run("evaluate", bank_model, holdout, "--json-out", tmp_path / "m.json")
    assert code == 0, output
    evaluated = json.loads((tmp_path / "m.json").read_text())
    reference = table_references(nm.read(train), nm.read(holdout), "y", drop=["duration"])
    assert evaluated["auc"] > reference["best_column_auc"], (evaluated["auc"], reference)
    assert evaluated["auc"] == pytest.approx(nm.load(bank_model).evaluate(nm.read(holdout))["auc"])
    expected = nm.load(bank_model).predict_proba(nm.read(bank_csv))
    for suffix in (".parquet", ".csv"):
        out = tmp_path / f"scores{suffix}"
        code, output = run("predict", bank_model, bank_csv, "--out", out)
        assert code == 0, output
        scores = pq.read_table(out) if suffix == ".parquet" else pacsv.read_csv(out)
        assert scores.num_rows == 3000 and "score" in scores.column_names
        np.testing.assert_allclose(scores.column("score").to_numpy(), expected, rtol=1e-6)  # the model's own


@pytest.mark.slow
def test_shoppers_end_to_end_with_yaml_config(shoppers_csv: Path, tmp_path: Path) -> None:
    config = tmp_path / "roles.yaml"
    config.write_text("target: Revenue\ncategorical: [OperatingSystems, Browser, Region, TrafficType]\n")
    out = tmp_path / "shoppers"
    code, output = run("train", shoppers_csv, "--config", config, "--out", out, "--quiet")
    assert code == 0, output
    metrics = json.loads((out / "metrics.json").read_text())
    reference = saved_run_references(shoppers_csv, out)  # PageValues alone separates buyers well
    assert metrics["test"]["auc"] > reference["best_column_auc"], (metrics["test"]["auc"], reference)
    schema = json.loads((out / "schema.json").read_text())
    assert {c["name"]: c["role"] for c in schema["columns"]}["Browser"] == "categorical"
    assert schema["classes"] == ["false", "true"]
    code, output = run("predict", out, shoppers_csv, "--out", tmp_path / "s.csv")
    assert code == 0 and pacsv.read_csv(tmp_path / "s.csv").num_rows == 3000


# -- bad input: one paragraph, the file / column / row, exit status 2, no traceback, no output file ----
def _bad(tmp_path: Path, *args: str | Path, expect: tuple[str, ...]) -> str:
    out = tmp_path / ("should_not_exist.csv" if args[0] == "predict" else "should_not_exist")
    code, output = run(*args, "--out", out)
    assert code == 2, output
    assert output.lstrip().startswith("error:"), output
    assert "Traceback" not in output
    flat = " ".join(output.split())
    for word in expect:
        assert word in flat, (word, flat)
    assert not out.exists()
    return flat


def test_bad_input_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    _bad(tmp_path, "train", path, "--target", "y", expect=("empty.csv", "empty"))


def test_bad_input_header_only(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("age,job,y\n")
    _bad(tmp_path, "train", path, "--target", "y", expect=("header.csv", "no data rows"))


def test_bad_input_missing_target(bank_csv: Path, tmp_path: Path) -> None:
    _bad(tmp_path, "train", bank_csv, "--target", "responded", expect=("responded", "bank_slice.csv"))


def test_bad_input_single_class_target(tmp_path: Path) -> None:
    path = tmp_path / "one_class.csv"
    path.write_text("age,job,y\n" + "".join(f"{20 + i % 40},admin,no\n" for i in range(60)))
    _bad(tmp_path, "train", path, "--target", "y", expect=("one_class.csv", "'y'", "class"))


def test_bad_input_all_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "holes.csv"
    path.write_text("age,notes,y\n" + "".join(f"{20 + i % 40},,{'yes' if i % 3 else 'no'}\n" for i in range(60)))
    _bad(tmp_path, "train", path, "--target", "y", expect=("holes.csv", "'notes'", "missing"))


def test_bad_input_text_in_numeric_column(bank_model: Path, bank_table: pa.Table, tmp_path: Path) -> None:
    """Over 5% text in a numeric column stops the run and names the first such row."""
    rows = bank_table.slice(0, 20)
    age = pa.array([str(v) if i not in (6, 9) else "forty" for i, v in enumerate(rows.column("age").to_pylist())])
    path = tmp_path / "text_age.csv"
    pacsv.write_csv(rows.set_column(0, "age", age), path)
    flat = _bad(tmp_path, "predict", bank_model, path, expect=("text_age.csv", "'age'", "forty", "row 8"))
    assert "number" in flat


def test_rare_text_in_numeric_column_is_counted_and_reported(
    bank_model: Path, bank_table: pa.Table, tmp_path: Path
) -> None:
    """At most 5% text: the value is scored as missing, and the count is printed."""
    rows = bank_table.slice(0, 40)
    age = pa.array([str(v) if i != 6 else "forty" for i, v in enumerate(rows.column("age").to_pylist())])
    path = tmp_path / "one_text_age.csv"
    pacsv.write_csv(rows.set_column(0, "age", age), path)
    code, output = run("predict", bank_model, path, "--out", tmp_path / "s.csv")
    assert code == 0, output
    assert "1 of 40 values of 'age' were not numbers" in " ".join(output.split())
    assert pacsv.read_csv(tmp_path / "s.csv").num_rows == 40


def test_bad_input_text_in_forced_numeric_column(bank_csv: Path, tmp_path: Path) -> None:
    _bad(tmp_path, "train", bank_csv, "--target", "y", "--numeric", "job", expect=("'job'", "number"))


def test_bad_input_ragged_rows(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("age,job,y\n30,admin,no\n41,admin,yes,extra\n50,admin,no\n")
    _bad(tmp_path, "train", path, "--target", "y", expect=("ragged.csv", "row 3"))


def test_bad_input_wrong_delimiter(bank_csv: Path, tmp_path: Path) -> None:
    _bad(tmp_path, "train", bank_csv, "--target", "y", "--delimiter", ",", expect=("bank_slice.csv", "';'"))


def test_bad_input_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name,city,y\nJo,Porto,no\nAna,Guimarães,yes\n".encode("latin-1"))
    _bad(tmp_path, "train", path, "--target", "y", expect=("latin.csv", "UTF-8", "row 3", "latin-1"))


def test_bad_model_directory(bank_model: Path, bank_csv: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(bank_model, broken)
    (broken / "weights.safetensors").unlink()
    _bad(tmp_path, "predict", broken, bank_csv, expect=("broken", "weights.safetensors"))
    shutil.copy(bank_model / "weights.safetensors", broken / "weights.safetensors")
    with open(broken / "weights.safetensors", "r+b") as fh:
        fh.seek(200)
        fh.write(b"\xff" * 16)
    _bad(tmp_path, "predict", broken, bank_csv, expect=("broken", "'weights.safetensors' was edited or damaged"))


@pytest.mark.slow
def test_real_entry_point_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("")
    proc = subprocess.run(
        [sys.executable, "-m", "needmap", "train", str(path), "--target", "y", "--out", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "error:" in proc.stderr
    assert not (tmp_path / "m").exists()


def test_help_shows_an_example_for_every_command() -> None:
    for command in ("schema", "train", "evaluate", "predict", "demo"):
        code, output = run(command, "--help")
        assert code == 0 and "Example" in output, command


def test_bucketize_star_from_the_command_line(bank_csv: Path) -> None:
    code, output = run("schema", bank_csv, "--target", "y", "--bucketize", "*:12", "--json")
    assert code == 0, output
    numeric = [c for c in json.loads(output)["columns"] if c["role"] == "numeric"]
    assert numeric and all(c["options"]["bucketize"] == 12 for c in numeric)


@pytest.mark.slow
def test_param_passes_any_model_option(bank_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "dcn"
    code, output = run(
        "train", bank_csv, "--target", "y", "--drop", "duration", "--model", "dcnv2", "-p", "structure=stacked",
        "-p", "cross_layers=2", "-p", "hidden=64,32", "-p", "ensemble_size=2", "--out", out, *FAST,
    )  # fmt: skip
    assert code == 0, output
    params = json.loads((out / "model.json").read_text())["params"]
    assert params["structure"] == "stacked" and params["cross_layers"] == 2 and params["hidden"] == [64, 32]
    assert params["ensemble_size"] == 2
    code, output = run("train", bank_csv, "--target", "y", "--model", "dcnv2", "-p", "crosslayers=2", "--out", out)
    assert code == 2 and "crosslayers" in output


@pytest.mark.slow
def test_precision_from_the_command_line(bank_csv: Path, tmp_path: Path) -> None:
    from needmap.runtime.precision import cpu_has_bf16

    out = tmp_path / "bf16"
    code, output = run(
        "train", bank_csv, "--target", "y", "--drop", "duration", "--precision", "bf16", "--out", out, *FAST
    )
    if not cpu_has_bf16():
        assert code == 2 and "native bfloat16" in output
        return
    assert code == 0, output
    assert json.loads((out / "model.json").read_text())["train"]["precision"] == "bf16"
    training = json.loads((out / "metrics.json").read_text())["training"]
    assert training["precision"] == "bf16" and training["embedding_updates"] == "dense"
    reference = saved_run_references(bank_csv, out, ("duration",))
    assert json.loads((out / "metrics.json").read_text())["test"]["auc"] > reference["best_column_auc"], reference
    code, output = run("train", bank_csv, "--target", "y", "--precision", "fp16", "--out", tmp_path / "x", *FAST)
    assert code == 2 and "precision is 'fp16'" in output
