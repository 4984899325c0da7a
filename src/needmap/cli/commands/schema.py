"""``needmap schema``: each column's inferred role and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from needmap.cli.base import Config, Delimiter, Encoding, app, friendly_errors, out_console, read_table
from needmap.cli.options import options_with_file, with_options
from needmap.data.roles import ColumnRoles


@app.command(epilog="Example: needmap schema bank.csv --target y --drop duration")
@friendly_errors
@with_options(ColumnRoles)
def schema(
    data: str = typer.Argument(..., help="CSV / Parquet / JSON lines file."),
    config: Path | None = Config,
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    as_json: bool = typer.Option(False, "--json", help="Print the schema as JSON."),
    options: Any = None,
) -> None:
    """Show each column's inferred role (numeric, categorical, id, datetime, target, ignored) and why."""
    from needmap.display import schema_table
    from needmap.features.describe import describe_schema
    from needmap.features.roles_schema import schema_with_roles

    given, _, _ = options_with_file(options, config)
    table = read_table(data, delimiter, encoding)
    sch = schema_with_roles(table, **given[ColumnRoles])  # train's schema, without loading the networks
    if as_json:
        out_console.print_json(json.dumps(sch.to_dict()))
        return
    title = f"{data}: {table.num_rows} rows, {table.num_columns} columns"
    if sch.target:
        title += (
            f"; target '{sch.target}' ({sch.task}, classes {sch.classes})"
            if sch.classes
            else f"; target '{sch.target}' ({sch.task})"
        )
    out_console.print(schema_table(describe_schema(sch, table), title=title))
