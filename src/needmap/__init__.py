"""needmap: deep learning that maps what customers did to what they will need next.

Public face::

    import needmap as nm
    table = nm.read("customers.csv")
    model = nm.Model("mlp", target="converted").fit(table)
    nm.load("models/x").predict(new_rows)      # a Predictor: the fitted model
"""

from __future__ import annotations

__version__ = "0.1.0"

# Before anything imports pyarrow: Arrow allocates from the system's allocator (needmap.data.arrow_memory).
from needmap.data.arrow_memory import prefer_system_pool_at_import

prefer_system_pool_at_import()

from needmap.data.read import read  # noqa: E402
from needmap.errors import NeedmapError  # noqa: E402
from needmap.estimator import Model, clone, load  # noqa: E402
from needmap.predictor import Predictor  # noqa: E402

__all__ = ["Model", "NeedmapError", "Predictor", "__version__", "clone", "load", "read"]
