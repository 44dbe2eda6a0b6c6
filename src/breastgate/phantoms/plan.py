"""Study-level sampling: category, percent density per breast and view, breast shapes, contrast."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from breastgate.phantoms.anatomy import BreastShape, ViewSpec
from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.positioning import DEFECTS, outline_xy, pectoral_gap_mm, pnl_mm
from breastgate.phantoms.profiles import CATEGORIES, DENSITY_BANDS, VENDOR_PROFILES, VendorProfile

__all__ = ["REALISM", "VIEWS", "StudyPlan", "plan_study"]

#: Tissue models: "legacy" (the original clean texture; tests' fixed seeds) and "film" (calibrated
#: against real mammograms, see :func:`_film`).
REALISM: tuple[str, ...] = ("legacy", "film")

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
    #: Positioning defects put in on purpose (:data:`breastgate.phantoms.positioning.DEFECTS`).
    defects: tuple[str, ...] = ()
    #: Where each defect is: name -> (laterality, view); "missing_view" names the omitted view.
    defect_sites: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: True when positioning was drawn under control (``defects`` given, even empty): the study is
    #: then well positioned apart from its defects. Legacy plans (``defects=None``) are not adjusted.
    controlled: bool = False


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


def plan_study(
    seed: int,
    category: str | None = None,
    vendor: str | None = None,
    defects: Iterable[str] | None = None,
    realism: str = "legacy",
) -> StudyPlan:
    """Draw every random parameter of a 4-view study from ``seed``.

    ``defects=None`` keeps the legacy draws (the same pixels for a seed as before positioning
    existed; note that about half of those studies have CC and MLO PNLs more than 1 cm apart).
    Any ``defects`` (even empty) draws a well-positioned study from a separate random stream and
    then puts in the named defects (:data:`breastgate.phantoms.positioning.DEFECTS`).
    """
    wanted = None if defects is None else tuple(dict.fromkeys(defects))
    unknown = sorted(set(wanted or ()) - set(DEFECTS))
    if unknown:
        raise PhantomError(f"unknown positioning defect(s) {unknown}; expected some of {list(DEFECTS)}")
    if realism not in REALISM:
        raise PhantomError(f"unknown realism {realism!r}; expected one of {list(REALISM)}")
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
    plan = StudyPlan(seed, cat, profile, tuple(specs), thickness, force, age)
    plan = plan if wanted is None else _positioned(plan, wanted)
    return plan if realism == "legacy" else _film(plan)


# Well-positioned geometry and defects (algorithms.md §5), from their own random stream.
_CLEAN_ANGLE_DEG = (15.0, 35.0)
_MIN_MUSCLE_MM = 30.0
_TOP_THETAS = np.linspace(-1.5, 0.0, 301)


def _positioned(plan: StudyPlan, defects: tuple[str, ...]) -> StudyPlan:
    """Adjust a legacy plan to a well-positioned study, then put in ``defects``.

    Every random number is drawn up front in a fixed order, so a study with a defect differs from
    the clean study of the same seed only where the defect is.
    """
    rng = np.random.default_rng(np.random.SeedSequence([plan.seed, 0xB2EA57, 0x9051]))
    clean_delta = {lat: float(rng.uniform(-3.0, 3.0)) for lat in ("R", "L")}
    short_side, short_gap = str(rng.choice(["R", "L"])), float(rng.uniform(20.0, 30.0))
    mismatch_side, mismatch = str(rng.choice(["R", "L"])), float(rng.uniform(18.0, 28.0))
    nipple_view = VIEWS[int(rng.integers(0, len(VIEWS)))]
    nipple_angle, nipple_extra = float(rng.uniform(0.1, 0.4)), float(rng.uniform(3.0, 8.0))
    missing_pick = int(rng.integers(0, 1000))
    muscle = {lat: float(rng.uniform(1.25, 1.5)) for lat in ("R", "L")}

    specs = {(s.laterality, s.view): s for s in plan.views}
    sites: dict[str, tuple[str, str]] = {}
    for lat in ("R", "L"):
        # A muscle at least as bright as dense tissue (legacy 0.85 hides it in dense breasts).
        specs[(lat, "MLO")] = replace(_clean_muscle(specs[(lat, "MLO")]), pectoral_contrast=muscle[lat])
    if "pectoral_short" in defects:
        specs[(short_side, "MLO")] = _short_muscle(specs[(short_side, "MLO")], short_gap)
        sites["pectoral_short"] = (short_side, "MLO")
    if "nipple_not_in_profile" in defects:
        spec = specs[nipple_view]
        inset = spec.shape.nipple_radius_mm + nipple_extra
        specs[nipple_view] = replace(spec, nipple_shift=(nipple_angle, inset))
        sites["nipple_not_in_profile"] = nipple_view
    max_cc = 0.78 * plan.profile.columns * plan.profile.pixel_spacing_mm
    for lat in ("R", "L"):
        # A CC cannot be deeper than the detector allows: shorten a too deep MLO to match.
        mlo, cc = specs[(lat, "MLO")], specs[(lat, "CC")]
        cap = pnl_mm(replace(cc, shape=replace(cc.shape, depth_mm=max_cc))) - 2.0 * mismatch
        for _ in range(3):
            if pnl_mm(mlo) <= cap:
                break
            mlo = _with_pnl(mlo, cap, 40.0, mlo.shape.depth_mm)
            if sites.get("pectoral_short") == (lat, "MLO"):
                mlo = _short_muscle(mlo, short_gap)
        specs[(lat, "MLO")] = mlo
        target = pnl_mm(mlo)
        if "pnl_mismatch" in defects and lat == mismatch_side:
            shallower = target - mismatch
            target = shallower if shallower > 45.0 else target + mismatch
            sites["pnl_mismatch"] = (lat, "CC")
        else:
            target -= clean_delta[lat]
        specs[(lat, "CC")] = _with_pnl(cc, target, 40.0, max_cc)
    views = [specs[key] for key in VIEWS]
    if "missing_view" in defects:
        busy = set(sites.values())
        if "pnl_mismatch" in sites:
            busy |= {(sites["pnl_mismatch"][0], "CC"), (sites["pnl_mismatch"][0], "MLO")}
        free = [key for key in VIEWS if key not in busy] or list(VIEWS)
        gone = free[missing_pick % len(free)]
        views = [s for s in views if (s.laterality, s.view) != gone]
        sites["missing_view"] = gone
    return replace(plan, views=tuple(views), defects=defects, defect_sites=sites, controlled=True)


def _clean_muscle(spec: ViewSpec) -> ViewSpec:
    """Pectoral edge, nearly straight, at a usual angle to the chest wall, leaving the image through
    its top edge inside the breast (the muscle reaches the PNL in every legacy plan)."""
    assert spec.pectoral is not None
    width, height, bulge = spec.pectoral
    angle = float(np.clip(math.degrees(math.atan2(width, height)), *_CLEAN_ANGLE_DEG))
    shape = spec.shape
    width = height * math.tan(math.radians(angle))
    for _ in range(12):  # a breast that barely reaches the top edge is lifted to show the muscle
        if 0.8 * _top_width(shape) >= width:
            break
        shape = replace(shape, centre_mm=shape.centre_mm - 5.0)
    width = min(width, 0.8 * _top_width(shape))
    height = min(height, width / math.tan(math.radians(_CLEAN_ANGLE_DEG[0])))
    # A nearly straight edge: the PNL is measured to a straight line (a curved edge has no single one).
    return replace(spec, shape=shape, pectoral=(width, height, 0.3 * bulge))


def _top_width(shape: BreastShape) -> float:
    """Width (mm) of the breast along the top edge of the image (y = 0); 0 if it does not reach it."""
    x, y = outline_xy(shape, _TOP_THETAS)
    return float(x[y <= 0.0].max(initial=0.0))


def _short_muscle(spec: ViewSpec, gap_mm: float) -> ViewSpec:
    """Same edge angle, but the muscle ends ``gap_mm`` above the PNL; a breast too high for that
    sags a little more (its nipple lower) so the muscle keeps at least ``_MIN_MUSCLE_MM``."""
    assert spec.pectoral is not None
    width, height, bulge = spec.pectoral
    a = math.atan2(width, height)
    shape = spec.shape
    need = pectoral_gap_mm(spec)
    assert need is not None
    # gap = -x·sin a + (y - height)·cos a at the nipple (x, y): solve for height.
    new_height = height - (gap_mm - need) / math.cos(a)
    if new_height < _MIN_MUSCLE_MM:
        tip_x = shape.depth_mm * (1.0 + sum(amp * math.cos(ph) for amp, ph in shape.harmonics))
        lower = (_MIN_MUSCLE_MM - new_height) / tip_x
        shape = replace(shape, droop=shape.droop + lower)
        new_height = _MIN_MUSCLE_MM
    return replace(spec, shape=shape, pectoral=(new_height * math.tan(a), new_height, bulge))


def _with_pnl(spec: ViewSpec, target_mm: float, lo: float, hi: float) -> ViewSpec:
    """The view with its depth (within lo..hi mm) set so that its PNL is ``target_mm`` (bisection;
    the PNL grows with depth)."""
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if pnl_mm(replace(spec, shape=replace(spec.shape, depth_mm=mid))) < target_mm:
            lo = mid
        else:
            hi = mid
    return replace(spec, shape=replace(spec.shape, depth_mm=0.5 * (lo + hi)))


#: ``realism="film"``: the fat-to-dense transition width (ViewSpec.edge_softness, legacy 0.2).
FILM_EDGE_SOFTNESS = 0.6


def _film(plan: StudyPlan) -> StudyPlan:
    """The plan with its tissue calibrated against real mammograms (``bench/phantom_vs_real.py``).

    Only the width of the fat-to-dense transition changes (:attr:`ViewSpec.edge_softness` 0.2 →
    :data:`FILM_EDGE_SOFTNESS`); every random draw, hence outline, texture field, dense mask and truth,
    is the legacy plan's. Why and from what: on the 105 normal mini-MIAS films (digitised film, MLO) the
    shipped detectors and density measure give 0.50 mass false marks per image at the operating point
    and a within-class percent-dense SD of 15.6 (MIAS F/G/D); legacy phantoms gave 0.84 (×1.70) and 10.2
    (×0.66): their nearly binary glandular islands with sharp edges are too mass-like, and too easy to
    segment. Widths 0.45, 0.6 and 0.8 were tried on tuning seeds 7100-7107 (32 images): 0.63 (mass model
    1.1.0; 0.53 at 0.6 with it) / 0.44 / 0.31 (1.2.0) mass false marks per image and within-class PD SD
    16.0 / 18.5 / 19.4; 0.6 was chosen as the one nearest the film on both (by looking at those
    figures), then measured on other seeds, 7000-7015 (64 images): 0.375 mass false marks per image
    (×0.76 of film) and within-class PD SD 14.6 (×0.94); table in ``bench/phantom_vs_real.py``. Not
    matched: calcification false marks (0.016, legacy 0.047, against 0.18 per image on film: real normal
    films hold specks, dust and unlabelled benign calcifications the phantoms lack), the power-spectrum
    exponent (β 2.3 against 3.06 at 0.15-0.8 cycles/mm: the thresholded glandular islands are flatter
    than a projected continuous tissue field) and the calcification-scale clutter (×2.6). Other knobs
    tried and dropped (tuning seeds): a β = 3.2 continuous background mottle (matches the film's
    calcification-scale clutter and PD spread but raises the mass false marks to 1.3-1.6), texture
    elongated 2.5× along the nipple axis (raises them to 1.1), and stronger mottle inside dense tissue
    (raises them to 1.8 and the calcification false marks to 3.2 per image).
    """
    return replace(plan, views=tuple(replace(spec, edge_softness=FILM_EDGE_SOFTNESS) for spec in plan.views))
