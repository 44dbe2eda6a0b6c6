"""Synthetic bilateral breast DCE-MRI studies with ground truth (issue 18).

One pre-contrast and 3-8 post-contrast phases of a prone axial 3-D spoiled gradient echo
(:mod:`breastgate.phantoms.dce_physics`: Parker AIF, extended Tofts, SPGR) over an analytic
anatomy (:mod:`breastgate.phantoms.mri_anatomy`) with 0-3 lesions of known curve type
(:mod:`breastgate.phantoms.mri_lesions`), vessels, heart and background parenchymal enhancement,
inter-phase motion, a bias field and Rician noise (:mod:`breastgate.phantoms.mri_render`).

Three DICOM forms hold the same voxels: ``series-per-phase`` (classic MR Image, one series per
phase: DYN_PRE, DYN_POST1...), ``multiphase`` (one classic series holding every phase) and
``enhanced`` (one Enhanced MR Image multi-frame instance, :mod:`breastgate.phantoms.mri_enhanced`).
The truth is built by :mod:`breastgate.phantoms.mri_truth`.

A *prior* (``prior_of=current_seed``) is the same woman (anatomy, lesions, patient ID) a year
earlier: another positioning offset, Frame of Reference and Study UID, each lesion absent,
smaller or the same.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pydicom

from breastgate.phantoms.dce_physics import Sequence as MrSequence
from breastgate.phantoms.dce_physics import ToftsTable, tofts_table
from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.headers import phantom_uid
from breastgate.phantoms.mri_anatomy import DceAnatomy, plan_anatomy
from breastgate.phantoms.mri_headers import (
    DceHeaderContext,
    classic_slice,
    classic_template,
    series_description,
)
from breastgate.phantoms.mri_lesions import DceLesion, DceLesionRequest, place_lesions
from breastgate.phantoms.mri_render import DceGeometry, Imaging, lesion_labels, render_slabs

__all__ = [
    "DEFAULT_SIZE",
    "FORMS",
    "DceLesionRequest",
    "DceStudy",
    "generate_dce_study",
    "lesion_mask",
    "plan_dce_study",
    "write_dce_phantoms",
]

LOGGER = logging.getLogger(__name__)
FORMS = ("series-per-phase", "multiphase", "enhanced")
DEFAULT_SIZE = (128, 128, 32)
IN_MEMORY_BYTES = 64 * 2**20
_VENDORS = (
    ("SIEMENS", "MAGNETOM Phantom"),
    ("GE MEDICAL SYSTEMS", "SIGNA Phantom"),
    ("Philips", "Ingenia Phantom"),
)


@dataclass
class DceStudy:
    """A synthetic DCE-MRI study: Part 10 datasets and its ground truth."""

    study_instance_uid: str
    datasets: list[pydicom.Dataset]
    truth: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> DceStudy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the temporary file holding a large enhanced instance's Pixel Data."""
        for ds in self.datasets:
            if "PixelData" in ds and ds["PixelData"].is_buffered:
                ds["PixelData"].value.close()


@dataclass(frozen=True)
class DcePlan:
    """Every choice of one study, before any voxel is rendered."""

    seed: int
    form: str
    anatomy: DceAnatomy
    lesions: list[DceLesion]
    geometry: DceGeometry
    imaging: Imaging
    ctx: DceHeaderContext
    uids: dict[str, str]
    prior: dict[str, Any] | None  # for a prior: its link to the current study's lesions
    #: Enhancing foci (< 5 mm, BI-RADS "focus"): not lesions, false-positive sources (and stable).
    foci: list[DceLesion] = field(default_factory=list)

    @property
    def table(self) -> ToftsTable:
        return self.imaging.table

    @property
    def sequence(self) -> MrSequence:
        return self.imaging.sequence


@dataclass(frozen=True)
class _Acquisition:
    sequence: MrSequence
    times: tuple[float, ...]
    resolution_s: float
    bolus_delay_s: float
    offset_mm: tuple[float, float, float]
    vendor: tuple[str, str]


def _acquisition(seed: int, phases: int, offset_from: tuple[float, float, float] | None) -> _Acquisition:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xACC]))
    seq = MrSequence(
        tr_ms=round(float(rng.uniform(4.5, 5.0)), 2),
        te_ms=round(float(rng.uniform(1.5, 2.4)), 2),
        flip_deg=float(rng.choice([10.0, 12.0, 15.0])),
        field_t=float(rng.choice([1.5, 3.0])),
    )
    res = round(float(rng.uniform(60, 90)), 1)
    start = float(rng.uniform(0, 25))
    times = (
        round(-res / 2 - float(rng.uniform(20, 60)), 1),
        *tuple(round(start + k * res, 1) for k in range(1, phases)),
    )
    offset = tuple(float(v) for v in rng.uniform(-3, 3, 3))
    if offset_from is not None:  # another visit: a few mm elsewhere in the magnet
        step = rng.normal(0, 1, 3)
        step = step / np.linalg.norm(step) * rng.uniform(2.0, 6.0)
        offset = tuple(float(a + b) for a, b in zip(offset_from, step, strict=True))
    return _Acquisition(
        seq,
        times,
        res,
        round(float(rng.uniform(5, 20)), 1),
        (round(offset[0], 2), round(offset[1], 2), round(offset[2], 2)),
        _VENDORS[int(rng.integers(len(_VENDORS)))],
    )


def _geometry(
    seed: int, anatomy: DceAnatomy, size: tuple[int, int, int], offset: tuple[float, ...]
) -> DceGeometry:
    """FOV fitting both breasts: square pixels from the width, slices covering the breasts."""
    rows, cols, slices = size
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6E0]))
    width = max(abs(b.x_mm) + b.a_mm + abs(b.tip_dx_mm) for b in anatomy.breasts)
    fov_x = max(2 * width + 20.0, float(rng.uniform(320, 380)))
    pixel = round(fov_x / cols, 4)
    front = min(b.nipple_mm[1] for b in anatomy.breasts) - float(rng.uniform(8, 25))
    top = max(b.z_mm + abs(b.tip_dz_mm) + b.b_mm for b in anatomy.breasts)
    bottom = min(b.z_mm - abs(b.tip_dz_mm) - b.b_mm for b in anatomy.breasts)
    slice_mm = round(max(1.0, (top - bottom + 10.0) / slices), 3)
    centre_z = (top + bottom) / 2
    origin = (
        round(-pixel * (cols - 1) / 2 + offset[0] + float(rng.uniform(-5, 5)), 3),
        round(front + offset[1], 3),
        round(centre_z - slice_mm * (slices - 1) / 2 + offset[2], 3),
    )
    return DceGeometry(rows, cols, slices, pixel, slice_mm, origin)


def _imaging(seed: int, acq: _Acquisition, phases: int) -> Imaging:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1A6]))
    magnitude = 0.0 if rng.random() < 0.2 else float(rng.uniform(0.2, 1.5))
    motion = [(0.0, 0.0, 0.0)] + [
        tuple(float(v) for v in np.clip(rng.normal(0, magnitude / 1.5, 3), -magnitude, magnitude))
        for _ in range(phases - 1)
    ]
    bias = (
        (0.0, 0.0, 0.0)
        if rng.random() < 0.3
        else (float(rng.uniform(0.05, 0.25)), float(rng.uniform(0.3, 1)), float(rng.uniform(-0.5, 0.5)))
    )
    return Imaging(
        seed=seed,
        sequence=acq.sequence,
        table=tofts_table(np.array(acq.times), acq.bolus_delay_s),
        offset_mm=acq.offset_mm,
        motion_vox=tuple(motion),  # type: ignore[arg-type]
        snr=float(np.exp(rng.uniform(math.log(12), math.log(60)))),
        gain=float(rng.uniform(0.5, 1.0)),
        bias=bias,
        blood_vp=float(rng.uniform(0.45, 0.58)),
        blur_vox=float(rng.uniform(0.3, 0.8)),
    )


def _requests(seed: int, lesions: int | Sequence[DceLesionRequest] | None) -> list[DceLesionRequest]:
    if lesions is None:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1E5]))
        lesions = int(rng.choice(4, p=[0.2, 0.4, 0.25, 0.15]))
    if isinstance(lesions, int):
        if not 0 <= lesions <= 5:
            raise PhantomError(f"a DCE phantom holds 0-5 lesions, got {lesions}")
        return [DceLesionRequest()] * lesions
    return list(lesions)


def _study_date(seed: int) -> dt.datetime:
    return dt.datetime(2024, 1, 8, 8, 0) + dt.timedelta(days=seed % 700, minutes=5 * (seed % 90))


def _prior_lesions(seed: int, lesions: list[DceLesion]) -> tuple[list[DceLesion], list[dict[str, Any]]]:
    """Each current lesion absent, smaller or the same a year earlier; the links between ids."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x9A1]))
    kept: list[DceLesion] = []
    links: list[dict[str, Any]] = []
    for lesion in lesions:
        change = str(rng.choice(["new", "increased", "stable"], p=[0.3, 0.35, 0.35]))
        if change == "new":
            links.append({"current_id": lesion.id, "prior_id": None, "change": change})
            continue
        factor = float(rng.uniform(0.5, 0.8)) if change == "increased" else 1.0
        prior_id = f"P{len(kept) + 1}"
        kept.append(DceLesion(**{**lesion.scaled(factor).__dict__, "id": prior_id}))
        links.append(
            {"current_id": lesion.id, "prior_id": prior_id, "change": change, "scale": round(factor, 3)}
        )
    return kept, links


def _foci(
    woman: int, anatomy: DceAnatomy, table: ToftsTable, seq: MrSequence, lesions: list[DceLesion]
) -> list[DceLesion]:
    """0-6 enhancing foci (< 5 mm) of any curve type, away from the lesions; one without room is
    left out."""
    rng = np.random.default_rng(np.random.SeedSequence([woman, 0xF0C]))
    foci: list[DceLesion] = []
    for _ in range(int(rng.integers(0, 7))):
        request = DceLesionRequest(diameter_mm=float(rng.uniform(4.0, 4.9)), heterogeneous=False)
        try:
            (focus,) = place_lesions(rng, [request], anatomy.breasts, table, seq, avoid=[*lesions, *foci])
        except PhantomError:
            continue
        foci.append(DceLesion(**{**focus.__dict__, "id": f"F{len(foci) + 1}"}))
    return foci


def plan_dce_study(
    seed: int,
    *,
    size: tuple[int, int, int] = DEFAULT_SIZE,
    phases: int = 6,
    form: str = "series-per-phase",
    lesions: int | Sequence[DceLesionRequest] | None = None,
    patient_id: str | None = None,
    study_date: dt.date | None = None,
    prior_of: int | None = None,
) -> DcePlan:
    """All choices of a study (see :func:`generate_dce_study`), no voxels yet."""
    if form not in FORMS:
        raise PhantomError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    if not 4 <= phases <= 9:
        raise PhantomError(f"phases must be 4-9 (1 pre + 3-8 post), got {phases}")
    rows, cols, slices = (int(v) for v in size)
    if not (16 <= rows <= 1024 and 16 <= cols <= 1024 and 4 <= slices <= 512):
        raise PhantomError(f"size (rows, cols, slices) must be within 16-1024 × 16-1024 × 4-512, got {size}")
    woman = seed if prior_of is None else prior_of
    current = _acquisition(woman, phases, None)
    acq = current if prior_of is None else _acquisition(seed, phases, current.offset_mm)
    anatomy = plan_anatomy(woman, texture_step_mm=340.0 / cols)
    table_now = tofts_table(np.array(current.times), current.bolus_delay_s)
    lesion_rng = np.random.default_rng(np.random.SeedSequence([woman, 0x1E6]))
    placed = place_lesions(
        lesion_rng, _requests(woman, lesions), anatomy.breasts, table_now, current.sequence
    )
    foci = _foci(woman, anatomy, table_now, current.sequence, placed)
    prior = None
    if prior_of is not None:
        placed, links = _prior_lesions(seed, placed)
        prior = {"current_seed": prior_of, "lesion_links": links}
    geometry = _geometry(seed, anatomy, (rows, cols, slices), acq.offset_mm)
    imaging = _imaging(seed, acq, phases)
    key = ("mri", seed, woman, prior_of is not None, form, patient_id)
    uids = {name: phantom_uid(*key, name) for name in ("study", "for", "series", "enhanced", "dimension")}
    start = _study_date(woman)
    if prior_of is not None:
        start = start - dt.timedelta(days=365) + dt.timedelta(minutes=int(seed % 50))
    if study_date is not None:
        start = dt.datetime.combine(study_date, start.time())
    age = 40 + woman % 35 - (1 if prior_of is not None else 0)
    ctx = DceHeaderContext(
        seed=seed,
        patient_id=patient_id or f"MR{woman:08d}",
        patient_name=f"PHANTOM^MR{woman:04d}",
        birth_date=f"{_study_date(woman).year - 40 - woman % 35}0101",
        age=age,
        study_uid=uids["study"],
        frame_of_reference_uid=uids["for"],
        study_start=start,
        injection=start + dt.timedelta(minutes=6),
        accession=f"MR{seed:07d}{'P' if prior_of is not None else ''}"[-16:],
        geometry=geometry,
        sequence=acq.sequence,
        times_s=acq.times,
        temporal_resolution_s=acq.resolution_s,
        manufacturer=acq.vendor[0],
        model=acq.vendor[1],
    )
    return DcePlan(seed, form, anatomy, placed, geometry, imaging, ctx, uids, prior, foci)


def lesion_mask(plan: DcePlan) -> np.ndarray:
    """Lesion labels of a planned study at the pre-contrast phase (truth ``lesions[i]`` is label
    i + 1), on the study's voxel grid (slices, rows, cols); later phases move by ``motion_mm``."""
    return lesion_labels(plan.lesions, plan.geometry, plan.imaging)


def _classic_series(plan: DcePlan, phase: int) -> tuple[str, int, str, int]:
    """(Series Instance UID, Series Number, Series Description, series' first phase)."""
    if plan.form == "series-per-phase":
        uid = phantom_uid(plan.uids["series"], phase)
        return uid, 10 + phase, series_description(phase), phase
    return plan.uids["series"], 10, "DYN_T1_FL3D_MULTIPHASE", 0


def iter_classic(plan: DcePlan) -> Iterator[pydicom.Dataset]:
    """Render and yield the classic MR Image datasets slab by slab (phase-major within a slab)."""
    geo = plan.geometry
    templates = [
        classic_template(plan.ctx, p, *_classic_series(plan, p)) for p in range(len(plan.ctx.times_s))
    ]
    for k0, block in render_slabs(plan.anatomy, [*plan.lesions, *plan.foci], geo, plan.imaging):
        for phase in range(block.shape[0]):
            for j in range(block.shape[1]):
                k = k0 + j
                instance = k + 1 if plan.form == "series-per-phase" else phase * geo.slices + k + 1
                sop = phantom_uid(plan.uids["series"], "sop", phase, k)
                pixels = block[phase, j].astype("<u2", copy=False).tobytes()
                yield classic_slice(templates[phase], geo, k, sop, instance, pixels)


def _enhanced_pixels(plan: DcePlan) -> bytes | BinaryIO:
    """Frames in (phase, slice) order as little-endian uint16, in memory or a temporary file."""
    geo = plan.geometry
    n_phases = len(plan.ctx.times_s)
    frame_bytes = geo.rows * geo.cols * 2
    total = frame_bytes * geo.slices * n_phases
    if total <= IN_MEMORY_BYTES:
        buffer = bytearray(total)
        for k0, block in render_slabs(plan.anatomy, [*plan.lesions, *plan.foci], geo, plan.imaging):
            for phase in range(n_phases):
                at = (phase * geo.slices + k0) * frame_bytes
                chunk = block[phase].astype("<u2", copy=False).tobytes()
                buffer[at : at + len(chunk)] = chunk
        return bytes(buffer)
    # The temporary file outlives this function: it becomes the dataset's Pixel Data value.
    sink = tempfile.TemporaryFile()  # noqa: SIM115
    sink.truncate(total)
    for k0, block in render_slabs(plan.anatomy, [*plan.lesions, *plan.foci], geo, plan.imaging):
        for phase in range(n_phases):
            sink.seek((phase * geo.slices + k0) * frame_bytes)
            sink.write(block[phase].astype("<u2", copy=False).tobytes())
    sink.seek(0)
    return sink


def _datasets(plan: DcePlan) -> list[pydicom.Dataset]:
    if plan.form == "enhanced":
        from breastgate.phantoms.mri_enhanced import enhanced_dataset

        return [enhanced_dataset(plan.ctx, plan.uids, _enhanced_pixels(plan))]
    items = list(iter_classic(plan))
    items.sort(key=lambda ds: (int(ds.TemporalPositionIdentifier), int(ds.InstanceNumber)))
    return items


def generate_dce_study(
    seed: int,
    *,
    size: tuple[int, int, int] = DEFAULT_SIZE,
    phases: int = 6,
    form: str = "series-per-phase",
    lesions: int | Sequence[DceLesionRequest] | None = None,
    patient_id: str | None = None,
    study_date: dt.date | None = None,
    prior_of: int | None = None,
) -> DceStudy:
    """Generate a deterministic DCE-MRI study with ground truth.

    Parameters
    ----------
    seed
        Determines every voxel, UID and header value (with the form and ``prior_of``).
    size
        (rows, columns, slices). Pixels are square, sized so the FOV (320-380 mm) holds both
        breasts; slices cover the breasts, at least 1 mm apart (so small sizes have thick slices).
    phases
        1 pre-contrast + 3-8 post-contrast phases.
    form
        "series-per-phase", "multiphase" or "enhanced" (:data:`FORMS`).
    lesions
        ``None``: 0-3 drawn from the seed; an int: that many random lesions; or requests.
    patient_id, study_date
        Override the seed's Patient ID and Study Date.
    prior_of
        Make this study the prior (a year earlier) of the study of seed ``prior_of`` (pass the same
        ``lesions`` as for that study): same woman, another positioning, lesions absent, smaller
        or the same; ``truth["prior"]["lesion_links"]`` maps the ids.
    """
    from breastgate.phantoms.mri_truth import dce_truth

    plan = plan_dce_study(
        seed,
        size=size,
        phases=phases,
        form=form,
        lesions=lesions,
        patient_id=patient_id,
        study_date=study_date,
        prior_of=prior_of,
    )
    datasets = _datasets(plan)
    LOGGER.debug("dce phantom seed=%d form=%s size=%s", seed, form, size)
    return DceStudy(plan.uids["study"], datasets, dce_truth(plan))


def _file_name(ds: pydicom.Dataset, form: str) -> str:
    if form == "enhanced":
        return "DCE_ENHANCED.dcm"
    return f"{ds.SeriesDescription}_{int(ds.InstanceNumber):05d}.dcm"


def _write_plan(plan: DcePlan, out_dir: Path) -> Path:
    from breastgate.phantoms.mri_truth import dce_truth

    folder = Path(out_dir) / plan.uids["study"]
    folder.mkdir(parents=True, exist_ok=True)
    if plan.form == "enhanced":
        study = DceStudy(plan.uids["study"], _datasets(plan))
        with study:
            study.datasets[0].save_as(
                folder / _file_name(study.datasets[0], plan.form), enforce_file_format=True
            )
    else:
        for ds in iter_classic(plan):  # written as rendered: memory stays at one slab
            ds.save_as(folder / _file_name(ds, plan.form), enforce_file_format=True)
    truth = dce_truth(plan)
    (folder / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return folder


def write_dce_phantoms(
    out: Path,
    count: int,
    seed: int,
    *,
    form: str = "series-per-phase",
    size: tuple[int, int, int] = DEFAULT_SIZE,
    phases: int = 6,
    prior: bool = False,
) -> list[Path]:
    """Write ``count`` studies (seeds ``seed``..``seed+count-1``) as ``out/<StudyInstanceUID>/*.dcm``
    + truth.json. With ``prior``, each study's prior (a year earlier) is written beside it, and the
    two truth files name each other (``prior`` / ``prior_of``)."""
    if count < 0:
        raise PhantomError(f"count must be >= 0, got {count}")
    folders = []
    for i in range(count):
        plan = plan_dce_study(seed + i, size=size, phases=phases, form=form)
        folder = _write_plan(plan, out)
        folders.append(folder)
        if prior:
            prior_plan = plan_dce_study(
                seed + i + 7919, size=size, phases=phases, form=form, prior_of=seed + i
            )
            prior_folder = _write_plan(prior_plan, out)
            _link(folder, prior_folder, prior_plan)
            folders.append(prior_folder)
    LOGGER.info("wrote %d DCE-MRI phantom studies to %s", len(folders), out)
    return folders


def _link(current: Path, prior: Path, prior_plan: DcePlan) -> None:
    """Name the prior in the current study's truth and the current study in the prior's."""
    truth = json.loads((current / "truth.json").read_text(encoding="utf-8"))
    links = prior_plan.prior["lesion_links"] if prior_plan.prior else []
    truth["prior"] = {"study_instance_uid": prior.name, "folder": prior.name, "lesion_links": links}
    (current / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    ptruth = json.loads((prior / "truth.json").read_text(encoding="utf-8"))
    ptruth["prior_of"] = {"study_instance_uid": current.name, "folder": current.name}
    (prior / "truth.json").write_text(json.dumps(ptruth, indent=2) + "\n", encoding="utf-8")
