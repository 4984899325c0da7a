"""How an architecture's own options may be searched, as plain data next to its constructor.

A model class lists its searchable options in ``search_space``: ``{option: dimension}``, where a
dimension says which values a search tries. The tuning workflow turns each dimension into optuna
parameters (:mod:`needmap.workflows.search_space`); this module knows nothing of optuna. Order matters:
options are suggested in the order listed, so a study with the same seed proposes the same trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Int:
    """A whole number in [low, high] (log-uniform when ``log``)."""

    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class Float:
    """A number in [low, high] (log-uniform when ``log``)."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Choice:
    """One of ``choices``."""

    choices: tuple[Any, ...]


@dataclass(frozen=True)
class Funnel:
    """Layer widths ``[width, width/2, width/4, ...]``: ``depths`` layers from ``widths`` units (log-uniform).

    ``depth`` and ``width`` name the two searched parameters (a study's history keeps these names).
    """

    depth: str
    width: str
    depths: tuple[int, int]
    widths: tuple[int, int]


@dataclass(frozen=True)
class Repeat:
    """Equal layer widths: ``depths`` layers, each of one of ``widths`` units."""

    depth: str
    width: str
    depths: tuple[int, int]
    widths: tuple[int, ...]


Dimension = Int | Float | Choice | Funnel | Repeat

#: The options of the embeddings and the deep tower that most architectures share, in search order.
DROPOUT = {"dropout": Float(0.0, 0.5)}
EMBEDDING = {"embedding_dim": Choice((4, 8, 16, 32))}
HIDDEN = {"hidden": Funnel("depth", "width", (1, 4), (32, 512))}
DEEP = {**DROPOUT, **EMBEDDING, **HIDDEN}
