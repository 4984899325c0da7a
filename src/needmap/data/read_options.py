"""ReadOptions: how a text file is read (its header row, column names, spaces and missing markers), declared once.

Files as they are downloaded rarely look like a clean CSV: the UCI census files have no header row and
put a space after each comma (``39, State-gov, ..., <=50K``), write a missing value as ``?``, and other
classic data sets write ``NA``, ``N/A`` or ``null``. These options say how such files are read; every
one has a default that reads them as they come (the header detected, spaces around values stripped,
the common markers read as missing), and each can be switched off. The Python keywords of
:func:`needmap.data.read.read`, the command line's flags (``--no-header``, ``--names``, ``--no-strip``,
``--missing``) and their ``--help`` text are read from these declarations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from needmap import option_text
from needmap.declare import Options, option
from needmap.errors import ConfigError

#: Values read as missing by default (an empty field is always missing).
MISSING_MARKERS: tuple[str, ...] = ("?", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "null", "NULL")


def _names(value: Any) -> list[str] | None:
    if value is None:
        return None
    items = option_text.names(value) if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(f"names is {value!r}; expected column names such as age,workclass,income.")
    return [v.strip() for v in items]


def _markers(value: Any) -> list[str]:
    if isinstance(value, str):
        return _markers_text(value)
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"missing is {value!r}; expected a list of texts read as missing, such as ['?', 'NA'].")
    return list(value)


def _markers_text(text: str) -> list[str]:
    """'?,NA' -> ['?', 'NA']; 'none' -> [] (only empty fields are missing)."""
    if text.strip().lower() == "none":
        return []
    return [item.strip() for item in text.split(",") if item.strip()]


def _unique_names(value: list[str] | None) -> str | None:
    if value is not None and len(set(value)) != len(value):
        return "each column name once"
    return None


@dataclass
class ReadOptions(Options):
    """How a text file (CSV, TSV, whitespace-aligned, JSON lines) is read."""

    kind: ClassVar[str] = "reading"

    header: bool | None = option(
        None,
        help="Whether the file's first row names the columns; detected when not given (a first row whose "
        "values look like the data is read as data).",
        flag="--header/--no-header",
    )
    names: list[str] | None = option(
        None,
        help="Column names to use, in order (replacing a header row, or naming the columns of a file without one).",
        convert=_names,
        check=_unique_names,
        parse=_names,
        metavar="NAME,...",
    )
    strip: bool = option(
        True,
        help="Strip spaces and tabs around text values (' State-gov' is read as 'State-gov').",
        flag="--strip/--no-strip",
    )
    missing: list[str] = option(
        help="Texts read as missing (an empty field always is); 'none' for no markers.",
        convert=_markers,
        parse=_markers_text,
        metavar="TEXT,...",
        factory=lambda: list(MISSING_MARKERS),
    )

    def as_keywords(self) -> dict[str, Any]:
        """The options as keywords of :func:`needmap.data.read.read`."""
        return {"header": self.header, "names": self.names, "strip": self.strip, "missing": self.missing}
