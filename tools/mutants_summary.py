"""Summary of the last mutation run (``make mutants``): mutants per status and per file, the kill rate,
and each mutant that was not killed, with its file, line and the change it made.

Run from the repository root after ``mutmut run``; reads the results mutmut keeps in ``mutants/``.
Statuses are mutmut's: killed (a test failed), timeout (the tests ran past their time limit, as an
endless loop does), survived (every test passed), no tests (no selected test calls the function).
The kill rate is killed / all mutants; timeouts are counted apart, as detected but not killed.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections import Counter
from pathlib import Path

from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.format_utils import orig_function_and_class_names_from_key

MUTANTS = Path("mutants")
STATUSES = ("killed", "timeout", "survived", "no tests")


def _function_lines(path: Path) -> dict[tuple[str | None, str], int]:
    """(class or None, function) -> line of its ``def`` in the source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines: dict[tuple[str | None, str], int] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines[(None, node.name)] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines[(node.name, item.name)] = item.lineno
    return lines


def _change(name: str, source: Path, def_lines: dict[tuple[str | None, str], int]) -> tuple[int | None, str]:
    """The source line of a mutant's change and the change as ``old -> new`` (first changed line)."""
    diff = get_diff_for_mutant(name, path=source).splitlines()
    function, klass = orig_function_and_class_names_from_key(name)
    start = def_lines.get((klass, function))
    line, old, new = None, "", ""
    offset = 0
    for text in diff:
        hunk = re.match(r"@@ -(\d+)", text)
        if hunk:
            offset = int(hunk.group(1))
            continue
        if text.startswith(("---", "+++")):
            continue
        if text.startswith("-") and not old:
            old = text[1:].strip()
            if start is not None:
                line = start + offset - 1
        elif text.startswith("+") and not new:
            new = text[1:].strip()
        elif text.startswith(" ") and not old:
            offset += 1
    return line, f"{old}  ->  {new}"


def main() -> int:
    metas = sorted(MUTANTS.glob("src/**/*.py.meta"))
    if not metas:
        print("no results in mutants/: run 'make mutants' (or mutmut run) first", file=sys.stderr)
        return 1
    totals: Counter[str] = Counter()
    rows = []
    remaining = []
    for meta in metas:
        source = meta.relative_to(MUTANTS).with_suffix("")  # src/needmap/....py
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        counts = Counter(status_by_exit_code[code] for code in codes.values())
        totals.update(counts)
        rows.append((str(source), len(codes), counts))
        def_lines = _function_lines(source)
        for name, code in sorted(codes.items()):
            status = status_by_exit_code[code]
            if status not in ("killed", "not checked"):  # not checked: the run was stopped before it
                line, change = _change(name, source, def_lines)
                remaining.append((status, f"{source}:{line}", name.rpartition(".")[-1], change))
    total = sum(totals.values())
    print(f"{'file':<44} {'mutants':>8} " + " ".join(f"{s:>9}" for s in STATUSES) + f" {'killed %':>9}")
    for source, n, counts in rows:
        rate = 100 * counts["killed"] / n if n else 0.0
        print(f"{source:<44} {n:>8} " + " ".join(f"{counts[s]:>9}" for s in STATUSES) + f" {rate:>8.1f}%")
    others = {s: c for s, c in totals.items() if s not in STATUSES}
    rate = 100 * totals["killed"] / total
    print(f"{'all':<44} {total:>8} " + " ".join(f"{totals[s]:>9}" for s in STATUSES) + f" {rate:>8.1f}%")
    if others:
        print("other statuses:", ", ".join(f"{s} {c}" for s, c in sorted(others.items())))
    print(
        f"\nkilled {totals['killed']} of {total} mutants ({100 * totals['killed'] / total:.1f}%); "
        f"with the {totals['timeout']} timeouts, detected {totals['killed'] + totals['timeout']} "
        f"({100 * (totals['killed'] + totals['timeout']) / total:.1f}%); "
        f"survived {totals['survived']}, no tests {totals['no tests']}."
    )
    if remaining:
        print(f"\nnot killed ({len(remaining)}): status, where, mutant, change")
        for status, where, name, change in sorted(remaining, key=lambda r: (r[1].split(":")[0], r[0], r[2])):
            print(f"  {status:<9} {where:<44} {name}\n            {change}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
