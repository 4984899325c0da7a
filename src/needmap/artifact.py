"""A model directory: weights in safetensors, everything else in JSON and Markdown.

Layout (format version :data:`FORMAT_VERSION`)::

    model.json            format version, architecture name and hyper-parameters, task, training
                          configuration, target scaling, sha256 of the weights file
    schema.json           column roles (needmap.schema.Schema)
    preprocessor.json     fitted preprocessing statistics and vocabularies
    weights.safetensors   the network's tensors
    metrics.json          validation and test metrics, training time and speed
    card.md               a model card for people
    manifest.json         the size and sha256 of every other file, written last
                          (:func:`needmap.model_place.write_manifest`)

and, where the run made them, optional JSON documents (:data:`OPTIONAL_FILES`): ``evaluation.json``
(curves and the baseline comparison on the test rows), ``profile.json`` (the training data's profile),
``calibration.json`` (a calibrator of the scores), ``tuning.json`` (a hyper-parameter search's history),
``baselines.json`` (the fitted baselines: linear coefficients and LightGBM's own model text),
``selection.json`` (the scorer chosen per target: the network, a baseline or a blend of both), ``events.json``
(how the inputs of a model trained on a table built from an event log were built: the
:class:`needmap.events.table_info.FeatureTableInfo`, so that scoring builds today's inputs the same way),
``btyd.json`` (a lifetime-value target's BG/NBD + Gamma-Gamma parameters, or why they were not fitted),
``population.json`` (the rows the model was fitted on, summarized: the reference row of attributions and each
column's quantiles or shares, so that reasons compare a customer with that population:
:mod:`needmap.explain.population`).

Loading reads JSON and safetensors only: it never executes code from the directory. It checks the manifest
before it parses anything, reads every JSON file through :func:`needmap.safe_json.load_json` (size, depth,
finite numbers, short integers), and leaves the content's own checks to the readers of each part (the
preprocessor's columns, the architecture's sizes against the weights, the baselines).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_weights
from safetensors.torch import save_file

from needmap.errors import ArtifactError
from needmap.model_place import (
    MANIFEST,
    check_manifest,
    check_model_destination,
    read_model_version,
    write_model_directory,
)
from needmap.safe_json import load_json

FORMAT_VERSION = 1
FILES = ("model.json", "schema.json", "preprocessor.json", "weights.safetensors", "metrics.json", "card.md")
OPTIONAL_FILES = (
    "evaluation.json",
    "profile.json",
    "calibration.json",
    "tuning.json",
    "baselines.json",
    "selection.json",
    "events.json",
    "btyd.json",
    "population.json",
)

#: Every name a model directory may hold: a directory holding anything else is not replaced.
MODEL_FILES = frozenset({*FILES, *OPTIONAL_FILES})


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


#: A model file whose compact JSON is at most this many characters is written indented, for people to read;
#: a larger one (a linear baseline's coefficients, a vocabulary) stays compact: Python's json module indents
#: in pure Python, several times slower than its compact C encoder, and nobody reads such a file by eye.
INDENTED_JSON_MAX_CHARS = 1_000_000


def _write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    if len(text) <= INDENTED_JSON_MAX_CHARS:
        text = json.dumps(data, indent=2, allow_nan=False)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
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

    Everything is written into a staging directory beside ``path`` and swapped into place
    (:func:`needmap.model_place.put_in_place`), so a reader finds the older model or the new one, never half
    of one; an existing directory at ``path`` is replaced only when it is a model directory (or empty)
    and only once the new one is complete. ``extras``: optional JSON documents by file name, each one of
    :data:`OPTIONAL_FILES`. Returns the final path.
    """
    unknown = sorted(set(extras or {}) - set(OPTIONAL_FILES))
    if unknown:
        raise ArtifactError(f"unknown optional model file(s) {unknown}; expected some of {list(OPTIONAL_FILES)}.")

    def write(staging: Path) -> None:
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

    return write_model_directory(Path(path), MODEL_FILES, write)


def model_destination(path: str | os.PathLike[str]) -> bool:
    """Whether saving a model at ``path`` replaces a model directory (True) or makes a new one (False); an error
    for a path that must not be replaced: the current directory, a file, a directory holding anything but a
    model's files (:func:`needmap.model_place.check_model_destination`). Checked before training and again
    when the model is put in place."""
    return check_model_destination(Path(path), MODEL_FILES)


def _parse_json(files: dict[str, bytes], directory: Path, name: str) -> Any:
    if name not in files:
        raise ArtifactError(
            f"the model directory has no '{name}'; expected the files {', '.join(FILES)}.",
            file=str(directory),
            hint="Was it copied completely? Train and save the model again if the file is lost.",
        )
    return load_json(files[name], name=name, file=str(directory))


def load_artifact(path: str | os.PathLike[str]) -> ArtifactContents:
    """Read a model directory written by :func:`save_artifact`, checking format version and weights.

    The files are read as one version of the directory (:func:`needmap.model_place.read_model_version`): a
    model replaced while it is read is read again, whole. They are checked against the manifest before any is
    parsed (:func:`needmap.model_place.check_manifest`). Raises ArtifactError when the directory or one of
    its files is missing, a file differs from the manifest or one is there that it does not list, a JSON file
    is not valid or not safe to read (:func:`needmap.safe_json.load_json`), the format version is not
    :data:`FORMAT_VERSION`, or the weights file does not match the checksum recorded at save time.
    """
    directory = Path(path)
    files, listing = read_model_version(directory, (*FILES, *OPTIONAL_FILES, MANIFEST))
    check_manifest(directory, files, listing, MODEL_FILES)
    model = _parse_json(files, directory, "model.json")
    version = model.get("format_version") if isinstance(model, dict) else None
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"the model has format version {version!r}; this needmap reads format version {FORMAT_VERSION}.",
            file=str(directory),
            hint="Train the model again with this needmap, or use the needmap release that wrote it.",
        )
    weights = files.get("weights.safetensors")
    if weights is None:
        raise ArtifactError(
            "the model directory has no 'weights.safetensors'; expected the network's weights there.",
            file=str(directory),
            hint="Was it copied completely? Train and save the model again if the file is lost.",
        )
    expected = model.get("weights_sha256")
    found = hashlib.sha256(weights).hexdigest()
    if expected != found:
        raise ArtifactError(
            f"'weights.safetensors' is corrupted: its sha256 is {found[:12]}…, the model recorded "
            f"{str(expected)[:12]}….",
            file=str(directory),
            hint="Restore the file from a copy or train the model again.",
        )
    try:
        state_dict = load_weights(weights)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(
            f"'weights.safetensors' cannot be read ({exc}); expected a safetensors file.",
            file=str(directory),
        ) from None
    return ArtifactContents(
        model=model,
        schema=_parse_json(files, directory, "schema.json"),
        preprocessor=_parse_json(files, directory, "preprocessor.json"),
        state_dict=state_dict,
        metrics=_parse_json(files, directory, "metrics.json"),
        card=files["card.md"].decode("utf-8", errors="replace") if "card.md" in files else "",
        extras={name: _parse_json(files, directory, name) for name in OPTIONAL_FILES if name in files},
    )
