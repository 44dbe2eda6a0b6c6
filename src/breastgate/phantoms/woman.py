"""One phantom woman: her mammogram, breast ultrasound and DCE-MRI with one lesion seen by all three
(issue 19, correlation across modalities).

The true lesion is a mass of 8-25 mm in one breast at a clock position (whole hours facing the
patient, algorithms.md §7) and a 3-D distance ``D`` from the nipple, split into ``d`` behind the
nipple along its axis and ``r`` across it (``D² = d² + r²``). Each modality gets it the way its
phantom defines a position:

- MG: :class:`~breastgate.phantoms.lesions.LesionRequest` ``clock``, ``distance_from_nipple_mm=d``
  (the mammographic truth's distance is the one along the nipple axis), ``radial_mm=r``;
- US: the image holding it is annotated with the side, the clock and ``D`` in whole cm; its width
  is the lesion's size;
- MRI: :class:`~breastgate.phantoms.mri_lesions.DceLesionRequest` ``clock``,
  ``distance_from_nipple_mm=D`` (3-D, as the MRI truth's), ``radial_mm=r``.

Sizes are the true size times 0.9-1.1 per modality (as each would measure it). Each study also holds
one unrelated mass, *apart* from the true lesion (another breast, or at least 3 hours away on the
clock, or at least 30 mm further from the nipple) and from the other studies' unrelated masses
(another breast or at least 4 hours away), so no link should join any of them.

Dates: MG day 0 (the MG phantom's date), US day +7, MRI day +21; one Patient ID, name and birth
date in all three.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom

from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.lesions import LesionRequest
from breastgate.phantoms.mg import PhantomStudy, generate_mg_study
from breastgate.phantoms.mri import DceStudy, generate_dce_study, plan_dce_study
from breastgate.phantoms.mri_lesions import DceLesionRequest
from breastgate.phantoms.us import UsStudy, generate_us_study
from breastgate.phantoms.us_lesions import UsLesionRequest

__all__ = ["PhantomWoman", "Spot", "apart", "generate_woman"]

LOGGER = logging.getLogger(__name__)

#: Days after the mammogram of the ultrasound and of the MRI.
US_DAY, MRI_DAY = 7, 21
_MASS_SHAPES = ("round", "oval", "irregular", "spiculated")
_ATTEMPTS = 20


@dataclass(frozen=True)
class Spot:
    """Where a lesion is meant to be: side, clock (1-12), 3-D distance from the nipple (mm),
    radial offset from the nipple axis (mm) and size (mm)."""

    laterality: str
    clock: int
    distance_mm: float
    radial_mm: float
    size_mm: float

    @property
    def axial_mm(self) -> float:
        """Distance behind the nipple along its axis."""
        return math.sqrt(max(self.distance_mm**2 - self.radial_mm**2, 0.0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "laterality": self.laterality,
            "clock": self.clock,
            "distance_from_nipple_mm": round(self.distance_mm, 1),
            "radial_mm": round(self.radial_mm, 1),
            "size_mm": round(self.size_mm, 1),
        }


def clock_gap(a: int, b: int) -> int:
    """Hours between two clock positions (0-6)."""
    gap = abs(a - b) % 12
    return min(gap, 12 - gap)


def apart(a: Spot, b: Spot, hours: int = 3, further_mm: float = 30.0) -> bool:
    """Another breast, or ``hours`` or more apart on the clock, or ``further_mm`` or more apart in
    distance from the nipple."""
    return (
        a.laterality != b.laterality
        or clock_gap(a.clock, b.clock) >= hours
        or abs(a.distance_mm - b.distance_mm) >= further_mm
    )


@dataclass
class PhantomWoman:
    """Three studies of one woman and the truth of which finding is which.

    ``truth["lesion"]`` is the true lesion (per study: its id in that study's truth and where that
    truth puts it); ``truth["unrelated"]`` the unrelated masses, one per study, none of which may be
    linked to the true lesion or to each other.
    """

    patient_id: str
    mg: PhantomStudy
    us: UsStudy
    mri: DceStudy
    truth: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> PhantomWoman:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the temporary files of large pixel data (MG and MRI studies)."""
        self.mg.close()
        self.mri.close()

    @property
    def studies(self) -> dict[str, Any]:
        """The studies by modality, in the order they are taken: MG, US, MR."""
        return {"MG": self.mg, "US": self.us, "MR": self.mri}

    def shows(self, finding: Mapping[str, Any], modality: str) -> str:
        """Which lesion a results-JSON ``finding`` of the study of ``modality`` (MG, US, MR) shows:
        ``"true"``, ``"unrelated"`` or ``""`` (neither: a false positive).

        The rule: MG, one of its marks lies on a truth view of the lesion (inside that view's truth
        bounding box widened by :data:`PAD_MM`); US, its mark lies on the lesion's image inside
        the lesion's bounding box widened the same; MR, its ``location.patient_mm`` lies within
        ``max(10 mm, 0.75 × largest diameter)`` of the lesion's centroid, same side.
        """
        entries = [("true", self.truth["lesion"][modality])]
        entries += [("unrelated", u) for u in self.truth["unrelated"] if u["modality"] == modality]
        for label, entry in entries:
            if entry.get("lesion_id") and self._on(finding, modality, entry):
                return label
        return ""

    def _on(self, finding: Mapping[str, Any], modality: str, entry: Mapping[str, Any]) -> bool:
        marks = [m for m in finding.get("marks") or () if m.get("point")]
        if modality == "MG":
            px = float(self.mg.datasets[0].ImagerPixelSpacing[0])
            boxes = {v["sop_instance_uid"]: v["bbox"] for v in entry["views"]}
            return any(
                m.get("sop_instance_uid") in boxes
                and _inside(m["point"], boxes[m["sop_instance_uid"]], PAD_MM / px)
                for m in marks
            )
        if modality == "US":
            image = next(
                i for i in self.us.truth["images"] if i["sop_instance_uid"] == entry["sop_instance_uid"]
            )
            px = float(image["regions"][0]["mm_per_pixel"][0])
            return any(
                m.get("sop_instance_uid") == entry["sop_instance_uid"]
                and _inside(m["point"], entry["bbox_px"], PAD_MM / px)
                for m in marks
            )
        where = (finding.get("location") or {}).get("patient_mm")
        return (
            where is not None
            and finding.get("laterality") == entry["laterality"]
            and math.dist(where, entry["patient_mm"]) <= max(10.0, 0.75 * entry["size_mm"])
        )


#: How far (mm) outside a truth bounding box a mark still shows the lesion.
PAD_MM = 3.0


def _inside(point: Sequence[float], box: Sequence[float], pad: float) -> bool:
    return box[0] - pad <= point[0] <= box[2] + pad and box[1] - pad <= point[1] <= box[3] + pad


def _spot(rng: np.random.Generator, laterality: str | None = None) -> Spot:
    lat = laterality or str(rng.choice(["L", "R"]))
    distance = float(rng.uniform(25.0, 60.0))
    return Spot(
        laterality=lat,
        clock=int(rng.integers(1, 13)),
        distance_mm=distance,
        radial_mm=distance * float(rng.uniform(0.3, 0.65)),
        size_mm=float(rng.uniform(8.0, 25.0)),
    )


def _unrelated(rng: np.random.Generator, true: Spot) -> dict[str, Spot]:
    """One unrelated mass per study (US: the true lesion's side, a US study is of one breast)."""
    for _ in range(1000):
        spots = {
            "MG": _spot(rng),
            "US": _spot(rng, true.laterality),
            "MR": _spot(rng),
        }
        if all(apart(s, true) for s in spots.values()) and all(
            apart(a, b, hours=4, further_mm=math.inf)
            for i, a in enumerate(spots.values())
            for b in list(spots.values())[i + 1 :]
        ):
            return spots
    raise AssertionError("no room for unrelated lesions")  # pragma: no cover (never in practice)


def _size(rng: np.random.Generator, size: float) -> float:
    return round(min(max(size * float(rng.uniform(0.9, 1.1)), 4.0), 30.0), 1)


def _mg(seed: int, pid: str, rng: np.random.Generator, spots: list[Spot]) -> PhantomStudy:
    requests = [
        LesionRequest(
            kind="mass",
            shape=str(rng.choice(_MASS_SHAPES)),
            size_mm=_size(rng, s.size_mm),
            contrast=float(rng.uniform(0.6, 0.9)),
            laterality=s.laterality,
            clock=s.clock,
            distance_from_nipple_mm=s.axial_mm,
            radial_mm=s.radial_mm,
        )
        for s in spots
    ]
    return generate_mg_study(seed, patient_id=pid, lesions=requests)


def _us(
    seed: int, pid: str, rng: np.random.Generator, spots: list[Spot], date: dt.date, source: str
) -> UsStudy:
    return generate_us_study(
        seed,
        images=len(spots),
        patient_id=pid,
        study_date=date,
        laterality=spots[0].laterality,
        image_locations=[(s.clock, max(1, round(s.distance_mm / 10.0))) for s in spots],
        image_lesions=[[UsLesionRequest(width_mm=_size(rng, s.size_mm))] for s in spots],
        dual=False,
        overlays=False,
        location=source,
    )


def _mri_requests(rng: np.random.Generator, spots: list[Spot]) -> list[DceLesionRequest]:
    return [
        DceLesionRequest(
            curve_type="III",  # washout: a mass the kinetics reader is meant to see
            diameter_mm=_size(rng, s.size_mm),
            laterality=s.laterality,
            heterogeneous=False,
            clock=s.clock,
            distance_from_nipple_mm=s.distance_mm,
            radial_mm=s.radial_mm,
        )
        for s in spots
    ]


def _same_patient(datasets: list[pydicom.Dataset], like: pydicom.Dataset) -> None:
    for ds in datasets:
        ds.PatientName = like.PatientName
        ds.PatientBirthDate = like.PatientBirthDate
        ds.PatientSex = "F"


def generate_woman(
    seed: int,
    *,
    mri_size: tuple[int, int, int] = (128, 128, 32),
    us_location: str = "text",
    patient_id: str | None = None,
) -> PhantomWoman:
    """Generate one woman's MG (day 0), US (day +7) and DCE-MRI (day +21) studies, deterministically.

    Parameters
    ----------
    seed
        Determines the woman, her lesions and every study.
    mri_size
        (rows, columns, slices) of the MRI grid (:func:`generate_dce_study` ``size``).
    us_location
        Where the ultrasound images carry their location: ``text`` (burned in) or ``structured``
        (Image Comments).
    patient_id
        Defaults to ``PW`` + the zero-padded seed.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x3011A4]))
    pid = patient_id or f"PW{seed:08d}"
    for attempt in range(_ATTEMPTS):  # a woman whose MRI breasts cannot hold the lesions is redrawn
        true = _spot(rng)
        unrelated = _unrelated(rng, true)
        try:
            mri_requests = _mri_requests(rng, [true, unrelated["MR"]])
            mri_plan = plan_dce_study(seed, size=mri_size, lesions=mri_requests, patient_id=pid)
        except PhantomError:
            LOGGER.debug("phantom woman seed=%d: attempt %d has no room in the MRI", seed, attempt)
            continue
        break
    else:
        raise PhantomError(f"no room for the lesions of phantom woman {seed} in {_ATTEMPTS} attempts")
    del mri_plan  # the plan proved the lesions fit; the study is generated below with its date
    mg = _mg(seed, pid, rng, [true, unrelated["MG"]])
    day0 = dt.datetime.strptime(str(mg.datasets[0].StudyDate), "%Y%m%d").date()
    us = _us(seed, pid, rng, [true, unrelated["US"]], day0 + dt.timedelta(days=US_DAY), us_location)
    mri = generate_dce_study(
        seed,
        size=mri_size,
        lesions=mri_requests,
        patient_id=pid,
        study_date=day0 + dt.timedelta(days=MRI_DAY),
    )
    _same_patient(us.datasets + mri.datasets, mg.datasets[0])
    truth = woman_truth(pid, true, unrelated, mg, us, mri)
    LOGGER.debug("phantom woman seed=%d", seed)
    return PhantomWoman(pid, mg, us, mri, truth)


def _mg_entry(study: PhantomStudy, lesion_id: str) -> dict[str, Any]:
    found = next((x for x in study.truth["lesions"] if x["id"] == lesion_id), None)
    if found is None:
        return {"study_instance_uid": study.study_instance_uid, "lesion_id": None}
    return {
        "study_instance_uid": study.study_instance_uid,
        "lesion_id": lesion_id,
        "laterality": found["laterality"],
        "clock": found.get("clock"),
        "distance_from_nipple_mm": round(math.hypot(found["distance_from_nipple_mm"], found["radial_mm"]), 1),
        "size_mm": found["size_mm"],
        "views": [
            {"sop_instance_uid": v["sop_instance_uid"], "view": v["view"], "bbox": v["bbox"]}
            for v in found["views"]
        ],
    }


def _us_entry(study: UsStudy, index: int) -> dict[str, Any]:
    image = study.truth["images"][index]
    lesion = image["lesions"][0]
    location = image["location"]
    return {
        "study_instance_uid": study.study_instance_uid,
        "lesion_id": lesion["id"],
        "sop_instance_uid": image["sop_instance_uid"],
        "laterality": image["laterality"],
        "clock": location.get("clock") or location["scanned"]["clock"],
        "distance_from_nipple_mm": _us_distance(location),
        "size_mm": lesion["width_mm"],
        "bbox_px": lesion["bbox_px"],
    }


def _us_distance(location: dict[str, Any]) -> float:
    mm = location.get("distance_from_nipple_mm")
    if mm is None:
        mm = location["scanned"]["distance_from_nipple_mm"]
    return float(mm)


def _mri_entry(study: DceStudy, index: int) -> dict[str, Any]:
    lesion = study.truth["lesions"][index]
    return {
        "study_instance_uid": study.study_instance_uid,
        "lesion_id": lesion["id"],
        "laterality": lesion["laterality"],
        "clock": lesion["clock"],
        "distance_from_nipple_mm": lesion["distance_from_nipple_mm"],
        "size_mm": lesion["diameters_mm"][0],
        "patient_mm": lesion["patient_mm"],
    }


def woman_truth(
    pid: str, true: Spot, unrelated: dict[str, Spot], mg: PhantomStudy, us: UsStudy, mri: DceStudy
) -> dict[str, Any]:
    """Which lesion of which study is the true lesion, and which are the unrelated ones.

    Per study the entry gives the lesion's id in that study's truth and the position that truth
    records (MG: the clock it was placed at and ``hypot(d, r)``, US: the annotation, MR: the 3-D
    centroid's clock and distance); a study whose phantom could not place a lesion has
    ``lesion_id`` None.
    """
    return {
        "schema": "breastgate.phantom-woman/1",
        "patient_id": pid,
        "studies": {
            "MG": {"study_instance_uid": mg.study_instance_uid, "day": 0},
            "US": {"study_instance_uid": us.study_instance_uid, "day": US_DAY},
            "MR": {"study_instance_uid": mri.study_instance_uid, "day": MRI_DAY},
        },
        "lesion": {
            "planned": true.as_dict(),
            "MG": _mg_entry(mg, "lesion-1"),
            "US": _us_entry(us, 0),
            "MR": _mri_entry(mri, 0),
        },
        "unrelated": [
            {"modality": "MG", "planned": unrelated["MG"].as_dict(), **_mg_entry(mg, "lesion-2")},
            {"modality": "US", "planned": unrelated["US"].as_dict(), **_us_entry(us, 1)},
            {"modality": "MR", "planned": unrelated["MR"].as_dict(), **_mri_entry(mri, 1)},
        ],
        "rule": (
            "a link is true only between the true lesion's findings of two studies; no unrelated "
            "lesion may be linked to the true lesion or to another unrelated lesion"
        ),
    }
