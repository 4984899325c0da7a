"""Putting a model directory in place, and reading one, so that a reader never sees half a model.

A new model is written into a staging directory beside its path (:mod:`needmap.output_files`), then:

* where nothing is at the path, the staging directory is renamed to it;
* where a model is there, the two are swapped in one step (Linux's ``renameat2(RENAME_EXCHANGE)``): the
  path never lacks a model. The older one, now under the staging name, is then removed. Where the file
  system cannot swap (another system, some network file systems), the older model is renamed aside and
  the new one renamed in: for the moment between the two renames the path is empty, and the older
  directory (``.<name>.needmap-…old``) beside it says that a replacement is under way.

A reader (:func:`read_model_files`) opens the directory once, opens every file it needs inside that open
directory, and then checks that the directory it opened is still the one at the path. If it is, no removal
had begun when the files were opened (a directory is removed only after it left the path), and an open file
reads whole even when it is deleted afterwards: the reader has one version, complete. If it is not, the model
was replaced meanwhile and the reader starts again on the new one. Starting again needs a whole new model put
in place during the few file opens of one attempt; the reader gives up after :data:`READ_ATTEMPTS` of them,
or after waiting :data:`GAP_WAIT_S` for an empty path to be filled.

Only a model directory (or an empty one) is ever replaced: a directory holding anything else is refused, so a
wrong path (the data folder, the current directory) cannot delete the user's files.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from needmap.errors import ArtifactError, ConfigError
from needmap.output_files import create_staging_directory, current_umask, replacement_under_way, temporary_path

#: Attempts of a reader whose model was replaced while it opened its files (each one needs a whole new save).
READ_ATTEMPTS = 50
#: How long a reader waits for a model path left empty between two renames (where the swap is not available).
GAP_WAIT_S = 5.0
#: The file that makes a directory a needmap model of each kind (a zoo model, a recommender, an uplift model).
MARKERS = ("model.json", "recommender.json", "uplift.json")


def check_model_destination(target: Path, model_files: frozenset[str]) -> bool:
    """Whether writing a model at ``target`` replaces one (True) or makes a new directory (False).
    ``model_files``: the names a model directory may hold (:func:`needmap.artifact.model_destination`).

    ConfigError when ``target`` is the current directory or holds it, or an existing directory that is not
    a model directory (a file other than a model's in it) and not empty; ArtifactError when it is a file."""
    resolved = target.resolve()
    here = Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise ConfigError(
            f"the model directory '{target}' is the current directory or holds it; expected a directory of its "
            "own, e.g. models/bank (needmap replaces the whole directory it writes a model to)."
        )
    if not target.exists():
        return False
    if not target.is_dir():
        raise ArtifactError(f"'{target}' exists and is not a directory; expected a model directory path.")
    entries = sorted(os.listdir(target))
    if not entries:
        return False
    foreign = [name for name in entries if name not in model_files]
    if foreign or not any(name in entries for name in MARKERS):
        shown = ", ".join(foreign[:5] or entries[:5]) + (", …" if len(foreign or entries) > 5 else "")
        raise ConfigError(
            f"'{target}' is a directory that is not a needmap model (it holds {shown}); expected a new or empty "
            "directory, or a model directory to replace. Nothing was written: choose another path for the model, "
            "e.g. models/bank."
        )
    return True


def write_model_directory(target: Path, model_files: frozenset[str], write: Callable[[Path], None]) -> Path:
    """A model directory at ``target``, whole or not at all: ``write(staging)`` fills a staging directory beside
    it, its files get the permissions of files made with the process's umask (:func:`umask_permissions`:
    safetensors writes 0600, which would hide a saved model from a service running as another user), and it is
    put in place
    (:func:`put_in_place`). A failure removes the staging directory and leaves ``target`` as it was.
    ``model_files``: as for :func:`check_model_destination`. Returns ``target``."""
    check_model_destination(target, model_files)
    staging = create_staging_directory(target)
    try:
        write(staging)
        umask_permissions(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    put_in_place(staging, target, model_files)
    return target


def write_json_file(path: Path, data: Any) -> None:
    """``data`` as one line of JSON and a newline (no NaN: a model's documents are read by other programs)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, allow_nan=False, separators=(",", ":"))
        fh.write("\n")


def umask_permissions(directory: Path) -> None:
    """Give the files of ``directory`` the permissions of files made with the process's umask (0644 under the
    usual 022; the directory itself was made so)."""
    umask = current_umask()
    for file in directory.iterdir():
        os.chmod(file, 0o666 & ~umask)


def put_in_place(staging: Path, target: Path, model_files: frozenset[str]) -> None:
    """Move the complete model directory ``staging`` to ``target``, replacing a model there (see the module;
    ``model_files`` as for :func:`check_model_destination`)."""
    try:
        check_model_destination(target, model_files)  # again: the path may have changed while the model was trained
        if not target.exists():
            try:
                os.replace(staging, target)
                return
            except OSError as err:  # another save put a model there meanwhile: swap with it
                if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        if exchange(staging, target):
            shutil.rmtree(staging, ignore_errors=True)  # the older model, now under the staging name
            return
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _replace_by_two_renames(staging, target)


def _replace_by_two_renames(staging: Path, target: Path) -> None:
    """Where no swap is available: the older model aside, the new one in, the older one removed; a failure
    between the renames puts the older one back."""
    old = temporary_path(target, "old")
    moved = False
    try:
        os.replace(target, old)
        moved = True
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if moved and old.exists() and not target.exists():  # stopped between the two renames
            os.replace(old, target)  # the older model goes back to its path
        raise
    shutil.rmtree(old, ignore_errors=True)


def exchange(one: Path, other: Path) -> bool:
    """Swap two paths of one file system in one step (Linux's renameat2 with RENAME_EXCHANGE); False where the
    system or the file system cannot, having changed nothing."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library without it (glibc before 2.28, some others)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_cwd, rename_exchange = -100, 2
    if renameat2(at_cwd, os.fsencode(one), at_cwd, os.fsencode(other), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), os.fspath(one), None, os.fspath(other))


def read_model_files(directory: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """The content of each of ``names`` in the model directory ``directory`` (absent ones left out), all of
    one version of it (see the module). ArtifactError when there is no directory there."""
    if os.open not in os.supports_dir_fd:  # no reading relative to an open directory: by path
        return {n: (directory / n).read_bytes() for n in names if (directory / n).is_file()}
    waited_since = None
    for _ in range(READ_ATTEMPTS):
        try:
            files = _read_one_version(directory, names)
        except (FileNotFoundError, NotADirectoryError):
            if not replacement_under_way(directory):
                raise _no_model(directory) from None
            waited_since = waited_since or time.monotonic()
            if time.monotonic() - waited_since > GAP_WAIT_S:
                break
            time.sleep(0.001)
            continue
        if files is not None:
            return files
    raise ArtifactError(
        "the model directory was replaced again and again while it was being read; expected it to stay "
        "in place for a moment.",
        file=str(directory),
        hint="Load it again once the process saving models there is done.",
    )


def _no_model(directory: Path) -> ArtifactError:
    return ArtifactError(
        "no model directory there; expected a directory written by 'needmap train' or Model.save().",
        file=str(directory),
    )


def _read_one_version(directory: Path, names: tuple[str, ...]) -> dict[str, bytes] | None:
    """The files of the directory open at ``directory``; None when another directory took its place while
    they were being opened."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    folder = os.open(directory, flags)
    handles: dict[str, int] = {}
    try:
        for name in names:
            try:
                handles[name] = os.open(name, os.O_RDONLY, dir_fd=folder)
            except (FileNotFoundError, IsADirectoryError):
                continue
        opened, now = os.fstat(folder), os.stat(directory)
        if (opened.st_dev, opened.st_ino) != (now.st_dev, now.st_ino):
            return None
        files = {}
        for name, handle in handles.items():
            if not _is_regular(handle):
                continue  # a directory named like a model file is not one
            with os.fdopen(handle, "rb", closefd=False) as fh:
                files[name] = fh.read()
        return files
    finally:
        for handle in handles.values():
            os.close(handle)
        os.close(folder)


def _is_regular(handle: int) -> bool:
    import stat

    return stat.S_ISREG(os.fstat(handle).st_mode)
