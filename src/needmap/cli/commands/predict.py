"""``needmap predict``: score new rows with a saved model, a chunk at a time, written whole or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from needmap.cli.base import Delimiter, Encoding, app, console, friendly_errors, labelled, out_console, reading_notes
from needmap.cli.options import with_options
from needmap.data.read_options import ReadOptions
from needmap.errors import ConfigError
from needmap.output_files import refuse_overwriting_inputs, replaced_note


@app.command(epilog="Example: needmap predict models/bank new_customers.csv --out scores.parquet")
@friendly_errors
@with_options(ReadOptions)
def predict(
    model_dir: Path = typer.Argument(..., help="Model directory written by 'needmap train'."),
    data: str = typer.Argument(..., help="Rows to score: CSV / Parquet / JSON lines file."),
    out: Path = typer.Option(..., "--out", "-o", help="Scores file: .parquet, .csv or .jsonl."),
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    options: Any = None,
) -> None:
    """Score new rows with a saved model; keeps the id columns, adds the score; writes atomically.

    Rows are scored in chunks of 100,000 (a Parquet file is read a chunk at a time, so files larger than
    memory score too)."""
    from needmap.data.write import WRITABLE
    from needmap.estimator import load
    from needmap.workflows.predict import predict_stream

    if out.suffix.lower() not in WRITABLE:
        raise ConfigError(f"--out '{out}' has an unsupported extension; expected one of {', '.join(WRITABLE)}.")
    refuse_overwriting_inputs(out, "--out", data=data, model=model_dir)
    loaded = load(model_dir)
    existed = out.exists()
    with reading_notes():
        path, rows, report = predict_stream(
            loaded, data, out, delimiter=delimiter, encoding=encoding, reading=options[ReadOptions]
        )
    for note in [*report.get("notes", []), *transform_notes(report)]:
        console.print(labelled("note:", "yellow", note))
    out_console.print(f"{rows} rows scored, written to [bold]{escape(str(path))}[/]{replaced_note(existed)}")


def transform_notes(report: dict[str, Any]) -> list[str]:
    """Plain sentences for what preprocessing had to repair in the rows just scored."""
    notes = []
    rows = report.get("rows", 0)
    for name, col in (report.get("columns") or {}).items():
        if col.get("unparseable"):
            notes.append(f"{col['unparseable']} of {rows} values of '{name}' were not numbers; scored as missing.")
        if col.get("oov"):
            notes.append(
                f"{col['oov']} of {rows} rows have a category of '{name}' unseen in training (out-of-vocabulary id)."
            )
    return notes
