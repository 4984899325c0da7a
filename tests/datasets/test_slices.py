"""The test suite stands alone: no test reads the full datasets beside the repository, and the committed
slices are the files that ATTRIBUTION.md describes, small enough to keep in the repository."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
#: a path into the folder of full datasets kept beside the repository for the benchmarks
OUTSIDE = re.compile(r"""["'](\.\./)?shared["'/]|/shared/|\bSHARED(_DATA)?\b""")
#: the only file allowed to name that folder: it cuts the slices from it and is not a test
CUTTER = HERE / "make_slices.py"
MAX_FILE_BYTES = 200_000
MAX_TOTAL_BYTES = 700_000


def references_outside(text: str) -> list[str]:
    """The lines of ``text`` that name the folder of full datasets."""
    return [line.strip() for line in text.splitlines() if OUTSIDE.search(line)]


def test_the_pattern_finds_the_ways_the_folder_was_named() -> None:
    named = [
        'SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"',
        "data = REPO.parent / 'shared' / 'data'",
        'pacsv.read_csv("../shared/data/adult.data.gz")',
        'read("/work/shared/data/bank_marketing/bank-additional-full.csv.gz")',
        "from benchmarks.datasets import SHARED_DATA, movielens_table",
        "tags = read(SHARED / 'movielens_latest_small' / 'tags.csv.gz')",
    ]
    assert references_outside("\n".join(named)) == named
    innocent = "def test_shared_vocabulary():\n    shared_optimizer = LazyAdam(share=None)  # a shared table\n"
    assert references_outside(innocent) == []


def test_no_test_reads_the_full_datasets_beside_the_repository() -> None:
    """Every test file and helper under tests/, this one and the slice cutter aside."""
    found = {}
    for path in sorted(TESTS.rglob("*.py")):
        if path in (CUTTER, Path(__file__).resolve()):
            continue
        lines = references_outside(path.read_text(encoding="utf-8"))
        if lines:
            found[str(path.relative_to(TESTS))] = lines
    assert not found, f"tests must read tests/datasets or needmap.datasets, not the folder beside the repo: {found}"


def listed_files() -> dict[str, tuple[int, str]]:
    """``{path: (bytes, sha256)}`` from the table of ATTRIBUTION.md."""
    rows = re.findall(
        r"^\| `([^`]+)` \| ([\d,]+) \|[ \d,]*\| `([0-9a-f]{64})` \|", (HERE / "ATTRIBUTION.md").read_text(), re.M
    )
    return {name: (int(size.replace(",", "")), digest) for name, size, digest in rows}


def test_each_slice_is_the_file_that_attribution_describes() -> None:
    listed = listed_files()
    present = {
        str(p.relative_to(HERE)) for p in HERE.rglob("*") if p.is_file() and p.suffix not in (".py", ".md", ".pyc")
    }
    assert present == set(listed)  # no data file without its source and licence, none missing
    for name, (size, digest) in listed.items():
        data = (HERE / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, digest), name
        if name.endswith(".gz"):
            gzip.decompress(data)  # whole and readable


def test_the_slices_stay_small() -> None:
    sizes = {name: size for name, (size, _) in listed_files().items()}
    assert max(sizes.values()) < MAX_FILE_BYTES, sizes
    assert sum(sizes.values()) < MAX_TOTAL_BYTES, sizes


def test_the_online_retail_slice_keeps_the_source_columns_and_its_oddities() -> None:
    """The figures of ATTRIBUTION.md: the source's columns and types, whole customers, lines without a
    customer, cancellations, the bad-debt adjustments, in file order (the source numbers its invoices in
    time but not strictly in file order: in these lines the number goes back exactly 4 times)."""
    path = HERE / "online_retail" / "online_retail_slice.parquet"
    meta = pq.ParquetFile(path).metadata
    assert (meta.num_rows, meta.num_row_groups, meta.row_group(0).column(0).compression) == (27_561, 1, "ZSTD")
    table = pq.read_table(path)
    assert table.schema.names == [
        "InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"
    ]  # fmt: skip
    assert table.schema.types == [
        pa.string(), pa.string(), pa.string(), pa.int64(), pa.timestamp("ms"), pa.float64(), pa.int64(), pa.string()
    ]  # fmt: skip
    invoice = table.column("InvoiceNo")
    assert table.column("CustomerID").null_count == 1_350
    assert pc.count_distinct(table.column("CustomerID")).as_py() == 315
    assert pc.sum(pc.starts_with(invoice, "C")).as_py() == 737
    assert pc.count_distinct(invoice.filter(pc.starts_with(invoice, "C"))).as_py() == 259
    assert invoice.filter(pc.starts_with(invoice, "A")).to_pylist() == ["A563185", "A563186", "A563187"]
    assert pc.all(pc.less(table.column("Quantity").filter(pc.starts_with(invoice, "C")), 0)).as_py()
    assert table.column("Description").null_count == 5
    numbers = [int(v.lstrip("CA")) for v in invoice.to_pylist()]
    assert sum(b < a for a, b in itertools.pairwise(numbers)) == 4
