"""The preprocessor and its column encoders; and, called as a function, :func:`needmap.events.api.features`.

``needmap.features(log, customer=..., time=..., as_of=...)`` builds a feature table from an event log. The
name is also this package's, and Python sets a package as an attribute of its parent when it is imported,
so this module is made callable: whichever of the two ``needmap.features`` is, calling it builds the table.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`needmap.events.api.features`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from needmap.events.api import features

        return features(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
