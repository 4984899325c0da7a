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

TESTS = Path(__file__).resolve().parent
DATASETS = TESTS / "datasets"
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


#: Fixtures that train models (or write a large file) once for the tests beside them, by the file that
#: defines each (relative to tests/; a conftest.py serves its whole folder). A test that needs one is
#: marked ``slow`` as if it trained itself, so that ``pytest -m "not slow"`` never waits for training.
TRAINING_FIXTURES: dict[str, frozenset[str]] = {
    "test_cli.py": frozenset({"bank_model"}),
    "test_outputs_cli.py": frozenset({"small_model"}),
    "test_estimator.py": frozenset({"fitted"}),
    "test_calibration_model.py": frozenset({"calibrated"}),
    "test_saved_baselines.py": frozenset({"trained"}),
    "test_baselines.py": frozenset({"encoded"}),
    "test_tune.py": frozenset({"searched"}),
    "test_tune_cv.py": frozenset({"cv_searched"}),
    "test_bench_generator.py": frozenset({"made"}),
    "test_scored_ids.py": frozenset({"customers_model"}),
    "report/conftest.py": frozenset({"bank_model_dir", "shoppers_model_dir"}),
}


def training_fixtures_of(path: Path) -> frozenset[str]:
    """The names in TRAINING_FIXTURES that the tests of the file at ``path`` can request."""
    relative = path.resolve().relative_to(TESTS)
    names: set[str] = set()
    for where, fixtures in TRAINING_FIXTURES.items():
        defined = Path(where)
        if defined == relative or (defined.name == "conftest.py" and defined.parent in relative.parents):
            names |= fixtures
    return frozenset(names)


@pytest.hookimpl(tryfirst=True)  # before -m selects on the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for where, fixtures in TRAINING_FIXTURES.items():  # a renamed fixture would silently turn fast
        text = (TESTS / where).read_text(encoding="utf-8")
        missing = sorted(name for name in fixtures if f"def {name}(" not in text)
        if missing:
            raise pytest.UsageError(f"TRAINING_FIXTURES (tests/conftest.py) names {missing}; tests/{where} has none")
    for item in items:
        if training_fixtures_of(item.path) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
