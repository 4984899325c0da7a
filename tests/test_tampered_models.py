"""A model directory that was edited or damaged never scores silently wrong and never crashes.

Each case of the probe that found the gaps (docs/reliability.md, "Damaged and tampered model directories") is
applied to a copy of one small trained model: content edits are sealed again with a fresh manifest (as someone
who means it would), so that the value checks, not the manifest, must catch them; the manifest's own cases are
left unsealed. Every case must end in an ArtifactError naming what is wrong, through ``nm.load`` and through
``needmap predict`` (exit 2, no traceback). LightGBM's text is parsed by native code that a bad text crashes, so
those cases run in a subprocess: a crash fails the test instead of killing pytest.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from tests.cli_run import run_cli

import needmap as nm
from needmap.errors import ArtifactError, ReadingNote
from needmap.model_place import MANIFEST, write_manifest
from needmap.safe_json import load_json
from needmap.workflows.baselines_text import lightgbm_text_problem
from needmap.workflows.train import run_train

SMALL = {"epochs": 1, "progress": False, "batch_size": 256, "hidden": (8,), "embedding_dim": 4, "threads": 1}


@pytest.fixture(scope="module")
def saved(bank_table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small MLP saved with its baselines (LightGBM's text among them), clipping its numeric columns."""
    out = tmp_path_factory.mktemp("saved") / "bank"
    model = nm.Model("mlp", target="y", drop=["duration"], **SMALL)
    run_train(bank_table.slice(0, 1500), model, out=out, n_boot=20, select="network")
    return out


@pytest.fixture(scope="module")
def rows_csv(bank_table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rows") / "rows.csv"
    pacsv.write_csv(bank_table.slice(1500, 50), path, write_options=pacsv.WriteOptions(delimiter=";"))
    return path


def _copy(saved: Path, tmp_path: Path) -> Path:
    out = tmp_path / "model"
    shutil.copytree(saved, out)
    return out


def _edit_json(out: Path, name: str, change: Callable[[Any], None]) -> None:
    document = json.loads((out / name).read_text(encoding="utf-8"))
    change(document)
    (out / name).write_text(json.dumps(document), encoding="utf-8")


def _numeric(document: dict[str, Any], **values: Any) -> None:
    document["numeric"][0].update(values)


# Content edits, each sealed again with a new manifest: (what the issue tried, edit, what the error says).
def _replace_text(name: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(out: Path) -> None:
        text = (out / name).read_text(encoding="utf-8")
        assert old in text
        (out / name).write_text(text.replace(old, new, 1), encoding="utf-8")

    return edit


def _json(name: str, change: Callable[[Any], None]) -> Callable[[Path], None]:
    return lambda out: _edit_json(out, name, change)


def _center_text(out: Path) -> None:
    _edit_json(out, "preprocessor.json", lambda d: _numeric(d, center=1.5))
    _replace_text("preprocessor.json", '"center": 1.5', '"center": NaN')(out)


def _huge_n_numeric(out: Path) -> None:
    _edit_json(out, "model.json", lambda d: d.update(n_numeric=123456789))
    _replace_text("model.json", '"n_numeric": 123456789', '"n_numeric": 1e999')(out)


def _long_integer(out: Path) -> None:
    _edit_json(out, "model.json", lambda d: d.update(n_outputs=123456789))
    _replace_text("model.json", '"n_outputs": 123456789', '"n_outputs": ' + "7" * 100_000)(out)


CONTENT_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "NaN centre": (_center_text, r"'preprocessor\.json' holds NaN"),
    "centre as text": (_json("preprocessor.json", lambda d: _numeric(d, center="nan")), r"'center' is 'nan'"),
    "zero scale": (_json("preprocessor.json", lambda d: _numeric(d, scale=0.0)), r"'scale' is 0\.0"),
    "negative scale": (_json("preprocessor.json", lambda d: _numeric(d, scale=-2)), r"'scale' is -2"),
    "inverted clip": (
        _json("preprocessor.json", lambda d: _numeric(d, clip_low=10.0, clip_high=1.0)),
        r"'clip_low' 10\.0 is above 'clip_high' 1\.0",
    ),
    "unknown scaling": (_json("preprocessor.json", lambda d: _numeric(d, scaling="cubic")), r"'scaling' is 'cubic'"),
    "decreasing quantiles": (
        _json("preprocessor.json", lambda d: _numeric(d, scaling="quantile", quantiles=[0.0, 2.0, 1.0])),
        r"'quantiles' has 1\.0 after 2\.0",
    ),
    "vocabulary of numbers": (
        _json("preprocessor.json", lambda d: d["categorical"][0].update(values=[1, 2])),
        r"'values' holds 1; expected strings",
    ),
    "n_numeric 1e999": (_huge_n_numeric, r"'model\.json' holds the number '1e999'"),
    "100,000-digit integer": (_long_integer, r"an integer of 100000 digits"),
    "deeply nested JSON": (
        lambda out: (out / "metrics.json").write_text("[" * 100_000 + "]" * 100_000),
        r"'metrics\.json' nests arrays or objects too deeply",
    ),
    "nested 100 levels": (
        lambda out: (out / "metrics.json").write_text("[" * 100 + "]" * 100),
        r"'metrics\.json' nests arrays or objects 100 levels deep",
    ),
    "n_numeric off by one": (
        _json("model.json", lambda d: d.update(n_numeric=d["n_numeric"] + 1)),
        r"'model\.json' has n_numeric",
    ),
    "hidden [20000, 20000]": (
        _json("model.json", lambda d: d["params"].update(hidden=[20000, 20000])),
        r"'model\.json' has hidden\[\d\] = 20000, more than the [\d,]+ numbers the weights hold",
    ),
    "hidden [9]": (
        _json("model.json", lambda d: d["params"].update(hidden=[9])),
        r"network whose tensor 'mlp\.layers\.0\.weight' has shape \[9, \d+\], and the weights hold \[8, \d+\]",
    ),
}


@pytest.mark.slow  # trains a model
@pytest.mark.parametrize("case", list(CONTENT_CASES))
def test_an_edited_file_with_a_new_manifest_is_refused_by_load_and_by_predict(
    case: str, saved: Path, rows_csv: Path, tmp_path: Path
) -> None:
    edit, message = CONTENT_CASES[case]
    out = _copy(saved, tmp_path)
    edit(out)
    write_manifest(out)  # sealed again: the values themselves must be refused
    started, peak = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ArtifactError, match=message) as error:
        nm.load(out)
    assert time.perf_counter() - started < 1.0, "refused, but not at once"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200_000, "allocated before refusing"  # KiB
    assert error.value.file == str(out)
    code, output = run_cli("predict", out, rows_csv, "--out", tmp_path / "scores.csv")
    assert code == 2 and "Traceback" not in output and output.startswith("error:"), output
    assert not (tmp_path / "scores.csv").exists()


MANIFEST_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "edited, manifest not updated": (
        _json("preprocessor.json", lambda d: _numeric(d, center=0.25)),
        r"'preprocessor\.json' was edited or damaged after the model was saved: it is [\d,]+ bytes, the manifest "
        r"recorded [\d,]+ bytes",
    ),
    "same size, other bytes": (
        _replace_text("card.md", "a", "b"),
        r"'card\.md' was edited or damaged after the model was saved: its sha256 is \w+…, the manifest recorded",
    ),
    "truncated weights": (
        lambda out: (out / "weights.safetensors").write_bytes((out / "weights.safetensors").read_bytes()[:100]),
        r"'weights\.safetensors' was edited or damaged .*it is 100 bytes, the manifest recorded",
    ),
    "missing file": (lambda out: (out / "schema.json").unlink(), r"has no 'schema\.json', which its manifest lists"),
    "missing optional file": (
        lambda out: (out / "baselines.json").unlink(),
        r"has no 'baselines\.json', which its manifest lists",
    ),
    "extra model file": (
        lambda out: (out / "calibration.json").write_text('{"method": "platt", "slope": 0, "intercept": 9}'),
        r"holds 'calibration\.json', which its manifest does not list",
    ),
    "manifest naming a foreign file": (
        _json(MANIFEST, lambda d: d["files"].update({"../x": {"bytes": 1, "sha256": "0" * 64}})),
        r"'manifest\.json' lists '\.\./x'",
    ),
}


@pytest.mark.slow  # trains a model
@pytest.mark.parametrize("case", list(MANIFEST_CASES))
def test_a_directory_that_differs_from_its_manifest_is_refused_naming_the_file(
    case: str, saved: Path, rows_csv: Path, tmp_path: Path
) -> None:
    edit, message = MANIFEST_CASES[case]
    out = _copy(saved, tmp_path)
    edit(out)
    with pytest.raises(ArtifactError, match=message):
        nm.load(out)
    code, output = run_cli("predict", out, rows_csv, "--out", tmp_path / "scores.csv")
    assert code == 2 and "Traceback" not in output, output


@pytest.mark.slow  # trains a model
def test_every_file_saved_is_in_the_manifest_and_a_directory_without_one_loads_with_a_note(
    saved: Path, tmp_path: Path
) -> None:
    manifest = json.loads((saved / MANIFEST).read_text(encoding="utf-8"))
    names = sorted(p.name for p in saved.iterdir() if p.name != MANIFEST)
    assert sorted(manifest["files"]) == names and "baselines.json" in names
    for name in names:
        content = (saved / name).read_bytes()
        assert manifest["files"][name] == {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    out = _copy(saved, tmp_path)
    (out / MANIFEST).unlink()  # as saved before manifests existed
    with pytest.warns(ReadingNote, match="has no 'manifest.json'"):
        nm.load(out)
    _edit_json(out, "preprocessor.json", lambda d: _numeric(d, scale=0.0))
    with warnings.catch_warnings(), pytest.raises(ArtifactError, match=r"'scale' is 0\.0"):
        warnings.simplefilter("ignore", ReadingNote)
        nm.load(out)  # without a manifest the values are still checked


@pytest.mark.slow  # trains a model
def test_a_file_that_no_loader_reads_is_named_and_ignored(saved: Path, tmp_path: Path) -> None:
    out = _copy(saved, tmp_path)
    (out / "model.pkl").write_bytes(b"\x80\x04N.")  # never opened: it cannot change a score
    with pytest.warns(ReadingNote, match=r"holds 'model\.pkl', which its manifest does not list .* ignored"):
        nm.load(out)


# -- LightGBM's text: edited with its inner sha256 recomputed ------------------------------------------------
LOAD_BASELINES = r"""
import sys
from needmap.artifact import load_artifact
from needmap.errors import ArtifactError
from needmap.workflows.baseline import load_baselines
for path in sys.argv[1:]:
    print("=== case", path, flush=True)  # the last case printed is the one a crash ended on
    try:
        load_baselines(load_artifact(path).extras["baselines.json"], file=path)
    except ArtifactError as exc:
        print("ArtifactError:", exc, flush=True)
    else:
        print("loaded", flush=True)
"""


def _lightgbm_edit(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def _first_tree_line(key: str, value: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        start = text.index(f"\n{key}=", text.index("Tree=0")) + 1
        end = text.index("\n", start)
        return text[:start] + f"{key}={value}" + text[end:]

    return edit


LIGHTGBM_CASES: dict[str, Callable[[str], str]] = {
    "child out of range": _first_tree_line("left_child", "1000 -1"),
    "num_leaves above its arrays": _first_tree_line("num_leaves", "5000"),
    "feature out of range": _first_tree_line("split_feature", "99999"),
    "tree_sizes wrong": lambda text: text.replace("tree_sizes=", "tree_sizes=1", 1),
    "NaN leaf value": _first_tree_line("leaf_value", "nan"),
    "unknown objective": _lightgbm_edit("objective=binary", "objective=custom"),
    "truncated": lambda text: text[: len(text) // 2],
    "no trees": lambda text: text[: text.index("Tree=0")] + "end of trees\n",
}


@pytest.mark.slow  # trains a model, and starts an interpreter
def test_edited_lightgbm_text_with_a_recomputed_checksum_is_refused_before_lightgbm_parses_it(
    saved: Path, tmp_path: Path
) -> None:
    """Each edit of LightGBM's text, with the checksums written again, is refused by needmap's own reading of the
    text. One child interpreter loads every case in turn, so that a crash inside LightGBM's parser ends that
    process, not the tests' (its output names the case it ended on)."""
    paths = []
    for number, (case, edit) in enumerate(LIGHTGBM_CASES.items()):
        out = _copy(saved, tmp_path / f"case{number}")
        document = json.loads((out / "baselines.json").read_text(encoding="utf-8"))
        (entry,) = [b for b in document["baselines"] if b["name"] == "LightGBM"]
        assert lightgbm_text_problem(entry["model"]) is None  # what LightGBM wrote passes
        entry["model"] = edit(entry["model"])
        entry["model_sha256"] = hashlib.sha256(entry["model"].encode("utf-8")).hexdigest()
        (out / "baselines.json").write_text(json.dumps(document), encoding="utf-8")
        write_manifest(out)
        assert lightgbm_text_problem(entry["model"]) is not None, case
        paths.append(str(out))
    src = str(Path(nm.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_BASELINES, *paths], capture_output=True, text=True, env=env, timeout=240
    )
    assert done.returncode == 0, (
        f"the process ended with {done.returncode}: {done.stdout[-1000:]} {done.stderr[-2000:]}"
    )
    answers = done.stdout.split("=== case ")[1:]
    assert len(answers) == len(paths)
    for case, path, answer in zip(LIGHTGBM_CASES, paths, answers, strict=True):
        assert answer.startswith(path), case
        assert "ArtifactError:" in answer and "LightGBM model text that LightGBM's parser must not see" in answer, case


# -- the JSON reader on its own ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": NaN}', "holds NaN"),
        ('{"a": -Infinity}', "holds -Infinity"),
        ('{"a": 1e999}', "holds the number '1e999'"),
        ('{"a": ' + "1" * 31 + "}", "an integer of 31 digits"),
        ("[" * 65 + "]" * 65, "nests arrays or objects 65 levels deep"),
        ("[" * 200_000 + "]" * 200_000, "too deeply"),
        ('{"a": ', "is not valid JSON"),
    ],
)
def test_the_json_reader_refuses_what_needmap_never_writes(text: str, message: str) -> None:
    with pytest.raises(ArtifactError, match=message) as error:
        load_json(text.encode(), name="x.json", file="dir")
    assert error.value.file == "dir" and "'x.json'" in str(error.value)


def test_the_json_reader_caps_the_size_and_reads_what_needmap_writes() -> None:
    with pytest.raises(ArtifactError, match="is 11 bytes; expected at most 10 bytes"):
        load_json(b'{"a": 123}\n', name="x.json", max_bytes=10)
    document = {"a": [1, 2.5, -3e-7, "x", None, True, {"b": [[1]]}], "n": 10**20}
    assert load_json(json.dumps(document).encode(), name="x.json") == document
