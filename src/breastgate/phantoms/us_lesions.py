"""Lesions of the breast ultrasound phantom: BI-RADS US descriptors by construction.

A lesion is a body with three diameters: ``width_mm`` (horizontal, in the plane of the first
view), ``depth_mm`` (anterior-posterior) and ``elevation_mm`` (horizontal, orthogonal to the first
view). Its outline in a plane is drawn for its shape and margin, then scaled so that its horizontal
and vertical extents are exactly the diameters: the truth sizes are exact, not measured.

Orientation follows the BI-RADS US lexicon (RadLex RID34353: "round masses are not parallel"):
``parallel`` is drawn with depth/width (and depth/elevation) in 0.40-0.80, ``not_parallel`` with
1.15-1.60, and a round lesion has depth/width 0.95-1.05; the gap keeps a measured ratio on the
right side of a 0.9 threshold.

Label (benign|malignant) by rule, never drawn: malignant when at least two of irregular shape,
not circumscribed margin, not parallel orientation, posterior shadowing, complex echo pattern.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from breastgate.phantoms.errors import PhantomError

__all__ = [
    "ECHO_PATTERNS",
    "MARGIN_DETAILS",
    "ORIENTATIONS",
    "POSTERIOR",
    "SHAPES",
    "UsLesion",
    "UsLesionRequest",
    "draw_lesion",
    "label_of",
    "outline_mm",
]

Floats = npt.NDArray[np.float64]
SHAPES = ("oval", "round", "irregular")
ORIENTATIONS = ("parallel", "not_parallel")
MARGIN_DETAILS = ("circumscribed", "indistinct", "angular", "microlobulated", "spiculated")
ECHO_PATTERNS = ("anechoic", "hypoechoic", "isoechoic", "complex", "heterogeneous", "hyperechoic")
POSTERIOR = ("enhancement", "shadowing", "none", "combined")
_N_POINTS = 240

#: Profiles (weight, shapes, margin details, echo patterns, posterior features, orientations).
_PROFILES: dict[
    str, tuple[float, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]
] = {
    "simple_cyst": (
        0.22,
        ("oval", "round"),
        ("circumscribed",),
        ("anechoic",),
        ("enhancement",),
        ("parallel",),
    ),
    "fibroadenoma": (
        0.23,
        ("oval",),
        ("circumscribed", "circumscribed", "microlobulated"),
        ("hypoechoic", "isoechoic", "hypoechoic"),
        ("none", "enhancement", "combined"),
        ("parallel",),
    ),
    "complex_cyst": (
        0.12,
        ("oval", "round"),
        ("circumscribed", "indistinct"),
        ("complex",),
        ("enhancement", "none"),
        ("parallel",),
    ),
    "carcinoma": (
        0.33,
        ("irregular", "irregular", "round"),
        ("spiculated", "angular", "indistinct", "microlobulated"),
        ("hypoechoic", "heterogeneous", "hypoechoic"),
        ("shadowing", "shadowing", "none", "combined"),
        ("not_parallel", "parallel"),
    ),
    "solid_heterogeneous": (
        0.10,
        ("oval", "irregular"),
        ("indistinct", "circumscribed"),
        ("heterogeneous",),
        ("none", "enhancement"),
        ("parallel", "not_parallel"),
    ),
}


@dataclass(frozen=True)
class UsLesionRequest:
    """What a caller asks for; ``None`` fields are drawn from the seed (consistently with the rest)."""

    width_mm: float | None = None
    depth_mm: float | None = None
    elevation_mm: float | None = None
    shape: str | None = None
    orientation: str | None = None
    margin_detail: str | None = None
    echo_pattern: str | None = None
    posterior: str | None = None

    def __post_init__(self) -> None:
        for name, allowed in (
            ("shape", SHAPES),
            ("orientation", ORIENTATIONS),
            ("margin_detail", MARGIN_DETAILS),
            ("echo_pattern", ECHO_PATTERNS),
            ("posterior", POSTERIOR),
        ):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise PhantomError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        for name in ("width_mm", "depth_mm", "elevation_mm"):
            value = getattr(self, name)
            if value is not None and not 3.0 <= value <= 30.0:
                raise PhantomError(f"{name} must be within 3-30 mm, got {value}")
        if self.shape == "round" and self.orientation == "parallel":
            raise PhantomError("a round lesion is not parallel (BI-RADS US)")
        if self.shape == "round" and self.margin_detail in ("angular", "spiculated"):
            raise PhantomError(f"a {self.margin_detail} margin makes the shape irregular, not round")


@dataclass(frozen=True)
class UsLesion:
    """A planned lesion: descriptors, diameters and the seed of its outlines."""

    id: str
    profile: str
    shape: str
    orientation: str
    margin_detail: str
    echo_pattern: str
    posterior: str
    width_mm: float
    depth_mm: float
    elevation_mm: float
    tilt_deg: float
    echo: float  # amplitude relative to fibroglandular tissue (1.0); 0 = anechoic
    posterior_gain: float  # amplitude factor below the lesion (enhancement > 1, shadowing < 1)
    outline_seed: int

    @property
    def margin(self) -> str:
        return "circumscribed" if self.margin_detail == "circumscribed" else "not_circumscribed"

    @property
    def label(self) -> str:
        return label_of(self.shape, self.margin, self.orientation, self.posterior, self.echo_pattern)

    def truth(self) -> dict[str, Any]:
        """Descriptor fields of truth.json (sizes are the body's; see the module docstring)."""
        return {
            "id": self.id,
            "width_mm": round(self.width_mm, 2),
            "depth_mm": round(self.depth_mm, 2),
            "elevation_mm": round(self.elevation_mm, 2),
            "shape": self.shape,
            "orientation": self.orientation,
            "margin": self.margin,
            "margin_detail": self.margin_detail,
            "echo_pattern": self.echo_pattern,
            "posterior": self.posterior,
            "label": self.label,
            "profile": self.profile,
        }


def label_of(shape: str, margin: str, orientation: str, posterior: str, echo_pattern: str) -> str:
    """``malignant`` when at least two suspicious features are present, else ``benign``."""
    suspicious = (
        shape == "irregular",
        margin == "not_circumscribed",
        orientation == "not_parallel",
        posterior == "shadowing",
        echo_pattern == "complex",
    )
    return "malignant" if sum(suspicious) >= 2 else "benign"


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return str(options[int(rng.integers(len(options)))])


def _ratio(rng: np.random.Generator, shape: str, orientation: str) -> float:
    """Depth / horizontal diameter by construction (see the module docstring)."""
    if shape == "round":
        return float(rng.uniform(0.95, 1.05))
    return float(rng.uniform(0.40, 0.80) if orientation == "parallel" else rng.uniform(1.15, 1.60))


def _descriptors(rng: np.random.Generator, req: UsLesionRequest) -> tuple[str, ...]:
    wanted = (req.shape, req.margin_detail, req.echo_pattern, req.posterior, req.orientation)
    names = [  # the profiles that allow every requested descriptor (all when none does)
        n
        for n, (_, *options) in _PROFILES.items()
        if all(w is None or w in opts for w, opts in zip(wanted, options, strict=True))
    ] or list(_PROFILES)
    weights = np.array([_PROFILES[n][0] for n in names])
    profile = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    _, shapes, details, echoes, posts, orients = _PROFILES[profile]
    detail = req.margin_detail or _pick(rng, details)
    shape = req.shape or _pick(rng, shapes)
    if detail in ("angular", "spiculated"):
        shape = req.shape or "irregular"
    if shape == "round" and detail in ("angular", "spiculated"):
        shape = "irregular"
    orientation = "not_parallel" if shape == "round" else req.orientation or _pick(rng, orients)
    return (
        profile,
        shape,
        orientation,
        detail,
        req.echo_pattern or _pick(rng, echoes),
        req.posterior or _pick(rng, posts),
    )


def _diameters(
    rng: np.random.Generator, req: UsLesionRequest, shape: str, orientation: str
) -> tuple[float, float, float]:
    if req.depth_mm is not None and req.width_mm is None and req.elevation_mm is None:
        depth = req.depth_mm
        width = depth / _ratio(rng, shape, orientation)
    else:
        width = req.width_mm if req.width_mm is not None else float(rng.uniform(6.0, 20.0))
        depth = req.depth_mm if req.depth_mm is not None else width * _ratio(rng, shape, orientation)
    elevation = req.elevation_mm if req.elevation_mm is not None else depth / _ratio(rng, shape, orientation)
    for horizontal in (width, elevation):
        r = depth / horizontal
        ok = (
            0.95 <= r <= 1.05 if shape == "round" else (r <= 0.80 if orientation == "parallel" else r >= 1.15)
        )
        if not ok:
            raise PhantomError(
                f"diameters {width:.1f} x {depth:.1f} x {elevation:.1f} mm contradict a {shape} "
                f"{orientation} lesion (depth/horizontal {r:.2f})"
            )
    return round(width, 2), round(depth, 2), round(elevation, 2)


_ECHO = {  # amplitude relative to fibroglandular tissue; fat is ~0.165 (:mod:`us_render`)
    "anechoic": (0.0, 0.0),
    "hypoechoic": (0.035, 0.075),
    "isoechoic": (0.15, 0.18),
    "complex": (0.0, 0.0),
    "heterogeneous": (0.05, 0.09),
    "hyperechoic": (1.4, 1.8),
}


def draw_lesion(rng: np.random.Generator, lesion_id: str, request: UsLesionRequest | None = None) -> UsLesion:
    """A lesion for ``request`` (unset fields drawn from a profile such as a simple cyst)."""
    req = request or UsLesionRequest()
    profile, shape, orientation, detail, echo_pattern, posterior = _descriptors(rng, req)
    width, depth, elevation = _diameters(rng, req, shape, orientation)
    lo, hi = _ECHO[echo_pattern]
    gain = {
        "enhancement": float(rng.uniform(1.7, 2.5)),
        "shadowing": float(rng.uniform(0.10, 0.25)),
        "combined": float(rng.uniform(0.10, 0.25)),
        "none": 1.0,
    }[posterior]
    tilt = float(rng.uniform(-12, 12)) if shape != "round" else 0.0
    return UsLesion(
        lesion_id,
        profile,
        shape,
        orientation,
        detail,
        echo_pattern,
        posterior,
        width,
        depth,
        elevation,
        round(tilt, 2),
        round(float(rng.uniform(lo, hi)), 4),
        round(gain, 3),
        int(rng.integers(2**31)),
    )


def _radius(rng: np.random.Generator, lesion: UsLesion, theta: Floats, horizontal_mm: float) -> Floats:
    """Normalised radius r(θ) of the outline before scaling (shape and margin)."""
    r = np.ones_like(theta)
    if lesion.shape == "irregular":
        for k in range(2, 6):
            r += rng.uniform(0.05, 0.16) / math.sqrt(k - 1) * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    if lesion.margin_detail == "microlobulated":
        mean_radius = (horizontal_mm + lesion.depth_mm) / 4
        lobes = max(8, round(2 * math.pi * mean_radius / rng.uniform(1.6, 2.6)))
        r += min(0.12, 0.55 / mean_radius) * np.abs(np.sin(lobes * theta / 2))
    return np.maximum(r, 0.35)


def outline_mm(lesion: UsLesion, view: int, scale: float = 1.0) -> Floats:
    """Closed outline (N, 2) of ``[x, y]`` mm about the centre of its bounding box, in ``view`` 0
    (width horizontal) or 1 (elevation horizontal), cut at ``scale`` (1 = through the centre).

    The horizontal extent is ``scale`` x the view's horizontal diameter and the vertical extent
    ``scale`` x ``depth_mm``, exactly.
    """
    rng = np.random.default_rng(np.random.SeedSequence([lesion.outline_seed, view]))
    horizontal = lesion.width_mm if view == 0 else lesion.elevation_mm
    if lesion.margin_detail == "angular":
        n = int(rng.integers(6, 10))
        theta = np.linspace(0, 2 * math.pi, n, endpoint=False) + rng.uniform(-0.25, 0.25, n)
        r = rng.uniform(0.72, 1.0, n)
    else:
        theta = np.linspace(0, 2 * math.pi, _N_POINTS, endpoint=False)
        r = _radius(rng, lesion, theta, horizontal)
    x, y = r * np.cos(theta), r * np.sin(theta)
    tilt = math.radians(lesion.tilt_deg)
    x, y = x * math.cos(tilt) - y * math.sin(tilt), x * math.sin(tilt) + y * math.cos(tilt)
    x = (x - (x.max() + x.min()) / 2) / (x.max() - x.min()) * horizontal * scale
    y = (y - (y.max() + y.min()) / 2) / (y.max() - y.min()) * lesion.depth_mm * scale
    return np.stack([x, y], axis=1)


def spicules_mm(lesion: UsLesion, view: int, outline: Floats) -> list[tuple[Floats, Floats]]:
    """Spicules of a spiculated lesion: (start, end) mm segments radiating from the outline."""
    if lesion.margin_detail != "spiculated":
        return []
    rng = np.random.default_rng(np.random.SeedSequence([lesion.outline_seed, view, 5]))
    picks = rng.choice(len(outline), size=int(rng.integers(8, 15)), replace=False)
    out = []
    for i in picks:
        start = outline[i]
        direction = start / max(float(np.linalg.norm(start)), 1e-6)
        length = float(rng.uniform(1.5, 4.5))
        out.append((start, start + direction * length))
    return out


def with_id(lesion: UsLesion, lesion_id: str) -> UsLesion:
    """The same lesion under another id."""
    return replace(lesion, id=lesion_id)
