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

Every model directory ends with its manifest (:data:`MANIFEST`, :func:`write_manifest`): the size and sha256 of
each other file, written into the staging directory after all of them, so that the directory put in place
always has one that matches. A loader checks it (:func:`check_manifest`) before it parses anything: a file
edited, damaged, lost or added since the save is named in an error. A directory saved before manifests existed
loads with a :class:`~needmap.errors.ReadingNote` saying that its files could not be checked.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from needmap.errors import ArtifactError, ConfigError, ReadingNote
from needmap.output_files import (
    create_staging_directory,
    current_umask,
    replacement_under_way,
    sync_directory,
    sync_file,
    temporary_path,
)

#: Attempts of a reader whose model was replaced while it opened its files (each one needs a whole new save).
READ_ATTEMPTS = 50
#: How long a reader waits for a model path left empty between two renames (where the swap is not available).
GAP_WAIT_S = 5.0
#: The file that makes a directory a needmap model of each kind (a zoo model, a recommender, an uplift model).
MARKERS = ("model.json", "recommender.json", "uplift.json")
#: The file of every model directory that lists the others with their size and sha256 (:func:`write_manifest`).
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "needmap.manifest"
MANIFEST_VERSION = 1
#: The largest manifest read (bytes): one line per file of a directory that holds about a dozen.
MANIFEST_MAX_BYTES = 1 << 20


def check_model_destination(target: Path, model_files: frozenset[str], markers: tuple[str, ...] = MARKERS) -> bool:
    """Whether writing a model at ``target`` replaces one (True) or makes a new directory (False).
    ``model_files``: the names a model directory may hold (:func:`needmap.artifact.model_destination`);
    ``markers``: the files of which one makes a directory such a directory (a training checkpoint has its own).

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
    foreign = [name for name in entries if name not in model_files and name != MANIFEST]
    if foreign or not any(name in entries for name in markers):
        shown = ", ".join(foreign[:5] or entries[:5]) + (", …" if len(foreign or entries) > 5 else "")
        raise ConfigError(
            f"'{target}' is a directory that is not a needmap model (it holds {shown}); expected a new or empty "
            "directory, or a model directory to replace. Nothing was written: choose another path for the model, "
            "e.g. models/bank."
        )
    return True


def write_model_directory(
    target: Path, model_files: frozenset[str], write: Callable[[Path], None], markers: tuple[str, ...] = MARKERS
) -> Path:
    """A model directory at ``target``, whole or not at all: ``write(staging)`` fills a staging directory beside
    it, its files get the permissions of files made with the process's umask (:func:`umask_permissions`:
    safetensors writes 0600, which would hide a saved model from a service running as another user), they and
    the directory are flushed to the disk (fsync: after a power failure the swap never shows empty files), and it
    is put in place (:func:`put_in_place`). A failure removes the staging directory and leaves ``target`` as it
    was. ``model_files``, ``markers``: as for :func:`check_model_destination`. Returns ``target``."""
    check_model_destination(target, model_files, markers)
    staging = create_staging_directory(target)
    try:
        write(staging)
        write_manifest(staging)  # last: it describes every file the directory holds
        umask_permissions(staging)
        for file in staging.iterdir():
            sync_file(file)
        sync_directory(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    put_in_place(staging, target, model_files, markers)
    sync_directory(target.parent)
    return target


def write_json_file(path: Path, data: Any) -> None:
    """``data`` as one line of JSON and a newline (no NaN: a model's documents are read by other programs)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, allow_nan=False, separators=(",", ":"))
        fh.write("\n")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path) -> None:
    """Write ``directory``'s manifest: ``{"format": "needmap.manifest", "version": 1, "files": {name: {"bytes":
    size, "sha256": hex}}}`` for every other file in it. A save writes it last into the staging directory, which is
    put in place whole (:func:`write_model_directory`), so a model directory never shows half a manifest."""
    files = {
        path.name: {"bytes": path.stat().st_size, "sha256": _file_sha256(path)}
        for path in sorted(directory.iterdir())
        if path.name != MANIFEST and path.is_file()
    }
    document = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "files": files}
    with open(directory / MANIFEST, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=2)
        fh.write("\n")


def check_manifest(directory: Path, files: dict[str, bytes], listing: Iterable[str], allowed: Iterable[str]) -> None:
    """Check the files read from ``directory`` against its manifest, before anything parses them.

    ``files``: the content read of each file (:func:`read_model_version`, the manifest among them);
    ``listing``: every name the directory holds; ``allowed``: the names a directory of its kind may hold.
    ArtifactError naming the file when one listed is missing, one has another size or sha256 than recorded
    ("edited or damaged"), the directory holds a file of its kind (one of ``allowed``, which a loader reads) that
    the manifest does not list, or the manifest itself is not one; any other file is never read and only named in
    a ReadingNote. Without a manifest (a directory saved before they existed) a ReadingNote says the files are
    unchecked.
    """
    from needmap.safe_json import load_json

    hint = "Restore the directory from a copy or train the model again; a model directory is never edited by hand."
    if MANIFEST not in files:
        warnings.warn(
            f"'{directory}' has no '{MANIFEST}' (saved by a needmap older than manifests, or removed): its files "
            "cannot be checked against their checksums; only their content is checked. Save the model again to "
            "add one.",
            ReadingNote,
            stacklevel=3,
        )
        return
    document = load_json(files[MANIFEST], name=MANIFEST, file=str(directory), max_bytes=MANIFEST_MAX_BYTES)
    allowed = set(allowed)
    entries = document.get("files") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or document.get("format") != MANIFEST_FORMAT
        or document.get("version") != MANIFEST_VERSION
        or not isinstance(entries, dict)
    ):
        raise ArtifactError(
            f'\'{MANIFEST}\' is not a needmap manifest; expected {{"format": "{MANIFEST_FORMAT}", "version": '
            f'{MANIFEST_VERSION}, "files": {{...}}}}.',
            file=str(directory),
            hint=hint,
        )
    for name, entry in entries.items():
        if name not in allowed:
            raise ArtifactError(
                f"'{MANIFEST}' lists '{name[:80]}', which is not a file of a model directory; expected some of "
                f"{', '.join(sorted(allowed))}.",
                file=str(directory),
                hint=hint,
            )
        size = entry.get("bytes") if isinstance(entry, dict) else None
        recorded = entry.get("sha256") if isinstance(entry, dict) else None
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0 and isinstance(recorded, str)):
            raise ArtifactError(
                f"'{MANIFEST}' has {str(entry)[:80]} for '{name}'; expected {{\"bytes\": size, \"sha256\": hex}}.",
                file=str(directory),
                hint=hint,
            )
        if name not in files:
            raise ArtifactError(
                f"the model directory has no '{name}', which its manifest lists; expected every file saved with it.",
                file=str(directory),
                hint="Was it copied completely? Restore it from a copy or train the model again.",
            )
        content = files[name]
        found = hashlib.sha256(content).hexdigest() if len(content) == size else None
        if found != recorded:
            what = f"its sha256 is {found[:12]}…" if found else f"it is {len(content):,} bytes"
            was = f"{recorded[:12]}…" if found else f"{size:,} bytes"
            raise ArtifactError(
                f"'{name}' was edited or damaged after the model was saved: {what}, the manifest recorded {was}.",
                file=str(directory),
                hint=hint,
            )
    unlisted = sorted(name for name in listing if name != MANIFEST and name not in entries)
    foreign = [name for name in unlisted if name not in allowed]
    if foreign:  # never read by any loader, so it cannot change a score: said, not refused
        shown = ", ".join(f"'{name[:80]}'" for name in foreign[:5]) + (", …" if len(foreign) > 5 else "")
        warnings.warn(
            f"'{directory}' holds {shown}, which its manifest does not list and needmap does not read: ignored.",
            ReadingNote,
            stacklevel=3,
        )
    extra = [name for name in unlisted if name in allowed]
    if extra:  # a file a loader would read (a calibration, a selection) added after the save
        shown = ", ".join(f"'{name[:80]}'" for name in extra[:5]) + (", …" if len(extra) > 5 else "")
        raise ArtifactError(
            f"the model directory holds {shown}, which its manifest does not list; expected only the files saved "
            "with the model (was something added or copied into it?).",
            file=str(directory),
            hint="Remove what was added, or restore the directory from a copy.",
        )


def umask_permissions(directory: Path) -> None:
    """Give the files of ``directory`` the permissions of files made with the process's umask (0644 under the
    usual 022; the directory itself was made so)."""
    umask = current_umask()
    for file in directory.iterdir():
        os.chmod(file, 0o666 & ~umask)


def put_in_place(staging: Path, target: Path, model_files: frozenset[str], markers: tuple[str, ...] = MARKERS) -> None:
    """Move the complete model directory ``staging`` to ``target``, replacing a model there (see the module;
    ``model_files``, ``markers`` as for :func:`check_model_destination`)."""
    try:
        check_model_destination(
            target, model_files, markers
        )  # again: the path may have changed while the model was trained
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
    return read_model_version(directory, names)[0]


def read_model_version(directory: Path, names: tuple[str, ...]) -> tuple[dict[str, bytes], list[str]]:
    """As :func:`read_model_files`, with the names of everything the same version of the directory holds (for
    :func:`check_manifest`, which refuses a file added to it)."""
    if os.open not in os.supports_dir_fd:  # no reading relative to an open directory: by path
        if not directory.is_dir():
            raise _no_model(directory)
        files = {n: (directory / n).read_bytes() for n in names if (directory / n).is_file()}
        return files, sorted(os.listdir(directory))
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


def _read_one_version(directory: Path, names: tuple[str, ...]) -> tuple[dict[str, bytes], list[str]] | None:
    """The files of the directory open at ``directory`` and the names it holds; None when another directory
    took its place while they were being opened."""
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
        listing = sorted(os.listdir(folder)) if os.listdir in os.supports_fd else sorted(os.listdir(directory))
        files = {}
        for name, handle in handles.items():
            if not _is_regular(handle):
                continue  # a directory named like a model file is not one
            with os.fdopen(handle, "rb", closefd=False) as fh:
                files[name] = fh.read()
        return files, listing
    finally:
        for handle in handles.values():
            os.close(handle)
        os.close(folder)


def _is_regular(handle: int) -> bool:
    import stat

    return stat.S_ISREG(os.fstat(handle).st_mode)


# -- one run per model path ----------------------------------------------------------------------------------
def lock_path(target: Path) -> Path:
    """The lock file of a model path: hidden, beside it (``.<name>.needmap-lock``)."""
    return target.parent / f".{target.name}.needmap-lock"


@contextlib.contextmanager
def model_path_lock(target: Path, what: str = "training a model") -> Iterator[None]:
    """Hold the model path ``target`` for this process while the block runs (e.g. the whole of a training run).

    Why: two runs writing one model path each put a whole model in place (:func:`put_in_place`), but the later
    one silently replaces the earlier one's minutes of work, and both would write and resume the same checkpoint
    directory beside it (``<path>.checkpoint``). A second run is refused at once with a ConfigError that names
    the process holding the path. The lock is an advisory ``flock`` on a hidden file beside the path, released
    by the system when the process ends, even by SIGKILL (no stale lock to remove by hand); the file is removed
    when the block ends. Where ``flock`` does not exist (Windows) nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        yield
        return
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(target)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"another needmap run (process {holder}) is {what} at '{target}'; expected one run per model path "
                "at a time.",
                hint="Wait for that run to end, or write the model to another path.",
            ) from None
        try:
            now = os.stat(path)
        except FileNotFoundError:
            now = None
        held = os.fstat(fd)
        if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
            break
        os.close(fd)  # the run before removed the file between our open and our lock: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)
