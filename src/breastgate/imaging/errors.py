"""Errors of the imaging package."""

from __future__ import annotations

from breastgate.domain.errors import InvalidInputError


class ImagingError(InvalidInputError):
    """An image cannot be read or used."""


class PixelDecodeError(ImagingError):
    """Pixel Data could not be decoded (unsupported or corrupt)."""
