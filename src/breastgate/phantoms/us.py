"""Synthetic breast ultrasound studies with ground truth (issue 19, ``breastgate phantom --kind us``).

A study is one woman's breast ultrasound: 1-6 single-frame B-mode screen captures (US Image
Storage) and optionally one cine sweep (US Multi-frame Image Storage), all of one side. Each image
is a black 8-bit frame holding one image region (or two, radial and antiradial views of the same
lesion), the US Region Calibration, burned-in annotation in one of five scanner styles
(:mod:`breastgate.phantoms.us_frame`), 0-2 lesions of known BI-RADS US descriptors
(:mod:`breastgate.phantoms.us_lesions`) over layered tissue with Rayleigh speckle
(:mod:`breastgate.phantoms.us_render`), and optional calipers and a colour Doppler box.

The location of each image is in the burned-in text (``source: text``), only in Image Comments
(``structured``) or nowhere (``none``: truth says the location is unknown); drawn once per study
(text 55 %, structured 20 %, none 25 %). Truth: ``truth.json``; lesion masks ``mask_<sop>.png``
(pixel value = the lesion's ``mask_value``; a cine has ``mask_<sop>_f<frame>.png`` per frame).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from PIL import Image

from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.headers import phantom_uid
from breastgate.phantoms.us_frame import STYLES, Location, Style
from breastgate.phantoms.us_headers import UsHeaderContext, region_item, us_dataset
from breastgate.phantoms.us_image import ImagePlan, RenderedImage, plan_image, render_image
from breastgate.phantoms.us_lesions import UsLesionRequest, draw_lesion
from breastgate.phantoms.us_truth import image_truth

__all__ = [
    "LOCATION_SOURCES",
    "UsStudy",
    "generate_us_study",
    "plan_us_study",
    "write_us_phantoms",
]

LOGGER = logging.getLogger(__name__)
LOCATION_SOURCES = ("text", "structured", "none")
_PLANES = ("radial", "antiradial", "transverse", "sagittal")
_ORTHOGONAL = {
    "radial": "antiradial",
    "antiradial": "radial",
    "transverse": "sagittal",
    "sagittal": "transverse",
}
_PROBES = (("L12-5", 12), ("L15-7", 14), ("L18-4", 15), ("ML6-15", 13))


@dataclass
class UsStudy:
    """A synthetic US study: Part 10 datasets, lesion masks and its ground truth."""

    study_instance_uid: str
    datasets: list[pydicom.Dataset]
    truth: dict[str, Any]
    #: Per SOP Instance UID, one uint8 mask per frame (value = lesion ``mask_value``, 0 = none).
    masks: dict[str, list[npt.NDArray[np.uint8]]] = field(default_factory=dict)
    #: Per SOP Instance UID, the file name the writer uses.
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UsPlan:
    """Every choice of one study."""

    seed: int
    ctx: UsHeaderContext
    uids: dict[str, str]
    style_name: str
    location_source: str
    images: list[ImagePlan]
    orthogonal: bool = False


def _requests(
    rng: np.random.Generator, lesions: int | Sequence[UsLesionRequest] | None
) -> list[UsLesionRequest]:
    if lesions is None:
        lesions = int(rng.choice(3, p=[0.3, 0.5, 0.2]))
    if isinstance(lesions, int):
        if not 0 <= lesions <= 2:
            raise PhantomError(f"a US image holds 0-2 lesions, got {lesions}")
        return [UsLesionRequest()] * lesions
    if len(lesions) > 2:
        raise PhantomError(f"a US image holds 0-2 lesions, got {len(lesions)}")
    return list(lesions)


def _check(style: str | None, location: str | None, images: int | None, frames: int) -> None:
    if style is not None and style not in STYLES:
        raise PhantomError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    if location is not None and location not in LOCATION_SOURCES:
        raise PhantomError(f"location must be one of {', '.join(LOCATION_SOURCES)}, got {location!r}")
    if images is not None and not 0 <= images <= 6:
        raise PhantomError(f"images must be 0-6, got {images}")
    if not 4 <= frames <= 120:
        raise PhantomError(f"a cine has 4-120 frames, got {frames}")


def _check_locations(
    laterality: str | None, image_locations: Sequence[tuple[int, int] | None] | None
) -> None:
    if laterality is not None and laterality not in ("L", "R"):
        raise PhantomError(f"laterality must be 'L' or 'R', got {laterality!r}")
    for given in image_locations or ():
        if given is not None and not (1 <= given[0] <= 12 and 0 <= given[1] <= 20):
            raise PhantomError(f"an image location is (clock 1-12, whole cm 0-20), got {given!r}")


def _context(
    seed: int,
    uids: dict[str, str],
    patient_id: str | None,
    study_date: dt.date | None,
    probe: tuple[str, int],
) -> UsHeaderContext:
    start = dt.datetime(2024, 1, 3, 9, 0) + dt.timedelta(days=seed % 700, minutes=4 * (seed % 100))
    if study_date is not None:
        start = dt.datetime.combine(study_date, start.time())
    age = 30 + seed % 50
    return UsHeaderContext(
        seed=seed,
        patient_id=patient_id or f"US{seed:08d}",
        patient_name=f"PHANTOM^US{seed:04d}",
        birth_date=f"{start.year - age}0101",
        age=age,
        study_uid=uids["study"],
        study_start=start,
        accession=f"US{seed:07d}"[-16:],
        model=f"Phantom Sono {probe[0]}",
        probe=probe[0],
        frequency_khz=probe[1] * 1000,
    )


@dataclass(frozen=True)
class _Options:
    """The study-wide choices each image plan needs."""

    lesions: int | Sequence[UsLesionRequest] | None
    dual: bool | None
    overlays: bool | None
    uncalibrated: bool
    frames: int
    laterality: str
    style: Style
    source: str
    probe: tuple[str, int]
    locations: tuple[tuple[int, int] | None, ...] = ()
    image_lesions: tuple[tuple[UsLesionRequest, ...] | None, ...] = ()
    orthogonal: bool = False


def _plan_one(
    seed: int, index: int, cine: bool, opt: _Options, first_id: int, like: ImagePlan | None = None
) -> ImagePlan:
    """Plan image ``index``: its lesions (ids from ``L<first_id>``), location and overlays;
    ``like``: the image shows ``like``'s lesion in the orthogonal plane at the same location."""
    irng = np.random.default_rng(np.random.SeedSequence([seed, 0x1A, index]))
    pair = opt.orthogonal and index < 2 and not cine
    is_dual = not cine and not pair and (opt.dual if opt.dual is not None else bool(irng.random() < 0.2))
    requests = _requests(irng, opt.lesions)
    if index < len(opt.image_lesions) and (given := opt.image_lesions[index]) is not None:
        requests = _requests(irng, given)  # after the study-wide draw: the stream stays as it was
    if is_dual or cine:  # one lesion, seen in two planes or swept across
        requests = requests[:1] if requests or opt.lesions is not None else [UsLesionRequest()]
    if pair:  # one lesion, seen in two planes on two images
        requests = requests[:1] or [UsLesionRequest()]
    drawn = [draw_lesion(irng, f"L{first_id + k}", req) for k, req in enumerate(requests)]
    clock, cm = int(irng.integers(1, 13)), int(irng.integers(1, 8))
    if index < len(opt.locations) and (where := opt.locations[index]) is not None:
        clock, cm = where  # given (drawn all the same: the stream stays as it was)
    plane = str(irng.choice(_PLANES, p=[0.45, 0.35, 0.1, 0.1]))
    if like is not None:
        drawn = list(like.lesions)
        clock, cm, plane = like.location.clock, like.location.distance_cm, _ORTHOGONAL[like.location.plane]
    loc = Location(opt.laterality, clock, cm, "radial" if is_dual else plane)
    draw_overlays = not cine and (opt.overlays if opt.overlays is not None else True)
    caliper = draw_overlays and (opt.overlays is True or bool(irng.random() < 0.3))
    doppler = draw_overlays and (opt.overlays is True or bool(irng.random() < 0.15))
    return plan_image(
        irng,
        index,
        opt.style,
        loc,
        opt.source,
        drawn,
        dual=is_dual,
        uncalibrated=opt.uncalibrated and index == 0,
        caliper=caliper,
        doppler=doppler,
        frames=opt.frames if cine else 1,
        probe=opt.probe,
        like=like,
        plane_written=pair,
    )


def plan_us_study(
    seed: int,
    *,
    images: int | None = None,
    lesions: int | Sequence[UsLesionRequest] | None = None,
    cine: bool = False,
    frames: int = 24,
    dual: bool | None = None,
    uncalibrated: bool = False,
    style: str | None = None,
    location: str | None = None,
    overlays: bool | None = None,
    patient_id: str | None = None,
    study_date: dt.date | None = None,
    laterality: str | None = None,
    image_locations: Sequence[tuple[int, int] | None] | None = None,
    image_lesions: Sequence[Sequence[UsLesionRequest] | None] | None = None,
    orthogonal: bool = False,
) -> UsPlan:
    """All choices of a study (see :func:`generate_us_study`), no pixels yet."""
    _check(style, location, images, frames)
    if orthogonal and images is not None and images < 2:
        raise PhantomError(f"an orthogonal pair needs at least 2 single-frame images, got {images}")
    _check_locations(laterality, image_locations)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x05]))
    n_images = images if images is not None else int(rng.integers(2, 5))
    style_name = style or str(sorted(STYLES)[int(rng.integers(len(STYLES)))])
    source = location or str(rng.choice(LOCATION_SOURCES, p=[0.55, 0.20, 0.25]))
    drawn_side = "L" if rng.random() < 0.5 else "R"  # drawn even when given: same stream
    laterality = laterality or drawn_side
    probe = _PROBES[int(rng.integers(len(_PROBES)))]
    key = ("us", seed, patient_id)
    uids = {name: phantom_uid(*key, name) for name in ("study", "series", "cine")}
    ctx = _context(seed, uids, patient_id, study_date, probe)
    options = _Options(
        lesions,
        dual,
        overlays,
        uncalibrated,
        frames,
        laterality,
        STYLES[style_name],
        source,
        probe,
        tuple(image_locations or ()),
        tuple(None if given is None else tuple(given) for given in image_lesions or ()),
        orthogonal,
    )
    plans: list[ImagePlan] = []
    for index, kind in enumerate(["single"] * n_images + (["cine"] if cine else [])):
        first_id = 1 + len({les.id for p in plans for les in p.lesions})
        like = plans[0] if orthogonal and index == 1 else None
        plans.append(_plan_one(seed, index, kind == "cine", options, first_id, like))
    return UsPlan(seed, ctx, uids, style_name, source, plans, orthogonal)


def _sop(plan: UsPlan, image: ImagePlan) -> str:
    return phantom_uid(plan.uids["series"], "sop", image.index)


def _file(image: ImagePlan) -> str:
    return f"US_CINE_{image.index + 1:02d}.dcm" if image.frames > 1 else f"US_{image.index + 1:02d}.dcm"


def _dataset(plan: UsPlan, image: ImagePlan, rendered: RenderedImage) -> pydicom.Dataset:
    regions = [region_item(box, None if image.uncalibrated else image.pixel_mm) for box in image.regions]
    for overlay in rendered.overlays:
        if overlay["kind"] == "doppler":
            regions.append(
                region_item(overlay["box"], None if image.uncalibrated else image.pixel_mm, "color_flow")
            )
    cine = image.frames > 1
    pixels = np.stack(rendered.frames) if cine else rendered.frames[0]
    return us_dataset(
        plan.ctx,
        series_uid=plan.uids["cine" if cine else "series"],
        series_number=2 if cine else 1,
        sop_uid=_sop(plan, image),
        instance_number=image.index + 1,
        acquired=plan.ctx.study_start + dt.timedelta(seconds=40 * (image.index + 1)),
        laterality=image.location.laterality,
        pixels=pixels,
        regions=regions,
        doppler=image.doppler,
        comments=image.location.structured(image.plane_written)
        if image.location_source == "structured"
        else None,
        frame_time_ms=1000.0 / image.parameters["frame_rate"] if cine else None,
    )


def _render(plan: UsPlan) -> UsStudy:
    datasets, masks, files, images = [], {}, {}, []
    for image in plan.images:
        rendered = render_image(image)
        ds = _dataset(plan, image, rendered)
        sop = str(ds.SOPInstanceUID)
        datasets.append(ds)
        masks[sop] = rendered.masks
        files[sop] = _file(image)
        images.append(image_truth(image, rendered, ds, _file(image)))
    ctx = plan.ctx
    truth = {
        "schema": "breastgate.us-phantom-truth/1",
        "kind": "us",
        "seed": plan.seed,
        "study_instance_uid": ctx.study_uid,
        "patient_id": ctx.patient_id,
        "study_date": ctx.study_start.strftime("%Y%m%d"),
        "style": plan.style_name,
        "location_source": plan.location_source,
        "conventions": {
            "boxes": "inclusive [c0, r0, c1, r1] frame pixels",
            "points": "[col, row] with the origin at the top-left corner of the top-left pixel (SCOORD)",
            "clock": "whole hours facing the patient; 3 o'clock is lateral in the left breast, "
            "medial in the right",
            "structured_location": "Image Comments (0020,4000)",
            "sizes": "width = horizontal diameter in the image plane, depth = anterior-posterior, "
            "elevation = the orthogonal horizontal diameter; by construction (outline extents)",
        },
        "images": images,
        "orthogonal_pairs": _pairs_truth(plan, images),
    }
    return UsStudy(ctx.study_uid, datasets, truth, masks, files)


def _pairs_truth(plan: UsPlan, images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lesion that images 1 and 2 show in orthogonal planes (``orthogonal=True``), with
    whether the planes can be read off the images (structured, or a style that spells them)."""
    if not plan.orthogonal or len(plan.images) < 2:
        return []
    first, second = plan.images[:2]
    shown = [{les["id"] for les in image["lesions"]} for image in images[:2]]
    style, loc = first.style, first.location
    readable = plan.location_source == "structured" or (
        plan.location_source == "text" and style.spell(loc, True) != style.spell(loc, False)
    )
    return [
        {
            "lesion": lesion.id,
            "images": [images[0]["sop_instance_uid"], images[1]["sop_instance_uid"]],
            "planes": [first.location.plane, second.location.plane],
            "planes_readable": readable,
            "diameters_mm": {
                "width": round(lesion.width_mm, 2),
                "elevation": round(lesion.elevation_mm, 2),
                "depth": round(lesion.depth_mm, 2),
            },
        }
        for lesion in first.lesions
        if lesion.id in shown[0] & shown[1]
    ]


def generate_us_study(
    seed: int,
    *,
    images: int | None = None,
    lesions: int | Sequence[UsLesionRequest] | None = None,
    cine: bool = False,
    frames: int = 24,
    dual: bool | None = None,
    uncalibrated: bool = False,
    style: str | None = None,
    location: str | None = None,
    overlays: bool | None = None,
    patient_id: str | None = None,
    study_date: dt.date | None = None,
    laterality: str | None = None,
    image_locations: Sequence[tuple[int, int] | None] | None = None,
    image_lesions: Sequence[Sequence[UsLesionRequest] | None] | None = None,
    orthogonal: bool = False,
) -> UsStudy:
    """Generate a deterministic breast ultrasound study with ground truth.

    Parameters
    ----------
    seed
        Determines every pixel, UID and header value.
    images
        Single-frame images (0-6); drawn 2-4 when None.
    lesions
        Per image: ``None`` 0-2 drawn (30 % none), an int 0-2, or up to two requests. Dual-region
        images and the cine hold one lesion.
    cine, frames
        Also write one US Multi-frame cine of ``frames`` frames sweeping across a lesion.
    dual
        Two side-by-side regions (radial and antiradial views); None: 1 image in 5.
    uncalibrated
        The first image's regions carry no physical units (Physical Units 0) to test refusal.
    style
        Annotation style (:data:`breastgate.phantoms.us_frame.STYLES`); drawn when None.
    location
        ``text``, ``structured`` or ``none`` (:data:`LOCATION_SOURCES`); drawn when None.
    overlays
        True: calipers (when a lesion is present) and a colour Doppler box on every single-frame
        image; False: none; None: calipers 30 %, Doppler 15 %.
    patient_id, study_date
        Override the seed's Patient ID (``US`` + zero-padded seed) and Study Date.
    laterality, image_locations
        Give the study's side and, per image (in order; None or missing: drawn), the annotated
        location ``(clock, whole cm from the nipple)``; the drawn values are still drawn, so the
        rest of the study is as without them.
    image_lesions
        Per image (in order; None or missing: as ``lesions`` says), the lesion requests of that
        image (0-2).
    orthogonal
        Images 1 and 2 show one lesion at one location in orthogonal planes (radial and
        antiradial, or transverse and sagittal), as two separate captures: image 2 has image 1's
        tissue layers and lesion depth; structured locations then name the plane. Truth:
        ``orthogonal_pairs`` (the lesion, both images, its three diameters, whether the planes
        can be read off the images).
    """
    plan = plan_us_study(
        seed,
        images=images,
        lesions=lesions,
        cine=cine,
        frames=frames,
        dual=dual,
        uncalibrated=uncalibrated,
        style=style,
        location=location,
        overlays=overlays,
        patient_id=patient_id,
        study_date=study_date,
        laterality=laterality,
        image_locations=image_locations,
        image_lesions=image_lesions,
        orthogonal=orthogonal,
    )
    study = _render(plan)
    LOGGER.debug("us phantom seed=%d images=%d", seed, len(plan.images))
    return study


def write_study(study: UsStudy, out_dir: Path) -> Path:
    """Write a study as ``out_dir/<StudyInstanceUID>/`` DICOM files, masks and truth.json."""
    folder = Path(out_dir) / study.study_instance_uid
    folder.mkdir(parents=True, exist_ok=True)
    for ds in study.datasets:
        sop = str(ds.SOPInstanceUID)
        ds.save_as(folder / study.files[sop], enforce_file_format=True)
        masks = study.masks[sop]
        if len(masks) == 1:
            Image.fromarray(masks[0], "L").save(folder / f"mask_{sop}.png")
        else:
            for k, mask in enumerate(masks):
                Image.fromarray(mask, "L").save(folder / f"mask_{sop}_f{k + 1:03d}.png")
    (folder / "truth.json").write_text(json.dumps(study.truth, indent=2) + "\n", encoding="utf-8")
    return folder


def write_us_phantoms(
    out: Path,
    count: int,
    seed: int,
    *,
    cine: bool = False,
    frames: int = 24,
    images: int | None = None,
) -> list[Path]:
    """Write ``count`` studies (seeds ``seed``..``seed+count-1``) as ``out/<StudyInstanceUID>/``;
    styles cycle through :data:`STYLES` so every style appears in five consecutive studies."""
    if count < 0:
        raise PhantomError(f"count must be >= 0, got {count}")
    styles = sorted(STYLES)
    folders = []
    for i in range(count):
        study = generate_us_study(
            seed + i, images=images, cine=cine, frames=frames, style=styles[(seed + i) % len(styles)]
        )
        folders.append(write_study(study, out))
    LOGGER.info("wrote %d US phantom studies to %s", len(folders), out)
    return folders
