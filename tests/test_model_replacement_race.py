"""A model directory replaced while it is being loaded: the reader finds the older model or the newer one,
whole, every time (docs/artifact.md). A writer process saves over one path in a loop while this process
loads it again and again; every load must succeed and hold one version (its model.json, card and weights
from the same save)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import needmap as nm
from needmap.artifact import load_artifact

# Runs in its own process: saves version 1, 2, 3, ... at argv[1] until the file argv[2] exists.
WRITER = r"""
import sys, time
from pathlib import Path
import torch
from needmap.artifact import save_artifact

if sys.argv[3] == "two renames":  # a file system that cannot swap two directories in one step
    import needmap.model_place as model_place
    model_place.exchange = lambda one, other: False
target, stop = Path(sys.argv[1]), Path(sys.argv[2])
version = 0
while not stop.exists():
    version += 1
    save_artifact(
        target,
        model={"architecture": "mlp", "version": version},
        schema={"target": "y", "columns": []},
        preprocessor={"version": version},
        state_dict={"w": torch.full((64, 64), float(version))},
        metrics={"version": version},
        card=f"version {version}",
        extras={"profile.json": {"version": version}} if version % 2 else None,
    )
print(version)
"""


@pytest.mark.slow  # starts another interpreter and races it for a few seconds
@pytest.mark.parametrize("how", ["swap", "two renames"])
def test_a_model_saved_over_again_and_again_always_loads_whole(tmp_path: Path, how: str) -> None:
    target, stop = tmp_path / "models" / "m", tmp_path / "stop"
    src = str(Path(nm.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target), str(stop), how], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (target / "model.json").exists():
            assert writer.poll() is None and time.monotonic() < deadline, "the writer saved nothing"
            time.sleep(0.01)
        failures: list[str] = []
        seen: set[int] = set()
        loads = 0
        # At least 600 loads, and on until the writer has replaced the model several times while it was read
        # (a slow machine saves fewer versions in 600 loads).
        while loads < 600 or (len(seen) <= 5 and time.monotonic() < deadline + 60):
            loads += 1
            try:
                contents = load_artifact(target)
            except Exception as err:
                failures.append(f"{type(err).__name__}: {err}")
                continue
            version = contents.model["version"]
            seen.add(version)
            parts = (
                contents.preprocessor["version"],
                contents.metrics["version"],
                contents.card,
                float(contents.state_dict["w"][0, 0]),
                contents.extras.get("profile.json", {"version": version})["version"],
                "profile.json" in contents.extras,
            )
            expected = (version, version, f"version {version}", float(version), version, bool(version % 2))
            if parts != expected:
                failures.append(f"version {version} read with {parts}")
    finally:
        stop.touch()
        saved, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0
    assert failures == [], f"{len(failures)} of {loads} loads failed, e.g. {failures[:3]}"
    assert len(seen) > 5 and int(saved) >= max(seen), (seen, saved)  # the model was replaced while it was read
    assert torch.equal(load_artifact(target).state_dict["w"], torch.full((64, 64), float(saved)))
    assert sorted(p.name for p in target.parent.iterdir()) == ["m"]  # nothing left beside it
