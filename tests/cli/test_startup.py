"""needmap starts without its heavy libraries: ``--help``, ``schema`` and ``profile`` load neither torch nor
the libraries of the baselines, the search and tracking; the commands that train, score or search import
them where they use them. Each command runs in a fresh interpreter, which then lists what it loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import needmap

#: Libraries that take seconds to import and that none of these commands needs.
HEAVY = ("torch", "sklearn", "lightgbm", "optuna", "mlflow")
#: What ``--help`` needs no more than the others: it reads no table.
TABLES = ("numpy", "pyarrow", "pandas")
SRC = str(Path(needmap.__file__).resolve().parents[1])


def heavy_modules_loaded(args: list[str], cwd: Path) -> list[str]:
    """The HEAVY and TABLES libraries in ``sys.modules`` after ``needmap ARGS`` ran in a fresh interpreter in
    ``cwd``."""
    code = (
        "import sys\n"
        "from needmap.cli.main import run\n"
        f"sys.argv = ['needmap', *{args!r}]\n"
        "try:\n"
        "    run()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        f"print('LOADED:', *[m for m in {HEAVY + TABLES!r} if m in sys.modules])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = [text for text in done.stdout.splitlines() if text.startswith("LOADED:")][-1]
    return line.split()[1:]


@pytest.fixture
def campaign_csv(tmp_path: Path) -> Path:
    """A small campaign table: a numeric, a categorical column and a 0/1 response."""
    rng = np.random.default_rng(3)
    lines = ["age,channel,responded"]
    lines += [f"{rng.integers(18, 80)},{rng.choice(['mail', 'phone', 'web'])},{rng.integers(0, 2)}" for _ in range(60)]
    path = tmp_path / "campaign.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["tune", "--help"]], ids=" ".join)
def test_help_loads_no_heavy_library_and_no_table_library(args: list[str], tmp_path: Path) -> None:
    assert heavy_modules_loaded(args, tmp_path) == []


def test_schema_and_profile_load_no_heavy_library(campaign_csv: Path) -> None:
    schema = ["schema", campaign_csv.name, "--target", "responded", "--drop", "channel"]
    assert not set(heavy_modules_loaded(schema, campaign_csv.parent)) & set(HEAVY)
    profile = ["profile", campaign_csv.name, "--target", "responded", "--out", "profile.html"]
    assert not set(heavy_modules_loaded(profile, campaign_csv.parent)) & set(HEAVY)
    assert (campaign_csv.parent / "profile.html").stat().st_size > 0


def test_the_declared_activation_names_are_the_activations_the_layers_make() -> None:
    from needmap.models import layers
    from needmap.models.options import ACTIVATION_NAMES

    assert tuple(layers.ACTIVATIONS) == ACTIVATION_NAMES
