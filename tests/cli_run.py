"""``run_cli(*args)``: a needmap command run in this process, as the tests of the command line run it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from typer.testing import CliRunner

from needmap.cli import app

runner = CliRunner()


def run_cli(*args: str | Path, env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """The exit code and the output of ``needmap ARGS``; an exception other than an exit is raised as it is."""
    result = runner.invoke(app, [str(a) for a in args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output
