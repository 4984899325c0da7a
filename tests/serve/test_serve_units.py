"""The service's parts that need no model: keys, where it may listen, its settings, model names, versions, rows."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest

from needmap.errors import ConfigError
from needmap.serve.auth import KeyCheck, check_listening, is_loopback, read_keys
from needmap.serve.registry import directory_stamp, model_version
from needmap.serve.rows import json_rows, reads_as_given
from needmap.serve.settings import Limits, Settings, model_arguments

GOOD = "k" * 16


def test_keys_come_from_the_variable_and_the_file(tmp_path: Path) -> None:
    file = tmp_path / "keys.txt"
    file.write_text(f"# the marketing team\n\n{'b' * 20}\n{GOOD}\n", encoding="utf-8")
    assert read_keys(f" {GOOD} ,{'a' * 16}", file) == (GOOD, "a" * 16, "b" * 20)
    assert read_keys(None, None) == ()
    (tmp_path / "empty.txt").write_text("# none yet\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds no key"):
        read_keys(None, tmp_path / "empty.txt")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        read_keys("short", None)
    with pytest.raises(ConfigError, match="cannot be read"):
        read_keys(None, tmp_path / "missing.txt")


def test_a_key_is_accepted_only_whole_and_as_a_bearer_token() -> None:
    check = KeyCheck([GOOD, "z" * 32])
    assert check.accepts(f"Bearer {GOOD}".encode()) and check.accepts(b"bearer " + b"z" * 32)
    for wrong in (None, b"", GOOD.encode(), f"Bearer {GOOD}x".encode(), f"Bearer {GOOD[:-1]}".encode(),
                  f"Basic {GOOD}".encode(), b"Bearer "):  # fmt: skip
        assert not check.accepts(wrong), wrong
    assert not KeyCheck([])


def test_without_keys_only_the_loopback_interface() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
        check_listening(host, ())
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        assert not is_loopback(host), host
        with pytest.raises(ConfigError, match="no API key is set"):
            check_listening(host, ())
        check_listening(host, (GOOD,))


def test_model_arguments_name_each_model_once(tmp_path: Path) -> None:
    found = model_arguments([str(tmp_path / "bank"), f"churn={tmp_path / 'models' / 'x'}"])
    assert found == {"bank": tmp_path / "bank", "churn": tmp_path / "models" / "x"}
    with pytest.raises(ConfigError, match="two models are named 'bank'"):
        model_arguments([str(tmp_path / "bank"), f"bank={tmp_path / 'other'}"])
    with pytest.raises(ConfigError, match="cannot be part of a URL"):
        model_arguments([str(tmp_path / "my model")])


def test_settings_travel_to_workers_without_the_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text(GOOD + "\n", encoding="utf-8")
    settings = Settings({"bank": tmp_path / "bank"}, (GOOD,), Limits(max_rows=7, timeout_s=2.5), ("https://a.example",),
                        3.0, keys)  # fmt: skip
    environment = settings.to_environment()
    assert GOOD not in "".join(environment.values())
    assert Settings.from_environment(environment) == settings
    with pytest.raises(ConfigError, match="no models to serve"):
        Settings.from_environment({})
    with pytest.raises(ConfigError, match="max_rows"):
        Limits(max_rows=0)


def test_the_version_follows_the_content_not_the_time(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text('{"weights_sha256": "aa"}', encoding="utf-8")
    (tmp_path / "weights.safetensors").write_bytes(b"1234")
    first = model_version(tmp_path)
    (tmp_path / "weights.safetensors").write_bytes(b"5678")  # the checksum in model.json stands for the weights
    assert model_version(tmp_path) == first and len(first) == 12
    stamp = directory_stamp(tmp_path)
    (tmp_path / "model.json").write_text('{"weights_sha256": "bb"}', encoding="utf-8")
    assert model_version(tmp_path) != first and directory_stamp(tmp_path) != stamp


def test_rows_read_as_given_and_json_without_nan() -> None:
    assert all(reads_as_given(v) for v in (None, True, 3, 2.5, "c1", "a b"))
    assert not any(reads_as_given(v) for v in (" c1", "c1 ", "", "NA", "?", "é", math.nan, [1]))
    table = pa.table({"id": ["a", "b"], "score": [0.5, math.nan], "day": pa.array([0, 1], pa.date32())})
    assert json_rows(table) == [{"id": "a", "score": 0.5, "day": "1970-01-01"}, {"id": "b", "score": None,
                                                                               "day": "1970-01-02"}]  # fmt: skip
