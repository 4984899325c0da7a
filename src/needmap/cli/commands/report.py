"""``needmap report``: one self-contained HTML page on a model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from needmap.cli.base import Delimiter, Encoding, app, friendly_errors, out_console, read_table
from needmap.cli.options import with_options
from needmap.data.read_options import ReadOptions
from needmap.errors import ConfigError
from needmap.output_files import refuse_overwriting_inputs, replaced_note


@app.command(epilog="Example: needmap report models/bank holdout.csv --out bank-report.html")
@friendly_errors
@with_options(ReadOptions)
def report(
    model_dir: Path = typer.Argument(..., help="Model directory written by 'needmap train'."),
    data: str | None = typer.Argument(None, help="Labelled rows to evaluate on too (curves, drift, importance)."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write."),
    title: str | None = typer.Option(None, help="The page's title (default: from the model directory)."),
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    options: Any = None,
) -> None:
    """One self-contained HTML page on a model: metrics, training, curves, the baselines and the verdict,
    the training data's profile; with DATA also drift, curves and permutation importance on it."""
    from needmap.recommend.recommender import is_recommender
    from needmap.report.build import build_report

    refuse_overwriting_inputs(out, "--out", model=model_dir, data=data)
    if is_recommender(model_dir):
        from needmap.report.build import build_recommender_report

        existed = out.exists()
        path = build_recommender_report(model_dir, data, out=out, title=title)
        out_console.print(f"report written to [bold]{escape(str(path))}[/]{replaced_note(existed)}")
        return
    from needmap.uplift.model import is_uplift

    if is_uplift(model_dir):
        from needmap.report.build import build_uplift_report

        if data is not None:
            raise ConfigError(
                f"an uplift model's report shows its test rows; DATA ({data}) is not read. Expected the model alone "
                "(needmap evaluate MODEL FILE judges it on other rows)."
            )
        existed = out.exists()
        path = build_uplift_report(model_dir, out=out, title=title)
        out_console.print(f"report written to [bold]{escape(str(path))}[/]{replaced_note(existed)}")
        return
    table = read_table(data, delimiter, encoding, options[ReadOptions]) if data is not None else None
    existed = out.exists()
    path = build_report(model_dir, table, out=out, title=title)
    out_console.print(
        f"report written to [bold]{escape(str(path))}[/]{replaced_note(existed)} "
        "(one file, no scripts: open it in any browser)"
    )
