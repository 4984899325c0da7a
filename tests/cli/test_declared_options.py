"""Options declared once: the Python API's keywords, the command line's flags, its --help and the YAML file's
keys all come from the same declarations, and agree both ways."""

from __future__ import annotations

import inspect
from pathlib import Path

import click
import pytest
import typer.main
import typer.testing

from needmap.cli import app
from needmap.cli.commands.train import TRAIN_GROUPS
from needmap.cli.options import combine, flags_of, is_flag, parse_value
from needmap.data.read_options import ReadOptions
from needmap.data.roles import ColumnRoles
from needmap.declare import spec_of
from needmap.errors import ConfigError
from needmap.estimator import Model
from needmap.models.options import NetworkOptions
from needmap.preprocessing.config import PreprocessConfig
from needmap.recommend.options import RecommendOptions
from needmap.training.config import TrainConfig
from needmap.uplift.options import UpliftOptions
from needmap.workflows.config_file import OPTION_GROUPS, OTHER_KEYS, parse_config, yaml_key
from needmap.workflows.run_options import ModelOptions, RunOptions, TuneOptions
from needmap.workflows.tune import run_tune

#: Flags of ``needmap train`` that are not options of a model or a run, with what they are for.
TRAIN_ONLY = {
    "data": "the file to train on (an argument)",
    "out": "where the model directory goes",
    "model": "the architecture (the Model's first argument; 'model' in the YAML file)",
    "config": "the YAML file itself",
    "delimiter": "how the data file is read",
    "encoding": "how the data file is read",
    "param": "the architecture's own options ('params' in the YAML file, keywords in Python)",
    "query": "the PostgreSQL query the rows are read by (with a postgresql:// URL as DATA)",
    "nproc": "how many processes train on this machine (a launch of the command, not an option of the model)",
}


#: Keywords of ``run_tune`` that are not declared options, with what they are for (the command line has its own
#: flags for some: --trials, --time, --out, --storage, --study-name).
TUNE_ONLY = {
    "table": "the rows (the command's data argument)",
    "model": "the Model (the command's model and network options)",
    "trials": "--trials",
    "timeout_s": "--time",
    "out": "--out",
    "storage": "--storage",
    "study_name": "--study-name",
    "progress": "the command prints a line per trial",
    "pruner": "a program's own optuna pruner",
    "train_options": "run_train's keywords for the final training (the command passes --track)",
}


def _command(name: str) -> click.Command:
    group = typer.main.get_command(app)
    return group.commands[name]  # type: ignore[attr-defined]


def _declared(groups: tuple) -> dict[str, type]:
    return {name: g for g in groups for name in g.declared()}


def test_every_declared_option_is_a_flag_of_train_and_every_flag_is_declared() -> None:
    params = {p.name: p for p in _command("train").params}
    declared = _declared((*TRAIN_GROUPS, ReadOptions, RecommendOptions, UpliftOptions))
    assert set(params) == set(declared) | set(TRAIN_ONLY)
    for name, group in declared.items():
        opts = [*params[name].opts, *params[name].secondary_opts]
        assert flags_of(group, name)[0].split("/")[0] in opts, name
        assert getattr(params[name], "is_flag", False) == is_flag(group, name), name


def test_every_model_keyword_is_declared_and_every_declared_option_is_a_model_keyword() -> None:
    """The Model's keywords: its architecture, the column roles and model options by name, and every
    preprocessing, network and training option through ``**options``."""
    signature = inspect.signature(Model.__init__).parameters
    named = {n for n, p in signature.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert named - {"preprocess"} == set(_declared((ColumnRoles, ModelOptions)))
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values())
    model = Model("mlp", **PreprocessConfig.defaults(), **TrainConfig.defaults(), hidden=[8], embedding_dim=4)
    assert set(model.get_params()) >= set(_declared((ColumnRoles, ModelOptions, PreprocessConfig, TrainConfig)))
    assert set(_declared(TRAIN_GROUPS)) - set(_declared((RunOptions,))) <= set(model.get_params()) | set(
        NetworkOptions.declared()
    )


def test_every_declared_option_has_a_yaml_key_that_reads_back_into_its_group() -> None:
    for group in OPTION_GROUPS:
        for name in group.declared():
            value = group.defaults()[name]
            config = parse_config({yaml_key(group, name): value})
            assert name in config.options[group], (group.__name__, name)
    keys = [yaml_key(g, n) for g in OPTION_GROUPS for n in g.declared()]
    assert len(keys) == len(set(keys)), "two options share a YAML key"
    assert not set(keys) & set(OTHER_KEYS)
    assert set(OPTION_GROUPS) >= set(TRAIN_GROUPS)


def test_an_unknown_key_or_keyword_names_the_closest_option_of_every_kind(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option 'epoch'; closest: training option 'epochs'"):
        parse_config({"target": "y", "epoch": 3})
    with pytest.raises(ConfigError, match="closest: preprocessing option 'scaling'"):
        parse_config({"scalng": "log1p"})
    with pytest.raises(ConfigError, match="epochs is 0; expected a positive integer"):
        parse_config({"epochs": 0})
    # The Python API: the same declarations, and the architecture's own options as a kind of their own.
    with pytest.raises(ConfigError, match="unknown option 'epoch'; closest: training option 'epochs'"):
        Model("dcnv2", target="y", epoch=3)
    with pytest.raises(ConfigError, match="unknown option 'cross_layer'; closest: dcnv2 network option 'cross_layers'"):
        Model("dcnv2", target="y", cross_layer=2)
    with pytest.raises(ConfigError, match="closest: column role option 'drop'"):
        Model("mlp", target="y", dorp=["a"])
    with pytest.raises(ConfigError, match=r"dropout is 2\.0; expected a number"):
        Model("mlp", target="y", dropout=2.0)


def test_help_of_train_is_made_from_the_declarations() -> None:
    text = typer.testing.CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "400"}).output
    flat = " ".join(text.replace("│", " ").split())
    for name, group in _declared(TRAIN_GROUPS).items():
        spec = spec_of(group.declared()[name])
        assert " ".join(spec.help.split()) in flat, name


def test_command_line_text_is_read_as_each_option_declares() -> None:
    assert parse_value(NetworkOptions, "hidden", "64,32") == [64, 32]
    assert parse_value(TrainConfig, "max_time", "10m") == 600.0
    assert parse_value(TrainConfig, "patience", "none") is None
    assert parse_value(TrainConfig, "class_weight", "balanced") == "balanced"
    assert parse_value(ColumnRoles, "hash", "user:1000,item") == {"user": 1000, "item": None}
    assert parse_value(ColumnRoles, "column_options", "genres.separator=|") == {"genres": {"separator": "|"}}
    with pytest.raises(ConfigError, match="--lr 'fast' is not understood; expected a number"):
        parse_value(TrainConfig, "lr", "fast")


def test_the_command_line_adds_to_the_files_column_lists_and_replaces_the_rest() -> None:
    merged = combine(
        {ColumnRoles: {"drop": ["a"], "hash": {"u": 10}}, TrainConfig: {"epochs": 5}},
        {ColumnRoles: {"drop": ["b"], "hash": {"v": 20}}, TrainConfig: {"epochs": 7}},
    )
    assert merged[ColumnRoles]["drop"] == ["a", "b"]
    assert merged[ColumnRoles]["hash"] == {"u": {"hash_buckets": 10}, "v": {"hash_buckets": 20}}
    assert merged[TrainConfig]["epochs"] == 7


def test_every_option_keyword_of_run_tune_is_a_declared_flag_of_tune_and_a_yaml_key() -> None:
    """``run_tune(cv=5, tune_lightgbm=False, ...)``, ``needmap tune --cv 5 --no-tune-lightgbm`` and a YAML file's
    ``cv: 5`` / ``tune_lightgbm: false`` are one declaration each, with the same default."""
    keywords = {n: p for n, p in inspect.signature(run_tune).parameters.items() if n not in TUNE_ONLY}
    declared = _declared((RunOptions, TuneOptions, TrainConfig))
    assert set(keywords) <= set(declared), set(keywords) - set(declared)
    assert {"cv", "tune_lightgbm", "seed", "split", "validation"} <= set(keywords)
    flags = {p.name: p for p in _command("tune").params}
    for name, parameter in keywords.items():
        group = declared[name]
        assert name in flags and flags_of(group, name)[0].split("/")[0] in flags[name].opts, name
        assert parameter.default == group.defaults()[name], name
        assert parse_config({yaml_key(group, name): group.defaults()[name]}).options[group] == {
            name: group.defaults()[name]
        }
    assert TuneOptions in OPTION_GROUPS
    with pytest.raises(ConfigError, match="tune_lightgbm is 'yes'; expected true or false"):
        parse_config({"tune_lightgbm": "yes"})
    with pytest.raises(ConfigError, match="cv is 1; expected a whole number >= 2"):
        parse_config({"cv": 1})
