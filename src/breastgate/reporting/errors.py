"""Errors of the reporting package.

::

    GatewayError
    ├── InvalidInputError (domain)
    │   ├── RiskInputError (also a ValueError)   a risk-model input is missing, out of range or inconsistent
    │   │   └── BcratInputError                  BCRAT input the NCI tool rejects (BCRA ``recode.check``)
    │   └── UnknownDensityCategoryError          (also a ValueError)
    └── ConfigurationError
        ├── LetterTemplateError                  (also a ValueError)
        └── PdfRenderingUnavailableError

Risk errors name the input field and the rule it breaks, so a form can point at the field and a
report can quote the rule; no message contains the patient's name or identifiers.
"""

from __future__ import annotations

from breastgate.domain.errors import ConfigurationError, InvalidInputError

__all__ = [
    "BcratInputError",
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
