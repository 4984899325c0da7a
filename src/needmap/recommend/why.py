"""Why an item: the items of a customer's history that add most to a recommended item's score.

Every explaining algorithm gives one term per distinct item of a history (in ``np.unique`` order) for an
item (:meth:`needmap.recommend.algorithm.Algorithm.contributions`), and the items of largest positive term
are the reasons:

- ItemKNN and EASE: a score is a sum over the distinct items of the history (a similarity, a weight), so
  those terms say exactly what each past item adds, and they add up to the score.
- SASRec and the two-tower network: Integrated Gradients (Sundararajan et al. 2017, with Captum) of the
  item's score with respect to the output of the network's history item embedding (one vector per position
  of the history), along the straight line from a baseline in which every position holds the padding item
  (whose embedding is zero) to the history itself. A position's share is summed over the embedding's
  dimensions and then over the positions of the same item, so an item bought twice gets both shares; items
  older than the network reads (``max_len``) add nothing and get 0. The terms add up to the score less the
  baseline's score (completeness), within :data:`TOLERANCE` of that difference (of 1 where it is under 1):
  the integration (midpoint rule, its steps crowded towards the baseline: :data:`SPREAD`) takes
  :data:`STEPS` steps, and twice as many again, up to :data:`MOST_STEPS` (where the terms stand as they are),
  for the pairs whose terms miss (a network's ReLUs make the gradient jump along the line, so some pairs need
  hundreds of steps).

  The baseline of the two-tower network is the empty history (its customer tower pools item embeddings
  only). SASRec's is the history's events with no item in them (the padding item at the same places): its
  positions and attention mask come from the events, so the empty history is not on a line from the
  history, and the terms share out what the items add over the number and recency of the events.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

#: First integration steps (midpoint rule) of the networks' Integrated Gradients.
STEPS = 32
#: Most integration steps: a pair whose terms miss completeness is integrated again with twice the steps, up to this.
MOST_STEPS = 1024
#: How the steps crowd towards the baseline: the step at ``t`` (0 to 1) is ``expm1(SPREAD t) / expm1(SPREAD)`` of
#: the way along the line (see ``_integrate``). A SASRec score changes most, and most abruptly (ReLU and
#: layer-norm), in the first tenth of the line. On a 64-wide SASRec (1,000 pairs), this spacing with the midpoint
#: rule left 239 pairs needing more than 64 steps, where Gauss-Legendre's nodes left 337 (and took a third more
#: time), and SPREAD 2 or 6 about 310.
SPREAD = 4.0
#: Completeness: a pair's terms add up to its score's change within this share of it (of 1 where it is under 1).
TOLERANCE = 0.01
#: Interpolated histories (pairs x steps) per forward and backward pass.
CHUNK = 1024
#: Pairs integrated together, in order of history length (a group is cut to its longest history).
GROUP = 256


def item_reasons(rec: Any, table: pa.Table, *, top: int = 3) -> pa.Table:
    """``table`` (a :meth:`~needmap.recommend.recommender.Recommender.recommend` list of ``rec``) with
    ``because`` (the ``top`` history items of largest positive term) and ``reason``, a sentence."""
    import pyarrow.compute as pc

    names = rec.data_.item_ids
    histories = rec.histories(rec.customer_index(table.column("customer")))
    item_index = pc.index_in(table.column("item"), value_set=names).to_numpy(zero_copy_only=False)
    known = [r for r, history in enumerate(histories) if len(history)]
    # all rows at once: a network integrates many (history, item) pairs per pass
    terms_of = dict(zip(known, rec.algorithm_.contributions_batch(
        [histories[r] for r in known], [int(item_index[r]) for r in known]), strict=True))  # fmt: skip
    because, reasons = [], []
    for r, history in enumerate(histories):
        if len(history) == 0:
            because.append([])
            reasons.append("popular with customers: no history to go by")
            continue
        seen = np.unique(history)
        terms = terms_of[r]
        order = np.argsort(-terms, kind="stable")[:top]
        chosen = [names[int(seen[j])].as_py() for j in order if terms[j] > 0]
        because.append(chosen)
        reasons.append("because they have " + ", ".join(str(c) for c in chosen) if chosen else
                       "close to what they have, no single item stands out")  # fmt: skip
    return table.append_column("because", pa.array(because, type=pa.list_(names.type))).append_column(
        "reason", pa.array(reasons, type=pa.string())
    )


def integrated_terms(
    forward: Callable[..., Any],
    layer: Any,
    histories: Sequence[np.ndarray],
    padded: Callable[[Sequence[np.ndarray]], np.ndarray],
    extra: Callable[[np.ndarray], tuple[Any, ...]],
    items: Sequence[int],
    *,
    steps: int = STEPS,
    most: int = MOST_STEPS,
    chunk: int = CHUNK,
) -> list[np.ndarray]:
    """A network's terms for each (history, item) pair (see the module's docstring).

    ``forward(ids, *extra(items))`` gives the scores of one item per row of ``ids`` (the histories as the
    network reads them, ``padded(histories)``: item + 1 per position, 0 for padding); ``layer`` is the
    embedding module that looks the history's items up. The integration takes ``steps`` steps, and twice as
    many again for the pairs whose terms miss completeness (:data:`TOLERANCE`), up to ``most``; ``chunk``
    interpolated histories go through the network at a time."""
    items = np.asarray(items, dtype=np.int64)
    out: list[np.ndarray] = [np.zeros(0)] * len(histories)
    pending = np.argsort([len(h) for h in histories], kind="stable")
    while len(pending):
        missed: list[np.ndarray] = []
        for start in range(0, len(pending), GROUP):
            rows = pending[start : start + GROUP]
            part = [histories[r] for r in rows]
            ids = padded(part)
            shares, change = _integrate(forward, layer, ids, extra(items[rows]), steps, chunk)
            for row, history, at, share in zip(rows, part, ids, shares, strict=True):
                seen = np.unique(history)
                used = at > 0
                out[row] = np.bincount(np.searchsorted(seen, at[used] - 1), weights=share[used], minlength=len(seen))
            missed.append(rows[np.abs(shares.sum(axis=1) - change) > TOLERANCE * np.maximum(np.abs(change), 1.0)])
        if steps >= most:
            break
        pending, steps = np.concatenate(missed), 2 * steps
    return out


def _integrate(
    forward: Callable[..., Any], layer: Any, ids: np.ndarray, args: tuple[Any, ...], steps: int, chunk: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each position's share (float64 ``[pairs, positions]``) and the score's change from the baseline of one
    group of pairs.

    The line from the baseline embeddings ``b`` to the history's ``e`` is walked as ``b + a(t) (e - b)`` with
    ``a(t) = expm1(SPREAD t) / expm1(SPREAD)`` and one ``t`` per position, which Captum integrates from 0 to 1:
    by the change of variables, a position's share is its Integrated Gradients along the straight line, summed
    over the embedding's dimensions, with the steps packed where the score changes most."""
    import torch
    from captum.attr import IntegratedGradients

    ids_t = torch.from_numpy(ids)
    with torch.no_grad():
        embedded = layer(ids_t)
        base = layer(torch.zeros_like(ids_t))  # the padding item at every position
    current: list[Any] = []
    # while the hook is on, the layer's output is the point of the line that ``walked`` sets
    hook = layer.register_forward_hook(lambda _module, _inputs, _output: current[0])

    def walked(t: Any, ids: Any, embedded: Any, base: Any, *args: Any) -> Any:
        current[:] = [base + (torch.expm1(SPREAD * t) / math.expm1(SPREAD)).unsqueeze(-1) * (embedded - base)]
        return forward(ids, *args)

    ones, zeros = torch.ones(ids.shape), torch.zeros(ids.shape)
    try:
        found = IntegratedGradients(walked).attribute(
            ones,
            baselines=zeros,
            additional_forward_args=(ids_t, embedded, base, *args),
            n_steps=steps,
            method="riemann_middle",
            internal_batch_size=max(chunk, len(ids)),
        )
        with torch.no_grad():
            change = walked(ones, ids_t, embedded, base, *args) - walked(zeros, ids_t, embedded, base, *args)
    finally:
        hook.remove()
    return found.detach().double().numpy(), change.double().numpy()
