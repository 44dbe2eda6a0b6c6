"""The Sectra settings, read once into a valid :class:`SectraConfig` (DESIGN §3: built once).

:class:`SectraSettings` names the ``BG_SECTRA_*`` values (and ``BG_ENV``, ``BG_PUBLIC_URL``) this
package reads; the gateway's Settings object has them. :meth:`SectraConfig.from_settings` checks
them — a launch mode needs a viewer and its secret or keys, a provider password needs a user,
production needs a password with a user — and raises one
:class:`~breastgate.domain.errors.ConfigurationError` naming the setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from breastgate.domain.errors import ConfigurationError
from breastgate.integrations.sectra.launch import LaunchConfig
from breastgate.integrations.sectra.refs import LaunchRefs


class SectraSettings(Protocol):
    """The settings Sectra integration reads (names as in DESIGN §4 / README, without ``BG_``)."""

    @property
    def env(self) -> str: ...

    @property
    def public_url(self) -> str: ...

    @property
    def sectra_provider_user(self) -> str: ...

    @property
    def sectra_provider_password(self) -> str: ...

    @property
    def sectra_provider_match_patient(self) -> bool: ...

    @property
    def sectra_launch_mode(self) -> Literal["", "shared_secret", "pki"]: ...

    @property
    def sectra_ids7_url(self) -> str: ...

    @property
    def sectra_uniview_url(self) -> str: ...

    @property
    def sectra_launch_secret(self) -> str: ...

    @property
    def sectra_launch_key(self) -> str: ...

    @property
    def sectra_launch_key_password(self) -> str: ...

    @property
    def sectra_launch_certificate(self) -> str: ...


@dataclass(frozen=True)
class BasicCredentials:
    """HTTP Basic credentials a caller must present (RFC 7617)."""

    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class SectraConfig:
    """The Data Provider's protection and the URL launch of a site (nothing set: all off)."""

    #: Credentials of the Data Provider endpoints (``/v1/...``); None leaves them open.
    provider: BasicCredentials | None = None
    #: Refuse a Data Provider request naming other patients than the exam's.
    match_patient: bool = True
    #: URL launch keys and viewer prefixes; None: no launch links anywhere.
    launch: LaunchConfig | None = None
    #: breastgate's public URL (BG_PUBLIC_URL), for links read outside breastgate.
    public_url: str = ""

    @classmethod
    def from_settings(cls, settings: SectraSettings) -> SectraConfig:
        user, password = settings.sectra_provider_user.strip(), settings.sectra_provider_password
        if password and not user:
            raise ConfigurationError(
                "BG_SECTRA_PROVIDER_PASSWORD is set but BG_SECTRA_PROVIDER_USER is empty: set both or neither"
            )
        production = settings.env == "production"
        if production and user and not password:
            raise ConfigurationError(
                "BG_ENV=production with BG_SECTRA_PROVIDER_USER requires BG_SECTRA_PROVIDER_PASSWORD "
                "(secrets are never defaulted in production)"
            )
        return cls(
            provider=BasicCredentials(user, password) if user else None,
            match_patient=settings.sectra_provider_match_patient,
            launch=launch_config(settings),
            public_url=settings.public_url,
        )

    def launch_refs(self, absolute: bool = False) -> LaunchRefs | None:
        """References to the launch endpoint for the configured viewers; ``absolute`` ones (for
        webhooks and the ORU, read outside breastgate) need BG_PUBLIC_URL (None without it)."""
        if self.launch is None or (absolute and not self.public_url):
            return None
        return LaunchRefs.of(self.launch, self.public_url)


def launch_config(settings: SectraSettings) -> LaunchConfig | None:
    """The Sectra URL launch configuration; None when BG_SECTRA_LAUNCH_MODE is empty.

    Raises ConfigurationError for a missing or malformed secret, key or certificate, or no viewer."""
    mode = settings.sectra_launch_mode
    if not mode:
        return None
    ids7, uniview = settings.sectra_ids7_url.strip() or None, settings.sectra_uniview_url.strip() or None
    if not (ids7 or uniview):
        raise ConfigurationError(
            "BG_SECTRA_LAUNCH_MODE needs BG_SECTRA_IDS7_URL or BG_SECTRA_UNIVIEW_URL (the viewer to open)"
        )
    if mode == "shared_secret":
        if not settings.sectra_launch_secret.strip():
            raise ConfigurationError(
                "BG_SECTRA_LAUNCH_MODE=shared_secret needs BG_SECTRA_LAUNCH_SECRET "
                "(the 32-byte key agreed with Sectra; none is generated)"
            )
        return LaunchConfig(mode, ids7, uniview, secret=settings.sectra_launch_secret.strip())
    password = settings.sectra_launch_key_password.encode() or None
    return LaunchConfig(
        mode,
        ids7,
        uniview,
        signing_key_pem=_read(settings.sectra_launch_key, "BG_SECTRA_LAUNCH_KEY"),
        system_certificate_pem=_read(settings.sectra_launch_certificate, "BG_SECTRA_LAUNCH_CERTIFICATE"),
        signing_key_password=password,
    )


def _read(path: str, name: str) -> bytes:
    if not path.strip():
        raise ConfigurationError(f"BG_SECTRA_LAUNCH_MODE=pki needs {name}")
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{name}: cannot read {Path(path).name}: {exc.strerror}") from None
