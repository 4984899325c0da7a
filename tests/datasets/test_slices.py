"""The test suite stands alone: no test reads the full datasets beside the repository, and the committed
slices are the files that ATTRIBUTION.md describes, small enough to keep in the repository."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
#: a path into the folder of full datasets kept beside the repository for the benchmarks
OUTSIDE = re.compile(r"""["'](\.\./)?shared["'/]|/shared/|\bSHARED(_DATA)?\b""")
#: the only file allowed to name that folder: it cuts the slices from it and is not a test
CUTTER = HERE / "make_slices.py"
MAX_FILE_BYTES = 160_000
MAX_TOTAL_BYTES = 500_000


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
