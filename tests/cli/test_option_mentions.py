"""Every option a message, a hint, the README or a command's page names is an option of the command line:
of the command it is written for where that is known (``needmap train ... --out``, a message of
``cli/commands/train.py``), else of some command. The options are read from the command line itself, so
that an option added or renamed is known here at once."""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import typer.main

import needmap
from needmap.cli import app
from needmap.events import generate

SRC = Path(needmap.__file__).resolve().parent
ROOT = SRC.parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs" / "commands").glob("*.md"))]
COMMANDS: dict[str, click.Command] = typer.main.get_command(app).commands  # type: ignore[attr-defined]

#: ``--name`` with a letter after the dashes, not part of a longer word (``a--b``) and whole (not ``--no-{x}``).
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9](?![\w{-])")
#: Other programs whose options the pages show (``mlflow ui --backend-store-uri mlruns``).
OTHER_PROGRAMS = ("mlflow", "pip", "python", "make", "pytest", "uv", "git", "docker", "optuna", "torchrun")


def options_of(command: click.Command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(o for o in [*param.opts, *param.secondary_opts] if o.startswith("--"))
    return names


EVERY_OPTION = set().union(*(options_of(c) for c in COMMANDS.values()))


def unknown(found: list[str], command: str | None) -> list[str]:
    """The options of ``found`` that ``command`` (None: every command together) does not take."""
    known = options_of(COMMANDS[command]) if command else EVERY_OPTION
    return [option for option in found if option not in known]


# -- messages and hints in the source -------------------------------------------------------------------------
def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def message_texts(source: str) -> Iterator[tuple[int, str]]:
    """``(line, text)`` of each string of ``source`` but the docstrings and CSS; an f-string's values are
    ``{}`` (so ``--{name}`` is no option)."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    parts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts.update(id(value) for value in node.values)
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            yield node.lineno, text
    for node in ast.walk(tree):
        text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
        if text is not None and id(node) not in skip and id(node) not in parts and "var(--" not in text:
            yield node.lineno, text


def mentioned_options(source: str) -> list[tuple[int, str]]:
    """``(line, option)`` of each option named in the messages of ``source`` (the report page's CSS
    properties, ``--ink: #222``, are no options)."""
    return [
        (line, option)
        for line, text in message_texts(source)
        if not re.search(r"--[a-z][\w-]*:\s*[#\d]", text)
        for option in OPTION.findall(text)
    ]


def command_of_module(path: Path) -> str | None:
    """The command whose module ``path`` is (``cli/commands/train.py``: train), else None."""
    return path.stem if path.parent.name == "commands" and path.stem in COMMANDS else None


def test_the_checks_find_options_and_leave_other_dashes_alone() -> None:
    source = (
        '"""Docstring: --flag-in-docs."""\n'
        'CSS = ":root { --ink: #222; color: var(--ink); }"\n'
        'def f(name):\n    """--also-docs"""\n'
        '    raise ValueError(f"expected --{name}/--no-{name}", hint="Pass --format csv or -- --out x")\n'
    )
    assert [option for _, option in mentioned_options(source)] == ["--format", "--out"]
    assert unknown(["--colour", "--out", "--delimiter"], None) == ["--colour"]
    assert unknown(["--trials"], "train") == ["--trials"] and unknown(["--trials"], "tune") == []


#: Modules with a command line of their own (``python -m needmap.events.generate``): they name its options.
OWN_COMMAND_LINES = {
    "events/generate.py": {flag for action in generate._parser()._actions for flag in action.option_strings},
    # the train command started again under torchrun (torch.distributed.run), with torchrun's own flags
    "workflows/distributed.py": {"--standalone", "--nproc-per-node", "--nproc"},
}


def test_every_option_a_message_or_hint_names_exists() -> None:
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        command = command_of_module(path)
        own = OWN_COMMAND_LINES.get(path.relative_to(SRC).as_posix())
        for line, option in mentioned_options(path.read_text(encoding="utf-8")):
            found = ([option] if option not in own else []) if own is not None else unknown([option], command)
            wrong += [f"{path.relative_to(SRC)}:{line}: {option}" for option in found]
    assert wrong == []


# -- the README and the command pages ---------------------------------------------------------------------------
def command_lines(text: str) -> Iterator[str]:
    """Each line of a fenced block (joined over a trailing backslash) and each inline code span of a page."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    for block in blocks:
        yield from block.replace("\\\n", " ").splitlines()
    yield from re.findall(r"(?<!`)`([^`\n]+)`(?!`)", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S))


def checked_options(line: str) -> tuple[str | None, list[str]] | None:
    """``(command, options)`` of one command line or code span: the command of ``needmap CMD ...`` (None
    for a bare mention such as ``--cv 5``); None for another program's line. A ``needmap WORD`` whose WORD
    is no command gives ``WORD`` as the command, which :func:`check_line` reports."""
    words = line.split(" #", 1)[0].split()
    if words[:1] == ["$"]:
        words = words[1:]
    if not words or words[0] in OTHER_PROGRAMS:
        return None
    if words[0] == "needmap":
        try:
            tokens = shlex.split(" ".join(words[1:]))
        except ValueError:
            tokens = words[1:]
        command = tokens[0] if tokens and not tokens[0].startswith("-") else None
        return command, [t.split("=")[0] for t in tokens if OPTION.fullmatch(t.split("=")[0])]
    return None, OPTION.findall(" ".join(words))


def check_line(line: str) -> list[str]:
    """What is wrong with one command line or code span of a page: an unknown command or option."""
    found = checked_options(line)
    if found is None:
        return []
    command, options = found
    if command is not None and command not in COMMANDS:
        return [f"{line.strip()!r}: no command {command!r}"]
    return [f"{line.strip()!r}: {option}" for option in unknown(options, command)]


def test_a_page_line_with_an_unknown_command_or_option_is_found() -> None:
    assert check_line("needmap train bank.csv --target y --out m   # --trials is tune's") == []
    assert check_line("needmap train bank.csv --trials 3 --out m") == [
        "'needmap train bank.csv --trials 3 --out m': --trials"
    ]
    assert check_line("$ needmap fit bank.csv") == ["'$ needmap fit bank.csv': no command 'fit'"]
    assert check_line("mlflow ui --backend-store-uri mlruns") == []
    assert check_line("--cv 5") == [] and check_line("--folds 5") == ["'--folds 5': --folds"]


def test_every_command_has_a_page_and_every_page_is_a_command() -> None:
    pages = {page.stem for page in (ROOT / "docs" / "commands").glob("*.md")}
    assert pages == set(COMMANDS)


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_option_a_page_names_exists_on_its_command(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    wrong = []
    for line in command_lines(text):
        wrong += check_line(line)
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    prose = re.sub(r"`[^`\n]+`", "", prose)
    wrong += [f"(text) {o}" for o in unknown(OPTION.findall(prose), None)]
    assert wrong == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_example_of_every_commands_help_parses_as_written(name: str) -> None:
    """``--help`` ends with an example (``Example: needmap train ...``): the command line reads it as it is."""
    epilog = COMMANDS[name].epilog or ""
    example = re.search(r"Example: needmap (.+?)(?:;|$)", epilog)
    assert example is not None, f"needmap {name} --help shows no example"
    args = shlex.split(example.group(1))
    assert args[0] == name
    COMMANDS[name].make_context(name, args[1:])  # an unknown option or a missing argument raises
