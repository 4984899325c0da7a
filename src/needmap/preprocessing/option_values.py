"""The values and defaults of the preprocessing options, apart from the encoders that use them.

:class:`needmap.preprocessing.config.PreprocessConfig` declares its options with these; kept in a module that
imports neither numpy nor pyarrow, so that the command line builds its ``--help`` from the declarations
without loading what they configure. The encoders (:mod:`needmap.preprocessing.numeric`,
:mod:`~needmap.preprocessing.values`, :mod:`~needmap.preprocessing.zero_flags`) read them from here.
"""

from __future__ import annotations

#: How a numeric column is scaled (``auto``: ``log1p`` for a long right tail, else ``standard``).
SCALINGS: tuple[str, ...] = ("auto", "standard", "log1p", "quantile", "none")
#: How a numeric column's missing values are filled.
IMPUTES: tuple[str, ...] = ("median", "mean")
#: A numeric column with at most this many distinct training values gets a value field by default.
DEFAULT_VALUE_FIELDS = 200
#: Values seen fewer times than this in the training rows share the out-of-vocabulary id.
DEFAULT_MIN_ROWS = 1
#: A numeric column whose non-missing training values are zero in at least this share gets a flag.
DEFAULT_ZERO_SHARE = 0.3
