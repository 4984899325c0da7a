"""``needmap schema``: each column's inferred role and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from needmap.cli.base import Config, Delimiter, Encoding, app, friendly_errors, out_console, read_table
from needmap.cli.options import options_with_file, with_options
from needmap.data.read_options import ReadOptions
from needmap.data.roles import ColumnRoles


@app.command(epilog="Example: needmap schema bank.csv --target y --drop duration")
@friendly_errors
@with_options(ColumnRoles, ReadOptions)
def schema(
    data: str = typer.Argument(..., help="CSV / Parquet / JSON lines file."),
    config: Path | None = Config,
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    as_json: bool = typer.Option(False, "--json", help="Print the schema as JSON."),
    options: Any = None,
) -> None:
    """Show each column's inferred role (numeric, categorical, id, datetime, target, ignored) and why."""
    from needmap.data.text_cells import cleaned_of
    from needmap.display import schema_table
    from needmap.preprocessing.describe import describe_schema
    from needmap.preprocessing.roles_schema import schema_with_roles

    reading = options.pop(ReadOptions)
    given, _, _ = options_with_file(options, config)
    table = read_table(data, delimiter, encoding, reading)
    sch = schema_with_roles(table, **given[ColumnRoles])  # train's schema, without loading the networks
    cleaned = cleaned_of(table)
    if as_json:
        out_console.print_json(json.dumps({**sch.to_dict(), "read": cleaned}))
        return
    title = f"{data}: {table.num_rows} rows, {table.num_columns} columns"
    if sch.target:
        title += (
            f"; target '{sch.target}' ({sch.task}, classes {sch.classes})"
            if sch.classes
            else f"; target '{sch.target}' ({sch.task})"
        )
    out_console.print(schema_table(describe_schema(sch, table), title=title))
    for line in cleaning_lines(cleaned):
        out_console.print(line, highlight=False)


def cleaning_lines(cleaned: dict[str, dict[str, int]]) -> list[str]:
    """One plain line per column whose text values the reader stripped or read as missing."""
    lines = []
    for name, counts in cleaned.items():
        parts = []
        if counts.get("stripped"):
            parts.append(f"{counts['stripped']} values stripped of spaces")
        if counts.get("missing"):
            parts.append(f"{counts['missing']} missing markers or empty values read as missing")
        if parts:
            lines.append(f"read '{name}': {', '.join(parts)}")
    if lines:
        lines.append("(turn these off with --no-strip / --missing none; set the markers with --missing '?,NA')")
    return lines
