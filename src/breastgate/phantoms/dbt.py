"""Synthetic 4-view tomosynthesis (DBT) screening studies with synthesized 2-D views and ground truth.

One Breast Tomosynthesis Image per view (R CC, L CC, R MLO, L MLO; PS3.3 A.55), 1 mm slices, as
many as the compressed thickness in mm (algorithms.md §6.3), plus per view a synthesized 2-D
Digital Mammography For Presentation image (Image Type Value 4 GENERATED_2D) that references its
volume. Breasts, density and lesion positions come from the same plan as the FFDM phantom of the
seed (:func:`breastgate.phantoms.mg.generate_mg_study`), and so do positioning defects: they change
the breast of the volume and of its synthesized view as they change the FFDM view. UIDs differ.
The volume model is in :mod:`breastgate.phantoms.tomo` (distractors in depth:
:mod:`breastgate.phantoms.tomo_distractors`), the headers in :mod:`breastgate.phantoms.dbt_headers`.

Frames are generated and encoded one at a time. A volume larger than ``IN_MEMORY_BYTES`` keeps
its Pixel Data in an anonymous temporary file (a buffered pydicom value, written in chunks by
``save_as``), so a study at the default 0.1 mm pixel needs a few hundred MB of memory, not GBs.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import pydicom

from breastgate.phantoms.anatomy import SCALE, ViewSpec, view_context
from breastgate.phantoms.dbt_headers import dbt_dataset, patient_point, synthesized_dataset
from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.headers import phantom_uid
from breastgate.phantoms.lesions import LesionRequest, LesionSpec, plan_lesions
from breastgate.phantoms.mg import ImageIds, PhantomStudy, density_truth, lesion_truth
from breastgate.phantoms.plan import VIEWS, StudyPlan, plan_study
from breastgate.phantoms.positioning import positioning_truth
from breastgate.phantoms.profiles import CATEGORIES, VENDOR_PROFILES, VendorProfile
from breastgate.phantoms.tomo import SLICE_MM, TomoGeometry, TomoVolume

__all__ = ["IN_MEMORY_BYTES", "dbt_file_name", "dbt_profile", "generate_dbt_study", "write_dbt_phantoms"]

LOGGER = logging.getLogger(__name__)

#: Volumes up to this many bytes of Pixel Data stay in memory (``bytes``); larger ones are spooled.
IN_MEMORY_BYTES = 64 * 2**20
_PIXEL_RANGE_MM = (0.05, 2.0)


@dataclass(frozen=True)
class _ViewTruth:
    """Density and lesion truth of one image, in the shape :mod:`breastgate.phantoms.mg` reads."""

    percent_dense: float
    breast_area_cm2: float
    lesion_truth: tuple[dict[str, object], ...]


def dbt_profile(profile: VendorProfile, pixel_mm: float) -> VendorProfile:
    """The profile's field of view sampled at the reconstruction pixel ``pixel_mm``."""
    sizes = []
    for n_mm in (profile.rows * profile.pixel_spacing_mm, profile.columns * profile.pixel_spacing_mm):
        n = max(round(n_mm / pixel_mm), 16)
        # One more pixel when (n - 1) is a multiple of anatomy.SCALE: once a workaround for upsample,
        # kept so that existing DBT phantoms keep their matrix size and pixels.
        sizes.append(n + 1 if (n - 1) % SCALE == 0 else n)
    return replace(profile, rows=sizes[0], columns=sizes[1], pixel_spacing_mm=pixel_mm)


def dbt_file_name(ds: pydicom.Dataset) -> str:
    """``R_CC_DBT.dcm``, ``L_MLO_S2D.dcm``...: laterality, view and kind of a phantom instance."""
    if "SharedFunctionalGroupsSequence" in ds:
        laterality = str(ds.SharedFunctionalGroupsSequence[0].FrameAnatomySequence[0].FrameLaterality)
        kind = "DBT"
    else:
        laterality, kind = str(ds.ImageLaterality), "S2D"
    view = "CC" if ds.ViewCodeSequence[0].CodeValue == "399162004" else "MLO"
    return f"{laterality}_{view}_{kind}.dcm"


def _frames_to_pixel_data(volume: TomoVolume, nbytes: int) -> bytes | BinaryIO:
    """Render and encode the volume frame by frame into bytes or a temporary file."""
    # The temporary file outlives this function: it becomes the dataset's Pixel Data value.
    sink: BinaryIO = io.BytesIO() if nbytes <= IN_MEMORY_BYTES else tempfile.TemporaryFile()  # noqa: SIM115
    for _, frame in volume.frames():
        sink.write(frame.astype("<u2", copy=False).tobytes())
    if isinstance(sink, io.BytesIO):
        return sink.getvalue()
    sink.seek(0)
    return sink


def _lesion_marks(
    marks: Sequence[dict[str, object]], spec: ViewSpec, geometry: TomoGeometry, pixel_mm: float
) -> tuple[tuple[dict[str, object], ...], tuple[dict[str, object], ...]]:
    """Per-lesion (or distractor) truth on the volume (with frames and patient coordinates) and on
    the 2-D view."""
    on_volume, on_2d = [], []
    for mark in marks:
        centre = mark["centre"]
        focus = mark["focus_frame"]
        assert isinstance(centre, list) and isinstance(focus, int)
        where = patient_point(spec.laterality, spec.view, geometry, focus, centre, pixel_mm)
        on_volume.append({**mark, "image": "dbt", "patient_mm": where})
        flat = {k: v for k, v in mark.items() if k not in ("frames", "focus_frame", "height_mm")}
        flat.pop("calcification_frames", None)
        on_2d.append({**flat, "image": "synthesized_2d"})
    return tuple(on_volume), tuple(on_2d)


def generate_dbt_study(
    seed: int,
    *,
    category: str | None = None,
    vendor: str | None = None,
    patient_id: str | None = None,
    lesions: Sequence[LesionRequest] = (),
    pixel_mm: float | None = None,
    synthesized_2d: bool = True,
    distractors: bool = False,
    defects: Iterable[str] | None = None,
) -> PhantomStudy:
    """Generate a deterministic 4-view DBT study with ground truth.

    Parameters
    ----------
    seed
        Determines pixels, UIDs and every header value (UIDs differ from the FFDM phantom's).
    category, vendor, patient_id, lesions, distractors, defects
        As for :func:`breastgate.phantoms.mg.generate_mg_study`. Distractor calcifications lie at
        depths inside the breast (:mod:`breastgate.phantoms.tomo_distractors`); defects change the
        breast of the volume and of the synthesized view, and "missing_view" leaves out both.
    pixel_mm
        Reconstruction pixel; defaults to the vendor profile's (0.1 mm). Rows and Columns follow
        from the profile's field of view. Coarser pixels (0.3-0.5 mm) make small, fast studies.
    synthesized_2d
        Also produce one synthesized 2-D view per volume.

    Returns
    -------
    PhantomStudy
        ``datasets``: the four volumes in view order, then the four synthesized views (if any).
        A volume's Pixel Data is ``bytes`` up to :data:`IN_MEMORY_BYTES`, else a temporary file
        (pydicom buffered value: ``save_as`` and ``pixel_array`` work, ``bytes`` operations do not).
        ``truth``: the FFDM truth shape plus ``kind`` = "dbt", a ``volumes`` list and, per lesion
        and volume, ``frames`` [first, last], ``focus_frame``, ``height_mm`` and ``patient_mm``.
        Distractors also get ``views``, per instance as lesions (the FFDM truth has none).
    """
    plan = plan_study(seed, category, vendor, defects=defects)
    px = float(pixel_mm if pixel_mm is not None else plan.profile.dbt_pixel_mm)
    if not _PIXEL_RANGE_MM[0] <= px <= _PIXEL_RANGE_MM[1]:
        raise PhantomError(f"pixel_mm must be within {_PIXEL_RANGE_MM} mm, got {px}")
    profile = dbt_profile(plan.profile, px)
    dplan = replace(plan, profile=profile)
    pid = patient_id or f"PH{seed:08d}"
    key = ("dbt", seed, plan.category, plan.profile.name, pid, f"{px:.4f}")
    names = ["study", "series_dbt", "series_s2d"] + [
        f"{k}{i}" for k in ("dbt", "s2d", "for") for i in range(4)
    ]
    uids = {name: phantom_uid(*key, name) for name in names}
    contexts = {(spec.laterality, spec.view): view_context(spec, profile) for spec in plan.views}
    placed = plan_lesions(seed, list(lesions), contexts, distractors) if lesions or distractors else []
    halves = {(s.laterality, s.view): s.shape.half_height_mm for s in plan.views}
    volumes, flats, items, summaries = [], [], [], []
    for spec in plan.views:
        index = VIEWS.index((spec.laterality, spec.view))
        geometry = TomoGeometry(
            max(round(plan.thickness_mm[spec.laterality] / SLICE_MM), 1), profile.dbt_half_angle_deg
        )
        half_heights = {view: h for (lat, view), h in halves.items() if lat == spec.laterality}
        volume = TomoVolume(
            spec,
            profile,
            geometry,
            placed,
            contexts[(spec.laterality, spec.view)],
            half_heights,
            synthesized=synthesized_2d,
        )
        shape = (profile.rows, profile.columns)
        pixel_data = _frames_to_pixel_data(volume, shape[0] * shape[1] * geometry.frames * 2)
        marks_3d, marks_2d = _lesion_marks(volume.lesion_truth, spec, geometry, px)
        fakes_3d, fakes_2d = _lesion_marks(volume.distractor_truth, spec, geometry, px)
        focus = [m["focus_frame"] for m in marks_3d]
        representative = focus[0] if focus and isinstance(focus[0], int) else (geometry.frames + 1) // 2
        ids = ImageIds(uids["study"], uids["series_dbt"], uids[f"dbt{index}"], uids[f"for{index}"], index)
        volumes.append(dbt_dataset(dplan, spec, geometry, ids, pid, pixel_data, shape, representative))
        truth_3d = _ViewTruth(volume.percent_dense, volume.breast_area_cm2, marks_3d + fakes_3d)
        items.append((spec, truth_3d, ids.sop))
        summary: dict[str, Any] = {
            "sop_instance_uid": ids.sop,
            "laterality": spec.laterality,
            "view": spec.view,
            "frames": geometry.frames,
            "slice_mm": geometry.slice_mm,
            "pixel_mm": px,
            "rows": shape[0],
            "columns": shape[1],
            "scan_half_angle_deg": geometry.half_angle_deg,
            "synthesized_sop_instance_uid": None,
        }
        if synthesized_2d:
            s2d_ids = ImageIds(
                uids["study"], uids["series_s2d"], uids[f"s2d{index}"], uids[f"for{index}"], index
            )
            s2d = synthesized_dataset(dplan, spec, volume.synthesized_2d(), s2d_ids, pid, ids.sop)
            flats.append(s2d)
            truth_2d = _ViewTruth(volume.percent_dense, volume.breast_area_cm2, marks_2d + fakes_2d)
            items.append((spec, truth_2d, s2d_ids.sop))
            summary["synthesized_sop_instance_uid"] = s2d_ids.sop
        summaries.append(summary)
    LOGGER.debug("dbt phantom seed=%d category=%s vendor=%s px=%.3f", seed, plan.category, profile.name, px)
    return PhantomStudy(
        uids["study"], volumes + flats, _truth(dplan, uids["study"], items, placed, summaries)
    )


def _truth(
    plan: StudyPlan,
    study_uid: str,
    items: list[tuple[ViewSpec, _ViewTruth, str]],
    placed: list[LesionSpec],
    summaries: list[dict[str, Any]],
) -> dict[str, Any]:
    volume_sops = {s["sop_instance_uid"] for s in summaries}
    kinds = {sop: "dbt" if sop in volume_sops else "synthesized_2d" for _, _, sop in items}
    truth = density_truth(plan, study_uid, items)
    for entry in truth["density"]["per_image"]:
        entry["image"] = kinds[entry["sop_instance_uid"]]
    truth.update(lesion_truth(placed, items))
    for distractor in truth["distractors"]:
        distractor["views"] = [
            {"sop_instance_uid": sop, "view": spec.view, **mark}
            for spec, view, sop in items
            for mark in view.lesion_truth
            if mark["id"] == distractor["id"]
        ]
    truth["kind"] = "dbt"
    truth["volumes"] = summaries
    positioning = positioning_truth(plan)
    by_view = {(s["laterality"], s["view"]): s for s in summaries}
    for image in positioning.get("images", []):
        summary = by_view.get((image["laterality"], image["view"]))
        if summary is not None:
            image["sop_instance_uid"] = summary["synthesized_sop_instance_uid"] or summary["sop_instance_uid"]
            image["dbt_sop_instance_uid"] = summary["sop_instance_uid"]
    truth["positioning"] = positioning
    return truth


def write_dbt_phantoms(out_dir: Path, count: int, seed: int, pixel_mm: float | None = None) -> list[Path]:
    """Write ``count`` DBT studies as ``out_dir/<StudyInstanceUID>/{R_CC,...}_{DBT,S2D}.dcm`` + truth.json.

    Study ``i`` uses ``seed + i``; categories cycle a, b, c, d and vendor profiles alternate.
    """
    if count < 0:
        raise PhantomError(f"count must be >= 0, got {count}")
    vendors = sorted(VENDOR_PROFILES)
    folders = []
    for i in range(count):
        study = generate_dbt_study(
            seed + i,
            category=CATEGORIES[i % len(CATEGORIES)],
            vendor=vendors[i % len(vendors)],
            pixel_mm=pixel_mm,
        )
        folder = Path(out_dir) / study.study_instance_uid
        folder.mkdir(parents=True, exist_ok=True)
        for ds in study.datasets:
            ds.save_as(folder / dbt_file_name(ds), enforce_file_format=True)
        study.close()
        (folder / "truth.json").write_text(json.dumps(study.truth, indent=2) + "\n", encoding="utf-8")
        folders.append(folder)
    LOGGER.info("wrote %d DBT phantom studies to %s", count, out_dir)
    return folders
