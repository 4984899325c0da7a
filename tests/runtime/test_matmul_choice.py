"""needmap.runtime.matmul_choice: each product's kernel measured on this machine, chosen with a margin, remembered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from needmap.runtime import matmul_choice, onednn
from needmap.runtime.matmul_choice import CACHE_ENV, MARGIN, PRODUCTS, Kernels, choose, machine_key, measured_kernels

HAS_ONEDNN = onednn._linear_op() is not None


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    return tmp_path / "cpu_matmul.json"


def _timings(forward: float, dx: float, dw: float) -> dict[str, list[float]]:
    """Timings where oneDNN takes the given share of torch's 10 ms for each product."""
    return {"forward": [0.01, 0.01 * forward], "dx": [0.01, 0.01 * dx], "dW": [0.01, 0.01 * dw]}


def test_onednn_takes_a_product_only_where_clearly_faster() -> None:
    chosen = choose(_timings(0.5, MARGIN, 1.05), "measured now")
    assert (chosen.forward, chosen.dx, chosen.dW) == (True, True, False)
    assert chosen.name == "onednn forward+dx, torch dW"
    assert "measured now" in chosen.why and "forward 2.00x" in chosen.why and "dW 0.95x" in chosen.why
    tie = choose(_timings(0.95, 0.99, 1.0), "measured now")  # within the margin: torch's default stays
    assert not tie.any and tie.name == "torch"
    assert choose(_timings(0.4, 0.5, 0.6), "x").name == "onednn"


def test_the_measurement_is_made_once_and_remembered(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    measured: list[int] = []

    def fake(op: object) -> dict[str, list[float]]:
        measured.append(1)
        return _timings(0.5, 1.2, 0.6)

    monkeypatch.setattr(matmul_choice, "time_products", fake)
    first = measured_kernels(None)
    assert measured == [1] and "measured now" in first.why
    stored = json.loads(cache.read_text())
    assert stored[machine_key()] == _timings(0.5, 1.2, 0.6)
    second = measured_kernels(None)  # another process on this machine: read back, not measured
    assert measured == [1] and str(cache) in second.why
    assert (second.forward, second.dx, second.dW) == (first.forward, first.dx, first.dW) == (True, False, True)


def test_another_thread_count_is_measured_apart(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matmul_choice, "time_products", lambda op: _timings(0.5, 0.5, 0.5))
    threads = torch.get_num_threads()
    measured_kernels(None)
    try:
        torch.set_num_threads(threads + 1)
        monkeypatch.setattr(matmul_choice, "time_products", lambda op: _timings(1.5, 1.5, 1.5))
        assert measured_kernels(None).name == "torch"
    finally:
        torch.set_num_threads(threads)
    assert measured_kernels(None).name == "onednn"  # the first key's entry is kept
    assert len(json.loads(cache.read_text())) == 2


@pytest.mark.parametrize(
    "content",
    ["not json", "[1, 2]", '{"KEY": {"forward": [0.01]}}', '{"KEY": {"forward": [0, 0], "dx": [1, 1], "dW": [1, 1]}}'],
)
def test_an_unreadable_cache_is_measured_around(cache: Path, monkeypatch: pytest.MonkeyPatch, content: str) -> None:
    cache.write_text(content.replace("KEY", machine_key()))
    monkeypatch.setattr(matmul_choice, "time_products", lambda op: _timings(0.5, 0.5, 0.5))
    assert measured_kernels(None).why.startswith("onednn (measured now")
    assert json.loads(cache.read_text())[machine_key()] == _timings(0.5, 0.5, 0.5)  # replaced by a good entry


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "below"))  # a folder under a file cannot be made
    monkeypatch.setattr(matmul_choice, "time_products", lambda op: _timings(0.5, 0.5, 0.5))
    assert measured_kernels(None).name == "onednn"


def test_the_cache_folder_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert matmul_choice.cache_path() == tmp_path / "needmap" / "cpu_matmul.json"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert matmul_choice.cache_path() == tmp_path / "mine" / "cpu_matmul.json"


@pytest.mark.skipif(not HAS_ONEDNN, reason="this torch build has no oneDNN linear op")
def test_the_real_products_are_timed_on_both_kernels(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    timings = matmul_choice.time_products(onednn._linear_op())
    assert set(timings) == set(PRODUCTS)
    assert all(len(pair) == 2 and 0 < t < 5 for pair in timings.values() for t in pair)
    # the machine's other load is not this test's subject (it is faked above): none read, so remembered
    monkeypatch.setattr(matmul_choice, "_cpu_counters", lambda: None)
    chosen = measured_kernels(onednn._linear_op())
    assert isinstance(chosen, Kernels) and cache.exists()


def test_kernels_every() -> None:
    assert Kernels.every(True, "x").name == "onednn" and Kernels.every(False, "x").name == "torch"


def test_bf16_speedup_is_measured_once_and_kept_beside_the_kernels(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import needmap.runtime.precision as precision

    monkeypatch.setattr(matmul_choice, "time_products", lambda op: _timings(0.5, 0.5, 0.5))
    measured_kernels(None)
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    calls: list[int] = []

    def fake(op: object) -> list[float]:
        calls.append(1)
        return [0.012, 0.002]

    monkeypatch.setattr(matmul_choice, "time_bf16", fake)
    assert matmul_choice.bf16_speedup(None) == pytest.approx(6.0)
    assert matmul_choice.bf16_speedup(None) == pytest.approx(6.0) and calls == [1]  # remembered
    entry = json.loads(cache.read_text())[machine_key()]
    assert entry["bf16"] == [0.012, 0.002] and entry["forward"] == [0.01, 0.005]  # the kernels' timings kept
    assert measured_kernels(None).why.startswith("onednn (measured earlier")


def test_no_bf16_speedup_without_native_bfloat16(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import needmap.runtime.precision as precision

    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(matmul_choice, "time_bf16", lambda op: pytest.fail("measured on a CPU without bfloat16"))
    assert matmul_choice.bf16_speedup(None) is None and not cache.exists()


def test_the_real_bf16_product_is_timed() -> None:
    fp32, bf16 = matmul_choice.time_bf16(onednn._linear_op())
    assert 0 < fp32 < 5 and 0 < bf16 < 5


def _counters(busy: float, own: float, wall: float) -> matmul_choice.CpuCounters:
    return matmul_choice.CpuCounters(cores_busy_s=busy, own_s=own, wall_s=wall, cores=2)


def test_others_busy_share_is_the_cores_busy_time_less_this_process() -> None:
    share = matmul_choice.others_busy_share
    assert share(_counters(10, 1, 100), _counters(12, 2, 101)) == pytest.approx(0.5)  # 2 s busy, 1 s ours, 2 cores
    assert share(_counters(10, 1, 100), _counters(11, 2, 101)) == 0.0  # all of it ours
    assert share(None, _counters(1, 1, 1)) is None and share(_counters(1, 1, 1), _counters(1, 1, 1)) is None
    assert share(_counters(10, 1, 100), _counters(10.01, 1, 100.01)) is None  # a tick in 10 ms tells nothing


def test_a_measurement_on_a_busy_machine_is_used_not_remembered(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    measured: list[int] = []
    monkeypatch.setattr(matmul_choice, "time_products", lambda op: measured.append(1) or _timings(0.5, 1.2, 0.6))
    readings = iter([_counters(10, 1, 100), _counters(11.5, 1.5, 101)])  # others: 1 s of 2 core-seconds
    monkeypatch.setattr(matmul_choice, "_cpu_counters", lambda: next(readings))
    busy = measured_kernels(None)
    assert (busy.forward, busy.dx, busy.dW) == (True, False, True)
    assert "not remembered: other processes kept 50% of the CPUs busy" in busy.why and not cache.exists()
    quiet = iter([_counters(10, 1, 100), _counters(11.1, 2, 101)])  # others: 0.1 s, 5% of the cores
    monkeypatch.setattr(matmul_choice, "_cpu_counters", lambda: next(quiet))
    assert "measured now" in measured_kernels(None).why and measured == [1, 1]
    assert json.loads(cache.read_text())[machine_key()] == _timings(0.5, 1.2, 0.6)


def test_other_processes_on_every_core_read_as_busy() -> None:
    """The real counters: processes spinning on every core this process may use show as others' load."""
    import subprocess
    import sys
    import time

    from needmap.runtime.device import usable_cores

    if matmul_choice._cpu_counters() is None:
        pytest.skip("no /proc/stat on this system: the share is unknown there and measurements are remembered")
    spin = "import time\nend = time.time() + 3\nwhile time.time() < end: pass"
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(usable_cores())]
    try:
        time.sleep(0.5)
        before = matmul_choice._cpu_counters()
        time.sleep(1.0)
        share = matmul_choice.others_busy_share(before, matmul_choice._cpu_counters())
    finally:
        for process in spinners:
            process.kill()
            process.wait()
    assert share is not None and share > 0.6, share
