"""The one description of columns that every layer reads.

A :class:`Schema` says, for each column of a table, which role it plays (numeric, categorical, id,
datetime, target or ignored) and why. It is inferred from data by
:func:`needmap.data.infer.infer_schema`, can be overridden in Python, on the command line or in a
YAML file, and is saved with the model as ``schema.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["numeric", "categorical", "multihot", "sequence", "id", "datetime", "target", "ignored"]
Task = Literal["binary", "regression", "multiclass"]
ROLES: tuple[str, ...] = ("numeric", "categorical", "multihot", "sequence", "id", "datetime", "target", "ignored")
TASKS: tuple[str, ...] = ("binary", "regression", "multiclass")


@dataclass
class ColumnSpec:
    """One column: its name, its role, the Arrow type it was read as and why it got that role.

    ``options`` holds per-column settings of the feature type (JSON-safe), for example
    ``{"separator": "|", "max_len": 20, "pooling": "mean"}`` for a multi-hot list,
    ``{"max_len": 50, "vocabulary_of": "movieId"}`` for a behaviour sequence,
    ``{"hash_buckets": 100000}`` for a hashed categorical, ``{"bucketize": 20}`` for a numeric
    column turned into quantile-bucket ids.
    """

    name: str
    role: str
    dtype: str
    reason: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r} for column {self.name!r}; expected one of {ROLES}")


@dataclass
class Schema:
    """Roles of all columns, the target and the task.

    ``classes`` holds the target's class labels as strings, in the order of the model's outputs:
    for a binary task ``classes[1]`` is the positive class; for regression it is empty.
    """

    columns: list[ColumnSpec]
    target: str | None = None
    task: str | None = None
    classes: list[str] = field(default_factory=list)
    # Further targets of a multi-task model: [{"name", "task", "classes"}], outputs after the first.
    extra_targets: list[dict[str, Any]] = field(default_factory=list)

    # -- views ---------------------------------------------------------------------------------
    def names(self, role: str) -> list[str]:
        """Names of the columns that have ``role``, in table order."""
        return [c.name for c in self.columns if c.role == role]

    @property
    def numeric(self) -> list[str]:
        return self.names("numeric")

    @property
    def categorical(self) -> list[str]:
        return self.names("categorical")

    @property
    def ids(self) -> list[str]:
        return self.names("id")

    @property
    def lists(self) -> list[str]:
        """Multi-hot and sequence columns, in table order."""
        return [c.name for c in self.columns if c.role in ("multihot", "sequence")]

    @property
    def features(self) -> list[str]:
        """The input columns of the model: numeric, categorical, then list columns."""
        return self.numeric + self.categorical + self.lists

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [asdict(c) for c in self.columns],
            "target": self.target,
            "task": self.task,
            "classes": list(self.classes),
            "extra_targets": [dict(t) for t in self.extra_targets],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        return cls(
            columns=[ColumnSpec(**c) for c in data["columns"]],
            target=data.get("target"),
            task=data.get("task"),
            classes=list(data.get("classes", [])),
            extra_targets=[dict(t) for t in data.get("extra_targets", [])],
        )
