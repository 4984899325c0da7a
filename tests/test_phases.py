"""Where a command's time goes: the phase clock, and the phases of a training run in metrics.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
import needmap.workflows.phases as phases
from needmap.workflows.phases import PhaseClock, phases_line, raised_by
from needmap.workflows.train import run_train

TRAIN_PHASES = ["read", "infer", "split", "profile", "prepare", "train", "baselines", "selection", "evaluate"]


def test_the_clock_adds_seconds_per_phase_in_the_order_they_first_ran() -> None:
    clock = PhaseClock()
    clock.add("read", 1.25)
    with clock.phase("train"):
        time.sleep(0.02)
    with pytest.raises(RuntimeError), clock.phase("evaluate"):
        raise RuntimeError("a phase that fails is timed too")
    clock.add("read", 0.5)
    clock.add("write", -1.0)  # a negative difference of two clocks counts as nothing
    seconds = clock.as_dict()
    assert list(seconds) == ["read", "train", "evaluate", "write"]
    assert seconds["read"] == 1.75 and seconds["train"] >= 0.02 and seconds["write"] == 0.0
    assert phases_line({"read": 1.25, "train": 2.0}) == "time: read 1.2 s, train 2.0 s (of 3.2 s)"
    peaks = clock.peaks()
    assert list(peaks) == list(seconds) and all(mb > 0 for mb in peaks.values())
    assert list(peaks.values()) == sorted(peaks.values())  # a high-water mark never falls


def test_the_peak_memory_names_the_phase_that_reached_it() -> None:
    line = phases_line({"read": 1.0, "train": 2.0, "write": 0.5}, {"read": 800.0, "train": 1962.4, "write": 1962.4})
    assert line == "time: read 1.0 s, train 2.0 s, write 0.5 s (of 3.5 s); peak memory 1,962 MB (in train)"
    assert raised_by({}) is None


def test_a_phase_run_again_keeps_its_peak_unless_it_raised_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # A streamed run reads the file again after training: the peak its training reached is not the read's.
    highs = iter([400.0, 2700.0, 2700.0, 2900.0])
    monkeypatch.setattr(phases, "peak_memory_mb", lambda: next(highs))
    clock = PhaseClock()
    clock.add("read", 1.0)  # 400
    clock.add("prepare", 2.0, peak=900.0)  # the preparing part of a fit ended before its training loop began
    clock.add("train", 3.0)  # 2700
    clock.add("read", 1.0)  # 2700: not raised by this read
    assert clock.peaks() == {"read": 400.0, "prepare": 900.0, "train": 2700.0}
    assert raised_by(clock.peaks()) == "train"
    clock.add("read", 1.0)  # 2900: this read raised it
    assert clock.peaks()["read"] == 2900.0 and raised_by(clock.peaks()) == "read"


def test_a_phase_that_allocates_raises_the_peak() -> None:
    """In a fresh process (this one's high-water mark is whatever an earlier test reached): 300 MB touched
    inside a phase show in that phase's peak and not in the one before."""
    import subprocess
    import sys

    code = (
        "from needmap.workflows.phases import PhaseClock\n"
        "clock = PhaseClock(); clock.add('before', 0.0)\n"
        "with clock.phase('allocate'):\n"
        "    block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096])\n"
        "print(clock.peaks()['allocate'] - clock.peaks()['before'])\n"
    )
    grown = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 290 < grown < 400


def test_a_training_run_keeps_its_phases_in_metrics_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2))
    table = pa.table({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] + rng.normal(size=600) > 0).astype(np.int64)})
    model = nm.Model("mlp", target="y", epochs=1, hidden=[8], progress=False)
    started = time.perf_counter()
    outcome = run_train(table, model, out=tmp_path / "m", phases={"read": 0.5}, n_boot=20)
    wall = time.perf_counter() - started
    saved = json.loads((tmp_path / "m" / "metrics.json").read_text())["phases"]
    assert list(saved) == TRAIN_PHASES
    assert saved["read"] == 0.5 and all(v >= 0 for v in saved.values())
    assert outcome.phases == {**saved, "write": outcome.phases["write"]}  # the writing ends after metrics.json
    assert outcome.phases["train"] == pytest.approx(outcome.metrics["training"]["wall_time_s"], abs=1e-3)
    assert sum(outcome.phases.values()) - 0.5 <= wall + 0.01  # never more than the run took (ms rounding aside)
    peaks = json.loads((tmp_path / "m" / "metrics.json").read_text())["peak_memory_mb"]
    assert list(peaks) == TRAIN_PHASES and outcome.peak_memory_mb == {**peaks, "write": outcome.peak_memory_mb["write"]}


def test_needmap_train_prints_where_its_time_went(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from needmap.cli import app

    rng = np.random.default_rng(1)
    lines = ["a,b,y"] + [f"{a:.3f},{b:.3f},{int(a + b > 0)}" for a, b in rng.normal(size=(400, 2))]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["train", str(tmp_path / "rows.csv"), "--target", "y", "--epochs", "1", "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())  # the line may wrap
    assert "time: read " in shown and ", write " in shown and "; peak memory " in shown
    saved = json.loads((tmp_path / "m" / "metrics.json").read_text())["phases"]
    assert list(saved) == TRAIN_PHASES and saved["read"] > 0


@pytest.mark.parametrize(
    ("training", "speedup", "noted"),
    [
        ({"device": "cpu", "precision": "fp32", "wall_time_s": 60.0}, 6.6, True),
        ({"device": "cpu", "precision": "fp32", "wall_time_s": 60.0}, 1.5, False),  # not worth a switch
        ({"device": "cpu", "precision": "fp32", "wall_time_s": 60.0}, None, False),  # no native bfloat16
        ({"device": "cpu", "precision": "fp32", "wall_time_s": 3.0}, 6.6, False),  # too short to matter
        ({"device": "cpu", "precision": "bf16", "wall_time_s": 60.0}, 6.6, False),
        ({"device": "cuda:0", "precision": "fp32", "wall_time_s": 60.0}, 6.6, False),
    ],
)
def test_a_long_float32_training_hears_of_a_much_faster_bfloat16(
    monkeypatch: pytest.MonkeyPatch, training: dict, speedup: float | None, noted: bool
) -> None:
    from needmap.runtime import onednn
    from needmap.workflows.train import bf16_note

    monkeypatch.setattr(onednn, "bf16_speedup", lambda: speedup)
    note = bf16_note(training)
    assert (note is not None) is noted
    if noted:
        assert note is not None and "6.6x as fast" in note and "--precision bf16" in note
