"""Breast density wording fixed by regulation: the report's composition sentence of each BI-RADS
5th edition category (21 CFR 900.12(c)(1)(vi), MQSA) and what counts as dense. Used by the report
draft, the patient letters, the HL7 results and the IDS7 PropValues alike."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from breastgate.domain.errors import UnknownDensityCategoryError

#: 21 CFR 900.12(c)(1)(vi): the report's overall assessment of breast density, BI-RADS 5th edition.
DENSITY_SENTENCES: Mapping[str, str] = MappingProxyType(
    {
        "a": "The breasts are almost entirely fatty.",
        "b": "There are scattered areas of fibroglandular density.",
        "c": "The breasts are heterogeneously dense, which may obscure small masses.",
        "d": "The breasts are extremely dense, which lowers the sensitivity of mammography.",
    }
)


def density_category(category: object) -> str:
    """Return ``a``-``d`` for a BI-RADS 5th edition category given in either case (blanks ignored)."""
    if isinstance(category, str):
        key = category.strip().lower()
        if key in DENSITY_SENTENCES:
            return key
    shown = repr(category)[:20]
    raise UnknownDensityCategoryError(
        f"unknown breast density category {shown}: expected a BI-RADS 5th edition category "
        "'a', 'b', 'c' or 'd'"
    )


def density_sentence(category: str) -> str:
    """Return the report's density sentence for a BI-RADS 5th edition category.

    21 CFR 900.12(c)(1)(vi) fixes the four phrasings; case and surrounding blanks of
    ``category`` are ignored.

    Raises
    ------
    UnknownDensityCategoryError
        (a ``ValueError``) for anything but ``a``, ``b``, ``c``, ``d``.
    """
    return DENSITY_SENTENCES[density_category(category)]


def is_dense(category: str) -> bool:
    """Whether the category counts as dense under MQSA: heterogeneously (c) or extremely (d) dense."""
    return density_category(category) in ("c", "d")
