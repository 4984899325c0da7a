"""needmap's layers (docs/architecture.md, "Layers"): imports run downward only, without cycles, and
importing needmap changes no global setting.

The import graph is read from the source with :mod:`ast`, so an import counts wherever it is written:
at the top of a module or inside a function (a lazy import made to dodge a cycle is still an edge).
Only imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "needmap"

#: Bottom to top. A module belongs to the layer of its top-level name under ``needmap`` ("" is the
#: package root, ``needmap/__init__.py``) and may import modules of its own layer or of a lower one.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "base",
        (
            "_version",
            "errors",
            "schema",
            "runtime",
            "declare",
            "option_text",
            "output_files",
            "safe_json",
            "model_place",
        ),
    ),
    ("metrics", ("metrics",)),
    ("data", ("data", "datasets", "events")),
    ("preprocessing", ("preprocessing",)),
    ("models", ("models",)),
    ("training", ("training", "calibration")),
    ("artifact", ("artifact", "card")),
    (
        "workflows",
        (
            "workflows",
            "estimator",
            "training_rows",
            "predictor",
            "score_columns",
            "tracking",
            "recommend",
            "uplift",
            "explain",
        ),
    ),
    ("report", ("report",)),
    ("serve", ("serve",)),
    ("faces", ("", "__main__", "cli", "display", "demo")),
)
RANK = {top: rank for rank, (_, tops) in enumerate(LAYERS) for top in tops}


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package (packages by their ``__init__``)."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``, at any depth, except the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        skipped = isinstance(child, ast.If) and _is_type_checking(child.test)
        for statement in child.orelse if skipped else [child]:  # type: ignore[attr-defined]
            if isinstance(statement, ast.Import | ast.ImportFrom):
                yield statement
            else:
                yield from _import_nodes(statement)


def _known(name: str, modules: dict[str, Path]) -> str:
    """The longest prefix of dotted ``name`` that is a module of the package."""
    while name not in modules:
        name = name.rpartition(".")[0]
    return name


def imports_of(module: str, modules: dict[str, Path]) -> dict[str, int]:
    """The package's modules that ``module`` imports (absolute or relative), each with a line of the import.

    ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``.
    """
    path = modules[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    edges: dict[str, int] = {}
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" for alias in node.names] or [source]
            targets = [t if t in modules else source for t in targets]
        for target in targets:
            if target == "needmap" or target.startswith("needmap."):
                found = _known(target, modules)
                if found != module:
                    edges.setdefault(found, node.lineno)
    return edges


def import_graph(package: Path = PACKAGE) -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    modules = module_files(package)
    return modules, {module: imports_of(module, modules) for module in modules}


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top not in RANK:
        raise AssertionError(f"{module} is in no layer: add {top!r} to LAYERS here and to docs/architecture.md")
    return RANK[top]


def upward_imports(graph: dict[str, dict[str, int]], modules: dict[str, Path]) -> list[str]:
    """One line per import of a higher layer: which module, where, and the two layers."""
    found = []
    src = modules["needmap"].parent.parent
    for module, edges in sorted(graph.items()):
        for target, line in sorted(edges.items()):
            if layer_of(target) > layer_of(module):
                where = modules[module].relative_to(src)
                found.append(
                    f"{where}:{line}: {module} ({LAYERS[layer_of(module)][0]}) imports "
                    f"{target} ({LAYERS[layer_of(target)][0]})"
                )
    return found


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) for each group of modules that import each other (Tarjan's strongly
    connected components, then the shortest way round from the group's first module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(start: str) -> None:
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            connect(module)
    return [_shortest_cycle(graph, set(group), group[0]) for group in groups]


def _shortest_cycle(graph: dict[str, dict[str, int]], members: set[str], start: str) -> list[str]:
    """``[start, ..., start]``: the fewest imports from ``start`` back to it within ``members``."""
    previous: dict[str, str] = {}
    frontier = [start]
    while start not in previous:
        reached = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child in members and child not in previous:
                    previous[child] = node
                    reached.append(child)
        frontier = reached
    path = [start, previous[start]]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return path[::-1]


def test_every_module_is_in_a_layer() -> None:
    modules = module_files()
    assert len(modules) > 50  # the whole package was found
    for module in modules:
        layer_of(module)


def test_no_module_imports_a_higher_layer() -> None:
    modules, graph = import_graph()
    upward = upward_imports(graph, modules)
    assert not upward, "imports of a higher layer:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    _, graph = import_graph()
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_checks_see_lazy_relative_and_upward_imports(tmp_path: Path) -> None:
    """The graph on a small made-up package: an upward import inside a function, a relative one, a
    cycle, and an import under TYPE_CHECKING that does not count."""
    root = tmp_path / "needmap"
    for name, text in {
        "__init__.py": "from needmap.estimator import Model\n",
        "estimator.py": "from . import errors\n",
        "errors.py": "",
        "data/__init__.py": "",
        "data/read.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from needmap.report import x\n"
            "def read():\n    from ..preprocessing import prep\n"
        ),
        "preprocessing/__init__.py": "",
        "preprocessing/prep.py": "import needmap.preprocessing.vocab\n",
        "preprocessing/vocab.py": "from needmap.preprocessing.prep import fit\n",
        "report/__init__.py": "",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    modules, graph = import_graph(root)
    assert graph["needmap"] == {"needmap.estimator": 1}
    assert graph["needmap.estimator"] == {"needmap.errors": 1}
    assert graph["needmap.data.read"] == {"needmap.preprocessing.prep": 5}
    upward = upward_imports(graph, modules)
    assert (
        len(upward) == 1 and "needmap.data.read (data) imports needmap.preprocessing.prep (preprocessing)" in upward[0]
    )
    cycle = ["needmap.preprocessing.prep", "needmap.preprocessing.vocab", "needmap.preprocessing.prep"]
    assert import_cycles(graph) == [cycle]


# -- no side effect at import ------------------------------------------------------------------------
#: Prints what a process's global settings read: Arrow's memory pool and thread counts, torch's
#: threads, default dtype, kernel flags and matmul precision, numpy's error handling, the environment,
#: the warning filters and logging. ``snapshot()`` loads numpy, pyarrow and torch if nothing did yet.
_SNAPSHOT = """
import json, logging, os, sys, warnings

def flags(module):
    return {k: repr(getattr(module, k)) for k in sorted(dir(module))
            if not k.startswith("_") and isinstance(getattr(module, k, None), (bool, int, float, str))}

def snapshot():
    import numpy as np
    import pyarrow as pa
    import torch
    return {
        "arrow_pool": pa.default_memory_pool().backend_name,
        "arrow_cpu_threads": pa.cpu_count(),
        "arrow_io_threads": pa.io_thread_count(),
        "environment": dict(os.environ),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_default_dtype": str(torch.get_default_dtype()),
        "torch_grad": torch.is_grad_enabled(),
        "torch_deterministic": torch.are_deterministic_algorithms_enabled(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "mkldnn": flags(torch.backends.mkldnn),
        "mkldnn_matmul": flags(getattr(torch.backends.mkldnn, "matmul", None)),
        "cudnn": flags(torch.backends.cudnn),
        "cuda_matmul": {k: repr(getattr(torch.backends.cuda.matmul, k, None))
                        for k in ("allow_tf32", "allow_fp16_reduced_precision_reduction", "fp32_precision")},
        "numpy_errors": np.geterr(),
        "warnings": [repr(f) for f in warnings.filters],
        "logging": [logging.root.level, [repr(h) for h in logging.root.handlers]],
        "recursion_limit": sys.getrecursionlimit(),
    }
"""

#: Every module of the package but ``needmap.__main__`` (which runs the command line).
_IMPORT_EVERY_MODULE = """
import importlib, pkgutil
import needmap
for info in pkgutil.walk_packages(needmap.__path__, "needmap."):
    if info.name != "needmap.__main__":
        importlib.import_module(info.name)
"""

#: The libraries that needmap's modules import at their top, loaded before the first snapshot of the
#: every-module check: some set process state when imported (scipy.sparse adds a warning filter), which
#: is theirs, not needmap's. (scikit-learn, which sets KMP_* environment variables when imported, is
#: imported only where a baseline is fitted.)
_DEPENDENCIES = "import duckdb, numpy, optuna, pyarrow, rich, safetensors, scipy.sparse, torch, typer, yaml"


def _run(code: str) -> list[dict[str, object]]:
    """The snapshots that ``code`` prints (one JSON list), run in a fresh interpreter on this source tree."""
    environment = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    environment["PYTHONPATH"] = os.pathsep.join([str(PACKAGE.parent), environment.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", _SNAPSHOT + code],
        env=environment, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _changes(before: dict[str, object], after: dict[str, object]) -> dict[str, object]:
    changed: dict[str, object] = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    if "environment" in changed:
        old, new = before["environment"], after["environment"]
        assert isinstance(old, dict) and isinstance(new, dict)
        changed["environment"] = {k: (old.get(k), new.get(k)) for k in {*old, *new} if old.get(k) != new.get(k)}
    return changed


@pytest.mark.slow
def test_importing_needmap_changes_no_global_setting() -> None:
    """``import needmap`` and its public names, before pyarrow or torch is loaded (where choosing Arrow's
    pool would still take effect), leave every setting as a process that never imported needmap has it."""
    [plain] = _run("print(json.dumps([snapshot()]))")
    [after] = _run("import needmap\nneedmap.Model, needmap.load, needmap.read\nprint(json.dumps([snapshot()]))")
    changed = _changes(plain, after)
    assert not changed, f"importing needmap changed (before, after): {changed}"


@pytest.mark.slow
def test_importing_every_module_changes_no_global_setting() -> None:
    before, after = _run(
        f"{_DEPENDENCIES}\nfirst = snapshot()\n{_IMPORT_EVERY_MODULE}\nprint(json.dumps([first, snapshot()]))"
    )
    changed = _changes(before, after)
    assert not changed, f"importing needmap's modules changed (before, after): {changed}"
