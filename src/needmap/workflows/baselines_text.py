"""A pure-Python check of LightGBM's model text before LightGBM's native parser sees it.

``baselines.json`` carries a LightGBM baseline as LightGBM's own text format, with its sha256 beside it; but the
sha256 sits in the same file, so whoever edits the text can recompute it, and LightGBM's C++ parser trusts the
text: a child index out of range, a ``num_leaves`` larger than its arrays, a ``tree_sizes`` that does not match
the trees or a categorical split pointing outside ``cat_threshold`` crash the process (SIGSEGV, SIGABRT) instead
of raising. :func:`lightgbm_text_problem` reads the text the way that parser does and says what is wrong, so
that :func:`needmap.workflows.baseline.Baseline.from_dict` refuses it with an ArtifactError first.

What it checks: the header (``tree``, the version, the counts of classes, trees per round and features, the
objective, one name and one range per feature, ``tree_sizes``), each tree (its number in order, ``num_leaves``
within bounds, every array of the length ``num_leaves`` implies, finite numbers, features and children in range,
every node reached once from the root, categorical splits inside ``cat_boundaries`` / ``cat_threshold``, no
linear tree), the count of trees (a multiple of the trees per round), and the tail (``end of trees``, the
parameters as ``[key: value]`` lines, ``pandas_categorical:null``). Runs in time linear in the text.
"""

from __future__ import annotations

import itertools
import math
import re

#: Bounds far above what needmap fits (2,000 rounds, 31 to a few hundred leaves) and below what exhausts memory.
MAX_TREES = 200_000
MAX_LEAVES = 131_072
MAX_FEATURES = 10_000_000
MAX_CLASSES = 100_000

_HEADER_KEYS = frozenset(
    {
        "version",
        "num_class",
        "num_tree_per_iteration",
        "label_index",
        "max_feature_idx",
        "objective",
        "feature_names",
        "feature_infos",
        "tree_sizes",
        "monotone_constraints",
    }
)
_OBJECTIVES = frozenset(
    {
        "binary",
        "regression",
        "regression_l1",
        "huber",
        "fair",
        "poisson",
        "quantile",
        "mape",
        "gamma",
        "tweedie",
        "multiclass",
        "multiclassova",
        "cross_entropy",
        "cross_entropy_lambda",
    }
)
_TREE_KEYS = frozenset(
    {
        "num_leaves",
        "num_cat",
        "split_feature",
        "split_gain",
        "threshold",
        "decision_type",
        "left_child",
        "right_child",
        "leaf_value",
        "leaf_weight",
        "leaf_count",
        "internal_value",
        "internal_weight",
        "internal_count",
        "cat_boundaries",
        "cat_threshold",
        "is_linear",
        "shrinkage",
    }
)
_FLOAT_ARRAYS = ("split_gain", "threshold", "leaf_value", "leaf_weight", "internal_value", "internal_weight")
_INT = re.compile(r"-?[0-9]{1,19}\Z")
_PARAMETER = re.compile(r"\[[a-z0-9_]{1,64}: [ -Z^-~]{0,4096}\]\Z")  # printable ASCII without [ \ ]
_RANGE = re.compile(r"\[([^:\]]+):([^:\]]+)\]\Z")


class _Bad(ValueError):
    """What is wrong with the text (the message of :func:`lightgbm_text_problem`)."""


def lightgbm_text_problem(text: str) -> str | None:
    """What is wrong with LightGBM model text ``text`` for LightGBM's native parser, in a few words naming the
    line or tree; None when the text is well formed (see the module)."""
    try:
        _check(text)
    except _Bad as exc:
        return str(exc)
    return None


def _int(value: str, what: str, low: int, high: int) -> int:
    if not _INT.match(value) or not low <= int(value) <= high:
        raise _Bad(f"{what} is {value[:40]!r}; expected a whole number from {low} to {high}")
    return int(value)


def _float(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _Bad(f"{what} holds {value[:40]!r}; expected a number") from None
    if not math.isfinite(number):
        raise _Bad(f"{what} holds {value[:40]!r}; expected a finite number")
    return number


def _items(fields: dict[str, str], key: str, count: int, where: str) -> list[str]:
    value = fields.get(key)
    if value is None:
        raise _Bad(f"{where} has no {key}")
    items = value.split(" ") if value else []
    if len(items) != count:
        raise _Bad(f"{where} has {len(items)} {key} values; expected {count}")
    return items


def _fields(lines: list[str], start: int, keys: frozenset[str], where: str) -> tuple[dict[str, str], int]:
    """The ``key=value`` lines from ``start`` to the next blank line, and the index after them."""
    fields: dict[str, str] = {}
    i = start
    while i < len(lines) and lines[i]:
        key, sep, value = lines[i].partition("=")
        if not sep or key not in keys or key in fields:
            raise _Bad(f"{where} has the line {lines[i][:60]!r}; expected one of {', '.join(sorted(keys))}, once")
        fields[key] = value
        i += 1
    return fields, i


def _check(text: str) -> None:
    if any(ch < " " and ch != "\n" for ch in text) or "\x7f" in text:
        raise _Bad("the text holds control characters; expected LightGBM's model text")
    lines = text.split("\n")
    if lines[0] != "tree":
        raise _Bad(f"the first line is {lines[0][:40]!r}; expected 'tree'")
    header, i = _fields(lines, 1, _HEADER_KEYS, "the header")
    if header.get("version") not in ("v2", "v3", "v4"):
        raise _Bad(f"the header has version {header.get('version')!r}; expected v2, v3 or v4")
    for key in ("num_class", "num_tree_per_iteration", "label_index", "max_feature_idx", "objective"):
        if key not in header:
            raise _Bad(f"the header has no {key}")
    _int(header["num_class"], "num_class", 1, MAX_CLASSES)
    per_round = _int(header["num_tree_per_iteration"], "num_tree_per_iteration", 1, MAX_CLASSES)
    features = _int(header["max_feature_idx"], "max_feature_idx", 0, MAX_FEATURES) + 1
    _int(header["label_index"], "label_index", 0, MAX_FEATURES)
    _objective(header["objective"])
    _items(header, "feature_names", features, "the header")
    for info in _items(header, "feature_infos", features, "the header"):
        _feature_info(info)
    if "monotone_constraints" in header:
        for value in _items(header, "monotone_constraints", features, "the header"):
            _int(value, "monotone_constraints", -1, 1)
    while i < len(lines) and not lines[i]:
        i += 1
    starts: list[int] = []  # the line of each "Tree=" and, last, of "end of trees"
    while i < len(lines) and lines[i].startswith("Tree="):
        if len(starts) >= MAX_TREES:
            raise _Bad(f"the text has more than {MAX_TREES} trees")
        if lines[i] != f"Tree={len(starts)}":
            raise _Bad(f"the line {lines[i][:40]!r} comes after {len(starts)} trees; expected 'Tree={len(starts)}'")
        starts.append(i)
        fields, i = _fields(lines, i + 1, _TREE_KEYS, f"tree {len(starts) - 1}")
        _tree(fields, features, f"tree {len(starts) - 1}")
        while i < len(lines) and not lines[i]:
            i += 1
    if i >= len(lines) or lines[i] != "end of trees":
        shown = lines[i][:40] if i < len(lines) else "the end of the text"
        raise _Bad(f"{shown!r} follows the trees; expected 'end of trees'")
    if not starts or len(starts) % per_round:
        raise _Bad(f"the text has {len(starts)} trees; expected a positive multiple of {per_round} (trees per round)")
    if "tree_sizes" in header:
        _tree_sizes(header, lines, [*starts, i])
    _tail(lines[i + 1 :])


def _objective(value: str) -> None:
    name, *options = value.split(" ")
    if name not in _OBJECTIVES:
        raise _Bad(f"the objective is {name[:40]!r}; expected one of {', '.join(sorted(_OBJECTIVES))}")
    for option in options:
        key, sep, number = option.partition(":")
        if not sep or not re.fullmatch(r"[a-z_]{1,40}", key):
            raise _Bad(f"the objective has the option {option[:40]!r}; expected name:number")
        _float(number, f"the objective's {key}")


def _feature_info(info: str) -> None:
    if info == "none":
        return
    found = _RANGE.match(info)
    if found:
        _float(found.group(1), "feature_infos")
        _float(found.group(2), "feature_infos")
        return
    for value in info.split(":"):
        _int(value, "a categorical feature_infos", -1, 2**31 - 1)


def _tree(fields: dict[str, str], features: int, where: str) -> None:
    leaves = _int(fields.get("num_leaves", ""), f"{where}'s num_leaves", 1, MAX_LEAVES)
    num_cat = _int(fields.get("num_cat", ""), f"{where}'s num_cat", 0, MAX_LEAVES)
    if "is_linear" in fields and fields["is_linear"] != "0":
        raise _Bad(f"{where} is a linear tree; expected is_linear=0 (needmap fits no linear trees)")
    if "shrinkage" in fields:
        _float(fields["shrinkage"], f"{where}'s shrinkage")
    for value in _items(fields, "leaf_value", leaves, where):
        _float(value, f"{where}'s leaf_value")
    if fields.get("leaf_weight"):  # empty in a tree of one leaf
        for value in _items(fields, "leaf_weight", leaves, where):
            _float(value, f"{where}'s leaf_weight")
    inner = leaves - 1
    if inner == 0:
        return
    for value in _items(fields, "split_feature", inner, where):
        _int(value, f"{where}'s split_feature", 0, features - 1)
    for key in ("split_gain", "threshold", "internal_value", "internal_weight"):
        if key in fields or key in ("split_gain", "threshold"):
            for value in _items(fields, key, inner, where):
                _float(value, f"{where}'s {key}")
    for key in ("leaf_count", "internal_count"):
        if key in fields:
            for value in _items(fields, key, leaves if key == "leaf_count" else inner, where):
                _int(value, f"{where}'s {key}", 0, 2**63 - 1)
    kinds = [_int(v, f"{where}'s decision_type", 0, 15) for v in _items(fields, "decision_type", inner, where)]
    if any((kind >> 2) & 3 == 3 for kind in kinds):
        raise _Bad(f"{where} has a decision_type whose missing-value kind is 3; expected 0, 1 or 2")
    categorical = [n for n, kind in enumerate(kinds) if kind & 1]
    if categorical or num_cat:
        bounds = [
            _int(v, f"{where}'s cat_boundaries", 0, 2**31 - 1)
            for v in _items(fields, "cat_boundaries", num_cat + 1, where)
        ]
        words = _items(fields, "cat_threshold", bounds[-1] if bounds else 0, where)
        for value in words:
            _int(value, f"{where}'s cat_threshold", 0, 2**32 - 1)
        if bounds[0] != 0 or any(b < a for a, b in itertools.pairwise(bounds)):
            raise _Bad(f"{where} has cat_boundaries that do not start at 0 and increase")
        thresholds = _items(fields, "threshold", inner, where)
        for n in categorical:
            _int(thresholds[n], f"{where}'s categorical threshold", 0, num_cat - 1)
    left = [_int(v, f"{where}'s left_child", -leaves, inner - 1) for v in _items(fields, "left_child", inner, where)]
    right = [_int(v, f"{where}'s right_child", -leaves, inner - 1) for v in _items(fields, "right_child", inner, where)]
    seen_nodes, seen_leaves, stack = {0}, set(), [0]
    while stack:
        node = stack.pop()
        for child in (left[node], right[node]):
            if child >= 0:
                if child in seen_nodes:
                    raise _Bad(f"{where} reaches node {child} twice; expected a tree")
                seen_nodes.add(child)
                stack.append(child)
            elif ~child in seen_leaves:
                raise _Bad(f"{where} reaches leaf {~child} twice; expected a tree")
            else:
                seen_leaves.add(~child)
    if len(seen_nodes) != inner or len(seen_leaves) != leaves:
        raise _Bad(f"{where} reaches {len(seen_nodes)} of its {inner} nodes and {len(seen_leaves)} of {leaves} leaves")


def _tree_sizes(header: dict[str, str], lines: list[str], starts: list[int]) -> None:
    trees = len(starts) - 1
    sizes = [_int(v, "tree_sizes", 0, 2**40) for v in _items(header, "tree_sizes", trees, "the header")]
    for n in range(trees):
        block = sum(len(line.encode("utf-8")) + 1 for line in lines[starts[n] : starts[n + 1]])
        if block != sizes[n]:
            raise _Bad(f"tree_sizes gives tree {n} {sizes[n]} bytes; the tree has {block}")


def _tail(lines: list[str]) -> None:
    i = 0
    while i < len(lines) and not lines[i]:
        i += 1
    if i < len(lines) and lines[i] == "feature_importances:":
        i += 1
        while i < len(lines) and lines[i]:
            _name, sep, count = lines[i].rpartition("=")
            if not sep:
                raise _Bad(f"the feature importances have the line {lines[i][:40]!r}; expected name=count")
            _int(count, "a feature importance", 0, 2**63 - 1)
            i += 1
    while i < len(lines) and not lines[i]:
        i += 1
    if i < len(lines) and lines[i] == "parameters:":
        i += 1
        while i < len(lines) and lines[i] != "end of parameters":
            if lines[i] and not _PARAMETER.match(lines[i]):
                raise _Bad(f"the parameters have the line {lines[i][:60]!r}; expected [name: value]")
            i += 1
        if i >= len(lines):
            raise _Bad("the parameters have no 'end of parameters'")
        i += 1
    rest = [line for line in lines[i:] if line]
    if rest not in ([], ["pandas_categorical:null"]):
        raise _Bad(f"the text ends with {rest[0][:60]!r}; expected 'pandas_categorical:null' or nothing")
