"""The loaded models: their versions, and new versions swapped in without failing a request.

Each model is held as one :class:`LoadedModel` (the model, its scorer, its request and response models, its
version). A request looks its model up once, by name, and uses that object to its end. A reload
(:meth:`Registry.reload`, ``POST /v1/models/{name}/reload``, or :func:`watch` with ``--watch``) loads the
directory again beside the model in use, scores the example once, and only then replaces the registry's
mapping with a new one in a single assignment: requests in flight finish on the version they started with,
later ones get the new one, and none waits or fails meanwhile. A directory that does not load leaves the model
in use as it is.

The version is a short content hash of the model's files (:func:`model_version`): the description files and the
weights (for a model of a table, the weights' SHA-256 recorded in ``model.json`` stands for them), so that a
model trained again gets a new version and the same files keep theirs. Names are only ever looked up in the
registry, never joined to a path: a request cannot reach a file.

With online features (``--features``: a :class:`~needmap.serve.online.FeatureStore`), each model loaded (or
reloaded) that carries feature definitions gets its :class:`~needmap.serve.online.OnlineInputs`: the source of
its version's features, and request bodies that take a row of its customer id alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from needmap.errors import ArtifactError, NeedmapError
from needmap.serve.bodies import Bodies
from needmap.serve.online import FeatureStore, OnlineInputs
from needmap.serve.scorers import Scorer, scorer_for

logger = logging.getLogger("needmap.serve")
#: Loads of one model whose files changed while they were read, before giving up.
LOAD_ATTEMPTS = 3


def _files(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_file())
    except OSError as exc:
        raise ArtifactError(f"the model directory cannot be read ({exc.strerror}).", file=str(path)) from None


def model_version(path: Path) -> str:
    """12 hexadecimal digits of the SHA-256 of the directory's files, names and contents (a model of a table's
    weights by the checksum its ``model.json`` records)."""
    files = _files(path)
    recorded = any(p.name == "model.json" for p in files)
    digest = hashlib.sha256()
    for file in files:
        if recorded and file.name == "weights.safetensors":
            continue
        digest.update(file.name.encode("utf-8") + b"\0")
        try:
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise ArtifactError(f"'{file.name}' cannot be read ({exc.strerror}).", file=str(path)) from None
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def directory_stamp(path: Path) -> tuple[Any, ...]:
    """What changes when a model is written at ``path`` (the directory itself, replaced whole, and its files'
    sizes and times): cheap to read every few seconds; the version is hashed only when it changed."""
    try:
        top = os.stat(path)
        files = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in _files(path))
    except (OSError, ArtifactError):
        return ("unreadable",)
    return (top.st_ino, top.st_mtime_ns, files)


@dataclass(frozen=True)
class LoadedModel:
    """One version of a served model."""

    name: str
    path: Path
    version: str
    scorer: Scorer
    bodies: Bodies
    loaded_at: float
    stamp: tuple[Any, ...]
    online: OnlineInputs | None = None

    def describe(self) -> dict[str, Any]:
        """The model as ``GET /v1/models`` lists it (with ``online_features`` where it has them)."""
        described = {"name": self.name, "version": self.version, **self.scorer.describe(),
                     "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.loaded_at))}  # fmt: skip
        if self.online is not None:
            described["online_features"] = self.online.describe()
        return described


def load_model(name: str, path: Path, store: FeatureStore | None = None) -> LoadedModel:
    """Load, check and warm the model at ``path``: ArtifactError (or another of needmap's errors) when it cannot
    be served. Its version is that of the files it was read from: hashed before and after loading, and loaded
    again when a new model was put in place meanwhile. ``store``: the online features, for a model that carries
    feature definitions."""
    from needmap.predictor import load

    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(
            f"the model directory '{path}' does not exist; expected a directory written by needmap train."
        )
    for _ in range(LOAD_ATTEMPTS):
        stamp = directory_stamp(path)
        before = model_version(path)
        model = load(path)
        if model_version(path) == before:
            break
    else:
        raise ArtifactError("the model was replaced while it was read, again and again; expected it to settle.",
                            file=str(path))  # fmt: skip
    try:
        scorer = scorer_for(model)
        scorer.warm()
    except NeedmapError as err:
        raise ArtifactError(f"the model loads but cannot score its example row ({err}).", file=str(path)) from None
    except Exception as exc:  # a model this service cannot score: said in one paragraph (the traceback at debug level)
        logger.debug("model %s: scoring its example row failed", name, exc_info=True)
        raise ArtifactError(
            f"the model loads but cannot score its example row ({type(exc).__name__}: {exc}).", file=str(path)
        ) from None
    online = store.inputs_for(scorer) if store is not None else None
    return LoadedModel(name, path, before, scorer, Bodies(name, scorer, online), time.time(), stamp, online)


class Registry:
    """The served models by name; a reload swaps one in a single assignment (see the module)."""

    def __init__(self, models: Mapping[str, LoadedModel], store: FeatureStore | None = None) -> None:
        self._models: dict[str, LoadedModel] = dict(models)
        #: the online features the models (and their reloads) read, or None
        self.store = store
        self._reloading = threading.Lock()
        #: how many times a model was swapped: the described API is made again when it changed
        self.generation = 0

    @classmethod
    def load(
        cls,
        models: Mapping[str, Path],
        loaded: Callable[[LoadedModel], None] | None = None,
        store: FeatureStore | None = None,
    ) -> Registry:
        """Load every model (``loaded`` is called with each in turn); ``store``: the online features."""
        found = {}
        for name, path in models.items():
            found[name] = load_model(name, path, store)
            if loaded is not None:
                loaded(found[name])
        return cls(found, store)

    def get(self, name: str) -> LoadedModel | None:
        return self._models.get(name)

    def __iter__(self) -> Iterator[LoadedModel]:
        return iter(list(self._models.values()))

    def __len__(self) -> int:
        return len(self._models)

    def reload(self, name: str) -> tuple[LoadedModel, LoadedModel]:
        """Load ``name``'s directory again and swap it in when its version changed: (previous, current); the
        two have the same version when nothing changed. One reload at a time; the model in use keeps serving
        while the new one loads."""
        with self._reloading:
            old = self._models[name]
            stamp = directory_stamp(old.path)
            if model_version(old.path) != old.version:
                new = load_model(name, old.path, self.store)
                if new.version != old.version:
                    self._models = {**self._models, name: new}
                    self.generation += 1
                    return old, new
            current = replace(old, stamp=stamp)  # the same files: their stamp is remembered for --watch
            self._models = {**self._models, name: current}
            return old, current


async def watch(registry: Registry, interval_s: float, reloaded: Callable[[str, str], None]) -> None:
    """Every ``interval_s`` seconds, reload the models whose directory changed (``reloaded(name, outcome)``
    after each try: "swapped", "unchanged" or "failed"); a directory that failed is tried again when it
    changes again. Runs until cancelled."""
    failed: dict[str, tuple[Any, ...]] = {}
    while True:
        await asyncio.sleep(interval_s)
        for entry in registry:
            stamp = await asyncio.to_thread(directory_stamp, entry.path)
            if stamp in (entry.stamp, failed.get(entry.name)) or stamp == ("unreadable",):
                continue
            try:
                old, new = await asyncio.to_thread(registry.reload, entry.name)
            except Exception as err:  # a broken directory must not stop the watching
                failed[entry.name] = stamp
                logger.error("model %s: %s changed and does not load (%s); still serving version %s",
                             entry.name, entry.path, err, entry.version)  # fmt: skip
                reloaded(entry.name, "failed")
                continue
            failed.pop(entry.name, None)
            if new.version != old.version:
                logger.info("model %s: version %s replaced by %s", entry.name, old.version, new.version)
            reloaded(entry.name, "swapped" if new.version != old.version else "unchanged")
