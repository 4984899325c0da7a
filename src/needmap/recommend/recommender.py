"""``needmap.Recommender``: one interface over every recommender algorithm, with ids, histories and files.

    rec = nm.Recommender("ease").fit("orders.parquet", customer="CustomerID", item="StockCode", time="InvoiceDate")
    rec.recommend(["12347", "99999"], k=10)     # customer, rank, item, score; the unknown one gets popular items
    rec.save("models/offers"); nm.load("models/offers")

What it adds to an :class:`~needmap.recommend.algorithm.Algorithm`: the customers' and items' ids exactly as
in the log, each customer's history (what they already have, and what sequence models read), popularity for
customers without a history, leaving out what a customer already has (unless kept), eligibility (an
allow-list, or a true/false column of an item table such as "in stock"), exact scoring or a FAISS index
for retrieval networks over large catalogues, and a model directory (JSON and safetensors, no code).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from needmap.errors import ArtifactError, ConfigError, DataError
from needmap.recommend.algorithm import Algorithm
from needmap.recommend.interactions import Interactions, ids_like, read_interactions

FORMAT_VERSION = 1
FILES = ("recommender.json", "weights.safetensors", "metrics.json", "card.md")
RECOMMENDER_FILES = frozenset(FILES)
#: Catalogues larger than this are searched through a FAISS index by retrieval networks under backend "auto".
FAISS_FROM_ITEMS = 200_000
BACKENDS = ("auto", "exact", "faiss")


#: The algorithms by name (:func:`algorithm_class`).
MODEL_NAMES = ("two_tower", "sasrec", "ease", "itemknn", "popular")


def algorithm_class(name: str) -> type[Algorithm]:
    """The algorithm class by name (an unknown name is a ConfigError); a network's module, and torch with it,
    is imported when first asked for."""
    if name == "two_tower":
        from needmap.recommend.two_tower import TwoTower

        return TwoTower
    if name == "sasrec":
        from needmap.recommend.sasrec import SASRec

        return SASRec
    from needmap.recommend.baselines import EASE, ItemKNN, Popular

    found: dict[str, type[Algorithm]] = {"ease": EASE, "itemknn": ItemKNN, "popular": Popular}
    if name not in found:
        raise ConfigError(f"recommender model {name!r} is unknown; expected one of {', '.join(MODEL_NAMES)}.")
    return found[name]


def make_algorithm(name: str, params: dict[str, Any] | None = None) -> Algorithm:
    """An unfitted algorithm by name with its parameters (an unknown name or parameter is a ConfigError)."""
    algorithm = algorithm_class(name)()
    algorithm.set_params(**(params or {}))
    return algorithm


class Recommender:
    """A recommender with ids and histories (see the module's docstring).

    Args:
        model: ``two_tower``, ``sasrec``, ``ease``, ``itemknn`` or ``popular``.
        **params: the algorithm's options (``l2=200`` for EASE, ``epochs=50`` for a network).
    """

    def __init__(self, model: str = "ease", **params: Any) -> None:
        self.model = model
        self.params = params

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"model": self.model, **self.params}

    # fitted state: algorithm_, data_ (the histories: every event kept), metrics_
    def fit(
        self,
        source: Any = None,
        *,
        customer: str | None = None,
        item: str | None = None,
        time: str | None = None,
        event: str | None = None,
        positive_events: Sequence[str] = (),
        sql: str | None = None,
        validation: Any = None,
        item_features: dict[str, np.ndarray] | None = None,
    ) -> Recommender:
        """Learn from a log (a file, frame, table or ``sql``, with its columns named) or from
        :class:`Interactions`. ``validation``: held-out items a network watches to stop early."""
        data = source if isinstance(source, Interactions) else self._read(source, customer, item, time, event,
                                                                          positive_events, sql)  # fmt: skip
        params = dict(self.params)
        if item_features is not None:
            params["item_features"] = item_features
        self.algorithm_ = make_algorithm(self.model, params).fit(data, validation)
        self.data_ = data
        self.columns_ = {"customer": customer, "item": item, "time": time, "event": event,
                         "positive_events": list(positive_events)}  # fmt: skip
        self.popularity_ = data.popularity()
        self.metrics_: dict[str, Any] = {}
        return self

    @staticmethod
    def _read(source: Any, customer: Any, item: Any, time: Any, event: Any, positive: Any, sql: Any) -> Interactions:
        if not customer or not item:
            raise ConfigError("fit needs the customer and item columns; expected customer='COLUMN', item='COLUMN'.")
        return read_interactions(
            source, customer=customer, item=item, time=time, event=event, positive_events=positive, sql=sql
        )

    def _fitted(self) -> None:
        if not hasattr(self, "algorithm_"):
            raise ConfigError("this recommender is not fitted; call fit(...) or needmap.load(...) first.")

    def histories(self, customers: np.ndarray) -> list[np.ndarray]:
        """The stored history of each customer index (-1: none)."""
        starts = self.starts_
        empty = np.zeros(0, dtype=np.int32)
        return [self.data_.item[starts[c] : starts[c + 1]] if c >= 0 else empty for c in customers]

    @property
    def starts_(self) -> np.ndarray:
        cached = getattr(self, "_starts", None)
        if cached is None or len(cached) != self.data_.n_customers + 1:
            cached = self._starts = self.data_.starts()
        return cached

    def customer_index(self, customers: Sequence[Any] | pa.Array) -> np.ndarray:
        """The index of each customer id (-1 for a customer the model has not seen)."""
        import pyarrow.compute as pc

        given = customers if isinstance(customers, (pa.Array, pa.ChunkedArray)) else pa.array(list(customers))
        known = self.data_.customer_ids
        read = ids_like(given, known)
        if read is None:
            raise DataError(
                f"the customers are {given.type} and cannot be read as the model's customer ids ({known.type})"
                "; expected ids of the kind the model was trained on."
            )
        found = pc.index_in(read, value_set=known)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)

    def eligible_mask(self, allow: Sequence[Any] | None = None, items: Any = None, eligible: str | None = None,
                      item_column: str | None = None) -> np.ndarray | None:  # fmt: skip
        """The items that may be recommended: those of ``allow`` (ids), and/or those whose ``eligible`` column
        of the ``items`` table is true (the table's ``item_column`` naming the item; default: its first
        column). None when nothing restricts."""
        import pyarrow.compute as pc

        mask = None
        ids = self.data_.item_ids
        if allow is not None:
            given = pa.array(list(allow))
            chosen = ids_like(given, ids)
            if chosen is None:
                raise DataError(
                    f"the allow-list's items are {given.type} ({_first(given)!r} first); the model's items are "
                    f"{ids.type}: expected ids of that type."
                )
            mask = pc.is_in(ids, value_set=chosen).to_numpy(zero_copy_only=False)
        if eligible is not None:
            if items is None:
                raise ConfigError(f"eligible={eligible!r} names a column of the item table; expected items= too.")
            from needmap.data.read import read

            table = items if isinstance(items, pa.Table) else read(items)
            key = item_column or table.column_names[0]
            for name in (key, eligible):
                if name not in table.column_names:
                    raise ConfigError(
                        f"the item table has no column {name!r}; expected one of {', '.join(table.column_names)}."
                    )
            flags = table.column(eligible)
            if not pa.types.is_boolean(flags.type):
                try:
                    flags = pc.cast(flags, pa.bool_())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise DataError(
                        f"the item table's column {eligible!r} is {flags.type}; expected true/false (or 1/0)."
                    ) from None
            given = table.column(key).combine_chunks()
            keys = ids_like(given, ids)
            if keys is None:
                raise DataError(
                    f"the item table's column {key!r} is {given.type} ({_first(given)!r} first); the model's items "
                    f"are {ids.type}: expected ids of that type (item_column= names the item column)."
                )
            yes = keys.filter(pc.fill_null(flags, False))
            in_table = pc.is_in(ids, value_set=yes).to_numpy(zero_copy_only=False)
            mask = in_table if mask is None else mask & in_table
        return mask

    def recommend(
        self,
        customers: Sequence[Any] | pa.Array,
        k: int = 10,
        *,
        keep_seen: bool = False,
        allow: Sequence[Any] | None = None,
        items: Any = None,
        eligible: str | None = None,
        item_column: str | None = None,
        backend: str = "auto",
    ) -> pa.Table:
        """The k best items of each customer: a table of customer (as given), rank (1 = best), item, score.

        A customer the model has not seen gets the most popular items (the ``popular`` score); what a customer
        already has is left out unless ``keep_seen``; ``allow`` / ``items`` + ``eligible`` restrict the items.
        ``backend``: ``exact`` scores every item; ``faiss`` searches an index of a retrieval network's item
        vectors; ``auto`` uses FAISS for retrieval networks beyond :data:`FAISS_FROM_ITEMS` items."""
        self._fitted()
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k is {k!r}; expected a whole number of at least 1.")
        if backend not in BACKENDS:
            raise ConfigError(f"backend is {backend!r}; expected one of {', '.join(BACKENDS)}.")
        given = customers if isinstance(customers, (pa.Array, pa.ChunkedArray)) else pa.array(list(customers))
        if isinstance(given, pa.ChunkedArray):
            given = given.combine_chunks()
        index = self.customer_index(given)
        mask = self.eligible_mask(allow, items, eligible, item_column)
        top, scores = self.top_items(index, k, keep_seen=keep_seen, eligible=mask, backend=backend)
        return _table(given, top, scores, self.data_.item_ids)

    def explain(self, customers: Sequence[Any] | pa.Array, k: int = 10, *, top: int = 3, **options: Any) -> pa.Table:
        """Why each recommended item: :meth:`recommend`'s table (``options`` as there) with ``because``, the
        ``top`` items of the customer's history that add most to the item's score, and ``reason``, a sentence
        (:func:`needmap.recommend.why.item_reasons`).

        Each distinct item of the history gets a term, and the terms add up to the score: exactly for ItemKNN
        and EASE, whose score is a sum over the history's items; for SASRec and the two-tower network they are
        Integrated Gradients over the history's item embeddings, which add up to the score less a baseline's
        (the empty history for two_tower; for SASRec the same events with the padding item in each) within 1%
        of that difference (0.01 where it is under 1). A customer without a history is served popular items,
        and says so; popularity scores no history item, so it is a ConfigError."""
        from needmap.recommend.why import item_reasons

        if type(self.algorithm_).contributions is Algorithm.contributions:
            raise ConfigError(
                f"{self.algorithm_.name} gives no history item a part in a score (popular scores every customer "
                "alike); explain works for itemknn, ease, sasrec and two_tower."
            )
        return item_reasons(self, self.recommend(customers, k, **options), top=top)

    def top_items(
        self, index: np.ndarray, k: int, *, keep_seen: bool = False, eligible: np.ndarray | None = None,
        backend: str = "auto",
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Item indices and scores of the k best for customer indices (-1: unknown, served by popularity)."""
        from needmap.recommend.top_k import exact_top_k, faiss_index, faiss_top_k

        histories = self.histories(index)
        exclude = None if keep_seen else histories
        n = len(index)
        items = np.full((n, k), -1, dtype=np.int32)
        scores = np.full((n, k), np.nan, dtype=np.float32)
        known = np.flatnonzero([len(h) > 0 for h in histories])
        cold = np.setdiff1d(np.arange(n), known)
        algorithm = self.algorithm_
        if len(known):
            part = [histories[i] for i in known]
            skip = None if exclude is None else part
            use_faiss = backend == "faiss" or (
                backend == "auto" and algorithm.retrieval and self.data_.n_items > FAISS_FROM_ITEMS
            )
            if use_faiss:
                if not algorithm.retrieval:
                    raise ConfigError(
                        f"backend faiss needs a retrieval network (two_tower, sasrec); {algorithm.name} scores exactly."
                    )
                index_ = getattr(self, "_faiss", None)
                if index_ is None:
                    index_ = self._faiss = faiss_index(algorithm.item_vectors())
                found = faiss_top_k(index_, algorithm.vectors(part), k, exclude=skip, eligible=eligible)
            else:
                found = exact_top_k(algorithm, part, k, exclude=skip, eligible=eligible)
            items[known], scores[known] = found
        if len(cold):  # the same list for each: the most popular items, ties in the order of first appearance
            order = np.argsort(-self.popularity_, kind="stable")
            if eligible is not None:
                order = order[eligible[order]]
            order = order[:k]
            items[np.ix_(cold, np.arange(len(order)))] = order
            scores[np.ix_(cold, np.arange(len(order)))] = self.popularity_[order]
        return items, scores

    # files
    def save(self, path: str | os.PathLike[str], *, card: str | None = None) -> Path:
        """Write the model directory at ``path`` atomically (replacing a recommender directory there)."""
        from safetensors.numpy import save_file

        from needmap.model_place import write_json_file, write_model_directory

        self._fitted()

        def write(staging: Path) -> None:
            tensors = {f"algorithm.{k}": np.ascontiguousarray(v) for k, v in self.algorithm_.state_.items()}
            tensors["history.customer"] = np.ascontiguousarray(self.data_.customer)
            tensors["history.item"] = np.ascontiguousarray(self.data_.item)
            tensors["history.time"] = np.ascontiguousarray(self.data_.time)
            tensors["popularity"] = np.ascontiguousarray(self.popularity_)
            save_file(tensors, str(staging / "weights.safetensors"))
            params = {k: v for k, v in self.algorithm_.get_params().items() if k != "item_features"}
            document = {
                "format_version": FORMAT_VERSION,
                "kind": "recommender",
                "model": self.algorithm_.name,
                "params": _plain(params),
                "n_items": self.data_.n_items,
                "customer_ids": {
                    "type": str(self.data_.customer_ids.type),
                    "values": self.data_.customer_ids.to_pylist(),
                },
                "item_ids": {"type": str(self.data_.item_ids.type), "values": self.data_.item_ids.to_pylist()},
                "source": self.data_.source,
                "columns": getattr(self, "columns_", {}),
            }
            write_json_file(staging / "recommender.json", document)
            write_json_file(staging / "metrics.json", self.metrics_)
            (staging / "card.md").write_text(card or default_card(self), encoding="utf-8")

        return write_model_directory(Path(path), RECOMMENDER_FILES, write)


def load_recommender(path: str | os.PathLike[str]) -> Recommender:
    """A recommender directory written by :meth:`Recommender.save` (JSON and safetensors; no code runs)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load as load_tensors

    from needmap.model_place import MANIFEST, check_manifest, read_model_version
    from needmap.safe_json import load_json

    directory = Path(path)
    files, listing = read_model_version(directory, (*FILES, MANIFEST))
    check_manifest(directory, files, listing, RECOMMENDER_FILES)  # before anything is parsed
    try:
        document = load_json(files["recommender.json"], name="recommender.json", file=str(directory))
        tensors = load_tensors(files["weights.safetensors"])
        metrics = load_json(files.get("metrics.json", b"{}"), name="metrics.json", file=str(directory))
    except KeyError as missing:
        raise ArtifactError(f"the recommender directory has no {missing}; expected {', '.join(FILES)}.",
                            file=str(directory)) from None  # fmt: skip
    except SafetensorError as exc:
        raise ArtifactError(f"a recommender file cannot be read ({exc}).", file=str(directory)) from None
    if not isinstance(document, dict) or document.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"the recommender has format version {dict(document).get('format_version')!r}; this needmap reads "
            f"{FORMAT_VERSION}.", file=str(directory),
        )  # fmt: skip
    try:
        customer_ids = _ids(document["customer_ids"])
        item_ids = _ids(document["item_ids"])
        algorithm = make_algorithm(document["model"], document["params"])
        state = {k.removeprefix("algorithm."): v for k, v in tensors.items() if k.startswith("algorithm.")}
        algorithm.restore(state, int(document["n_items"]))
        data = Interactions(
            customer_ids, item_ids, tensors["history.customer"], tensors["history.item"], tensors["history.time"],
            source=document.get("source", str(directory)),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(
            f"the recommender files do not fit together ({type(exc).__name__}: {exc}).", file=str(directory)
        ) from None
    rec = Recommender(document["model"], **document["params"])
    rec.algorithm_ = algorithm
    rec.data_ = data
    rec.popularity_ = tensors["popularity"]
    rec.metrics_ = metrics
    rec.columns_ = document.get("columns") or {}
    return rec


def is_recommender(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a recommender directory (rather than a model of rows)."""
    return (Path(path) / "recommender.json").is_file()


def _ids(document: dict[str, Any]) -> pa.Array:
    return pa.array(document["values"], type=pa.type_for_alias(document["type"]))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _table(customers: pa.Array, top: np.ndarray, scores: np.ndarray, item_ids: pa.Array) -> pa.Table:
    n, k = top.shape
    present = top >= 0
    rows = np.repeat(np.arange(n), k)[present.ravel()]
    ranks = np.tile(np.arange(1, k + 1, dtype=np.int32), n)[present.ravel()]
    return pa.table(
        {
            "customer": customers.take(pa.array(rows)),
            "rank": pa.array(ranks),
            "item": item_ids.take(pa.array(top[present].astype(np.int64))),
            "score": pa.array(scores[present].astype(np.float64)),
        }
    )


def default_card(rec: Recommender) -> str:
    """A short card: what the model is, what it learned from, and its test metrics when measured."""
    lines = [
        f"# Recommender: {rec.algorithm_.name}",
        "",
        f"Learned from {len(rec.data_):,} events of {rec.data_.n_customers:,} customers over "
        f"{rec.data_.n_items:,} items ({rec.data_.source}).",
        "",
        "Recommends with `needmap recommend MODEL --customers FILE -k 10 --out FILE` or "
        "`needmap.load(MODEL).recommend(ids, k=10)`; what a customer already has is left out unless "
        "`--keep-seen`; customers the model has not seen get the most popular items.",
    ]
    test = (rec.metrics_ or {}).get("test") or {}
    if test:
        lines += ["", "## Test metrics (full ranking over every item)", ""]
        lines += [f"- {name}: {value:.4f}" for name, value in test.items() if isinstance(value, float)]
    verdict = (rec.metrics_ or {}).get("verdict")
    if verdict:
        lines += ["", f"Verdict: {verdict}"]
    return "\n".join(lines) + "\n"


def _first(values: pa.Array) -> Any:
    """The first value of ``values``, for an error message (None when empty)."""
    return values[0].as_py() if len(values) else None
