"""The predict and evaluate workflows over files: a saved model and a table in, scores or metrics out."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from needmap.data.stream import DEFAULT_CHUNK_ROWS, ChunkWriter, iter_chunks
from needmap.data.text_layout import generated_names
from needmap.data.write import write_table
from needmap.errors import ReadingNote
from needmap.estimator import Model, scores_table
from needmap.output_files import create_temporary_file
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
    reading: Mapping[str, Any] | None = None,
    progress: Any = None,
) -> tuple[Path, int, dict[str, Any]]:
    """Score ``source`` chunk by chunk into ``out`` (.parquet, .csv or .jsonl), atomically.

    ``source`` is read by :func:`needmap.data.stream.iter_chunks` (a Parquet file row group by row
    group, so memory holds one chunk of ``chunk_rows`` rows, not the file); each chunk is preprocessed
    with the model's fitted state, scored and appended to a temporary file renamed into place at the
    end (nothing at ``out`` when a chunk fails). Where a core is left beside torch's threads, a
    background thread reads and encodes the next chunks while the current one is scored
    (:func:`needmap.training.stream.read_ahead_chunks`). ``reading`` holds
    :func:`~needmap.data.read.read`'s header, names, strip and missing keywords. ``progress``
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
        for index, chunk in enumerate(
            iter_chunks(source, chunk_rows, delimiter=delimiter, encoding=encoding, reading=reading)
        ):
            chunk = named_as_trained(chunk, schema, note=index == 0)
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


def named_as_trained(chunk: pa.Table, schema: Any, *, note: bool = True) -> pa.Table:
    """A chunk of a file without a header row (columns ``column_1`` ... as the reader names them) with the
    columns named as the model's training file named them, when the counts agree (all the training columns,
    or all but the targets): rows laid out as the training rows score without ``--names``. ``note``: say so
    (a :class:`ReadingNote`; once per file, not per chunk)."""
    generated = generated_names(chunk.num_columns)
    trained = [c.name for c in schema.columns]
    if chunk.column_names != generated or set(generated) & set(trained):
        return chunk
    targets = {h.name for h in schema.heads}
    inputs = [n for n in trained if n not in targets]
    names = trained if len(trained) == chunk.num_columns else inputs if len(inputs) == chunk.num_columns else None
    if names is None:
        return chunk
    if note:
        warnings.warn(
            f"the file has no header row; its {len(names)} columns are named as the model's training columns, "
            f"in order: {', '.join(names)}.",
            ReadingNote,
            stacklevel=2,
        )
    return chunk.rename_columns(names)


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
    tmp = create_temporary_file(target)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, allow_nan=False, default=str)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
