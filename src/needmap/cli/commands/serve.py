"""``needmap serve``: saved models answering over HTTP (needmap's routes and the Open Inference Protocol's)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from needmap.cli.base import app, console, friendly_errors, out_console
from needmap.errors import ConfigError

#: Seconds between two looks at the model directories with --watch.
WATCH_S = 5.0


@app.command(
    epilog="Example: needmap serve models/bank churn=models/churn --port 8000; beyond this machine, with keys: "
    "NEEDMAP_API_KEYS=... needmap serve models/bank --host 0.0.0.0 --workers 4"
)
@friendly_errors
def serve(
    models: list[str] = typer.Argument(
        ...,
        metavar="MODEL",
        help="Model directories (any kind); NAME=DIR names one (default: the directory's name).",
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="The address to listen on (beyond loopback: API keys needed)."
    ),
    port: int = typer.Option(8000, "--port", help="The port to listen on."),
    workers: int = typer.Option(1, "--workers", help="Processes answering requests, each with its own models."),
    api_keys_file: Path | None = typer.Option(
        None,
        "--api-keys-file",
        help="A file of API keys, one a line (also: NEEDMAP_API_KEYS=key1,key2).",
        metavar="FILE",
    ),
    cors_origin: list[str] = typer.Option(
        [],
        "--cors-origin",
        help="A web origin allowed to call from a browser (repeatable); none: CORS off.",
        metavar="URL",
    ),
    watch: bool = typer.Option(
        False, "--watch", help=f"Reload a model when its directory changes (every {WATCH_S:g} s)."
    ),
    max_body_mb: float = typer.Option(10.0, "--max-body-mb", help="The largest request body, in MiB (413 beyond)."),
    max_rows: int = typer.Option(10_000, "--max-rows", help="The most rows or customers a request (413 beyond)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds a request's scoring may take (504 beyond)."),
    threads: int = typer.Option(2, "--threads", help="Requests a worker scores at once."),
    shutdown_timeout: float = typer.Option(
        30.0, "--shutdown-timeout", help="On stop, seconds the requests in flight get to finish."
    ),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log a line for every request."),
    features: str | None = typer.Option(
        None,
        "--features",
        envvar="NEEDMAP_SERVE_FEATURES",
        metavar="REDIS_URL",
        help="Online features: a row holding only the customer id gets its features from Redis "
        "(redis://HOST:PORT/DB, a password as redis://:PASSWORD@HOST:PORT/DB or in NEEDMAP_SERVE_FEATURES).",
    ),
    missing_customer: str | None = typer.Option(
        None,
        "--missing-customer",
        metavar="error|impute",
        help="With --features, a customer absent from Redis: error (404, the default) or impute (scored with every "
        "feature missing).",
    ),
) -> None:
    """Serve saved models over HTTP: scores, reasons, contact lists and recommendations as JSON (needmap's routes
    under /v1), the Open Inference Protocol under /v2 (KServe, Triton and MLServer clients), health checks, and
    Prometheus metrics. The API is described at /docs. Models reload without a failed request (POST
    /v1/models/NAME/reload, or --watch). With --features, a model trained on a table of event features scores a
    customer from its id alone. Without API keys, only this machine may call (--host 127.0.0.1)."""
    from needmap.serve.auth import check_listening, read_keys
    from needmap.serve.settings import KEYS_ENV, Limits, Settings, model_arguments

    uvicorn = _service_libraries()
    named = {name: path.resolve() for name, path in model_arguments(models).items()}
    keys_file = api_keys_file.resolve() if api_keys_file is not None else None
    keys = read_keys(os.environ.get(KEYS_ENV), keys_file)
    check_listening(host, keys)
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port} is not a port; expected a number from 1 to 65535.")
    if workers < 1:
        raise ConfigError(f"--workers {workers}; expected at least 1 process.")
    if not max_body_mb > 0 or not shutdown_timeout >= 0:
        raise ConfigError("--max-body-mb must be above 0 and --shutdown-timeout at least 0.")
    limits = Limits(max_body_bytes=int(max_body_mb * 2**20), max_rows=max_rows, timeout_s=timeout, threads=threads)
    store = _feature_store(features, missing_customer)
    settings = Settings(named, keys, limits, tuple(cors_origin), WATCH_S if watch else None, keys_file,
                        features or None, store.missing if store is not None else "error")  # fmt: skip
    registry = _load(settings, store)
    options: dict[str, Any] = {
        "host": host, "port": port, "timeout_graceful_shutdown": shutdown_timeout, "access_log": access_log,
        "log_config": _log_config(uvicorn), "server_header": False,
    }  # fmt: skip
    where = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    alone = "" if keys else "; no API key: this machine only"
    plural = "s" if len(named) > 1 else ""
    out_console.print(
        f"serving {len(named)} model{plural} at [bold]{escape(where)}[/] (the API: {escape(where)}/docs){alone}",
        soft_wrap=True,
    )
    try:
        if workers == 1:
            from needmap.serve.app import build_app

            uvicorn.Server(uvicorn.Config(build_app(settings, registry), **options)).run()
        else:
            del registry  # each worker loads its own
            _run_workers(uvicorn, settings, workers, options)
    except KeyboardInterrupt:
        pass
    console.print("stopped: the requests in flight were answered.", highlight=False)


def _service_libraries() -> Any:
    """uvicorn, once FastAPI and the others are known to be installed (ConfigError naming the extra if not)."""
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import pydantic  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise ConfigError(
            f"needmap serve needs FastAPI, uvicorn, pydantic and prometheus-client ({exc.name} is not installed); "
            "expected them installed: pip install 'needmap[serve]'."
        ) from None
    return uvicorn


def _feature_store(features: str | None, missing_customer: str | None) -> Any:
    """The online features of --features, once its Redis server answered (None without the option); an address
    that is not one, or a server that does not answer, stops the command (never showing the password)."""
    from needmap.errors import NeedmapError
    from needmap.serve.online import MISSING_CUSTOMER, FeatureStore

    if missing_customer is not None and missing_customer not in MISSING_CUSTOMER:
        raise ConfigError(f"--missing-customer {missing_customer!r}; expected error or impute.")
    if not features:
        if missing_customer is not None:
            raise ConfigError(
                "--missing-customer says what a customer absent from Redis gets; expected --features "
                "redis://HOST:PORT/DB with it."
            )
        return None
    try:
        store = FeatureStore(features, missing_customer or "error")
        store.check()
    except NeedmapError as err:
        raise type(err)(f"--features: {err}") from None
    return store


def _load(settings: Any, store: Any = None) -> Any:
    """Every model loaded and warmed, each named as it loads, with whether the features of its version are in
    Redis (``store``: --features); an error stops the command before it listens."""
    from needmap.serve.registry import Registry

    def loaded(entry: Any) -> None:
        described = entry.scorer.describe()
        what = described.get("architecture") or described.get("learner") or described.get("algorithm") or ""
        task = described.get("task")
        console.print(
            f"loaded [bold]{escape(entry.name)}[/] ({escape(entry.scorer.kind)}"
            f"{', ' + escape(str(what)) if what else ''}{', ' + escape(str(task)) if task else ''}) "
            f"version {entry.version} from {escape(str(entry.path))}",
            highlight=False,
            soft_wrap=True,
        )
        if store is not None:
            _online_line(entry)

    registry = Registry.load(settings.models, loaded, store)
    if store is not None and not any(entry.online is not None for entry in registry):
        console.print(
            f"note: no model served was trained on a table of event features (none carries events.json), so "
            f"--features {escape(store.where)} changes nothing: every row must carry its features.",
            highlight=False,
            soft_wrap=True,
        )
    return registry


def _online_line(entry: Any) -> None:
    """Whether a model's customers can be scored from their ids: the features of its version in Redis or not."""
    online = entry.online
    name = escape(entry.name)
    if online is None:
        info = getattr(entry.scorer.model, "events_info", None)
        if info is not None:
            console.print(
                f"  {name}: no online features: the model does not read its customer column "
                f"{escape(repr(info.customer_column))}; its rows must carry their features.",
                highlight=False,
                soft_wrap=True,
            )
        return
    source = online.source
    if source.available:
        meta = source.meta
        console.print(
            f"  {name}: online features version {source.version} in {escape(source.where)} (cutoff "
            f"{escape(str(meta.get('cutoff')))}, {int(meta.get('rows') or 0):,} customers): a row may hold "
            f"{escape(online.customer)} alone; a customer not there: {online.missing}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"  {name}: online features version {source.version} not available ({escape(str(source.problem))}); "
            "until they are written, its rows must carry their features",
            highlight=False,
            soft_wrap=True,
        )


def _log_config(uvicorn: Any) -> dict[str, Any]:
    """uvicorn's logging, with the service's own messages (reloads, errors and their ids) beside its own."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["needmap.serve"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _run_workers(uvicorn: Any, settings: Any, workers: int, options: dict[str, Any]) -> None:
    """``workers`` processes, each building the app from the settings in the environment; their metrics are added
    up in a directory of this run (unless PROMETHEUS_MULTIPROC_DIR names one)."""
    from needmap.serve.metrics import MULTIPROCESS_ENV

    os.environ.update(settings.to_environment())
    own = None
    if not os.environ.get(MULTIPROCESS_ENV):
        own = tempfile.mkdtemp(prefix="needmap-serve-metrics-")
        os.environ[MULTIPROCESS_ENV] = own
    try:
        uvicorn.run("needmap.serve.app:app_from_environment", factory=True, workers=workers, **options)
    finally:
        if own is not None:
            shutil.rmtree(own, ignore_errors=True)
