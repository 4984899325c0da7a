"""needmap's seeded generator of a purchase log in the layout of the CDNOW data set: columns aligned by spaces.

The CDNOW purchase log (Fader and Hardie's classic customer-base data, 23,570 customers who first bought
in the first quarter of 1997, followed to the end of June 1998) is a text file whose columns are aligned
by runs of spaces, one line per purchase::

    customer_id      date  number_of_cds  dollar_value
          00001  19970101              1         11.77
          00002  19970112              1         12.00

This script writes a file of that layout with made-up purchases, to check that needmap reads such files as
they come (``needmap schema cdnow_like.txt`` without ``--delimiter``). Each customer's first purchase falls
in January to March 1997; repeat purchases follow a Poisson process whose rate varies between customers
(gamma-distributed, as in the Pareto/NBD model of such logs) and stops when the customer drops out
(exponential lifetime); each purchase holds 1 + Poisson(0.8) CDs at 9 to 17 dollars each. The same seed
and customer count give a byte-identical file. ``--no-header`` writes the data rows only (the original
file has no header row either).

Usage: python benchmarks/make_cdnow_like.py --customers 23570 --out cdnow_like.txt [--seed 0] [--no-header]
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np

START = dt.date(1997, 1, 1)
END = dt.date(1998, 6, 30)
HEADER = ("customer_id", "date", "number_of_cds", "dollar_value")
WIDTHS = (11, 10, 15, 14)


def purchases(customers: int, seed: int = 0) -> list[tuple[str, str, int, float]]:
    """The purchase rows (customer id with leading zeros, date as YYYYMMDD, CDs, dollars), by customer and date."""
    rng = np.random.default_rng(seed)
    days = (END - START).days
    rows = []
    for number in range(1, customers + 1):
        first = int(rng.integers(0, 90))
        rate = rng.gamma(0.6, 1 / 60)  # purchases per day
        lifetime = rng.exponential(250)
        day = first
        while day <= min(days, first + lifetime):
            cds = 1 + int(rng.poisson(0.8))
            value = round(float(np.sum(rng.uniform(9, 17, size=cds))), 2)
            rows.append((f"{number:05d}", (START + dt.timedelta(days=day)).strftime("%Y%m%d"), cds, value))
            day += max(1, int(np.ceil(rng.exponential(1 / max(rate, 1e-6)))))
    return rows


def aligned_text(rows: list[tuple[str, str, int, float]], *, header: bool = True) -> str:
    """The rows as text, each column right-aligned in its width, separated by runs of spaces."""
    lines = ["".join(name.rjust(width) for name, width in zip(HEADER, WIDTHS, strict=True))] if header else []
    for customer, date, cds, value in rows:
        cells = (customer, date, str(cds), f"{value:.2f}")
        lines.append("".join(cell.rjust(width) for cell, width in zip(cells, WIDTHS, strict=True)))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=23570, help="customers (the original log has 23,570)")
    parser.add_argument("--out", type=Path, required=True, help="the text file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-header", action="store_true", help="write the data rows only")
    args = parser.parse_args()
    rows = purchases(args.customers, args.seed)
    args.out.write_text(aligned_text(rows, header=not args.no_header), encoding="utf-8")
    print(f"{len(rows)} purchases of {args.customers} customers written to {args.out}")


if __name__ == "__main__":
    main()
