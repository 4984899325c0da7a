"""What every command shares: the typer app, the consoles, error handling, reading a data file."""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from needmap.errors import NeedmapError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
    help="needmap: deep models that map what customers did to what they will need next.",
)
console = Console(stderr=True)
out_console = Console()
F = TypeVar("F", bound=Callable[..., Any])

Delimiter = typer.Option(None, help="CSV delimiter (sniffed when not given).")
Encoding = typer.Option("utf-8", help="Text encoding of CSV / JSON files, e.g. latin-1.")
Config = typer.Option(
    None, "--config", help="YAML file of options (column roles, preprocessing, network, training, run)."
)
Param = typer.Option(
    None, "--param", "-p", help="An option of the architecture itself, key=value (repeatable), e.g. cross_layers=4."
)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler's stop, a container's shutdown) raised as an interruption: the
    clean-up that Ctrl-C runs (temporary files and directories removed) runs for it too."""

    signal_number = signal.SIGTERM


def stop_on_sigterm() -> None:
    """Make SIGTERM stop a command as Ctrl-C does (:class:`Terminated`); a second SIGTERM ends the process
    at once, as it would without needmap's handler."""

    def raise_terminated(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated()

    signal.signal(signal.SIGTERM, raise_terminated)


def friendly_errors(func: F) -> F:
    """Turn a NeedmapError into one printed paragraph and exit status 2; an interruption (Ctrl-C, SIGTERM)
    into one line and the shell's status for it (130, 143)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NeedmapError as err:
            console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt as stop:
            console.print("[bold red]interrupted[/]: nothing was written.")
            raise typer.Exit(code=128 + getattr(stop, "signal_number", signal.SIGINT)) from None

    return wrapper  # type: ignore[return-value]


def read_table(path: str, delimiter: str | None, encoding: str) -> Any:
    """The rows of a data file as an Arrow table (:func:`needmap.data.read.read`)."""
    from needmap.data.read import read

    return read(path, delimiter=delimiter, encoding=encoding)
