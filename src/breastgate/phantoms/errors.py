"""Errors raised by the phantom generators."""

from __future__ import annotations

from breastgate.domain.errors import GatewayError

__all__ = ["PhantomError"]


class PhantomError(GatewayError, ValueError):
    """A phantom was requested with arguments that cannot be honoured (unknown kind, category...)."""
