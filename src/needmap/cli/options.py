"""Command-line options made from the declared option groups (:mod:`needmap.declare`).

:func:`with_options` gives a typer command one ``--flag`` per declared field of the groups it names,
with the field's help text, its default and how its value is written; the command receives what the
user gave as one ``{field: value}`` dict per group (options not given are left out, so the Python
defaults apply). Writing ``none`` gives None wherever the option may be None. :func:`combine` lays
the command line over a YAML configuration file, and :func:`build_model` makes the Model of both.
"""

from __future__ import annotations

import functools
import inspect
import os
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.markup import escape

from needmap import option_text
from needmap.declare import Options, accepts_none, base_type, spec_of, type_hints
from needmap.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])
#: A group of options, or a group with the names of the only options a command takes from it.
GroupSpec = type[Options] | tuple[type[Options], Sequence[str]]


def flags_of(group: type[Options], name: str) -> tuple[str, ...]:
    """The command-line names of a declared option: ``--name-with-dashes`` unless it declares others."""
    flag = spec_of(group.declared()[name]).flag
    if flag is None:
        return ("--" + name.replace("_", "-"),)
    return (flag,) if isinstance(flag, str) else tuple(flag)


def flag_of(group: type[Options], name: str) -> str:
    """The option's main flag, as messages name it (``--clip``; ``--progress`` of ``--progress/--quiet``)."""
    return flags_of(group, name)[0].split("/")[0]


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


def is_flag(group: type[Options], name: str) -> bool:
    """Whether the option is an on/off switch (``--batch-norm/--no-batch-norm``)."""
    return base_type(type_hints(group)[name]) is bool


_METAVARS: dict[Any, str] = {int: "INTEGER", float: "NUMBER"}


def _parameter(group: type[Options], name: str, default: Any) -> inspect.Parameter:
    spec = spec_of(group.declared()[name])
    decls = list(flags_of(group, name))
    help_text = escape(f"{spec.help} (default: {_default_text(default)})")  # '[mlflow]' is no markup
    panel = f"{group.kind.capitalize()} options"
    if is_flag(group, name):
        if "/" not in decls[0]:
            long_name = decls[0].removeprefix("--")
            decls[0] = f"--{long_name}/--no-{long_name}"
        info = typer.Option(None, *decls, help=help_text, show_default=False, rich_help_panel=panel)
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=bool | None)
    metavar = spec.metavar or _METAVARS.get(base_type(type_hints(group)[name]), "TEXT")
    info = typer.Option(None, *decls, help=help_text, metavar=metavar, show_default=False, rich_help_panel=panel)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=str | None)


def _group_and_names(spec: GroupSpec) -> tuple[type[Options], list[str]]:
    if isinstance(spec, tuple):
        group, names = spec
        unknown = [n for n in names if n not in group.declared()]
        if unknown:
            raise TypeError(f"{group.__name__} declares no option {unknown}")
        return group, list(names)
    return spec, [name for name, f in spec.declared().items() if spec_of(f).cli]


def parameters(spec: GroupSpec) -> list[inspect.Parameter]:
    """One keyword-only typer parameter per declared option of the group that the command takes."""
    group, names = _group_and_names(spec)
    defaults = group.defaults()
    return [_parameter(group, name, defaults[name]) for name in names]


def parse_value(group: type[Options], name: str, given: Any) -> Any:
    """The value of one option from its command-line text (a switch's value passes through)."""
    if given is None or isinstance(given, bool):
        return given
    spec = spec_of(group.declared()[name])
    annotation = type_hints(group)[name]
    kind = base_type(annotation)
    text = str(given).strip()
    if accepts_none(annotation) and text.lower() == "none":
        return None
    try:
        if spec.parse is not None:
            return spec.parse(text)
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
        names = {int: "a whole number", float: "a number"}
        expected = str(err) if spec.parse is not None else names.get(kind, "a value")
        raise ConfigError(f"{flag_of(group, name)} '{text}' is not understood; expected {expected}.") from None


def with_options(*specs: GroupSpec) -> Callable[[F], F]:
    """Decorator: the command also takes the declared options of each group as flags.

    The decorated function's own parameters come first; it is called with them and with ``options``:
    ``{group: {option: value given}}`` (every group named, the options the user did not give left out).
    """

    def decorate(func: F) -> F:
        hints = typing.get_type_hints(func)  # resolved in the command's module, where its names live
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(func).parameters.values()
            if p.name != "options"
        ]
        taken = {p.name for p in own}
        by_group = [(_group_and_names(spec), parameters(spec)) for spec in specs]
        for (group, _), params in by_group:
            clash = taken & {p.name for p in params}
            if clash:
                raise TypeError(f"{func.__name__}: {sorted(clash)} of {group.__name__} clash with its own parameters")
        extra = [p for _, params in by_group for p in params]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            options: dict[type[Options], dict[str, Any]] = {}
            for (group, names), _ in by_group:
                options[group] = {n: parse_value(group, n, kwargs[n]) for n in names if kwargs.get(n) is not None}
            own_kwargs = {k: v for k, v in kwargs.items() if k in taken}
            return func(**own_kwargs, options=options)

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + extra
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # typer must read the composed signature, not the function's own
        return command  # type: ignore[return-value]

    return decorate


def _adds(value: Any) -> bool:
    """Column lists and per-column mappings: what the command line gives adds to the file's."""
    return isinstance(value, (list, dict))


def _canonical(group: type[Options], name: str, value: Any) -> Any:
    convert = spec_of(group.declared()[name]).convert
    return convert(value) if convert is not None else value


def combine(
    from_file: Mapping[type[Options], Mapping[str, Any]], given: Mapping[type[Options], Mapping[str, Any]]
) -> dict[type[Options], dict[str, Any]]:
    """The options of a configuration file with the command line's laid over them.

    A column list (``--drop``) or per-column mapping (``--hash``) adds to the file's; any other option
    given on the command line replaces the file's value.
    """
    groups: list[type[Options]] = list(dict.fromkeys([*from_file, *given]))
    out: dict[type[Options], dict[str, Any]] = {}
    for group in groups:
        merged = {name: _canonical(group, name, v) for name, v in from_file.get(group, {}).items()}
        for name, given_value in given.get(group, {}).items():
            value = _canonical(group, name, given_value)
            base = merged.get(name)
            if _adds(value) and _adds(base) and type(value) is type(base):
                merged[name] = (
                    [*base, *(v for v in value if v not in base)]
                    if isinstance(value, list)
                    else {
                        **base,
                        **value,
                    }
                )
            else:
                merged[name] = value
        out[group] = merged
    return out


def flatten(options: Mapping[type[Options], Mapping[str, Any]], skip: Iterable[type[Options]] = ()) -> dict[str, Any]:
    """One ``{option: value}`` dict of every group but ``skip`` (the Python API's keywords)."""
    skipped = set(skip)
    return {name: value for group, values in options.items() if group not in skipped for name, value in values.items()}


def params_from(items: Sequence[str] | None) -> dict[str, Any]:
    """``-p key=value`` items (values read as YAML scalars; a comma makes a list) as a dict."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param '{item}' is not key=value; expected e.g. --param cross_layers=4.")
        try:
            params[key.strip()] = option_text.scalar(text)
        except ValueError:
            raise ConfigError(f"--param '{item}': the value '{text}' cannot be read.") from None
    return params


def options_with_file(
    given: Mapping[type[Options], Mapping[str, Any]], config: Any
) -> tuple[dict[type[Options], dict[str, Any]], str | None, dict[str, Any]]:
    """The command line's options over those of the YAML file ``config`` (None: no file), the file's
    architecture and its ``params``."""
    from needmap.workflows.config_file import ConfigFile, read_config

    file = read_config(config) if config is not None else ConfigFile()
    groups = {g: v for g, v in file.options.items() if g in given}
    return combine(groups, given), file.model, dict(file.params)


def build_model(
    architecture: str | None,
    options: Mapping[type[Options], Mapping[str, Any]],
    *,
    file_model: str | None = None,
    params: Mapping[str, Any] | None = None,
    skip: Iterable[type[Options]] = (),
) -> Any:
    """The Model of an architecture (the command line's, the file's, else 'mlp') and the options of every
    group but ``skip``."""
    from needmap.estimator import Model

    return Model(architecture or file_model or "mlp", **flatten(options, skip), **dict(params or {}))


# -- PostgreSQL: reading a query, writing the output to a table -----------------------------------------------
Query = typer.Option(
    None,
    "--query",
    metavar="SELECT",
    help="Read the rows of this query, run in the PostgreSQL database that the data's postgresql:// URL names "
    "(a URL without ?table=).",
)
OutMode = typer.Option(
    "replace",
    "--out-mode",
    metavar="replace|append",
    help="With --out postgresql://...?table=schema.name: replace the table (one transaction: the old table stays "
    "whole until the new one is in), or append the rows to it.",
)


def check_query(data: str | None, query: str | None, option: str) -> None:
    """ConfigError when ``query`` is given and the input ``option`` (``DATA``, ``--customers``) is not a
    ``postgresql://`` URL naming the database to run it in."""
    from needmap.data.postgres import is_postgres_url

    if query is not None and not is_postgres_url(data):
        raise ConfigError(
            f"--query runs in a PostgreSQL database; expected {option} postgresql://user@host:port/database with "
            f"it, found '{data}'."
        )


def check_out(out: str, out_mode: str, **inputs: str | os.PathLike[str] | None) -> None:
    """ConfigError for an ``--out`` that cannot be written as ``--out-mode`` says (a file of an unsupported
    extension, a URL naming no table, appending to a file) or that is one of the ``inputs`` (a file, a model
    directory, a PostgreSQL table: writing it would destroy what is being read)."""
    from needmap.data.masking import redact
    from needmap.data.postgres import is_postgres_url, parse_url, same_table
    from needmap.data.postgres_write import MODES
    from needmap.data.write import WRITABLE
    from needmap.output_files import refuse_overwriting_inputs

    if out_mode not in MODES:
        raise ConfigError(f"--out-mode '{out_mode}' is not understood; expected {' or '.join(MODES)}.")
    if is_postgres_url(out):
        location = parse_url(out)
        if location.name is None:
            raise ConfigError(
                f"--out '{location.shown}' names no table; expected --out postgresql://user@host/db?table=schema.name."
            )
        for name, given in inputs.items():
            if same_table(out, given):
                raise ConfigError(
                    f"--out '{redact(out)}' is the input {name} '{redact(str(given))}'; expected another table for "
                    "the output."
                )
        return
    if Path(out).suffix.lower() not in WRITABLE:
        raise ConfigError(
            f"--out '{out}' has an unsupported extension; expected one of {', '.join(WRITABLE)}, or a table: "
            "postgresql://user@host/db?table=schema.name."
        )
    if out_mode != "replace":
        raise ConfigError(
            f"--out-mode {out_mode} adds rows to a PostgreSQL table; --out '{out}' is a file, which is written "
            "whole. Expected --out postgresql://user@host/db?table=schema.name, or --out-mode replace."
        )
    files = {name: given for name, given in inputs.items() if given is not None and not is_postgres_url(given)}
    refuse_overwriting_inputs(out, "--out", **files)


def out_exists(out: str) -> bool:
    """Whether ``--out`` is a file already there (a PostgreSQL table's replacement is not told)."""
    from needmap.data.postgres import is_postgres_url

    return not is_postgres_url(out) and Path(out).exists()


def model_stamp(model_dir: Path) -> tuple[str, str]:
    """The name and version a model's scores are stamped with in a PostgreSQL table: the model directory's
    name, and the first 12 hex digits of the sha256 of its weights (a retrained model is another version)."""
    import hashlib

    digest = hashlib.sha256()
    with open(Path(model_dir) / "weights.safetensors", "rb") as fh:  # every model directory has it (loaded)
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return Path(model_dir).resolve().name, digest.hexdigest()[:12]
