"""Settings: ``breastgate.toml`` plus ``BG_*`` environment variables (environment wins).

Built once at start-up by :func:`load_settings` and passed down; nothing reads settings at
import time. See README "Configuration" for every name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from breastgate.domain.errors import ConfigurationError, InvalidInputError
from breastgate.domain.model import DicomNode
from breastgate.domain.outputs import OutputKind, parse_pacs_objects
from breastgate.hl7.profile import load_profile
from breastgate.integrations.sectra.launch import LaunchConfig


class Settings(BaseSettings):
    """Every setting of the gateway. Names are the contract in DESIGN.md §4."""

    model_config = SettingsConfigDict(env_prefix="BG_", extra="ignore")

    env: Literal["development", "production"] = "development"
    home: Path = Path("./var")
    ae_title: str = "BREASTGATE"
    dicom_host: str = "0.0.0.0"
    dicom_port: int = 11112
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    hl7_host: str = "0.0.0.0"
    hl7_port: int = 2575
    hl7_results_to: str = Field(
        default="", description="comma-separated mllp://HOST:PORT receiving ORU^R01 results (RIS, reporting)"
    )
    hl7_priority_to: str = Field(
        default="", description="comma-separated mllp://HOST:PORT receiving order priority updates (RIS)"
    )
    hl7_priority_style: Literal["", "orm", "omi"] = Field(
        default="", description="orm | omi: overrides the HL7 profile's priority update message"
    )
    hl7_profile: str = Field(
        default="default",
        description="how priority and flags are written into HL7: default, sectra, or a site TOML file",
    )
    hl7_facility: str = ""
    hl7_receiving_application: str = ""
    hl7_receiving_facility: str = ""
    triage_policy: str = Field(
        default="", description="a site's triage policy (TOML: id, version, thresholds, triage_algorithms)"
    )
    letters_to: str = Field(
        default="",
        description="comma-separated dir:/absolute/path spool folders receiving patient letters (PDF)",
    )
    site_name: str = ""
    site_address: str = Field(default="", description="letterhead address lines separated by |")
    site_phone: str = ""
    site_logo: str = ""
    letter_template: str = Field(default="", description="a site's own letter template (HTML, $placeholders)")
    hl7_processing_ids: str = Field(
        default="P",
        description="comma-separated MSH-11 processing ids accepted (P production, T training, D debug)",
    )
    database_url: str = ""
    queue_url: str = ""
    pacs: str = ""
    pacs_objects: str = Field(
        default="",
        description="which result objects each BG_PACS node receives: NODE=kind,kind;NODE=all "
        "(kinds cad-sr, gsps, sc, kos, tid1500; NODE is the AE title or AE@HOST:PORT); "
        "a node not named gets cad-sr, gsps, sc, kos",
    )
    allowed_calling_aes: str = ""
    stable_seconds: float = 10.0
    workers: int = 2
    job_lease_seconds: float = 120.0
    job_max_attempts: int = 3
    job_retry_base_seconds: float = Field(
        default=5.0, ge=0, description="backoff before a failed job's next attempt, doubled each time"
    )
    job_retry_max_seconds: float = Field(default=300.0, ge=0)
    sweep_interval_seconds: float = 1.0
    delivery_retry_base_seconds: float = 2.0
    delivery_retry_max_seconds: float = 300.0
    dicom_max_pdu: int = 0
    log_level: str = "INFO"
    algorithms: str = Field(
        default="", description="comma-separated algorithm ids to run; empty = all registered"
    )
    webhooks: str = Field(default="", description="comma-separated http(s) URLs receiving JSON events")
    webhook_secret: str = Field(
        default="", repr=False, description="shared HMAC-SHA256 secret signing every webhook"
    )
    webhook_timeout_seconds: float = 10.0
    engines: str = Field(
        default="",
        description="third-party engines file (TOML, [[engine]] tables: kind dicom | http | onnx)",
    )
    initial_mode: Literal["silent", "assistive", "integrated"] = Field(
        default="silent",
        description="mode of a newly registered algorithm version at every destination; "
        "a site promotes it with `breastgate mode set`. Only silent in production.",
    )
    prior_count: int = Field(
        default=2,
        ge=0,
        description="prior MG studies retrieved from the first BG_PACS node per order received "
        "before its images; 0 disables the pre-fetch",
    )
    drift_check_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="seconds between drift checks of every algorithm version; 0 disables",
    )
    drift_baseline_days: float = Field(default=30.0, gt=0, description="drift baseline window (days)")
    drift_current_days: float = Field(
        default=7.0, gt=0, description="drift current window (days), the latest"
    )
    # Sectra Data Provider
    sectra_provider_user: str = Field(
        default="",
        description="HTTP Basic user the Sectra Healthcare Server must present at /v1/...; "
        "empty leaves the Data Provider endpoints open",
    )
    sectra_provider_password: str = Field(
        default="", repr=False, description="HTTP Basic password of BG_SECTRA_PROVIDER_USER"
    )
    sectra_provider_match_patient: bool = Field(
        default=True,
        description="refuse (HTTP 500) a Data Provider request whose patient ids do not include the "
        "exam's patient: no AI values of another patient in a report",
    )
    # Sectra URL launch
    public_url: str = Field(
        default="",
        description="breastgate's URL as others reach it (http(s)://HOST:PORT); launch links in "
        "webhooks and HL7 results need it",
    )
    sectra_launch_mode: Literal["", "shared_secret", "pki"] = Field(
        default="", description="Sectra URL launch: shared_secret or pki; empty = no launch links"
    )
    sectra_ids7_url: str = Field(
        default="",
        description="IDS7 launch prefix, e.g. sectra:?url=https://PACS/SectraHealthcareServer/&"
        "softwareUrl=https://PACS/ids7/&productId=IDS7 or https://PACS/ids7/3pstart.aspx",
    )
    sectra_uniview_url: str = Field(
        default="", description="UniView launch prefix, e.g. https://PACS/uniview/#/apiLaunch"
    )
    sectra_launch_secret: str = Field(
        default="", repr=False, description="shared secret: 32 bytes, base64 or 64 hex digits"
    )
    sectra_launch_key: str = Field(default="", description="pki: our RSA private key (PEM file)")
    sectra_launch_key_password: str = Field(default="", repr=False)
    sectra_launch_certificate: str = Field(
        default="", description="pki: the Sectra URL-launch system's certificate (PEM or DER file)"
    )

    @field_validator("ae_title")
    @classmethod
    def _ae_title(cls, value: str) -> str:
        if not value or len(value) > 16:
            raise ValueError("AE title must be 1-16 characters")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("BG_CONFIG", "breastgate.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    # Derived values -------------------------------------------------------------------------
    @property
    def home_path(self) -> Path:
        return self.home.resolve()

    @property
    def store_path(self) -> Path:
        return self.home_path / "store"

    @property
    def results_path(self) -> Path:
        return self.home_path / "results"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_path / 'breastgate.db'}"

    @property
    def effective_queue_url(self) -> str:
        return self.queue_url or f"sqlite:///{self.home_path / 'queue.db'}"

    @property
    def pacs_nodes(self) -> list[DicomNode]:
        """BG_PACS parsed; a malformed entry is a ConfigurationError."""
        try:
            return [DicomNode.parse(p) for p in self.pacs.split(",") if p.strip()]
        except InvalidInputError as exc:
            raise ConfigurationError(f"BG_PACS: {exc}") from None

    @property
    def pacs_object_kinds(self) -> dict[str, frozenset[OutputKind]]:
        """BG_PACS_OBJECTS parsed per BG_PACS node; an unknown node or kind is a ConfigurationError."""
        try:
            return parse_pacs_objects(self.pacs_objects, self.pacs_nodes)
        except InvalidInputError as exc:
            raise ConfigurationError(f"BG_PACS_OBJECTS: {exc}") from None

    @property
    def public_base_url(self) -> str:
        """BG_PUBLIC_URL without a trailing slash; a malformed one is a ConfigurationError."""
        if not self.public_url.strip():
            return ""
        (url,) = _url_list(self.public_url, "BG_PUBLIC_URL")
        return url.rstrip("/")

    @property
    def calling_ae_allow_list(self) -> frozenset[str]:
        """Empty means open (the embedded default)."""
        return frozenset(a.strip() for a in self.allowed_calling_aes.split(",") if a.strip())

    @property
    def hl7_results_destinations(self) -> list[str]:
        return _mllp_list(self.hl7_results_to, "BG_HL7_RESULTS_TO")

    @property
    def hl7_priority_destinations(self) -> list[str]:
        return _mllp_list(self.hl7_priority_to, "BG_HL7_PRIORITY_TO")

    @property
    def letter_destinations(self) -> list[str]:
        """``dir:/absolute/path`` entries; letters need a site name for their letterhead."""
        out = [d.strip() for d in self.letters_to.split(",") if d.strip()]
        for item in out:
            if not item.startswith("dir:") or not Path(item[4:]).is_absolute():
                raise ConfigurationError(f"BG_LETTERS_TO: not dir:/absolute/path: {item!r}")
        if out and not self.site_name.strip():
            raise ConfigurationError("BG_LETTERS_TO needs BG_SITE_NAME (the letterhead of patient letters)")
        return out

    @property
    def hl7_processing_id_set(self) -> frozenset[str]:
        return frozenset(p.strip().upper() for p in self.hl7_processing_ids.split(",") if p.strip())

    @property
    def algorithm_ids(self) -> list[str]:
        return [a.strip() for a in self.algorithms.split(",") if a.strip()]

    @property
    def webhook_destinations(self) -> list[str]:
        """BG_WEBHOOKS parsed; an entry that is not an http(s) URL with a host is a ConfigurationError."""
        return _url_list(self.webhooks, "BG_WEBHOOKS")


def _mllp_list(value: str, name: str) -> list[str]:
    """``mllp://HOST:PORT`` entries (``HOST:PORT`` accepted), normalised; a malformed one is a
    ConfigurationError."""
    out = []
    for item in (v.strip() for v in value.split(",")):
        if not item:
            continue
        text = item[len("mllp://") :] if item.startswith("mllp://") else item
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError(f"{name}: not mllp://HOST:PORT: {item!r}")
        out.append(f"mllp://{host}:{int(port)}")
    return out


def _url_list(value: str, name: str) -> list[str]:
    """``http(s)://HOST[:PORT]/...`` entries; the error names the entry's position, not the URL
    (a webhook URL may carry a token)."""
    out = []
    for number, item in enumerate((v.strip() for v in value.split(",") if v.strip()), start=1):
        try:
            parts = urlsplit(item)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            ok = False
        if not ok:
            raise ConfigurationError(f"{name}: entry {number} is not an http(s) URL with a host")
        out.append(item)
    return out


MIN_PRODUCTION_SECRET = 32


def _check_webhooks(settings: Settings) -> None:
    """Webhooks are always signed: refuse to start them without a secret (none is generated)."""
    if not settings.webhook_destinations:
        return
    secret = settings.webhook_secret.strip()
    if settings.env == "production" and len(secret) < MIN_PRODUCTION_SECRET:
        raise ConfigurationError(
            "BG_ENV=production with BG_WEBHOOKS requires BG_WEBHOOK_SECRET of at least "
            f"{MIN_PRODUCTION_SECRET} characters (secrets are never defaulted in production)"
        )
    if not secret:
        raise ConfigurationError(
            "BG_WEBHOOKS is set but BG_WEBHOOK_SECRET is empty: webhooks are signed with a shared "
            "secret and none is generated; set BG_WEBHOOK_SECRET or unset BG_WEBHOOKS"
        )


def _check_sectra_provider(settings: Settings) -> None:
    """A password without a user would look like protection and give none; production refuses a
    user with an empty password."""
    user, password = settings.sectra_provider_user.strip(), settings.sectra_provider_password
    if password and not user:
        raise ConfigurationError(
            "BG_SECTRA_PROVIDER_PASSWORD is set but BG_SECTRA_PROVIDER_USER is empty: set both or neither"
        )
    if settings.env == "production" and user and not password:
        raise ConfigurationError(
            "BG_ENV=production with BG_SECTRA_PROVIDER_USER requires BG_SECTRA_PROVIDER_PASSWORD "
            "(secrets are never defaulted in production)"
        )


def sectra_launch_config(settings: Settings) -> LaunchConfig | None:
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

    def read(path: str, name: str) -> bytes:
        if not path.strip():
            raise ConfigurationError(f"BG_SECTRA_LAUNCH_MODE=pki needs {name}")
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"{name}: cannot read {Path(path).name}: {exc.strerror}") from None

    password = settings.sectra_launch_key_password.encode() or None
    return LaunchConfig(
        mode,
        ids7,
        uniview,
        signing_key_pem=read(settings.sectra_launch_key, "BG_SECTRA_LAUNCH_KEY"),
        system_certificate_pem=read(settings.sectra_launch_certificate, "BG_SECTRA_LAUNCH_CERTIFICATE"),
        signing_key_password=password,
    )


def load_settings(**overrides: object) -> Settings:
    """Build the settings once; refuse unsafe production settings."""
    settings = Settings(**overrides)  # type: ignore[arg-type]
    settings.pacs_nodes  # noqa: B018 - parse early so a bad BG_PACS fails at start-up
    settings.pacs_object_kinds  # noqa: B018 - and a bad BG_PACS_OBJECTS
    settings.hl7_results_destinations  # noqa: B018 - and a bad HL7 destination
    settings.hl7_priority_destinations  # noqa: B018
    settings.letter_destinations  # noqa: B018
    load_profile(settings.hl7_profile)  # a bad HL7 profile fails at start-up
    settings.public_base_url  # noqa: B018
    sectra_launch_config(settings)  # bad keys or a missing secret fail at start-up
    _check_webhooks(settings)
    _check_sectra_provider(settings)
    if settings.env == "production" and not settings.calling_ae_allow_list:
        raise ConfigurationError(
            "BG_ENV=production requires BG_ALLOWED_CALLING_AES (the open DICOM port is for embedded use)"
        )
    if settings.env == "production" and settings.initial_mode != "silent":
        raise ConfigurationError(
            "BG_ENV=production requires BG_INITIAL_MODE=silent: new algorithm versions start silent "
            "and are promoted by an AI administrator (`breastgate mode set`, audited)"
        )
    return settings
