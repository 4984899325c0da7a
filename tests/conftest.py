"""Shared fixtures: slices of real public datasets, written as the files a user has.

Every file comes from the repository itself: UCI Bank Marketing is the copy needmap ships
(``needmap.datasets``), the others are the committed slices in ``tests/datasets`` (sources, licences and
how they were cut: ``tests/datasets/ATTRIBUTION.md``). No test reads the full datasets beside the
repository; ``tests/datasets/test_slices.py`` checks that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from needmap.datasets import bank_marketing_path

DATASETS = Path(__file__).resolve().parent / "datasets"
BANK = bank_marketing_path()
SHOPPERS = DATASETS / "online_shoppers_intention" / "online_shoppers_intention.csv.gz"


def _sample(path: Path, rows: int, seed: int, delimiter: str) -> pa.Table:
    table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter))
    index = np.sort(np.random.default_rng(seed).choice(table.num_rows, size=rows, replace=False))
    return table.take(pa.array(index))


@pytest.fixture(scope="session")
def bank_table() -> pa.Table:
    """3,000 random rows of bank-additional-full (all 21 columns)."""
    return _sample(BANK, 3000, seed=1, delimiter=";")


@pytest.fixture(scope="session")
def bank_csv(tmp_path_factory: pytest.TempPathFactory, bank_table: pa.Table) -> Path:
    """The bank slice as a ';'-separated CSV, as the bank publishes it."""
    path = tmp_path_factory.mktemp("bank") / "bank_slice.csv"
    pacsv.write_csv(bank_table, path, write_options=pacsv.WriteOptions(delimiter=";"))
    return path


@pytest.fixture(scope="session")
def shoppers_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed 3,000 random sessions of online_shoppers_intention as a ','-separated CSV."""
    path = tmp_path_factory.mktemp("shoppers") / "shoppers_slice.csv"
    pacsv.write_csv(pacsv.read_csv(SHOPPERS), path)
    return path
