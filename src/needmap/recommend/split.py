"""Honest splits of interactions for recommenders: leave-last-out by time, or one global time cut.

* **leave-last-out**: each customer's last event (by time) is their test item and the one before it their
  validation item; the rest is training. A customer with fewer than three events stays whole in training
  (nothing of theirs is held out). This is the protocol of SASRec and of the leave-one-out tables of the field.
* **time**: one cut for everybody at a time chosen so that ``test_share`` of the events lie after it (and
  the validation cut so that ``validation_share`` lie between the two): no model sees the future of anyone,
  which is how a recommender is used. A customer's held-out items are the ones they touched after the cut
  that they had not touched before it.

Held-out targets are (customer index, list of item indices); the history each customer brings to its test
is everything before its held-out part (for the test: training plus validation events).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from needmap.errors import ConfigError
from needmap.recommend.interactions import Interactions

SPLITS = ("leave-last-out", "time")


@dataclass
class HeldOut:
    """Customers and the items each one is to be found recommending (``items[k]`` for ``customers[k]``)."""

    customers: np.ndarray
    items: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.customers)


@dataclass
class RecommendSplit:
    """Training events, the validation targets (recommended from ``train``), the test targets (recommended
    from ``train_and_validation``)."""

    train: Interactions
    validation: HeldOut
    train_and_validation: Interactions
    test: HeldOut
    kind: str
    note: str


def split_interactions(
    data: Interactions, kind: str = "leave-last-out", *, test_share: float = 0.1, validation_share: float = 0.1
) -> RecommendSplit:
    """Split ``data`` (see the module's docstring)."""
    if kind == "leave-last-out":
        return leave_last_out(data)
    if kind == "time":
        return time_split(data, test_share, validation_share)
    raise ConfigError(f"split is {kind!r}; expected one of {', '.join(SPLITS)}.")


def leave_last_out(data: Interactions) -> RecommendSplit:
    """Each customer's last event tests, the one before validates (customers with three or more events)."""
    starts = data.starts()
    counts = np.diff(starts)
    held = np.flatnonzero(counts >= 3)
    if len(held) == 0:
        raise ConfigError(
            f"{data.source}: no customer has three or more events; leave-last-out needs a training event, a "
            "validation event and a test event per customer."
        )
    last = starts[held + 1] - 1
    keep_test = np.ones(len(data), dtype=bool)
    keep_test[last] = False
    keep_validation = keep_test.copy()
    keep_validation[last - 1] = False
    note = (
        f"leave-last-out by time: {len(held):,} of {data.n_customers:,} customers hold out their last event "
        f"(test) and the one before (validation); {int((counts < 3).sum()):,} with fewer than three events "
        "stay in training"
    )
    return RecommendSplit(
        train=data.subset(keep_validation),
        validation=HeldOut(held.astype(np.int32), [data.item[i : i + 1] for i in last - 1]),
        train_and_validation=data.subset(keep_test),
        test=HeldOut(held.astype(np.int32), [data.item[i : i + 1] for i in last]),
        kind="leave-last-out",
        note=note,
    )


def time_split(data: Interactions, test_share: float = 0.1, validation_share: float = 0.1) -> RecommendSplit:
    """One validation cut and one test cut in time for every customer."""
    if not (0 < test_share < 1 and 0 < validation_share < 1 and test_share + validation_share < 1):
        raise ConfigError(
            f"test share {test_share} and validation share {validation_share}: expected two shares between 0 "
            "and 1 whose sum is below 1."
        )
    if not data.time.any():
        raise ConfigError(f"{data.source}: the time split needs event times; expected --time COLUMN.")
    test_cut = np.quantile(data.time, 1 - test_share, method="higher")
    validation_cut = np.quantile(data.time, 1 - test_share - validation_share, method="higher")
    train = data.subset(data.time < validation_cut)
    train_and_validation = data.subset(data.time < test_cut)
    validation = _after(data, train, (data.time >= validation_cut) & (data.time < test_cut))
    test = _after(data, train_and_validation, data.time >= test_cut)
    if len(validation) == 0 or len(test) == 0:
        raise ConfigError(
            f"{data.source}: the time split leaves no customer with a new item after the validation or the test "
            "cut; expected a log spanning more time, or larger shares."
        )
    note = (
        f"time split: validation from {_iso(validation_cut)}, test from {_iso(test_cut)}; {len(validation):,} "
        f"customers validate and {len(test):,} test on the items they had not touched before"
    )
    return RecommendSplit(train, validation, train_and_validation, test, "time", note)


def _after(data: Interactions, before: Interactions, window: np.ndarray) -> HeldOut:
    """Per customer, the distinct items of ``window`` that they did not touch in ``before``."""
    seen = set((before.customer.astype(np.int64) * data.n_items + before.item).tolist())
    key = data.customer[window].astype(np.int64) * data.n_items + data.item[window]
    fresh = np.unique(key[~np.isin(key, np.fromiter(seen, dtype=np.int64, count=len(seen)))])
    customers = (fresh // data.n_items).astype(np.int32)
    items = (fresh % data.n_items).astype(np.int32)
    found, starts = np.unique(customers, return_index=True)
    bounds = [*starts.tolist(), len(customers)]
    return HeldOut(found, [items[bounds[k] : bounds[k + 1]] for k in range(len(found))])


def _iso(micros: int) -> str:
    return str(np.datetime64(int(micros), "us"))[:19].replace("T", " ")
