"""Command-line options made from the declared option groups (:mod:`needmap.declare`).

:func:`with_options` gives a typer command one ``--flag`` per declared field of the groups it names,
with the field's help text, its default and how its value is written; the command receives what the
user gave as one ``{field: value}`` dict per group (options not given are left out, so the Python
defaults apply). Writing ``none`` gives None wherever the option may be None.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import typer

from needmap import option_text
from needmap.declare import Options, accepts_none, base_type, spec_of, type_hints
from needmap.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def flag_of(group: type[Options], name: str) -> str:
    """The command-line flag of a declared option: ``--name-with-dashes`` unless it declares another."""
    spec = spec_of(group.declared()[name])
    return spec.flag or "--" + name.replace("_", "-")


def _default_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "none"
    if isinstance(value, dict):
        return "none" if not value else ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _is_flag(group: type[Options], name: str) -> bool:
    return base_type(type_hints(group)[name]) is bool


def _parameter(group: type[Options], name: str, default: Any) -> inspect.Parameter:
    spec = spec_of(group.declared()[name])
    flag = flag_of(group, name)
    help_text = spec.help
    if _is_flag(group, name):
        long_name = flag.removeprefix("--")
        decls = [spec.flag] if spec.flag and "/" in spec.flag else [f"--{long_name}/--no-{long_name}"]
        if name == "progress":
            decls.append(" /-q")  # -q is the short form of --quiet, as every command has it
        info = typer.Option(None, *decls, help=f"{help_text} [default: {_default_text(default)}]", show_default=False)
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=bool | None)
    info = typer.Option(
        None,
        flag,
        help=f"{help_text} [default: {_default_text(default)}]",
        metavar=spec.metavar or "TEXT",
        show_default=False,
    )
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=str | None)


def parameters(group: type[Options], *, skip: Iterable[str] = ()) -> list[inspect.Parameter]:
    """One keyword-only typer parameter per declared option of ``group`` that the command line has."""
    skipped = set(skip)
    defaults = group.defaults()
    return [
        _parameter(group, name, defaults[name])
        for name, f in group.declared().items()
        if spec_of(f).cli and name not in skipped
    ]


def parse_value(group: type[Options], name: str, given: Any) -> Any:
    """The value of one option from its command-line text (a bool flag's value passes through)."""
    if given is None or isinstance(given, bool):
        return given
    spec = spec_of(group.declared()[name])
    annotation = type_hints(group)[name]
    text = str(given).strip()
    if accepts_none(annotation) and text.lower() == "none":
        return None
    try:
        if spec.parse is not None:
            return spec.parse(text)
        kind = base_type(annotation)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is str:
            return text
        if getattr(kind, "__origin__", None) is list:
            return option_text.names(text)
        if getattr(kind, "__origin__", None) is dict:
            return option_text.pairs(text)
        return option_text.scalar(text)
    except ValueError as err:
        expected = str(err) if spec.parse is not None else f"a{'n' if kind is int else ''} {kind.__name__}"
        raise ConfigError(f"{flag_of(group, name)} '{text}' is not understood; expected {expected}.") from None


def given_values(group: type[Options], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``group`` the user gave (parsed), from a command's keyword arguments."""
    return {
        name: parse_value(group, name, kwargs[name])
        for name in group.declared()
        if name in kwargs and kwargs[name] is not None
    }


def with_options(*groups: type[Options], skip: Sequence[str] = ()) -> Callable[[F], F]:
    """Decorator: the command also takes every declared option of ``groups`` (less ``skip``) as a flag.

    The decorated function's own parameters come first; it is called with them and with ``options``:
    ``{group: {field: value given}}``.
    """

    def decorate(func: F) -> F:
        own = [p for p in inspect.signature(func).parameters.values() if p.name != "options"]
        taken = {p.name for p in own}
        extra = [p for g in groups for p in parameters(g, skip=skip) if p.name not in taken]
        names = {p.name for p in extra}

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            options = {g: given_values(g, {k: v for k, v in kwargs.items() if k in names}) for g in groups}
            return func(**{k: v for k, v in kwargs.items() if k not in names}, options=options)

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + extra
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # typer must read the composed signature, not the function's own
        return command  # type: ignore[return-value]

    return decorate
