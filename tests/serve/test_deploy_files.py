"""The Dockerfile and compose.yaml, the documented way to run the service on a server, agree with the project:
the files they copy exist, the extras they install are declared, every option they pass is one of `needmap
serve`'s, and they never serve off loopback without API keys. (No image is built here: that needs a registry of
base images.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def serve_options() -> set[str]:
    """Every option name of ``needmap serve``."""
    import typer.main

    from needmap.cli.main import registered_app

    command = typer.main.get_command(registered_app()).commands["serve"]  # type: ignore[attr-defined]
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)}


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_the_dockerfile_copies_files_that_exist_and_installs_declared_extras() -> None:
    text = dockerfile()
    for line in re.findall(r"^COPY (.+)$", text, flags=re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), source
    from importlib.metadata import metadata

    extras = metadata("needmap").get_all("Provides-Extra") or []
    for group in re.findall(r"pip install '\.\[([a-z,]+)\]'", text):
        assert set(group.split(",")) <= set(extras), group
    assert "torch==2.13.0" in text and "whl/cpu" in text  # the CPU build, never a CUDA one pulled by resolution


def test_the_entrypoint_and_compose_pass_only_options_of_serve_and_need_keys() -> None:
    options = serve_options()
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.+\])$", dockerfile(), flags=re.M).group(1))
    assert entry[:2] == ["needmap", "serve"]
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert set(compose["services"]) == {"needmap", "postgres", "redis"}
    command = compose["services"]["needmap"]["command"]
    for argument in [*entry[2:], *command]:
        if argument.startswith("--"):
            assert argument in options, argument
    assert "0.0.0.0" in entry  # bound to every interface inside the container, so keys are required:
    assert "NEEDMAP_API_KEYS" in compose["services"]["needmap"]["environment"]
    assert ":?" in compose["services"]["needmap"]["environment"]["NEEDMAP_API_KEYS"]
    for name in ("postgres", "redis"):  # the stores are published on loopback only
        assert all(port.startswith("127.0.0.1:") for port in compose["services"][name]["ports"])
