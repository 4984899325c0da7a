"""The command line: ``needmap schema | train | tune | evaluate | predict | report | profile | demo``.

One module per command (:mod:`needmap.cli.commands`); each parses its options, calls a workflow and
prints. The options of ``schema``, ``train`` and ``tune`` are made from the declared option groups
(:mod:`needmap.cli.options`), so their flags, help and checks are those of the Python API and the YAML
file. Errors caused by input print one paragraph (no traceback) and exit with status 2.
"""

from typing import Any

from needmap.cli.main import main

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    """``needmap.cli.app``: the typer app with every command registered (loaded on first use, so that
    ``import needmap.cli`` loads neither pyarrow nor torch)."""
    if name == "app":
        from needmap.cli.main import registered_app

        return registered_app()
    raise AttributeError(f"module 'needmap.cli' has no attribute {name!r}")
