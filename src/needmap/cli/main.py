"""The ``needmap`` command: the entry point, and the app with every command module registered on it."""

from __future__ import annotations

import typer

from needmap.cli.base import app, stop_on_sigterm
from needmap.runtime.arrow_memory import prefer_system_arrow_pool, system_arrow_pool


def registered_app() -> typer.Typer:
    """The app with every command registered (importing a command module registers it).

    The command modules import the option groups and through them pyarrow and torch, so they are
    imported here, after :func:`main` has chosen Arrow's memory pool."""
    from needmap.cli.commands import (  # noqa: F401
        demo,
        evaluate,
        explain,
        export,
        features,
        predict,
        profile,
        recommend,
        report,
        schema,
        serve,
        target,
        train,
        tune,
    )

    return app


def main() -> None:
    """Entry point of the ``needmap`` command: Arrow allocates from the system's allocator for the whole
    process, chosen here before anything loads pyarrow (:mod:`needmap.runtime.arrow_memory`)."""
    prefer_system_arrow_pool()
    stop_on_sigterm()
    application = registered_app()
    with system_arrow_pool():
        application()
