"""``needmap features`` end to end on a small log file: the table, its description, the summary, errors."""

from __future__ import annotations

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cli_run import run_cli
from hand_event_log import log_table
from needmap.events.table_info import LABELS, FeatureTableInfo, info_of, sidecar_path

ARGS = [
    "--customer", "customer", "--time", "time", "--item", "item", "--event", "event", "--amount", "amount",
    "--category", "category", "--order", "order_id", "--purchase-events", "purchase", "--windows", "7,30",
    "--horizon", "10d", "--top-categories", "2", "--last-items", "3", "--as-of", "2024-01-15", "--as-of", "2024-01-25",
]  # fmt: skip


def test_writes_parquet_with_its_description_and_prints_a_summary(tmp_path):
    log = tmp_path / "log.csv"
    table = log_table()
    pacsv.write_csv(table.set_column(0, "customer", table.column("customer")), log)
    code, output = run_cli("features", log, *ARGS, "--out", tmp_path / "features.parquet")
    assert code == 0, output
    written = pq.read_table(tmp_path / "features.parquet")
    info = info_of(written)
    assert info.as_of == ("2024-01-15", "2024-01-25") and info.labels == LABELS
    assert written.num_rows == 5
    assert "cutoff 2024-01-15: 2 customers, bought in the next 10 days: 100.0%" in output
    assert "cutoff 2024-01-25: 3 customers, bought in the next 10 days: 33.3%" in output
    assert "3 distinct customers over 2 cutoffs" in output
    assert "bad rows left out: none" in output


def test_a_cutoff_before_the_first_event_has_no_rows_and_says_so(tmp_path):
    log = tmp_path / "log.parquet"
    pq.write_table(log_table(), log)
    args = [a for a in ARGS if a not in ("--as-of", "2024-01-15", "2024-01-25")]
    code, output = run_cli(
        "features", log, *args, "--as-of", "2023-06-01", "--as-of", "2024-01-25", "--out", tmp_path / "f.parquet"
    )
    assert code == 0, output
    assert "cutoff 2023-06-01: 0 customers\n" in output
    assert "cutoff 2024-01-25: 3 customers, bought in the next 10 days: 33.3%" in output


def test_csv_output_has_its_sidecar_and_bad_rows_are_reported(tmp_path):
    log = tmp_path / "log.csv"
    pacsv.write_csv(log_table(), log)
    lines = log.read_text().splitlines()
    lines.append('"","2024-01-03 10:00:00","view","i1","c1",0,""')
    lines.append('"B","yesterday","view","i1","c1",0,""')
    log.write_text("\n".join(lines) + "\n")
    out = tmp_path / "features.csv"
    code, output = run_cli("features", log, *ARGS, "--out", out)
    assert code == 0, output
    assert "bad rows left out: missing customer: 1, unparseable time: 1" in output
    info = FeatureTableInfo.from_json(sidecar_path(out).read_text())
    assert info.bad_rows == {"missing customer": 1, "unparseable time": 1}
    assert pacsv.read_csv(out).column("last_items").to_pylist()[0] == "i1|i2|i3"


def test_errors_are_one_paragraph_without_a_traceback(tmp_path):
    log = tmp_path / "log.parquet"
    pq.write_table(log_table(), log)
    out = tmp_path / "features.parquet"
    cases = {
        "amount": (["--amount", "amout * 2"], "names column 'amout'"),
        "column": (["--customer", "client"], "the customer column 'client' is not in the log"),
        "censored": (["--as-of", "2024-02-01"], "labels would be censored"),
        "cutoff": (["--as-of", "soon"], "cutoff 'soon' is not a date"),
        "horizon": (["--horizon", "3 months"], "horizon is '3 months'; expected days as a whole number"),
        "windows": (["--windows", "7,soon"], "windows is '7,soon'; expected look-back windows in days"),
        "top categories": (["--top-categories", "-1"], "top_categories is -1; expected"),
        "last items": (["--last-items", "0"], "last_items is 0; expected"),
        "memory": (["--memory-limit", "lots"], "memory_limit is 'lots'; expected an amount such as '1GB'"),
    }
    for name, (extra, message) in cases.items():
        code, output = run_cli("features", log, *ARGS, *extra, "--out", out)
        assert code == 2, name
        assert message in " ".join(output.split()), (name, output)
        assert "Traceback" not in output, name
        assert not out.exists(), name


def test_the_declared_options_are_the_command_line_and_the_python_keywords(tmp_path):
    """Each FeatureOptions field is a flag with its default in --help and a keyword of needmap.features;
    a misspelt keyword is an error naming the right one."""
    import pytest

    import needmap
    from needmap.errors import ConfigError
    from needmap.events.options import FeatureOptions

    code, output = run_cli("features", "--help")
    assert code == 0
    text = " ".join(output.split())
    for name in FeatureOptions.declared():
        flag = "--" + name.replace("_", "-")
        assert flag in text, flag
    assert "(default: 90d)" in text and "(default: 7,30,90,365)" in text and "(default: 1GB)" in text
    keywords = {"customer": "customer", "time": "time", "as_of": "2024-01-25", "horizon": 10}
    with pytest.raises(ConfigError, match="unknown feature option 'windws'; closest: 'windows'"):
        needmap.features(log_table(), windws="7", **keywords)
    built = needmap.features(log_table(), windows=[7, "30d"], purchase_events="purchase", event="event", **keywords)
    assert info_of(built).spec.windows == (7, 30) and info_of(built).spec.purchase_events == ("purchase",)
