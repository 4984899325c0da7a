"""Where and how needmap writes its files: temporary names, permissions, leftovers, and what it never overwrites.

Every output (scores, reports, profiles, JSON, a model directory) is first written under a hidden temporary
name beside its target and renamed into place, so it appears whole or not at all. The temporary name says who
made it, ``.<target name>.needmap-<host>-<pid>-<8 hex>.<tmp|staging|old>``, so that what a killed process
left behind (SIGKILL runs no clean-up) is recognised and removed by the next run that writes to the same
target: only entries of that pattern, made on this host by a process that no longer runs. An entry of
another host, or of a process still running, is left alone.

Files and directories are created with the permissions the user's umask gives new ones (0644 and 0755 under
the usual 022, 0600 and 0700 under 077), as any other program's output, so a report on a shared drive opens
for the colleagues the umask admits.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
from pathlib import Path

from needmap.errors import ConfigError

_KINDS = ("tmp", "staging", "old")
_LEFTOVER = re.compile(
    r"^\.(?P<name>.+)\.needmap-(?P<host>[A-Za-z0-9_.-]+)-(?P<pid>\d+)-[0-9a-f]{8}\.(?P<kind>tmp|staging|old)$"
)


def _host() -> str:
    """This machine's name as it goes into a temporary name (letters, digits, '_', '.', '-')."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"


def temporary_path(target: Path, kind: str) -> Path:
    """A hidden name beside ``target`` that says this process made it (see the module's docstring)."""
    assert kind in _KINDS, kind
    return target.parent / f".{target.name}.needmap-{_host()}-{os.getpid()}-{secrets.token_hex(4)}.{kind}"


def create_temporary_file(target: Path) -> Path:
    """Create an empty temporary file beside ``target`` (its directory made if needed), with the permissions
    of a new file under the umask, after removing this target's stale leftovers. Returns its path."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_leftovers(target)
    while True:
        path = temporary_path(target, "tmp")
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:  # 32 random bits taken by this very process: draw again
            continue
        return path


def create_staging_directory(target: Path) -> Path:
    """Create an empty temporary directory beside ``target`` with the permissions of a new directory under
    the umask, after removing this target's stale leftovers. Returns its path."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_leftovers(target)
    while True:
        path = temporary_path(target, "staging")
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        return path


def sync_file(path: Path) -> None:
    """Flush ``path``'s data to the disk (fsync), so that a rename that follows never puts an empty or short file
    in place after a power failure (the rename may reach the disk before the data otherwise)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_directory(directory: Path) -> None:
    """Flush ``directory``'s entries (a rename into it, a file made in it) to the disk; nothing where a
    directory cannot be opened for that (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory: the rename stands as the system keeps it
        pass
    finally:
        os.close(fd)


def remove_stale_leftovers(target: Path) -> list[Path]:
    """Remove the temporary files and directories that a process no longer running on this host left beside
    ``target`` (killed while writing it); an older model moved aside by a process killed before it put the new
    one in goes back to ``target`` when nothing is there. Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    host = _host()
    for entry in entries:
        found = _LEFTOVER.match(entry.name)
        if not found or found["name"] != target.name or found["host"] != host or _running(int(found["pid"])):
            continue
        try:
            if found["kind"] == "old" and not os.path.lexists(target):
                os.rename(entry, target)  # killed between moving a model aside and the new one in: it goes back
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:  # another run removed it first
            pass
        removed.append(entry)
    return removed


def replacement_under_way(target: Path) -> bool:
    """Whether a running process (or one on another host) has moved the directory at ``target`` aside to put
    a new one in its place (:mod:`needmap.model_place`, where the two cannot be swapped in one step)."""
    try:
        entries = os.listdir(target.parent)
    except OSError:
        return False
    host = _host()
    for name in entries:
        found = _LEFTOVER.match(name)
        if (
            found
            and found["name"] == target.name
            and found["kind"] == "old"
            and (found["host"] != host or _running(int(found["pid"])))
        ):
            return True
    return False


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host; True where that cannot be told (never remove then)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: running
        return True
    return True


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (os.umask sets it while reading
    it, a moment in which another thread would create files with another mask). The status is read as bytes:
    its first line holds the process name as the kernel keeps it, which need not be ASCII (a script named
    ``análisis.py`` run by its shebang)."""
    try:
        status = Path("/proc/self/status").read_bytes()
    except OSError:  # not Linux
        status = b""
    for line in status.splitlines():
        if line.startswith(b"Umask:"):
            return int(line.split()[1], 8)
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def refuse_overwriting_inputs(
    out: str | os.PathLike[str], option: str, **inputs: str | os.PathLike[str] | None
) -> None:
    """ConfigError when the output ``out`` (given as ``option``) is one of the ``inputs`` (by name: the path)
    or lies inside one (a model directory): writing it would destroy what is being read."""
    target = Path(out).resolve()
    for name, given in inputs.items():
        if given is None:
            continue
        source = Path(given).resolve()
        if target == source or source in target.parents or _same_file(target, source):
            raise ConfigError(
                f"{option} '{out}' would overwrite the input {name} '{given}'; expected another file name "
                f"for the output."
            )


def _same_file(one: Path, other: Path) -> bool:
    """Whether two existing paths are one file (a hard link, a path through a symbolic link)."""
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def replaced_note(existed: bool) -> str:
    """The words after an output's path on the screen: that a file already there was replaced."""
    return " (replaced the file that was there)" if existed else ""
