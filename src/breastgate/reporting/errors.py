"""Errors of the reporting package.

::

    GatewayError
    ├── InvalidInputError (domain)
    │   ├── RiskInputError (also a ValueError)   a risk-model input is missing, out of range or inconsistent
    │   │   └── BcratInputError                  BCRAT input the NCI tool rejects (BCRA ``recode.check``)
    │   └── UnknownDensityCategoryError          (also a ValueError)
    ├── ConfigurationError
    │   ├── LetterTemplateError                  (also a ValueError)
    │   └── PdfRenderingUnavailableError
    └── LaunchError                              Sectra URL launch (``sectra_launch``)
        ├── LaunchConfigurationError (also ConfigurationError, ValueError)  unusable key or certificate
        ├── LaunchParameterError (also InvalidInputError, ValueError)       invalid target or access string
        └── LaunchTokenError (also InvalidInputError)                       launch string not acceptable
            ├── LaunchAuthenticationError        tampered, wrong key or certificate, undecryptable
            └── LaunchExpiredError               timestamp older than the validity window or in the future

Risk errors name the input field and the rule it breaks, so a form can point at the field and a
report can quote the rule; no message contains the patient's name or identifiers.
"""

from __future__ import annotations

from breastgate.domain.errors import ConfigurationError, GatewayError, InvalidInputError

__all__ = [
    "BcratInputError",
    "LaunchAuthenticationError",
    "LaunchConfigurationError",
    "LaunchError",
    "LaunchExpiredError",
    "LaunchParameterError",
    "LaunchTokenError",
    "LetterTemplateError",
    "PdfRenderingUnavailableError",
    "RiskInputError",
    "UnknownDensityCategoryError",
]


class RiskInputError(InvalidInputError, ValueError):
    """A risk-model input breaks a rule; ``field`` names the input, ``rule`` the rule broken."""

    def __init__(self, field: str, rule: str, detail: str) -> None:
        super().__init__(f"{field}: {detail} [{rule}]")
        self.field = field
        self.rule = rule
        self.detail = detail


class BcratInputError(RiskInputError):
    """A BCRAT (Gail model) input the NCI tool rejects, or that breastgate cannot map to its codes."""


class UnknownDensityCategoryError(InvalidInputError, ValueError):
    """The density category is not one of the BI-RADS 5th edition letters a, b, c, d."""


class LetterTemplateError(ConfigurationError, ValueError):
    """A site's letter template cannot be used (no lay-summary placeholder, unknown placeholder ...)."""


class PdfRenderingUnavailableError(ConfigurationError):
    """WeasyPrint or its system libraries (Pango) are missing, so no PDF can be made."""


class LaunchError(GatewayError):
    """A Sectra URL launch string could not be built or accepted."""


class LaunchConfigurationError(LaunchError, ConfigurationError, ValueError):
    """The launch configuration is unusable: missing or malformed secret, key or certificate."""


class LaunchParameterError(LaunchError, InvalidInputError, ValueError):
    """A launch target or access-string parameter is invalid (e.g. a frame number below 1)."""


class LaunchTokenError(LaunchError, InvalidInputError):
    """A launch string is malformed or cannot be accepted."""


class LaunchAuthenticationError(LaunchTokenError):
    """A launch string fails authentication: tampered, or made with another key or certificate."""


class LaunchExpiredError(LaunchTokenError):
    """A launch string's timestamp is older than the validity window, or lies in the future."""
