"""``needmap profile``: a table's columns, one by one, as an HTML page (and JSON)."""

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


@app.command(epilog="Example: needmap profile bank.csv --target y --out bank-profile.html --json-out profile.json")
@friendly_errors
@with_options(ReadOptions)
def profile(
    data: str = typer.Argument(..., help="CSV / Parquet / JSON lines file."),
    out: Path = typer.Option(Path("profile.html"), "--out", "-o", help="The HTML file to write."),
    target: str | None = typer.Option(None, "--target", "-t", help="The outcome column: roles are inferred with it."),
    json_out: Path | None = typer.Option(None, "--json-out", help="Also write the profile to this JSON file."),
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    options: Any = None,
) -> None:
    """Profile a table: per column its role, missing values, distinct values, quantiles, histogram, top values."""
    from needmap.data.infer import infer_schema
    from needmap.report.build import build_profile_report

    refuse_overwriting_inputs(out, "--out", data=data)
    if json_out is not None:
        refuse_overwriting_inputs(json_out, "--json-out", data=data)
        if json_out.resolve() == out.resolve():
            raise ConfigError(f"--json-out '{json_out}' is the --out file; expected two files, e.g. profile.json.")
    table = read_table(data, delimiter, encoding, options[ReadOptions])
    sch = infer_schema(table, target) if target else None
    existed = out.exists(), json_out is not None and json_out.exists()
    path = build_profile_report(table, out=out, source=data, schema=sch, json_out=json_out)
    written = f"profile of {table.num_rows} rows written to [bold]{escape(str(path))}[/]"
    out_console.print(written + replaced_note(existed[0]))
    if json_out:
        out_console.print(f"profile JSON written to {json_out}{replaced_note(existed[1])}", markup=False)
