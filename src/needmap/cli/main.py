"""The ``needmap`` command: the entry point, and the app with every command module registered on it."""

from __future__ import annotations

from typing import NoReturn

import typer

from needmap.cli.base import app, stop_on_sigterm
from needmap.runtime.arrow_memory import prefer_system_arrow_pool, system_arrow_pool
from needmap.runtime.process_exit import end_process


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


def run() -> None:
    """The ``needmap`` command in this process: Arrow allocates from the system's allocator for the whole
    process, chosen here before anything loads pyarrow (:mod:`needmap.runtime.arrow_memory`). Ends by raising
    ``SystemExit`` with the command's status, as a click program does."""
    prefer_system_arrow_pool()
    stop_on_sigterm()
    application = registered_app()
    with system_arrow_pool():
        application()


def main() -> NoReturn:
    """Entry point of the ``needmap`` command: :func:`run`, then the process ends at once with its status
    (:func:`needmap.runtime.process_exit.end_process`: the exit handlers run, the interpreter's teardown is
    skipped). An error that is not the command's own (a traceback) ends the process as Python does."""
    try:
        run()
    except SystemExit as done:
        end_process(done.code)
    end_process(0)
