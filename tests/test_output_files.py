"""Every file needmap writes: with the permissions of the user's umask, whole or not at all, and what a killed
run left behind removed by the next run (needmap.output_files)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from needmap.data.stream import ChunkWriter
from needmap.data.write import write_table
from needmap.report.build import write_json_atomic, write_text_atomic
from needmap.workflows.predict import write_json

TABLE = pa.table({"customer_id": ["00001", "00002"], "score": [0.25, 0.75]})


def _table_writer(suffix: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        return write_table(TABLE, folder / f"scores{suffix}")

    return write


def _chunks(suffix: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        with ChunkWriter(folder / f"scores{suffix}") as writer:
            writer.write(TABLE)
            writer.write(TABLE)
        return writer.path

    return write


WRITERS: dict[str, Callable[[Path], Path]] = {
    **{f"write_table {s}": _table_writer(s) for s in (".parquet", ".csv", ".jsonl")},
    **{f"ChunkWriter {s}": _chunks(s) for s in (".parquet", ".csv", ".jsonl")},
    "evaluate's JSON": lambda folder: write_json({"auc": 0.7}, folder / "metrics.json"),
    "a report": lambda folder: write_text_atomic("<html></html>", folder / "report.html"),
    "a profile's JSON": lambda folder: write_json_atomic({"rows": 2}, folder / "profile.json"),
}


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    previous = os.umask(0o022)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(previous)


@pytest.mark.parametrize(
    "mask, file_mode, folder_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)], ids=["umask 022", "umask 077"]
)
@pytest.mark.parametrize("what", list(WRITERS))
def test_each_output_file_and_the_folders_made_for_it_follow_the_umask(
    tmp_path: Path, umask: Callable[[int], None], what: str, mask: int, file_mode: int, folder_mode: int
) -> None:
    # Temporary files from mkstemp are 0600 whatever the umask: renamed into place, a report on a shared
    # drive could not be opened by a colleague whom the umask (022) lets read it.
    umask(mask)
    path = WRITERS[what](tmp_path / "new" / "folder")
    assert stat.S_IMODE(path.stat().st_mode) == file_mode
    assert stat.S_IMODE(path.parent.stat().st_mode) == folder_mode
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left


def _dead_pid() -> int:
    """The id of a process that has ended (and was waited for)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def _host() -> str:
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in socket.gethostname())


@pytest.mark.parametrize("what", ["write_table .parquet", "ChunkWriter .csv", "evaluate's JSON", "a report"])
def test_the_next_write_removes_what_a_killed_run_left_for_the_same_target_and_nothing_else(
    tmp_path: Path, what: str
) -> None:
    target = WRITERS[what](tmp_path)  # where the writer writes, and what it is called
    name, dead, host = target.name, _dead_pid(), _host()
    stale = [
        tmp_path / f".{name}.needmap-{host}-{dead}-0a1b2c3d.tmp",  # a killed run's partial file
        tmp_path / f".{name}.needmap-{host}-{dead}-4e5f6a7b.staging",  # or directory
    ]
    kept = [
        tmp_path / f".{name}.needmap-{host}-{os.getpid()}-0a1b2c3d.tmp",  # a run still going (this one)
        tmp_path / f".{name}.needmap-{host}-1-0a1b2c3d.tmp",  # a process that runs (init), maybe another user's
        tmp_path / f".{name}.needmap-otherhost-{dead}-0a1b2c3d.tmp",  # another machine's: its pids are not ours
        tmp_path / f".other.csv.needmap-{host}-{dead}-0a1b2c3d.tmp",  # another target's
        tmp_path / f".{name}.0a1b2c3d.tmp",  # not needmap's naming
        tmp_path / "notes.txt",
    ]
    stale[1].mkdir()
    (stale[1] / "weights.safetensors").write_bytes(b"half")
    for path in [stale[0], *kept]:
        path.write_bytes(b"partial")
    WRITERS[what](tmp_path)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
