"""Errors of the reporting package (report wording and patient letters).

::

    GatewayError
    ├── InvalidInputError (domain)
    │   └── UnknownDensityCategoryError          (also a ValueError)
    └── ConfigurationError
        ├── LetterTemplateError                  (also a ValueError)
        └── PdfRenderingUnavailableError
"""

from __future__ import annotations

from breastgate.domain.errors import ConfigurationError, InvalidInputError

__all__ = ["LetterTemplateError", "PdfRenderingUnavailableError", "UnknownDensityCategoryError"]


class UnknownDensityCategoryError(InvalidInputError, ValueError):
    """The density category is not one of the BI-RADS 5th edition letters a, b, c, d."""


class LetterTemplateError(ConfigurationError, ValueError):
    """A site's letter template cannot be used (no lay-summary placeholder, unknown placeholder ...)."""


class PdfRenderingUnavailableError(ConfigurationError):
    """WeasyPrint or its system libraries (Pango) are missing, so no PDF can be made."""
