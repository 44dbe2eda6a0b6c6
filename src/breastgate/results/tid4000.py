"""PS3.16 TID 4000 Mammography CAD Document Root content for a breast-density result.

Encoding choice (reference dicom-sr.md §1.3-1.9 and §9; sectra.md §1.3), as emitted::

    CONTAINER Mammography CAD Report [TID 4000, Content Template 4000/DCMR]
     ├ HAS CONCEPT MOD Language = en-US                                      [TID 1204]
     ├ CONTAINS Image Library → IMAGE per source image + HAS ACQ CONTEXT     [TID 4020]
     ├ CONTAINS CODE CAD Processing and Findings Summary = CID 6047          [TID 4001]
     │   ├ HAS PROPERTIES TEXT Impression Description "AI result (...) — not for diagnostic use" + lines
     │   ├ HAS PROPERTIES TEXT Algorithm Name / Version / Parameters         [TID 4019]
     │   └ HAS PROPERTIES NUM (112191, DCM, "Breast tissue density") %       [TID 4002 rows 12-13]
     │       ├ HAS CONCEPT MOD Laterality (Both breasts / Right / Left breast)
     │       ├ HAS PROPERTIES CODE (129715009, SCT, "Breast composition") = CID 6000   (study, breasts)
     │       └ R-INFERRED FROM → Image Library IMAGE(s)                       (breasts, images)
     ├ CONTAINS CODE Summary of Detections = Not Attempted  (density is not a detection)
     └ CONTAINS CODE Summary of Analyses = CID 6042                          [TID 4016/4018]
         └ INFERRED FROM CONTAINER Successful / Failed Analyses
             └ CONTAINS CODE Analysis Performed = (133890006, SCT, "Breast composition analysis")
                 ├ HAS PROPERTIES TID 4019
                 └ R-HAS PROPERTIES → the images that succeeded / failed or were skipped

Why not a TID 4006 "Breast composition" Single Image Finding with TID 4007? It is the textbook
place, but the two validators we must pass cannot both accept it: PS3.3 Table A.35.5-2 (enforced by
dcmtk, which then refuses to read the file) forbids CODE → CONTAINS, while PixelMed's
DicomSRValidator (the Debian jar) requires the TID 4007 rows with relationship CONTAINS, and also
flags the by-reference INFERRED FROM of TID 4006 row 10 as the Image-Quality-only row 18.
Every placement of a category *inside* TID 4002 rows with value sets (rows 1, 3) is an error too
(CID 6026 / CID 6002 are not extensible). So the density is TID 4002 row 12 NUM per level (study,
each breast, each image), which both validators accept and any SR viewer shows as "Breast tissue
density = N %" with its laterality; the BI-RADS a-d category is a coded HAS PROPERTIES child of the
study/breast NUMs (permitted by A.35.5-2 row 6; PixelMed only warns "not in template") and is also
spelled out in the Impression Description, the item a workstation shows as the CAD summary text.
Decoding relies on the order written here: study NUM first, then breast NUMs (both with a
category), then image NUMs (without).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import BreastDensity, DensityAssessment
from breastgate.results import codes as c
from breastgate.results.sr_content import Code, Node

LOGGER = logging.getLogger(__name__)

_SIDE_NAMES = {"L": "Left breast", "R": "Right breast", "B": "Both breasts"}


@dataclass(frozen=True)
class AlgorithmIdentification:
    """PS3.16 TID 4019: name, version and free-text parameters."""

    name: str
    version: str
    parameters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not self.version:
            raise EncodingError("TID 4019 needs an algorithm name and version")

    def add_to(self, parent: Node, rel: str = "HAS PROPERTIES") -> None:
        """Append the TID 4019 items to ``parent``."""
        parent.add(Node("TEXT", rel, c.ALGORITHM_NAME, text=self.name))
        parent.add(Node("TEXT", rel, c.ALGORITHM_VERSION, text=self.version))
        for p in self.parameters:
            parent.add(Node("TEXT", rel, c.ALGORITHM_PARAMETERS, text=p))

    @classmethod
    def from_node(cls, node: Node) -> AlgorithmIdentification | None:
        """Decode the TID 4019 items below ``node``, or None when absent."""
        name, version = node.first(c.ALGORITHM_NAME, "TEXT"), node.first(c.ALGORITHM_VERSION, "TEXT")
        if name is None or version is None:
            return None
        params = tuple(n.text or "" for n in node.find(c.ALGORITHM_PARAMETERS, "TEXT"))
        return cls(name.text or "", version.text or "", params)


@dataclass(frozen=True)
class ImageLibraryEntry:
    """PS3.16 TID 4020 CAD Image Library Entry, built from an image header (no pixels needed)."""

    sop_class_uid: str
    sop_instance_uid: str
    laterality: str | None = None
    view: Code | None = None
    view_modifiers: tuple[Code, ...] = ()
    orientation: tuple[str, str] | None = None
    study_date: str | None = None
    study_time: str | None = None
    content_date: str | None = None
    content_time: str | None = None
    spacing_mm: tuple[float, float] | None = None
    primary_angle: float | None = None
    rows_columns: tuple[int, int] | None = None

    @classmethod
    def from_header(cls, ds: Dataset) -> ImageLibraryEntry:
        """Read the attributes TID 4020 rows 2-13 are conditional on."""
        try:
            sop_class, sop_inst = str(ds.SOPClassUID), str(ds.SOPInstanceUID)
        except AttributeError as exc:
            raise InvalidInputError("source image lacks SOP Class/Instance UID") from exc
        view = mods = None
        if ds.get("ViewCodeSequence"):
            item = ds.ViewCodeSequence[0]
            view = Code.from_dataset(item)
            mods = tuple(Code.from_dataset(m) for m in item.get("ViewModifierCodeSequence", []))
        orient = ds.get("PatientOrientation")
        orientation = (str(orient[0]), str(orient[1])) if orient and len(orient) == 2 else None
        spacing = ds.get("ImagerPixelSpacing") or ds.get("PixelSpacing")
        angle = ds.get("PositionerPrimaryAngle")
        lat = str(ds.get("ImageLaterality", "") or "") or None
        return cls(
            sop_class,
            sop_inst,
            laterality=lat if lat in c.SIDE_BY_LATERALITY else None,
            view=view,
            view_modifiers=mods or (),
            orientation=orientation,
            study_date=str(ds.get("StudyDate", "") or "") or None,
            study_time=str(ds.get("StudyTime", "") or "") or None,
            content_date=str(ds.get("ContentDate", "") or "") or None,
            content_time=str(ds.get("ContentTime", "") or "") or None,
            spacing_mm=(float(spacing[0]), float(spacing[1])) if spacing and len(spacing) == 2 else None,
            primary_angle=float(angle) if angle not in (None, "") else None,
            rows_columns=(int(ds.Rows), int(ds.Columns)) if ds.get("Rows") and ds.get("Columns") else None,
        )

    def to_node(self) -> Node:
        """The IMAGE item with its HAS ACQ CONTEXT rows (each only when the source has it)."""
        img = Node("IMAGE", "CONTAINS", sop=(self.sop_class_uid, self.sop_instance_uid))
        acq = "HAS ACQ CONTEXT"
        if self.laterality:
            img.add(Node("CODE", acq, c.IMAGE_LATERALITY, code=c.SIDE_BY_LATERALITY[self.laterality]))
        if self.view is not None:
            view = img.add(Node("CODE", acq, c.IMAGE_VIEW, code=self.view))
            for m in self.view_modifiers:
                view.add(Node("CODE", "HAS CONCEPT MOD", c.IMAGE_VIEW_MODIFIER, code=m))
        if self.orientation:
            img.add(Node("TEXT", acq, c.PATIENT_ORIENTATION_ROW, text=self.orientation[0]))
            img.add(Node("TEXT", acq, c.PATIENT_ORIENTATION_COLUMN, text=self.orientation[1]))
        for vt, concept, value in (
            ("DATE", c.STUDY_DATE, self.study_date),
            ("TIME", c.STUDY_TIME, self.study_time),
            ("DATE", c.CONTENT_DATE, self.content_date),
            ("TIME", c.CONTENT_TIME, self.content_time),
        ):
            if value:
                img.add(Node(vt, acq, concept, text=value))
        if self.spacing_mm:
            # Pixel Spacing is row spacing (vertical) \ column spacing (horizontal), PS3.3 10.7.1.3
            img.add(Node("NUM", acq, c.HORIZONTAL_PIXEL_SPACING, num=self.spacing_mm[1], units=c.MILLIMETER))
            img.add(Node("NUM", acq, c.VERTICAL_PIXEL_SPACING, num=self.spacing_mm[0], units=c.MILLIMETER))
        if self.primary_angle is not None:
            img.add(Node("NUM", acq, c.POSITIONER_PRIMARY_ANGLE, num=self.primary_angle, units=c.DEGREE))
        return img


@dataclass(frozen=True)
class DensityContent:
    """What TID 4000 says about density, decoded (or to encode)."""

    algorithm: AlgorithmIdentification
    density: DensityAssessment | None
    image_density: Mapping[str, tuple[str, float | None]] = field(default_factory=dict)
    succeeded: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    impression: str = ""
    library: tuple[tuple[str, str], ...] = ()


def _density_num(side: str, percent: float, category: str | None = None) -> Node:
    """TID 4002 rows 12-13: NUM (112191, DCM, "Breast tissue density") in % with its Laterality.

    With ``category``, the NUM also carries HAS PROPERTIES CODE (129715009, SCT, "Breast composition")
    = CID 6000 value (an item outside TID 4002: PixelMed warns, IOD table A.35.5-2 row 6 permits it).
    """
    if not 0.0 <= percent <= 100.0:
        raise EncodingError(f"percent density {percent!r} outside 0-100")
    num = Node("NUM", "HAS PROPERTIES", c.BREAST_TISSUE_DENSITY, num=percent, units=c.PERCENT)
    num.add(Node("CODE", "HAS CONCEPT MOD", c.LATERALITY, code=c.SIDE_BY_LATERALITY[side]))
    if category is not None:
        if category not in c.COMPOSITION_BY_CATEGORY:
            raise EncodingError(f"breast composition category {category!r} is not one of a-d")
        code = c.COMPOSITION_BY_CATEGORY[category]
        num.add(Node("CODE", "HAS PROPERTIES", c.BREAST_COMPOSITION, code=code))
    return num


def _check_density(dens: DensityAssessment) -> None:
    """Reject categories outside BI-RADS a-d, percentages outside 0-100 and unknown sides."""
    levels = [
        (dens.category, dens.percent_dense),
        *((b.category, b.percent_dense) for b in dens.per_breast.values()),
    ]
    for category, percent in levels:
        if category not in c.COMPOSITION_BY_CATEGORY:
            raise EncodingError(f"breast composition category {category!r} is not one of a-d")
        if not 0.0 <= percent <= 100.0:
            raise EncodingError(f"percent density {percent!r} outside 0-100")
    if set(dens.per_breast) - {"L", "R"}:
        raise EncodingError(f"per-breast density keys must be L or R, got {sorted(dens.per_breast)}")


def _describe(side: str, category: str, percent: float) -> str:
    meaning = c.COMPOSITION_BY_CATEGORY[category].meaning
    return (
        f"{_SIDE_NAMES[side]}: breast density (BI-RADS 5th ed.) {category} ({meaning}), {percent:.1f} % dense"
    )


def build_tree(content: DensityContent, entries: Sequence[ImageLibraryEntry]) -> Node:
    """Build the TID 4000 content tree."""
    algo = content.algorithm
    root = Node("CONTAINER", concept=c.MAMMO_CAD_REPORT, template="4000")
    root.add(Node("CODE", "HAS CONCEPT MOD", c.LANGUAGE, code=c.ENGLISH))
    library = root.add(Node("CONTAINER", "CONTAINS", c.IMAGE_LIBRARY))
    images = {e.sop_instance_uid: library.add(e.to_node()) for e in entries}
    if not images:
        raise EncodingError("TID 4000 needs at least one Image Library entry")

    ok = [u for u in content.succeeded if u in images]
    bad = [u for u in content.failed if u in images]
    dens = content.density
    if ok and not bad:
        status, summary = (
            c.SUCCEEDED,
            (c.ALL_SUCCEEDED_WITH_FINDINGS if dens else c.ALL_SUCCEEDED_NO_FINDINGS),
        )
    elif ok:
        status = c.PARTIALLY_SUCCEEDED
        summary = c.NOT_ALL_SUCCEEDED_WITH_FINDINGS if dens else c.NOT_ALL_SUCCEEDED_NO_FINDINGS
    elif bad:
        status, summary = c.FAILED, c.NONE_SUCCEEDED
    else:
        status = c.NOT_ATTEMPTED
        summary = c.ALL_SUCCEEDED_WITH_FINDINGS if dens else c.NONE_SUCCEEDED

    cad = root.add(Node("CODE", "CONTAINS", c.CAD_SUMMARY, code=summary))
    lines = [content.impression]
    if dens is not None:
        _check_density(dens)
        lines += _density_lines(dens)
    cad.add(Node("TEXT", "HAS PROPERTIES", c.IMPRESSION_DESCRIPTION, text="\n".join(lines)))
    algo.add_to(cad)
    if dens is not None:
        _add_density_nums(cad, dens, content, entries, images)

    # Density is an analysis, not a detection: TID 4000 row 7 is absent when row 6 is Not Attempted.
    root.add(Node("CODE", "CONTAINS", c.SUMMARY_OF_DETECTIONS, code=c.NOT_ATTEMPTED))
    analyses = root.add(Node("CODE", "CONTAINS", c.SUMMARY_OF_ANALYSES, code=status))
    for container, uids in ((c.SUCCESSFUL_ANALYSES, ok), (c.FAILED_ANALYSES, bad)):
        if not uids:
            continue
        box = analyses.add(Node("CONTAINER", "INFERRED FROM", container))
        performed = box.add(
            Node("CODE", "CONTAINS", c.ANALYSIS_PERFORMED, code=c.BREAST_COMPOSITION_ANALYSIS)
        )
        algo.add_to(performed)
        for uid in uids:
            performed.add(Node("IMAGE", "HAS PROPERTIES", ref=images[uid]))
    return root


def _study_side(dens: DensityAssessment) -> str:
    sides = [s for s in ("R", "L") if s in dens.per_breast]
    return sides[0] if len(sides) == 1 else "B"


def _density_lines(dens: DensityAssessment) -> list[str]:
    lines = ["Study - " + _describe(_study_side(dens), dens.category, dens.percent_dense)]
    for side in ("R", "L"):
        breast = dens.per_breast.get(side)
        if breast is not None:
            lines.append(_describe(side, breast.category, breast.percent_dense))
    return lines


def _add_density_nums(
    cad: Node,
    dens: DensityAssessment,
    content: DensityContent,
    entries: Sequence[ImageLibraryEntry],
    images: Mapping[str, Node],
) -> None:
    """Study NUM, one NUM per breast (R-INFERRED FROM its images), then one NUM per image."""
    by_uid = {e.sop_instance_uid: e for e in entries}
    cad.add(_density_num(_study_side(dens), dens.percent_dense, dens.category))
    for side in ("R", "L"):
        breast = dens.per_breast.get(side)
        if breast is None:
            continue
        num = cad.add(_density_num(side, breast.percent_dense, breast.category))
        for uid in breast.sop_instance_uids:
            if uid not in images:
                raise EncodingError(f"breast density references image {uid} that is not in the library")
            num.add(Node("IMAGE", "INFERRED FROM", ref=images[uid]))
    for uid, (_, percent) in content.image_density.items():
        entry = by_uid.get(uid)
        if percent is None or entry is None:
            continue
        num = cad.add(_density_num(entry.laterality or "B", percent))
        num.add(Node("IMAGE", "INFERRED FROM", ref=images[uid]))


def _side(node: Node) -> str | None:
    lat = node.first(c.LATERALITY, "CODE")
    return c.laterality_of(lat.code) if lat is not None and lat.code is not None else None


def _category(node: Node) -> str | None:
    code = node.first(c.BREAST_COMPOSITION, "CODE")
    return c.category_of(code.code) if code is not None and code.code is not None else None


def _image_refs(node: Node) -> tuple[str, ...]:
    return tuple(ch.ref.sop[1] for ch in node.children if ch.ref is not None and ch.ref.sop is not None)


def decode_tree(root: Node) -> DensityContent:
    """Read back what :func:`build_tree` wrote (tolerant of extra items)."""
    if not c.MAMMO_CAD_REPORT.same(root.concept):
        raise InvalidInputError("not a TID 4000 Mammography CAD Report")
    library = root.first(c.IMAGE_LIBRARY, "CONTAINER")
    lib = tuple(n.sop for n in (library.children if library else []) if n.sop is not None)
    cad = root.first(c.CAD_SUMMARY, "CODE")
    if cad is None:
        raise InvalidInputError("CAD Processing and Findings Summary missing")
    algo = AlgorithmIdentification.from_node(cad)
    if algo is None:
        raise InvalidInputError("Algorithm Identification missing from the CAD summary")
    impression = cad.first(c.IMPRESSION_DESCRIPTION, "TEXT")

    # Written in order: the study NUM, one NUM per breast (both with a category), then image NUMs.
    nums = cad.find(c.BREAST_TISSUE_DENSITY, "NUM")
    levels = [(n, _category(n)) for n in nums if _category(n) is not None]
    density = None
    image_density: dict[str, tuple[str, float | None]] = {}
    if levels:
        study_num, study_category = levels[0]
        per_breast: dict[str, BreastDensity] = {}
        for num, category in levels[1:]:
            side = _side(num)
            if side in ("L", "R") and category is not None:
                per_breast[side] = BreastDensity(side, category, num.num or 0.0, _image_refs(num))
        density = DensityAssessment(study_category or "", study_num.num or 0.0, per_breast)
        for num in nums:
            if _category(num) is not None:
                continue
            breast = per_breast.get(_side(num) or "")
            for uid in _image_refs(num):
                image_density[uid] = (breast.category if breast else density.category, num.num)

    succeeded: list[str] = []
    failed: list[str] = []
    analyses = root.first(c.SUMMARY_OF_ANALYSES, "CODE")
    for container, bucket in ((c.SUCCESSFUL_ANALYSES, succeeded), (c.FAILED_ANALYSES, failed)):
        box = analyses.first(container, "CONTAINER") if analyses else None
        for performed in box.find(c.ANALYSIS_PERFORMED, "CODE") if box else []:
            bucket.extend(ch.ref.sop[1] for ch in performed.children if ch.ref is not None and ch.ref.sop)
    return DensityContent(
        algorithm=algo,
        density=density,
        image_density=image_density,
        succeeded=tuple(succeeded),
        failed=tuple(failed),
        impression=(impression.text or "") if impression else "",
        library=lib,
    )
