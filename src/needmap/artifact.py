"""A model directory: weights in safetensors, everything else in JSON and Markdown.

Layout (format version :data:`FORMAT_VERSION`)::

    model.json            format version, architecture name and hyper-parameters, task, training
                          configuration, target scaling, sha256 of the weights file
    schema.json           column roles (needmap.schema.Schema)
    preprocessor.json     fitted preprocessing statistics and vocabularies
    weights.safetensors   the network's tensors
    metrics.json          validation and test metrics, training time and speed
    card.md               a model card for people

and, where the run made them, optional JSON documents (:data:`OPTIONAL_FILES`): ``evaluation.json``
(curves and the baseline comparison on the test rows), ``profile.json`` (the training data's profile),
``calibration.json`` (a calibrator of the scores), ``tuning.json`` (a hyper-parameter search's history),
``baselines.json`` (the fitted baselines: linear coefficients and LightGBM's own model text),
``selection.json`` (the scorer chosen per target: the network, a baseline or a blend of both).

Loading reads JSON and safetensors only: it never executes code from the directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from needmap.errors import ArtifactError

FORMAT_VERSION = 1
FILES = ("model.json", "schema.json", "preprocessor.json", "weights.safetensors", "metrics.json", "card.md")
OPTIONAL_FILES = (
    "evaluation.json",
    "profile.json",
    "calibration.json",
    "tuning.json",
    "baselines.json",
    "selection.json",
)


@dataclass
class ArtifactContents:
    """What a model directory holds, parsed."""

    model: dict[str, Any]
    schema: dict[str, Any]
    preprocessor: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    metrics: dict[str, Any]
    card: str
    extras: dict[str, Any] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, allow_nan=False)
        fh.write("\n")


def save_artifact(
    path: str | os.PathLike[str],
    *,
    model: dict[str, Any],
    schema: dict[str, Any],
    preprocessor: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    metrics: dict[str, Any],
    card: str,
    extras: dict[str, Any] | None = None,
) -> Path:
    """Write a model directory at ``path``, atomically.

    Everything is written into a temporary directory beside ``path`` and renamed into place, so a
    reader never sees half a model; an existing directory at ``path`` is replaced only once the new
    one is complete, and put back when the save fails after moving it aside. ``extras``: optional
    JSON documents by file name, each one of :data:`OPTIONAL_FILES`. Returns the final path.
    """
    unknown = sorted(set(extras or {}) - set(OPTIONAL_FILES))
    if unknown:
        raise ArtifactError(f"unknown optional model file(s) {unknown}; expected some of {list(OPTIONAL_FILES)}.")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not target.is_dir():
        raise ArtifactError(f"'{target}' exists and is not a directory; expected a model directory path.")
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = None
    try:
        tensors = {name: t.detach().to("cpu").contiguous() for name, t in state_dict.items()}
        save_file(tensors, str(staging / "weights.safetensors"))
        model_json = dict(model)
        model_json["format_version"] = FORMAT_VERSION
        model_json["weights_sha256"] = _sha256(staging / "weights.safetensors")
        _write_json(staging / "model.json", model_json)
        _write_json(staging / "schema.json", schema)
        _write_json(staging / "preprocessor.json", preprocessor)
        _write_json(staging / "metrics.json", metrics)
        (staging / "card.md").write_text(card, encoding="utf-8")
        for name, document in (extras or {}).items():
            _write_json(staging / name, document)
        _default_permissions(staging)
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and old.exists() and not target.exists():  # stopped between the two renames
            os.replace(old, target)  # the older model goes back to its path
        raise
    return target


def _umask() -> int:
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


def _default_permissions(directory: Path) -> None:
    """Give ``directory`` and its files the permissions of a directory and files made with the process's
    umask (0755 and 0644 under the usual 022): the temporary directory starts at 0700 and safetensors
    writes 0600, which would hide a saved model from a service running as another user."""
    umask = _umask()
    os.chmod(directory, 0o777 & ~umask)
    for file in directory.iterdir():
        os.chmod(file, 0o666 & ~umask)


def _read_json(directory: Path, name: str) -> Any:
    file = directory / name
    if not file.is_file():
        raise ArtifactError(
            f"the model directory has no '{name}'; expected the files {', '.join(FILES)}.",
            file=str(directory),
            hint="Was it copied completely? Train and save the model again if the file is lost.",
        )
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(
            f"'{name}' is not valid JSON ({exc}); expected the JSON that needmap wrote.",
            file=str(directory),
            hint="The file is corrupted: restore it from a copy or train the model again.",
        ) from None


def load_artifact(path: str | os.PathLike[str]) -> ArtifactContents:
    """Read a model directory written by :func:`save_artifact`, checking format version and weights.

    Raises ArtifactError when the directory or one of its files is missing, a JSON file is not
    valid, the format version is not :data:`FORMAT_VERSION`, or the weights file does not match
    the checksum recorded at save time.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise ArtifactError(
            "no model directory there; expected a directory written by 'needmap train' or Model.save().",
            file=str(directory),
        )
    model = _read_json(directory, "model.json")
    version = model.get("format_version") if isinstance(model, dict) else None
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"the model has format version {version!r}; this needmap reads format version {FORMAT_VERSION}.",
            file=str(directory),
            hint="Train the model again with this needmap, or use the needmap release that wrote it.",
        )
    weights = directory / "weights.safetensors"
    if not weights.is_file():
        raise ArtifactError(
            "the model directory has no 'weights.safetensors'; expected the network's weights there.",
            file=str(directory),
            hint="Was it copied completely? Train and save the model again if the file is lost.",
        )
    expected = model.get("weights_sha256")
    found = _sha256(weights)
    if expected != found:
        raise ArtifactError(
            f"'weights.safetensors' is corrupted: its sha256 is {found[:12]}…, the model recorded "
            f"{str(expected)[:12]}….",
            file=str(directory),
            hint="Restore the file from a copy or train the model again.",
        )
    try:
        state_dict = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(
            f"'weights.safetensors' cannot be read ({exc}); expected a safetensors file.",
            file=str(directory),
        ) from None
    card_file = directory / "card.md"
    return ArtifactContents(
        model=model,
        schema=_read_json(directory, "schema.json"),
        preprocessor=_read_json(directory, "preprocessor.json"),
        state_dict=state_dict,
        metrics=_read_json(directory, "metrics.json"),
        card=card_file.read_text(encoding="utf-8") if card_file.is_file() else "",
        extras={name: _read_json(directory, name) for name in OPTIONAL_FILES if (directory / name).is_file()},
    )
