"""``needmap train LOG --task recommend``: read the log and the item table, train, save, and say what won.

The network options of ``needmap train`` that a recommender network also has (``--epochs``, ``--batch-size``,
``--lr``, ``--seed``, ``--embedding-dim``, ``--dropout``, ``--patience``, ``--max-time``, ``--threads``,
``--weight-decay``, ``--hidden``) reach the networks when given; ``--param key=value`` reaches the named
model's own options (``--model ease --param l2=200``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from needmap.errors import ConfigError
from needmap.recommend.interactions import Interactions, ids_like

#: The options of ``needmap train`` that recommender networks share, by name.
SHARED_NETWORK_OPTIONS = (
    "epochs", "batch_size", "lr", "seed", "embedding_dim", "dropout", "patience", "max_time", "threads",
    "weight_decay", "hidden", "progress",
)  # fmt: skip


def network_params(shared: Mapping[str, Any], model: str | None, params: Mapping[str, Any]) -> dict[str, dict]:
    """Options by model name: the shared ones each network declares, and ``params`` for ``model``."""
    from needmap.recommend.recommender import MODEL_NAMES, algorithm_class

    out: dict[str, dict[str, Any]] = {}
    for name in MODEL_NAMES:
        cls = algorithm_class(name)
        chosen = {k: v for k, v in shared.items() if k in cls.param_names() and cls.network}
        if "hidden" in chosen and isinstance(chosen["hidden"], list):
            chosen["hidden"] = tuple(chosen["hidden"])
        out[name] = chosen
    if params:
        if model is None:
            raise ConfigError("--param names options of one model; expected --model with it.")
        out[model] = {**out.get(model, {}), **params}
    return out


def item_attribute_codes(
    interactions: Interactions, items: Any, item_column: str | None, attributes: list[str]
) -> dict[str, np.ndarray]:
    """Integer codes (0: missing or unknown) of the item table's attribute columns, aligned with the model's
    items, for the two-tower item tower."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from needmap.data.read import read

    table = items if isinstance(items, pa.Table) else read(items)
    key = item_column if item_column in table.column_names else table.column_names[0]
    columns = attributes or [c for c in table.column_names if c != key]
    for name in [key, *columns]:
        if name not in table.column_names:
            raise ConfigError(
                f"the item table has no column {name!r}; expected one of {', '.join(table.column_names)}."
            )
    ids = interactions.item_ids
    keys = ids_like(table.column(key).combine_chunks(), ids)
    if keys is None:
        raise ConfigError(
            f"the item table's column {key!r} is {table.column(key).type}; expected the log's item ids ({ids.type})."
        )
    rows = pc.index_in(ids, value_set=keys).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    found = rows >= 0
    codes: dict[str, np.ndarray] = {}
    for name in columns:
        values = pc.cast(table.column(name), pa.string())
        vocabulary = pc.unique(values.drop_null())
        index = pc.index_in(values, value_set=vocabulary).fill_null(-1).to_numpy(zero_copy_only=False) + 1
        aligned = np.zeros(interactions.n_items, dtype=np.int64)
        aligned[found] = index[rows[found]]
        codes[name] = aligned
    return codes


def run_recommend_train(
    data: str,
    out: Path,
    *,
    model: str | None,
    recommend: Mapping[str, Any],
    shared: Mapping[str, Any],
    params: Mapping[str, Any],
    memory_limit: str | None = None,
    say: Callable[[str], None] | None = None,
) -> Any:
    """Read, train (:func:`needmap.recommend.train.train_recommender`) and save; returns the outcome."""
    from needmap.recommend.interactions import read_interactions
    from needmap.recommend.options import RecommendOptions
    from needmap.recommend.recommender import default_card
    from needmap.recommend.train import train_recommender

    chosen = RecommendOptions.from_dict(dict(recommend))
    assert isinstance(chosen, RecommendOptions)
    if not chosen.customer or not chosen.item:
        raise ConfigError("--task recommend needs the log's columns; expected --customer COLUMN and --item COLUMN.")
    from needmap.model_place import check_model_destination
    from needmap.recommend.recommender import RECOMMENDER_FILES

    check_model_destination(Path(out), RECOMMENDER_FILES)
    interactions = read_interactions(
        data,
        customer=chosen.customer,
        item=chosen.item,
        time=chosen.time,
        event=chosen.event,
        positive_events=chosen.positive_events,
        memory_limit=memory_limit,
    )
    if say:
        bad = ", ".join(f"{r}: {c:,}" for r, c in interactions.bad_rows.items()) or "none"
        say(
            f"{len(interactions):,} events of {interactions.n_customers:,} customers over "
            f"{interactions.n_items:,} items; bad rows left out: {bad}"
        )
    features = None
    if chosen.items:
        features = item_attribute_codes(interactions, chosen.items, chosen.item, chosen.item_attributes)
    outcome = train_recommender(
        interactions,
        model=model,
        params=network_params(shared, model, params),
        split=chosen.holdout,
        test_share=chosen.holdout_share,
        validation_share=chosen.holdout_share,
        k=chosen.k,
        seed=int(shared.get("seed", 0)),
        item_features=features,
        report=say,
    )
    outcome.recommender.columns_ = {
        "customer": chosen.customer, "item": chosen.item, "time": chosen.time, "event": chosen.event,
        "positive_events": list(chosen.positive_events),
    }  # fmt: skip
    outcome.recommender.save(out, card=default_card(outcome.recommender))
    return outcome
