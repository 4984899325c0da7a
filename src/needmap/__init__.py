"""needmap: deep learning that maps what customers did to what they will need next.

Public face::

    import needmap as nm
    table = nm.read("customers.csv")
    model = nm.Model("mlp", target="converted").fit(table)
    nm.load("models/x").predict(new_rows)
"""

from __future__ import annotations

__version__ = "0.1.0"

from needmap.data.read import read
from needmap.errors import NeedmapError
from needmap.estimator import Model, load

__all__ = ["Model", "NeedmapError", "__version__", "load", "read"]
