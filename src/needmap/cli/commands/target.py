"""``needmap target``: whom to contact, with which offer, under a budget: the contact list."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from needmap.cli.base import app, console, friendly_errors, labelled, out_console
from needmap.cli.options import OutMode, Query, check_out, check_query, model_stamp, out_exists
from needmap.errors import ConfigError
from needmap.output_files import replaced_note


@app.command(
    epilog="Example: needmap target models/campaign customers.csv --budget 5000 --cost 0.5 --value 40 "
    "--out contacts.csv; a response model: needmap target models/buyers customers.csv --budget 5000 --out list.csv; "
    "PostgreSQL: needmap target models/campaign 'postgresql://me@db/crm?table=public.customers' --budget 5000 "
    "--out 'postgresql://me@db/crm?table=public.contacts'"
)
@friendly_errors
def target(
    model_dir: Path = typer.Argument(..., metavar="MODEL", help="An uplift model (or a response model) directory."),
    data: str = typer.Argument(
        ...,
        help="The customers to choose from: CSV / Parquet / JSON lines file, or a PostgreSQL table "
        "(postgresql://user@host:port/db?table=schema.name; with --query, a URL naming the database).",
    ),
    out: str = typer.Option(
        ...,
        "--out",
        "-o",
        help="The contact list: .parquet, .csv or .jsonl; or a PostgreSQL table, "
        "postgresql://user@host/db?table=schema.name (with the columns model, model_version and scored_at).",
    ),
    budget: int | None = typer.Option(None, "--budget", help="Contact exactly this many customers (the best)."),
    cost: float = typer.Option(0.0, "--cost", help="Cost of one contact (every offer, unless --cost-per-arm)."),
    value: float = typer.Option(
        1.0, "--value", help="Worth of one unit of the outcome: one conversion, or one unit of spend (a margin)."
    ),
    cost_per_arm: str | None = typer.Option(
        None,
        "--cost-per-arm",
        help="Cost of a contact per offer: discount=2.5,free_shipping=4.",
        metavar="OFFER=COST,...",
    ),
    max_contacts: int | None = typer.Option(
        None, "--max-contacts", help="Without --budget: contact at most this many of those with a positive gain."
    ),
    query: str | None = Query,
    out_mode: str = OutMode,
) -> None:
    """Choose for each customer the offer (or none) of largest expected incremental profit, value x uplift -
    cost, and keep the best under the budget: id columns, offer, predicted uplift, expected gain, rank.

    With a response model (a binary needmap model, not an uplift one) customers are ranked by value x P(buy) -
    cost, which is not causal: it says so."""
    from needmap.data.read import read
    from needmap.data.write import write_table
    from needmap.uplift.campaign_rows import names_of
    from needmap.uplift.contact_list import contact_table
    from needmap.uplift.model import is_uplift, load_uplift
    from needmap.uplift.options import number_pairs
    from needmap.uplift.target import choose_contacts, offer_costs, response_contacts

    check_out(out, out_mode, data=data, model=model_dir)
    check_query(data, query, "DATA")
    table = read(data, sql=query)
    if is_uplift(model_dir):
        predictor = load_uplift(model_dir)
        costs = offer_costs(
            predictor.offers,
            cost,
            number_pairs(cost_per_arm, "--cost-per-arm", "OFFER=COST", "discount=2.5") if cost_per_arm else {},
        )
        contacts = choose_contacts(predictor.effects(table), costs, value=value, budget=budget,
                                   max_contacts=max_contacts)  # fmt: skip
        ids = [c for c in names_of(predictor.params.get("id")) if c in table.column_names]
        result = contact_table(table, ids, contacts, predictor.offers)
    else:
        from needmap.estimator import load

        if cost_per_arm:
            raise ConfigError("--cost-per-arm needs an uplift model with offers; this is a response model.")
        loaded = load(model_dir)
        if loaded.schema_ is None or loaded.schema_.task != "binary":
            raise ConfigError(f"{model_dir} is neither an uplift model nor a binary response model; expected one.")
        contacts = response_contacts(loaded.predict_proba(table), cost, value=value, budget=budget,
                                     max_contacts=max_contacts)  # fmt: skip
        ids = [c for c in loaded.schema_.ids if c in table.column_names]
        result = contact_table(table, ids, contacts, ("contact",), uplift_name="probability")
        note = (
            "a response model ranks by the chance to buy, not by what the contact changes: the list includes "
            "customers who would buy anyway (an uplift model, trained on a randomized test, ranks by the change)."
        )
        console.print(labelled("note:", "yellow", note))
    if contacts.short:
        console.print(labelled("note:", "yellow", f"only {contacts.eligible:,} of {table.num_rows:,} customers have a "
                                                  f"positive expected gain: {len(contacts.rows):,} contacts, not the "
                                                  f"{budget:,} of the budget."))  # fmt: skip
    existed = out_exists(out)
    name, version = model_stamp(model_dir)
    path = write_table(result, out, mode=out_mode, model=name, version=version)
    total = float(contacts.gain.sum())
    written = "appended to" if out_mode == "append" else "written to"
    out_console.print(f"{result.num_rows:,} contacts of {table.num_rows:,} customers, expected gain {total:,.2f}, "
                      f"{written} [bold]{escape(str(path))}[/]{replaced_note(existed)}")  # fmt: skip
