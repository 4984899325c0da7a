"""``needmap export``: the model's network as ONNX, with the JSON contract of its inputs and outputs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from needmap.cli.base import app, friendly_errors, out_console
from needmap.errors import ConfigError

FORMATS = ("onnx",)


@app.command(epilog="Example: needmap export models/bank --format onnx --out models/bank-onnx")
@friendly_errors
def export(
    model_dir: Path = typer.Argument(..., metavar="MODEL", help="A model directory written by 'needmap train'."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="The directory to write model.onnx, contract.json and contract.mjs to."
    ),
    format: str = typer.Option("onnx", "--format", help="The format: onnx."),
    check: str | None = typer.Option(
        None,
        "--check",
        help="Rows (CSV / Parquet / JSON lines) scored by both PyTorch and ONNX Runtime after the "
        "export; the export fails if they differ by more than 1e-5 (default: 64 rows of zeros).",
    ),
) -> None:
    """Export the network as an ONNX graph (dynamic batch) and the JSON contract that turns raw rows into its
    inputs (the fitted preprocessor) and its outputs into scores (each head's task and scaling, the
    calibrator), with contract.mjs, the contract in plain JavaScript."""
    from needmap.estimator import load
    from needmap.workflows.onnx import CONTRACT_FILE, REFERENCE_FILE, export_onnx, scorers

    if format not in FORMATS:
        raise ConfigError(f"--format {format} is not one needmap exports; expected one of {', '.join(FORMATS)}.")
    loaded = load(model_dir)
    if not hasattr(loaded, "network_"):
        raise ConfigError(f"{model_dir} is not a model of a table (one trained on a target column); expected one.")
    path = export_onnx(loaded, out, check_rows=check)
    out_console.print(f"exported to [bold]{escape(str(path))}[/] with {CONTRACT_FILE} and {REFERENCE_FILE} beside it")
    for chosen in scorers(loaded):
        if chosen["scorer"] != "network":
            out_console.print(
                f"note: for target '{escape(chosen['target'])}' the model answers with {escape(chosen['scorer'])} "
                "(the verdict's choice), not its network: the graph gives the network's scores, which differ "
                "from needmap predict's there."
            )
