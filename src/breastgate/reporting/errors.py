"""Errors of the reporting package (report wording and patient letters).

::

    GatewayError
    └── ConfigurationError
        ├── LetterTemplateError                  (also a ValueError)
        └── PdfRenderingUnavailableError
"""

from __future__ import annotations

from breastgate.domain.errors import ConfigurationError

__all__ = ["LetterTemplateError", "PdfRenderingUnavailableError"]


class LetterTemplateError(ConfigurationError, ValueError):
    """A site's letter template cannot be used (no lay-summary placeholder, unknown placeholder ...)."""


class PdfRenderingUnavailableError(ConfigurationError):
    """WeasyPrint or its system libraries (Pango) are missing, so no PDF can be made."""
