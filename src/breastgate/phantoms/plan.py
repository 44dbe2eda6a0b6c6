"""Study-level sampling: category, percent density per breast and view, breast shapes, contrast."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from breastgate.phantoms.anatomy import BreastShape, ViewSpec
from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.profiles import CATEGORIES, DENSITY_BANDS, VENDOR_PROFILES, VendorProfile

__all__ = ["VIEWS", "StudyPlan", "plan_study"]

# Order of the four images of a screening study.
VIEWS: tuple[tuple[str, str], ...] = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))

# Compressed thickness (mm) by category, VICTRE defaults (algorithms.md §6.1): denser breasts are thinner.
_THICKNESS_MM = {"a": 65.0, "b": 55.0, "c": 45.0, "d": 35.0}


@dataclass(frozen=True)
class StudyPlan:
    """All random choices of one study; rendering it is deterministic."""

    seed: int
    category: str
    profile: VendorProfile
    views: tuple[ViewSpec, ...]
    thickness_mm: dict[str, float]  # per laterality
    force_n: dict[str, float]
    age: int


def _shape(
    rng: np.random.Generator, profile: VendorProfile, view: str, size: float, centre_frac: float
) -> BreastShape:
    height_mm = profile.rows * profile.pixel_spacing_mm
    width_mm = profile.columns * profile.pixel_spacing_mm
    depth = min(60.0 + 70.0 * size, 0.78 * width_mm)
    half = min(62.0 + 33.0 * size, 0.42 * height_mm)
    droop = float(rng.uniform(-0.04, 0.04))
    if view == "MLO":
        depth = min(depth * rng.uniform(1.0, 1.12), 0.8 * width_mm)
        half = min(half * rng.uniform(1.15, 1.3), 0.5 * height_mm)
        droop = float(rng.uniform(0.08, 0.25))
        # The MLO breast hangs from the axilla: its outline always leaves through the top edge.
        centre_frac = float(half * rng.uniform(0.8, 0.92) / height_mm)
    harmonics = tuple((float(rng.uniform(0.0, 0.035)), float(rng.uniform(0, 2 * np.pi))) for _ in range(3))
    return BreastShape(
        depth_mm=float(depth),
        half_height_mm=float(half),
        centre_mm=float(centre_frac * height_mm),
        droop=droop,
        harmonics=harmonics,
        nipple_radius_mm=float(rng.uniform(3.5, 5.5)),
        falloff_mm=float(rng.uniform(18.0, 30.0)),
    )


def _fractions(rng: np.random.Generator, category: str) -> dict[tuple[str, str], float]:
    """Target dense fractions: same band for both breasts, CC and MLO slightly different."""
    lo, hi = DENSITY_BANDS[category]
    width = hi - lo
    centre = rng.uniform(lo + 0.25 * width, hi - 0.25 * width)
    out: dict[tuple[str, str], float] = {}
    for lat in ("R", "L"):
        breast = centre + rng.uniform(-0.1, 0.1) * width
        delta = rng.uniform(0.03, 0.12) * width * rng.choice([-1.0, 1.0])
        out[(lat, "CC")] = float(np.clip(breast + delta, lo + 0.02 * width, hi - 0.02 * width)) / 100.0
        out[(lat, "MLO")] = float(np.clip(breast - delta, lo + 0.02 * width, hi - 0.02 * width)) / 100.0
    return out


def plan_study(seed: int, category: str | None = None, vendor: str | None = None) -> StudyPlan:
    """Draw every random parameter of a 4-view study from ``seed``."""
    if category is not None and category not in DENSITY_BANDS:
        raise PhantomError(f"unknown density category {category!r}; expected one of {sorted(DENSITY_BANDS)}")
    if vendor is not None and vendor not in VENDOR_PROFILES:
        raise PhantomError(f"unknown vendor profile {vendor!r}; expected one of {sorted(VENDOR_PROFILES)}")
    seq = np.random.SeedSequence([seed, 0xB2EA57])
    rng = np.random.default_rng(seq.spawn(1)[0])
    cat = category or str(rng.choice(CATEGORIES, p=[0.1, 0.4, 0.4, 0.1]))
    profile = VENDOR_PROFILES[vendor or str(rng.choice(sorted(VENDOR_PROFILES)))]
    fractions = _fractions(rng, cat)
    size = float(np.clip(rng.uniform(0.0, 1.0) + 0.1 * (1.5 - CATEGORIES.index(cat)), 0.0, 1.0))
    fat = float(rng.uniform(0.36, 0.46))
    contrast = float(rng.uniform(0.2, 0.32))
    cc_centre = float(rng.uniform(0.47, 0.53))
    image_seeds = seq.generate_state(len(VIEWS))
    specs = []
    for i, (lat, view) in enumerate(VIEWS):
        shape = _shape(rng, profile, view, float(np.clip(size + rng.normal(0, 0.03), 0, 1)), cc_centre)
        pectoral = None
        if view == "MLO":
            top = shape.centre_mm + shape.half_height_mm
            pectoral = (
                float(rng.uniform(0.3, 0.5) * shape.depth_mm),
                float(rng.uniform(0.55, 0.8) * top),
                float(rng.uniform(-0.3, 0.3)),
            )
        beta = float(np.clip(rng.normal(3.17 if view == "CC" else 3.30, 0.1), 2.8, 3.4))
        specs.append(
            ViewSpec(
                laterality=lat,
                view=view,
                target_fraction=fractions[(lat, view)],
                beta=beta,
                shape=shape,
                pectoral=pectoral,
                fat_level=fat + float(rng.normal(0, 0.01)),
                dense_contrast=contrast + float(rng.normal(0, 0.01)),
                gland_centre=float(rng.uniform(0.35, 0.5)),
                gland_weight=float(rng.uniform(1.2, 2.0)),
                seed=int(image_seeds[i]),
            )
        )
    base_t = _THICKNESS_MM[cat]
    thickness = {lat: float(np.clip(base_t + rng.normal(0, 6), 25, 85)) for lat in ("R", "L")}
    force = {lat: float(rng.uniform(60, 140)) for lat in ("R", "L")}
    age = int(rng.integers(40, 75))
    return StudyPlan(seed, cat, profile, tuple(specs), thickness, force, age)
