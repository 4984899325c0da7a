"""What a service is set to: its models, keys, limits and reloading, and how a worker reads them back.

``needmap serve`` builds :class:`Settings` from its options. With ``--workers N`` each worker is a process of its
own that builds its app from a factory (:func:`needmap.serve.app.app_from_environment`), so the command writes
the settings into environment variables (:meth:`Settings.to_environment`) and each worker reads them
(:meth:`Settings.from_environment`). API keys never travel in those variables: a worker reads them where the
command did, ``NEEDMAP_API_KEYS`` and the keys file. The Redis address of the online features does (a password in
it included, as the workers must connect), in ``NEEDMAP_SERVE_FEATURES``, which the command also reads as its
``--features`` so that a password need not be on the command line; it is never printed (:attr:`Settings.features`
is left out of the settings' repr).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from needmap.errors import ConfigError

#: The environment variable of the API keys (comma-separated), read by the command and by every worker.
KEYS_ENV = "NEEDMAP_API_KEYS"
#: The environment variable naming a file of API keys (one a line), set by the command for its workers.
KEYS_FILE_ENV = "NEEDMAP_API_KEYS_FILE"
#: The environment variables of the other settings (set by the command for its workers).
MODELS_ENV = "NEEDMAP_SERVE_MODELS"
LIMITS_ENV = "NEEDMAP_SERVE_LIMITS"
CORS_ENV = "NEEDMAP_SERVE_CORS_ORIGINS"
WATCH_ENV = "NEEDMAP_SERVE_WATCH_S"
FEATURES_ENV = "NEEDMAP_SERVE_FEATURES"
MISSING_ENV = "NEEDMAP_SERVE_MISSING_CUSTOMER"

#: A model's name in the URLs: letters, digits, '.', '_' and '-', starting with a letter or a digit.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Limits:
    """What one request may ask: ``max_body_bytes`` (413 past it), ``max_rows`` rows or customers (413 past
    it), ``timeout_s`` seconds of work (504 past it); ``threads``: requests scored at once, ``max_waiting``:
    requests waiting for a thread (503 past it)."""

    max_body_bytes: int = 10 * 2**20
    max_rows: int = 10_000
    timeout_s: float = 30.0
    threads: int = 2
    max_waiting: int = 256

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_rows", "threads", "max_waiting"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"the service's {name} is {value!r}; expected a whole number of at least 1.")
        if not self.timeout_s > 0:
            raise ConfigError(f"the service's timeout is {self.timeout_s!r} seconds; expected a positive number.")


@dataclass(frozen=True)
class Settings:
    """Everything a service is built from.

    Args:
        models: model name -> model directory, in the order given.
        api_keys: the keys a client may send (``Authorization: Bearer KEY``); none: no key asked for.
        limits: the per-request limits.
        cors_origins: the web origins allowed to call the service from a browser (none: CORS off).
        watch_s: seconds between two looks at the model directories for a new model; None: no watching.
        keys_file: the file the keys were read from (besides ``NEEDMAP_API_KEYS``), handed to workers.
        features: the Redis server of the online features, ``redis://HOST:PORT/DB`` (:mod:`needmap.serve.online`);
            None: every row carries its features.
        missing_customer: what a customer absent from Redis gets: ``error`` (404) or ``impute`` (scored with every
            feature missing).
    """

    models: Mapping[str, Path]
    api_keys: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    cors_origins: tuple[str, ...] = ()
    watch_s: float | None = None
    keys_file: Path | None = None
    features: str | None = field(default=None, repr=False)
    missing_customer: str = "error"

    def __post_init__(self) -> None:
        from needmap.serve.online import MISSING_CUSTOMER

        if self.missing_customer not in MISSING_CUSTOMER:
            raise ConfigError(
                f"the service's missing_customer is {self.missing_customer!r}; expected one of "
                f"{', '.join(MISSING_CUSTOMER)}."
            )

    def to_environment(self) -> dict[str, str]:
        """The variables a worker needs to build the same service (the keys' file path, never the keys)."""
        limits = {name: getattr(self.limits, name) for name in Limits.__dataclass_fields__}
        environment = {
            MODELS_ENV: json.dumps({name: str(path) for name, path in self.models.items()}),
            LIMITS_ENV: json.dumps(limits),
            CORS_ENV: json.dumps(list(self.cors_origins)),
            WATCH_ENV: "" if self.watch_s is None else repr(self.watch_s),
        }
        if self.keys_file is not None:
            environment[KEYS_FILE_ENV] = str(self.keys_file)
        if self.features:
            environment[FEATURES_ENV] = self.features
            environment[MISSING_ENV] = self.missing_customer
        return environment

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings :meth:`to_environment` wrote (ConfigError when they are missing or unreadable)."""
        env = os.environ if environ is None else environ
        if MODELS_ENV not in env:
            raise ConfigError(
                f"no models to serve: {MODELS_ENV} is not set; expected the service to be started by needmap serve."
            )
        try:
            models = {str(k): Path(v) for k, v in json.loads(env[MODELS_ENV]).items()}
            limits = Limits(**json.loads(env.get(LIMITS_ENV) or "{}"))
            origins = tuple(json.loads(env.get(CORS_ENV) or "[]"))
            watch = float(env[WATCH_ENV]) if env.get(WATCH_ENV) else None
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"the service's settings in the environment cannot be read ({exc}).") from None
        keys_file = Path(env[KEYS_FILE_ENV]) if env.get(KEYS_FILE_ENV) else None
        from needmap.serve.auth import read_keys

        keys = read_keys(env.get(KEYS_ENV), keys_file)
        features = env.get(FEATURES_ENV) or None
        missing = env.get(MISSING_ENV) or "error"
        return cls(models, keys, limits, origins, watch, keys_file, features, missing)


def model_arguments(arguments: list[str]) -> dict[str, Path]:
    """Model name -> directory from the command's MODEL arguments: ``DIR`` (named after the directory) or
    ``NAME=DIR``. ConfigError for a name that cannot be a URL's part or that is given twice."""
    models: dict[str, Path] = {}
    for argument in arguments:
        name, sep, rest = argument.partition("=")
        if sep and NAME.fullmatch(name):
            directory = Path(rest)
        else:
            directory = Path(argument)
            name = directory.resolve().name
            if not NAME.fullmatch(name):
                raise ConfigError(
                    f"the model directory '{argument}' has the name {name!r}, which cannot be part of a URL; "
                    "expected letters, digits, '.', '_' and '-': name it with NAME=DIR, e.g. churn=" + argument
                )
        if name in models:
            raise ConfigError(
                f"two models are named {name!r} ({models[name]} and {directory}); expected one name each: "
                "name them with NAME=DIR."
            )
        models[name] = directory
    if not models:
        raise ConfigError("no model to serve; expected at least one model directory.")
    return models
