"""Datasets shipped inside needmap (see ATTRIBUTION.md beside this file)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bank_marketing_path() -> Path:
    """Path of the bundled UCI Bank Marketing file (bank-additional-full, 41,188 rows, ';'-separated, gzip)."""
    return Path(str(resources.files(__package__).joinpath("bank-additional-full.csv.gz")))
