"""An event log made available to an embedded DuckDB as the view ``raw_log``, out of core where it can be.

A Parquet, CSV or JSON-lines file is scanned by DuckDB itself (``read_parquet``, ``read_csv``,
``read_json_auto``): the log is never loaded into Python memory, and DuckDB spills to a temporary
directory beyond its ``memory_limit``. A pandas or polars frame or an Arrow table is registered with
DuckDB as it is; with ``sql=``, the query becomes the view (run in the connection given as the source,
if any, and its result handed over as Arrow).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from needmap.errors import ConfigError, DataError
from needmap.events import defaults

DEFAULT_MEMORY_LIMIT = defaults.MEMORY_LIMIT
VIEW = "raw_log"
_TEXT = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
_JSON = {".jsonl", ".ndjson", ".json"}


def quote(name: str) -> str:
    """``name`` as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """``value`` as a DuckDB text literal."""
    return "'" + value.replace("'", "''") + "'"


def connect(memory_limit: str | None) -> tuple[Any, str]:
    """A fresh in-memory DuckDB with ``memory_limit`` (default :data:`DEFAULT_MEMORY_LIMIT`), a temporary
    directory to spill to (returned with it; the caller removes it), and UTC as its time zone (times with a
    zone become UTC)."""
    import duckdb

    limit = memory_limit or DEFAULT_MEMORY_LIMIT
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", limit, re.IGNORECASE):
        raise ConfigError(f"memory_limit is {limit!r}; expected an amount such as '2GB' or '512MB'.")
    con = duckdb.connect()
    spill = tempfile.mkdtemp(prefix="needmap-duckdb-")
    con.execute(f"SET memory_limit = {literal(limit)}")
    con.execute(f"SET temp_directory = {literal(spill)}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = true")
    return con, spill


def register(con: Any, source: Any, sql: str | None, customer: str) -> str:
    """Make ``source`` the view :data:`VIEW` of ``con``; returns a label naming it for messages."""
    import duckdb

    from needmap.data.postgres import is_postgres_url

    if isinstance(source, str) and is_postgres_url(source):  # a PostgreSQL table or query, read into Arrow
        from needmap.data.masking import redact
        from needmap.data.postgres_read import read_postgres

        con.register(VIEW, read_postgres(source, query=sql))
        return f"PostgreSQL {redact(source)}" + ("" if sql is None else " (a query)")
    if sql is not None:
        if source is not None and not isinstance(source, duckdb.DuckDBPyConnection):
            raise ConfigError(
                f"with sql=, the source must be None or a DuckDB connection, found {type(source).__name__}."
            )
        shown = " ".join(sql.split())
        label = f"DuckDB query: {shown if len(shown) <= 120 else shown[:117] + '...'}"
        try:
            if source is None:
                con.execute(f"CREATE VIEW {VIEW} AS {sql}")
            else:
                con.register(VIEW, source.sql(sql).to_arrow_table())
        except duckdb.Error as err:
            raise DataError(f"DuckDB could not run the query: {_first_line(err)} ({label})") from None
        return label
    if isinstance(source, (str, os.PathLike)):
        return _register_file(con, Path(source), customer)
    import pyarrow as pa

    if isinstance(source, (pa.Table, pa.RecordBatch)) or _is_frame(source):
        con.register(VIEW, source)
        return f"{type(source).__module__.split('.')[0]} {type(source).__name__}"
    from needmap.data.read import read

    table = read(source)
    con.register(VIEW, table)
    return type(source).__name__


def _register_file(con: Any, path: Path, customer: str) -> str:
    import duckdb

    if not path.is_file():
        raise DataError(f"{path}: no such file; expected a CSV, Parquet or JSON-lines event log.")
    suffixes = [s.lower() for s in path.suffixes]
    suffix = suffixes[-2] if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1 else (suffixes or [""])[-1]
    where = literal(str(path))
    try:
        if _TEXT.get(suffix) == "parquet":
            con.execute(f"CREATE VIEW {VIEW} AS SELECT * FROM read_parquet({where})")
        elif _TEXT.get(suffix) == "csv":
            types = _csv_text_ids(con, where, customer)
            con.execute(f"CREATE VIEW {VIEW} AS SELECT * FROM read_csv({where}{types})")
        elif suffix in _JSON:
            con.execute(f"CREATE VIEW {VIEW} AS SELECT * FROM read_json_auto({where}, format='newline_delimited')")
        else:
            raise DataError(
                f"{path}: unsupported extension {suffix or '(none)'!r}; expected .csv, .tsv, .txt, .parquet, .pq, "
                ".jsonl, .ndjson or .json (JSON lines), text formats also gzipped"
            )
        con.execute(f"SELECT * FROM {VIEW} LIMIT 0").fetchall()
    except duckdb.Error as err:
        raise DataError(f"{path}: DuckDB could not read the file: {_first_line(err)}") from None
    return str(path)


def _csv_text_ids(con: Any, where: str, customer: str) -> str:
    """``, types = {customer: VARCHAR}`` when the CSV's customer ids are codes with a leading zero ("007"),
    which a number would lose; else nothing (the type DuckDB detects)."""
    import duckdb

    column = quote(customer)
    try:
        found = con.execute(
            f"SELECT count(*) FROM read_csv({where}, all_varchar = true) "
            f"WHERE regexp_matches(trim({column}), '^[+-]?0[0-9]')"
        ).fetchall()[0]
    except duckdb.Error:  # the column is missing: the check of the columns names it
        return ""
    return f", types = {{{literal(customer)}: 'VARCHAR'}}" if found and found[0] else ""


def _is_frame(obj: Any) -> bool:
    for module, cls in (("pandas", "DataFrame"), ("polars", "DataFrame")):
        mod = sys.modules.get(module)
        if mod is not None and isinstance(obj, getattr(mod, cls)):
            return True
    return False


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def duckdb_message(err: Exception) -> str:
    """The first line of DuckDB's error, and what to do when it ran out of memory."""
    first = _first_line(err)
    if "out of memory" in first.lower():
        return f"{first} Give DuckDB more memory (memory_limit, --memory-limit)."
    return first
