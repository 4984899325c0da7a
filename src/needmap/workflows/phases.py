"""Where a command's time goes: seconds per phase (read, infer, preprocess, train, baselines, ...).

A whole `needmap train` can take many times its training loop (baselines on a million rows, the paired
comparisons and the permutation importance, the profile of the training rows), and a user who waits wants to
know for what. A :class:`PhaseClock` adds up wall seconds per named phase in the order the phases first ran;
the command prints them at the end and ``metrics.json`` keeps them (``phases``), all but the writing of the
model directory, which ends after ``metrics.json`` is written.

The phases of ``needmap train``: ``read`` (the file), ``infer`` (the schema), ``split`` (rows without a target
left out, the test rows held out), ``cross-validation`` (with ``--cv``), ``prepare`` (the preprocessing fitted
and applied, the network built; the first fit of a process also loads torch), ``train`` (the training loop,
validation passes included), ``profile`` (the training rows' profile for drift), ``baselines``, ``selection`` (the
scorer chosen on validation rows), ``evaluate`` (the test rows scored and compared, the permutation importance) and
``write``. A Parquet file streamed (:mod:`needmap.workflows.train_file`) adds to ``read`` the rows read from it after
training (the baselines' sample and the test rows).

Beside the seconds, the clock keeps the process's peak resident memory as each phase ends (the operating
system's high-water mark), so ``metrics.json`` (``peak_memory_mb``) and the printed line say which phase
raised it, and by how much.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from needmap.runtime.peak_memory import peak_memory_mb


class PhaseClock:
    """Wall seconds per phase, by name, in the order each phase first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}  # the process's peak resident memory when the phase last ended

    def add(self, name: str, seconds: float, peak: float | None = None) -> None:
        """Add ``seconds`` to phase ``name`` (made when new) and note the peak memory so far (``peak``: the peak
        when the phase ended, where it ended before now, as the preparing part of a fit that went on training).

        A phase that runs again (``read``, ``prepare`` of a streamed file) keeps the peak of its first end unless
        a later run raised the process's peak: the phase that raised it is then the first that holds it."""
        self.seconds[name] = self.seconds.get(name, 0.0) + max(float(seconds), 0.0)
        peak = peak_memory_mb() if peak is None else peak
        if peak is None:
            return
        if name not in self.peak_mb or peak > max(self.peak_mb.values()):
            self.peak_mb[name] = peak

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as (a part of) phase ``name``, also when it raises."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def as_dict(self) -> dict[str, float]:
        """``{phase: seconds}`` rounded to milliseconds, in order."""
        return {name: round(seconds, 3) for name, seconds in self.seconds.items()}

    def peaks(self) -> dict[str, float]:
        """``{phase: MB}``: the process's peak resident memory when each phase ended (a phase that ran more than
        once: see :meth:`add`), in order (empty where the system does not say)."""
        return {name: round(mb, 1) for name, mb in self.peak_mb.items()}


def raised_by(peaks: Mapping[str, float]) -> str | None:
    """The phase that raised the peak memory to its highest: the first whose peak equals the last one's."""
    if not peaks:
        return None
    top = max(peaks.values())
    return next(name for name, mb in peaks.items() if mb >= top)


def phases_line(phases: Mapping[str, float], peaks: Mapping[str, float] | None = None) -> str:
    """``"time: read 1.2 s, infer 0.3 s, ... (of 12.0 s); peak memory 1,962 MB (in baselines)"``: each phase's
    seconds and their sum, then the peak memory and the phase that reached it when ``peaks`` says."""
    parts = [f"{name} {seconds:.1f} s" for name, seconds in phases.items()]
    line = f"time: {', '.join(parts)} (of {sum(phases.values()):.1f} s)"
    phase = raised_by(peaks or {})
    if phase is not None:
        line += f"; peak memory {max((peaks or {}).values()):,.0f} MB (in {phase})"
    return line
