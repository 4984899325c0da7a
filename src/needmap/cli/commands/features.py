"""``needmap features``: a behaviour log becomes a feature table, one row per customer and cutoff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from needmap.cli.base import app, friendly_errors, out_console
from needmap.cli.options import Query, check_query, with_options
from needmap.events.options import FeatureOptions
from needmap.output_files import refuse_overwriting_inputs, replaced_note


@app.command(
    epilog="Example: needmap features online_retail.parquet --customer CustomerID --time InvoiceDate "
    "--item StockCode --order InvoiceNo --amount 'Quantity * UnitPrice' --as-of 2011-01-01..2011-09-01/1m "
    "--out retail-features.parquet; online, one cutoff into Redis: ... --as-of 2011-12-01 --no-labels "
    "--to redis://127.0.0.1:6379/0 --ttl 30d"
)
@friendly_errors
@with_options(FeatureOptions)
def features(
    events: str = typer.Argument(
        ...,
        help="The event log: CSV / Parquet / JSON lines file, or a PostgreSQL table "
        "(postgresql://user@host:port/db?table=schema.name; with --query, a URL naming the database).",
    ),
    customer: str = typer.Option(..., "--customer", help="The column naming the customer."),
    time: str = typer.Option(..., "--time", help="The event's time: timestamp, date, ISO text or epoch seconds."),
    as_of: list[str] = typer.Option(
        ..., "--as-of", help="A cutoff date (repeatable), or a monthly range START..END/1m."
    ),
    out: str | None = typer.Option(
        None,
        "--out",
        "-o",
        help="The feature table: .parquet, .csv or .jsonl, or a PostgreSQL table "
        "(postgresql://user@host:port/db?table=schema.name), replaced in one transaction.",
    ),
    to: str | None = typer.Option(
        None,
        "--to",
        help="Also (or instead) write each customer's features to Redis, one hash per customer: "
        "redis://HOST:PORT/DB (redis://:PASSWORD@HOST:PORT/DB); one --as-of only.",
        metavar="URL",
    ),
    ttl: str | None = typer.Option(
        None,
        "--ttl",
        help="With --to: the keys expire after this many days (30, 30d, 4w); default: never.",
        metavar="DAYS",
    ),
    like: Path | None = typer.Option(
        None,
        "--like",
        help="A model directory trained on features of a log: its event types and categories are kept, so the "
        "features have its definitions (and, with --to, the version it reads from Redis).",
        metavar="MODEL",
    ),
    query: str | None = Query,
    *,
    options: dict[Any, dict[str, Any]],
) -> None:
    """Build a feature table from an event log: features from events before each cutoff, labels after it."""
    from needmap.events.api import features as build
    from needmap.events.table_info import info_of
    from needmap.events.write import write_features

    check_query(events, query, "EVENTS")
    where = _check_destinations(out, to, ttl, as_of)
    from needmap.data.postgres import is_postgres_url

    to_table = out is not None and is_postgres_url(out)
    if out is not None and not to_table:
        refuse_overwriting_inputs(Path(out), "--out", data=events)
    described = _model_definitions(like) if like is not None else None
    table = build(events, sql=query, customer=customer, time=time, as_of=as_of, like=described, progress=True,
                  **options[FeatureOptions])  # fmt: skip
    info = info_of(table)
    for line in summary_lines(table, info):
        out_console.print(line, markup=False, highlight=False)
    if to_table:
        from needmap.data.write import write_table

        shown = write_table(table, out)  # the description travels as the table's comment
        out_console.print(f"{table.num_rows:,} rows written to {shown}", markup=False, highlight=False, soft_wrap=True)
    elif out is not None:
        existed = Path(out).exists()
        path = write_features(table, Path(out))
        out_console.print(f"{table.num_rows:,} rows written to [bold]{escape(str(path))}[/]{replaced_note(existed)}")
    if to is not None:
        from needmap.events.redis_write import write_online_features

        done = write_online_features(table, to, ttl=ttl, progress=True)
        expiry = f", expiring in {done.ttl_days} days" if done.ttl_days else ""
        out_console.print(
            f"{done.rows:,} customers written to Redis at {where} in {done.seconds:.1f} s: version {done.version}, "
            f"keys {done.key_pattern}{expiry}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _model_definitions(model: Path) -> Any:
    """The feature definitions saved with the model directory ``model`` (``--like``); ConfigError for a model
    trained on another kind of table."""
    from needmap.errors import ConfigError
    from needmap.estimator import load

    if not model.is_dir():
        raise ConfigError(f"--like {model} is not a model directory; expected one written by needmap train on a "
                          "table that needmap features built.")  # fmt: skip
    info = getattr(load(model), "events_info", None)
    if info is None:
        raise ConfigError(f"--like {model}: the model was not trained on features of an event log; expected a model "
                          "directory written by needmap train on a table that needmap features built.")  # fmt: skip
    return info


def _check_destinations(out: str | None, to: str | None, ttl: str | None, as_of: list[str]) -> str | None:
    """Refuse, before the build, what cannot be written: no destination, --ttl without --to, several cutoffs
    for Redis, a Redis server that does not answer. Returns the Redis URL as it may be printed."""
    from needmap.errors import ConfigError

    if out is None and to is None:
        raise ConfigError("no destination given; expected --out FILE, --to redis://HOST:PORT/DB, or both.")
    if to is None:
        if ttl is not None:
            raise ConfigError("--ttl is given without --to; expected --to redis://HOST:PORT/DB with it.")
        return None
    from needmap.events.durations import expand_cutoffs, iso, parse_days
    from needmap.events.redis_features import check_server

    if ttl is not None:
        parse_days(ttl, "--ttl")
    cutoffs = expand_cutoffs(as_of)
    if len(cutoffs) > 1:
        shown = ", ".join(iso(c) for c in cutoffs[:3]) + (", ..." if len(cutoffs) > 3 else "")
        raise ConfigError(
            f"--as-of gives {len(cutoffs)} cutoffs ({shown}), but --to holds one row per customer; expected one "
            "--as-of with --to (write several cutoffs with --out alone)."
        )
    return check_server(to)


def summary_lines(table: Any, info: Any) -> list[str]:
    """Rows, customers and the label base rate per cutoff, then the bad rows by reason."""
    from datetime import datetime

    import pyarrow as pa
    import pyarrow.compute as pc

    from needmap.events.table_info import LABEL_BOUGHT

    lines = []
    cutoffs = table.column(info.cutoff_column)
    for text in info.as_of:
        at = pa.scalar(datetime.fromisoformat(text), cutoffs.type)
        rows = table.filter(pc.equal(cutoffs, at))
        line = f"cutoff {text}: {rows.num_rows:,} customers"
        if LABEL_BOUGHT in info.labels and rows.num_rows:
            rate = pc.mean(rows.column(LABEL_BOUGHT)).as_py()
            line += f", bought in the next {info.spec.horizon_days} days: {rate:.1%}"
        lines.append(line)
    customers = pc.count_distinct(table.column(info.customer_column)).as_py() if table.num_rows else 0
    lines.append(f"{customers:,} distinct customers over {len(info.as_of)} cutoffs")
    if info.bad_rows:
        shown = ", ".join(f"{reason}: {count:,}" for reason, count in info.bad_rows.items())
        lines.append(f"bad rows left out: {shown}")
    else:
        lines.append("bad rows left out: none")
    return lines
