"""Generic webhooks: JSON events POSTed to http(s) receivers, HMAC-signed, through the outbox.

Producers write the event body with :func:`webhook_body` to a file named ``<key>.json`` (the key
from :func:`webhook_key`) and owe it with ``outbox.enqueue(kind="webhook",
sop_instance_uid=key, destination=URL, ...)``; :class:`WebhookSender` delivers it. The event type
travels inside the file (top-level ``"event"``), the delivery id is the file name's stem, so a
retry sends the very same body under the same id.

Request (one per attempt)::

    POST <destination URL>
    Content-Type: application/json
    X-Breastgate-Event: <event type, the body's "event">
    X-Breastgate-Delivery: <outbox key, the same on every retry: de-duplicate on it>
    X-Breastgate-Timestamp: <unix seconds when this attempt was sent>
    X-Breastgate-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

    <body: canonical JSON, UTF-8, sorted keys, no insignificant whitespace>
    {"data":{...},"event":"...","occurred_at":"2026-11-29T08:00:00Z","schema":"breastgate.webhook/1"}

Signature: the HMAC key is the shared secret (``BG_WEBHOOK_SECRET``, UTF-8); the message is the
timestamp header's ASCII digits, a ``.``, then the raw body bytes exactly as received. A receiver
recomputes it, compares in constant time and refuses a timestamp more than a few minutes from its
own clock (replay); :func:`verify_signature` does all three. Each attempt is signed afresh (new
timestamp), the body and delivery id stay the same.

Outcomes: 2xx → sent; 408, 425, 429, 5xx, connection errors and timeouts → retried with the
outbox's backoff; any other status (other 4xx, and 1xx/3xx: redirects are not followed, a signed
body is not re-posted elsewhere) → failed, with the status and a short excerpt of the answer.
Logs name the event, key, URL host and status; never the secret, the body (PHI) or the full URL
(which may carry a token).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from breastgate.domain.errors import (
    ConfigurationError,
    EncodingError,
    InvalidDestinationError,
    PeerBusyError,
    PeerUnavailableError,
    RejectedError,
    UnreadableObjectError,
)
from breastgate.domain.outputs import HttpEndpoint

LOGGER = logging.getLogger(__name__)

SCHEMA = "breastgate.webhook/1"
SIGNATURE_PREFIX = "sha256="
RETRYABLE_STATUSES = frozenset({408, 425, 429})
EXCERPT_CHARS = 200

_EVENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


# Producers -----------------------------------------------------------------------------------
def webhook_body(event: str, data: Mapping[str, Any], *, occurred_at: datetime) -> bytes:
    """Canonical JSON body of one event: the same arguments always give the same bytes.

    Sorted keys, ``,``/``:`` separators, UTF-8 (not ``\\u`` escapes), no NaN/Infinity; fields
    ``schema`` (``breastgate.webhook/1``), ``event``, ``occurred_at`` (ISO 8601, UTC, ``Z``) and
    ``data``. ``occurred_at`` must be timezone-aware.
    """
    if not _EVENT.fullmatch(event):
        raise EncodingError(f"webhook event type must match {_EVENT.pattern}: {event[:70]!r}")
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        raise EncodingError("webhook occurred_at must be timezone-aware")
    stamp = occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    document = {"schema": SCHEMA, "event": event, "occurred_at": stamp, "data": dict(data)}
    try:
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise EncodingError(f"webhook {event} data is not JSON: {exc}") from None
    return text.encode("utf-8")


def webhook_key(event: str, *parts: object) -> str:
    """Outbox key of one event: ``hook-<40 hex>`` (45 characters), deterministic.

    SHA-1 of the JSON array ``[event, *map(str, parts)]`` (unambiguous, unlike a joined string);
    the same event about the same things is owed, and delivered, once per destination.
    """
    material = json.dumps([event, *map(str, parts)], ensure_ascii=False, separators=(",", ":"))
    return f"hook-{hashlib.sha1(material.encode('utf-8')).hexdigest()[:40]}"


# Signature -----------------------------------------------------------------------------------
def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes,
    header: str,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Receiver-side check of ``X-Breastgate-Signature``.

    ``True`` only when ``timestamp`` (the ``X-Breastgate-Timestamp`` header) is an integer within
    ``tolerance_s`` seconds of ``now`` (default: the current time) and ``header`` equals the
    signature of ``"<timestamp>.<body>"`` under ``secret`` (compared in constant time). An empty
    secret verifies nothing.
    """
    if not secret:
        return False
    text = str(timestamp).strip()
    if not text.isascii() or not text.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(text)) > tolerance_s:
        return False
    expected = sign(secret, text, body)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8", "replace"))


# Sender --------------------------------------------------------------------------------------
def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"


def _excerpt(response: httpx.Response) -> str:
    text = response.content[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    text = " ".join(text.split())[:EXCERPT_CHARS]
    return text or "empty body"


class WebhookSender:
    """Outbox sender for kind ``webhook``: POST the file's JSON body to the destination URL.

    Parameters
    ----------
    secret
        Shared HMAC secret; must not be empty (nothing is ever signed with an empty key).
    timeout
        Seconds for connecting, writing and reading the answer.
    transport
        httpx transport (tests; default: the real network).
    clock
        Unix time source for ``X-Breastgate-Timestamp`` (tests).
    """

    def __init__(
        self,
        *,
        secret: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ConfigurationError("WebhookSender needs a non-empty secret (BG_WEBHOOK_SECRET)")
        self._secret = secret
        self.timeout = timeout
        self._transport = transport
        self._clock = clock

    def __repr__(self) -> str:  # never show the secret
        return f"WebhookSender(timeout={self.timeout})"

    def send(self, destination: HttpEndpoint | str, path: Path) -> None:
        url = (destination if isinstance(destination, HttpEndpoint) else HttpEndpoint.parse(destination)).url
        key = path.stem
        if not _KEY.fullmatch(key):
            raise UnreadableObjectError(f"webhook file name is not <key>.json: {path.name[:80]!r}")
        body, event = self._read(path)
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "X-Breastgate-Event": event,
            "X-Breastgate-Delivery": key,
            "X-Breastgate-Timestamp": str(timestamp),
            "X-Breastgate-Signature": sign(self._secret, timestamp, body),
        }
        host = _host(url)
        try:
            with httpx.Client(
                transport=self._transport, timeout=self.timeout, follow_redirects=False
            ) as client:
                response = client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            LOGGER.warning("webhook %s %s to %s: timed out after %ss", event, key, host, self.timeout)
            raise PeerUnavailableError(f"webhook {host}: timed out after {self.timeout}s") from None
        except httpx.TransportError as exc:
            LOGGER.warning("webhook %s %s to %s: %s", event, key, host, type(exc).__name__)
            raise PeerUnavailableError(f"webhook {host}: {type(exc).__name__}") from None
        except httpx.InvalidURL:
            raise InvalidDestinationError(f"webhook URL not usable (host {host})") from None
        self._outcome(response.status_code, response, event, key, host)

    def _read(self, path: Path) -> tuple[bytes, str]:
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise UnreadableObjectError(f"cannot read {path.name}: {exc.strerror}") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise UnreadableObjectError(f"{path.name} is not JSON") from None
        event = document.get("event") if isinstance(document, dict) else None
        if not isinstance(event, str) or not _EVENT.fullmatch(event):
            raise UnreadableObjectError(f'{path.name} has no valid top-level "event"')
        return body, event

    @staticmethod
    def _outcome(status: int, response: httpx.Response, event: str, key: str, host: str) -> None:
        if 200 <= status < 300:
            LOGGER.info("webhook %s %s to %s: HTTP %d", event, key, host, status)
            return
        LOGGER.warning("webhook %s %s to %s: HTTP %d", event, key, host, status)
        message = f"webhook {host} answered HTTP {status}: {_excerpt(response)}"
        if status in RETRYABLE_STATUSES or 500 <= status < 600:
            raise PeerBusyError(message, status=status)
        raise RejectedError(message, status=status)
