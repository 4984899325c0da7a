"""The good events of a log in one DuckDB table ``events``, and the bad rows counted by reason.

``events`` has one row per good event: ``rid`` (its position in the log: DuckDB keeps the insertion order),
``cust`` (the customer, as in the log), ``ts`` (a naive timestamp), ``item``, ``etype``, ``cat`` (text or
null), ``amount`` (a decimal of 9 places, or null: sums of decimals are exact, so a table is the same
whatever order DuckDB's threads add in), ``occ`` (the purchase occasion: the order as text when an order
column is given, else the time), ``is_purchase`` and ``is_return``.

A row is bad, and counted under the first reason that fits, when its customer is missing, its time is
missing, its time cannot be read, or (when an amount is given) its amount is missing or not a finite
number. Times: a timestamp (with a zone: taken in UTC), a date (midnight), ISO text (``2011-01-04``,
``2011-01-04 10:15:00``, ``2011-01-04T10:15:00+01:00``: taken in UTC; empty text is a missing time), or a
number of seconds since 1970-01-01 UTC (integer or float, as MovieLens' ``u.data`` holds).
"""

from __future__ import annotations

import re
from typing import Any

from needmap.errors import ConfigError, DataError
from needmap.events.source import VIEW, duckdb_message, literal, quote
from needmap.events.table_info import EventSpec

REASONS: tuple[str, ...] = ("missing customer", "missing time", "unparseable time", "missing amount")
_EPOCH_RANGE = "BETWEEN -62135596800 AND 253402300799"
#: Used only where DuckDB's parser cannot be asked (its json extension missing): words that could start a query.
_FORBIDDEN = re.compile(r";|\b(select|from|with|union|copy|attach|pragma|install|load)\b", re.IGNORECASE)


def columns_of(con: Any) -> dict[str, str]:
    """Name -> DuckDB type of the log's columns."""
    return {row[0]: str(row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {VIEW}").fetchall()}


def check_columns(spec: EventSpec, order: str | None, columns: dict[str, str], label: str) -> None:
    """Every column the spec names is in the log, else a ConfigError naming it and the columns there."""
    import difflib

    named = {"customer": spec.customer, "time": spec.time, "item": spec.item, "event": spec.event}
    named.update({"category": spec.category, "order": order})
    for role, name in named.items():
        if name is not None and name not in columns:
            close = difflib.get_close_matches(name, list(columns), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{label}: the {role} column {name!r} is not in the log; expected one of {', '.join(columns)}.{hint}"
            )


def time_expression(name: str, kind: str, label: str) -> str:
    """SQL giving a naive TIMESTAMP (null when unreadable) from column ``name`` of DuckDB type ``kind``."""
    col = quote(name)
    upper = kind.upper()
    if upper.startswith("TIMESTAMP") or upper == "DATE":
        return f"CAST({col} AS TIMESTAMP)"
    if upper in {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}:
        return f"CASE WHEN {col} {_EPOCH_RANGE} THEN make_timestamp(CAST({col} AS BIGINT) * 1000000) END"
    if upper in {"FLOAT", "DOUBLE"} or upper.startswith("DECIMAL"):
        value = f"CAST({col} AS DOUBLE)"
        return (
            f"CASE WHEN NOT isnan({value}) AND {value} {_EPOCH_RANGE} "
            f"THEN make_timestamp(CAST(round({value} * 1000000) AS BIGINT)) END"
        )
    if upper == "VARCHAR":
        return f"CAST(TRY_CAST(trim({col}) AS TIMESTAMPTZ) AS TIMESTAMP)"  # an offset taken into account: UTC
    raise ConfigError(
        f"{label}: the time column {name!r} has type {kind}; expected a timestamp, a date, ISO text or "
        "seconds since 1970 (a number)."
    )


def amount_expression(con: Any, amount: str, label: str) -> str:
    """``amount`` (a column, or a single SQL expression over columns) checked against the log, as SQL."""
    import duckdb

    columns = columns_of(con)
    if amount in columns:
        return f"CAST({quote(amount)} AS DOUBLE)"
    if not _single_expression(con, amount):
        raise ConfigError(
            f"amount {amount!r} is not a single expression over the log's columns (no ';', no subquery); "
            "expected a column or an expression such as 'Quantity * UnitPrice'."
        )
    expression = f"CAST(({amount}) AS DOUBLE)"
    try:
        con.execute(f"SELECT {expression} FROM {VIEW} LIMIT 0").fetchall()
    except duckdb.Error as err:
        text = str(err)
        unknown = re.search(r'column "?([^"\s]+)"? not found', text, re.IGNORECASE) or re.search(
            r'Referenced column "([^"]+)"', text
        )
        if unknown:
            raise ConfigError(
                f"{label}: amount {amount!r} names column {unknown.group(1)!r}, which is not in the log; "
                f"expected a column or an expression over {', '.join(columns)}."
            ) from None
        first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
        raise ConfigError(
            f"{label}: amount {amount!r} is not an expression DuckDB can compute over the log ({first}); "
            "expected a column or an expression such as 'Quantity * UnitPrice'."
        ) from None
    return expression


def _single_expression(con: Any, amount: str) -> bool:
    """Whether ``amount`` parses as one expression with no subquery: DuckDB's parser reads
    ``SELECT (amount)``, which must be one statement, one selected expression, no FROM clause and no
    subquery anywhere (so ``extract(hour FROM ts)`` passes and ``(FROM t SELECT 1)`` does not)."""
    import json

    import duckdb

    try:
        found = con.execute(f"SELECT json_serialize_sql({literal(f'SELECT ({amount})')})").fetchall()[0][0]
    except duckdb.Error:  # no json extension: a stricter check of the words
        return _FORBIDDEN.search(amount) is None
    tree = json.loads(found)
    statements = tree.get("statements") or []
    if tree.get("error"):  # a syntax error: DuckDB's own message says where, when the expression is run
        return ";" not in amount
    if len(statements) != 1:
        return False
    node = statements[0].get("node", {})
    if len(node.get("select_list", [])) != 1 or (node.get("from_table") or {}).get("type") != "EMPTY":
        return False
    return '"SUBQUERY"' not in found and node.get("type") == "SELECT_NODE"


def stage(con: Any, spec: EventSpec, order: str | None, label: str) -> dict[str, int]:
    """Create the table ``events`` of the good events; returns the bad rows by reason (zero counts left out)."""
    import duckdb

    columns = columns_of(con)
    check_columns(spec, order, columns, label)
    cust = quote(spec.customer)
    time_null = f"{quote(spec.time)} IS NULL"
    if columns[spec.time].upper() == "VARCHAR":
        time_null += f" OR trim({quote(spec.time)}) = ''"
    missing_cust = f"{cust} IS NULL"
    if columns[spec.customer].upper() in {"FLOAT", "DOUBLE"}:
        missing_cust += f" OR isnan({cust})"
    ts = time_expression(spec.time, columns[spec.time], label)
    amount = amount_expression(con, spec.amount, label) if spec.amount else "CAST(NULL AS DOUBLE)"
    missing_amount = "amount IS NULL OR NOT isfinite(amount)" if spec.amount else "false"

    def text(name: str | None) -> str:
        return f"CAST({quote(name)} AS VARCHAR)" if name else "CAST(NULL AS VARCHAR)"

    occ = f"coalesce({text(order)}, CAST(ts AS VARCHAR))" if order else "CAST(ts AS VARCHAR)"
    if spec.purchase_events and spec.event:
        chosen = ", ".join(literal(v) for v in spec.purchase_events)
        kind = f"coalesce(etype IN ({chosen}), false)"
    else:
        kind = "true"
    returned = "coalesce(amount < 0, false)" if spec.amount else "false"
    try:
        con.execute(
            f"""
            CREATE TEMP TABLE staged AS
            SELECT *, CASE WHEN cust_null THEN 'missing customer' WHEN time_null THEN 'missing time'
                           WHEN ts IS NULL THEN 'unparseable time' WHEN {missing_amount} THEN 'missing amount'
                      END AS reason
            FROM (SELECT {cust} AS cust, ({time_null}) AS time_null, {ts} AS ts, {amount} AS amount,
                         {text(spec.item)} AS item, {text(spec.event)} AS etype, {text(spec.category)} AS cat,
                         {text(order)} AS order_text, ({missing_cust}) AS cust_null
                  FROM {VIEW})
            """
        )
        counts = dict(
            con.execute("SELECT reason, count(*) FROM staged WHERE reason IS NOT NULL GROUP BY reason").fetchall()
        )
        con.execute(
            f"""
            CREATE TEMP TABLE events AS
            SELECT rowid AS rid, cust, ts, CAST(amount AS DECIMAL(38, 9)) AS amount, item, etype, cat,
                   {occ.replace(text(order), "order_text")} AS occ,
                   ({kind}) AND NOT {returned} AS is_purchase, {returned} AS is_return
            FROM staged WHERE reason IS NULL
            """
        )
        con.execute("DROP TABLE staged")
    except duckdb.Error as err:
        raise DataError(f"{label}: DuckDB could not read the events: {duckdb_message(err)}") from None
    return {reason: int(counts[reason]) for reason in REASONS if counts.get(reason)}
