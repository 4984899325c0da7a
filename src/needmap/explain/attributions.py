"""Per-prediction attributions of any zoo network, summed back to the user's columns.

Integrated Gradients (Captum's ``IntegratedGradients``) integrate the gradient of the model's output along the
straight line from a reference row to the row explained; each input's share is its attribution, and the shares
sum to the output's change from the reference (completeness). Category ids are integers, so the line runs
through what the network makes of them: the output of every categorical embedding table
(:class:`~needmap.models.layers.FeatureEmbedding`) and the per-position vectors of every list and sequence
(:meth:`~needmap.models.layers.ListEmbedding.sequence`) are replaced, for the integration, by tensors that
interpolate between the reference's and the row's; numbers are interpolated as they are. Attributions per
embedding dimension are then summed to their column, and a column's numeric parts (the scaled number, its
missing indicator, its zero flag) and categorical parts (ids, buckets) to one figure per user column.

The reference row: each number's mean and each categorical column's most frequent id over the ``background``
rows (the training rows for the training population's reference; by default the rows explained), and an empty
list for every list column (no items: a history's attribution is what its items add over having none).

The output explained: the logit of a binary head (the score before the sigmoid), the value of a regression
head, the logit of the predicted class of a multiclass head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from needmap.models.layers import FeatureEmbedding, ListEmbedding
from needmap.preprocessing.batch import FeatureBatch

#: Integration steps (Gauss-Legendre): the attributions of the zoo sum to the output's change within 1% of it (0.01
#: where the change is under 1 logit); ReLU kinks along the line make fewer steps less exact.
STEPS = 64
#: Rows per chunk: each is expanded ``STEPS`` times inside the integration.
CHUNK = 256


@dataclass
class Attributions:
    """Attributions of ``n`` rows: ``values`` float64 ``[n, columns]`` (one per user column, in ``columns``
    order), ``output`` and ``reference_output`` float64 ``[n]`` (the explained output of each row and of the
    reference row), ``delta`` ``[n]`` (completeness error: sum of the row's attributions minus its output's
    change), and ``items`` (per list column, float64 ``[n, L]``: each position's share)."""

    columns: list[str]
    values: np.ndarray
    output: np.ndarray
    reference_output: np.ndarray
    delta: np.ndarray
    items: dict[str, np.ndarray]


def reference_batch(background: FeatureBatch) -> FeatureBatch:
    """One reference row: the numbers' means, each categorical column's most frequent id, empty lists."""
    numeric = background.numeric.mean(axis=0, keepdims=True).astype(np.float32)
    categorical = np.zeros((1, background.categorical.shape[1]), dtype=np.int64)
    for j in range(background.categorical.shape[1]):
        categorical[0, j] = np.bincount(background.categorical[:, j]).argmax()
    lists = tuple(np.zeros((1, a.shape[1]), dtype=np.int64) for a in background.lists)
    return FeatureBatch(numeric, categorical, lists)


class _Patched:
    """During ``with``: every FeatureEmbedding of ``network`` returns ``outputs[i]`` and every ListEmbedding's
    ``sequence(k, ids)`` returns ``vectors[(j, k)]`` (masked by the ids), instead of looking ids up."""

    def __init__(self, network: torch.nn.Module) -> None:
        self.network = network
        self.tables = [m for m in network.modules() if isinstance(m, FeatureEmbedding)]
        self.lists = [m for m in network.modules() if isinstance(m, ListEmbedding)]
        self.outputs: list[torch.Tensor] = []
        self.vectors: dict[tuple[int, int], torch.Tensor] = {}
        self._hooks: list[Any] = []
        self._history_gradient: list[tuple[dict[str, Any], Any]] = []

    def __enter__(self) -> _Patched:
        for i, table in enumerate(self.tables):
            self._hooks.append(table.register_forward_hook(lambda _m, _i, _o, i=i: self.outputs[i]))
        for j, module in enumerate(self.lists):
            module.sequence = self._sequence(j)  # type: ignore[method-assign]
        # DIN stops the gradient into the behaviour sequences while training (a choice of how the table learns,
        # not of what the network computes); the integration needs that gradient. Every module that says so is
        # switched: the network itself, or the networks inside a module that combines several.
        self._history_gradient = []
        for module in self.network.modules():
            hyper = getattr(module, "hyper", None)
            if isinstance(hyper, dict) and hyper.get("history_gradient") is not None:
                self._history_gradient.append((hyper, hyper["history_gradient"]))
                hyper["history_gradient"] = True
        return self

    def _sequence(self, j: int) -> Callable[[int, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        def sequence(k: int, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            mask = ids != 0
            return self.vectors[(j, k)] * mask.unsqueeze(-1), mask

        return sequence

    def __exit__(self, *exc: object) -> None:
        for hook in self._hooks:
            hook.remove()
        for module in self.lists:
            del module.sequence
        for hyper, value in self._history_gradient:
            hyper["history_gradient"] = value


def _output(logits: torch.Tensor, task: str, klass: torch.Tensor | None) -> torch.Tensor:
    if task == "multiclass" and klass is not None:
        return logits.gather(1, klass[:, None])[:, 0]
    return logits[:, 0]


def _integrand(
    network: torch.nn.Module, patched: _Patched, n_tables: int, keys: list[tuple[int, int]], task: str
) -> Callable[..., torch.Tensor]:
    """The function Captum integrates: (numbers, each table's output, each sequence's vectors; then, not
    integrated, the ids and, for a multiclass head, the class) -> the explained output."""

    def forward(num: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        embedded, extra = rest[: n_tables + len(keys)], rest[n_tables + len(keys) :]
        klass = extra[-1] if task == "multiclass" else None
        cat, ids = extra[0], extra[1 : len(extra) - (klass is not None)]
        patched.outputs = list(embedded[:n_tables])
        patched.vectors = dict(zip(keys, embedded[n_tables:], strict=True))
        return _output(network(num, cat, tuple(ids)), task, klass)

    return forward


def attribute(
    network: torch.nn.Module,
    x: FeatureBatch,
    reference: FeatureBatch,
    *,
    task: str = "binary",
    steps: int = STEPS,
    chunk: int = CHUNK,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Integrated Gradients of ``network``'s output on ``x`` against the one-row ``reference``.

    ``network``: a zoo network, or any module called the same way, ``(numeric, categorical, lists) -> [B,
    outputs]``, whose embedding tables are modules of it (the uplift explanations pass a module that computes
    an offer's effect from one or several networks: every table's output is interpolated).

    Returns the attributions by input part (``"numeric"`` ``[n, n_numeric]``, ``"categorical"`` ``[n, C]`` summed
    over every embedding table, ``"list<k>"`` ``[n, L_k]`` per list position), the rows' outputs, the reference's
    output and the completeness error per row."""
    from captum.attr import IntegratedGradients

    network.eval()
    patched = _Patched(network)
    n = len(x)
    parts: dict[str, list[np.ndarray]] = {"numeric": [], "categorical": []}
    outputs, deltas = [], []
    ref_num = torch.from_numpy(np.ascontiguousarray(reference.numeric, dtype=np.float32))
    ref_cat = torch.from_numpy(np.ascontiguousarray(reference.categorical))
    with torch.no_grad():
        ref_logits = network(ref_num, ref_cat, tuple(torch.from_numpy(a) for a in reference.lists))
        ref_tables = [t(ref_cat) for t in patched.tables]  # the reference's embeddings, once for every chunk
    klass_of = None
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        numeric = torch.from_numpy(np.ascontiguousarray(x.numeric[start:stop], dtype=np.float32))
        categorical = torch.from_numpy(np.ascontiguousarray(x.categorical[start:stop]))
        lists = tuple(torch.from_numpy(np.ascontiguousarray(a[start:stop])) for a in x.lists)
        b = stop - start
        with torch.no_grad():
            logits = network(numeric, categorical, lists)
            klass_of = logits.argmax(dim=1) if task == "multiclass" else None
            table_out = [t(categorical) for t in patched.tables]
            table_ref = [r.expand(b, *r.shape[1:]) for r in ref_tables]
            keys = [(j, k) for j, m in enumerate(patched.lists) for k in range(len(m.specs)) if k < len(lists)]
            seq_out = [patched.lists[j].sequence(k, lists[k])[0] for j, k in keys]
        seq_ref = [torch.zeros_like(v) for v in seq_out]
        n_tables = len(table_out)
        forward = _integrand(network, patched, n_tables, keys, task)
        extra_args: tuple[Any, ...] = (categorical, *lists) + ((klass_of,) if klass_of is not None else ())
        with patched:
            found, delta = IntegratedGradients(forward).attribute(
                (numeric, *table_out, *seq_out),
                baselines=(ref_num.expand(b, -1), *table_ref, *seq_ref),
                additional_forward_args=extra_args,
                n_steps=steps,
                method="gausslegendre",
                return_convergence_delta=True,
            )
        parts["numeric"].append(found[0].detach().double().numpy())
        cat_parts = [a.detach().double().sum(dim=-1).numpy() for a in found[1 : 1 + n_tables]]
        parts["categorical"].append(np.sum(cat_parts, axis=0) if cat_parts else np.zeros((b, 0)))
        by_list: dict[int, np.ndarray] = {}
        for (_j, k), a in zip(keys, found[1 + n_tables :], strict=True):  # a list read by several tables: summed
            by_list[k] = by_list.get(k, 0.0) + a.detach().double().sum(dim=-1).numpy()
        for k, a in by_list.items():
            parts.setdefault(f"list{k}", []).append(a)
        outputs.append(_output(logits, task, klass_of).double().numpy())
        deltas.append(delta.detach().double().numpy())
    merged = {key: np.concatenate(chunks) for key, chunks in parts.items()}
    reference_output = float(_output(ref_logits, task, None).double()[0]) if task != "multiclass" else float("nan")
    return merged, np.concatenate(outputs), np.full(n, reference_output), np.concatenate(deltas)


def column_attributions(
    predictor: Any,
    data: Any,
    *,
    background: Any = None,
    steps: int = STEPS,
    chunk: int = CHUNK,
) -> Attributions:
    """The attributions of ``predictor``'s (a fitted :class:`~needmap.predictor.Predictor`) output on each row of
    ``data``, one per user column (see the module). ``background``: rows whose mean and most frequent categories
    make the reference row, or a model's saved :class:`~needmap.explain.population.Population` whose reference row
    it is (default: ``data``)."""
    from needmap.data.read import read

    table = data if hasattr(data, "column_names") else read(data)
    prep = predictor.preprocessor_
    x = prep.transform(table)
    if background is None:
        reference = reference_batch(x)
    elif hasattr(background, "reference"):  # a model's saved population (needmap.explain.population)
        reference = background.reference
    else:
        reference = reference_batch(
            prep.transform(background if hasattr(background, "column_names") else read(background))
        )
    task = predictor.schema_.heads[0].task if getattr(predictor.schema_, "heads", None) else predictor.schema_.task
    parts, output, ref_output, delta = attribute(predictor.network_, x, reference, task=task or "binary",
                                                 steps=steps, chunk=chunk)  # fmt: skip
    columns = list(predictor.schema_.features)
    values, items = column_values(parts, prep, columns)
    return Attributions(columns, values, output, ref_output, delta, items)


def column_values(
    parts: dict[str, np.ndarray], prep: Any, columns: list[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`attribute`'s attributions by input part summed to each of the user's ``columns`` (through the
    fitted preprocessor ``prep``'s :meth:`column_positions`): float64 ``[n, columns]``, and each list column's
    per-position shares."""
    n = len(parts["numeric"])
    values = np.zeros((n, len(columns)))
    items: dict[str, np.ndarray] = {}
    for c, name in enumerate(columns):
        numeric, categorical, lists = prep.column_positions(name)
        if numeric:
            values[:, c] += parts["numeric"][:, numeric].sum(axis=1)
        if categorical:
            values[:, c] += parts["categorical"][:, categorical].sum(axis=1)
        for k in lists:
            if f"list{k}" in parts:
                values[:, c] += parts[f"list{k}"].sum(axis=1)
                items[name] = parts[f"list{k}"]
    return values, items
