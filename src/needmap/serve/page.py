"""The web page for marketers, served by the service itself: the models, a customer's score and its reasons, and
a campaign's target list, in a browser, with nothing to install and nothing fetched from elsewhere.

=====================================  ==============================================================================
``GET /``, ``GET /ui``                 a redirect to ``/ui/``
``GET /ui/``                           the page (``web/index.html``), then ``/ui/page.js`` and ``/ui/page.css``
``GET /ui/models/{name}/card``         what the page shows of a model beyond ``GET /v1/models/{name}``: its card
                                       (``card.md``), headline metrics in words, the charts' curves, an example row
=====================================  ==============================================================================

The page's three files are plain HTML, CSS and JavaScript shipped in the package (no build step, no framework,
no web address: it works offline), read once when the app is built and answered from memory by
:class:`PageFiles`, without an API key: a browser loads a page and its script without the ``Authorization``
header, and the files hold no data. Everything else the page shows comes from the API, called by the script
with the key the user typed (kept in the tab's ``sessionStorage``, sent as ``Authorization: Bearer KEY``), so
that the card route and the model routes need the key exactly as a program calling the API does: they go
through the service's key check (:class:`needmap.serve.auth.KeyMiddleware`) like every route.

A model is looked up by name in the service's registry only (:func:`needmap.serve.routes.served`): the card is
read from the ``card.md`` file of the directory the registry loaded the model from, and no part of a request is
ever joined to a path. The charts are the curves of the model itself as loaded (``evaluation.json`` of a model
of a table, the incremental outcome curves of an uplift model's ``metrics.json``), named and explained as the
HTML report names them (:mod:`needmap.report.curve_sections`), and drawn by the page as inline SVG.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastapi import Request

#: The page's files (in ``needmap/serve/web/``) and their content types: the only files answered.
WEB_FILES = {
    "index.html": "text/html; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}
#: Where the page lives; ``/`` and ``/ui`` redirect here.
PAGE_PATH = "/ui/"
#: The headers of every page file: the browser may load nothing but the service's own script, style and API
#: (no inline script, no other site), the page is not framed, a file is not read as another type.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
#: The model directory's card, by its fixed name, and the most of it read.
CARD_FILE = "card.md"
CARD_MAX_BYTES = 256 * 1024
#: The most headline metrics listed for one model.
MAX_HEADLINE = 12
#: The charts of a binary target's ``evaluation.json`` the page draws, in order.
CHART_CURVES = ("gains", "lift", "calibration")
#: Uplift metrics' plain names (``k``: the share the metrics at k look at).
UPLIFT_NAMES = {
    "qini_coefficient": "Qini coefficient (1 = perfect ranking, 0 = random)",
    "auuc": "area under the uplift curve (AUUC)",
    "uplift_at_k": "uplift in the top {k}",
    "incremental_at_k": "extra conversions in the top {k}",
}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class _Template:
    """What the metrics read of a request's route (its template): every page file counts as one route."""

    path: str


STATIC_ROUTE = _Template("/ui/{file}")


def read_page_files() -> dict[str, tuple[bytes, str, str]]:
    """Each page file's name -> (content, content type, ETag), read from the package."""
    folder = resources.files("needmap.serve").joinpath("web")
    found = {}
    for name, content_type in WEB_FILES.items():
        content = folder.joinpath(name).read_bytes()
        found[name] = (content, content_type, '"' + hashlib.sha256(content).hexdigest()[:16] + '"')
    return found


class PageFiles:
    """ASGI middleware answering ``GET``/``HEAD`` of the page's files from memory (and the redirects to the page),
    before the key check: everything else goes on to the app unchanged."""

    def __init__(self, app: Callable[..., Awaitable[None]], files: Mapping[str, tuple[bytes, str, str]]) -> None:
        self.app = app
        self.files = dict(files)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in ("/", PAGE_PATH.rstrip("/")):
            scope["route"] = STATIC_ROUTE
            # relative ("ui/" from "/" and from "/ui"), so that it holds behind a proxy that adds a prefix
            await _answer(send, 307, b"", [(b"location", b"ui/"), (b"content-length", b"0")], scope)
            return
        name = "index.html" if path == PAGE_PATH else path[len(PAGE_PATH) :] if path.startswith(PAGE_PATH) else None
        found = self.files.get(name) if name else None
        if found is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = STATIC_ROUTE
        content, content_type, etag = found
        headers = [(b"content-type", content_type.encode()), (b"etag", etag.encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS.items()]
        given = dict(scope.get("headers") or ()).get(b"if-none-match", b"")
        if etag.encode() in [tag.strip() for tag in given.split(b",")]:
            await _answer(send, 304, b"", headers, scope)
            return
        await _answer(send, 200, content, [*headers, (b"content-length", str(len(content)).encode())], scope)


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], scope: Scope) -> None:
    """An answer sent straight to the ASGI server (no body for HEAD)."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})


# -- what the page shows of a model ---------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    """``value`` as a JSON number, None where it is not a finite number."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _finite(values: Any) -> list[float | None]:
    """A curve's values as JSON numbers (None where not a finite number)."""
    return [_number(value) for value in values or ()]


def _metric(key: str, value: float, label: str = "") -> dict[str, Any]:
    """One metric as the card names and writes it (:mod:`needmap.metrics.names`), its target first where named."""
    from needmap.metrics.names import METRIC_NAMES, metric_text, plain_name

    entry = METRIC_NAMES.get(key)
    name = plain_name(key)
    return {"key": key, "name": f"{label}: {name}" if label else name, "value": value,
            "text": metric_text(key, value), "meaning": entry.meaning if entry else ""}  # fmt: skip


def _known(metrics: Mapping[str, Any], label: str = "") -> Iterator[dict[str, Any]]:
    """The metrics of ``metrics`` that have a plain name, in the order the card lists them."""
    from needmap.metrics.names import METRIC_NAMES

    for key in METRIC_NAMES:
        value = _number(metrics.get(key))
        if value is not None:
            yield _metric(key, value, label)


def _table_headline(model: Any) -> tuple[str, list[dict[str, Any]]]:
    """(which rows, the metrics) of a model of a table: its test rows' evaluation where it has one, else its
    validation (or test) metrics; a model of several targets names each metric's target."""
    from needmap.serve.scorers import headline

    evaluation = (getattr(model, "extras_", None) or {}).get("evaluation.json") or {}
    documents = _documents(evaluation)
    if documents:
        found = []
        for target, document in documents:
            models = document.get("models") or {}
            primary = models.get(document.get("primary")) or next(iter(models.values()), {})
            found += _known(primary.get("metrics") or {}, target)
        if found:
            return "the test rows", found
    numbers = headline(getattr(model, "metrics_", None) or {})
    if any(isinstance(v, Mapping) for v in numbers.values()):
        found = [m for target, part in numbers.items() if isinstance(part, Mapping) for m in _known(part, target)]
    else:
        found = list(_known(numbers))
    rows = "the validation rows" if (getattr(model, "metrics_", None) or {}).get("validation") else "the test rows"
    return rows, found


def _documents(evaluation: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(target, document) of each target's evaluation: one unnamed document, or one per target."""
    if "models" in evaluation:
        return [("", evaluation)]
    return [(str(t), d) for t, d in evaluation.items() if isinstance(d, Mapping) and "models" in d]


def _uplift_curves(metrics: Mapping[str, Any]) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """(which rows, the learner, per offer its metrics, per offer the response model's) of an uplift model:
    the test rows of the learner kept where the model was chosen among several, else its validation rows."""
    candidates = metrics.get("candidates") or {}
    chosen = metrics.get("chosen")
    if chosen in candidates:
        response = ((candidates.get("response model") or {}).get("test") or {}).get("arms") or {}
        return "the test rows", str(chosen), (candidates[chosen].get("test") or {}).get("arms") or {}, response
    return "the validation rows", "", (metrics.get("validation") or {}).get("arms") or {}, {}


def _uplift_headline(model: Any) -> tuple[str, list[dict[str, Any]]]:
    """(which rows, the metrics) of an uplift model: per offer, how well it ranks who is changed by the offer."""
    metrics = getattr(model, "metrics_", None) or {}
    rows, _, arms, _ = _uplift_curves(metrics)
    k = _number((metrics.get("validation") or {}).get("k") or metrics.get("k")) or 0.3
    found = []
    for offer, values in arms.items():
        for key, name in UPLIFT_NAMES.items():
            value = _number((values or {}).get(key))
            if value is not None:
                text = f"{value:,.1f}" if key == "incremental_at_k" else f"{value:.4f}"
                found.append({"key": key, "name": f"{offer}: {name.format(k=f'{k:.0%}')}", "value": value,
                              "text": text, "meaning": ""})  # fmt: skip
    return rows, found


def _other_headline(model: Any) -> tuple[str, list[dict[str, Any]]]:
    """Any other model's numbers (a recommender's test metrics), by their names."""
    metrics = getattr(model, "metrics_", None) or {}
    for part, rows in (("test", "the test customers"), ("validation", "the validation customers")):
        numbers = metrics.get(part)
        if isinstance(numbers, Mapping):
            found = [_metric(str(k), v) for k, v in numbers.items() if _number(v) is not None]
            if found:
                return rows, found
    return "", []


def _chart(ident: str, title: str, text: str, series: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    """One line chart as the page draws it: its series (name, x, y, dashed, points) and how to draw its axes."""
    chart = {"id": ident, "title": title, "text": text, "series": series, "x_label": "", "y_label": "", "x_format": "",
             "y_format": "", "diagonal": False, "hline": None, "x_range": None, "y_range": None}  # fmt: skip
    chart.update(options)
    return chart


def _table_charts(model: Any) -> list[dict[str, Any]]:
    """The gains, lift and calibration charts of each binary target of the model's ``evaluation.json``: one line
    per model it evaluated (the deep model and the baselines)."""
    from needmap.report.curve_sections import CURVES

    evaluation = (getattr(model, "extras_", None) or {}).get("evaluation.json") or {}
    charts = []
    for target, document in _documents(evaluation):
        if document.get("task", "binary") != "binary":
            continue
        for curve in (c for c in CURVES if c.key in CHART_CURVES):
            series = []
            for name, values in (document.get("models") or {}).items():
                points = (values or {}).get(curve.key) or {}
                xs, ys = _finite(points.get(curve.x)), _finite(points.get(curve.y))
                if any(x is not None for x in xs) and len(xs) == len(ys):
                    series.append({"name": str(name), "x": xs, "y": ys, "points": curve.key == "calibration"})
            if not series:
                continue
            unit = [0.0, 1.0] if curve.key in ("gains", "calibration") else None
            ident = f"{curve.ident}-{target}" if target else curve.ident
            title = f"{curve.heading} ({target})" if target else curve.heading
            charts.append(_chart(
                ident, title, curve.text, series, x_label=curve.x_label, y_label=curve.y_label,
                x_format="%" if curve.percent else "", y_format="%" if curve.key == "gains" else "",
                diagonal=curve.diagonal, hline=1.0 if curve.key == "lift" else None, x_range=unit, y_range=unit,
            ))  # fmt: skip
    return charts


def _uplift_charts(model: Any) -> list[dict[str, Any]]:
    """Per offer, the incremental outcome of contacting the top share of customers by predicted uplift, beside
    the response model's (where the model was chosen against it) and contacting at random."""
    rows, learner, arms, response = _uplift_curves(getattr(model, "metrics_", None) or {})
    charts = []
    for offer, values in arms.items():
        curve = (values or {}).get("incremental_curve") or {}
        xs, ys = _finite(curve.get("share")), _finite(curve.get("incremental"))
        if not xs or len(xs) != len(ys):
            continue
        series = [{"name": learner or "this model", "x": [0.0, *xs], "y": [0.0, *ys]}]
        other = ((response.get(offer) or {}).get("incremental_curve")) or {}
        if other.get("share"):
            series.append({"name": "response model", "x": [0.0, *_finite(other["share"])],
                           "y": [0.0, *_finite(other.get("incremental"))]})  # fmt: skip
        last = next((y for y in reversed(ys) if y is not None), 0.0)
        series.append({"name": "random", "x": [0.0, 1.0], "y": [0.0, last], "dashed": True})
        text = (
            f"On {rows}: contacting the top share of customers by predicted uplift for {offer}, how many more "
            "conversions (or how much more spend) than without contact. The dashed line is contacting at random."
        )
        charts.append(_chart(f"incremental-{offer}", f"Incremental outcome: {offer}", text, series,
                             x_label="share of customers contacted, best first", y_label="incremental outcome",
                             x_format="%", x_range=[0.0, 1.0]))  # fmt: skip
    return charts


def _verdict(model: Any) -> str:
    """The sentence that says which model to use, where the training wrote one."""
    evaluation = (getattr(model, "extras_", None) or {}).get("evaluation.json") or {}
    documents = _documents(evaluation)
    texts = [str(d.get("verdict")) for _, d in documents if d.get("verdict")]
    metrics = getattr(model, "metrics_", None) or {}
    if not texts and isinstance(metrics.get("verdict"), str):
        texts = [metrics["verdict"]]
    return " ".join(texts)


def _card_text(entry: Any) -> str:
    """The model directory's card (its first :data:`CARD_MAX_BYTES`), or "" when it has none."""
    try:
        with open(entry.path / CARD_FILE, "rb") as handle:
            return handle.read(CARD_MAX_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def card_document(entry: Any) -> dict[str, Any]:
    """What ``GET /ui/models/{name}/card`` answers of a loaded model (see the module)."""
    from needmap.data.read_options import MISSING_MARKERS

    scorer = entry.scorer
    model = scorer.model
    if scorer.kind == "table":
        rows, metrics = _table_headline(model)
        charts = _table_charts(model)
    elif scorer.kind == "uplift":
        rows, metrics = _uplift_headline(model)
        charts = _uplift_charts(model)
    else:
        rows, metrics = _other_headline(model)
        charts = []
    numeric = [o.name for o in scorer.outputs if o.type == "number"] if "predict" in scorer.routes else []
    rank_by = "best_uplift" if scorer.kind == "uplift" else ("score" if "score" in numeric else None)
    return {
        "name": entry.name,
        "version": entry.version,
        "kind": scorer.kind,
        "card": _card_text(entry),
        "headline": {"rows": rows, "metrics": metrics[:MAX_HEADLINE]},
        "verdict": _verdict(model),
        "charts": charts,
        "example": scorer.example_row() if "predict" in scorer.routes else None,
        "ids": scorer.ids,
        "rank_by": rank_by or (numeric[0] if numeric else None),
        "missing": list(MISSING_MARKERS),
    }


def add_page(app: Any) -> None:
    """The page on ``app`` (built by :func:`needmap.serve.app.build_app`, whose middleware is all added): its
    files answered before the key check, the card route behind it."""
    from starlette.middleware import Middleware

    from needmap.serve.auth import KeyMiddleware
    from needmap.serve.routes import json_response, served

    cards: dict[str, tuple[str, dict[str, Any]]] = {}

    @app.get("/ui/models/{name}/card", include_in_schema=False)
    async def card(name: str, request: Request) -> Any:
        entry = served(request, name)
        kept = cards.get(entry.name)
        if kept is None or kept[0] != entry.version:
            kept = cards[entry.name] = (entry.version, await asyncio.to_thread(card_document, entry))
        return json_response(kept[1])

    layers = app.user_middleware
    # just outside the key check: counted by the metrics and guarded by the catch-all like every request
    where = next((i for i, layer in enumerate(layers) if layer.cls is KeyMiddleware), len(layers))
    layers.insert(where, Middleware(PageFiles, files=read_page_files()))
