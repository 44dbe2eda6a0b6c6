"""OpenID Connect relying party: the authorization code flow with PKCE against the hospital's IdP.

OpenID Connect Core 1.0 §3.1 (code flow), RFC 7636 (PKCE, S256), OpenID Connect Discovery 1.0
(``ISSUER/.well-known/openid-configuration``, whose ``issuer`` must be the configured one), RFC
9207 (the ``iss`` answer parameter, checked when sent). Authlib's httpx client builds the
authorization URL and exchanges the code; joserfc checks the ID token: its signature with a key
of the IdP's JWKS (asymmetric algorithms only; the JWKS is fetched again once for an unknown key),
``iss``, ``aud`` (and ``azp`` when several audiences), ``exp``, ``iat``, and the ``nonce`` of this
sign-in. Claims the ID token lacks are read from the userinfo endpoint (same ``sub``).

The transient state of one sign-in (state, nonce, PKCE verifier, where to go next, expiry) is
never trusted to the browser: it travels in a cookie sealed with AES-256-GCM under a key derived
(HKDF-SHA256) from the client secret, which every front end of a distributed gateway shares; a
public client without a secret gets a random key per process (development, one front end).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from breastgate.domain.errors import GatewayError

LOGGER = logging.getLogger(__name__)

TRANSACTION_TTL = timedelta(minutes=10)
METADATA_TTL = 3600.0
#: Allowed skew between our clock and the IdP's (seconds) for ``exp`` and ``iat``.
LEEWAY = 60
#: ID token algorithms accepted (never ``none``, never an HMAC keyed with the client secret).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_AAD = b"breastgate.oidc.transaction/1"


class OidcError(GatewayError):
    """A sign-in through the IdP that cannot complete; ``status`` is the HTTP answer."""

    status = 400


class ProviderUnavailableError(OidcError):
    """The IdP cannot be reached or answers something that is not OpenID Connect."""

    status = 502


class FlowError(OidcError):
    """The callback does not belong to a sign-in this browser started (state, expiry, tampering)."""

    status = 400


class IdTokenError(OidcError):
    """The IdP's answer is refused: the code exchange failed or the ID token is not valid."""

    status = 401


@dataclass(frozen=True)
class OidcConfig:
    """The IdP and how its claims map to breastgate users (BG_OIDC_*)."""

    issuer: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    scopes: tuple[str, ...] = ("openid", "profile")
    roles_claim: str = "roles"
    role_map: Mapping[str, frozenset[str]] = field(default_factory=dict)
    user_claim: str = "preferred_username"
    #: The callback URL registered at the IdP; empty: this server's URL as the browser called it.
    redirect_url: str = ""
    timeout: float = 10.0


@dataclass(frozen=True)
class Transaction:
    """One sign-in in flight, between the redirect to the IdP and the callback."""

    state: str
    nonce: str
    verifier: str
    next_path: str
    expires_at: int


@dataclass(frozen=True)
class ProviderMetadata:
    """What discovery said (the fields used)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    algorithms: tuple[str, ...]
    iss_parameter: bool


class Sealer:
    """Seals a :class:`Transaction` into a cookie value (AES-256-GCM) and opens it again."""

    def __init__(self, secret: str) -> None:
        if secret:
            hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_AAD)
            self._key = AESGCM(hkdf.derive(secret.encode("utf-8")))
        else:
            self._key = AESGCM(AESGCM.generate_key(bit_length=256))

    def seal(self, transaction: Transaction) -> str:
        nonce = os.urandom(12)
        sealed = self._key.encrypt(nonce, json.dumps(asdict(transaction)).encode(), _AAD)
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, value: str, now: datetime) -> Transaction:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._key.decrypt(raw[:12], raw[12:], _AAD)
            transaction = Transaction(**json.loads(plain))
        except (binascii.Error, ValueError, InvalidTag, TypeError):
            raise FlowError("The sign-in record is not valid; start the sign-in again") from None
        if transaction.expires_at < now.timestamp():
            raise FlowError("The sign-in took too long; start it again")
        return transaction


def _metadata(document: Any, issuer: str) -> ProviderMetadata:
    if not isinstance(document, dict):
        raise ProviderUnavailableError("The identity provider's discovery document is not a JSON object")
    if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise ProviderUnavailableError(
            "The identity provider's discovery document names another issuer than BG_OIDC_ISSUER"
        )
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not document.get(k)]
    if missing:
        raise ProviderUnavailableError(f"The identity provider's discovery lacks {', '.join(missing)}")
    offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(a for a in ALGORITHMS if a in offered)
    if not algorithms:
        raise ProviderUnavailableError("The identity provider signs ID tokens with no algorithm taken here")
    return ProviderMetadata(
        issuer=str(document["issuer"]),
        authorization_endpoint=str(document["authorization_endpoint"]),
        token_endpoint=str(document["token_endpoint"]),
        jwks_uri=str(document["jwks_uri"]),
        userinfo_endpoint=document.get("userinfo_endpoint") or None,
        end_session_endpoint=document.get("end_session_endpoint") or None,
        algorithms=algorithms,
        iss_parameter=bool(document.get("authorization_response_iss_parameter_supported")),
    )


def safe_next(path: str | None) -> str:
    """``path`` when it is a path on this server, else ``/`` (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x20 or c == "\\" for c in path) or len(path) > 2048:
        return "/"
    return path


class OidcClient:
    """The relying party of one IdP; discovery and keys are fetched on first use and cached."""

    def __init__(self, config: OidcConfig, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self.sealer = Sealer(config.client_secret)
        self._transport = transport
        self._lock = threading.Lock()
        self._meta: tuple[float, ProviderMetadata] | None = None
        self._keys: KeySet | None = None

    # The IdP's documents --------------------------------------------------------------------
    def _get(self, url: str, what: str, headers: Mapping[str, str] | None = None) -> Any:
        try:
            with httpx.Client(timeout=self.config.timeout, transport=self._transport) as http:
                response = http.get(url, headers=dict(headers or {}))
        except httpx.HTTPError as exc:
            LOGGER.warning("identity provider unreachable (%s): %s", what, type(exc).__name__)
            raise ProviderUnavailableError(f"The identity provider cannot be reached ({what})") from None
        if response.status_code != 200:
            LOGGER.warning("identity provider answered %d (%s)", response.status_code, what)
            raise ProviderUnavailableError(f"The identity provider answered {response.status_code} ({what})")
        try:
            return response.json()
        except ValueError:
            raise ProviderUnavailableError(f"The identity provider's {what} is not JSON") from None

    def metadata(self) -> ProviderMetadata:
        """Discovery (``ISSUER/.well-known/openid-configuration``), cached for an hour."""
        with self._lock:
            if self._meta is not None and self._meta[0] > time.monotonic():
                return self._meta[1]
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        meta = _metadata(self._get(url, "discovery"), self.config.issuer)
        with self._lock:
            self._meta = (time.monotonic() + METADATA_TTL, meta)
        return meta

    def _key_set(self, meta: ProviderMetadata, refresh: bool = False) -> KeySet:
        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
        try:
            keys = KeySet.import_key_set(self._get(meta.jwks_uri, "keys"))
        except (JoseError, ValueError, TypeError, KeyError):
            raise ProviderUnavailableError("The identity provider's key set cannot be read") from None
        with self._lock:
            self._keys = keys
        return keys

    def _oauth(self, redirect_uri: str) -> OAuth2Client:
        secret = self.config.client_secret
        return OAuth2Client(
            client_id=self.config.client_id,
            client_secret=secret or None,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope=" ".join(self.config.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self.config.timeout,
            transport=self._transport,
        )

    # The flow -------------------------------------------------------------------------------
    def begin(self, next_path: str, redirect_uri: str, now: datetime) -> tuple[str, str]:
        """The IdP's authorization URL and the sealed transaction to keep in the browser's cookie."""
        meta = self.metadata()
        transaction = Transaction(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(64),
            next_path=safe_next(next_path),
            expires_at=int((now + TRANSACTION_TTL).timestamp()),
        )
        with self._oauth(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                meta.authorization_endpoint,
                state=transaction.state,
                code_verifier=transaction.verifier,
                nonce=transaction.nonce,
            )
        return str(url), self.sealer.seal(transaction)

    def finish(
        self, params: Mapping[str, str], sealed: str | None, redirect_uri: str, now: datetime
    ) -> tuple[dict[str, Any], str]:
        """The verified claims of the user the IdP signed in, and where to send them next.

        Raises
        ------
        OidcError
            :class:`FlowError`, :class:`IdTokenError` or :class:`ProviderUnavailableError`.
        """
        if not sealed:
            raise FlowError("No sign-in was started from this browser (or it expired); start again")
        transaction = self.sealer.open(sealed, now)
        if not hmac.compare_digest(params.get("state", "").encode(), transaction.state.encode()):
            raise FlowError("The sign-in answer does not belong to this browser's sign-in (state)")
        meta = self.metadata()
        if ("iss" in params or meta.iss_parameter) and params.get("iss") != meta.issuer:
            raise FlowError("The sign-in answer comes from another issuer (iss)")
        if "error" in params:
            code = "".join(c for c in params["error"][:64] if c.isalnum() or c == "_")
            raise IdTokenError(f"The identity provider did not sign you in ({code})")
        if not params.get("code"):
            raise FlowError("The sign-in answer carries no code")
        token = self._exchange(meta, params["code"], transaction, redirect_uri)
        claims = self.verify_id_token(str(token["id_token"]), transaction.nonce, now)
        return self._with_userinfo(meta, claims, token), transaction.next_path

    def _exchange(
        self, meta: ProviderMetadata, code: str, transaction: Transaction, redirect_uri: str
    ) -> dict[str, Any]:
        try:
            with self._oauth(redirect_uri) as oauth:
                token: dict[str, Any] = dict(
                    oauth.fetch_token(meta.token_endpoint, code=code, code_verifier=transaction.verifier)
                )
        except OAuthError as exc:
            LOGGER.warning("identity provider refused the code: %s", exc.error)
            raise IdTokenError(f"The identity provider refused the sign-in code ({exc.error})") from None
        except httpx.HTTPError as exc:
            LOGGER.warning("identity provider unreachable (token): %s", type(exc).__name__)
            raise ProviderUnavailableError("The identity provider cannot be reached (token)") from None
        except ValueError:
            raise ProviderUnavailableError("The identity provider's token answer is not JSON") from None
        if not isinstance(token.get("id_token"), str):
            raise IdTokenError("The identity provider sent no ID token (is 'openid' among BG_OIDC_SCOPES?)")
        return token

    def verify_id_token(self, id_token: str, nonce: str, now: datetime) -> dict[str, Any]:
        """The claims of ``id_token`` once its signature, issuer, audience, times and ``nonce`` hold.

        Raises
        ------
        IdTokenError
            Any check fails (the reason, never the token, is in the message).
        """
        meta = self.metadata()
        algorithms = list(meta.algorithms)
        try:
            decoded = jwt.decode(id_token, self._key_set(meta), algorithms=algorithms)
        except JoseError:
            try:  # the IdP may have rolled its keys since they were fetched
                decoded = jwt.decode(id_token, self._key_set(meta, refresh=True), algorithms=algorithms)
            except JoseError as exc:
                raise IdTokenError(f"The ID token's signature is not valid ({exc.error})") from None
        except ValueError:
            raise IdTokenError("The ID token cannot be read") from None
        claims = dict(decoded.claims)
        registry = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=LEEWAY,
            iss={"essential": True, "value": meta.issuer},
            aud={"essential": True, "value": self.config.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise IdTokenError(f"The ID token is not valid ({exc.description or exc.error})") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise IdTokenError("The ID token is not valid (azp is not this client)")
        return claims

    def _with_userinfo(
        self, meta: ProviderMetadata, claims: dict[str, Any], token: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``claims`` completed from the userinfo endpoint when the roles or the name are missing."""
        wanted = (self.config.roles_claim.split(".")[0], self.config.user_claim.split(".")[0])
        access = token.get("access_token")
        if all(w in claims for w in wanted) or not meta.userinfo_endpoint or not isinstance(access, str):
            return claims
        info = self._get(meta.userinfo_endpoint, "userinfo", {"Authorization": f"Bearer {access}"})
        if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
            raise IdTokenError("The identity provider's userinfo is about another subject")
        return {**info, **claims}

    def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        """The IdP's end-session URL (OpenID Connect RP-Initiated Logout 1.0), None without one."""
        meta = self.metadata()
        if not meta.end_session_endpoint:
            return None
        query = {"client_id": self.config.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        return str(httpx.URL(meta.end_session_endpoint).copy_merge_params(query))
