"""needmap makes Arrow allocate from the system allocator: for the whole process in the command line
(or where a script asks first), around each call otherwise; importing needmap chooses nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from needmap.runtime import arrow_memory
from needmap.runtime.arrow_memory import POOL_ENV, system_arrow_pool, uses_system_arrow_pool


def _backend_after(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != POOL_ENV}
    out = subprocess.run(
        [sys.executable, "-c", code + "\nprint(pa.default_memory_pool().backend_name)"],
        env={**clean, **env}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.split()[-1]


@pytest.mark.slow
def test_importing_needmap_chooses_no_pool() -> None:
    assert _backend_after("import needmap\nimport pyarrow as pa") == _backend_after("import pyarrow as pa")


@pytest.mark.slow
def test_asking_before_pyarrow_is_loaded_chooses_the_system_pool() -> None:
    code = (
        "from needmap.runtime import prefer_system_arrow_pool\nassert prefer_system_arrow_pool()\nimport pyarrow as pa"
    )
    assert _backend_after(code) == "system"


@pytest.mark.slow
def test_the_command_line_chooses_the_system_pool_before_it_loads_pyarrow(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    code = (
        "import sys\nfrom needmap.cli.main import run\n"
        "assert 'pyarrow' not in sys.modules\n"
        f"sys.argv = ['needmap', 'schema', {str(data)!r}, '--target', 'y']\n"
        "try:\n    run()\nexcept SystemExit as stop:\n    assert not stop.code\n"
        "import pyarrow as pa"
    )
    assert _backend_after(code) == "system"


@pytest.mark.slow
def test_a_pool_the_user_chose_is_kept() -> None:
    code = "from needmap.runtime import prefer_system_arrow_pool\nprefer_system_arrow_pool()\nimport pyarrow as pa"
    assert _backend_after(code, **{POOL_ENV: "mimalloc"}) == "mimalloc"
    # pyarrow loaded first: its pool is already fixed, and asking leaves the variable alone.
    code = (
        "import pyarrow as pa, os\nfrom needmap.runtime import prefer_system_arrow_pool\n"
        "assert not prefer_system_arrow_pool()\nassert not os.environ.get('ARROW_DEFAULT_MEMORY_POOL')"
    )
    assert _backend_after(code) != "system"


def test_calls_switch_to_the_system_pool_and_put_the_previous_one_back(monkeypatch) -> None:
    monkeypatch.delenv(POOL_ENV, raising=False)
    previous = pa.default_memory_pool()
    other = pa.mimalloc_memory_pool() if previous.backend_name == "system" else previous
    pa.set_memory_pool(other)
    try:
        with system_arrow_pool():
            assert pa.default_memory_pool().backend_name == "system"
            with system_arrow_pool():  # nested: the outer block restores
                assert pa.default_memory_pool().backend_name == "system"
            assert pa.default_memory_pool().backend_name == "system"

        @uses_system_arrow_pool
        def inside() -> str:
            return pa.default_memory_pool().backend_name

        assert inside() == "system"
        assert pa.default_memory_pool().backend_name == other.backend_name
        with pytest.raises(RuntimeError), system_arrow_pool():
            raise RuntimeError("restored on errors too")
        assert pa.default_memory_pool().backend_name == other.backend_name
    finally:
        pa.set_memory_pool(previous)


def test_nothing_is_switched_when_the_variable_is_set(monkeypatch) -> None:
    monkeypatch.setenv(POOL_ENV, "mimalloc")
    previous = pa.default_memory_pool()
    with system_arrow_pool():
        assert pa.default_memory_pool() is previous or pa.default_memory_pool().backend_name == previous.backend_name
    assert arrow_memory._depth == 0
