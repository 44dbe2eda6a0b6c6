"""Synthetic studies with ground truth (DESIGN §2: phantoms imports only domain)."""

from __future__ import annotations

from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.mg import PhantomStudy, generate_mg_study, write_phantoms
from breastgate.phantoms.profiles import DENSITY_BANDS, VENDOR_PROFILES, VendorProfile

__all__ = [
    "DENSITY_BANDS",
    "VENDOR_PROFILES",
    "PhantomError",
    "PhantomStudy",
    "VendorProfile",
    "generate_mg_study",
    "write_phantoms",
]
