"""Which kernel multiplies float32 matrices on this CPU, MKL or oneDNN: measured, per product, and remembered.

A fully connected layer makes three products per training step: the forward ``x W^T`` and the two of
backward, ``dx = dy W`` and ``dW = dy^T x``. torch runs all three on MKL; oneDNN (torch's other CPU
library) runs them in the same float32 arithmetic, faster on some CPUs and slower on others, and not
uniformly: on one AMD Zen 4 oneDNN's forward and ``dx`` were faster than MKL's and its ``dW`` slower; on
an Intel Xeon with AMX MKL was as fast or faster for all three (BENCHMARKS.md, the matmul probe). A rule
by vendor guesses wrong on such CPUs, so :func:`measured_kernels` times each product on both kernels at
the speed benchmark's DNN shape and takes oneDNN for a product only where it needs at most
:data:`MARGIN` of MKL's time (a near tie keeps torch's default).

The measurement takes a fraction of a second and is made once per machine: it is remembered in
``cpu_matmul.json`` under needmap's cache folder (``NEEDMAP_CACHE_DIR``, else ``$XDG_CACHE_HOME/needmap``,
else ``~/.cache/needmap``), keyed by the CPU model and its flags, torch's version and the thread count.
So the same machine takes the same kernels on every run and a training run is reproducible from run to
run; delete the file to measure again. A file that cannot be read or written is measured around (logged),
never an error. A measurement made while other processes kept the CPUs busy (more than
:data:`OTHERS_BUSY_MAX` of them, by the kernel's CPU counters less this process's own time) is used for that
run only and not remembered: the other load slows the kernels unevenly, and a choice it skewed would
otherwise stay with the machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

#: The three products of a fully connected layer's training step, in the order they run.
PRODUCTS = ("forward", "dx", "dW")
#: The shape timed (rows x in -> out): the speed benchmark's first DNN layer at half its batch.
PROBE_SHAPE = (2048, 624, 400)
#: oneDNN takes a product only where its best time is at most this share of MKL's.
MARGIN = 0.9
#: Timed calls of each product on each kernel (the best counts), after one untimed call.
REPEATS = 5
#: The file under the cache folder, and the environment variable that moves the folder.
CACHE_FILE = "cpu_matmul.json"
CACHE_ENV = "NEEDMAP_CACHE_DIR"
#: The share of the usable cores that other processes may keep busy while the kernels are timed for the
#: measurement to be remembered.
OTHERS_BUSY_MAX = 0.25
#: The shortest timing that tells how busy the other processes were: the kernel counts CPU time in ticks
#: (1/100 s), so a shorter window reads one tick as a large share.
OTHERS_WINDOW_MIN_S = 0.2


@dataclass(frozen=True)
class Kernels:
    """Which products go to oneDNN (the rest stay on torch's default), and why, as a phrase for reports."""

    forward: bool
    dx: bool
    dW: bool
    why: str

    @property
    def any(self) -> bool:
        """Whether any product goes to oneDNN."""
        return self.forward or self.dx or self.dW

    @property
    def name(self) -> str:
        """'onednn' (all three products), 'torch' (none), or which go where: 'onednn forward+dx, torch dW'."""
        on = [p for p in PRODUCTS if getattr(self, p)]
        if len(on) == len(PRODUCTS):
            return "onednn"
        if not on:
            return "torch"
        off = [p for p in PRODUCTS if p not in on]
        return f"onednn {'+'.join(on)}, torch {'+'.join(off)}"

    @classmethod
    def every(cls, on: bool, why: str) -> Kernels:
        """All three products on oneDNN (``on``) or on torch's default."""
        return cls(on, on, on, why)


def cache_path() -> Path:
    """Where the measurements are remembered (see the module's docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / CACHE_FILE
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "needmap" / CACHE_FILE


def _cpu_model() -> str:
    """The CPU's model name and a digest of its flags, from /proc/cpuinfo ('' where unknown)."""
    name, flags = "", ""
    try:
        with Path("/proc/cpuinfo").open(encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name") and not name:
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1].strip()
                if name and flags:
                    break
    except OSError:
        pass
    digest = hashlib.sha256(flags.encode()).hexdigest()[:12] if flags else "no flags"
    return f"{name or platform.processor() or platform.machine()} ({digest})"


def machine_key() -> str:
    """What a measurement holds for: the CPU, torch's version and the thread count."""
    return f"{_cpu_model()}; torch {torch.__version__}; {torch.get_num_threads()} threads"


def _products(op: Any) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """Each product at :data:`PROBE_SHAPE`, as (torch's default, oneDNN) calls, as ``onednn.Linear`` runs them."""
    rows, n_in, n_out = PROBE_SHAPE
    gen = torch.Generator().manual_seed(0)
    x, w = torch.randn(rows, n_in, generator=gen), torch.randn(n_out, n_in, generator=gen)
    b, dy = torch.randn(n_out, generator=gen), torch.randn(rows, n_out, generator=gen)
    return {
        "forward": (lambda: torch.nn.functional.linear(x, w, b), lambda: op(x, w, b, "none", [], "")),
        "dx": (lambda: dy.mm(w), lambda: op(dy, w.t(), None, "none", [], "")),
        "dW": (lambda: dy.t().mm(x), lambda: op(dy.t(), x.t(), None, "none", [], "")),
    }


def time_products(op: Any) -> dict[str, list[float]]:
    """The best seconds of each product on each kernel: ``{product: [torch_s, onednn_s]}``.

    The two kernels alternate call by call, so that a machine growing busier slows both alike."""
    timings: dict[str, list[float]] = {}
    for product, calls in _products(op).items():
        best = [float("inf"), float("inf")]
        for call in calls:
            call()  # the first call sets up buffers and oneDNN's primitive
        for _ in range(REPEATS):
            for i, call in enumerate(calls):
                start = time.perf_counter()
                call()
                best[i] = min(best[i], time.perf_counter() - start)
        timings[product] = best
    return timings


def choose(timings: dict[str, list[float]], source: str) -> Kernels:
    """oneDNN for each product it runs in at most :data:`MARGIN` of torch's time; ``source`` says where the
    timings come from ('measured now', 'measured earlier, cpu_matmul.json')."""
    on = {p: timings[p][1] <= MARGIN * timings[p][0] for p in PRODUCTS}
    speeds = ", ".join(f"{p} {timings[p][0] / timings[p][1]:.2f}x" for p in PRODUCTS)
    return Kernels(**on, why=f"{Kernels(**on, why='').name} ({source}; oneDNN's speed over MKL's: {speeds})")


def _read_entry(path: Path, key: str) -> dict[str, Any]:
    """The remembered measurements for ``key`` (``{name: [seconds, seconds]}``), or {} (no file, no entry, or a
    file that cannot be read: logged)."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        entry = entries.get(key) if isinstance(entries, dict) else None
        return dict(entry) if isinstance(entry, dict) else {}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        logger.info("the kernel measurements in %s cannot be read (%s); measuring again", path, err)
        return {}


def _pair(entry: dict[str, Any], name: str) -> list[float] | None:
    """``entry[name]`` as two positive seconds, or None (absent or not such a pair)."""
    try:
        pair = [float(entry[name][0]), float(entry[name][1])]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return pair if len(entry[name]) == 2 and all(t > 0 for t in pair) else None


def _write_entry(path: Path, key: str, entry: dict[str, Any]) -> None:
    """Store ``key``'s measurements in the file, written whole (a temporary file renamed over it); logged on
    failure."""
    try:
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
            entries = entries if isinstance(entries, dict) else {}
        except (OSError, ValueError):
            entries = {}
        entries[key] = entry
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as err:
        logger.info("the kernel measurements could not be saved to %s (%s)", path, err)


def measured_kernels(op: Any) -> Kernels:
    """The kernels this machine's measurements choose: remembered ones where the cache has this machine's
    key, else measured now (and remembered)."""
    path, key = cache_path(), machine_key()
    entry = _read_entry(path, key)
    remembered = {p: _pair(entry, p) for p in PRODUCTS}
    if all(pair is not None for pair in remembered.values()):
        return choose({p: pair for p, pair in remembered.items() if pair is not None}, f"measured earlier, {path}")
    before = _cpu_counters()
    timings = time_products(op)
    others = others_busy_share(before, _cpu_counters())
    if others is not None and others > OTHERS_BUSY_MAX:
        logger.info(
            "other processes kept %.0f%% of the CPUs busy while the kernels were timed: not remembered", 100 * others
        )
        return choose(timings, f"measured now, not remembered: other processes kept {others:.0%} of the CPUs busy")
    _write_entry(path, key, {**entry, **timings})
    return choose(timings, "measured now")


@dataclass(frozen=True)
class CpuCounters:
    """The busy CPU seconds of the cores this process may run on (from /proc/stat), this process's CPU seconds
    and the wall clock, read together."""

    cores_busy_s: float
    own_s: float
    wall_s: float
    cores: int


def _cpu_counters() -> CpuCounters | None:
    """The counters now; None where /proc/stat cannot be read (not Linux)."""
    try:
        mine = {f"cpu{i}" for i in os.sched_getaffinity(0)}
        per_second = os.sysconf("SC_CLK_TCK")
        busy = 0
        with Path("/proc/stat").open(encoding="ascii") as fh:
            for line in fh:
                fields = line.split()
                if fields and fields[0] in mine:
                    ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
                    busy += sum(ticks) - ticks[3] - ticks[4] - ticks[7]  # less idle, I/O wait and stolen time
    except (AttributeError, OSError, ValueError):
        return None
    own = os.times()
    return CpuCounters(busy / per_second, own.user + own.system, time.perf_counter(), len(mine))


def others_busy_share(before: CpuCounters | None, after: CpuCounters | None) -> float | None:
    """The share of this process's cores that other processes kept busy between two readings: the cores' busy
    seconds less this process's, over the wall time times the cores; None where unknown (no counters, or a
    window shorter than :data:`OTHERS_WINDOW_MIN_S`)."""
    if before is None or after is None or after.wall_s - before.wall_s < OTHERS_WINDOW_MIN_S or not after.cores:
        return None
    others = (after.cores_busy_s - before.cores_busy_s) - (after.own_s - before.own_s)
    return max(0.0, others) / ((after.wall_s - before.wall_s) * after.cores)


def time_bf16(op: Any) -> list[float]:
    """The best seconds of the probe's forward product in float32 (the faster of torch's default and oneDNN,
    ``op``, when given) and in bfloat16 (torch's): ``[float32_s, bfloat16_s]``."""
    rows, n_in, n_out = PROBE_SHAPE
    gen = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(rows, n_in, generator=gen), torch.randn(n_out, n_in, generator=gen), torch.zeros(n_out)
    xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
    calls = [lambda: torch.nn.functional.linear(x, w, b), lambda: torch.nn.functional.linear(xb, wb, bb)]
    if op is not None:
        calls.append(lambda: op(x, w, b, "none", [], ""))
    best = [float("inf")] * len(calls)
    for call in calls:
        call()
    for _ in range(REPEATS):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            call()
            best[i] = min(best[i], time.perf_counter() - start)
    return [min(best[0], *best[2:]), best[1]]


def bf16_speedup(op: Any) -> float | None:
    """How many times as fast this CPU makes the probe's forward product in bfloat16 as in float32 (its faster
    float32 kernel), measured once per machine and remembered beside the kernel choice; None on a CPU without
    native bfloat16 arithmetic (:func:`needmap.runtime.precision.cpu_has_bf16`), where ``precision='bf16'`` is
    refused anyway. Training never switches precision by itself: bfloat16 changes the arithmetic, so this only
    tells a user what ``precision='bf16'`` would buy here."""
    from needmap.runtime.precision import cpu_has_bf16

    if not cpu_has_bf16():
        return None
    path, key = cache_path(), machine_key()
    entry = _read_entry(path, key)
    pair = _pair(entry, "bf16")
    if pair is None:
        pair = time_bf16(op)
        _write_entry(path, key, {**entry, "bf16": pair})
    return pair[0] / pair[1]
