"""The ``needmap`` command ends its process at once, after what a normal exit runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import needmap
from needmap.runtime.process_exit import exit_status

SRC = str(Path(needmap.__file__).resolve().parents[1])


def _command(tmp_path: Path, args: list[str], *, before: str = "") -> subprocess.CompletedProcess:
    """``needmap ARGS`` through its entry point, in a fresh interpreter with an exit handler and an object that the
    interpreter's teardown would destroy, each writing a file when it runs; ``before`` runs first."""
    code = (
        "import atexit, sys, threading, time\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from pathlib import Path\n"
        "from needmap.cli import main\n"
        f"out = Path({str(tmp_path)!r})\n"
        "atexit.register(lambda: (out / 'handler.txt').write_text('ran'))\n"
        "class Teardown:  # the interpreter's teardown would call this when it clears the module\n"
        "    def __del__(self):\n"
        "        (out / 'teardown.txt').write_text('torn down')\n"
        "kept = Teardown()\n"
        f"{before}"
        f"sys.argv = ['needmap', *{args!r}]\n"
        "main()\n"
        "(out / 'after.txt').write_text('main returned')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    data = tmp_path / "rows.csv"
    data.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    return data


@pytest.mark.slow
def test_the_command_runs_the_exit_handlers_keeps_its_status_and_skips_the_teardown(tmp_path: Path, rows: Path) -> None:
    done = _command(tmp_path, ["schema", str(rows), "--target", "y"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "y" in done.stdout  # the command's output reached the pipe whole
    assert (tmp_path / "handler.txt").read_text() == "ran"
    assert not (tmp_path / "after.txt").exists()  # the process ended inside main()
    assert not (tmp_path / "teardown.txt").exists()  # without the interpreter's teardown

    missing = _command(tmp_path, ["schema", str(tmp_path / "absent.csv"), "--target", "y"])
    assert missing.returncode == 2
    assert "error" in missing.stdout + missing.stderr
    assert "Traceback" not in missing.stdout + missing.stderr


@pytest.mark.slow
def test_with_a_thread_still_working_the_command_leaves_the_exit_to_the_interpreter(tmp_path: Path, rows: Path) -> None:
    """A worker thread (not a daemon) finishes its work, and an executor left open does not keep the process
    alive: the interpreter's own exit wakes and joins them, as without needmap."""
    before = (
        "def work():\n"
        "    time.sleep(1.0)\n"
        "    (out / 'thread.txt').write_text('done')\n"
        "threading.Thread(target=work).start()\n"
        "pool = ThreadPoolExecutor(max_workers=1)  # never shut down\n"
        "pool.submit(lambda: (out / 'pool.txt').write_text('done')).result()\n"
    )
    done = _command(tmp_path, ["schema", str(rows), "--target", "y"], before=before)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "thread.txt").read_text() == "done"
    assert (tmp_path / "pool.txt").read_text() == "done"
    assert (tmp_path / "handler.txt").read_text() == "ran"
    assert not (tmp_path / "after.txt").exists()


def test_exit_status_reads_a_system_exit_code_as_the_interpreter_does(capsys: pytest.CaptureFixture) -> None:
    assert exit_status(None) == 0
    assert exit_status(0) == 0
    assert exit_status(2) == 2
    assert exit_status("stopped: no rows") == 1
    assert "stopped: no rows" in capsys.readouterr().err
