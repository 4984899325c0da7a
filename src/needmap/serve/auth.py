"""API keys: who may call the service, and where it may listen without them.

Keys come from ``NEEDMAP_API_KEYS`` (comma-separated) and a keys file (one a line; blank lines and lines
starting with ``#`` are skipped). A client sends ``Authorization: Bearer KEY``. The key is compared with every
key, each comparison in constant time (:func:`hmac.compare_digest` over SHA-256 digests, so that neither the
position of a first difference nor the length of a key shows in the time taken), and every key is compared
whatever the earlier ones gave. Every route but the health checks (``/healthz``, ``/readyz``,
``/v2/health/...``) answers 401 without a right key.

Without keys the service answers anyone who reaches it, so it listens only on the loopback interface
(:func:`check_listening`): a service reachable from other machines needs keys.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from needmap.errors import ConfigError

#: The paths answered without a key: a load balancer's or an orchestrator's health checks.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"})
#: The shortest key accepted: shorter ones can be guessed.
MIN_KEY_LENGTH = 16
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def read_keys(variable: str | None, file: Path | None) -> tuple[str, ...]:
    """The keys of the environment variable's text (comma-separated) and of ``file`` (one a line), in that
    order, each once. ConfigError for a file that cannot be read, a file without keys, or a short key."""
    keys = [key.strip() for key in (variable or "").split(",") if key.strip()]
    if file is not None:
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"the API keys file '{file}' cannot be read ({exc}); expected one key a line.") from None
        found = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
        if not found:
            raise ConfigError(f"the API keys file '{file}' holds no key; expected one key a line.")
        keys += found
    for number, key in enumerate(keys, start=1):
        if len(key) < MIN_KEY_LENGTH or any(c.isspace() for c in key):
            raise ConfigError(
                f"API key {number} has {len(key)} characters{' and a space' if any(c.isspace() for c in key) else ''}; "
                f"expected at least {MIN_KEY_LENGTH} characters without spaces (e.g. the output of "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))')."
            )
    return tuple(dict.fromkeys(keys))


def is_loopback(host: str) -> bool:
    """Whether ``host`` is the loopback interface (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_listening(host: str, keys: Sequence[str]) -> None:
    """ConfigError when the service would listen beyond the loopback interface without API keys."""
    if keys or is_loopback(host):
        return
    raise ConfigError(
        f"--host {host} would let anyone who reaches this machine call the models, and no API key is set; "
        "expected keys (NEEDMAP_API_KEYS=key1,key2 or --api-keys-file FILE, clients sending "
        "'Authorization: Bearer KEY'), or --host 127.0.0.1 to serve this machine only."
    )


def _digest(key: str | bytes) -> bytes:
    return hashlib.sha256(key if isinstance(key, bytes) else key.encode("utf-8")).digest()


class KeyCheck:
    """Compares a presented key with every accepted one (see the module)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._digests = tuple(_digest(key) for key in keys)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def accepts(self, authorization: bytes | None) -> bool:
        """Whether the ``Authorization`` header's value is ``Bearer <an accepted key>``."""
        scheme, _, token = (authorization or b"").strip().partition(b" ")
        given = _digest(token.strip())
        found = False
        for digest in self._digests:  # no early exit: every key is compared
            found |= hmac.compare_digest(given, digest)
        return found and scheme.lower() == b"bearer"


class KeyMiddleware:
    """Answers 401 (a JSON error, ``WWW-Authenticate: Bearer``) to a request without an accepted key, on every
    path but :data:`OPEN_PATHS`; lets everything through when no key is set."""

    def __init__(self, app: Callable[..., Awaitable[None]], keys: KeyCheck) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        authorization = next((value for name, value in scope["headers"] if name == b"authorization"), None)
        if self.keys.accepts(authorization):
            await self.app(scope, receive, send)
            return
        from needmap.serve.errors import ServiceError, send_error

        reason = "no API key was sent" if authorization is None else "the API key is not one of the service's"
        error = ServiceError(
            401, "unauthorized", f"{reason}; expected the header 'Authorization: Bearer KEY'.",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
        await send_error(scope, send, error)
