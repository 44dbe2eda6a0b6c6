"""The same woman one year earlier: a prior FFDM study for a phantom study, with change truth.

The prior shares the current study's anatomy (its :class:`~breastgate.phantoms.plan.StudyPlan`,
hence outline, texture and dense tissue) and differs in how it was taken and in its lesions:

- compression and positioning: per view, an affine map of the canonical image (chest wall left)
  about the middle of the breast's chest-wall edge — scale along and across the nipple axis
  (compression, 0.95-1.05), rotation (±3°) and a shift (a few mm); the nipple, the pectoral line
  and the skin line move with it;
- exposure: kVp ±2, a gain, offset and gamma on the detector values, fresh quantum noise;
- lesions: each current lesion is absent (``new``), the same (``stable``), smaller (``increased``
  now: a mass of 0.45-0.7 × the size and at least 4 mm smaller; a cluster with only the
  calcifications within that fraction of its radius) or, for masses, larger (``decreased`` now:
  1.4-1.7 × and at least 4 mm larger).

Truth: the current study's ``truth.json`` gains a ``prior`` block (prior Study Instance UID and
date, per lesion the change and the sizes, per view the current → prior map in image coordinates
and landmark positions on both); the prior's own truth lists its lesions where they are on it.
Same Patient ID; a new Study Instance UID and accession number; Study Date 365 days earlier.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.sequence import Sequence as DicomSequence
from scipy import ndimage

from breastgate.phantoms.anatomy import ViewSpec, outline_point, render_view, view_context
from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.headers import phantom_uid
from breastgate.phantoms.lesions import LesionRequest, LesionSpec, plan_lesions
from breastgate.phantoms.mg import (
    MG_FOR_PROCESSING,
    ImageIds,
    PhantomStudy,
    density_truth,
    generate_mg_study,
    lesion_truth,
    mg_image_dataset,
)
from breastgate.phantoms.plan import VIEWS, StudyPlan, plan_study
from breastgate.phantoms.profiles import CATEGORIES, VENDOR_PROFILES

__all__ = ["CHANGES", "Acquisition", "PhantomPair", "generate_mg_pair", "write_mg_prior_phantoms"]

LOGGER = logging.getLogger(__name__)

#: Change of a lesion from the prior to now (the comparison's categories).
CHANGES = ("new", "stable", "increased", "decreased")
PRIOR_DAYS = 365
_FILE_NAMES = {("R", "CC"): "R_CC", ("L", "CC"): "L_CC", ("R", "MLO"): "R_MLO", ("L", "MLO"): "L_MLO"}

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Acquisition:
    """How one prior view was taken: current → prior map in canonical mm (chest wall left) about
    ``anchor_mm``: ``x' = R(rotation)·diag(scale_x, scale_y)·(x − anchor) + anchor + shift``;
    exposure: ``v' = offset + gain·max·(v/max)^gamma`` inside the breast."""

    scale_x: float
    scale_y: float
    rotation_deg: float
    shift_mm: tuple[float, float]
    anchor_mm: tuple[float, float]
    gain: float
    offset: float
    gamma: float
    kvp_delta: float

    def linear(self) -> Matrix:
        a = math.radians(self.rotation_deg)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        return rot @ np.diag([self.scale_x, self.scale_y])

    def map_mm(self, x: float, y: float) -> tuple[float, float]:
        """Canonical mm on the current view → canonical mm on the prior view."""
        anchor = np.asarray(self.anchor_mm)
        out = self.linear() @ (np.array([x, y]) - anchor) + anchor + np.asarray(self.shift_mm)
        return float(out[0]), float(out[1])


@dataclass(frozen=True)
class PhantomPair:
    """A current study and its prior (both :class:`PhantomStudy`)."""

    current: PhantomStudy
    prior: PhantomStudy


def _draw_acquisition(rng: np.random.Generator, spec: ViewSpec) -> Acquisition:
    return Acquisition(
        scale_x=float(rng.uniform(0.95, 1.05)),
        scale_y=float(rng.uniform(0.95, 1.05)),
        rotation_deg=float(rng.uniform(-3.0, 3.0)),
        shift_mm=(float(rng.uniform(-3.0, 2.0)), float(rng.uniform(-5.0, 5.0))),
        anchor_mm=(0.0, spec.shape.centre_mm),
        gain=float(rng.uniform(0.9, 1.1)),
        offset=float(rng.uniform(-0.03, 0.03)),
        gamma=float(rng.uniform(0.9, 1.1)),
        kvp_delta=float(rng.choice([-2.0, -1.0, 1.0, 2.0])),
    )


def _prior_lesion(lesion: LesionSpec, change: str, rng: np.random.Generator) -> LesionSpec | None:
    """The lesion as it was a year ago (None: not there yet)."""
    if change == "new":
        return None
    if change == "stable":
        return lesion
    if lesion.kind == "mass":
        if change == "increased":
            size = min(lesion.size_mm * float(rng.uniform(0.45, 0.7)), lesion.size_mm - 4.0)
        else:
            size = max(lesion.size_mm * float(rng.uniform(1.4, 1.7)), lesion.size_mm + 4.0)
        return replace(lesion, size_mm=round(max(size, 2.0), 2))
    if change != "increased":
        raise PhantomError(f"a calcification cluster cannot be {change!r} (only new, stable, increased)")
    radius = max(math.hypot(c.du, c.dv) for c in lesion.calcs)
    keep_r = radius * float(rng.uniform(0.45, 0.6))
    ordered = sorted(lesion.calcs, key=lambda c: math.hypot(c.du, c.dv))
    kept = [c for c in ordered if math.hypot(c.du, c.dv) <= keep_r]
    kept = kept if len(kept) >= 3 else ordered[:3]
    size = 2 * max(math.hypot(c.du, c.dv) for c in kept) + 0.5
    return replace(lesion, calcs=tuple(kept), size_mm=round(size, 2))


def _image_map(acq: Acquisition, laterality: str, px: float, cols: int) -> tuple[Matrix, Matrix]:
    """(M, t): current image coordinates (col, row) → prior image coordinates, final orientation."""
    flip = np.diag([-1.0, 1.0]) if laterality == "R" else np.eye(2)
    shift = np.array([cols, 0.0]) if laterality == "R" else np.zeros(2)
    anchor = np.asarray(acq.anchor_mm) / px
    lin = acq.linear()
    # canonical c = F·(u − s); prior canonical c' = L(c − a) + a + t; prior u' = F·c' + s
    m = flip @ lin @ flip
    t = flip @ (-lin @ (flip @ shift) - lin @ anchor + anchor + np.asarray(acq.shift_mm) / px) + shift
    return m, t


def map_point(m: Matrix, t: Matrix, point: Sequence[float]) -> list[float]:
    out = m @ np.asarray(point[:2], dtype=np.float64) + t
    return [round(float(out[0]), 2), round(float(out[1]), 2)]


def _warp(pixels: npt.NDArray[np.uint16], m: Matrix, t: Matrix) -> npt.NDArray[np.float32]:
    """The prior image: at each prior pixel, the current-anatomy image at the inverse map."""
    inv = np.linalg.inv(m)
    # u_in = inv·(u_out − t); index = u − 0.5; in (row, col) order.
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    mat = swap @ inv @ swap
    offset = mat @ np.array([0.5, 0.5]) - swap @ (inv @ t) - 0.5
    out: npt.NDArray[np.float32] = ndimage.affine_transform(
        pixels.astype(np.float32), mat, offset=offset, order=1, mode="nearest", prefilter=False
    ).astype(np.float32)
    return out


def _expose(
    warped: npt.NDArray[np.float32], acq: Acquisition, plan: StudyPlan, rng: np.random.Generator
) -> npt.NDArray[np.uint16]:
    p = plan.profile
    maxv = float(p.max_value)
    inside = warped > 0.02 * maxv
    v = np.clip(warped / maxv, 0.0, 1.0)
    level = acq.offset + acq.gain * np.power(v, acq.gamma)
    nmax = 255 >> p.noise_shift
    noise = rng.integers(0, nmax + 1, size=warped.shape).astype(np.float32) - nmax / 2.0
    out = np.where(inside, level * maxv + 0.5 * noise, 0.0)
    return np.clip(out, 0.0, maxv).astype(np.uint16)


def _landmarks(spec: ViewSpec, plan: StudyPlan) -> dict[str, Any]:
    """Nipple, pectoral line ends (MLO) and skin-line points in current image coordinates."""
    p = plan.profile
    px, cols = p.pixel_spacing_mm, p.columns
    tip = view_context(spec, p).tip_mm

    def img(x: float, y: float) -> list[float]:
        u = x / px
        return [round(cols - u if spec.laterality == "R" else u, 2), round(y / px, 2)]

    skin = [img(*outline_point(spec.shape, th)) for th in np.linspace(-1.0, 1.0, 9)]
    out: dict[str, Any] = {"nipple": img(*tip), "skin_line": skin}
    if spec.pectoral is not None:
        width, height, _ = spec.pectoral
        out["pectoral_line"] = [img(width, 0.0), img(0.0, height)]
    return out


def _map_landmarks(marks: dict[str, Any], m: Matrix, t: Matrix) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in marks.items():
        out[key] = map_point(m, t, value) if key == "nipple" else [map_point(m, t, v) for v in value]
    return out


class _Marks:
    """Lesion truth of one prior view (what :func:`lesion_truth` reads)."""

    def __init__(self, truth: list[dict[str, object]]) -> None:
        self.lesion_truth = tuple(truth)


def _mapped_truth(truth: tuple[dict[str, object], ...], m: Matrix, t: Matrix) -> list[dict[str, object]]:
    out = []
    for entry in truth:
        box = entry["bbox"]
        assert isinstance(box, list)
        c0, r0, c1, r1 = (float(v) for v in box)
        corners = np.array([map_point(m, t, (c, r)) for c in (c0, c1) for r in (r0, r1)])
        mapped: dict[str, object] = {
            "id": entry["id"],
            "centre": map_point(m, t, entry["centre"]),  # type: ignore[arg-type]
            "bbox": [round(float(v), 2) for v in (*corners.min(axis=0), *corners.max(axis=0))],
        }
        if "calcifications" in entry:
            mapped["calcifications"] = [map_point(m, t, c) for c in entry["calcifications"]]  # type: ignore[attr-defined]
        out.append(mapped)
    return out


def _prior_dataset(
    plan: StudyPlan,
    spec: ViewSpec,
    pixels: npt.NDArray[np.uint16],
    ids: ImageIds,
    patient_id: str,
    acq: Acquisition,
    raw_uid: str,
) -> pydicom.Dataset:
    ds = mg_image_dataset(plan, spec, pixels, ids, patient_id)
    year = dt.timedelta(days=PRIOR_DAYS)
    for date_kw in ("StudyDate", "ContentDate", "AcquisitionDate", "InstanceCreationDate"):
        when = dt.datetime.strptime(str(getattr(ds, date_kw)), "%Y%m%d") - year
        setattr(ds, date_kw, when.strftime("%Y%m%d"))
    ds.AccessionNumber = f"PHP{plan.seed:07d}"[-16:]
    ds.PatientAge = f"{plan.age - 1:03d}Y"
    ds.KVP = f"{plan.profile.kvp + acq.kvp_delta:g}"
    ds.BodyPartThickness = f"{plan.thickness_mm[spec.laterality] / math.sqrt(acq.scale_x * acq.scale_y):.0f}"
    source = pydicom.Dataset()
    source.ReferencedSOPClassUID = MG_FOR_PROCESSING
    source.ReferencedSOPInstanceUID = raw_uid
    source.SpatialLocationsPreserved = "YES"
    ds.SourceImageSequence = DicomSequence([source])
    ds.DerivationDescription = "Synthetic phantom prior rendered by breastgate.phantoms"
    return ds


def _changes(
    lesions: Sequence[LesionRequest], changes: Sequence[str] | None, rng: np.random.Generator
) -> list[str]:
    if changes is not None:
        if len(changes) != len(lesions) or set(changes) - set(CHANGES):
            raise PhantomError(f"changes must be one of {list(CHANGES)} per lesion, got {list(changes)}")
        return list(changes)
    out = []
    for req in lesions:
        options = CHANGES if req.kind == "mass" else CHANGES[:3]
        out.append(str(rng.choice(options)))
    return out


def generate_mg_pair(
    seed: int,
    *,
    category: str | None = None,
    vendor: str | None = None,
    lesions: Sequence[LesionRequest] = (),
    changes: Sequence[str] | None = None,
    realism: str = "legacy",
) -> PhantomPair:
    """A current 4-view study (:func:`generate_mg_study`, same arguments) and the same woman's
    study a year earlier (see the module docstring). ``changes`` gives each lesion's change from
    the prior to now (:data:`CHANGES`; clusters never ``decreased``); drawn from ``seed`` when None.
    """
    current = generate_mg_study(
        seed, category=category, vendor=vendor, lesions=list(lesions), realism=realism
    )
    plan = plan_study(seed, category, vendor, realism=realism)
    pid = f"PH{seed:08d}"
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB2104]))
    wanted = _changes(lesions, changes, rng)
    placed: list[LesionSpec] = []
    if lesions:
        contexts = {(s.laterality, s.view): view_context(s, plan.profile) for s in plan.views}
        placed = plan_lesions(seed, list(lesions), contexts, False)
    index_of = {f"lesion-{i + 1}": i for i in range(len(lesions))}
    prior_lesions: list[LesionSpec] = []
    comparison = []
    for lesion in placed:
        change = wanted[index_of[lesion.id]]
        before = _prior_lesion(lesion, change, rng)
        if before is not None:
            prior_lesions.append(before)
        comparison.append(
            {
                "id": lesion.id,
                "kind": lesion.kind,
                "laterality": lesion.laterality,
                "change": change,
                "size_mm": lesion.size_mm,
                "prior_size_mm": None if before is None else before.size_mm,
                "size_change_mm": None if before is None else round(lesion.size_mm - before.size_mm, 2),
            }
        )
    key = (seed, plan.category, plan.profile.name, pid, "prior")
    names = ["study", "series", "forL", "forR"] + [f"{k}{i}" for k in ("sop", "raw") for i in range(4)]
    uids = {name: phantom_uid(*key, name) for name in names}
    current_sops = {
        (str(d.ImageLaterality), str(d.ViewPosition)): str(d.SOPInstanceUID) for d in current.datasets
    }
    datasets, items, marks_items, views = [], [], [], []
    for spec in plan.views:
        index = VIEWS.index((spec.laterality, spec.view))
        acq = _draw_acquisition(rng, spec)
        rendered = render_view(
            spec, plan.profile, [p for p in prior_lesions if p.laterality == spec.laterality]
        )
        m, t = _image_map(acq, spec.laterality, plan.profile.pixel_spacing_mm, plan.profile.columns)
        pixels = _expose(_warp(rendered.pixels, m, t), acq, plan, rng)
        ids = ImageIds(
            uids["study"], uids["series"], uids[f"sop{index}"], uids[f"for{spec.laterality}"], index
        )
        datasets.append(_prior_dataset(plan, spec, pixels, ids, pid, acq, uids[f"raw{index}"]))
        items.append((spec, rendered, ids.sop))
        marks_items.append((spec, _Marks(_mapped_truth(rendered.lesion_truth, m, t)), ids.sop))
        here = _landmarks(spec, plan)
        views.append(
            {
                "laterality": spec.laterality,
                "view": spec.view,
                "sop_instance_uid": current_sops[(spec.laterality, spec.view)],
                "prior_sop_instance_uid": ids.sop,
                "to_prior": {"matrix": m.round(6).tolist(), "offset": t.round(3).tolist()},
                "acquisition": {
                    "scale": [round(acq.scale_x, 4), round(acq.scale_y, 4)],
                    "rotation_deg": round(acq.rotation_deg, 3),
                    "shift_mm": [round(v, 3) for v in acq.shift_mm],
                    "gain": round(acq.gain, 4),
                    "gamma": round(acq.gamma, 4),
                    "kvp_delta": acq.kvp_delta,
                },
                "landmarks": {"current": here, "prior": _map_landmarks(here, m, t)},
            }
        )
    prior_date = str(datasets[0].StudyDate)
    truth = density_truth(plan, uids["study"], items)
    truth.update(lesion_truth(prior_lesions, marks_items))
    truth["current_study_instance_uid"] = current.study_instance_uid
    current.truth["prior"] = {
        "study_instance_uid": uids["study"],
        "study_date": prior_date,
        "patient_id": pid,
        "lesions": comparison,
        "views": views,
    }
    return PhantomPair(current, PhantomStudy(uids["study"], datasets, truth))


def _save(study: PhantomStudy, out_dir: Path) -> Path:
    folder = out_dir / study.study_instance_uid
    folder.mkdir(parents=True, exist_ok=True)
    for ds in study.datasets:
        name = _FILE_NAMES[(str(ds.ImageLaterality), str(ds.ViewPosition))]
        ds.save_as(folder / f"{name}.dcm", enforce_file_format=True)
    (folder / "truth.json").write_text(json.dumps(study.truth, indent=2) + "\n", encoding="utf-8")
    return folder


def default_requests(seed: int) -> list[LesionRequest]:
    """One or two lesions for ``phantom --prior``: a mass of 10-25 mm, sometimes a cluster."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB2105]))
    out = [
        LesionRequest("mass", size_mm=float(rng.uniform(10.0, 25.0)), contrast=float(rng.uniform(0.6, 0.9)))
    ]
    if rng.uniform() < 0.5:
        out.append(LesionRequest("calcification_cluster", shape="fine_pleomorphic"))
    return out


def write_mg_prior_phantoms(out_dir: Path, count: int, seed: int) -> list[Path]:
    """Write ``count`` current studies and their priors: ``out_dir/<StudyInstanceUID>/`` each, with
    ``truth.json`` (the current's has the ``prior`` block). Study ``i`` uses ``seed + i``."""
    if count < 0:
        raise PhantomError(f"count must be >= 0, got {count}")
    vendors = sorted(VENDOR_PROFILES)
    folders = []
    for i in range(count):
        s = seed + i
        pair = generate_mg_pair(
            s,
            category=CATEGORIES[i % len(CATEGORIES)],
            vendor=vendors[i % len(vendors)],
            lesions=default_requests(s),
        )
        folders.append(_save(pair.current, Path(out_dir)))
        folders.append(_save(pair.prior, Path(out_dir)))
    LOGGER.info("wrote %d phantom studies with priors to %s", count, out_dir)
    return folders
