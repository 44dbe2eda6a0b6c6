"""Webhooks: canonical bodies, stable keys, the signature scheme, status mapping, settings refusals."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from breastgate.delivery.webhooks import (
    WebhookSender,
    sign,
    verify_signature,
    webhook_body,
    webhook_key,
)
from breastgate.domain.errors import (
    ConfigurationError,
    EncodingError,
    InvalidDestinationError,
    PeerBusyError,
    PeerUnavailableError,
    RejectedError,
    UnreadableObjectError,
)
from breastgate.runtime.settings import load_settings

SECRET = "s" * 40
AT = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
NOW = 1_800_000_000


# Body ------------------------------------------------------------------------------------------
def test_body_is_canonical_json_with_the_fixed_fields() -> None:
    body = webhook_body(
        "study.triaged", {"priority": "stat", "b": [1, 2], "a": {"z": 1, "y": "é"}}, occurred_at=AT
    )
    assert body == (
        b'{"data":{"a":{"y":"\xc3\xa9","z":1},"b":[1,2],"priority":"stat"},'
        b'"event":"study.triaged","occurred_at":"2026-11-29T08:00:00Z","schema":"breastgate.webhook/1"}'
    )
    assert json.loads(body)["event"] == "study.triaged"


def test_body_is_deterministic_whatever_the_order_and_zone() -> None:
    cet = timezone(timedelta(hours=1))
    one = webhook_body("e", {"x": 1, "y": 2}, occurred_at=AT)
    two = webhook_body("e", dict(reversed(list({"x": 1, "y": 2}.items()))), occurred_at=AT.astimezone(cet))
    assert one == two
    assert webhook_body("e", {"x": 1}, occurred_at=AT) != webhook_body("f", {"x": 1}, occurred_at=AT)


@pytest.mark.parametrize(
    ("event", "data", "at"),
    [
        ("", {}, AT),
        ("bad event\r\nX-Injected: 1", {}, AT),
        ("e", {}, datetime(2026, 11, 29, 8, 0)),  # naive
        ("e", {"x": float("nan")}, AT),
        ("e", {"x": object()}, AT),
    ],
)
def test_body_refuses_what_cannot_travel(event: str, data: dict[str, object], at: datetime) -> None:
    with pytest.raises(EncodingError):
        webhook_body(event, data, occurred_at=at)


def test_key_is_stable_short_and_unambiguous() -> None:
    key = webhook_key("study.triaged", "1.2.3", 2)
    assert key == webhook_key("study.triaged", "1.2.3", "2")
    assert key.startswith("hook-") and len(key) == 45 and len(key) <= 64
    assert key != webhook_key("study.triaged", "1.2.3", 3)
    assert key != webhook_key("study.reported", "1.2.3", 2)
    assert webhook_key("e", "a|b") != webhook_key("e", "a", "b")


# Signature -------------------------------------------------------------------------------------
def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"event":"e"}'
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, body) == f"sha256={expected}"


def test_verify_accepts_the_right_signature() -> None:
    body = webhook_body("e", {"x": 1}, occurred_at=AT)
    header = sign(SECRET, NOW, body)
    assert verify_signature(SECRET, str(NOW), body, header, now=NOW)
    assert verify_signature(SECRET, NOW, body, header, now=NOW + 299)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        (SECRET, str(NOW), b'{"event":"e","x":2}', NOW),  # tampered body
        (SECRET, str(NOW + 1), b'{"event":"e","x":1}', NOW),  # tampered timestamp
        ("t" * 40, str(NOW), b'{"event":"e","x":1}', NOW),  # another secret
        (SECRET, str(NOW), b'{"event":"e","x":1}', NOW + 301),  # stale
        (SECRET, str(NOW), b'{"event":"e","x":1}', NOW - 301),  # from the future
        (SECRET, "-1", b'{"event":"e","x":1}', NOW),
        (SECRET, "17e8", b'{"event":"e","x":1}', NOW),
        ("", str(NOW), b'{"event":"e","x":1}', NOW),  # an empty secret verifies nothing
    ],
)
def test_verify_rejects(secret: str, timestamp: str, body: bytes, now: int) -> None:
    header = sign(SECRET, NOW, b'{"event":"e","x":1}')
    assert not verify_signature(secret, timestamp, body, header, now=now)


def test_verify_rejects_a_malformed_header() -> None:
    body = b"{}"
    good = sign(SECRET, NOW, body)
    for header in (
        "",
        good[len("sha256=") :],
        good.replace("sha256=", "sha1="),
        good[:-1],
        good + "0",
        "sha256=é",
    ):
        assert not verify_signature(SECRET, NOW, body, header, now=NOW)


# Sender, with httpx's swappable transport (the real server is in tests/integration) -------------
def _file(tmp_path: Path, key: str = "hook-abc", body: bytes | None = None) -> Path:
    path = tmp_path / f"{key}.json"
    path.write_bytes(webhook_body("study.triaged", {"x": 1}, occurred_at=AT) if body is None else body)
    return path


def _sender(status: int, seen: list[httpx.Request] | None = None, answer: bytes = b"") -> WebhookSender:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, content=answer)

    return WebhookSender(secret=SECRET, transport=httpx.MockTransport(handler), clock=lambda: NOW + 0.7)


def test_sender_posts_the_file_bytes_with_the_signed_headers(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    path = _file(tmp_path)
    _sender(204, seen).send("https://hooks.example.org/in?token=abc", path)
    (request,) = seen
    assert request.method == "POST" and request.content == path.read_bytes()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-breastgate-event"] == "study.triaged"
    assert request.headers["x-breastgate-delivery"] == "hook-abc"
    assert request.headers["x-breastgate-timestamp"] == str(NOW)
    headers = request.headers
    signature = headers["x-breastgate-signature"]
    assert verify_signature(SECRET, headers["x-breastgate-timestamp"], request.content, signature, now=NOW)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 599])
def test_transient_statuses_are_retryable(tmp_path: Path, status: int) -> None:
    with pytest.raises(PeerBusyError) as caught:
        _sender(status).send("http://127.0.0.1:9/hook", _file(tmp_path))
    assert caught.value.status == status and f"HTTP {status}" in str(caught.value)


@pytest.mark.parametrize("status", [301, 400, 401, 403, 404, 410, 413, 422])
def test_other_statuses_are_permanent_with_an_excerpt(tmp_path: Path, status: int) -> None:
    answer = b"field 'data'\n  is   invalid " + b"x" * 1000
    with pytest.raises(RejectedError) as caught:
        _sender(status, answer=answer).send("http://127.0.0.1:9/hook", _file(tmp_path))
    message = str(caught.value)
    assert caught.value.status == status and f"HTTP {status}" in message
    assert "field 'data' is invalid" in message and len(message) < 300
    assert SECRET not in message and "study.triaged" not in message.split(":", 1)[0]


def test_transport_errors_are_retryable(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    for handler in (refuse, slow):
        sender = WebhookSender(secret=SECRET, transport=httpx.MockTransport(handler))
        with pytest.raises(PeerUnavailableError):
            sender.send("http://127.0.0.1:9/hook", _file(tmp_path))


@pytest.mark.parametrize(
    "destination", ["ftp://h/x", "mllp://h:2575", "h:80", "http://", "https://h:99999/x", ""]
)
def test_bad_destinations_are_permanent(tmp_path: Path, destination: str) -> None:
    with pytest.raises(InvalidDestinationError):
        _sender(200).send(destination, _file(tmp_path))


@pytest.mark.parametrize(
    ("key", "body"),
    [("hook-a", b"not json"), ("hook-a", b"[1]"), ("hook-a", b'{"data":{}}'), ("hook-a", b'{"event":"a b"}'),
     ("bad key", b'{"event":"e"}')],
)  # fmt: skip
def test_unusable_files_are_permanent(tmp_path: Path, key: str, body: bytes) -> None:
    with pytest.raises(UnreadableObjectError):
        _sender(200).send("http://127.0.0.1:9/hook", _file(tmp_path, key, body))
    with pytest.raises(UnreadableObjectError):
        _sender(200).send("http://127.0.0.1:9/hook", tmp_path / "hook-missing.json")


def test_sender_refuses_an_empty_secret_and_hides_it() -> None:
    with pytest.raises(ConfigurationError):
        WebhookSender(secret="")
    assert SECRET not in repr(WebhookSender(secret=SECRET))


def test_logs_name_event_key_host_and_status_never_body_secret_or_url(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    body = webhook_body("study.triaged", {"patient_name": "DOE^JANE"}, occurred_at=AT)
    caplog.set_level(logging.DEBUG, logger="breastgate.delivery.webhooks")
    _sender(200).send("https://hooks.example.org/in?token=abc", _file(tmp_path, body=body))
    with pytest.raises(RejectedError):
        _sender(400).send("https://hooks.example.org/in?token=abc", _file(tmp_path, body=body))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "study.triaged hook-abc to hooks.example.org: HTTP 200" in text and "HTTP 400" in text
    for secret in ("DOE^JANE", SECRET, "token=abc", "sha256="):
        assert secret not in text


# Settings refusals -----------------------------------------------------------------------------
@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("BG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BG_CONFIG", str(tmp_path / "absent.toml"))
    return monkeypatch


def test_no_webhooks_by_default(clean_env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.webhooks == () and s.webhook_secret == "" and s.webhook_timeout_seconds == 10.0


def test_webhooks_are_parsed_and_validated(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BG_WEBHOOK_SECRET", "dev")
    clean_env.setenv("BG_WEBHOOKS", " https://a.example.org/hook , http://10.0.0.5:8000/in?t=1 ,")
    assert [str(w) for w in load_settings().webhooks] == [
        "https://a.example.org/hook",
        "http://10.0.0.5:8000/in?t=1",
    ]
    for bad in ("ftp://a.example.org/x", "a.example.org/hook", "https:///nohost", "http://h:notaport/"):
        clean_env.setenv("BG_WEBHOOKS", f"https://ok.example.org/,{bad}")
        with pytest.raises(ConfigurationError, match="BG_WEBHOOKS"):
            load_settings()


def test_development_refuses_webhooks_without_a_secret(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BG_WEBHOOKS", "https://a.example.org/hook")
    for empty in ("", "   "):
        clean_env.setenv("BG_WEBHOOK_SECRET", empty)
        with pytest.raises(ConfigurationError, match="BG_WEBHOOKS is set but BG_WEBHOOK_SECRET is empty"):
            load_settings()
    clean_env.setenv("BG_WEBHOOK_SECRET", "short-is-fine-in-development")
    assert [str(w) for w in load_settings().webhooks] == ["https://a.example.org/hook"]


def test_production_refuses_a_missing_or_short_secret(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BG_ENV", "production")
    clean_env.setenv("BG_ALLOWED_CALLING_AES", "SECTRA")
    assert load_settings().webhooks == ()  # no webhooks, no secret needed
    clean_env.setenv("BG_WEBHOOKS", "https://a.example.org/hook")
    for secret in ("", "x" * 31):
        clean_env.setenv("BG_WEBHOOK_SECRET", secret)
        with pytest.raises(ConfigurationError, match="at least 32 characters") as caught:
            load_settings()
        assert secret == "" or secret not in str(caught.value)
    clean_env.setenv("BG_WEBHOOK_SECRET", "x" * 32)
    assert [str(w) for w in load_settings().webhooks] == ["https://a.example.org/hook"]


def test_the_secret_is_not_in_the_settings_repr(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BG_WEBHOOK_SECRET", SECRET)
    assert SECRET not in repr(load_settings())
