"""Sectra URL launch: links that open IDS7 or UniView at a study, an image or a DBT frame.

The format is that of Sectra's public URL Launch SDK (``sectra-medical/SectraUrlLaunchSdk``, MIT):
a plaintext *access string* (``pat_id=..&acc_no=..&sop_uid=..&frame_number=..&time=..``, see
:mod:`breastgate.integrations.sectra._query`) encrypted either with a 32-byte shared secret or with
certificates (PKI), see :mod:`breastgate.integrations.sectra._crypto` for the algorithms byte by byte.

Launch strings expire: the shared-secret scheme signs a timestamp the Sectra system accepts for
30 s only, and the ``time`` parameter dates PKI strings. Never store a launch URL (database,
webhook, HL7 message); store the target and call :func:`launch_links` when the user clicks, e.g.
behind an HTTP endpoint that redirects to a freshly made URL.

Launch URLs (``examples/UrlLaunchExample/Program.cs``):

* IDS7 through the Sectra Launcher: ``sectra:?url=https://HOST/SectraHealthcareServer/&softwareUrl=
  https://HOST/ids7/&productId=IDS7&<encrypted>`` (:func:`ids7_launcher_url`); the legacy
  ``https://HOST/ids7/3pstart.aspx?<encrypted>`` (:func:`ids7_3pstart_url`) for old PACS versions;
* UniView: ``https://HOST/uniview/#/apiLaunch?<encrypted>`` (:func:`uniview_url`), with
  ``uniview_cmd=show_images`` in the access string.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import unquote_plus

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from breastgate.integrations.sectra import _crypto as crypto
from breastgate.integrations.sectra._query import (
    IDS7_OPEN_IPV_WINDOW,
    Ids7WindowManagement,
    LaunchParameters,
    LoginType,
    OrderManagementCommand,
    StartupPresentation,
    UniViewCommand,
    UniViewLayout,
    parse_query_string,
    to_query_string,
    validate_example,
)
from breastgate.integrations.sectra.errors import (
    LaunchAuthenticationError,
    LaunchConfigurationError,
    LaunchError,
    LaunchExpiredError,
    LaunchParameterError,
    LaunchTokenError,
)

__all__ = [
    "IDS7_OPEN_IPV_WINDOW",
    "SDK_VALIDITY_SECONDS",
    "DecodedLaunch",
    "Ids7WindowManagement",
    "LaunchAuthenticationError",
    "LaunchConfig",
    "LaunchConfigurationError",
    "LaunchDecoderConfig",
    "LaunchError",
    "LaunchExpiredError",
    "LaunchParameterError",
    "LaunchParameters",
    "LaunchTarget",
    "LaunchTokenError",
    "LoginType",
    "OrderManagementCommand",
    "StartupPresentation",
    "UniViewCommand",
    "UniViewLayout",
    "decode_launch",
    "encode_launch",
    "ids7_3pstart_url",
    "ids7_launcher_url",
    "launch_links",
    "parse_query_string",
    "parse_shared_secret",
    "to_query_string",
    "uniview_url",
    "validate_example",
]

LOGGER = logging.getLogger(__name__)

#: ``OneTimeSignature.MaxSignatureAgeSeconds``: how long the Sectra system accepts a shared-secret string.
SDK_VALIDITY_SECONDS = 30
_HEX_SECRET = re.compile(r"[0-9a-fA-F]{64}")
Mode = Literal["shared_secret", "pki"]


def parse_shared_secret(text: str) -> bytes:
    """The 32-byte shared secret from base64 (what ``Generate-SharedSecretKey.ps1`` prints) or hex.

    Raises
    ------
    LaunchConfigurationError
        Neither 64 hex digits nor base64 of exactly 32 bytes.
    """
    text = text.strip()
    if _HEX_SECRET.fullmatch(text):
        return bytes.fromhex(text)
    try:
        secret = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LaunchConfigurationError("shared secret is neither base64 nor 64 hex digits") from exc
    if len(secret) != crypto.SECRET_BYTES:
        raise LaunchConfigurationError(f"shared secret must be 32 bytes, got {len(secret)}")
    return secret


def _secret(value: bytes | str | None) -> bytes:
    if value is None:
        raise LaunchConfigurationError("shared_secret mode needs a secret")
    secret = parse_shared_secret(value) if isinstance(value, str) else bytes(value)
    if len(secret) != crypto.SECRET_BYTES:
        raise LaunchConfigurationError(f"shared secret must be 32 bytes, got {len(secret)}")
    return secret


@functools.lru_cache(maxsize=16)  # loading (and checking) an RSA key costs ~50 ms: once per key
def _private_key(pem: bytes | None, password: bytes | None, what: str) -> RSAPrivateKey:
    if not pem:
        raise LaunchConfigurationError(f"pki mode needs {what}")
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError) as exc:
        raise LaunchConfigurationError(f"{what} is not a readable PEM private key") from exc
    if not isinstance(key, RSAPrivateKey) or key.key_size < 2048:
        raise LaunchConfigurationError(f"{what} must be an RSA key of at least 2048 bits")
    return key


@functools.lru_cache(maxsize=16)
def _certificate_key(pem: bytes | None, what: str) -> RSAPublicKey:
    if not pem:
        raise LaunchConfigurationError(f"pki mode needs {what}")
    try:
        cert = (
            x509.load_pem_x509_certificate(pem)
            if b"-----BEGIN" in pem
            else x509.load_der_x509_certificate(pem)
        )
    except ValueError as exc:
        raise LaunchConfigurationError(f"{what} is not a readable X.509 certificate") from exc
    key = cert.public_key()
    if not isinstance(key, RSAPublicKey) or key.key_size < 2048:
        raise LaunchConfigurationError(f"{what} must hold an RSA key of at least 2048 bits")
    return key


@dataclass(frozen=True)
class LaunchTarget:
    """What to open: a study (accession numbers), an image (SOP Instance UID) or a frame of it.

    ``issuer`` is the Issuer of Patient ID, sent as ``mrn_integration_id``; ``examination_ids``
    are Sectra examination ids, paired with ``accession_numbers`` (the SDK's example validation
    wants one of each with a SOP Instance UID). ``frame`` is 1-based (DICOM frame numbers, DBT).
    """

    patient_id: str
    issuer: str | None
    accession_numbers: tuple[str, ...]
    sop_instance_uid: str | None = None
    frame: int | None = None
    examination_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.patient_id:
            raise LaunchParameterError("a launch target needs a patient id")
        if self.frame is not None and (isinstance(self.frame, bool) or self.frame < 1):
            raise LaunchParameterError("frame is 1-based and must be >= 1")
        if self.frame is not None and not self.sop_instance_uid:
            raise LaunchParameterError("a frame needs the SOP Instance UID of its image")
        if self.sop_instance_uid and len(self.accession_numbers) != 1:
            raise LaunchParameterError("an image target needs exactly one accession number")
        if any("^" in a for a in (*self.accession_numbers, *self.examination_ids)):
            raise LaunchParameterError("accession numbers and examination ids cannot contain '^'")

    def parameters(self, *, user_id: str | None = None) -> LaunchParameters:
        """The access-string parameters (without time or viewer command)."""
        return LaunchParameters(
            patient_id=self.patient_id,
            mrn_integration_id=self.issuer,
            accession_numbers=self.accession_numbers,
            examination_ids=self.examination_ids,
            sop_instance_uid=self.sop_instance_uid,
            frame_number=self.frame,
            user_id=user_id,
        )


@dataclass(frozen=True)
class LaunchConfig:
    """How to encrypt launch strings and where the viewers are.

    ``ids7_url`` / ``uniview_url`` are launch prefixes (see :func:`ids7_launcher_url`,
    :func:`uniview_url`); the encrypted string is appended after ``?`` or ``&``. ``secret`` is the
    32-byte shared secret (bytes, base64 or hex). PKI needs our PEM RSA private key
    (``signing_key_pem``) and the URL-launch system's certificate (``system_certificate_pem``).
    ``validity_seconds`` is what a fresh link is good for; the Sectra side fixes 30 s for shared
    secrets whatever this says.
    """

    mode: Mode
    ids7_url: str | None
    uniview_url: str | None
    secret: bytes | str | None = field(default=None, repr=False)
    signing_key_pem: bytes | None = field(default=None, repr=False)
    system_certificate_pem: bytes | None = None
    signing_key_password: bytes | None = field(default=None, repr=False)
    validity_seconds: int = SDK_VALIDITY_SECONDS

    def __post_init__(self) -> None:
        if self.mode == "shared_secret":
            _secret(self.secret)
        elif self.mode == "pki":
            _private_key(self.signing_key_pem, self.signing_key_password, "signing_key_pem")
            _certificate_key(self.system_certificate_pem, "system_certificate_pem")
        else:
            raise LaunchConfigurationError(f"unknown launch mode {self.mode!r}")


@dataclass(frozen=True)
class LaunchDecoderConfig:
    """Keys to read launch strings back, as the Sectra system would (tests, a launch simulator).

    ``max_future_seconds`` is our own rule: the SDK refuses only timestamps older than 30 s and
    accepts any in the future; this decoder also refuses those more than this far ahead.
    """

    mode: Mode
    secret: bytes | str | None = field(default=None, repr=False)
    system_private_key_pem: bytes | None = field(default=None, repr=False)
    integrating_certificate_pem: bytes | None = None
    system_private_key_password: bytes | None = field(default=None, repr=False)
    validity_seconds: int = SDK_VALIDITY_SECONDS
    max_future_seconds: int = 5


@dataclass(frozen=True)
class DecodedLaunch:
    """A launch string that verified: its parameters, plaintext, time and one-time nonce."""

    parameters: LaunchParameters
    plaintext: str
    issued_at: datetime
    nonce: bytes | None  # shared secret only: callers may refuse a reuse within the window


def _utc_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise LaunchParameterError("now must be timezone-aware")
    return now.astimezone(UTC)


def encode_launch(config: LaunchConfig, parameters: LaunchParameters, now: datetime | None = None) -> str:
    """Encrypt *parameters* (``time`` set to *now*) into the query part of a launch URL.

    Returns ``sharedSecretEncryptedUrlQuery=...`` or ``SEUS=...&ESP=...&IV=...&V=1``.
    """
    moment = _utc_now(now)
    plaintext = to_query_string(replace(parameters, time=moment))
    if config.mode == "shared_secret":
        return crypto.shared_secret_secure(plaintext, _secret(config.secret), now=moment)
    signing_key = _private_key(config.signing_key_pem, config.signing_key_password, "signing_key_pem")
    system_key = _certificate_key(config.system_certificate_pem, "system_certificate_pem")
    return crypto.pki_secure(plaintext, signing_key, system_key)


def _join(prefix: str, query: str) -> str:
    if prefix.endswith(("?", "&")):
        return prefix + query
    return f"{prefix}{'&' if '?' in prefix else '?'}{query}"


def launch_links(
    config: LaunchConfig, target: LaunchTarget, now: datetime | None = None, *, user_id: str | None = None
) -> dict[str, str]:
    """Fresh launch URLs, ``{"ids7": ..., "uniview": ...}`` for the viewers *config* names.

    Each URL carries its own encrypted string (UniView's adds ``uniview_cmd=show_images``) and
    expires: call this when the user clicks, never store the result.
    """
    base = target.parameters(user_id=user_id)
    links: dict[str, str] = {}
    if config.ids7_url:
        links["ids7"] = _join(config.ids7_url, encode_launch(config, base, now))
    if config.uniview_url:
        uniview = replace(base, uniview_command=UniViewCommand.SHOW_IMAGES)
        links["uniview"] = _join(config.uniview_url, encode_launch(config, uniview, now))
    return links


def ids7_launcher_url(host: str) -> str:
    """IDS7 through the Sectra Launcher protocol (``sectra:``), the SDK example's first choice."""
    return (
        f"sectra:?url=https://{host}/SectraHealthcareServer/&softwareUrl=https://{host}/ids7/&productId=IDS7"
    )


def ids7_3pstart_url(host: str) -> str:
    """IDS7's legacy ``3pstart.aspx`` page ("only kept as compatibility for old PACS versions")."""
    return f"https://{host}/ids7/3pstart.aspx"


def uniview_url(host: str) -> str:
    """UniView's URL-launch entry point."""
    return f"https://{host}/uniview/#/apiLaunch"


def _query_fields(token_or_url: str) -> Mapping[str, str]:
    query = token_or_url.split("?", 1)[1] if "?" in token_or_url else token_or_url
    found: dict[str, str] = {}
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        if sep:
            found.setdefault(name.strip().lower(), value.strip())
    return found


def _check_time(issued_at: datetime, now: datetime, config: LaunchDecoderConfig) -> None:
    age = (now - issued_at).total_seconds()
    if age > config.validity_seconds:
        raise LaunchExpiredError(
            f"launch string is {age:.0f} s old, over the {config.validity_seconds} s window"
        )
    if -age > config.max_future_seconds:
        raise LaunchExpiredError(f"launch string is dated {-age:.0f} s in the future")


def decode_launch(
    config: LaunchDecoderConfig, token_or_url: str, now: datetime | None = None
) -> DecodedLaunch:
    """Verify, decrypt and parse a launch string or URL, refusing it when stale.

    Shared secret: the signed timestamp must be at most ``validity_seconds`` old (the SDK's rule,
    30 s) and at most ``max_future_seconds`` ahead. PKI: the same window applies to the access
    string's ``time`` parameter, which must be present.

    Raises
    ------
    LaunchAuthenticationError
        Tampered, or made with another secret or key.
    LaunchExpiredError
        Outside the validity window.
    LaunchTokenError, LaunchParameterError
        Malformed launch string or access string.
    """
    moment = _utc_now(now)
    found = _query_fields(token_or_url)
    if config.mode == "shared_secret":
        raw = found.get(crypto.SHARED_SECRET_PARAMETER.lower())
        if not raw:
            raise LaunchTokenError(f"no {crypto.SHARED_SECRET_PARAMETER} in the launch string")
        # a '+' that arrived unescaped became a space: put it back (base64 has no spaces)
        opened = crypto.shared_secret_open(unquote_plus(raw).replace(" ", "+"), _secret(config.secret))
        _check_time(opened.signed_at, moment, config)
        params = parse_query_string(opened.plaintext)
        return DecodedLaunch(params, opened.plaintext, opened.signed_at, opened.nonce)
    if config.mode != "pki":
        raise LaunchConfigurationError(f"unknown launch mode {config.mode!r}")
    pki_fields = {k: found.get(k.lower(), "") for k in crypto.PKI_PARAMETERS}
    plaintext = crypto.pki_open(
        pki_fields,
        _private_key(
            config.system_private_key_pem, config.system_private_key_password, "system_private_key_pem"
        ),
        _certificate_key(config.integrating_certificate_pem, "integrating_certificate_pem"),
    )
    params = parse_query_string(plaintext)
    if params.time is None:
        raise LaunchExpiredError("PKI launch string has no time parameter")
    _check_time(params.time, moment, config)
    return DecodedLaunch(params, plaintext, params.time, None)
