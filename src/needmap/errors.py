"""Errors that needmap raises at its edges.

Every error a user can cause is a :class:`NeedmapError`. Its message is one paragraph that names
the file, the row and the column where they are known, what was found and what was expected. The
command line prints that paragraph and exits with status 2, without a traceback.
"""

from __future__ import annotations


class NeedmapError(Exception):
    """Base class of every error caused by input, configuration or a model directory."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.hint = hint
        self.detail = message
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file '{self.file}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = self.detail
        if where:
            text = f"{', '.join(where)}: {text}"
        if self.hint:
            text = f"{text} {self.hint}"
        return text


class DataError(NeedmapError):
    """The input data cannot be read or does not have the expected content."""


class SchemaError(NeedmapError):
    """Column roles are inconsistent: a missing target, an override naming no column, and so on."""


class ConfigError(NeedmapError):
    """An option has a value that needmap does not accept."""


class ArtifactError(NeedmapError):
    """A model directory is missing a file, is corrupted, or has another format version."""


def no_values_error(rows: int, *, file: str | None, column: str) -> DataError:
    """The error for a feature column missing in every one of a training table's ``rows`` rows."""
    return DataError(
        f"every one of the {rows} rows is missing; expected at least some values.",
        file=file,
        column=column,
        hint=f"Drop the column (--drop {column}) if it is not needed.",
    )


class ReadingNote(UserWarning):
    """Something a reader decided about a file that the user should know (a first row read as data).

    The command line prints it as a note; in Python it is a warning.
    """
