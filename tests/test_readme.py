"""The README is checked as code: every fenced block runs (or is marked, with its reason, as not run).

In the manner of the rtdl and TabM projects, which test the code of their READMEs: the Python blocks are
executed, the command lines run with the command line's own parser, in a folder holding small tables of
the shape the README names (``bank.csv``, ``holdout.csv``, ``new_customers.csv``, ``latin.csv``, and
``invoices.parquet``, the committed slice of UCI Online Retail, ``customers.csv``, three of its
customer ids, and ``campaign.csv``, a generated randomized campaign), and a
block that begins with ``$ needmap ...`` shows that command's output, compared with what it prints. A block
is left out only under a ``<!-- not run by tests/test_readme.py: REASON -->`` line. Every command line of
every block (the ones not run too) is parsed here against the command line, fast; running them trains
models and is marked slow (the training lines with ``--epochs 2`` and ``--trials 2`` added, to be short).
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import typer.main
import typer.testing

from needmap.cli import app
from needmap.uplift.generate import campaign

README = Path(__file__).resolve().parents[1] / "README.md"
#: The shop's invoice lines of the README's purchase-log section: the committed slice of UCI Online Retail.
RETAIL_SLICE = Path(__file__).resolve().parent / "datasets" / "online_retail" / "online_retail_slice.parquet"
NOT_RUN = re.compile(r"<!-- not run by tests/test_readme\.py: (.+?) -->")
#: Added to the lines that train, so that the tour runs in seconds (a repeated option takes the last value).
SHORT = {"train": ["--epochs", "2"], "tune": ["--epochs", "2", "--trials", "2"]}


@dataclass
class Block:
    language: str
    code: str
    line: int
    not_run: str | None  # the stated reason, for a block marked as not run


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, each with the not-run reason written on the line above it."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            above = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            reason = NOT_RUN.fullmatch(above.strip())
            code = "\n".join(lines[i + 1 : end])
            blocks.append(Block(lines[i][3:].strip(), code, i + 1, reason.group(1) if reason else None))
            i = end
        i += 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def command_lines(block: Block) -> list[list[str]]:
    """The arguments of each ``needmap`` line of a shell block (comments dropped, ``$`` prompts read)."""
    found = []
    for line in block.code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["$"]:
            words = words[1:]
        if words[:1] == ["needmap"]:
            found.append(words[1:])
    return found


def parse(args: list[str]) -> None:
    """Parse ``needmap ARGS`` as the command line would, without running it (an unknown command or option,
    a missing argument or a value of the wrong type raises the command line's usage error)."""
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    if not args or args[0] not in commands:
        raise ValueError(f"no command {args[:1]}; expected one of {sorted(commands)}")
    commands[args[0]].make_context(args[0], list(args[1:]))


def invoke(args: list[str]) -> tuple[int, str]:
    result = typer.testing.CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


# -- the tables the README names --------------------------------------------------------------------------------
def bank_rows(n: int, seed: int, labelled: bool = True) -> pa.Table:
    """Calls of a bank's campaign in the columns the README uses: ``y`` (yes for about 15%), ``duration``
    (dropped by every example: known only after the call) and a few inputs, ``y`` depending on them."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    job = rng.choice(["admin.", "technician", "services", "retired", "student"], n)
    campaign = rng.integers(1, 10, n)
    logit = -2.2 + 0.8 * (job == "retired") + 0.9 * (job == "student") - 0.2 * campaign + 0.02 * (age - 40)
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    columns = {"age": age, "job": job, "campaign": campaign, "duration": rng.integers(10, 900, n)}
    if labelled:
        columns["y"] = y
    return pa.table(columns)


@pytest.fixture(scope="module")
def readme_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("readme")
    pacsv.write_csv(bank_rows(800, seed=1), folder / "bank.csv")
    pacsv.write_csv(bank_rows(300, seed=2), folder / "holdout.csv")
    pacsv.write_csv(bank_rows(100, seed=3, labelled=False), folder / "new_customers.csv")
    (folder / "latin.csv").write_bytes("name,city\nana,porto\njoão,lisboa\n".encode("latin-1"))
    shutil.copyfile(RETAIL_SLICE, folder / "invoices.parquet")
    (folder / "customers.csv").write_text("CustomerID\n17511\n16549\n1\n")
    pacsv.write_csv(campaign(3000, seed=1).table, folder / "campaign.csv")
    return folder


# -- the checks -----------------------------------------------------------------------------------------------
def test_the_readme_has_blocks_of_each_kind_and_every_block_not_run_says_why() -> None:
    kinds = {block.language or "shell" for block in BLOCKS}
    assert {"python", "shell"} <= kinds, kinds
    for block in BLOCKS:
        assert block.language in ("", "python"), f"README.md:{block.line}: a block of {block.language!r}"
        assert block.not_run is None or len(block.not_run.split()) >= 3, f"README.md:{block.line}: say why"
    assert sum(block.not_run is None for block in BLOCKS) >= 3


def test_the_parser_refuses_what_the_command_line_refuses() -> None:
    parse(["train", "bank.csv", "--target", "y", "--out", "m"])
    refused = {
        "no command": ["fit", "bank.csv"],
        "No such option: --trials": ["train", "bank.csv", "--trials", "3", "--out", "m"],
        "Missing parameter: out": ["predict", "m"],
        "valid integer": ["tune", "bank.csv", "--trials", "many", "--out", "m"],
    }
    for message, args in refused.items():
        with pytest.raises(Exception, match=message):  # the command line's own usage errors
            parse(args)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.language != "python"], ids=lambda b: f"line{b.line}")
def test_every_needmap_line_of_the_readme_parses(block: Block) -> None:
    for args in command_lines(block):
        parse(args)


def test_the_shown_output_is_what_the_command_prints(readme_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = [b for b in BLOCKS if b.not_run is None and b.code.startswith("$ needmap ")]
    assert shown, "the README shows no command with its output"
    monkeypatch.chdir(readme_folder)
    for block in shown:
        command, *output = block.code.splitlines()
        _, printed = invoke(shlex.split(command)[2:])
        assert " ".join(printed.split()) == " ".join(" ".join(output).split()), f"README.md:{block.line}"


@pytest.mark.slow
def test_every_command_line_of_the_readme_runs(readme_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(readme_folder)
    ran = []
    for block in BLOCKS:
        if block.not_run is None and block.language == "" and not block.code.startswith("$ "):
            for args in command_lines(block):
                code, output = invoke([*args, *SHORT.get(args[0], [])])
                assert code == 0, f"README.md:{block.line}: needmap {shlex.join(args)}\n{output}"
                ran.append(args[0])
    assert {"schema", "train", "tune", "evaluate", "report", "profile", "predict", "features"} <= set(ran)
    assert (readme_folder / "scores.parquet").exists() and (readme_folder / "bank-report.html").exists()
    assert (readme_folder / "spend-report.html").exists() and (readme_folder / "later.parquet").exists()
    buyers = pacsv.read_csv(readme_folder / "buyers.csv")  # today's scores of the log's customers, ids as given
    assert buyers.num_rows > 0 and "CustomerID" in buyers.column_names


@pytest.mark.slow
def test_every_python_block_of_the_readme_runs(readme_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(readme_folder)
    blocks = [b for b in BLOCKS if b.language == "python" and b.not_run is None]
    assert blocks
    spaces = []
    for block in blocks:
        namespace: dict[str, object] = {}
        exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)
        spaces.append(namespace)
    today = next(space["today"] for space in spaces if "today" in space)  # the purchase log's scores
    assert isinstance(today, pa.Table) and today.num_rows > 0
    assert today.column_names == ["CustomerID", "cutoff", "expected_spend", "buy_probability", "spend_if_bought"]
    scores = namespace["scores"]
    assert isinstance(scores, pa.Table) and scores.num_rows == 100 and "score" in scores.column_names
