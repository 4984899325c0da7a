"""Reading column roles as written: comma-separated lists, feature-type keys, per-column options, YAML.

The column roles (:class:`needmap.data.roles.ColumnRoles`), the Python API and the schema inference turn
what a user wrote into one form with these functions, and the configuration file
(:mod:`needmap.workflows.config_file`) reads its YAML with :func:`read_yaml_mapping`:

- a column list is a list of names or one comma-separated string (:func:`parse_column_list`);
- the feature-type keys ``multihot``, ``sequence``, ``hash`` and ``bucketize`` take a list of names too,
  or a mapping from each name to its options (:mod:`needmap.data.options`); ``hash`` and ``bucketize``
  also take a number per name (buckets) (:func:`parse_feature_columns`);
- the per-column options map column names to further options (:func:`parse_column_options`).

Option keys and values are checked here; whether a column's role accepts them is checked when the schema
is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from needmap.data.options import ALLOWED_OPTIONS, DEFAULT_BUCKETS, DEFAULT_HASH_BUCKETS, check_options
from needmap.errors import ConfigError

# role each feature-type key gives, and the option a bare number (or a bare name) stands for
FEATURE_ROLES: dict[str, str] = {
    "multihot": "multihot",
    "sequence": "sequence",
    "hash": "categorical",
    "bucketize": "numeric",
}
_NUMBER_OPTION: dict[str, tuple[str, int]] = {
    "hash": ("hash_buckets", DEFAULT_HASH_BUCKETS),
    "bucketize": ("bucketize", DEFAULT_BUCKETS),
}


def parse_column_list(value: str | Iterable[str] | None) -> list[str]:
    """Column names from ``"a,b, c"`` (or a list of names): ``["a", "b", "c"]``.

    Surrounding whitespace is stripped and empty items are dropped; a list is returned with each item
    stripped the same way. None gives ``[]``.
    """
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def parse_feature_columns(key: str, value: Any, *, file: str | None = None) -> dict[str, dict[str, Any]]:
    """Columns and their options from one feature-type key (``multihot``, ``sequence``, ``hash``, ``bucketize``).

    ``value`` is a list of names or a comma-separated string (each column gets the default options:
    none for lists, ``hash_buckets: 100000``, ``bucketize: 10``), or a mapping from name to an
    options mapping, to None (defaults) or, for ``hash`` and ``bucketize``, to a whole number (the
    buckets). Returns ``{name: options}``, the options checked for the key's role.

    Raises:
        ConfigError: the value has another shape, or an option is unknown or out of range.
    """
    role = FEATURE_ROLES[key]
    number_key, number_default = _NUMBER_OPTION.get(key, ("", 0))
    defaults = {number_key: number_default} if number_key else {}
    if value is None:
        return {}
    if isinstance(value, str) or (isinstance(value, (list, tuple, set, frozenset)) and all(_is_name(v) for v in value)):
        names = parse_column_list(value if isinstance(value, str) else [str(v) for v in value])
        return {name: dict(defaults) for name in names}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{key} is {value!r}; expected a list of column names or a mapping from column name to options.",
            file=file,
        )
    out: dict[str, dict[str, Any]] = {}
    for name, given in value.items():
        column = str(name).strip()
        if given is None:
            options: Any = dict(defaults)
        elif number_key and isinstance(given, int) and not isinstance(given, bool):
            options = {number_key: given}
        elif isinstance(given, Mapping):
            options = {**defaults, **given}
        else:
            expected = "a whole number of buckets or a mapping of options" if number_key else "a mapping of options"
            raise ConfigError(f"{key} gives {given!r}; expected {expected}.", file=file, column=column)
        out[column] = check_options(column, role, options, file=file)
    return out


def parse_column_options(value: Any, *, file: str | None = None) -> dict[str, dict[str, Any]]:
    """The ``options`` mapping: column name -> options mapping, each key one that some role accepts.

    Which role accepts which key is checked when the schema is built (the role may be inferred).

    Raises:
        ConfigError: ``value`` is not a mapping of mappings, or an option key is unknown to every role.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"options is {value!r}; expected a mapping from column name to options.", file=file)
    known = sorted({k for keys in ALLOWED_OPTIONS.values() for k in keys})
    out: dict[str, dict[str, Any]] = {}
    for name, given in value.items():
        column = str(name).strip()
        if not isinstance(given, Mapping):
            raise ConfigError(
                f"options are {given!r}; expected a mapping of option names to values.", file=file, column=column
            )
        unknown = sorted(str(k) for k in given if k not in known)
        if unknown:
            raise ConfigError(
                f"found unknown option(s) {', '.join(repr(k) for k in unknown)}, expected only these keys: "
                f"{', '.join(known)}.",
                file=file,
                column=column,
            )
        out[column] = dict(given)
    return out


def _is_name(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def read_yaml_mapping(path: str | Path, what: str, expected: str) -> dict[str, Any] | None:
    """The mapping at the top of a YAML file (None for an empty file).

    Raises:
        ConfigError: naming the file (``what`` says which kind of file): it is missing, unreadable, not
            valid YAML (with the line and column), or holds something else than a mapping (``expected``
            says what it should hold).
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found; expected an existing YAML file.", file=file) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{what} could not be read ({err}); expected UTF-8 YAML.", file=file) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{where}invalid YAML ({problem}); expected a YAML mapping.", file=file) from None
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ConfigError(f"found a YAML {type(data).__name__} at the top level; expected {expected}.", file=file)
    return data
