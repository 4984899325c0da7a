"""``needmap recommend``: the k best items of each customer from a saved recommender."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from needmap.cli.base import app, console, friendly_errors, out_console
from needmap.cli.options import OutMode, Query, check_out, check_query, model_stamp, out_exists
from needmap.errors import ConfigError
from needmap.output_files import replaced_note


@app.command(
    epilog="Example: needmap recommend models/offers --customers customers.csv -k 10 --out offers.parquet; "
    "only what is in stock: --items items.csv --eligible in_stock; PostgreSQL: --customers "
    "'postgresql://me@db/crm?table=public.customers' --out 'postgresql://me@db/crm?table=public.offers'"
)
@friendly_errors
def recommend(
    model_dir: Path = typer.Argument(
        ..., metavar="MODEL", help="A recommender directory (written by needmap train for the recommend task)."
    ),
    customers: str = typer.Option(
        ...,
        "--customers",
        help="A file of customer ids (CSV / Parquet / JSON lines), or a PostgreSQL table "
        "(postgresql://user@host:port/db?table=schema.name; with --query, a URL naming the database).",
    ),
    out: str = typer.Option(
        ...,
        "--out",
        "-o",
        help="The recommendations: .parquet, .csv or .jsonl; or a PostgreSQL table, "
        "postgresql://user@host/db?table=schema.name (with the columns model, model_version and scored_at).",
    ),
    k: int = typer.Option(10, "-k", "--k", help="How many items per customer."),
    customer_column: str | None = typer.Option(
        None,
        "--customer",
        help="The column of --customers holding the ids (default: the model's customer column, "
        "else the file's first column).",
    ),
    keep_seen: bool = typer.Option(False, "--keep-seen", help="Also recommend what a customer already has."),
    allow: str | None = typer.Option(
        None, "--allow", help="A file (or PostgreSQL table) whose first column lists the only items allowed."
    ),
    items: str | None = typer.Option(
        None, "--items", help="An item table (a file or a PostgreSQL table), with --eligible."
    ),
    eligible: str | None = typer.Option(
        None, "--eligible", help="A true/false column of --items: only its true items are recommended (in stock)."
    ),
    backend: str = typer.Option("auto", "--backend", help="exact, faiss (retrieval networks), or auto."),
    query: str | None = Query,
    out_mode: str = OutMode,
) -> None:
    """Recommend the k best items to each customer: customer, rank, item, score. Customers the model has not
    seen get the most popular items."""
    from needmap.data.masking import redact
    from needmap.data.read import read
    from needmap.data.write import write_table
    from needmap.recommend.recommender import is_recommender, load_recommender

    check_out(out, out_mode)
    check_query(customers, query, "--customers")
    if not is_recommender(model_dir):
        raise ConfigError(
            f"{model_dir} is not a recommender directory (no recommender.json); expected one written by "
            "needmap train for the recommend task."
        )
    check_out(out, out_mode, customers=customers, allow=allow, items=items, model=model_dir)
    rec = load_recommender(model_dir)
    table = read(customers, sql=query)
    column = customer_column or table.column_names[0]
    if column not in table.column_names:
        raise ConfigError(
            f"{redact(customers)}: no column {column!r}; expected one of {', '.join(table.column_names)}."
        )
    allowed = read(allow).column(0).to_pylist() if allow else None
    ids = table.column(column).combine_chunks()
    result = rec.recommend(ids, k, keep_seen=keep_seen, allow=allowed, items=items, eligible=eligible,
                           item_column=None, backend=backend)  # fmt: skip
    unknown = int((rec.customer_index(ids) < 0).sum())
    if unknown:
        console.print(
            f"{unknown:,} of {len(ids):,} customers have no history in the model: they get the most popular items.",
            markup=False, highlight=False,
        )  # fmt: skip
    existed = out_exists(out)
    name, version = model_stamp(model_dir)
    path = write_table(result, out, mode=out_mode, model=name, version=version)
    written = "appended to" if out_mode == "append" else "written to"
    out_console.print(
        f"{result.num_rows:,} recommendations for {len(ids):,} customers {written} [bold]{escape(str(path))}[/]"
        f"{replaced_note(existed)}"
    )
