"""The two promises of the model directory: loading executes no code, and a failed save leaves the older
model at its path untouched.

Loading is watched from inside a fresh Python process by an audit hook (``sys.addaudithook``, permanent
in a process, hence the subprocess): no unpickling, no ``exec``/``compile``, no import, no new process,
and no file of the directory opened but the JSON, Markdown and safetensors files needmap writes. The
package's source is also read for the calls that would make that possible. A save is interrupted before
each of its steps in turn; the model at the path must stay loadable, and the older one until the new one
is renamed into place.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import torch

import needmap as nm
import needmap.artifact as artifact
import needmap.model_place as model_place
from needmap.errors import ArtifactError
from needmap.workflows.train import run_train

SMALL = {"epochs": 1, "progress": False, "batch_size": 256, "hidden": (8,), "embedding_dim": 4, "threads": 1}

# Runs in a fresh process: loads the model directory argv[1] with an audit hook recording what runs.
AUDIT = r"""
import json, os, sys
from pathlib import Path

# What loading may use, imported before the hook: an import during loading is then new code running.
# (pyarrow imports its pandas layer on first use.)
import lightgbm, numpy, pyarrow.pandas_compat, pyarrow.vendored.version, safetensors.torch, sklearn.linear_model, torch
import needmap, needmap.calibration, needmap.estimator, needmap.workflows.baseline

directory = os.path.realpath(sys.argv[1])
FLAGGED = {
    "pickle.find_class", "exec", "compile", "import", "marshal.load", "marshal.loads", "os.system",
    "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "subprocess.Popen", "ctypes.dlopen", "code.__new__",
}
events, opened, recording = [], [], [False]

def hook(event, args):
    if not recording[0]:
        return
    if event in FLAGGED:
        events.append(f"{event} {repr(args)[:160]}")
    elif event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        name = os.fsdecode(args[0])
        if os.path.realpath(name).startswith(directory + os.sep) or not os.path.isabs(name):
            opened.append(os.path.basename(name))  # a relative name: opened inside the open model directory

sys.addaudithook(hook)
recording[0] = True
model = needmap.load(directory)
baselines = needmap.workflows.baseline.load_baselines(model.extras_["baselines.json"])
recording[0] = False
result = {"load": list(events), "opened": sorted(set(opened)), "baselines": [b.name for b in baselines]}
result["calibrated"] = model.calibrator_ is not None

# The control: the same hook sees an unpickling and an exec.
import collections, pickle
data = pickle.dumps(collections.OrderedDict(a=1))
events.clear()
recording[0] = True
pickle.loads(data)
exec("x = 1")
recording[0] = False
result["control"] = sorted({e.split()[0] for e in events})
print(json.dumps(result))
"""

# Calls that run code that is not needmap's own, or read pickles; none belongs in the package.
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "marshal", "shelve"}
FORBIDDEN_CALLS = {"exec", "eval", "compile", "__import__", "import_module", "torch.load", "np.load", "numpy.load"}


@pytest.fixture(scope="module")
def saved(bank_table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> tuple[nm.Model, Path]:
    """A small calibrated MLP trained with its baselines and saved: every optional file that loading reads."""
    out = tmp_path_factory.mktemp("saved") / "bank"
    model = nm.Model("mlp", target="y", drop=["duration"], calibrate="isotonic", **SMALL)
    outcome = run_train(bank_table.slice(0, 1500), model, out=out, n_boot=20)
    assert outcome.out == out
    return outcome.model, out


# -- loading executes no code ----------------------------------------------------------------------------
@pytest.mark.slow  # trains a model, and starts an interpreter
def test_loading_unpickles_nothing_executes_nothing_and_opens_only_the_model_files(
    saved: tuple[nm.Model, Path],
) -> None:
    _, out = saved
    (out / "weights.pt").write_bytes(b"not read")  # files a loader must ignore: it knows which ones it reads
    (out / "model.pkl").write_bytes(b"not read")
    try:
        src = str(Path(nm.__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run(
            [sys.executable, "-c", AUDIT, str(out)], capture_output=True, text=True, env=env, timeout=120, check=False
        )
    finally:
        (out / "weights.pt").unlink()
        (out / "model.pkl").unlink()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"exec", "pickle.find_class"} <= set(result["control"])  # the hook sees what it looks for
    assert result["load"] == []
    assert result["calibrated"] and result["baselines"] == ["logistic regression", "LightGBM"]
    allowed = {*artifact.FILES, *artifact.OPTIONAL_FILES, "manifest.json"}
    assert set(result["opened"]) <= allowed and {"model.json", "baselines.json", "calibration.json"} <= set(
        result["opened"]
    )


def _forbidden(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in FORBIDDEN_CALLS or name.split(".")[-1] in {"import_module", "__import__"}:
                found.append(f"{name}(...)")
    return found


def test_no_module_of_the_package_can_unpickle_or_run_code_from_text() -> None:
    package = Path(nm.__file__).resolve().parent
    found = {}
    for file in sorted(package.rglob("*.py")):
        hits = _forbidden(ast.parse(file.read_text(encoding="utf-8")))
        if hits:
            found[str(file.relative_to(package))] = hits
    assert found == {}
    assert _forbidden(ast.parse("import pickle\ntorch.load(path)\nimportlib.import_module(name)")) == [
        "import pickle",
        "torch.load(...)",
        "importlib.import_module(...)",
    ]  # the scan finds them where they are


# -- a failed save leaves the older model --------------------------------------------------------------
class Interrupted(BaseException):
    """Stands for anything that stops a save between two steps: a full disk, Ctrl-C, a killed thread."""


class Steps:
    """Every file-system step of :func:`needmap.artifact.save_artifact`, counted; ``fail_at`` k raises
    :class:`Interrupted` instead of taking step k (once)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.names: list[str] = []
        self.fail_at: int | None = None
        for owner, name in [
            (model_place, "create_staging_directory"),
            (artifact, "save_file"),
            (artifact, "_sha256"),
            (artifact, "_write_json"),
            (Path, "write_text"),
            (model_place, "umask_permissions"),
            (model_place, "exchange"),
            (os, "replace"),
            (shutil, "rmtree"),
        ]:
            monkeypatch.setattr(owner, name, self._step(name, getattr(owner, name)))

    def _step(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            shown = [
                Path(a).name if isinstance(a, (str, Path)) and "\n" not in str(a) else type(a).__name__ for a in args
            ]
            label = f"{len(self.names)}: {name}({', '.join(shown)})"
            if self.fail_at == len(self.names):
                self.fail_at = None
                self.names.append(label)
                raise Interrupted(label)
            self.names.append(label)
            return real(*args, **kwargs)

        return step


@pytest.mark.slow  # trains a model with its baselines, once for both
def test_a_save_interrupted_at_any_step_leaves_a_loadable_model_the_older_one_until_the_new_is_in_place(
    saved: tuple[nm.Model, Path], bank_table: pa.Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, out = saved
    rows = bank_table.slice(2000, 300)

    def weights(m: nm.Model) -> np.ndarray:
        assert m.network_ is not None
        return np.concatenate([t.detach().numpy().ravel() for t in m.network_.state_dict().values()])

    older = weights(nm.load(out))
    newer = copy.deepcopy(model)
    assert newer.network_ is not None
    with torch.no_grad():
        for p in newer.network_.parameters():
            p.add_(0.1)
    assert not np.allclose(weights(newer), older)
    path = tmp_path / "models" / "bank"

    def older_model_at_path() -> None:
        shutil.rmtree(path.parent, ignore_errors=True)
        shutil.copytree(out, path)

    steps = Steps(monkeypatch)
    older_model_at_path()
    steps.names.clear()
    newer.save(path)  # once through, uninterrupted: the steps of replacing a model
    every = list(steps.names)
    # the commit: the staging directory swapped with the older model at the path
    commit = next(i for i, label in enumerate(every) if "exchange(" in label and label.endswith(f", {path.name})"))
    assert len(every) > 10 and every[commit + 1 :] and "rmtree" in every[-1], every
    for k, label in enumerate(every):
        older_model_at_path()
        steps.names.clear()
        steps.fail_at = k
        with pytest.raises(Interrupted):
            newer.save(path)
        assert steps.fail_at is None, f"step {label} was not reached"
        try:
            loaded = nm.load(path)
        except ArtifactError as err:
            pytest.fail(f"interrupted before step {label} of {every}: no model at the path ({err})")
        np.testing.assert_array_equal(weights(loaded), weights(newer) if k > commit else older, err_msg=label)
        assert len(loaded.predict_proba(rows)) == rows.num_rows
        left = sorted(p.name for p in path.parent.iterdir())
        assert left == ["bank"], (label, left)
