"""Putting a model directory in place (needmap.model_place): only a model directory (or an empty one) is
replaced, the swap leaves a whole model at the path whenever it stops, and a save killed half-way leaves a
staging directory that the next save removes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from needmap.artifact import load_artifact, save_artifact
from needmap.errors import ArtifactError, ConfigError
from test_artifact import _Interrupted, _parts, stopping_at


def test_a_directory_holding_anything_but_a_model_is_refused_and_kept(tmp_path: Path) -> None:
    # save_artifact moved any directory at the path aside and deleted it: the user's data folder too.
    target = tmp_path / "data"
    target.mkdir()
    (target / "bank.csv").write_text("age;y\n30;no\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"is a directory that is not a needmap model \(it holds bank.csv\)"):
        save_artifact(target, **_parts())
    save_artifact(tmp_path / "m", **_parts())
    (tmp_path / "m" / "notes.txt").write_text("mine", encoding="utf-8")  # a model with the user's file in it
    with pytest.raises(ConfigError, match=r"notes\.txt"):
        save_artifact(tmp_path / "m", **_parts(card="new"))
    assert sorted(p.name for p in target.iterdir()) == ["bank.csv"]
    assert (tmp_path / "m" / "notes.txt").exists() and load_artifact(tmp_path / "m").card != "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "m"]  # no staging directory left


def test_an_empty_directory_is_filled_and_a_file_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert load_artifact(save_artifact(tmp_path / "empty", **_parts(card="in"))).card == "in"
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(ArtifactError, match="exists and is not a directory"):
        save_artifact(tmp_path / "file", **_parts())


def test_the_current_directory_and_its_parents_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / "project"
    here.mkdir()
    monkeypatch.chdir(here)
    for path in (Path("."), here, tmp_path, Path("..")):
        with pytest.raises(ConfigError, match="is the current directory or holds it"):
            save_artifact(path, **_parts())
    assert list(here.iterdir()) == []


def test_the_staging_directory_of_a_killed_save_is_removed_by_the_next_save(tmp_path: Path) -> None:
    # A save killed while writing (SIGKILL runs no clean-up) leaves its hidden staging directory; the next
    # save to the same path removes it, and only what a process no longer running left.
    import socket

    import needmap as nm

    code = "import os, sys; import needmap.artifact as a; from test_artifact import _parts; "
    code += "a._write_json = lambda *args: os.kill(os.getpid(), 9); a.save_artifact(sys.argv[1], **_parts())"
    paths = [str(Path(nm.__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    killed = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")], env=env, check=False)
    assert killed.returncode == -9
    (left,) = [p for p in tmp_path.iterdir()]  # the staging directory, the weights in it
    assert left.name.startswith(".m.") and (left / "weights.safetensors").is_file()
    host = "".join(c if c.isalnum() or c in "_.-" else "_" for c in socket.gethostname())
    running = tmp_path / f".m.needmap-{host}-{os.getpid()}-0a1b2c3d.staging"  # this process: still saving
    running.mkdir()
    save_artifact(tmp_path / "m", **_parts())
    assert sorted(p.name for p in tmp_path.iterdir()) == [running.name, "m"]


@pytest.mark.parametrize("step", [0, 1])
def test_a_swap_stopped_before_or_after_it_leaves_a_whole_model_at_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    # Where the file system swaps two directories in one step (Linux), replacing a model is the swap (0) and
    # the older model's removal (1): stopped at either, the path holds a whole model, the older one before
    # the swap and the newer after it, and nothing is left beside it.
    import needmap.model_place as model_place

    target = tmp_path / "m"
    save_artifact(target, **_parts(card="old"))
    stop_at = stopping_at(step)
    exchange, rmtree = model_place.exchange, shutil.rmtree

    monkeypatch.setattr(model_place, "exchange", stop_at("exchange", exchange))
    monkeypatch.setattr(shutil, "rmtree", stop_at("rmtree", rmtree))
    with pytest.raises(_Interrupted, match=["exchange", "rmtree"][step]):
        save_artifact(target, **_parts(card="new"))
    monkeypatch.undo()
    assert load_artifact(target).card == ("old" if step == 0 else "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_an_older_model_left_aside_by_a_killed_save_goes_back_to_its_empty_path(tmp_path: Path) -> None:
    # Where a model is replaced by two renames, a save killed between them leaves the path empty and the older
    # model beside it: the next save puts it back before anything else (it does not delete the only model).
    import socket

    import needmap.model_place as model_place

    save_artifact(tmp_path / "m", **_parts(card="old"))
    host = "".join(c if c.isalnum() or c in "_.-" else "_" for c in socket.gethostname())
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True).stdout)
    aside = tmp_path / f".m.needmap-{host}-{dead}-0a1b2c3d.old"
    os.rename(tmp_path / "m", aside)
    with pytest.raises(ArtifactError, match="no model directory there"):
        load_artifact(tmp_path / "m")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model_place, "put_in_place", _stop)
        with pytest.raises(_Interrupted):
            save_artifact(tmp_path / "m", **_parts(card="new"))
    assert load_artifact(tmp_path / "m").card == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def _stop(staging: Path, *args: Any) -> None:
    shutil.rmtree(staging)
    raise _Interrupted("stopped before the new model was put in place")
