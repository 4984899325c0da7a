"""The network as ONNX, for scoring where the marketing system runs, and ONNX Runtime as a scoring backend.

:func:`export_onnx` writes the fitted network as an ONNX graph (PyTorch's dynamo-based exporter, a dynamic
batch dimension) with named inputs: ``numeric`` float32 ``[batch, n_numeric]``, ``categorical`` int64
``[batch, n_categorical]`` and one int64 ``list_<column>`` ``[batch, max_len]`` per list column; and one output,
``outputs`` float32 ``[batch, n_outputs]``: the network's raw outputs (logits of a binary or multiclass head,
standardized values of a regression head). Beside it, ``contract.json`` holds what turns raw rows into those
inputs and the outputs into scores: the schema, the fitted preprocessor (the same JSON as the model directory's)
each head's task, outputs and target scaling, the calibrator, and which scorer ``predict`` answers with per
target. Two implementations read it: needmap's :class:`~needmap.preprocessing.preprocess.Preprocessor` (from the
JSON) in Python, and ``contract.mjs``, copied beside the graph: plain JavaScript without dependencies, raw rows
to the graph's inputs and its outputs to ``predict``'s scores, for a marketing system that runs Node.js or a
browser (tests/export/test_onnx_contract_js.py holds it to the Python path).

:func:`use_onnxruntime` makes a :class:`~needmap.predictor.Predictor` score its network through ONNX Runtime
instead of PyTorch: the same preprocessing, heads and calibration, the network's outputs from the graph.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from needmap.errors import ArtifactError, ConfigError
from needmap.preprocessing.batch import FeatureBatch

ONNX_FILE = "model.onnx"
CONTRACT_FILE = "contract.json"
#: The contract's reference implementation in JavaScript, copied beside the graph by :func:`export_onnx`.
REFERENCE_FILE = "contract.mjs"
#: Largest absolute difference allowed between ONNX Runtime's and PyTorch's outputs on the export's check rows.
TOLERANCE = 1e-5


def _input_names(predictor: Any) -> list[str]:
    names = [f"list_{c.name}" for c in predictor.preprocessor_.list_columns_]
    return ["numeric", "categorical", *names]


def export_onnx(predictor: Any, out: str | os.PathLike[str], *, check_rows: Any = None) -> Path:
    """Write ``out/model.onnx`` and ``out/contract.json`` for ``predictor``'s network (see the module).

    ``check_rows``: raw rows (a table) scored by both PyTorch and ONNX Runtime after the export; ArtifactError
    when they differ by more than :data:`TOLERANCE`. Without them, 64 rows of zeros (every id 0) are checked."""
    import torch

    from needmap.data.read import read

    network = predictor.network_.eval()
    prep = predictor.preprocessor_
    if check_rows is not None:
        x = prep.transform(check_rows if hasattr(check_rows, "column_names") else read(check_rows))
    else:
        n = 64
        x = FeatureBatch(
            np.zeros((n, prep.n_numeric_), dtype=np.float32), np.zeros((n, len(prep.cardinalities_)), dtype=np.int64),
            tuple(np.zeros((n, spec["max_len"]), dtype=np.int64) for spec in prep.list_specs_),
        )  # fmt: skip
    n_lists = len(x.lists)

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, numeric: torch.Tensor, categorical: torch.Tensor, *lists: torch.Tensor) -> torch.Tensor:
            return self.network(numeric, categorical, tuple(lists))

    inputs = (torch.from_numpy(np.ascontiguousarray(x.numeric, dtype=np.float32)),
              torch.from_numpy(np.ascontiguousarray(x.categorical)),
              *(torch.from_numpy(np.ascontiguousarray(a)) for a in x.lists))  # fmt: skip
    batch = torch.export.Dim("batch")
    shapes: tuple[Any, ...] = ({0: batch}, {0: batch})
    if n_lists:
        shapes += (tuple({0: batch} for _ in range(n_lists)),)  # the lists: one group, as forward's *lists
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    try:
        # the exporter's notes (operators of packages not installed, its own deprecations) are not the user's
        with warnings.catch_warnings(), _quiet("torch.onnx"):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                Graph().eval(), inputs, dynamo=True, dynamic_shapes=shapes, input_names=_input_names(predictor),
                output_names=["outputs"], verbose=False,
            )  # fmt: skip
    except Exception as exc:  # the exporter's own errors: which model and why
        raise ArtifactError(
            f"model '{predictor.model}' does not export to ONNX: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    onnx_path = target / ONNX_FILE
    program.save(str(onnx_path))
    with torch.no_grad():
        expected = Graph()(*inputs).numpy()
    found = OnnxNetwork(onnx_path).raw(x)
    worst = float(np.abs(found - expected.reshape(found.shape)).max()) if found.size else 0.0
    if worst > TOLERANCE:
        onnx_path.unlink()
        raise ArtifactError(f"the ONNX graph of '{predictor.model}' differs from PyTorch by {worst:.2e}; expected at "
                            f"most {TOLERANCE:g}. Nothing was exported.")  # fmt: skip
    contract = {
        "format_version": 1,
        "model": predictor.model,
        "inputs": _input_names(predictor),
        "outputs": "outputs: the network's raw outputs, one column per output of each head in the schema's order",
        "heads": [
            {"name": h.name, "task": h.task, "n_outputs": h.n_outputs, "classes": h.classes}
            for h in predictor.schema_.heads
        ],
        "target_scaling": predictor.target_scaling_,
        "calibrated": predictor.calibrator_ is not None,
        "calibrator": None if predictor.calibrator_ is None else predictor.calibrator_.to_dict(),
        "scorers": scorers(predictor),
        "schema": predictor.schema_.to_dict(),
        "preprocessor": prep.to_dict(),
        "checked": {"rows": len(x), "max_abs_difference": worst},
    }
    (target / CONTRACT_FILE).write_text(json.dumps(contract, indent=1, default=_plain) + "\n", encoding="utf-8")
    shutil.copyfile(Path(__file__).with_name(REFERENCE_FILE), target / REFERENCE_FILE)
    return onnx_path


def scorers(predictor: Any) -> list[dict[str, Any]]:
    """Per target, the scorer ``predict`` answers with: ``{"target", "scorer", "weight"}``. The graph holds the
    network; where the model chose LightGBM, a linear model or a blend for a target (the verdict's choice), its
    scores there are not the graph's, and :func:`export_onnx`'s caller says so."""
    chosen = {c.target: c for c in predictor.selection_ or []}
    out = []
    for head in predictor.schema_.heads:
        choice = chosen.get(head.name)
        out.append({"target": head.name, "scorer": "network" if choice is None else choice.scorer,
                    "weight": None if choice is None else choice.weight})  # fmt: skip
    return out


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Only errors from ``logger`` while the block runs."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


class OnnxNetwork:
    """An exported network in ONNX Runtime: ``raw(x)`` gives the outputs of encoded rows, float64 ``[n, outputs]``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import onnxruntime as ort

        if not Path(path).is_file():
            raise ConfigError(f"no ONNX graph at {path}; expected one written by needmap export --format onnx.")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]

    def raw(self, x: FeatureBatch) -> np.ndarray:
        arrays = [
            np.ascontiguousarray(x.numeric, dtype=np.float32),
            np.ascontiguousarray(x.categorical, dtype=np.int64),
            *(np.ascontiguousarray(a, dtype=np.int64) for a in x.lists),
        ]
        feed = dict(zip(self.names, arrays, strict=True))
        return np.asarray(self.session.run(None, feed)[0], dtype=np.float64)


def use_onnxruntime(predictor: Any, path: str | os.PathLike[str]) -> Any:
    """``predictor`` scoring its network through the ONNX graph at ``path`` (ONNX Runtime); returns it."""
    predictor.onnx_ = OnnxNetwork(path)
    return predictor
