"""Online features: a request row that carries only a customer id, its features read from Redis.

The feature-store pattern. ``needmap features LOG ... --as-of DATE --no-labels --to redis://HOST:PORT/DB``
writes each customer's features under the version of the feature definitions
(:mod:`needmap.events.redis_features`); ``needmap serve MODEL... --features redis://HOST:PORT/DB`` gives every
served model that carries such definitions (a model trained on a table of ``needmap features``: its
``events.json``, ``predictor.events_info``) the features of its own version, so that a CRM can send
``{"rows": [{"customer_id": "C000042"}]}`` and get the score the full row would get.

- A row is *id only* when it holds the model's customer column and none of its feature columns
  (:meth:`OnlineInputs.id_only`). The features of every id-only row of a request are read in one round trip
  (:meth:`OnlineInputs.fill`) and the rows are then scored, explained or targeted exactly as if they had carried
  them. A row that holds features is used as given, never mixed with the values in Redis.
- A customer absent from Redis answers 404 (kind ``customer_not_found``) naming the customer and its row; with
  ``--missing-customer impute`` it is scored with every feature missing (the preprocessor's imputation, as for a
  missing value in a file) and the answer's ``notes`` names the customers imputed.
- The features of a model's version may be absent (not written yet, or expired): the model still serves rows
  that carry their features, and an id-only row answers 503 (kind ``features_unavailable``) with the reason
  until they are written; the source looks again at most once a second (:data:`RETRY_S`). Redis failing during
  a request answers 503 too. Messages name the server as ``redis://HOST:PORT/DB``, never with its password.

One :class:`OnlineSource` per feature version is shared by the models of that version and kept across reloads
(a model trained again with the same definitions reads the same keys); :class:`FeatureStore` holds them, with
the server's address and what to do with a customer that is not there. Models without feature definitions, uplift
models and recommenders are unaffected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from needmap.errors import ConfigError, NeedmapError
from needmap.serve.errors import ServiceError

#: What a customer absent from Redis gets: an error (404), or a score with every feature missing.
MISSING_CUSTOMER = ("error", "impute")
#: Seconds between two tries to open a version that was not there (an id-only row waits for no more).
RETRY_S = 1.0
#: Seconds a model's description keeps what it read of the version (cutoff, customers) before reading again.
REFRESH_S = 5.0
#: The most customers a note names one by one.
NAMED = 10


class OnlineSource:
    """The features of one version in Redis, opened when first there (see the module). Thread-safe: the
    service's threads share it, and the reader it holds (:class:`~needmap.events.redis_read.OnlineFeatures`)
    has a connection pool."""

    def __init__(self, url: str, version: str) -> None:
        from needmap.events.redis_features import shown_url

        self.url = url
        self.version = version
        self.where = shown_url(url)
        self.meta: dict[str, Any] = {}
        #: why the features cannot be read now (one sentence, no password), or None
        self.problem: str | None = "not looked at yet"
        self._reader: Any = None
        self._lock = threading.Lock()
        self._looked = -float("inf")

    @property
    def available(self) -> bool:
        return self._reader is not None and self.problem is None

    def look(self, every_s: float = 0.0) -> None:
        """Open the version (or read its ``__meta__`` again) unless that was done less than ``every_s`` seconds
        ago; what was found goes to :attr:`meta` and :attr:`problem`. Blocks for a round trip or two."""
        from needmap.events.redis_read import OnlineFeatures

        with self._lock:
            now = time.monotonic()
            if now - self._looked < every_s:
                return
            self._looked = now
            try:
                if self._reader is None:
                    self._reader = OnlineFeatures(self.url, self.version)
                self.meta = self._reader.meta()
                self.problem = None
            except NeedmapError as err:
                self.problem = str(err)
                if "no features of version" in self.problem:
                    self._reader = None  # gone (expired, deleted): opened again once written again
            except Exception as err:  # a failure of the client itself: said, never raised here
                self.problem = f"Redis at {self.where} could not be read ({type(err).__name__})."

    def reader(self) -> Any:
        """The open reader; ServiceError 503 (kind ``features_unavailable``) when the version cannot be opened."""
        reader = self._reader
        if reader is None:
            self.look(RETRY_S)
            reader = self._reader
            if reader is None:
                raise ServiceError(
                    503, "features_unavailable", f"the customers' features cannot be read: {self.problem} Until "
                    "then, send each row with its features.", headers={"Retry-After": "1"},
                )  # fmt: skip
        return reader

    def close(self) -> None:
        """Close the reader's connections (a later read opens them again)."""
        with self._lock:
            reader, self._reader = self._reader, None
            self._looked = -float("inf")
            self.problem = "closed"
        if reader is not None:
            reader.close()


@dataclass(frozen=True)
class OnlineInputs:
    """One served model's online features: its source, its customer column, its feature columns (in the model's
    order) and what a customer absent from Redis gets (see the module)."""

    source: OnlineSource
    customer: str
    features: tuple[str, ...]
    missing: str
    feature_set: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "feature_set", frozenset(self.features))

    def id_only(self, row: Mapping[str, Any]) -> bool:
        """Whether ``row`` holds the customer column and no feature column: its features come from Redis."""
        return self.customer in row and row.keys().isdisjoint(self.feature_set)

    def fill(
        self, rows: Sequence[Mapping[str, Any]], model: str = "", metrics: Any = None
    ) -> tuple[list[Mapping[str, Any]], list[str]]:
        """The rows with each id-only row's features added from Redis (one round trip for all of them), and the
        notes to add to the answer (the customers imputed). Rows with features are returned as they came.
        ServiceError 404 (``customer_not_found``) for a customer absent in error mode, 503
        (``features_unavailable``) when Redis cannot be read. ``metrics``: the service's, counting the lookups,
        the misses and the errors under ``model``."""
        wanted = [i for i, row in enumerate(rows) if self.id_only(row)]
        if not wanted:
            return list(rows), []
        ids = [rows[i][self.customer] for i in wanted]
        try:
            found = self.source.reader().rows(ids)
        except ServiceError:
            _count(metrics, "feature_errors", model, 1)
            raise
        except NeedmapError as err:
            _count(metrics, "feature_errors", model, 1)
            raise ServiceError(
                503, "features_unavailable", f"the customers' features cannot be read: {err}",
                headers={"Retry-After": "1"},
            ) from None  # fmt: skip
        _count(metrics, "feature_lookups", model, len(ids))
        missing = [(i, customer) for i, customer, values in zip(wanted, ids, found, strict=True) if values is None]
        if missing:
            _count(metrics, "feature_misses", model, len(missing))
            if self.missing == "error":
                row, customer = missing[0]
                more = f" ({len(missing) - 1} more customer{'s' if len(missing) > 2 else ''} absent)" if len(
                    missing) > 1 else ""  # fmt: skip
                raise ServiceError(
                    404, "customer_not_found", f"customer {_shown(customer)} (row {row}) has no features in Redis at "
                    f"{self.source.where} (version {self.source.version}){more}; expected a customer whose features "
                    "were written there by needmap features, or the row sent with its features.",
                    row=row, field=self.customer,
                )  # fmt: skip
        filled = list(rows)
        for i, values in zip(wanted, found, strict=True):
            added = dict.fromkeys(self.features) if values is None else {n: values.get(n) for n in self.features}
            filled[i] = {**rows[i], **added}
        return filled, [self._imputed(missing)] if missing else []

    def _imputed(self, missing: list[tuple[int, Any]]) -> str:
        where = f"in Redis at {self.source.where} (version {self.source.version})"
        if len(missing) == 1:
            row, customer = missing[0]
            return (
                f"customer {_shown(customer)} (row {row}) has no features {where} and was scored with every feature "
                "missing (imputed as in training)."
            )
        named = ", ".join(f"{_shown(customer)} (row {row})" for row, customer in missing[:NAMED])
        if len(missing) > NAMED:
            named += f" and {len(missing) - NAMED:,} more"
        return (
            f"{len(missing):,} customers have no features {where} and were scored with every feature missing "
            f"(imputed as in training): {named}."
        )

    def describe(self) -> dict[str, Any]:
        """What ``GET /v1/models/{name}`` says of the model's online features (as last looked at)."""
        source = self.source
        found: dict[str, Any] = {"store": source.where, "version": source.version, "customer": self.customer,
                                 "available": source.available, "missing_customer": self.missing}  # fmt: skip
        meta = source.meta
        if source.available and meta:
            found.update(cutoff=meta.get("cutoff"), customers=meta.get("rows"), written_at=meta.get("written_at"))
        else:
            found["problem"] = source.problem
        return found


def _count(metrics: Any, name: str, model: str, amount: int) -> None:
    if metrics is not None:
        getattr(metrics, name).labels(model).inc(amount)


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


class FeatureStore:
    """The Redis server of ``--features`` and the sources of the versions read there (see the module)."""

    def __init__(self, url: str, missing: str = "error") -> None:
        from needmap.events.redis_features import _check_url, shown_url

        if missing not in MISSING_CUSTOMER:
            raise ConfigError(f"missing customers are handled by {missing!r}; expected error or impute.")
        _check_url(url)
        self.url = url
        self.where = shown_url(url)
        self.missing = missing
        self._sources: dict[str, OnlineSource] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: Any) -> FeatureStore | None:
        """The store of the service's settings, or None without ``features``."""
        return cls(settings.features, settings.missing_customer) if settings.features else None

    def check(self) -> str:
        """Connect and close again: DataError naming the server when none answers there (the command stops
        rather than serve without it). Returns the address as it may be printed."""
        from needmap.events.redis_features import check_server

        return check_server(self.url)

    def inputs_for(self, scorer: Any) -> OnlineInputs | None:
        """The online features of a model (its scorer), or None for a model that has none: it carries no feature
        definitions, is not a model of a table, or does not read its customer column."""
        from needmap.events.redis_features import features_version

        info = getattr(scorer.model, "events_info", None) if scorer.kind == "table" else None
        if info is None or info.customer_column not in scorer.reads:
            return None
        version = features_version(info)
        with self._lock:
            source = self._sources.get(version)
            if source is None:
                source = self._sources[version] = OnlineSource(self.url, version)
        source.look(RETRY_S)
        customer = info.customer_column
        features = tuple(c.name for c in scorer.inputs if c.role != "id" and c.name != customer)
        return OnlineInputs(source, customer, features, self.missing)

    def close(self) -> None:
        """Close every source's connections."""
        with self._lock:
            sources = list(self._sources.values())
        for source in sources:
            source.close()
