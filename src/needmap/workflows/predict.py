"""The predict and evaluate workflows over files: a saved model and a table in, scores or metrics out."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

from needmap.data.write import write_table
from needmap.estimator import Model


def predict_to_file(model: Model, table: pa.Table, out: str | Path) -> tuple[Path, pa.Table]:
    """Score every row of ``table`` and write the scores to ``out`` (.parquet, .csv or .jsonl),
    atomically: nothing is written when scoring fails. Returns the path and the scores table."""
    scores = model.predict(table)
    return write_table(scores, out), scores


def write_json(data: Any, out: str | Path) -> Path:
    """Write ``data`` as indented JSON to ``out`` atomically."""
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, allow_nan=False, default=str)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
