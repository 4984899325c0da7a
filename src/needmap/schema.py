"""The one description of columns that every layer reads.

A :class:`Schema` says, for each column of a table, which role it plays (numeric, categorical, id,
datetime, target or ignored) and why. It is inferred from data by
:func:`needmap.data.infer.infer_schema`, can be overridden in Python, on the command line or in a
YAML file, and is saved with the model as ``schema.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from needmap.errors import SchemaError

Role = Literal["numeric", "categorical", "multihot", "sequence", "id", "datetime", "target", "ignored"]
Task = Literal["binary", "regression", "multiclass", "ltv"]
ROLES: tuple[str, ...] = ("numeric", "categorical", "multihot", "sequence", "id", "datetime", "target", "ignored")
TASKS: tuple[str, ...] = ("binary", "regression", "multiclass", "ltv")
#: The network outputs of a lifetime-value head: the logit of buying, mu and sigma of the log-normal spend.
LTV_OUTPUTS = 3


# The keys of a schema's JSON form (Schema.to_dict).
SCHEMA_KEYS = ("columns", "heads", "target", "task", "classes")


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
class Head:
    """One target of a model: the column it learns, its task and its class labels.

    ``classes`` holds the target's class labels as strings, in the order of the head's outputs: for
    a binary task ``classes[1]`` is the positive class; for regression it is empty. A head takes
    :attr:`n_outputs` columns of the network's output: K for a multiclass target of K classes, 3 for a
    lifetime-value ('ltv') target (the logit of buying, then mu and sigma of the log-normal spend; its scores
    are 3 columns too: the expected spend, the chance to buy, the expected spend of a buyer), 1 otherwise. How a
    head's task trains and scores (its loss, its scores, its metrics) is looked up
    by the task name in :mod:`needmap.training.heads`, so a new kind of head is a new entry there.
    """

    name: str
    task: str | None
    classes: list[str] = field(default_factory=list)

    @property
    def n_outputs(self) -> int:
        if self.task == "multiclass":
            return len(self.classes)
        return LTV_OUTPUTS if self.task == "ltv" else 1

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Head:
        return cls(name=str(data["name"]), task=data.get("task"), classes=[str(c) for c in data.get("classes", [])])


@dataclass(init=False)
class Schema:
    """Roles of all columns and the targets (``heads``) the model learns, in the order of its outputs.

    ``Schema(columns, target=..., task=..., classes=...)`` makes a schema of one head; ``Schema(columns,
    heads=[...])`` one of several. ``target``, ``task`` and ``classes`` read the first head (None, None
    and [] without a head), which is the only one of most models.
    """

    columns: list[ColumnSpec]
    heads: list[Head]

    def __init__(
        self,
        columns: list[ColumnSpec],
        target: str | None = None,
        task: str | None = None,
        classes: list[str] | None = None,
        heads: list[Head] | None = None,
    ) -> None:
        if heads is not None and (target is not None or task is not None or classes):
            raise ValueError("give a schema either heads or target/task/classes, not both.")
        self.columns = columns
        if heads is None:
            heads = [Head(target, task, list(classes or []))] if target is not None else []
        self.heads = list(heads)

    @property
    def target(self) -> str | None:
        """The first head's target column (None without a target)."""
        return self.heads[0].name if self.heads else None

    @property
    def task(self) -> str | None:
        """The first head's task."""
        return self.heads[0].task if self.heads else None

    @property
    def classes(self) -> list[str]:
        """The first head's class labels."""
        return self.heads[0].classes if self.heads else []

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
        """The JSON form: ``columns`` and ``heads``, with the first head's ``target``, ``task`` and
        ``classes`` beside them, as a schema of one target has always been written."""
        return {
            "columns": [asdict(c) for c in self.columns],
            "heads": [h.to_dict() for h in self.heads],
            "target": self.target,
            "task": self.task,
            "classes": list(self.classes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """The schema of :meth:`to_dict`, or of a schema of one target written before heads (``target``,
        ``task`` and ``classes`` only). SchemaError for a key that is not one of these."""
        unknown = sorted(set(data) - set(SCHEMA_KEYS))
        if unknown:
            raise SchemaError(
                f"the schema holds the {'key' if len(unknown) == 1 else 'keys'} {', '.join(map(repr, unknown))}, "
                f"which needmap does not read; expected only {', '.join(SCHEMA_KEYS)}.",
                hint="A model saved before its targets were listed as heads, with several targets: train it again.",
            )
        columns = [ColumnSpec(**c) for c in data["columns"]]
        if "heads" in data:
            return cls(columns, heads=[Head.from_dict(h) for h in data["heads"]])
        if data.get("target") is None:
            return cls(columns, heads=[])
        return cls(
            columns, heads=[Head(str(data["target"]), data.get("task"), [str(c) for c in data.get("classes", [])])]
        )
