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

SRC = Path(needmap.__file__).resolve().parent
ROOT = SRC.parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs" / "commands").glob("*.md"))]
COMMANDS: dict[str, click.Command] = typer.main.get_command(app).commands  # type: ignore[attr-defined]

#: ``--name`` with a letter after the dashes, not part of a longer word (``a--b``) and whole (not ``--no-{x}``).
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9](?![\w{-])")
#: Other programs whose options the pages show (``mlflow ui --backend-store-uri mlruns``).
OTHER_PROGRAMS = ("mlflow", "pip", "python", "make", "pytest", "uv", "git", "docker", "optuna")


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
    assert unknown(["--format", "--out", "--delimiter"], None) == ["--format"]
    assert unknown(["--trials"], "train") == ["--trials"] and unknown(["--trials"], "tune") == []


def test_every_option_a_message_or_hint_names_exists() -> None:
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        command = command_of_module(path)
        for line, option in mentioned_options(path.read_text(encoding="utf-8")):
            wrong += [f"{path.relative_to(SRC)}:{line}: {option}" for option in unknown([option], command)]
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
    for a bare mention such as ``--cv 5``); None for another program's line."""
    code = line.split(" #", 1)[0].strip()
    words = code.split()
    if not words:
        return None
    if words[0] in OTHER_PROGRAMS or (words[0] == "$" and len(words) > 1 and words[1] in OTHER_PROGRAMS):
        return None
    if "needmap" in words:
        start = words.index("needmap")
        after = words[start + 1 :]
        command = after[0] if after and after[0] in COMMANDS else None
        try:
            tokens = shlex.split(" ".join(after))
        except ValueError:
            tokens = after
        return command, [t.split("=")[0] for t in tokens if OPTION.fullmatch(t.split("=")[0])]
    return None, OPTION.findall(code)


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_option_a_page_names_exists_on_its_command(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    wrong = []
    for line in command_lines(text):
        found = checked_options(line)
        if found is not None:
            command, options = found
            wrong += [f"{line.strip()!r}: {o}" for o in unknown(options, command)]
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    prose = re.sub(r"`[^`\n]+`", "", prose)
    wrong += [f"(text) {o}" for o in unknown(OPTION.findall(prose), None)]
    assert wrong == []
