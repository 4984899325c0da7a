"""What ``--help`` shows is what the help texts say: the help renderer reads rich markup, so a bracketed word
in a help text (``needmap[mlflow]``) must come out as written, not be taken for a style and dropped."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer.main
import typer.testing

from needmap.cli import app

COMMANDS: dict[str, click.Command] = typer.main.get_command(app).commands  # type: ignore[attr-defined]


def help_output(*args: str) -> str:
    """``needmap ARGS --help`` on one wide line per row, without the panels' box characters."""
    result = typer.testing.CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.output
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


def written_texts(command: click.Command) -> list[str]:
    """The texts ``--help`` shows as the code wrote them: the command's help and epilog and each parameter's
    help (a ``\\[`` escapes a bracket from the markup and reads as ``[``)."""
    texts = [command.help or "", command.epilog or ""]
    texts += [getattr(param, "help", None) or "" for param in command.params]
    return [" ".join(text.replace("\\[", "[").split()) for text in texts if text]


def bracketed(text: str) -> list[str]:
    """Each word of ``text`` with a ``[...]`` in it, as it must be shown (``needmap[mlflow]``)."""
    return re.findall(r"\S*\[[^\[\]]+\]", text)


def test_bracketed_finds_the_words_a_renderer_could_take_for_markup() -> None:
    assert bracketed("Log the run (needs needmap[mlflow]). Or [bold]this[/bold], [red]") == [
        "needmap[mlflow]",
        "[bold]this[/bold]",
        "[red]",
    ]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_bracketed_word_of_a_commands_help_texts_is_shown(name: str) -> None:
    shown = help_output(name)
    texts = written_texts(COMMANDS[name])
    missing = [word for text in texts for word in bracketed(text) if word not in shown]
    assert missing == [], f"needmap {name} --help drops {missing}"


def test_every_bracketed_word_of_the_main_help_is_shown() -> None:
    group = typer.main.get_command(app)
    texts = [" ".join((group.help or "").split()), *[" ".join((c.short_help or "").split()) for c in COMMANDS.values()]]
    shown = help_output()
    assert [word for text in texts for word in bracketed(text) if word not in shown] == []


def test_the_tracking_extra_is_named_in_the_help_of_train_and_tune() -> None:
    for name in ("train", "tune"):
        assert "needmap[mlflow]" in help_output(name), name


# -- messages and tables print names and paths as they are -------------------------------------------------------
def invoke(*args: str) -> tuple[int, str]:
    result = typer.testing.CliRunner().invoke(app, list(args), env={"COLUMNS": "1000"})
    return result.exit_code, " ".join(re.sub(r"[│┃╭╮╰╯─━┏┓┗┛┡┩└┘┌┐]", " ", result.output).split())


def test_an_error_keeps_the_brackets_of_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "campaign.csv"
    path.write_text("spend[eur],responded\n1,0\n2,1\n3,0\n", encoding="utf-8")
    code, output = invoke("schema", str(path), "--target", "responded", "--drop", "visits[7d]")
    assert code == 2 and output.startswith("error:"), output
    assert "'visits[7d]'" in output and "columns: spend[eur], responded" in output, output


def test_the_schema_table_shows_column_names_and_titles_with_brackets(tmp_path: Path) -> None:
    folder = tmp_path / "[2024]"
    folder.mkdir()
    path = folder / "campaign.csv"
    path.write_text("spend[eur],responded\n1,0\n2,1\n3,0\n4,1\n", encoding="utf-8")
    code, output = invoke("schema", str(path), "--target", "responded")
    assert code == 0, output
    assert "spend[eur]" in output and f"{path}:" in output, output


def test_the_tracking_error_names_the_extra_to_install(capsys: pytest.CaptureFixture[str]) -> None:
    """The message of a missing MLflow, as the command line prints every error."""
    from needmap.cli.base import friendly_errors
    from needmap.errors import ConfigError

    @friendly_errors
    def failing() -> None:
        raise ConfigError(
            "tracking a run needs MLflow, which is not installed; expected `pip install needmap[mlflow]`."
        )

    with pytest.raises(typer.Exit):
        failing()
    assert "pip install needmap[mlflow]" in capsys.readouterr().err
