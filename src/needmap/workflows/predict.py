"""The predict and evaluate workflows over files: a saved model and a table in, scores or metrics out."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from needmap.data.stream import DEFAULT_CHUNK_ROWS, ChunkWriter, iter_chunks
from needmap.data.write import write_table
from needmap.estimator import Model, scores_table
from needmap.predictor import Predictor, as_predictor
from needmap.runtime.arrow_memory import uses_system_arrow_pool
from needmap.score_columns import scores_notes
from needmap.training.stream import encode_threads, prefetched, read_ahead_chunks


def predict_to_file(model: Model | Predictor, table: pa.Table, out: str | Path) -> tuple[Path, pa.Table]:
    """Score every row of ``table`` and write the scores to ``out`` (.parquet, .csv or .jsonl),
    atomically: nothing is written when scoring fails. Returns the path and the scores table."""
    scores = model.predict(table)
    return write_table(scores, out), scores


@uses_system_arrow_pool
def predict_stream(
    model: Model | Predictor,
    source: Any,
    out: str | Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    progress: Any = None,
) -> tuple[Path, int, dict[str, Any]]:
    """Score ``source`` chunk by chunk into ``out`` (.parquet, .csv or .jsonl), atomically.

    ``source`` is read by :func:`needmap.data.stream.iter_chunks` (a Parquet file row group by row
    group, so memory holds one chunk of ``chunk_rows`` rows, not the file); each chunk is preprocessed
    with the model's fitted state, scored and appended to a temporary file renamed into place at the
    end (nothing at ``out`` when a chunk fails). Where a core is left beside torch's threads, a
    background thread reads and encodes the next chunks while the current one is scored
    (:func:`needmap.training.stream.read_ahead_chunks`). ``progress``
    (optional) is called with the rows done after each chunk. Returns the path, the rows written and
    the preprocessing report of all chunks together (``rows`` and per column the summed counts, as
    ``Preprocessor.last_transform_report_``), with ``notes`` about the id columns
    (:func:`needmap.score_columns.scores_notes`: absent ids, an output renamed beside an id of its name).
    """
    predictor = as_predictor(model)
    preprocessor, schema = predictor.preprocessor_, predictor.schema_

    depth = read_ahead_chunks()
    threads = encode_threads(depth)

    def encoded() -> Iterator[tuple[pa.Table, Any, dict[str, Any]]]:
        # In a background thread where a core is free for it: the next chunks are read and encoded while
        # this one is scored.
        for chunk in iter_chunks(source, chunk_rows, delimiter=delimiter, encoding=encoding):
            features = preprocessor.transform(chunk, threads=threads)
            yield chunk, features, preprocessor.last_transform_report_

    total: dict[str, Any] = {"rows": 0, "columns": {}, "notes": []}
    with ChunkWriter(out) as writer:
        for chunk, features, report in prefetched(encoded(), depth):
            if not writer.rows:  # every chunk has the columns of the first
                total["notes"] = scores_notes(schema, chunk.column_names)
            writer.write(scores_table(chunk, schema, predictor.score(features)))
            _add_report(total, report)
            if progress is not None:
                progress(writer.rows)
    return writer.path, writer.rows, total


def _add_report(total: dict[str, Any], part: dict[str, Any]) -> None:
    """Add a chunk's transform report (row count, per-column counts) into ``total``."""
    total["rows"] += int(part.get("rows", 0))
    for name, counts in (part.get("columns") or {}).items():
        into = total["columns"].setdefault(name, {})
        for key, value in counts.items():
            into[key] = into.get(key, 0) + value if isinstance(value, (int, float)) else value


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
