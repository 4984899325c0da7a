"""TrainConfig: defaults, checks and the dict round trip."""

from __future__ import annotations

import json

import pytest

from needmap.errors import ConfigError
from needmap.training import TrainConfig


def test_defaults_and_round_trip() -> None:
    config = TrainConfig()
    assert (config.optimizer, config.lr, config.batch_size, config.epochs, config.patience) == (
        "adam",
        1e-3,
        512,
        30,
        3,
    )
    assert config.monitor_for("binary") == ("auc", "max")
    assert config.monitor_for("multiclass") == ("logloss", "min")
    assert config.monitor_for("regression") == ("rmse", "min")
    custom = TrainConfig(optimizer="sgd", lr=0.01, class_weight="balanced", max_time=5.0, threads=1)
    data = json.loads(json.dumps(custom.to_dict()))
    assert TrainConfig.from_dict(data) == custom


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"optimizer": "adagrad"}, "optimizer is 'adagrad'; expected one of 'adam', 'rmsprop', 'sgd'"),
        ({"lr_schedule": "step"}, "lr_schedule is 'step'; expected one of 'plateau', 'cosine', 'none'"),
        ({"lr": 0}, "lr is 0; expected a positive number"),
        ({"batch_size": 0}, "batch_size is 0"),
        ({"epochs": 2.5}, "epochs is 2.5"),
        ({"patience": 0}, "patience is 0"),
        ({"class_weight": "heavy"}, "class_weight is 'heavy'"),
        ({"class_weight": -1.0}, "class_weight is -1.0"),
        ({"max_time": -1}, "max_time is -1"),
        ({"threads": 0}, "threads is 0"),
        ({"monitor": "f1"}, "monitor is 'f1'; expected None or one of"),
    ],
)
def test_bad_options_are_config_errors(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**options)


def test_from_dict_rejects_unknown_keys_and_monitor_must_fit_the_task() -> None:
    with pytest.raises(ConfigError, match=r"unknown training option.*'learning_rate'"):
        TrainConfig.from_dict({"learning_rate": 0.1})
    with pytest.raises(ConfigError, match="monitor 'auc' does not apply to regression"):
        TrainConfig(monitor="auc").monitor_for("regression")


def test_cpu_threads_are_the_given_threads_else_the_cores_of_this_process(monkeypatch) -> None:
    from needmap.training.config import TrainConfig

    assert TrainConfig(threads=3).cpu_threads() == 3
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # two processes on this machine share its cores
    from needmap.runtime.device import cores_per_process

    assert TrainConfig().cpu_threads() == cores_per_process()
