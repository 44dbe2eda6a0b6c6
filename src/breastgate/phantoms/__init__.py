"""Synthetic studies with ground truth (DESIGN §2: phantoms imports only domain)."""

from __future__ import annotations

from breastgate.phantoms.dbt import generate_dbt_study, write_dbt_phantoms
from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.lesions import LesionRequest
from breastgate.phantoms.mg import PhantomStudy, generate_mg_study, write_phantoms
from breastgate.phantoms.mri import DceLesionRequest, DceStudy, generate_dce_study, write_dce_phantoms
from breastgate.phantoms.profiles import DENSITY_BANDS, VENDOR_PROFILES, VendorProfile
from breastgate.phantoms.us import UsStudy, generate_us_study, write_us_phantoms
from breastgate.phantoms.us_lesions import UsLesionRequest
from breastgate.phantoms.woman import PhantomWoman, generate_woman

__all__ = [
    "DENSITY_BANDS",
    "VENDOR_PROFILES",
    "DceLesionRequest",
    "DceStudy",
    "LesionRequest",
    "PhantomError",
    "PhantomStudy",
    "PhantomWoman",
    "UsLesionRequest",
    "UsStudy",
    "VendorProfile",
    "generate_dbt_study",
    "generate_dce_study",
    "generate_mg_study",
    "generate_us_study",
    "generate_woman",
    "write_dbt_phantoms",
    "write_dce_phantoms",
    "write_phantoms",
    "write_us_phantoms",
]
