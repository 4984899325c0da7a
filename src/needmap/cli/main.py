"""The ``needmap`` command: every command module registered on the app, and the entry point."""

from __future__ import annotations

from needmap.cli.base import app
from needmap.cli.commands import demo, evaluate, predict, profile, report, schema, train, tune
from needmap.runtime.arrow_memory import prefer_system_arrow_pool, system_arrow_pool

COMMANDS = (schema, train, tune, evaluate, predict, report, profile, demo)


def main() -> None:
    """Entry point of the ``needmap`` command: Arrow allocates from the system's allocator for the whole
    process, chosen here before anything loads pyarrow (:mod:`needmap.runtime.arrow_memory`)."""
    prefer_system_arrow_pool()
    with system_arrow_pool():
        app()
