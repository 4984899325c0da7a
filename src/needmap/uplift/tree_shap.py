"""TreeSHAP terms of a LightGBM model with some inputs held known, computed from the trees themselves.

An S learner's effect of an offer is its one outcome model with the offer's indicator set, less with control's;
the offer is known for every customer, so the columns' terms are those of the path-dependent game in which the
arm inputs are always known. LightGBM's own ``pred_contrib`` holds no input fixed, so :class:`Forest` reads the
trees (``dump_model``): a tree's game is a sum over its leaves of products over the leaf's path, and the Shapley
value of a product has a closed form, an integral of a polynomial that Gauss-Legendre integrates exactly.
:func:`tree_terms` checks the terms' sum against LightGBM's score on every call (:mod:`needmap.uplift.why`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from needmap.errors import ConfigError
from needmap.preprocessing.batch import FeatureBatch

#: Cells (rows x leaves x path columns x integration nodes) per chunk of the trees' closed form.
CELLS = 1 << 22


class Forest:
    """A LightGBM model's trees as arrays over their leaves, for path-dependent TreeSHAP with inputs held fixed.

    A tree's game is ``v(S) = sum_leaves value * prod_j factor_j(S)``, the product over the distinct inputs
    ``j`` of the leaf's path: for ``j`` in ``S``, whether the row goes the leaf's way at every node of ``j`` on
    the path (0 or 1, ``p_j``); otherwise the share of the training rows that went that way (``q_j``, the
    product of the nodes' count ratios). The Shapley value of input ``i`` in one leaf's product is
    ``(p_i - q_i) * integral_0^1 prod_{j != i} (t p_j + (1 - t) q_j) dt``, a polynomial of degree below the
    path's inputs, which Gauss-Legendre with half as many nodes integrates exactly. An input held fixed is
    always in ``S``: its factor is ``p_j`` whatever ``S`` is, and its value is 0."""

    def __init__(self, booster: Any) -> None:
        dump = booster.dump_model()
        if int(dump.get("num_tree_per_iteration", 1)) != 1:
            raise ConfigError("the trees' terms are for one score per row; this model gives several.")
        trees = dump["tree_info"]
        scale = 1.0 / len(trees) if dump.get("average_output") and trees else 1.0
        nodes: list[dict[str, Any]] = []
        leaves: list[tuple[float, list[tuple[int, bool, float]]]] = []
        self.constant = 0.0
        for tree in trees:
            stack = [(tree["tree_structure"], [])]
            while stack:
                node, path = stack.pop()
                if "split_feature" not in node:
                    if path:
                        leaves.append((float(node["leaf_value"]) * scale, path))
                    else:  # a tree of one leaf: a constant
                        self.constant += float(node["leaf_value"]) * scale
                    continue
                at = len(nodes)
                nodes.append(node)
                count = float(node["internal_count"])
                for child, left in ((node["left_child"], True), (node["right_child"], False)):
                    share = float(child.get("internal_count", child.get("leaf_count", 0))) / count
                    stack.append((child, [*path, (at, left, share)]))
        self.features = np.array([int(n["split_feature"]) for n in nodes], dtype=np.int64)
        self.used = np.unique(self.features)  # the design's columns the trees read
        self.column = np.searchsorted(self.used, self.features)  # each node's position among them
        self.categorical = np.array([n["decision_type"] == "==" for n in nodes], dtype=bool)
        self.threshold = np.array([np.nan if c else float(n["threshold"]) for n, c in
                                   zip(nodes, self.categorical, strict=True)])  # fmt: skip
        self.category_nodes = np.flatnonzero(self.categorical)
        categories = [[int(v) for v in str(nodes[i]["threshold"]).split("||")] for i in self.category_nodes]
        self.category_left = np.zeros((len(categories), max((max(c) + 1 for c in categories), default=1)), bool)
        for i, ids in enumerate(categories):
            self.category_left[i, ids] = True
        self.default_left = np.array([bool(n.get("default_left", False)) for n in nodes], dtype=bool)
        missing = [n.get("missing_type", "None") for n in nodes]
        self.missing_zero = np.array([m == "Zero" for m in missing], dtype=bool)
        self.missing_nan = np.array([m == "NaN" for m in missing], dtype=bool)
        n_leaves = len(leaves)
        depth = max((len(path) for _, path in leaves), default=0)
        self.value = np.array([v for v, _ in leaves], dtype=np.float64)
        self.node = np.zeros((n_leaves, max(depth, 1)), dtype=np.int64)
        self.left = np.ones((n_leaves, max(depth, 1)), dtype=bool)
        self.present = np.zeros((n_leaves, max(depth, 1)), dtype=bool)
        slots: list[list[int]] = []
        self.slot = np.zeros((n_leaves, max(depth, 1)), dtype=np.int64)
        for i, (_, path) in enumerate(leaves):
            mine: list[int] = []
            for d, (at, left, _share) in enumerate(path):
                feature = int(self.features[at])
                if feature not in mine:
                    mine.append(feature)
                self.node[i, d], self.left[i, d], self.present[i, d] = at, left, True
                self.slot[i, d] = mine.index(feature)
            slots.append(mine)
        width = max((len(s) for s in slots), default=1)
        self.slot[~self.present] = width  # padding: a slot of its own, dropped
        self.slot_feature = np.full((n_leaves, width), -1, dtype=np.int64)
        self.q = np.ones((n_leaves, width))
        for i, (_, path) in enumerate(leaves):
            self.slot_feature[i, : len(slots[i])] = slots[i]
            for d, (_at, _left, share) in enumerate(path):
                self.q[i, self.slot[i, d]] *= share
        nodes_t, weights = np.polynomial.legendre.leggauss(max(1, (width + 1) // 2))  # exact to degree width - 1
        self.t, self.w = (nodes_t + 1.0) / 2.0, weights / 2.0

    def _goes_left(self, values: np.ndarray) -> np.ndarray:
        """Whether each row goes left at each node, as LightGBM decides: bool ``[n, nodes]``."""
        v = values[:, self.column]
        nan = np.isnan(v)
        numeric = np.where(nan & ~self.missing_nan, 0.0, v)
        default = (self.missing_zero & (np.abs(numeric) <= 1e-35)) | (self.missing_nan & nan)
        with np.errstate(invalid="ignore"):
            left = np.where(default, self.default_left, numeric <= self.threshold)
        if len(self.category_nodes):  # an id goes left when it is one of the node's; NaN and negatives go right
            ids = v[:, self.category_nodes]
            known = ~np.isnan(ids) & (ids >= 0) & (ids < self.category_left.shape[1])
            at = np.where(known, ids, 0).astype(np.int64)
            left[:, self.category_nodes] = known & self.category_left[np.arange(len(self.category_nodes)), at]
        return left

    def _shapley(self, p: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Each slot's Shapley value in each leaf's product, per unit of the leaf's value: ``(p_u - q_u)
        integral_0^1 prod_{w != u} (q_w + t (p_w - q_w)) dt`` for ``p``, ``q`` of ``[width, rows, leaves]``."""
        width = len(p)
        step = p - q
        factor = q[:, None] + self.t[None, :, None, None] * step[:, None]  # [width, nodes, rows, leaves]
        before = np.ones_like(factor)
        for u in range(1, width):
            before[u] = before[u - 1] * factor[u - 1]
        after = np.ones_like(factor[0])
        integral = np.empty_like(p)
        for u in range(width - 1, -1, -1):
            integral[u] = np.tensordot(self.w, before[u] * after, axes=1)
            after = after * factor[u]
        return step * integral

    def terms(self, design: Any, fixed: set[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(terms [n, design columns], mean [n], score [n])`` of ``design``'s rows, the inputs of ``fixed``
        (design columns) held at their values: score = mean + the terms' sum.

        A leaf's ``p`` is one of ``2^width`` patterns: when a table of every pattern's values is small, the rows
        look theirs up; else each row's are integrated."""
        n = design.shape[0]
        values = design[:, self.used]
        values = np.asarray(values.toarray() if hasattr(values, "toarray") else values, dtype=np.float64)
        n_leaves, width = self.q.shape
        terms = np.zeros((n, len(self.used)))
        mean, score = np.zeros(n), np.zeros(n)
        if n_leaves == 0:
            return np.zeros((n, design.shape[1])), mean + self.constant, score + self.constant
        is_fixed = np.isin(self.slot_feature, sorted(fixed)).T[:, None]  # [width, 1, leaves]
        fixed_at = np.take_along_axis(np.vstack([is_fixed[:, 0], np.zeros((1, n_leaves), bool)]).T, self.slot, 1)
        # slot u of each leaf -> its column among the used ones, with the leaf's value: [width, leaves, used]
        scatter = np.zeros((width, n_leaves, len(self.used)))
        u_at, leaf_at = np.nonzero(self.slot_feature.T >= 0)
        scatter[u_at, leaf_at, np.searchsorted(self.used, self.slot_feature[leaf_at, u_at])] = self.value[leaf_at]
        q_all = self.q.T[:, None]  # [width, 1, leaves]
        # the mean: each leaf's value times its inputs' shares, but for the fixed ones whether the row passes
        unknown_share = np.where(is_fixed[:, 0], 1.0, self.q.T).prod(axis=0) * self.value
        leaf = np.arange(n_leaves)
        table = None
        if (2**width) * width * n_leaves * len(self.t) <= CELLS:
            bits = (np.arange(2**width)[None, :] >> np.arange(width)[:, None]) & 1  # [width, patterns]
            patterns = np.broadcast_to(bits[:, :, None], (width, 2**width, n_leaves)).astype(np.float64)
            table = self._shapley(patterns, np.where(is_fixed, patterns, q_all))  # [width, patterns, leaves]
            slot_bit = np.where(self.present, 1 << np.minimum(self.slot, width - 1), 0)  # [leaves, depth]
            rows = max(1, CELLS // (n_leaves * width))
        else:
            rows = max(1, CELLS // (n_leaves * width * len(self.t)))
        for start in range(0, n, rows):
            stray = self._goes_left(values[start : start + rows])[:, self.node] != self.left[None]
            stray &= self.present[None]  # [b, leaves, depth]: the row leaves the leaf's path at this node
            b = len(stray)
            if table is not None:  # the pattern: a bit per slot, set where the row passes all its nodes
                failed = np.bitwise_or.reduce(np.where(stray, slot_bit[None], 0), axis=2)
                shapley = table[:, (2**width - 1) & ~failed, leaf]
            else:
                in_slot = [self.slot == u for u in range(width)]  # [leaves, depth] each
                p = np.stack([~(stray & s[None]).any(axis=2) for s in in_slot]).astype(np.float64)
                shapley = self._shapley(p, np.where(is_fixed, p, q_all))  # [width, b, leaves]
            terms[start : start + b] = sum(shapley[u] @ scatter[u] for u in range(width))
            mean[start : start + b] = (~(stray & fixed_at[None]).any(axis=2)) @ unknown_share
            score[start : start + b] = (~stray.any(axis=2)) @ self.value
        out = np.zeros((n, design.shape[1]))
        out[:, self.used] = terms
        return out, mean + self.constant, score + self.constant


def tree_terms(fit: Any, x: FeatureBatch, fixed: set[int], forests: dict[int, Forest]) -> tuple[np.ndarray, np.ndarray]:
    """A LightGBM model's raw-score terms on ``x`` (``[n, design columns]``) and mean (``[n]``): LightGBM's
    ``pred_contrib`` when nothing is held fixed, else :class:`Forest`'s (read once per model into
    ``forests``), checked against LightGBM's score."""
    baseline = fit.fitted
    design = baseline._inputs(x)
    booster = baseline._booster()
    if not fixed:
        found = booster.predict(design, pred_contrib=True)
        found = np.asarray(found.toarray() if hasattr(found, "toarray") else found, dtype=np.float64)
        return found[:, :-1], found[:, -1]
    if id(fit) not in forests:
        forests[id(fit)] = Forest(booster)
    terms, mean, score = forests[id(fit)].terms(design, fixed)
    raw = np.asarray(booster.predict(design, raw_score=True), dtype=np.float64)
    if not np.allclose(score, raw, rtol=1e-9, atol=1e-9):
        worst = int(np.argmax(np.abs(score - raw)))
        raise RuntimeError(f"the trees' terms add up to {score[worst]!r} on row {worst}, LightGBM's score is "
                           f"{raw[worst]!r}: the trees were read wrongly.")  # fmt: skip
    return terms, mean
