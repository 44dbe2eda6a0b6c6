"""Errors of the governance package (all :class:`~breastgate.domain.errors.GatewayError`)."""

from __future__ import annotations

from breastgate.domain.errors import GatewayError


class ReportError(GatewayError):
    """A validation report could not be rendered (e.g. WeasyPrint or Pango missing for the PDF)."""
