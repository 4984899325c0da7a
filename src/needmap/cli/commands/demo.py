"""``needmap demo``: the main job on the bundled bank marketing data."""

from __future__ import annotations

from pathlib import Path

import typer

from needmap.cli.base import app, friendly_errors, out_console


@app.command(epilog="Example: needmap demo --out demo-output")
@friendly_errors
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", "-o", help="Folder for the model and the scores."),
    seed: int = typer.Option(0, help="Random seed of split and training."),
    epochs: int | None = typer.Option(None, help="Most epochs (default: the model's)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """The main job on the bundled UCI Bank Marketing data: schema, preprocessing, the MLP beside
    logistic regression on the same split, scores for the held-out customers, and a summary."""
    from needmap.demo import run_demo

    run_demo(out=out, seed=seed, epochs=epochs, quiet=quiet, console=out_console)
