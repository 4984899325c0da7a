"""The YAML configuration file: every declared option by its name, read into one dict per group.

A file may set any option of the groups in :data:`OPTION_GROUPS` at its top level, under the same name
as the Python keyword (``column_options`` is written ``options``), plus ``model`` (the architecture)
and ``params`` (the architecture's own options, as ``-p key=value`` gives them)::

    model: dcnv2
    target: y
    drop: [duration]
    hash: {userId: 100000}
    options: {genres: {separator: "|"}}
    scaling: quantile
    hidden: [256, 128]
    epochs: 20
    test_size: 0.25
    params: {cross_layers: 4}

The older nested form ``preprocess: {scaling: quantile}`` is read too. Values are checked as the
options' declarations say, and an unknown key names the closest option of every kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from needmap.data.overrides import read_yaml_mapping
from needmap.data.roles import ColumnRoles
from needmap.declare import Options, spec_of, unknown_message
from needmap.errors import ConfigError
from needmap.models.options import NetworkOptions
from needmap.preprocessing.config import PreprocessConfig
from needmap.training.config import TrainConfig
from needmap.workflows.run_options import ModelOptions, RunOptions, TuneOptions

#: Every group of declared options, in the order ``--help`` and the docs list them.
OPTION_GROUPS: tuple[type[Options], ...] = (
    ColumnRoles,
    PreprocessConfig,
    NetworkOptions,
    TrainConfig,
    ModelOptions,
    RunOptions,
    TuneOptions,
)
#: Keys of the file that are not declared options: the architecture and its own options.
OTHER_KEYS: tuple[str, ...] = ("model", "params")


def yaml_key(group: type[Options], name: str) -> str:
    """The file's key of a declared option (its name unless it declares another)."""
    return spec_of(group.declared()[name]).yaml or name


@dataclass
class ConfigFile:
    """What a configuration file sets: ``{group: {option: value}}``, the architecture and its options."""

    options: dict[type[Options], dict[str, Any]] = field(default_factory=dict)
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def read_config(path: str | Path) -> ConfigFile:
    """Read and check a YAML configuration file.

    Raises:
        ConfigError: naming the file: it is missing or not YAML (with the line), not a mapping, has an
            unknown key (with the closest option of every kind) or a value its option does not accept.
    """
    file = str(path)
    data = read_yaml_mapping(path, "configuration file", "a mapping of option names")
    if data is None:
        return ConfigFile()
    return parse_config(dict(data), file=file)


def parse_config(data: dict[str, Any], *, file: str | None = None) -> ConfigFile:
    """A configuration from the mapping a file holds (see :func:`read_config`)."""
    data = dict(data)
    nested = data.pop("preprocess", None)
    nested = {} if nested is None else nested  # `preprocess:` with nothing under it; `[]`, `0`, `false` are refused
    if not isinstance(nested, Mapping):
        raise ConfigError(f"preprocess is a {type(nested).__name__}; expected a mapping.", file=file)
    by_key = {yaml_key(g, name): (g, name) for g in OPTION_GROUPS for name in g.declared()}
    config = ConfigFile(options={g: {} for g in OPTION_GROUPS})
    unknown = [str(k) for k in data if k not in by_key and k not in OTHER_KEYS]
    unknown += [f"preprocess.{k}" for k in nested if k not in PreprocessConfig.declared()]
    if unknown:
        raise ConfigError(unknown_message(unknown, OPTION_GROUPS), file=file)
    for key, value in data.items():
        if key in OTHER_KEYS:
            continue
        group, name = by_key[key]
        config.options[group][name] = value
    config.options[PreprocessConfig].update(nested)
    for group, values in config.options.items():
        try:
            group(**values)  # checks every value as declared
        except ConfigError as err:  # the same error, now naming the file; its column and hint kept
            raise ConfigError(
                err.detail, file=file if file is not None else err.file, row=err.row, column=err.column, hint=err.hint
            ) from None
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise ConfigError(f"model is {model!r}; expected an architecture name.", file=file)
    params = data.get("params")
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise ConfigError(f"params is {params!r}; expected a mapping of the architecture's options.", file=file)
    config.model = model
    config.params = dict(params)
    return config
