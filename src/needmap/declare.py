"""Options declared once: each option is a dataclass field with its type, default, check and help text.

Every group of options (column roles, preprocessing, training, the network's common options, a run's
split and report options) is a dataclass whose fields are made with :func:`option`. The Python API's
keywords, the YAML file's keys, the command line's flags and their ``--help`` text are all read from
these declarations, so an option is written down in one place and every face agrees on its name,
default, meaning and valid values.

A check is a function of the value that returns ``None`` when the value is valid, or what was expected
(``"a positive integer"``); the error then reads ``"lr is 0; expected a positive number."``.
"""

from __future__ import annotations

import difflib
import numbers
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, ClassVar

from needmap.errors import ConfigError

Check = Callable[[Any], "str | None"]
Parse = Callable[[str], Any]


@dataclass(frozen=True)
class Spec:
    """What a declared option says of itself, beside its name, type and default.

    Attributes:
        help: one sentence for ``--help``, docstrings and error messages.
        check: ``None`` for a valid value, else what was expected.
        parse: command-line text to a value (the default parser follows the field's type).
        flag: the command-line flag when it is not ``--name-with-dashes`` (``--clip`` for ``clip_quantiles``);
            a tuple gives further names, such as a short one (``("--target", "-t")``).
        cli: whether the command line has the option at all (an option only a program can give, such
            as a callback or a nested mapping, has none).
        metavar: how ``--help`` shows the value, e.g. ``400,400,400``.
        convert: turns an accepted spelling into the option's one form before the check (a tuple into a
            list, ``"a,b"`` into ``["a", "b"]``); it raises ConfigError itself for what it cannot read.
        yaml: the YAML file's key when it is not the option's name.
    """

    help: str
    check: Check | None = None
    convert: Callable[[Any], Any] | None = None
    yaml: str | None = None
    parse: Parse | None = None
    flag: str | tuple[str, ...] | None = None
    cli: bool = True
    metavar: str | None = None


def option(
    default: Any = MISSING,
    *,
    help: str,
    check: Check | None = None,
    parse: Parse | None = None,
    flag: str | tuple[str, ...] | None = None,
    cli: bool = True,
    metavar: str | None = None,
    convert: Callable[[Any], Any] | None = None,
    yaml: str | None = None,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A dataclass field carrying its :class:`Spec` (use instead of ``dataclasses.field``)."""
    spec = Spec(help=help, check=check, parse=parse, flag=flag, cli=cli, metavar=metavar, convert=convert, yaml=yaml)
    if factory is not None:
        return field(default_factory=factory, metadata={"needmap": spec})
    return field(default=default, metadata={"needmap": spec})


def spec_of(f: Field) -> Spec:
    """The :class:`Spec` of a declared field (TypeError for a field made without :func:`option`)."""
    spec = f.metadata.get("needmap")
    if spec is None:
        raise TypeError(f"field {f.name!r} is not declared with needmap.declare.option")
    return spec


class Options:
    """Base of a dataclass of declared options: checks every field when made, converts to and from dicts.

    Subclasses are dataclasses whose fields are all made with :func:`option`, and set ``kind`` (how
    messages name their options: "training", "preprocessing", ...).
    """

    kind: ClassVar[str] = "option"

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            spec = spec_of(f)
            value = getattr(self, f.name)
            if spec.convert is not None:
                value = spec.convert(value)
                setattr(self, f.name, value)
            expected = spec.check(value) if spec.check is not None else None
            if expected is not None:
                raise ConfigError(f"{f.name} is {value!r}; expected {expected}.")

    @classmethod
    def declared(cls) -> dict[str, Field]:
        """The declared fields by name, in declaration order."""
        return {f.name: f for f in fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every option's default value."""
        return {name: _default(f) for name, f in cls.declared().items()}

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain dict (tuples become lists, as JSON and YAML write them)."""
        return {name: _plain(getattr(self, name)) for name in self.declared()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Options:
        """Options from a dict: missing names take their defaults, an unknown name is an error naming the
        closest declared one."""
        unknown = [name for name in data if name not in cls.declared()]
        if unknown:
            raise ConfigError(unknown_message(unknown, [cls]))
        return cls(**dict(data))


def _default(f: Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise TypeError(f"option {f.name!r} has no default")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def unknown_message(
    names: Iterable[str], groups: Iterable[type[Options]], others: Mapping[str, Iterable[str]] | None = None
) -> str:
    """What an unknown option name is closest to, in every group of options given.

    One group: ``unknown training option 'epoch'; closest: 'epochs'.`` Several: ``unknown option 'epoch';
    closest: training option 'epochs'.``, naming the closest option of every kind that has one close
    enough; with none close, the message lists what the options are (one group) or their kinds.
    ``others`` adds kinds of options that are not declared groups (an architecture's own, by kind).
    """
    groups = list(groups)
    kinds: dict[str, list[str]] = {g.kind: list(g.declared()) for g in groups}
    for kind, known in (others or {}).items():
        kinds.setdefault(kind, []).extend(known)
    one = len(kinds) == 1
    parts: list[str] = []
    for name in names:
        near = [
            (kind, match)
            for kind, known in kinds.items()
            for match in difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        ]
        label = f"unknown {next(iter(kinds))} option" if one else "unknown option"
        if near:
            closest = ", ".join(repr(m) if one else f"{kind} option {m!r}" for kind, m in near)
            parts.append(f"{label} {name!r}; closest: {closest}")
        elif one:
            parts.append(f"{label} {name!r}; expected one of: {', '.join(next(iter(kinds.values())))}")
        else:
            parts.append(f"{label} {name!r}; it is none of the {', '.join(kinds)} options")
    return "; ".join(parts) + "."


# -- checks: None when fine, else what was expected ------------------------------------------------
def is_int(value: Any) -> bool:
    """A whole number (numpy's too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A real number (numpy's too), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def one_of(*choices: Any) -> Check:
    """The value is one of ``choices``."""
    expected = "one of " + ", ".join(repr(c) for c in choices)
    return lambda v: None if v in choices else expected


def whole(low: int = 1) -> Check:
    """A whole number of at least ``low``."""
    expected = "a positive integer" if low == 1 else f"a whole number >= {low}"
    return lambda v: None if is_int(v) and v >= low else expected


def number(low: float = 0.0, *, strict: bool = False, high: float | None = None) -> Check:
    """A number above (``strict``) or at least ``low``, and at most ``high``."""
    if high is not None:
        expected = f"a number {'>' if strict else '>='} {low:g} and <= {high:g}"
    else:
        expected = "a positive number" if strict and low == 0 else f"a number {'>' if strict else '>='} {low:g}"

    def check(v: Any) -> str | None:
        if not is_number(v) or (v <= low if strict else v < low) or (high is not None and v > high):
            return expected
        return None

    return check


def boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def text(v: Any) -> str | None:
    return None if isinstance(v, str) else "a string"


def optional(check: Check) -> Check:
    """``check``, or None (the option is off, or left to the model)."""

    def either(v: Any) -> str | None:
        if v is None:
            return None
        expected = check(v)
        return None if expected is None else f"{expected} or None"

    return either


def matches(pattern: str, expected: str) -> Check:
    """A string matching the regular expression ``pattern`` whole."""
    return lambda v: None if isinstance(v, str) and re.fullmatch(pattern, v) else expected


# -- types, for the command line's default parsers (resolved with typing.get_type_hints) ----------
def type_hints(cls: type) -> dict[str, Any]:
    """The declared fields' types, resolved (the modules use postponed annotations)."""
    return typing.get_type_hints(cls)


def base_type(annotation: Any) -> Any:
    """``int | None`` -> ``int``; ``list[int] | None`` -> ``list[int]``; a type alone -> itself."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def accepts_none(annotation: Any) -> bool:
    """Whether the declared type admits None (``int | None``)."""
    return type(None) in typing.get_args(annotation)
