"""What every command shares: the typer app, the consoles, error handling, reading a data file."""

from __future__ import annotations

import contextlib
import functools
import signal
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

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

Delimiter = typer.Option(
    None,
    help="CSV delimiter: one character, 'tab', or 'whitespace' for columns aligned by runs of spaces "
    "(sniffed when not given).",
)
Encoding = typer.Option("utf-8", help="Text encoding of CSV / JSON files, e.g. latin-1.")
Config = typer.Option(
    None, "--config", help="YAML file of options (column roles, preprocessing, network, training, run)."
)
Param = typer.Option(
    None, "--param", "-p", help="An option of the architecture itself, key=value (repeatable), e.g. cross_layers=4."
)


def labelled(label: str, style: str, text: Any) -> Text:
    """``label`` in ``style``, a space, then ``text`` exactly as it is.

    rich reads a printed string as markup: an error naming ``pip install needmap[mlflow]``, a column
    ``spend[eur]`` or a path ``runs/[a]`` would lose its brackets. Whatever a message carries (errors,
    notes, verdicts, names and paths) is printed through this, or escaped, and never read as markup."""
    return Text.assemble((label, style), " ", str(text))


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
            console.print(labelled("error:", "bold red", err), highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt as stop:
            console.print("[bold red]interrupted[/]: nothing was written.")
            raise typer.Exit(code=128 + getattr(stop, "signal_number", signal.SIGINT)) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def reading_notes() -> Iterator[None]:
    """Print what a reader decided on its own inside the block (a :class:`ReadingNote`, such as a first
    row read as data) as a note on the console."""
    from needmap.errors import ReadingNote

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ReadingNote)
        yield
    for note in caught:
        if issubclass(note.category, ReadingNote):
            console.print(f"[yellow]note:[/] {escape(str(note.message))}", highlight=False, soft_wrap=True)
        else:
            warnings.warn_explicit(note.message, note.category, note.filename, note.lineno)


def read_table(path: str, delimiter: str | None, encoding: str, reading: Mapping[str, Any] | None = None) -> Any:
    """The rows of a data file as an Arrow table (:func:`needmap.data.read.read`), read as ``reading``
    (the ``ReadOptions`` given: ``--no-header``, ``--names``, ...) says, with its notes printed. A feature table
    written as text gets the description kept beside it (``<path>.features.json``) in its schema metadata, as a
    Parquet file carries it (:func:`needmap.events.table_info.info_of_file`)."""
    from needmap.data.read import read
    from needmap.events.table_info import with_file_info

    with reading_notes():
        table = read(path, delimiter=delimiter, encoding=encoding, **dict(reading or {}))
    return with_file_info(table, path)
