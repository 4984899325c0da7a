"""The multi-task benchmark's paired differences from the single-task MLPs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_multitask import SINGLE, paired_differences  # noqa: E402


def test_paired_differences_are_per_seed_means_with_standard_errors() -> None:
    results = {
        "mmoe": {"income": [0.870, 0.860, 0.880], "married": [0.84, 0.85, 0.86]},
        SINGLE: {"income": [0.868, 0.864, 0.875], "married": [0.84, 0.85, 0.86]},
    }
    header, rule, row = paired_differences(results)
    assert header.startswith(f"| model − {SINGLE} | income") and rule == "|---|---:|---:|"
    # income differences +0.002, -0.004, +0.005: mean +0.001, std 0.004583, s.e. 0.002646; 2 of 3 seeds >= 0.
    assert row == "| mmoe | +0.0010 ± 0.0026 (2/3) | +0.0000 ± 0.0000 (3/3) |"


def test_results_are_written_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    from benchmarks import bench_multitask

    target = tmp_path / "results" / "multitask.md"
    bench_multitask.write_atomic(target, "first\n")
    assert target.read_text() == "first\n"

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(bench_multitask.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        bench_multitask.write_atomic(target, "second\n")
    assert target.read_text() == "first\n"  # the old file stays whole
    assert [p.name for p in target.parent.iterdir()] == ["multitask.md"]  # no temporary left behind
