"""Regenerate the dataset slices of the test suite from the full public files in ../shared/data.

    python tests/datasets/make_slices.py [--data DIR] [--out DIR]

The tests never run this script: they read the committed slices beside it. It exists so that anyone
can check how each slice was cut, and cut it again. Every text slice is a selection of whole lines of
the original file, byte for byte (header first where the file has one), gzip-compressed with level 9
and no name or time stamp, so that the same input gives the same bytes (with the same zlib); the Online
Retail slice is a selection of whole rows of a Parquet file, written again as Parquet. The choices:

* ``census_income_adult/adult.data.gz``: 12,000 lines of ``adult.data`` (32,561 lines, no header),
  drawn with ``numpy.random.default_rng(0).choice(32561, 12000, replace=False)`` and kept in the drawn
  order (so the first 8,000 lines and the other 4,000 are two random parts of the file).
* ``online_shoppers_intention/online_shoppers_intention.csv.gz``: the header and 3,000 sessions, the
  data lines ``numpy.sort(numpy.random.default_rng(2).choice(12330, 3000, replace=False))``, in file
  order.
* ``movielens_latest_small/``: ``ratings.csv.gz``, every rating of the users 1 to 120 (the file is
  sorted by user, so its first lines); ``movies.csv.gz``, the movies those ratings name;
  ``tags.csv.gz``, every tag (by any user) of those movies; ``README.txt``, the dataset's README and
  licence, unchanged.
* ``online_retail/online_retail_slice.parquet``: every invoice line, in file order, of three groups of
  lines of ``online_retail.parquet`` (UCI Online Retail, 541,909 lines): all lines of 300 customers
  drawn with ``numpy.random.default_rng(3).choice(customers, 300, replace=False)`` from the sorted
  distinct ``CustomerID`` values; all lines of 15 invoices without a ``CustomerID``, drawn with
  ``default_rng(4)`` from the sorted distinct such invoices; all lines of 15 cancellation invoices
  (``C...``) of other customers, drawn with ``default_rng(5)`` likewise; and the 3 bad-debt adjustment
  lines (invoices ``A...``). Columns, types, values and the schema metadata as in the source; written
  with pyarrow as Parquet, zstd level 19, one row group (the same input gives the same bytes with the
  same pyarrow).

The UCI Bank Marketing file is not sliced here: needmap ships it whole (``needmap.datasets``).
At the end the script prints the sha256 of each file it wrote, as listed in ATTRIBUTION.md.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1].parent / "shared" / "data"
ADULT_ROWS, ADULT_SEED = 12_000, 0
SHOPPERS_ROWS, SHOPPERS_SEED = 3_000, 2
MOVIELENS_USERS = 120
RETAIL_CUSTOMERS, RETAIL_SEED = 300, 3
RETAIL_ANONYMOUS_INVOICES, RETAIL_ANONYMOUS_SEED = 15, 4
RETAIL_CANCELLED_INVOICES, RETAIL_CANCELLED_SEED = 15, 5


def _lines(path: Path) -> list[bytes]:
    """The lines of a gzip file, each with its line end (one is added to a last line without)."""
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    end = b"\r\n" if lines[0].endswith(b"\r\n") else b"\n"
    if not lines[-1].endswith(b"\n"):
        lines[-1] += end
    return lines


def _checked(path: Path, lines: list[bytes], header: bool, **read: object) -> list[bytes]:
    """``lines``, after checking that each data line is one row (no quoted line breaks)."""
    rows = pacsv.read_csv(path, **read).num_rows
    if rows != len(lines) - header:
        raise SystemExit(f"{path}: {rows} rows but {len(lines) - header} data lines; cannot slice by lines.")
    return lines


def _write(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as out:
        out.write(b"".join(lines))
    path.write_bytes(buffer.getvalue())


def adult(data: Path, out: Path) -> list[Path]:
    source = data / "census_income_adult" / "adult.data.gz"
    lines = _checked(source, _lines(source), False, read_options=pacsv.ReadOptions(autogenerate_column_names=True))
    rows = np.random.default_rng(ADULT_SEED).choice(len(lines), ADULT_ROWS, replace=False)
    target = out / "census_income_adult" / "adult.data.gz"
    _write(target, [lines[i] for i in rows])
    return [target]


def shoppers(data: Path, out: Path) -> list[Path]:
    source = data / "online_shoppers_intention" / "online_shoppers_intention.csv.gz"
    lines = _checked(source, _lines(source), True)
    rows = np.sort(np.random.default_rng(SHOPPERS_SEED).choice(len(lines) - 1, SHOPPERS_ROWS, replace=False))
    target = out / "online_shoppers_intention" / "online_shoppers_intention.csv.gz"
    _write(target, [lines[0]] + [lines[1 + i] for i in rows])
    return [target]


def movielens(data: Path, out: Path) -> list[Path]:
    root, target = data / "movielens_latest_small", out / "movielens_latest_small"
    ratings = pacsv.read_csv(root / "ratings.csv.gz")
    users = ratings.column("userId").to_numpy()
    if np.any(np.diff(users) < 0):
        raise SystemExit(f"{root / 'ratings.csv.gz'} is not sorted by userId; expected the GroupLens order.")
    kept = int((users <= MOVIELENS_USERS).sum())
    rated = set(ratings.column("movieId").to_numpy()[:kept].tolist())
    written = []
    for name, take in (
        ("ratings.csv.gz", lambda table: np.arange(kept)),
        ("movies.csv.gz", lambda table: np.flatnonzero(np.isin(table.column("movieId").to_numpy(), list(rated)))),
        ("tags.csv.gz", lambda table: np.flatnonzero(np.isin(table.column("movieId").to_numpy(), list(rated)))),
    ):
        lines = _checked(root / name, _lines(root / name), True)
        rows = take(pacsv.read_csv(root / name))
        _write(target / name, [lines[0]] + [lines[1 + i] for i in rows])
        written.append(target / name)
    (target / "README.txt").write_bytes((root / "README.txt").read_bytes())
    return [*written, target / "README.txt"]


def online_retail(data: Path, out: Path) -> list[Path]:
    source = data / "online_retail" / "online_retail.parquet"
    table = pq.read_table(source)
    customer = table.column("CustomerID")
    known = pc.is_valid(customer).to_numpy(zero_copy_only=False)
    ids = pc.fill_null(customer, -1).to_numpy()
    invoice = np.asarray(table.column("InvoiceNo").to_pylist(), dtype=object)
    chosen = np.random.default_rng(RETAIL_SEED).choice(np.unique(ids[known]), RETAIL_CUSTOMERS, replace=False)
    keep = np.isin(ids, chosen) & known
    anonymous = np.unique(invoice[~known])
    anonymous = np.random.default_rng(RETAIL_ANONYMOUS_SEED).choice(anonymous, RETAIL_ANONYMOUS_INVOICES, replace=False)
    cancelled = np.unique(invoice[known & ~keep & np.char.startswith(invoice.astype(str), "C")])
    cancelled = np.random.default_rng(RETAIL_CANCELLED_SEED).choice(cancelled, RETAIL_CANCELLED_INVOICES, replace=False)
    keep |= np.isin(invoice, anonymous) | np.isin(invoice, cancelled) | np.char.startswith(invoice.astype(str), "A")
    target = out / "online_retail" / "online_retail_slice.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table.filter(pa.array(keep)), target, compression="zstd", compression_level=19, row_group_size=len(keep)
    )
    return [target]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the folder of the full datasets")
    parser.add_argument("--out", type=Path, default=HERE, help="where the slices go")
    args = parser.parse_args()
    written = [*adult(args.data, args.out), *shoppers(args.data, args.out), *movielens(args.data, args.out)]
    for path in [*written, *online_retail(args.data, args.out)]:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{path.relative_to(args.out)}  {path.stat().st_size:>7} bytes  sha256 {digest}")


if __name__ == "__main__":
    main()
