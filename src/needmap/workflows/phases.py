"""Where a command's time goes: seconds per phase (read, infer, preprocess, train, baselines, ...).

A whole `needmap train` can take many times its training loop (baselines on a million rows, the paired
comparisons and the permutation importance, the profile of the training rows), and a user who waits wants to
know for what. A :class:`PhaseClock` adds up wall seconds per named phase in the order the phases first ran;
the command prints them at the end and ``metrics.json`` keeps them (``phases``), all but the writing of the
model directory, which ends after ``metrics.json`` is written.

The phases of ``needmap train``: ``read`` (the file), ``infer`` (the schema), ``split`` (rows without a target
left out, the test rows held out), ``cross-validation`` (with ``--cv``), ``prepare`` (the preprocessing fitted
and applied, the network built; the first fit of a process also loads torch), ``train`` (the training loop,
validation passes included), ``baselines``, ``selection`` (the scorer chosen on validation rows), ``evaluate``
(the test rows scored and compared, the permutation importance), ``profile`` (the training rows' profile for drift) and
``write``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


class PhaseClock:
    """Wall seconds per phase, by name, in the order each phase first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to phase ``name`` (made when new)."""
        self.seconds[name] = self.seconds.get(name, 0.0) + max(float(seconds), 0.0)

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


def phases_line(phases: Mapping[str, float]) -> str:
    """``"time: read 1.2 s, infer 0.3 s, ... (of 12.0 s)"``: each phase's seconds and their sum."""
    parts = [f"{name} {seconds:.1f} s" for name, seconds in phases.items()]
    return f"time: {', '.join(parts)} (of {sum(phases.values()):.1f} s)"
