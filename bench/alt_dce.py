"""An independent synthetic bilateral breast DCE-MRI generator, to check ``breastgate.kinetics`` (issue 18).

Written without reference to ``breastgate.phantoms`` (its MRI anatomy, lesions, rendering, DCE
physics or headers): the physics comes from reference algorithms.md §3 and the literature, the
DICOM headers are written here with pydicom (MR Image Storage, PS3.3 A.4). It differs from the
development phantom where real sites differ:

* anatomy (patient coordinates LPS, mm; a random table offset): the thorax is an elliptic
  cylinder with skin, subcutaneous fat, pectoralis major (thicker laterally), ribs with fatty
  marrow, the sternum, lungs, the heart (myocardium round a blood pool) and sometimes the liver
  dome in the lowest slices. Each breast is a "hemi-ellipsoid" standing on the pectoralis with its
  own size, a profile exponent (conical to full), ptosis (the apex droops inferiorly) and lateral
  drift, ±8 % asymmetry; a nipple (enhancing) and a thickened areola. Fibroglandular tissue is a
  3-D Voronoi tessellation of lobules (4-12 mm cells) each fat or gland by a score favouring the
  central, subareolar breast, with a gland-fraction texture and Cooper's ligaments on the walls
  of fatty cells. A branching vessel tree: internal mammary arteries with perforators into the
  medial breast, lateral thoracic arteries with branches into the lateral breast, superficial
  veins under the skin; calibres 0.5-2 mm, tapering at each bifurcation.
* contrast kinetics: an AIF built from the Weinmann / Tofts-Kermode biexponential (§3.4) with a
  gamma-variate first pass and recirculation (not Parker); tissue uptake by the two-compartment
  exchange model (plasma flow Fp, permeability-surface PS, vp, ve; integrated exactly step by step,
  not Tofts); the signal by the SPGR equation with field-dependent T1 and relaxivity.
  Lesions (0-3 per study, 5-25 mm, oval, lobulated, irregular or spiculated) are homogeneous,
  heterogeneous or rim-enhancing (a necrotic core filling slowly); their parameters are drawn for a
  wanted curve type and kept when the noiseless curve has it. Foci (2-4.5 mm) are listed apart.
  Background parenchymal enhancement minimal / mild / moderate / marked in patches (low-frequency
  noise, more in the periphery), symmetric or not, rising progressively.
* imaging: 1.5 or 3 T, fat-suppressed or not (residual fat 5-20 %), 1 pre- and 3-6 post-contrast
  phases of 50-100 s each, or (3 in 10) 5-11 short ones of 25-45 s reaching ≥ 330 s; the first
  post-contrast centre 40-130 s after injection (15-40 s for the short phases); 0.78-1.0 mm
  pixels, 1.5-2 mm slices; a receive-coil bias field; small rigid motion per phase (translation
  and rotation); a Gaussian point-spread function; Rician, Gaussian or 4-coil non-central-chi
  noise with a parallel-imaging g-factor map, SNR 15-60.

Truth (``AltDceStudy.truth``): per lesion its centre (patient mm), three diameters (caliper
extents along the principal axes of the lesion, spicules excluded) and the moment-ellipsoid ones,
volume, voxel mask (run lengths of flat indices on the volume where the lesion fills ≥ half a
voxel), initial phase and curve type by §3.1 computed from its noiseless mean curve (the early
phase is the post-contrast phase whose centre lies nearest 105 s, among those within 60-180 s after
injection; the first post-contrast phase if none; the delayed phase is the last), and the worst
curve type held by ≥ 10 % of its voxels. Foci separately. ``what_is`` names the structure at a
point (vessel, heart, BPE, nipple, skin ...), to say what a false lesion is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from scipy import linalg, ndimage, spatial

__all__ = ["STRUCTURES", "AltDceStudy", "curve_class", "generate_alt_dce", "write_alt_dce"]

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
HCT = 0.42
DT_S = 0.5  # kinetic integration step

#: Structure labels of ``AltDceStudy.structures`` (what a finding lies on).
STRUCTURES = (
    "air",
    "fat",
    "gland",
    "BPE",
    "skin",
    "nipple",
    "muscle",
    "vessel",
    "heart",
    "lung",
    "bone",
    "liver",
    "lesion",
    "focus",
)
S = {name: i for i, name in enumerate(STRUCTURES)}
#: Which structure names a point when several lie within reach (most enhancing first).
PRIORITY = ("lesion", "focus", "vessel", "heart", "nipple", "liver", "skin", "BPE", "muscle", "gland")

# Tissue labels of the rendered volume (own table of M0, T1 and kinetics).
T_AIR, T_FAT, T_GLAND, T_SKIN, T_NIPPLE, T_MUSCLE, T_LUNG, T_MARROW, T_CORTEX, T_MYO, T_LIVER = range(11)
# (M0, T1 at 1.5 T s, T1 at 3 T s)
TISSUE = {
    T_AIR: (0.0, 1.0, 1.0),
    T_FAT: (0.95, 0.29, 0.37),
    T_GLAND: (0.80, 1.27, 1.45),
    T_SKIN: (0.70, 0.85, 1.05),
    T_NIPPLE: (0.75, 1.0, 1.2),
    T_MUSCLE: (0.72, 1.0, 1.4),
    T_LUNG: (0.06, 1.2, 1.3),
    T_MARROW: (0.85, 0.36, 0.45),
    T_CORTEX: (0.04, 1.0, 1.0),
    T_MYO: (0.78, 1.03, 1.47),
    T_LIVER: (0.72, 0.58, 0.81),
}
BLOOD_T1 = (1.44, 1.9)
# Two-compartment exchange parameters (Fp, PS in 1/min; vp, ve) of the normal tissues.
KINETIC = {
    T_GLAND: (0.04, 0.01, 0.01, 0.25),
    T_SKIN: (0.25, 0.08, 0.03, 0.30),
    T_NIPPLE: (0.5, 0.2, 0.05, 0.35),
    T_MUSCLE: (0.12, 0.05, 0.02, 0.12),
    T_MYO: (1.0, 0.6, 0.10, 0.20),
    T_LIVER: (1.2, 3.0, 0.12, 0.25),
}
BPE_LEVELS = {"minimal": 0.15, "mild": 0.4, "moderate": 0.8, "marked": 1.4}


# --------------------------------------------------------------------------- kinetics


def aif(t: npt.NDArray[np.float64], rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Plasma concentration (mM) at ``t`` s after injection: the Weinmann / Tofts-Kermode
    biexponential (D = 0.1 mmol/kg, a = 3.99, 4.78 kg/L, m = 0.144, 0.0111 /min; §3.4) starting at
    the bolus arrival (8-20 s), rising over the injection, plus a gamma-variate first pass
    (peak 3-6 mM) and a smaller, wider recirculation pass."""
    arrival = rng.uniform(8.0, 20.0)
    dose = rng.uniform(0.8, 1.2)
    tau = rng.uniform(2.5, 4.5)
    peak = rng.uniform(3.0, 6.0)
    s = np.maximum(t - arrival, 0.0)
    minutes = s / 60.0
    tail = 0.1 * (3.99 * np.exp(-0.144 * minutes) + 4.78 * np.exp(-0.0111 * minutes))
    tail *= 1.0 - np.exp(-s / rng.uniform(15.0, 30.0))

    def gamma(x: npt.NDArray[np.float64], alpha: float) -> npt.NDArray[np.float64]:
        x = np.maximum(x, 0.0)
        return (x / alpha) ** alpha * np.exp(alpha - x)  # peak 1 at x = alpha

    first = peak * gamma(s / tau, 3.0)
    second = 0.2 * peak * gamma(np.maximum(s - 3.0 * tau - 12.0, 0.0) / (2.0 * tau), 3.0)
    return dose * (tail + first + second) * (t > arrival)


def exchange(
    ca: npt.NDArray[np.float64], fp: float, ps: float, vp: float, ve: float
) -> npt.NDArray[np.float64]:
    """Tissue concentration of the two-compartment exchange model (Fp, PS in 1/min) driven by the
    plasma AIF ``ca`` sampled every DT_S s: vp Cp' = Fp (Ca − Cp) − PS (Cp − Ce),
    ve Ce' = PS (Cp − Ce), Ct = vp Cp + ve Ce; each step solved exactly for a held input."""
    fp_s, ps_s = fp / 60.0, max(ps, 1e-5) / 60.0
    a = np.array([[-(fp_s + ps_s) / vp, ps_s / vp], [ps_s / ve, -ps_s / ve]])
    b = np.array([fp_s / vp, 0.0])
    step = linalg.expm(a * DT_S)
    gain = np.linalg.solve(a, (step - np.eye(2)) @ b)
    x = np.zeros(2)
    out = np.empty_like(ca)
    held = np.concatenate([[0.0], 0.5 * (ca[1:] + ca[:-1])])
    for n, value in enumerate(held):
        x = step @ x + gain * value
        out[n] = vp * x[0] + ve * x[1]
    return out


def spgr(m0: Any, r1: Any, tr_s: float, flip_deg: float) -> Any:
    """Spoiled gradient-echo steady state, S = M0 sin α (1 − E1) / (1 − cos α E1), E1 = exp(−TR R1)."""
    e1 = np.exp(-tr_s * r1)
    alpha = math.radians(flip_deg)
    return m0 * math.sin(alpha) * (1.0 - e1) / (1.0 - math.cos(alpha) * e1)


def curve_class(
    curve_pct: list[float] | npt.NDArray[np.float64], early: int
) -> tuple[str, str, float, float]:
    """(initial phase, curve type, E early %, Δ %) of a percent-enhancement curve by §3.1: slow < 50 ≤
    medium ≤ 100 < fast at phase ``early``; Δ = 100 (S_last − S_early) / S_early, > +10 % type I,
    < −10 % type III, else II."""
    e_early = float(curve_pct[early])
    e_last = float(curve_pct[-1])
    change = 100.0 * (e_last - e_early) / (100.0 + e_early)
    initial = "slow" if e_early < 50.0 else "medium" if e_early <= 100.0 else "fast"
    kind = "I" if change > 10.0 else "III" if change < -10.0 else "II"
    return initial, kind, round(e_early, 1), round(change, 1)


WORST = {"I": 0, "II": 1, "III": 2}

# --------------------------------------------------------------------------- protocol


@dataclasses.dataclass(frozen=True)
class Protocol:
    rows: int
    cols: int
    slices: int
    pixel_mm: float
    slice_mm: float
    field_t: float
    tr_ms: float
    te_ms: float
    flip_deg: float
    r1: float
    fat_sat: bool
    fat_residual: float
    times_s: tuple[float, ...]  # k-space centre of each phase after injection (pre < 0)
    phase_s: float
    noise: str
    snr: float
    g_factor: float
    psf_px: float
    motion_mm: float
    bias: float
    stored_max: int


def draw_protocol(rng: np.random.Generator) -> Protocol:
    pixel = float(rng.uniform(0.78, 1.0))
    slice_mm = float(rng.choice([1.5, 1.6, 1.8, 2.0]))
    cols = int(math.ceil(300.0 / pixel / 16.0) * 16)
    rows = int(math.ceil(200.0 / pixel / 16.0) * 16)
    slices = int(min(96, max(64, math.ceil(rng.uniform(120.0, 150.0) / slice_mm))))
    fast = rng.random() < 0.3
    phase_s = float(rng.uniform(25.0, 45.0) if fast else rng.uniform(50.0, 100.0))
    n_post = int(rng.integers(3, 7)) if not fast else int(rng.integers(5, 7))
    centre = float(rng.uniform(0.2, 0.5))  # k-space centre within each phase
    first = float(rng.uniform(40.0, 130.0) if not fast else rng.uniform(15.0, 40.0))  # first post centre
    gap = float(rng.uniform(0.0, 15.0))
    pre = -float(rng.uniform(20.0, 60.0)) - phase_s * (1 - centre)
    if fast:  # many short phases: enough of them to reach a delayed phase (>= 330 s), at most 11
        n_post = min(11, max(n_post, math.ceil((330.0 - first) / (phase_s + gap)) + 1))
    posts = [first + k * (phase_s + gap) for k in range(n_post)]
    field = float(rng.choice([1.5, 3.0]))
    return Protocol(
        rows=rows,
        cols=cols,
        slices=slices,
        pixel_mm=round(pixel, 3),
        slice_mm=slice_mm,
        field_t=field,
        tr_ms=float(rng.uniform(3.8, 6.5)),
        te_ms=float(rng.uniform(1.3, 2.6)),
        flip_deg=float(rng.uniform(10.0, 18.0)),
        r1=float(rng.uniform(4.2, 5.2) if field == 1.5 else rng.uniform(3.6, 5.0)),
        fat_sat=bool(rng.random() < 0.65),
        fat_residual=float(rng.uniform(0.05, 0.2)),
        times_s=tuple(round(v, 1) for v in [pre, *posts]),
        phase_s=round(phase_s, 1),
        noise=str(rng.choice(["rician", "gaussian", "chi4"])),
        snr=float(rng.uniform(15.0, 60.0)),
        g_factor=float(rng.uniform(0.0, 0.5)),
        psf_px=float(rng.uniform(0.35, 0.7)),
        motion_mm=float(0.0 if rng.random() < 0.35 else rng.uniform(0.2, 1.2)),
        bias=float(rng.uniform(0.1, 0.35)),
        stored_max=int(rng.choice([4000, 12000, 30000])),
    )


def early_phase(times_s: tuple[float, ...]) -> int:
    """The truth's early phase (module docstring): the post-contrast phase nearest 105 s among
    those 60-180 s after injection, else the first post-contrast phase."""
    window = [i for i in range(1, len(times_s)) if 60.0 <= times_s[i] <= 180.0]
    if not window:
        return 1
    return min(window, key=lambda i: (abs(times_s[i] - 105.0), i))


# --------------------------------------------------------------------------- anatomy helpers


def value_noise(
    shape: tuple[int, ...], cell: tuple[float, ...], rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    """Smooth noise in [−1, 1]: random values on a coarse lattice (``cell`` voxels apart), linear zoom."""
    coarse = [max(2, math.ceil(n / c) + 2) for n, c in zip(shape, cell, strict=True)]
    lattice = rng.uniform(-1.0, 1.0, coarse).astype(np.float32)
    zoom = [n / (c - 1.5) for n, c in zip(shape, coarse, strict=True)]
    out = ndimage.zoom(lattice, zoom, order=1, mode="nearest")
    out = out[tuple(slice(0, n) for n in shape)]
    return np.clip(out / max(float(np.abs(out).max()), 1e-6), -1.0, 1.0).astype(np.float32)


def random_rotation(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


@dataclasses.dataclass
class Breast:
    side: int  # +1 patient left, −1 right
    cx: float
    cz: float
    a: float  # lateral semi-axis at the base
    c: float  # superior-inferior semi-axis at the base
    depth: float
    profile: float
    droop: float
    drift: float
    base_y: float  # pectoralis front at the breast centre

    def apex(self) -> tuple[float, float, float]:
        return (self.cx + self.drift, self.base_y - self.depth, self.cz + self.droop)


@dataclasses.dataclass
class Lesion:
    kind: str
    pattern: str
    params: dict[str, float]
    core_params: dict[str, float] | None
    box: tuple[slice, slice, slice]
    fraction: npt.NDArray[np.float32]
    rim: npt.NDArray[np.float32]  # 1 = enhancing tissue, 0 = core
    amp: npt.NDArray[np.float32]
    m0: float
    t1: float
    truth: dict[str, Any]
    signals: npt.NDArray[np.float64] | None = None  # (phases, voxels with fraction > 0), noiseless


@dataclasses.dataclass
class AltDceStudy:
    """One generated study: its Part 10 datasets (one series per phase), truth and structure map."""

    datasets: list[Dataset]
    truth: dict[str, Any]
    structures: npt.NDArray[np.uint8]
    origin: tuple[float, float, float]  # patient mm of voxel (0, 0, 0)
    spacing: tuple[float, float, float]  # (slice, row, column) mm

    def index_of(self, patient_mm: tuple[float, float, float] | list[float]) -> tuple[int, int, int]:
        x, y, z = patient_mm
        return (
            round((z - self.origin[2]) / self.spacing[0]),
            round((y - self.origin[1]) / self.spacing[1]),
            round((x - self.origin[0]) / self.spacing[2]),
        )

    def what_is(self, patient_mm: tuple[float, float, float] | list[float], radius_mm: float = 4.0) -> str:
        """The structure a point lies on: the most enhancing one (PRIORITY) holding ≥ 3 voxels
        within ``radius_mm``, else the commonest one there."""
        k, r, c = self.index_of(patient_mm)
        dz, dy, dx = self.spacing
        nk, nr, nc = (math.ceil(radius_mm / s) for s in (dz, dy, dx))
        box = (
            slice(max(k - nk, 0), k + nk + 1),
            slice(max(r - nr, 0), r + nr + 1),
            slice(max(c - nc, 0), c + nc + 1),
        )
        part = self.structures[box]
        if part.size == 0:
            return "outside"
        zz, yy, xx = np.meshgrid(
            (np.arange(box[0].start, box[0].start + part.shape[0]) - k) * dz,
            (np.arange(box[1].start, box[1].start + part.shape[1]) - r) * dy,
            (np.arange(box[2].start, box[2].start + part.shape[2]) - c) * dx,
            indexing="ij",
        )
        inside = part[zz**2 + yy**2 + xx**2 <= radius_mm**2]
        counts = np.bincount(inside, minlength=len(STRUCTURES))
        for name in PRIORITY:
            if counts[S[name]] >= 3:
                return name
        return STRUCTURES[int(np.argmax(counts))]


# --------------------------------------------------------------------------- the generator


#: Exchange-model parameter ranges (fp, ps, vp, ve) drawn for each wanted curve type.
EXCHANGE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "III": {"fp": (0.6, 2.0), "ps": (0.3, 1.0), "vp": (0.05, 0.15), "ve": (0.1, 0.3)},
    "II": {"fp": (0.3, 1.0), "ps": (0.15, 0.5), "vp": (0.02, 0.06), "ve": (0.25, 0.5)},
    "I": {"fp": (0.15, 0.6), "ps": (0.05, 0.2), "vp": (0.01, 0.03), "ve": (0.3, 0.5)},
}


class _Builder:
    def __init__(self, seed: int, protocol: Protocol | None, size: tuple[int, int, int] | None) -> None:
        self.seed = seed
        self.rng = np.random.default_rng([seed, 18])
        p = protocol or draw_protocol(self.rng)
        if size is not None:
            p = dataclasses.replace(p, slices=size[0], rows=size[1], cols=size[2])
        self.p = p
        self.shape = (p.slices, p.rows, p.cols)
        self.spacing = (p.slice_mm, p.pixel_mm, p.pixel_mm)
        self.offset = (
            float(self.rng.uniform(-15, 15)),
            float(self.rng.uniform(-60, 40)),
            float(self.rng.uniform(-120, 80)),
        )

    # body coordinates (mm) of each axis: x columns, y rows, z slices
    def axes(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        p = self.p
        x = ((np.arange(p.cols) - (p.cols - 1) / 2) * p.pixel_mm).astype(np.float32)
        y = (self.y_front + np.arange(p.rows) * p.pixel_mm).astype(np.float32)
        z = (self.z_low + np.arange(p.slices) * p.slice_mm).astype(np.float32)
        return x, y, z

    def anatomy(self) -> None:
        rng, p = self.rng, self.p
        small = min(1.0, p.cols * p.pixel_mm / 300.0, p.rows * p.pixel_mm / 200.0)  # small test grids
        self.small = small
        ax = float(rng.uniform(135, 160)) * small
        ay = float(rng.uniform(95, 120)) * small
        self.thorax = (ax, ay)
        depth_l = float(rng.uniform(35, 105)) * small
        self.breasts = []
        base_a = float(rng.uniform(50, 75)) * small
        base_c = float(rng.uniform(40, 60)) * small
        sep = float(rng.uniform(60, 85)) * small
        base_a = min(base_a, 0.97 * ax - sep * 1.08)
        profile = float(rng.uniform(1.6, 3.0))
        droop = float(rng.uniform(0.0, 0.35))
        for side in (1, -1):
            jitter = lambda: float(rng.uniform(0.92, 1.08))  # noqa: E731
            self.breasts.append(
                Breast(
                    side=side,
                    cx=side * sep * jitter(),
                    cz=float(rng.uniform(-8, 8)) * small,
                    a=base_a * jitter(),
                    c=base_c * jitter(),
                    depth=depth_l * jitter(),
                    profile=profile * jitter(),
                    droop=-droop * depth_l * jitter(),
                    drift=side * float(rng.uniform(-4, 10)) * small,
                    base_y=0.0,
                )
            )
        deepest = max(b.depth for b in self.breasts)
        self.y_front = -deepest - float(rng.uniform(10, 20)) * small - 12.0 * small
        self.z_low = -p.slices * p.slice_mm / 2 + float(rng.uniform(-10, 10)) * small

    def build(self) -> AltDceStudy:
        self.anatomy()
        self.render_anatomy()
        self.vessels()
        self.kinetics()
        self.place_lesions()
        volumes = self.acquire()
        datasets = self.headers(volumes)
        return AltDceStudy(datasets, self.truth(), self.structures, self.origin, self.spacing)

    # ----------------------------------------------------------------- tissues
    def render_anatomy(self) -> None:
        rng = self.rng
        x, y, z = self.axes()
        X = x[None, None, :]
        Y = y[None, :, None]
        Z = z[:, None, None]
        ax, ay = self.thorax
        shape = self.shape
        small = self.small
        # Thorax: elliptic cylinder, anterior surface at y = 0 on the midline (2-D, the same per slice).
        yc = ay
        x2, y2 = x[None, :], y[:, None]
        rho = np.sqrt((x2 / ax) ** 2 + ((y2 - yc) / ay) ** 2)
        grad = np.sqrt((x2 / ax**2) ** 2 + ((y2 - yc) / ay**2) ** 2) / np.maximum(rho, 1e-3)
        dt2 = ((1.0 - rho) / np.maximum(grad, 1e-6)).astype(np.float32)  # mm inside the ellipse
        subcut = float(rng.uniform(4, 10)) * small
        pect_half = float(rng.uniform(95, 125)) * small
        pect_t = float(rng.uniform(6, 12)) * small
        pect2 = (
            pect_t
            * (0.6 + 0.8 * np.clip(np.abs(x2) / pect_half, 0, 1))
            * (np.abs(x2) < pect_half)
            * (y2 < yc)
        )
        pect2 = np.broadcast_to(pect2, dt2.shape)
        rib_layer = subcut + pect2 + float(rng.uniform(8, 12)) * small
        front_surface_y = yc - ay * np.sqrt(np.clip(1 - (x / ax) ** 2, 0, 1))  # per column
        self.front_surface_y = front_surface_y
        self.pect_front_y = front_surface_y + subcut
        for b in self.breasts:
            col = int(np.argmin(np.abs(x - b.cx)))
            b.base_y = float(self.pect_front_y[col])
        labels = np.full(shape, T_AIR, np.uint8)
        in_thorax = dt2 > 0
        layer = np.full(dt2.shape, T_AIR, np.uint8)
        layer[in_thorax] = T_MUSCLE
        layer[in_thorax & (dt2 <= subcut)] = T_FAT
        ribs_band = (dt2 > subcut + pect2) & (dt2 <= rib_layer)  # intercostal muscle and ribs
        mediastinum = float(rng.uniform(35, 55)) * small
        layer[(dt2 > rib_layer) & (np.abs(x2) > mediastinum)] = T_LUNG
        labels[:] = layer[None]
        # Ribs: oblique bands in z (period 22-28 mm), fatty marrow in a thin cortex; the sternum.
        period = float(rng.uniform(22, 28)) * small
        phase0 = float(rng.uniform(0, period))
        slant = float(rng.uniform(0.15, 0.35))
        ribs_z = np.mod(Z - slant * np.abs(X) - phase0, period) / period  # (slices, 1, cols)
        rib_core = (ribs_z > 0.3) & (ribs_z < 0.62)
        rib_cortex = (ribs_z > 0.26) & (ribs_z < 0.66)
        band3 = np.broadcast_to(ribs_band[None], shape)
        lateral = np.abs(X) > 18 * small
        labels[band3 & rib_cortex & lateral] = T_CORTEX
        labels[band3 & rib_core & lateral] = T_MARROW
        sternum = (np.abs(x2) <= 16 * small) & (dt2 > subcut + 2) & (dt2 < subcut + 14 * small)
        labels[np.broadcast_to(sternum[None], shape)] = T_MARROW
        deep = np.broadcast_to((dt2 > rib_layer + 2)[None], shape)
        # Heart (lowest slices, left of midline) and the liver dome (right, lowest slices).
        self.heart_centre = (
            float(rng.uniform(10, 35)) * small,
            float(rng.uniform(subcut + 50, subcut + 75)) * small,
            float(z[0] + rng.uniform(0.0, 0.35) * (z[-1] - z[0])),
        )
        hx, hy, hz = self.heart_centre
        semi = (55 * small, 42 * small, 48 * small)
        q = ((X - hx) / semi[0]) ** 2 + ((Y - hy) / semi[1]) ** 2 + ((Z - hz) / semi[2]) ** 2
        heart = (q <= 1.0) & deep
        labels[heart] = T_MYO
        cavity = q <= float(rng.uniform(0.35, 0.55))
        self.blood = np.zeros(shape, np.float32)
        self.blood[heart & cavity] = 1.0
        structures = np.zeros(shape, np.uint8)
        if rng.random() < 0.5:
            lq = (
                ((X + 60 * small) / (90 * small)) ** 2
                + ((Y - hy) / (80 * small)) ** 2
                + ((Z - z[0] + 20 * small) / (50 * small)) ** 2
            )
            liver = (lq <= 1.0) & deep & ~heart
            labels[liver] = T_LIVER
        # Breasts: standing on the pectoralis front (or the chest's fat where no muscle).
        gland_zone = np.zeros(shape, bool)
        breast = np.zeros(shape, bool)
        self.breast_t = np.full(shape, -1.0, np.float32)
        self.breast_r = np.full(shape, 9.0, np.float32)
        for b in self.breasts:
            base = self.pect_front_y[None, None, :]
            t = (base - Y) / b.depth  # 0 at the muscle, 1 at the apex
            tt = np.clip(t, 0.0, 1.0)
            radius = np.sqrt(np.clip(1.0 - tt**b.profile, 0.0, 1.0))
            cx = b.cx + b.drift * tt**2
            cz = b.cz + b.droop * tt**2
            r = np.sqrt(((X - cx) / b.a) ** 2 + ((Z - cz) / b.c) ** 2) / np.maximum(radius, 1e-3)
            inside = (t >= 0) & (t <= 1) & (r <= 1.0)
            breast |= inside
            gland_zone |= inside & (t >= 0.04)
            self.breast_t = np.where(inside, t.astype(np.float32), self.breast_t)
            self.breast_r = np.where(inside, r.astype(np.float32), self.breast_r)
        labels[breast & (labels == T_AIR)] = T_FAT
        body = labels != T_AIR
        # Nipples: a short cylinder at each apex.
        self.nipples: dict[str, tuple[float, float, float]] = {}
        for b in self.breasts:
            nx, ny, nz = b.apex()
            rad = float(rng.uniform(4, 6)) * max(small, 0.5)
            length = float(rng.uniform(3, 7)) * max(small, 0.5)
            nip = ((X - nx) ** 2 + (Z - nz) ** 2 <= rad**2) & (ny - length <= Y) & (ny + 2 >= Y)
            labels[nip] = T_NIPPLE
            body |= nip
            self.nipples["L" if b.side > 0 else "R"] = (nx, ny - length, nz)
        # Skin from the distance to the outside.
        self.skin_dist = ndimage.distance_transform_edt(body, sampling=self.spacing).astype(np.float32)
        skin_mm = float(rng.uniform(1.2, 2.2))
        areola = np.zeros(shape, bool)
        for nx, ny, nz in self.nipples.values():
            areola |= (X - nx) ** 2 + (Y - ny) ** 2 + (Z - nz) ** 2 <= (16 * max(small, 0.5)) ** 2
        skin = body & ((self.skin_dist <= skin_mm) | (areola & (self.skin_dist <= 2 * skin_mm)))
        labels[skin & (labels != T_NIPPLE)] = T_SKIN
        # Fibroglandular tissue: Voronoi lobules inside the breast, away from the skin.
        inner = gland_zone & (self.skin_dist > skin_mm + float(rng.uniform(2, 6)))
        self.density = str(rng.choice(list("abcd")))
        target = {"a": (0.05, 0.12), "b": (0.15, 0.3), "c": (0.35, 0.55), "d": (0.6, 0.8)}[self.density]
        gfrac = np.zeros(shape, np.float32)
        idx = np.argwhere(inner)
        ligament = np.zeros(shape, bool)
        if idx.size:
            cell = float(rng.uniform(4, 12))
            pts = idx * np.array(self.spacing)
            lo, hi = pts.min(0), pts.max(0)
            n_seeds = int(np.prod(hi - lo + 1) / cell**3) + 8
            seeds = rng.uniform(lo, hi, size=(n_seeds, 3))
            tree = spatial.cKDTree(seeds)
            dist, which = tree.query(pts, k=2, workers=1)
            owner = which[:, 0]
            # Cell score: central (small r), mid-depth, plus noise; threshold for the wanted fraction.
            rr = self.breast_r[inner]
            tt = self.breast_t[inner]
            centrality = (1.0 - np.clip(rr, 0, 1)) + 0.6 * (1.0 - np.abs(tt - 0.35) * 1.6)
            score = np.bincount(owner, weights=centrality, minlength=n_seeds) / np.maximum(
                np.bincount(owner, minlength=n_seeds), 1
            )
            score = score + rng.normal(0, 0.25, n_seeds)
            counts = np.bincount(owner, minlength=n_seeds).astype(np.float64)
            wanted = float(rng.uniform(*target))
            order = np.argsort(-score)
            cum = np.cumsum(counts[order]) / max(counts.sum(), 1)
            chosen = np.zeros(n_seeds, bool)
            chosen[order[: int(np.searchsorted(cum, wanted)) + 1]] = True
            is_gland = chosen[owner]
            wall = (dist[:, 1] - dist[:, 0]) < 0.7
            texture = value_noise(shape, (3 / self.spacing[0], 3 / self.spacing[1], 3 / self.spacing[2]), rng)
            frac = np.clip(0.75 + 0.45 * texture[inner], 0.15, 1.0)
            del texture
            gfrac[inner] = np.where(is_gland, frac, 0.0)
            lig = np.zeros(idx.shape[0], bool)
            lig[(~is_gland) & wall] = True
            ligament[tuple(idx[lig].T)] = True
            self.gland_fraction_actual = float(is_gland.mean())
        else:
            self.gland_fraction_actual = 0.0
        gland = gfrac > 0
        labels[gland] = T_GLAND
        self.gfrac = np.where(gland, gfrac, 0.0).astype(np.float32)
        labels[ligament & (labels == T_FAT)] = T_GLAND
        self.gfrac[ligament] = np.maximum(self.gfrac[ligament], 0.5)
        self.ligament = ligament
        # BPE: patchy, more in the periphery; per-breast level for asymmetry.
        self.bpe_level = str(rng.choice(list(BPE_LEVELS)))
        self.bpe_symmetric = bool(rng.random() < 0.7)
        patches = value_noise(shape, (12 / self.spacing[0], 12 / self.spacing[1], 12 / self.spacing[2]), rng)
        periphery = np.clip(self.breast_r, 0, 1) ** 1.5
        amp = np.clip(patches * 1.2 + 0.3 + 0.5 * periphery, 0.0, None) * BPE_LEVELS[self.bpe_level]
        if not self.bpe_symmetric:
            other = float(rng.uniform(0.2, 0.6))
            weaker = 1 if rng.random() < 0.5 else -1
            amp = np.where((X * weaker) > 0, amp * other, amp)
        self.bpe = np.where(gland & ~ligament, amp, 0.0).astype(np.float32)
        self.labels = labels
        self.body = body
        structures[:] = S["air"]
        for tissue, name in (
            (T_FAT, "fat"),
            (T_GLAND, "gland"),
            (T_SKIN, "skin"),
            (T_NIPPLE, "nipple"),
            (T_MUSCLE, "muscle"),
            (T_LUNG, "lung"),
            (T_MARROW, "bone"),
            (T_CORTEX, "bone"),
            (T_MYO, "heart"),
            (T_LIVER, "liver"),
        ):
            structures[labels == tissue] = S[name]
        structures[self.bpe > 0.5 * BPE_LEVELS["moderate"]] = S["BPE"]
        structures[self.blood > 0.5] = S["heart"]
        self.structures = structures
        self.X, self.Y, self.Z = X, Y, Z
        self.breast = breast
        self.inner = inner

    # ----------------------------------------------------------------- vessels
    def _capsule(
        self, p0: npt.NDArray[np.float64], p1: npt.NDArray[np.float64], radius: float, vein: bool
    ) -> None:
        x, y, z = self.axes()
        lo = np.minimum(p0, p1) - radius - 2
        hi = np.maximum(p0, p1) + radius + 2
        cs = np.searchsorted(x, lo[0]), np.searchsorted(x, hi[0])
        rs = np.searchsorted(y, lo[1]), np.searchsorted(y, hi[1])
        ks = np.searchsorted(z, lo[2]), np.searchsorted(z, hi[2])
        if cs[0] >= cs[1] or rs[0] >= rs[1] or ks[0] >= ks[1]:
            return
        box = (slice(*ks), slice(*rs), slice(*cs))
        pz, py, px = np.meshgrid(z[box[0]], y[box[1]], x[box[2]], indexing="ij")
        d = p1 - p0
        length2 = float(d @ d) or 1e-6
        tpar = np.clip(((px - p0[0]) * d[0] + (py - p0[1]) * d[1] + (pz - p0[2]) * d[2]) / length2, 0, 1)
        dist = np.sqrt(
            (px - p0[0] - tpar * d[0]) ** 2
            + (py - p0[1] - tpar * d[1]) ** 2
            + (pz - p0[2] - tpar * d[2]) ** 2
        )
        h = self.p.pixel_mm
        frac = np.clip((radius - dist) / h + 0.5, 0.0, 1.0).astype(np.float32)
        frac *= self.body[box]
        target = self.veins if vein else self.arteries
        np.maximum(target[box], frac, out=target[box])

    def _tree(
        self,
        start: npt.NDArray[np.float64],
        direction: npt.NDArray[np.float64],
        radius: float,
        generation: int,
        vein: bool,
        budget: list[int],
    ) -> None:
        rng = self.rng
        length = float(rng.uniform(18, 45)) * self.small
        point = start.copy()
        d = direction / np.linalg.norm(direction)
        steps = max(2, int(length / 6))
        for _ in range(steps):
            d = d + rng.normal(0, 0.25, 3)
            d /= np.linalg.norm(d)
            nxt = point + d * (length / steps)
            self._capsule(point, nxt, radius, vein)
            point = nxt
            budget[0] -= 1
            if budget[0] <= 0:
                return
        if generation < 3 and radius > 0.55:
            for _ in range(2):
                turn = rng.normal(0, 0.6, 3)
                self._tree(
                    point, d + turn, radius * float(rng.uniform(0.65, 0.8)), generation + 1, vein, budget
                )

    def vessels(self) -> None:
        rng = self.rng
        self.arteries = np.zeros(self.shape, np.float32)
        self.veins = np.zeros(self.shape, np.float32)
        _, _, z = self.axes()
        small = self.small
        budget = [400]
        for b in self.breasts:
            s = b.side
            # Internal mammary artery: parasternal, 12-18 mm deep, along z; perforators forwards.
            ima_x = s * float(rng.uniform(18, 30)) * small
            col_y = (
                float(np.interp(ima_x, self.axes()[0], self.front_surface_y))
                + float(rng.uniform(14, 20)) * small
            )
            top = np.array([ima_x, col_y, z[-1] + 5])
            bottom = np.array([ima_x, col_y, z[0] - 5])
            self._capsule(top, bottom, float(rng.uniform(1.1, 1.7)), False)
            for _ in range(int(rng.integers(1, 4))):
                zz = float(rng.uniform(b.cz - b.c * 0.7, b.cz + b.c * 0.7))
                start = np.array([ima_x, col_y, zz])
                self._tree(
                    start,
                    np.array([s * 0.6, -1.0, rng.normal(0, 0.2)]),
                    float(rng.uniform(0.8, 1.3)),
                    1,
                    False,
                    budget,
                )
            # Lateral thoracic artery: along the lateral chest wall, branches antero-medially.
            lt_x = b.cx + s * b.a * float(rng.uniform(0.8, 1.1))
            lt_y = float(np.interp(lt_x, self.axes()[0], self.front_surface_y)) + 4 * small
            top = np.array([lt_x, lt_y, z[-1] + 5])
            bottom = np.array([lt_x, lt_y, b.cz - b.c * 0.5])
            self._capsule(top, bottom, float(rng.uniform(0.9, 1.4)), False)
            for _ in range(int(rng.integers(1, 4))):
                zz = float(rng.uniform(b.cz - b.c * 0.4, b.cz + b.c * 0.8))
                self._tree(
                    np.array([lt_x, lt_y, zz]),
                    np.array([-s * 0.7, -1.0, rng.normal(0, 0.3)]),
                    float(rng.uniform(0.7, 1.2)),
                    1,
                    False,
                    budget,
                )
            # Superficial veins: just under the skin.
            for _ in range(int(rng.integers(1, 3))):
                ang = rng.uniform(0, 2 * math.pi)
                zz = b.cz + 0.6 * b.c * math.sin(ang)
                xx = b.cx + 0.6 * b.a * math.cos(ang)
                yy = b.base_y - b.depth * float(rng.uniform(0.2, 0.6))
                self._tree(
                    np.array([xx, yy, zz]),
                    np.array([rng.normal(), 0.3 * rng.normal(), rng.normal()]),
                    float(rng.uniform(0.8, 1.5)),
                    2,
                    True,
                    budget,
                )
        vessel = (self.arteries > 0.3) | (self.veins > 0.3)
        self.structures[vessel] = S["vessel"]

    # ----------------------------------------------------------------- kinetics
    def kinetics(self) -> None:
        rng, p = self.rng, self.p
        self.t = np.arange(-240.0, max(p.times_s) + 30.0, DT_S)
        self.ca = aif(self.t, rng)
        field = 0 if p.field_t == 1.5 else 1
        self.field = field
        self.curves: dict[int, npt.NDArray[np.float64]] = {}
        for tissue, (fp, ps, vp, ve) in KINETIC.items():
            self.curves[tissue] = self._sample(exchange(self.ca, fp, ps, vp, ve))
        bpe_fp = float(rng.uniform(0.05, 0.12))
        self.bpe_curve = self._sample(exchange(self.ca, bpe_fp, float(rng.uniform(0.01, 0.03)), 0.01, 0.3))
        self.artery_curve = self._sample(self.ca * (1 - HCT))
        vein = np.interp(self.t - 10.0, self.t, self.ca)
        vein = ndimage.gaussian_filter1d(vein, 8.0 / DT_S)
        self.vein_curve = self._sample(vein * (1 - HCT))
        self.early = early_phase(p.times_s)

    def _sample(self, curve: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Concentration at each phase's k-space centre (mean over ±10 % of the phase)."""
        out = []
        for time in self.p.times_s:
            window = np.abs(self.t - time) <= 0.1 * self.p.phase_s
            out.append(float(curve[window].mean()) if window.any() else float(np.interp(time, self.t, curve)))
        return np.array(out)

    def _t1(self, tissue: int) -> float:
        return TISSUE[tissue][1 + self.field]

    def _pct_curve(self, conc: npt.NDArray[np.float64], m0: float, t1: float) -> npt.NDArray[np.float64]:
        tr = self.p.tr_ms / 1000.0
        sig = spgr(m0, 1.0 / t1 + self.p.r1 * conc, tr, self.p.flip_deg)
        return 100.0 * (sig - sig[0]) / sig[0]

    # ----------------------------------------------------------------- lesions
    def _draw_kinetics(self, wanted: str) -> tuple[dict[str, float], npt.NDArray[np.float64], str]:
        rng = self.rng
        t1 = float(rng.uniform(0.9, 1.2)) * (1.0 if self.field == 0 else 1.2)
        best: tuple[dict[str, float], npt.NDArray[np.float64], str] | None = None
        for _ in range(40):
            ranges = EXCHANGE_RANGES.get(wanted, EXCHANGE_RANGES["I"])
            prm = {name: rng.uniform(*span) for name, span in ranges.items()}  # drawn in this order
            conc = self._sample(exchange(self.ca, prm["fp"], prm["ps"], prm["vp"], prm["ve"]))
            pct = self._pct_curve(conc, 0.8, t1)
            kind = curve_class(pct, self.early)[1]
            prm = {k: round(float(v), 4) for k, v in prm.items()}
            prm["t1"] = round(t1, 3)
            best = (prm, conc, kind)
            if kind == wanted and pct[self.early] >= (35.0 if wanted == "I" else 60.0):
                break
        assert best is not None
        return best

    def _shape(
        self, kind: str, largest: float, pts: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """(whole, core) occupancy of points ``pts`` (n, 3) relative to the centre (mm)."""
        rng = self.rng
        rot = random_rotation(rng)
        local = pts @ rot
        half = largest / 2.0
        if kind == "oval":
            axes = np.array([half, half * rng.uniform(0.6, 1.0), half * rng.uniform(0.5, 0.9)])
            core = ((local / axes) ** 2).sum(1) <= 1.0
            return core, core
        if kind == "lobulated":
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            r0 = half * rng.uniform(0.4, 0.55)
            centres = [direction * (half - r0), -direction * (half - r0)]
            radii = [r0, half * rng.uniform(0.35, 0.5)]
            for _ in range(int(rng.integers(1, 4))):
                v = rng.normal(size=3)
                v /= np.linalg.norm(v)
                rr = half * rng.uniform(0.35, 0.5)
                centres.append(v * (half - rr) * rng.uniform(0.3, 0.9))
                radii.append(rr)
            centres[1] = -direction * (half - radii[1])
            core = np.zeros(len(pts), bool)
            for centre, rr in zip(centres, radii, strict=True):
                core |= ((local - centre) ** 2).sum(1) <= rr * rr
            return core, core
        # irregular / spiculated: a bumpy radius function
        radius = np.linalg.norm(local, axis=1)
        unit = local / np.maximum(radius, 1e-6)[:, None]
        base = half * 0.85
        bumps = np.zeros(len(pts))
        for _ in range(8):
            v = rng.normal(size=3)
            v /= np.linalg.norm(v)
            bumps += rng.uniform(-0.25, 0.3) * np.exp(6.0 * (unit @ v - 1.0))
        squash = np.array([1.0, rng.uniform(0.65, 1.0), rng.uniform(0.55, 0.9)])
        radius_sq = np.linalg.norm(local / squash, axis=1)
        core = radius_sq <= base * (1.0 + bumps)
        whole = core.copy()
        if kind == "spiculated":
            for _ in range(int(rng.integers(5, 11))):
                v = rng.normal(size=3)
                v /= np.linalg.norm(v)
                length = half * rng.uniform(1.3, 1.8)
                thick = rng.uniform(0.35, 0.7)
                along = local @ v
                off = np.linalg.norm(local - along[:, None] * v, axis=1)
                taper = thick * np.clip(1.0 - along / length, 0.0, 1.0)
                whole |= (along > 0) & (along <= length) & (off <= np.maximum(taper, 0.15))
        return whole, core

    def place_lesions(self) -> None:
        rng, p = self.rng, self.p
        self.lesions: list[Lesion] = []
        self.foci: list[dict[str, Any]] = []
        self.focus_objects: list[Lesion] = []
        n = int(rng.choice([0, 1, 1, 1, 2, 2, 2, 3, 3]))
        n_foci = int(rng.integers(0, 4))
        occupied = np.zeros(self.shape, bool)
        gland = self.labels == T_GLAND
        candidates_gland = np.argwhere(gland & self.inner)
        candidates_any = np.argwhere(self.inner)
        if candidates_any.size == 0:
            return
        for i in range(n + n_foci):
            focus = i >= n
            if focus:
                largest = float(rng.uniform(2.0, 4.5))
                kind, pattern = "oval", "homogeneous"
            else:
                largest = float(np.exp(rng.uniform(math.log(5.0), math.log(25.0))))
                kind = str(
                    rng.choice(["oval", "lobulated", "irregular", "spiculated"], p=[0.3, 0.25, 0.25, 0.2])
                )
                pattern = str(rng.choice(["homogeneous", "heterogeneous", "rim"], p=[0.45, 0.3, 0.25]))
                if largest < 9.0 and pattern == "rim":
                    pattern = "heterogeneous"
            wanted = str(rng.choice(["I", "II", "III"], p=[0.3, 0.3, 0.4]))
            pool = candidates_gland if (rng.random() < 0.75 and len(candidates_gland)) else candidates_any
            placed = None
            for _ in range(60):
                k, r, c = pool[int(rng.integers(len(pool)))]
                if self.skin_dist[k, r, c] < largest / 2 + 3.0 or occupied[k, r, c]:
                    continue
                placed = (int(k), int(r), int(c))
                break
            if placed is None:
                continue
            lesion = self._render_lesion(placed, largest, kind, pattern, wanted, focus)
            if lesion is None:
                continue
            occupied[lesion.box] |= ndimage.binary_dilation(lesion.fraction > 0, iterations=3)
            if "diameters_mm" not in lesion.truth:
                focus = True
            if focus:
                self.foci.append(lesion.truth)
                self.focus_objects.append(lesion)
            else:
                self.lesions.append(lesion)
            sl = self.structures[lesion.box]
            sl[lesion.fraction >= 0.5] = S["focus" if focus else "lesion"]
        del p

    def _render_lesion(
        self,
        centre_idx: tuple[int, int, int],
        largest: float,
        kind: str,
        pattern: str,
        wanted: str,
        focus: bool,
    ) -> Lesion | None:
        rng = self.rng
        x, y, z = self.axes()
        dz, dy, dx = self.spacing
        reach = largest / 2 + 2.0
        k, r, c = centre_idx
        nk, nr, nc = (math.ceil(reach / s) + 1 for s in (dz, dy, dx))
        box = (
            slice(max(k - nk, 0), min(k + nk + 1, self.shape[0])),
            slice(max(r - nr, 0), min(r + nr + 1, self.shape[1])),
            slice(max(c - nc, 0), min(c + nc + 1, self.shape[2])),
        )
        sub = (max(2, round(dz / 0.3)), max(2, round(dy / 0.3)), max(2, round(dx / 0.3)))
        centre = np.array([x[c], y[r], z[k]], np.float64) + rng.uniform(-0.5, 0.5, 3) * np.array([dx, dy, dz])
        fk = z[box[0]][:, None] + (np.arange(sub[0]) + 0.5) / sub[0] * dz - dz / 2
        fr = y[box[1]][:, None] + (np.arange(sub[1]) + 0.5) / sub[1] * dy - dy / 2
        fc = x[box[2]][:, None] + (np.arange(sub[2]) + 0.5) / sub[2] * dx - dx / 2
        fz, fy, fx = fk.ravel(), fr.ravel(), fc.ravel()
        pz, py, px = np.meshgrid(fz, fy, fx, indexing="ij")
        pts = np.stack([px.ravel() - centre[0], py.ravel() - centre[1], pz.ravel() - centre[2]], 1)
        whole, core = self._shape(kind, largest, pts)
        if whole.sum() < 4:
            return None
        fine_shape = (len(fz), len(fy), len(fx))
        whole_v = whole.reshape(fine_shape)
        out_shape = tuple(s.stop - s.start for s in box)
        fraction = whole_v.reshape(out_shape[0], sub[0], out_shape[1], sub[1], out_shape[2], sub[2]).mean(
            axis=(1, 3, 5)
        )
        inside_body = self.body[box]
        fraction = (fraction * inside_body).astype(np.float32)
        fine_vol = dz * dy * dx / (sub[0] * sub[1] * sub[2])
        core_pts = pts[core] + centre
        whole_pts = pts[whole] + centre
        mean = whole_pts.mean(0)
        cov = np.cov((core_pts - core_pts.mean(0)).T) if len(core_pts) > 3 else np.eye(3)
        _, vectors = np.linalg.eigh(cov)
        proj = (core_pts - core_pts.mean(0)) @ vectors
        step = (dx + dy + dz / 1.0) / 3.0 / 3.0
        extents = sorted((proj.max(0) - proj.min(0) + step).tolist(), reverse=True)
        wcov = np.cov((whole_pts - mean).T) if len(whole_pts) > 3 else np.eye(3)
        ell = sorted((2.0 * np.sqrt(5.0 * np.maximum(np.linalg.eigvalsh(wcov), 0))).tolist(), reverse=True)
        # Kinetics: the enhancing tissue, a necrotic core for rim lesions, a heterogeneity field.
        prm, conc, _ = self._draw_kinetics(wanted)
        core_prm = None
        rim = np.ones(out_shape, np.float32)
        if pattern == "rim":
            inside = ndimage.distance_transform_edt(fraction >= 0.5, sampling=self.spacing)
            depth = float(rng.uniform(0.25, 0.45)) * largest / 2
            rim = np.clip(1.0 - (inside - depth) / 1.5, 0.0, 1.0).astype(np.float32)
            core_prm = {"fp": 0.03, "ps": 0.01, "vp": 0.005, "ve": 0.5}
        amp = np.ones(out_shape, np.float32)
        if pattern in ("heterogeneous", "rim"):
            noise = value_noise(out_shape, (2.5 / dz, 2.5 / dy, 2.5 / dx), rng)
            amp = np.clip(1.0 + 0.35 * noise, 0.4, 1.6).astype(np.float32)
        t1 = prm["t1"]
        lesion = Lesion(kind, pattern, prm, core_prm, box, fraction, rim, amp, 0.8, t1, {})
        # Noiseless per-voxel signal curves of the lesion tissue, the mean curve and its type.
        curves = self._lesion_signals(lesion, conc)  # (phases, n voxels)
        lesion.signals = curves
        weights = fraction[fraction > 0]
        mean_sig = (curves * weights).sum(1) / weights.sum()
        mean_pct = 100.0 * (mean_sig - mean_sig[0]) / mean_sig[0]
        initial, kind_mean, early_pct, change = curve_class(mean_pct, self.early)
        first_post = curve_class(mean_pct, 1)
        if not focus and extents[0] < 5.0:  # drawn as a lesion but smaller than 5 mm: a focus
            focus = True
        voxel_pct = 100.0 * (curves - curves[:1]) / curves[:1]
        held = fraction[fraction > 0] >= 0.5
        types = [curve_class(voxel_pct[:, j], self.early)[1] for j in np.flatnonzero(held)] or [kind_mean]
        counts = {t: types.count(t) / len(types) for t in ("I", "II", "III")}
        worst = max((t for t in counts if counts[t] >= 0.10), key=lambda t: WORST[t], default=kind_mean)
        centre_patient = [round(float(v + o), 2) for v, o in zip(mean, self.offset, strict=True)]
        lat = "L" if mean[0] > 0 else "R"
        nx, ny, nz = self.nipples[lat]
        ddx, ddz = mean[0] - nx, mean[2] - nz
        angle = math.degrees(math.atan2(ddx, ddz)) % 360.0
        clock = round(angle / 30.0) % 12 or 12
        flat = np.ravel_multi_index(
            tuple(np.argwhere(fraction >= 0.5).T + np.array([s.start for s in box])[:, None]), self.shape
        )
        lesion.truth = {
            "laterality": lat,
            "patient_mm": centre_patient,
            "diameters_mm": [round(v, 2) for v in extents],
            "ellipsoid_diameters_mm": [round(v, 2) for v in ell],
            "volume_mm3": round(float(whole.sum() * fine_vol), 1),
            "shape": kind,
            "pattern": pattern,
            "curve_type": kind_mean,
            "worst_curve_type": worst,
            "type_shares": {t: round(v, 3) for t, v in counts.items()},
            "wanted_curve_type": wanted,
            "initial_phase": initial,
            "early_pct": early_pct,
            "change_pct": change,
            "mean_curve_pct": [round(float(v), 1) for v in mean_pct],
            "first_post_curve": list(first_post),
            "kinetics": prm,
            "in_gland": bool(self.labels[centre_idx] == T_GLAND),
            "bpe_at_centre": round(float(self.bpe[centre_idx]), 3),
            "skin_mm": round(float(self.skin_dist[centre_idx]), 1),
            "depth_fraction": round(float(self.breast_t[centre_idx]), 2),
            "clock": clock,
            "distance_from_nipple_mm": round(float(np.linalg.norm(mean - np.array([nx, ny, nz]))), 1),
            "mask_rle": _rle(np.sort(flat)),
        }
        if focus:
            lesion.truth = {
                "laterality": lat,
                "patient_mm": centre_patient,
                "diameter_mm": round(extents[0], 2),
                "curve_type": kind_mean,
                "initial_phase": initial,
                "early_pct": early_pct,
            }
        return lesion

    def _lesion_signals(self, lesion: Lesion, conc: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        sel = lesion.fraction > 0
        amp = lesion.amp[sel].astype(np.float64)
        rim = lesion.rim[sel].astype(np.float64)
        total = amp[None, :] * rim[None, :] * conc[:, None]
        if lesion.core_params is not None:
            cp = lesion.core_params
            core = self._sample(exchange(self.ca, cp["fp"], cp["ps"], cp["vp"], cp["ve"]))
            total = total + (1.0 - rim)[None, :] * core[:, None]
        tr = self.p.tr_ms / 1000.0
        r1 = 1.0 / lesion.t1 + self.p.r1 * total
        return np.asarray(spgr(lesion.m0, r1, tr, self.p.flip_deg))

    # ----------------------------------------------------------------- imaging
    def acquire(self) -> list[npt.NDArray[np.uint16]]:
        rng, p = self.rng, self.p
        tr = p.tr_ms / 1000.0
        labels = self.labels
        m0 = np.array([TISSUE[i][0] for i in range(11)], np.float32)
        if p.fat_sat:
            m0[T_FAT] *= p.fat_residual
            m0[T_MARROW] *= p.fat_residual
        t1 = np.array([self._t1(i) for i in range(11)], np.float32)
        m0_map = m0[labels]
        r10_map = (1.0 / t1)[labels]
        fat_signal = float(spgr(m0[T_FAT], 1.0 / t1[T_FAT], tr, p.flip_deg))
        blood_t1 = BLOOD_T1[self.field]
        gland = labels == T_GLAND
        g = self.gfrac
        bias = self._bias()
        n = len(p.times_s)
        clean: list[npt.NDArray[np.float32]] = []
        table = np.zeros((11, n), np.float32)
        for tissue, curve in self.curves.items():
            table[tissue] = curve
        for ph in range(n):
            conc = table[:, ph][labels]
            conc += self.bpe * np.float32(self.bpe_curve[ph])
            sig = spgr(m0_map, r10_map + np.float32(p.r1) * conc, tr, p.flip_deg).astype(np.float32)
            sig = np.where(gland, g * sig + (1.0 - g) * fat_signal, sig)
            art = float(spgr(0.9, 1.0 / blood_t1 + p.r1 * self.artery_curve[ph], tr, p.flip_deg))
            vein = float(spgr(0.9, 1.0 / blood_t1 + p.r1 * self.vein_curve[ph], tr, p.flip_deg))
            blood = np.maximum(self.blood, self.arteries)
            sig = (1.0 - blood) * sig + blood * art
            sig = (1.0 - self.veins) * sig + self.veins * vein
            for lesion in [*self.lesions, *self.focus_objects]:
                assert lesion.signals is not None
                part = sig[lesion.box]
                sel = lesion.fraction > 0
                f = lesion.fraction[sel]
                part[sel] = (1.0 - f) * part[sel] + f * lesion.signals[ph]
            sig *= bias
            if ph > 0 and p.motion_mm > 0:
                sig = self._move(sig)
            sig = ndimage.gaussian_filter(sig, (0.35, p.psf_px, p.psf_px))
            clean.append(sig.astype(np.float32))
        reference = (
            float(np.median(clean[0][gland])) if gland.any() else float(np.median(clean[0][self.body]))
        )
        if p.fat_sat is False:
            reference = max(reference, 0.5 * float(np.percentile(clean[0][self.body], 75)))
        sigma = reference / p.snr
        gmap = (
            1.0 + p.g_factor * np.exp(-((self.X / 90.0) ** 2) - ((self.Y - self.Y.mean()) / 80.0) ** 2)
        ).astype(np.float32)
        top = max(float(np.percentile(c, 99.95)) for c in clean)
        scale = p.stored_max / (top * 1.15)
        out = []
        for sig in clean:
            noise_sd = (sigma * gmap).astype(np.float32)
            if p.noise == "gaussian":
                noisy = sig + noise_sd * rng.standard_normal(self.shape, np.float32)
            elif p.noise == "rician":
                re = sig + noise_sd * rng.standard_normal(self.shape, np.float32)
                im = noise_sd * rng.standard_normal(self.shape, np.float32)
                noisy = np.sqrt(re * re + im * im)
            else:  # sum of squares of 4 coils, each with half the signal and σ / √2
                acc = np.zeros(self.shape, np.float32)
                sd = noise_sd / np.float32(math.sqrt(2.0))
                for _ in range(4):
                    re = 0.5 * sig + sd * rng.standard_normal(self.shape, np.float32)
                    im = sd * rng.standard_normal(self.shape, np.float32)
                    acc += re * re + im * im
                noisy = np.sqrt(acc)
            out.append(np.clip(np.rint(noisy * scale), 0, 65535).astype(np.uint16))
        return out

    def _bias(self) -> npt.NDArray[np.float32]:
        """Receive-coil sensitivity: a bump over each breast and a gradient, spanning 1 ± bias."""
        rng, p = self.rng, self.p
        x, y, z = self.axes()
        field = np.zeros(self.shape, np.float32)
        for b in self.breasts:
            gx = np.exp(-((x - b.cx - rng.normal(0, 15)) ** 2) / (2 * 70.0**2))
            gy = np.exp(-((y - b.base_y + b.depth * 0.6) ** 2) / (2 * 80.0**2))
            gz = np.exp(-((z - b.cz) ** 2) / (2 * 90.0**2))
            field += float(rng.uniform(0.6, 1.0)) * (
                gz[:, None, None] * gy[None, :, None] * gx[None, None, :]
            )
        field += float(rng.uniform(-0.3, 0.3)) * (x / 150.0)[None, None, :]
        lo, hi = float(field.min()), float(field.max())
        field = (field - lo) / max(hi - lo, 1e-6)
        return (1.0 - p.bias + 2.0 * p.bias * field).astype(np.float32)

    def _move(self, sig: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Rigid motion of one phase: translation ~N(0, motion) mm and a rotation ≤ 1° about z and x."""
        rng, p = self.rng, self.p
        shift_mm = rng.normal(0, p.motion_mm, 3)
        ang_z = math.radians(rng.uniform(-1, 1)) * min(p.motion_mm, 1.0)
        ang_x = math.radians(rng.uniform(-0.5, 0.5)) * min(p.motion_mm, 1.0)
        rz = np.array(
            [[1, 0, 0], [0, math.cos(ang_z), -math.sin(ang_z)], [0, math.sin(ang_z), math.cos(ang_z)]]
        )
        rx = np.array(
            [[math.cos(ang_x), -math.sin(ang_x), 0], [math.sin(ang_x), math.cos(ang_x), 0], [0, 0, 1]]
        )
        spacing = np.array(self.spacing)
        rot_mm = rz @ rx  # in (slice, row, column) mm axes
        matrix = rot_mm / spacing[:, None] * spacing[None, :]
        centre = (np.array(self.shape) - 1) / 2.0
        offset = centre - matrix @ centre + shift_mm[::-1] / spacing
        moved: npt.NDArray[np.float32] = ndimage.affine_transform(
            sig, matrix, offset=offset, order=1, mode="nearest"
        )
        return moved

    # ----------------------------------------------------------------- DICOM
    @property
    def origin(self) -> tuple[float, float, float]:
        x, y, z = self.axes()
        return (float(x[0]) + self.offset[0], float(y[0]) + self.offset[1], float(z[0]) + self.offset[2])

    def headers(self, volumes: list[npt.NDArray[np.uint16]]) -> list[Dataset]:
        rng, p = self.rng, self.p
        study_uid = generate_uid(entropy_srcs=[f"altdce-{self.seed}-study"])
        frame_uid = generate_uid(entropy_srcs=[f"altdce-{self.seed}-for"])
        date = dt.date(2026, 1, 5) + dt.timedelta(days=int(self.seed % 300))
        start = dt.datetime.combine(date, dt.time(8, 0)) + dt.timedelta(minutes=int(rng.integers(0, 540)))
        injection = start + dt.timedelta(seconds=300)
        vendor = str(rng.choice(["SIEMENS", "GE MEDICAL SYSTEMS", "Philips Medical Systems"]))
        with_tpi = rng.random() < 0.8
        rng.random()  # (was: Trigger Time; Type 2C in the MR Image module, for cardiac-gated images only)
        descending = rng.random() < 0.5
        with_bolus_time = rng.random() < 0.5
        ox, oy, oz = self.origin
        out: list[Dataset] = []
        n = len(volumes)
        for ph, volume in enumerate(volumes):
            series_uid = generate_uid(entropy_srcs=[f"altdce-{self.seed}-series-{ph}"])
            centre = injection + dt.timedelta(seconds=p.times_s[ph])
            acq = centre - dt.timedelta(seconds=p.phase_s * 0.35)
            for k in range(p.slices):
                ds = Dataset()
                ds.SpecificCharacterSet = "ISO_IR 100"
                ds.ImageType = (
                    ["ORIGINAL", "PRIMARY", "M", "ND"]
                    if vendor == "SIEMENS"
                    else ["ORIGINAL", "PRIMARY", "OTHER"]
                )
                ds.SOPClassUID = MR_IMAGE_STORAGE
                ds.SOPInstanceUID = generate_uid(entropy_srcs=[f"altdce-{self.seed}-{ph}-{k}"])
                ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = date.strftime("%Y%m%d")
                ds.StudyTime = start.strftime("%H%M%S")
                ds.SeriesTime = acq.strftime("%H%M%S.%f")
                ds.AcquisitionTime = ds.ContentTime = acq.strftime("%H%M%S.%f")
                ds.AccessionNumber = f"ALT{self.seed:06d}"
                ds.Modality = "MR"
                ds.Manufacturer = vendor
                ds.InstitutionName = "Alt DCE generator"
                ds.ReferringPhysicianName = ""
                ds.StudyDescription = "MR BREAST BILATERAL W WO CONTRAST"
                ds.SeriesDescription = (
                    f"{'Ax' if vendor != 'SIEMENS' else 't1_fl3d_tra'}_dyn{'_fs' if p.fat_sat else ''}"
                    f"_{'pre' if ph == 0 else f'post{ph}'}"
                )
                ds.PatientName = f"ALTDCE^{self.seed}"
                ds.PatientID = f"ALTDCE{self.seed:06d}"
                ds.PatientBirthDate = ""
                ds.PatientSex = "F"
                ds.BodyPartExamined = "BREAST"
                ds.ScanningSequence = "GR"
                ds.SequenceVariant = ["SP", "SS"]
                ds.ScanOptions = ["FS"] if p.fat_sat else ""
                ds.MRAcquisitionType = "3D"
                ds.SliceThickness = f"{p.slice_mm:.2f}"
                ds.SpacingBetweenSlices = f"{p.slice_mm:.2f}"
                ds.RepetitionTime = f"{p.tr_ms:.2f}"
                ds.EchoTime = f"{p.te_ms:.2f}"
                ds.EchoTrainLength = 1
                ds.FlipAngle = f"{p.flip_deg:.1f}"
                ds.MagneticFieldStrength = f"{p.field_t:.1f}"
                ds.ImagingFrequency = f"{42.577 * p.field_t:.4f}"
                ds.AngioFlag = "N"
                ds.PatientPosition = "FFP" if self.seed % 2 else "HFP"
                ds.StudyInstanceUID = study_uid
                ds.SeriesInstanceUID = series_uid
                ds.StudyID = f"{self.seed % 100000}"
                ds.SeriesNumber = 10 + ph
                ds.AcquisitionNumber = ph + 1
                ds.InstanceNumber = (p.slices - k) if descending else (k + 1)
                ds.ImagePositionPatient = [f"{ox:.3f}", f"{oy:.3f}", f"{oz + k * p.slice_mm:.3f}"]
                ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
                ds.FrameOfReferenceUID = frame_uid
                ds.PositionReferenceIndicator = ""
                ds.SliceLocation = f"{oz + k * p.slice_mm:.3f}"
                if with_tpi:
                    ds.TemporalPositionIdentifier = ph + 1
                    ds.NumberOfTemporalPositions = n
                if ph > 0:  # Contrast/Bolus module (PS3.3 C.7.6.4); the start time only at some sites
                    ds.ContrastBolusAgent = "gadobutrol"
                    if with_bolus_time:
                        ds.ContrastBolusStartTime = injection.strftime("%H%M%S")
                ds.ImageLaterality = "B"
                ds.SamplesPerPixel = 1
                ds.PhotometricInterpretation = "MONOCHROME2"
                ds.Rows = p.rows
                ds.Columns = p.cols
                ds.PixelSpacing = [f"{p.pixel_mm:.4f}", f"{p.pixel_mm:.4f}"]
                ds.BitsAllocated = 16
                ds.BitsStored = 12 if p.stored_max <= 4095 else 16
                ds.HighBit = ds.BitsStored - 1
                ds.PixelRepresentation = 0
                plane = volume[k]
                ds.WindowCenter = str(int(np.percentile(plane, 99) / 2) + 1)
                ds.WindowWidth = str(int(np.percentile(plane, 99)) + 2)
                ds.PixelData = np.ascontiguousarray(plane).tobytes()
                meta = FileMetaDataset()
                meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
                meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                meta.TransferSyntaxUID = ExplicitVRLittleEndian
                ds.file_meta = meta
                out.append(ds)
        return out

    def truth(self) -> dict[str, Any]:
        p = self.p
        lesions = []
        for i, lesion in enumerate(self.lesions, start=1):
            lesions.append({"id": f"alt-{i}", **lesion.truth})
        return {
            "generator": "bench.alt_dce",
            "seed": self.seed,
            "protocol": dataclasses.asdict(p),
            "early_phase": self.early,
            "offset_mm": [round(v, 2) for v in self.offset],
            "density": self.density,
            "gland_fraction": round(self.gland_fraction_actual, 3),
            "bpe": self.bpe_level,
            "bpe_symmetric": self.bpe_symmetric,
            "nipples": {
                k: [round(v + o, 2) for v, o in zip(n, self.offset, strict=True)]
                for k, n in self.nipples.items()
            },
            "heart_mm": [round(v + o, 2) for v, o in zip(self.heart_centre, self.offset, strict=True)],
            "lesions": lesions,
            "foci": self.foci,
        }


def _rle(flat: npt.NDArray[np.int64]) -> list[list[int]]:
    """Runs [start, length] of sorted flat indices."""
    if flat.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(flat) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [flat.size]])
    return [[int(flat[s]), int(e - s)] for s, e in zip(starts, ends, strict=True)]


def generate_alt_dce(
    seed: int, *, size: tuple[int, int, int] | None = None, protocol: Protocol | None = None
) -> AltDceStudy:
    """One study from ``seed`` (deterministic); ``size`` = (slices, rows, columns) overrides the
    protocol's grid (small test volumes: the anatomy shrinks to fit)."""
    return _Builder(seed, protocol, size).build()


def write_alt_dce(study: AltDceStudy, folder: Path | str) -> Path:
    """Write the study as Part 10 files and ``truth.json`` under ``folder``; returns the folder."""
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for j, ds in enumerate(study.datasets):
        ds.save_as(folder / f"{j:05d}.dcm", enforce_file_format=True)
    (folder / "truth.json").write_text(json.dumps(study.truth, indent=1))
    return folder


def read_mask(truth_lesion: dict[str, Any], shape: tuple[int, int, int]) -> npt.NDArray[np.bool_]:
    """A lesion's voxel mask (fills ≥ half a voxel) from its run lengths."""
    out = np.zeros(int(np.prod(shape)), bool)
    for start, length in truth_lesion["mask_rle"]:
        out[start : start + length] = True
    return out.reshape(shape)


if __name__ == "__main__":  # quick look: python bench/alt_dce.py SEED FOLDER
    import sys

    study = generate_alt_dce(int(sys.argv[1]))
    write_alt_dce(study, sys.argv[2])
    print(pydicom.dcmread(Path(sys.argv[2]) / "00000.dcm", stop_before_pixels=True).SeriesDescription)
