"""needmap: deep learning that maps what customers did to what they will need next.

Public face::

    import needmap as nm
    table = nm.read("customers.csv")
    model = nm.Model("mlp", target="converted").fit(table)
    nm.load("models/x").predict(new_rows)      # a Predictor: the fitted model
    rec = nm.Recommender("sasrec").fit("orders.parquet", customer="CustomerID", item="StockCode", time="InvoiceDate")
    rec.recommend(["12347"], k=10)              # customer, rank, item, score

``read``, ``Model``, ``Predictor``, ``clone`` and ``load`` are loaded on first use: ``import needmap``
loads neither pyarrow nor torch and changes no setting of the process, so that the ``needmap`` command
can choose Arrow's allocator before pyarrow loads (:mod:`needmap.runtime`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from needmap._version import __version__
from needmap.errors import NeedmapError

if TYPE_CHECKING:
    from needmap.data.read import read
    from needmap.estimator import Model, clone, load
    from needmap.events.api import features
    from needmap.predictor import Predictor
    from needmap.recommend.recommender import Recommender
    from needmap.uplift.model import UpliftModel

__all__ = [
    "Model",
    "NeedmapError",
    "Predictor",
    "Recommender",
    "UpliftModel",
    "__version__",
    "clone",
    "features",
    "load",
    "read",
]


def __getattr__(name: str) -> Any:
    """``needmap.read``, ``Model``, ``Predictor``, ``Recommender``, ``UpliftModel``, ``clone``, ``load``,
    ``features``: imported when first asked."""
    if name == "read":
        from needmap.data.read import read as value
    elif name == "Model":
        from needmap.estimator import Model as value
    elif name == "load":
        from needmap.estimator import load as value
    elif name == "clone":
        from needmap.estimator import clone as value
    elif name == "features":
        from needmap.events.api import features as value
    elif name == "Predictor":
        from needmap.predictor import Predictor as value
    elif name == "Recommender":
        from needmap.recommend.recommender import Recommender as value
    elif name == "UpliftModel":
        from needmap.uplift.model import UpliftModel as value
    else:
        raise AttributeError(f"module 'needmap' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
