"""``needmap explain``: the reasons of each customer's score, as sentences a marketer can read."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from needmap.cli.base import app, friendly_errors, out_console
from needmap.errors import ConfigError
from needmap.output_files import refuse_overwriting_inputs, replaced_note


@app.command(
    epilog="Example: needmap explain models/bank customers.csv --top 5 --background bank.csv --out reasons.parquet"
)
@friendly_errors
def explain(
    model_dir: Path = typer.Argument(..., metavar="MODEL", help="A model directory written by 'needmap train'."),
    data: str = typer.Argument(..., help="The rows to explain: CSV / Parquet / JSON lines file."),
    out: Path = typer.Option(..., "--out", "-o", help="The reasons: .parquet, .csv or .jsonl."),
    top: int = typer.Option(5, "--top", help="Columns per customer that raise the score, and as many that lower it."),
    background: str | None = typer.Option(
        None,
        "--background",
        help="The population: its means and most frequent categories make the reference "
        "row, and values are compared with it (default: the rows the model was fitted on, as the model saved them; "
        "for a model saved without them, the rows explained).",
    ),
    k: int = typer.Option(10, "-k", "--k", help="For a recommender: the items per customer whose reasons are given."),
) -> None:
    """Why each customer got their score: the columns that raise it and that lower it (Integrated Gradients
    summed to the columns), each with the customer's value and how it compares with the population. One row per
    reason: id columns, rank, effect, column, value, compared, attribution, reason. For an uplift model, the
    reasons of each customer's best offer (offer beside the ids); for a recommender (FILE: customer ids), each
    recommended item with the history items that add most to its score (because, reason)."""
    from needmap.data.read import read
    from needmap.data.write import WRITABLE, write_table
    from needmap.estimator import load

    if out.suffix.lower() not in WRITABLE:
        raise ConfigError(f"--out '{out}' has an unsupported extension; expected one of {', '.join(WRITABLE)}.")
    if top < 1:
        raise ConfigError(f"--top is {top}; expected at least 1 column per customer.")
    refuse_overwriting_inputs(out, "--out", data=data, model=model_dir)
    loaded = load(model_dir)
    if not hasattr(loaded, "explain"):
        raise ConfigError(f"{model_dir} is not a model needmap can explain; expected a directory of needmap train.")
    table = read(data)
    if hasattr(loaded, "recommend"):  # a recommender: FILE holds customer ids, the reasons are history items
        if background is not None:
            raise ConfigError("--background sets the population of a model of a table or an uplift model; a "
                              f"recommender's reasons are items of each customer's history ({model_dir}).")  # fmt: skip
        if k < 1:
            raise ConfigError(f"-k is {k}; expected at least 1 item per customer.")
        name = loaded.columns_.get("customer")
        column = name if name in table.column_names else table.column_names[0]
        reasons = loaded.explain(table.column(column), k, top=top)
    else:
        reasons = loaded.explain(table, top=top, background=read(background) if background else None)
    existed = out.exists()
    path = write_table(reasons, out)
    out_console.print(
        f"{reasons.num_rows:,} reasons for {table.num_rows:,} rows written to [bold]{escape(str(path))}[/]"
        f"{replaced_note(existed)}"
    )
