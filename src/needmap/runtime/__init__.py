"""How needmap runs on this machine: kernels, precision, devices, threads and allocators.

Nothing here takes effect when it is imported: the command line (:func:`needmap.cli.main`) and the
calls that train and score (``Model.fit``, ``predict_proba``, ``evaluate``, the Trainer) apply what
they need, when they run.

- :mod:`needmap.runtime.arrow_memory`: which memory pool Arrow allocates from (the system's).
- :mod:`needmap.runtime.malloc`: glibc's malloc keeps freed blocks for the next training step.
- :mod:`needmap.runtime.onednn`: large float32 CPU products on oneDNN where it is the faster kernel.
- :mod:`needmap.runtime.matmul_choice`: which kernel is faster for each product, measured once per machine.
- :mod:`needmap.runtime.precision`: float32, or bfloat16 autocast where the hardware computes it.
- :mod:`needmap.runtime.device`: the CPU or a CUDA GPU, and the cores this process may use.
- :mod:`needmap.runtime.process_exit`: the command's process ends once its work is done, without the
  interpreter's teardown.

:func:`prefer_system_arrow_pool` is the one setting for a whole process, which must come before pyarrow
is loaded; a script calls it first to get what the ``needmap`` command gets.
"""

from __future__ import annotations

from needmap.runtime.arrow_memory import prefer_system_arrow_pool

__all__ = ["prefer_system_arrow_pool"]
