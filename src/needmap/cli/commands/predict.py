"""``needmap predict``: score new rows with a saved model, a chunk at a time, written whole or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from needmap.cli.base import Delimiter, Encoding, app, console, friendly_errors, labelled, out_console, reading_notes
from needmap.cli.options import OutMode, Query, check_out, check_query, model_stamp, out_exists, with_options
from needmap.data.read_options import ReadOptions
from needmap.errors import ConfigError
from needmap.output_files import replaced_note


@app.command(
    epilog="Example: needmap predict models/bank new_customers.csv --out scores.parquet; an event log: "
    "needmap predict models/buyers --events events.parquet --as-of 2026-12-01 --out scores.csv; PostgreSQL: "
    "needmap predict models/bank 'postgresql://me@db/crm?table=public.customers' "
    "--out 'postgresql://me@db/crm?table=public.scores'"
)
@friendly_errors
@with_options(ReadOptions)
def predict(
    model_dir: Path = typer.Argument(..., help="Model directory written by 'needmap train'."),
    data: str | None = typer.Argument(
        None,
        help="Rows to score: CSV / Parquet / JSON lines file, or a PostgreSQL table "
        "(postgresql://user@host:port/db?table=schema.name; with --query, a URL naming the database).",
    ),
    out: str = typer.Option(
        ...,
        "--out",
        "-o",
        help="Scores file: .parquet, .csv or .jsonl; or a PostgreSQL table, "
        "postgresql://user@host/db?table=schema.name (with the columns model, model_version and scored_at).",
    ),
    events: str | None = typer.Option(
        None,
        "--events",
        help="Score the customers of this event log instead of a FILE of rows: its features are built as the "
        "model's training table's were (the model must be trained on the output of needmap features).",
        metavar="LOG",
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="With --events: the cutoff date; features use the events before it.", metavar="DATE"
    ),
    backend: str = typer.Option(
        "pytorch",
        "--backend",
        help="The network's scorer: pytorch, or onnxruntime (with --onnx, the graph that needmap export wrote).",
    ),
    onnx: Path | None = typer.Option(None, "--onnx", help="With --backend onnxruntime: the exported model.onnx."),
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    query: str | None = Query,
    out_mode: str = OutMode,
    options: Any = None,
) -> None:
    """Score new rows with a saved model; keeps the id columns, adds the score; writes atomically.

    Rows are scored in chunks of 100,000 (a Parquet file is read a chunk at a time, so files larger than
    memory score too). With --events LOG --as-of DATE, a model trained on a table built from an event log scores
    every customer of the log at that cutoff: one row per customer, its id as in the log, the cutoff, the scores.

    A PostgreSQL table (or --query) is read whole, then scored in chunks; scores written to PostgreSQL go in
    one transaction, stamped with the model's name and version and the time of scoring."""
    from needmap.data.postgres import is_postgres_url
    from needmap.estimator import load
    from needmap.workflows.predict import predict_stream

    check_out(out, out_mode)
    check_query(data, query, "DATA")
    if events is not None or as_of is not None:
        _predict_events(model_dir, data, events, as_of, out, out_mode)
        return
    if data is None:
        raise ConfigError("no rows to score; expected a FILE of rows, or --events LOG --as-of DATE.")
    check_out(out, out_mode, data=data, model=model_dir)
    if backend not in ("pytorch", "onnxruntime"):
        raise ConfigError(f"--backend {backend} is not a scorer; expected pytorch or onnxruntime.")
    if (backend == "onnxruntime") != (onnx is not None):
        raise ConfigError("--backend onnxruntime scores through an exported graph; expected --onnx FILE with it.")
    from needmap.uplift.model import is_uplift

    reading = options[ReadOptions]
    source: Any = data
    if is_postgres_url(data):
        from needmap.data.read import read

        with reading_notes():
            source = read(data, sql=query, **reading)
    if is_uplift(model_dir):
        _predict_uplift(model_dir, source, out, out_mode)
        return
    loaded = load(model_dir)
    if onnx is not None:
        from needmap.workflows.onnx import use_onnxruntime

        use_onnxruntime(loaded, onnx)
    existed = out_exists(out)
    with reading_notes():
        if is_postgres_url(out):
            written = _predict_to_database(loaded, model_dir, source, out, out_mode, delimiter, encoding, reading)
            path, rows, report = written
        else:
            path, rows, report = predict_stream(
                loaded, source, out, delimiter=delimiter, encoding=encoding, reading=reading
            )
    for note in [*report.get("notes", []), *transform_notes(report)]:
        console.print(labelled("note:", "yellow", note))
    out_console.print(f"{rows} rows scored, {_written(out_mode)} [bold]{escape(str(path))}[/]{replaced_note(existed)}")


def _written(out_mode: str) -> str:
    return "appended to" if out_mode == "append" else "written to"


def _predict_to_database(
    loaded: Any, model_dir: Path, source: Any, out: str, out_mode: str, delimiter: str | None, encoding: str,
    reading: dict[str, Any],
) -> tuple[Any, int, dict[str, Any]]:  # fmt: skip
    """Score in chunks as for a file (into a temporary Parquet file), then write the scores to the PostgreSQL
    table ``out`` in one transaction, stamped with the model's name and version."""
    import tempfile

    import pyarrow.parquet as pq

    from needmap.data.write import write_table
    from needmap.workflows.predict import predict_stream

    with tempfile.TemporaryDirectory(prefix="needmap-scores-") as folder:
        scored, rows, report = predict_stream(
            loaded, source, Path(folder) / "scores.parquet", delimiter=delimiter, encoding=encoding, reading=reading
        )
        scores = pq.read_table(scored)
    name, version = model_stamp(model_dir)
    return write_table(scores, out, mode=out_mode, model=name, version=version), rows, report


def _predict_uplift(model_dir: Path, data: Any, out: str, out_mode: str) -> None:
    """``needmap predict`` with an uplift model: the id columns, uplift_<offer> per offer, best_offer."""
    from needmap.data.read import read
    from needmap.data.write import write_table
    from needmap.uplift.model import load_uplift

    predictor = load_uplift(model_dir)
    existed = out_exists(out)
    with reading_notes():
        scores = predictor.predict(read(data))
    name, version = model_stamp(model_dir)
    path = write_table(scores, out, mode=out_mode, model=name, version=version)
    out_console.print(
        f"{scores.num_rows} rows scored (uplift of {', '.join(predictor.offers)} against {predictor.arms[0]}), "
        f"{_written(out_mode)} [bold]{escape(str(path))}[/]{replaced_note(existed)}"
    )


def _predict_events(
    model_dir: Path, data: str | None, events: str | None, as_of: str | None, out: str, out_mode: str
) -> None:
    """``needmap predict MODEL --events LOG --as-of DATE``: the log's customers scored at the cutoff."""
    from needmap.data.masking import redact
    from needmap.data.write import write_table
    from needmap.estimator import load

    if data is not None:
        raise ConfigError(
            f"both a FILE of rows ({redact(data)}) and --events were given; expected one: a FILE of rows to score, or "
            "--events LOG --as-of DATE to build the rows from an event log."
        )
    if events is None:
        raise ConfigError("--as-of sets the cutoff of --events; expected --events LOG with it.")
    if as_of is None:
        raise ConfigError("--events needs the cutoff to score at; expected --as-of DATE (e.g. --as-of 2026-12-01).")
    check_out(out, out_mode, events=events, model=model_dir)
    loaded = load(model_dir)
    if loaded.events_info is None:
        raise ConfigError(
            f"the model {model_dir} was not trained on a table built from an event log (it has no events.json), so "
            "it cannot build its inputs from --events; expected such a model, or a FILE of rows to score."
        )
    existed = out_exists(out)
    with reading_notes():
        scores = loaded.predict_events(events, as_of=as_of)
    name, version = model_stamp(model_dir)
    path = write_table(scores, out, mode=out_mode, model=name, version=version)
    out_console.print(
        f"{scores.num_rows} customers scored at {escape(as_of)}, {_written(out_mode)} [bold]{escape(str(path))}[/]"
        f"{replaced_note(existed)}"
    )


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
