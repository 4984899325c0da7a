"""Shared fixtures: slices of the real datasets in ../shared/data, written as the files a user has."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

# The datasets sit in shared/data beside the repository. The first folder above this file that holds
# shared/data is used, so a copy of the tests one level down (mutation testing runs them in mutants/)
# finds the same files; without one, the path beside the repository (the fixtures then say it is missing).
_HERE = Path(__file__).resolve()
SHARED_DATA = next(
    (p / "shared" / "data" for p in _HERE.parents[1:] if (p / "shared" / "data").is_dir()),
    _HERE.parents[1].parent / "shared" / "data",
)
BANK = SHARED_DATA / "bank_marketing" / "bank-additional-full.csv.gz"
SHOPPERS = SHARED_DATA / "online_shoppers_intention" / "online_shoppers_intention.csv.gz"


def _sample(path: Path, rows: int, seed: int, delimiter: str) -> pa.Table:
    if not path.exists():
        raise FileNotFoundError(f"the shared dataset {path} is missing; tests expect ../shared/data beside the repo")
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
    """3,000 random sessions of online_shoppers_intention as a ','-separated CSV."""
    path = tmp_path_factory.mktemp("shoppers") / "shoppers_slice.csv"
    pacsv.write_csv(_sample(SHOPPERS, 3000, seed=2, delimiter=","), path)
    return path
