"""Settings: ``breastgate.toml`` plus ``BG_*`` environment variables (environment wins).

Built once at start-up by :func:`load_settings` and passed down; nothing reads settings at
import time. See README "Configuration" for every name.

A Settings object is valid once built: list settings are typed values parsed by validators
(:mod:`breastgate.runtime.setting_values`), and the checks that involve several settings, the
files they name and production's refusals are model validators. :func:`load_settings` turns a
refusal into a ConfigurationError of one line (:mod:`breastgate.runtime.settings_errors`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Self, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from breastgate.domain.errors import ConfigurationError, InvalidInputError
from breastgate.domain.model import is_ae_title
from breastgate.domain.outputs import pacs_objects_for
from breastgate.governance.sso import parse_role_map
from breastgate.hl7.profile import load_profile
from breastgate.integrations.sectra.config import SectraConfig
from breastgate.runtime.setting_values import (
    AeTitles,
    AlgorithmIds,
    BaseUrl,
    FolderDestinations,
    MllpDestinations,
    PacsNodes,
    PacsObjects,
    PriorRetrieve,
    ProcessingIds,
    WebhookUrls,
)
from breastgate.runtime.settings_errors import did_you_mean, env_name, error_line

#: BG_* variables that are not settings: BG_CONFIG names the TOML file the settings are read from.
#: Variables an engines file (BG_ENGINES) names for its tokens and secrets are not settings either.
NON_SETTING_VARIABLES = frozenset({"BG_CONFIG"})
MIN_PRODUCTION_SECRET = 32
_T = TypeVar("_T")


def config_file() -> Path:
    """The TOML file: ``BG_CONFIG``, else ``breastgate.toml`` in the working directory (may be absent)."""
    return Path(os.environ.get("BG_CONFIG", "breastgate.toml"))


class Settings(BaseSettings):
    """Every setting of the gateway. Names are the contract in DESIGN.md §4."""

    # extra="forbid": an unknown TOML key (or override) is refused; unknown BG_* variables are
    # refused by _no_unknown_variables (pydantic-settings does not report them). Inputs stay out
    # of pydantic's messages: a value may be a secret.
    model_config = SettingsConfigDict(env_prefix="BG_", extra="forbid", hide_input_in_errors=True)

    env: Literal["development", "production"] = "development"
    home: Path = Path("./var")
    ae_title: str = "BREASTGATE"
    dicom_host: str = "0.0.0.0"
    dicom_port: int = 11112
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    hl7_host: str = "0.0.0.0"
    hl7_port: int = 2575
    hl7_results_to: MllpDestinations = Field(
        default=(), description="comma-separated mllp://HOST:PORT receiving ORU^R01 results (RIS, reporting)"
    )
    hl7_priority_to: MllpDestinations = Field(
        default=(), description="comma-separated mllp://HOST:PORT receiving order priority updates (RIS)"
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
    letters_to: FolderDestinations = Field(
        default=(),
        description="comma-separated dir:/absolute/path spool folders receiving patient letters (PDF)",
    )
    site_name: str = ""
    site_address: str = Field(default="", description="letterhead address lines separated by |")
    site_phone: str = ""
    site_logo: str = ""
    letter_template: str = Field(default="", description="a site's own letter template (HTML, $placeholders)")
    hl7_processing_ids: ProcessingIds = Field(
        default=frozenset({"P"}),
        description="comma-separated MSH-11 processing ids accepted (P production, T training, D debug)",
    )
    database_url: str = ""
    queue_url: str = ""
    pacs: PacsNodes = Field(
        default=(),
        description="comma-separated AE@HOST:PORT receiving results; the first is asked for priors",
    )
    pacs_objects: PacsObjects = Field(
        default_factory=dict,
        description="which result objects each BG_PACS node receives: NODE=kind,kind;NODE=all "
        "(kinds cad-sr, gsps, csps, sc, kos, tid1500, kinetic-map, seg, pmap; NODE is the AE title or "
        "AE@HOST:PORT); a node not named gets all but tid1500",
    )
    allowed_calling_aes: AeTitles = Field(
        default=frozenset(), description="comma-separated calling AE titles allowed; empty = open"
    )
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
    algorithms: AlgorithmIds = Field(
        default=(), description="comma-separated algorithm ids to run; empty = all registered"
    )
    webhooks: WebhookUrls = Field(
        default=(), description="comma-separated http(s) URLs receiving JSON events"
    )
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
        description="prior studies retrieved from the first BG_PACS node per order received before "
        "its images and per study routed to an algorithm wanting priors (the N most recent); "
        "0 disables the pre-fetch",
    )
    prior_years: float = Field(
        default=5.0,
        ge=0,
        description="priors are no older than this many years before the current study; 0 = any age",
    )
    prior_wait_seconds: float = Field(
        default=300.0,
        ge=0,
        description="how long a job whose algorithm wants priors waits for them before it runs "
        "without them (and says so: prior not fetched in time)",
    )
    prior_retrieve: PriorRetrieve = Field(
        default_factory=dict,
        description="how each BG_PACS node's priors are retrieved: NODE=move|get|dicomweb:URL;... "
        "(NODE is the AE title; move = C-FIND + C-MOVE to BG_AE_TITLE, get = C-FIND + C-GET, "
        "dicomweb:URL = QIDO-RS + WADO-RS at that base URL); a node not named uses move",
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
    # Sign-in (web.api.access): browser sessions
    session_idle_minutes: float = Field(
        default=30.0, gt=0, description="a browser session unused this long ends (minutes)"
    )
    session_max_hours: float = Field(
        default=12.0, gt=0, description="a browser session ends this long after sign-in (hours)"
    )
    cookie_secure: Literal["auto", "true", "false"] = Field(
        default="auto",
        description="Secure flag of the session cookie: auto = when the request came over https "
        "(a TLS proxy must pass X-Forwarded-Proto); production refuses false",
    )
    # Single sign-on through the hospital's identity provider (web.api.oidc)
    oidc_issuer: str = Field(
        default="",
        description="OpenID Connect issuer URL of the hospital's IdP (discovery at "
        "ISSUER/.well-known/openid-configuration); empty: no single sign-on",
    )
    oidc_client_id: str = Field(default="", description="breastgate's client id at the IdP")
    oidc_client_secret: str = Field(
        default="", repr=False, description="breastgate's client secret at the IdP; production refuses none"
    )
    oidc_scopes: str = Field(
        default="openid profile",
        description="scopes asked of the IdP (space- or comma-separated; openid needed)",
    )
    oidc_roles_claim: str = Field(
        default="roles",
        description="claim holding the user's IdP roles or groups (a list or a space/comma-separated text); "
        "a dotted path reads nested claims, e.g. realm_access.roles (Keycloak)",
    )
    oidc_role_map: str = Field(
        default="",
        description="IdP values to breastgate roles: idp-value=role[,role];... "
        "(empty: the IdP sends breastgate's role names); a user with no mapped role is refused",
    )
    oidc_user_claim: str = Field(
        default="preferred_username", description="claim naming the user (sub when it is absent)"
    )
    # Sectra Data Provider
    sectra_provider_user: str = Field(
        default="",
        description="HTTP Basic user the Sectra Healthcare Server presents at /v1/...; empty: "
        "only local accounts with the role integration are let in",
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
    public_url: BaseUrl = Field(
        default="",
        description="breastgate's URL as others reach it (http(s)://HOST:PORT), kept without a "
        "trailing slash; launch links in webhooks and HL7 results need it",
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
        if not is_ae_title(value):
            raise ValueError(f"not an AE title of 1-16 characters: {value!r}")
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
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file()),
        )

    # Checks of several settings, of the files they name, and production's refusals --------------
    @model_validator(mode="after")
    def _no_unknown_variables(self) -> Self:
        """An unknown BG_* variable is refused, not ignored: it is most likely a misspelt setting."""
        known = {env_name(name) for name in type(self).model_fields}
        unknown = [
            name
            for name in sorted(os.environ)
            if name.upper().startswith("BG_") and name.upper() not in known | NON_SETTING_VARIABLES
        ]
        nor = ""
        if unknown and self.engines:
            named = _refused(lambda: _engine_variables(Path(self.engines)))
            unknown = [name for name in unknown if name not in named]
            nor = " nor named by BG_ENGINES"
        if unknown:
            raise ValueError(
                "; ".join(
                    f"{name}: unknown variable, not a setting{nor}{did_you_mean(name.upper(), known)}"
                    for name in unknown
                )
            )
        return self

    @model_validator(mode="after")
    def _pacs_objects_name_pacs_nodes(self) -> Self:
        """BG_PACS_OBJECTS as written → the object kinds of every BG_PACS node."""
        try:
            self.pacs_objects = pacs_objects_for(self.pacs_objects, self.pacs)
        except InvalidInputError as exc:
            raise ValueError(f"BG_PACS_OBJECTS: {exc}") from None
        return self

    @model_validator(mode="after")
    def _prior_retrieve_names_pacs_nodes(self) -> Self:
        known = {node.ae_title for node in self.pacs}
        unknown = sorted(set(self.prior_retrieve) - known)
        if unknown:
            raise ValueError(
                f"BG_PRIOR_RETRIEVE: {', '.join(unknown)} is not a BG_PACS node "
                f"(expected the AE title of one of: {', '.join(sorted(known)) or 'none configured'})"
            )
        return self

    @model_validator(mode="after")
    def _letters_need_a_site_name(self) -> Self:
        if self.letters_to and not self.site_name.strip():
            raise ValueError("BG_LETTERS_TO needs BG_SITE_NAME (the letterhead of patient letters)")
        return self

    @model_validator(mode="after")
    def _hl7_profile_loads(self) -> Self:
        _refused(lambda: load_profile(self.hl7_profile))
        return self

    @model_validator(mode="after")
    def _sectra_is_usable(self) -> Self:
        """Bad keys or a missing secret or viewer refuse the start (the files are read here)."""
        _refused(lambda: SectraConfig.from_settings(self))
        return self

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> Self:
        """Webhooks are always signed: refuse to start them without a secret (none is generated)."""
        if not self.webhooks:
            return self
        secret = self.webhook_secret.strip()
        if self.env == "production" and len(secret) < MIN_PRODUCTION_SECRET:
            raise ValueError(
                "BG_ENV=production with BG_WEBHOOKS requires BG_WEBHOOK_SECRET of at least "
                f"{MIN_PRODUCTION_SECRET} characters (secrets are never defaulted in production)"
            )
        if not secret:
            raise ValueError(
                "BG_WEBHOOKS is set but BG_WEBHOOK_SECRET is empty: webhooks are signed with a shared "
                "secret and none is generated; set BG_WEBHOOK_SECRET or unset BG_WEBHOOKS"
            )
        return self

    @model_validator(mode="after")
    def _production_names_calling_aes(self) -> Self:
        if self.env == "production" and not self.allowed_calling_aes:
            raise ValueError(
                "BG_ENV=production requires BG_ALLOWED_CALLING_AES (the open DICOM port is for embedded use)"
            )
        return self

    @model_validator(mode="after")
    def _production_secure_cookie(self) -> Self:
        if self.env == "production" and self.cookie_secure == "false":
            raise ValueError(
                "BG_ENV=production refuses BG_COOKIE_SECURE=false: session cookies travel over https only"
            )
        return self

    @model_validator(mode="after")
    def _oidc_is_usable(self) -> Self:
        """SSO needs an issuer URL and a client id, asks for openid, and maps to known roles."""
        named = [n for n in ("oidc_client_id", "oidc_client_secret", "oidc_role_map") if getattr(self, n)]
        if not self.oidc_issuer:
            if named:
                raise ValueError(f"{env_name(named[0])} is set but BG_OIDC_ISSUER is empty (no SSO)")
            return self
        if not self.oidc_issuer.startswith(("https://", "http://")):
            raise ValueError("BG_OIDC_ISSUER: expected the IdP's issuer URL, https://HOST[/PATH]")
        if not self.oidc_client_id.strip():
            raise ValueError("BG_OIDC_ISSUER is set but BG_OIDC_CLIENT_ID is empty")
        if "openid" not in self.oidc_scopes.replace(",", " ").split():
            raise ValueError("BG_OIDC_SCOPES: must include openid")
        if self.env == "production" and not self.oidc_client_secret.strip():
            raise ValueError(
                "BG_ENV=production with BG_OIDC_ISSUER requires BG_OIDC_CLIENT_SECRET (a confidential client)"
            )
        if self.env == "production" and not self.oidc_issuer.startswith("https://"):
            raise ValueError("BG_ENV=production requires an https:// BG_OIDC_ISSUER")
        try:
            parse_role_map(self.oidc_role_map)
        except InvalidInputError as exc:
            raise ValueError(f"BG_OIDC_ROLE_MAP: {exc}") from None
        return self

    @model_validator(mode="after")
    def _production_starts_silent(self) -> Self:
        if self.env == "production" and self.initial_mode != "silent":
            raise ValueError(
                "BG_ENV=production requires BG_INITIAL_MODE=silent: new algorithm versions start silent "
                "and are promoted by an AI administrator (`breastgate mode set`, audited)"
            )
        return self

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


def _refused(check: Callable[[], _T]) -> _T:
    """``check()``, its ConfigurationError raised as the ValueError pydantic reports."""
    try:
        return check()
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None


def _engine_variables(path: Path) -> frozenset[str]:
    """The variables the engines file names for its tokens and secrets."""
    from breastgate.engines.config import environment_names  # only when a BG_* variable is unknown

    return environment_names(path)


def load_settings(**overrides: object) -> Settings:
    """Build the settings once, from ``overrides``, ``BG_*`` variables and the TOML file.

    Raises
    ------
    ConfigurationError
        A setting cannot be parsed, is unknown, or is refused (production's checks): one line
        naming the setting, the value (unless secret) and the expected form.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        line = error_line(exc, Settings.model_fields, source=str(config_file()), overrides=overrides)
        raise ConfigurationError(line) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{config_file()}: not valid TOML: {exc}") from None
    except OSError as exc:  # the TOML file is there but cannot be read (a folder, no permission)
        raise ConfigurationError(f"{exc.filename or config_file()}: cannot be read: {exc.strerror}") from None
