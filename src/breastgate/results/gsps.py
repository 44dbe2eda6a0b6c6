"""Grayscale Softcopy Presentation State Storage (PS3.3 A.33.1, SOP Class 1.2.840.10008.5.1.4.1.1.11.1).

:class:`GrayscaleSoftcopyPresentationState` draws AI marks over the source For Presentation images
(what goes where, tomosynthesis slice and scroll-bar layers included: :mod:`.gsps_graphics`) in
image coordinates (column, row), as in the domain :class:`~breastgate.domain.model.Mark` and SR
SCOORD: GSPS PIXEL units (PS3.3 C.10.5.1.2), written unchanged. Placement follows DESIGN §4: same
study (Patient and General Study copied), a new series, deterministic UIDs; Sectra's own tooling
writes marks the same way (reference/sectra.md §3.4), referencing the exact source images.

Written with highdicom's presentation-state content (PS3.3 C.10.5, C.10.7, C.11.8): one
:class:`highdicom.pr.GraphicLayer` per layer, a :class:`highdicom.pr.GraphicGroup` per finding (its
outline, circles, label and per-slice outlines move and hide together), a
:class:`highdicom.pr.GraphicAnnotation` of :class:`highdicom.pr.GraphicObject` and
:class:`highdicom.pr.TextObject` per (image, frames, layer), image references as
:class:`highdicom.ReferencedImageSequence`, the window as
:class:`highdicom.pr.SoftcopyVOILUTTransformation`, Modality and Presentation LUT as
:class:`highdicom.ModalityLUTTransformation` and :class:`highdicom.PresentationLUTTransformation`.
The SOP instance around them is ours, not :class:`highdicom.pr.GrayscaleSoftcopyPresentationState`,
whose constructor (highdicom 0.28.2; deliberate since highdicom PR #139) cannot write this object:
it refuses referenced images of different Rows/Columns (a mammogram's views may come from
different detector formats, a tomosynthesis volume and its synthesized view have different grids;
PS3.3 A.33.1 allows it), and more than one referenced image when one is multi-frame unless given a
Modality LUT (the DBT GSPS references both volumes, which have none at the top level); it also
writes the Presentation State Relationship without Referenced Frame Number and one Displayed Area
for all images, sized by the first. Also ours:

- the Displayed Area items (C.10.4), one per image and frames, with the pixel aspect ratio of its
  spacing (highdicom has no public builder for them);
- the layer colours: PS3.3 C.10.7.1.1 wants CIELab in the ICC PCS (D50 illuminant), while
  ``CIELabColor.from_rgb`` converts with the D65 white point, so :func:`cielab` computes the value
  and highdicom gets it with ``CIELabColor.from_dicom_value``; Recommended Display Grayscale Value
  (white), which :class:`~highdicom.pr.GraphicLayer` does not take, is added to each layer;
- a source VOI LUT Sequence is copied as it is: ``highdicom.VOILUT`` re-encodes LUT Data with 8 or
  16 bits per entry from a numpy dtype (a 12-bit LUT would change meaning) and refuses negative
  first mapped values.

A GSPS applies to grayscale images only (PS3.4 N.2: its pipeline ends in P-Values): it refuses a
colour source (RGB, YBR, PALETTE COLOR; :func:`is_colour`); colour images get the same marks in a
Color Softcopy Presentation State (:mod:`breastgate.results.csps`), written by the subclass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from copy import deepcopy
from datetime import datetime
from typing import Any

from highdicom import ModalityLUTTransformation, PresentationLUTTransformation, ReferencedImageSequence
from highdicom.color import CIELabColor
from highdicom.pr import GraphicAnnotation, GraphicGroup, GraphicLayer, SoftcopyVOILUTTransformation
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import Finding
from breastgate.imaging.pixels import laterality_of, spacing_of
from breastgate.results.gsps_decoded import DecodedGraphic, DecodedGSPS, DecodedText, image_refs
from breastgate.results.gsps_graphics import (
    KIND_STYLES,
    NOTICE_LAYER,
    NOTICE_STYLE,
    SCROLL_LAYER,
    SCROLL_STYLE,
    SLICE_LAYER,
    SLICE_STYLE,
    GraphicPlan,
    KindStyle,
    cielab,
    graphic_object,
    mark_label,
    size_of,
    text_object,
)
from breastgate.results.placement import (
    attach_file_meta,
    creation_datetime,
    highdicom_refusal,
    new_instance,
    one_study,
)
from breastgate.results.uids import derive_uid

__all__ = [
    "CONTENT_LABEL",
    "DEFAULT_SERIES_NUMBER",
    "GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE",
    "KIND_STYLES",
    "NOTICE",
    "NOTICE_LAYER",
    "SCROLL_LAYER",
    "SLICE_LAYER",
    "DecodedGSPS",
    "DecodedGraphic",
    "DecodedText",
    "GrayscaleSoftcopyPresentationState",
    "KindStyle",
    "cielab",
    "decode_gsps",
    "is_colour",
    "mark_label",
    "series_laterality",
]

LOGGER = logging.getLogger(__name__)

GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE = "1.2.840.10008.5.1.4.1.1.11.1"
DEFAULT_SERIES_NUMBER = 9902
CONTENT_LABEL = "BG_AI_MARKS"
#: Text written once on every referenced image (the default ``label``).
NOTICE = "AI output – not for diagnostic use"


def is_colour(ds: Dataset) -> bool:
    """True for a colour image: three samples per pixel (RGB, YBR_*) or PALETTE COLOR (PS3.4 N.2
    sends both through the colour pipeline of a Color Softcopy Presentation State)."""
    photometric = str(ds.get("PhotometricInterpretation", "") or "").upper()
    return int(ds.get("SamplesPerPixel", 1) or 1) == 3 or photometric == "PALETTE COLOR"


def series_laterality(images: Iterable[Dataset]) -> str:
    """Laterality (0020,0060) of an output series: R or L when all images show one breast, else empty.

    Type 2C in General Series for paired body parts (dciodvfy asks for it); empty = both breasts.
    """
    sides = {laterality_of(ds) for ds in images}
    return sides.pop() or "" if len(sides) == 1 else ""


def _voi_of(ds: Dataset, frame: int | None, refs: ReferencedImageSequence) -> Dataset | None:
    """The image's first window as a Softcopy VOI LUT item (C.11.8) applying to ``refs``, else its
    first VOI LUT Sequence item copied as it is (see the module docstring), else None."""
    holders = [ds]
    for seq in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        groups = ds.get(seq) or []
        index = (frame or 1) - 1 if seq.startswith("PerFrame") else 0
        if index < len(groups):
            holders.extend(groups[index].get("FrameVOILUTSequence") or [])
    for holder in holders:
        centre, width = holder.get("WindowCenter"), holder.get("WindowWidth")
        if centre is None or width is None or str(centre) == "" or str(width) == "":
            continue
        explanation = holder.get("WindowCenterWidthExplanation")
        function = str(holder.get("VOILUTFunction", "") or "")
        try:  # one-element lists: highdicom 0.28.2 turns a str explanation into its characters
            return SoftcopyVOILUTTransformation(
                window_center=[float(_first(centre))],
                window_width=[float(_first(width))],
                window_explanation=[str(_first(explanation))[:64]] if explanation else None,
                voi_lut_function=function if function in ("LINEAR", "LINEAR_EXACT", "SIGMOID") else None,
                referenced_images=refs,
            )
        except (TypeError, ValueError) as exc:  # a window PS3.3 C.11.2.1.2 does not allow
            LOGGER.warning("GSPS: window of image %s left out: %s", ds.get("SOPInstanceUID"), exc)
            return None
    luts = ds.get("VOILUTSequence") or []
    if not luts:
        return None
    item = Dataset()
    item.ReferencedImageSequence = refs
    item.VOILUTSequence = DicomSequence([deepcopy(luts[0])])
    return item


def _first(value: Any) -> Any:
    """First value of a possibly multi-valued attribute."""
    return value[0] if isinstance(value, (MultiValue, list, tuple)) else value


class GrayscaleSoftcopyPresentationState:
    """A GSPS showing the marks of ``findings`` on the source images (PS3.3 A.33.1).

    Parameters
    ----------
    findings
        The findings whose marks are drawn; marks on images without a header in ``sources`` (or
        on For Processing images) are left out with a warning.
    sources
        Headers of the study's images (pixel data not needed); all must share one study.
    algorithm_id, algorithm_version
        The algorithm that produced the findings (Content Description, deterministic UIDs).
    label
        Notice written once on every referenced image.
    created
        Presentation Creation Date/Time; default: the study date and time, so the output depends
        only on the inputs.

    Raises
    ------
    EncodingError
        No mark lands on a usable source image, a frame number is out of range, the images mix
        MONOCHROME1 and MONOCHROME2, a marked image is colour, or the sources span several studies.
    """

    #: SOP Class written and the kind its UIDs derive from (:func:`~breastgate.results.uids.derive_uid`).
    SOP_CLASS_UID = GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE
    UID_KIND = "gsps"
    #: Series Number when the caller gives none.
    SERIES_NUMBER = DEFAULT_SERIES_NUMBER

    def __init__(
        self,
        findings: Sequence[Finding],
        sources: Sequence[Dataset],
        algorithm_id: str,
        algorithm_version: str,
        label: str = NOTICE,
        *,
        created: datetime | None = None,
        series_number: int | None = None,
        instance_number: int = 1,
    ) -> None:
        if not sources:
            raise EncodingError("a GSPS needs at least one source image")
        study_instance_uid = one_study(sources)
        if not label.strip() or len(label) > 1024:
            raise EncodingError("the notice label must be 1..1024 characters (ST)")
        self.findings = tuple(findings)
        self.sources = tuple(sources)
        self.algorithm_id = algorithm_id
        self.algorithm_version = algorithm_version
        self.label = label
        self.series_number = self.SERIES_NUMBER if series_number is None else series_number
        self.instance_number = instance_number
        self.study_instance_uid = study_instance_uid
        self.creation_date, self.creation_time = creation_datetime(self.sources, created)
        self._by_uid = {str(s.SOPInstanceUID): s for s in self.sources}
        plan = GraphicPlan(self.findings, self._by_uid, label)
        self.groups, self.annotations, self.referenced = plan.groups, plan.annotations, plan.referenced
        if not self.annotations:
            raise EncodingError("no mark lands on a For Presentation source image: nothing to present")
        self._check_sources()  # fail now, not at write time
        with highdicom_refusal("GSPS graphics"):  # checked against each image: fail now
            self._content = self._graphics()
        inputs = [self.study_instance_uid, *sorted(self._by_uid)]
        self.sop_instance_uid = derive_uid(self.UID_KIND, algorithm_id, algorithm_version, inputs)
        self.series_instance_uid = derive_uid(
            f"{self.UID_KIND}-series", algorithm_id, algorithm_version, [self.study_instance_uid]
        )

    def _check_sources(self) -> None:
        """A GSPS presents grayscale images only (PS3.3 A.33.1)."""
        colour = sorted(uid for uid in self.referenced if is_colour(self._by_uid[uid]))
        if colour:
            raise EncodingError(
                f"a GSPS cannot present colour image {colour[0]}: use a Color Softcopy Presentation State"
            )
        self._photometric()

    def _photometric(self) -> str:
        kinds = {
            str(self._by_uid[uid].get("PhotometricInterpretation", "MONOCHROME2")).upper()
            for uid in self.referenced
        }
        if kinds == {"MONOCHROME1"}:
            return "INVERSE"
        if "MONOCHROME1" in kinds:
            raise EncodingError(
                "referenced images mix MONOCHROME1 and MONOCHROME2: one GSPS cannot show both"
            )
        return "IDENTITY"

    # ---- writing: highdicom presentation-state content in our SOP instance -------------------

    def _graphics(self) -> tuple[list[GraphicGroup], list[GraphicLayer], list[GraphicAnnotation]]:
        """Graphic Group, Graphic Layer and Graphic Annotation items (C.10.5, C.10.7)."""
        groups = {
            gid: GraphicGroup(gid, (finding.id or f"finding {gid}")[:64], mark_label(finding))
            for gid, finding in self.groups.items()
        }
        layers = self._layers()
        annotations = []
        for ann in self.annotations:
            src = self._by_uid[ann.sop_instance_uid]
            frames = None if not ann.frames else (ann.frames[0] if len(ann.frames) == 1 else list(ann.frames))
            annotations.append(
                GraphicAnnotation(
                    [src],
                    layers[ann.layer],
                    referenced_frame_number=frames,
                    graphic_objects=[graphic_object(g, groups) for g in ann.graphics] or None,
                    text_objects=[text_object(t, groups) for t in ann.texts] or None,
                )
            )
        return list(groups.values()), list(layers.values()), annotations

    def _layers(self) -> dict[str, GraphicLayer]:
        """One layer per kind drawn, then the slice, scroll-bar and notice layers (C.10.7)."""
        used = {a.layer for a in self.annotations}
        styles = [*KIND_STYLES.values(), SLICE_STYLE, SCROLL_STYLE, NOTICE_STYLE]
        described = {
            NOTICE_LAYER: "AI output notice",
            SLICE_LAYER: "Finding outline on every slice it spans",
            SCROLL_LAYER: "Where the findings lie along the stack",
        }
        layers = {}
        for order, style in enumerate(styles, start=1):
            if style.layer not in used:
                continue
            description = described.get(style.layer, f"{style.word} marks ({self.algorithm_id})"[:64])
            colour = CIELabColor.from_dicom_value(cielab(style.rgb))
            layer = GraphicLayer(style.layer, order, description, colour)
            layer.GraphicLayerRecommendedDisplayGrayscaleValue = 0xFFFF
            layers[style.layer] = layer
        return layers

    @property
    def dataset(self) -> Dataset:
        """Same as :meth:`to_dataset` (a new Dataset each time)."""
        return self.to_dataset()

    def to_dataset(self) -> Dataset:
        """The complete GSPS instance with file meta (Explicit VR Little Endian)."""
        ds = self._presentation_state()
        self._modality_lut(ds)  # Modality LUT (C.11.1)
        # Softcopy VOI LUT (C.11.8): the image's own first window
        voi = self._voi_items()
        if voi:
            ds.SoftcopyVOILUTSequence = DicomSequence(voi)
        # Softcopy Presentation LUT (C.11.6)
        ds.update(PresentationLUTTransformation(presentation_lut_shape=self._photometric()))
        attach_file_meta(ds)
        return ds

    def _presentation_state(self) -> Dataset:
        """What every softcopy presentation state we write has: series, identification,
        relationship, displayed area and the graphics (C.11.9-C.11.11, C.10.4, C.10.5, C.10.7)."""
        ds = new_instance(
            self.SOP_CLASS_UID,
            self.sop_instance_uid,
            self.sources[0],
            created=(self.creation_date, self.creation_time),
            modality="PR",  # General Series + Presentation Series (C.7.3.1, C.11.9)
            series_instance_uid=self.series_instance_uid,
            series_number=self.series_number,
            series_description=f"breastgate {self.algorithm_id} AI marks - not for diagnostic use",
            model_name=self.algorithm_id,
            software_version=self.algorithm_version,
        )
        ds.Laterality = series_laterality(self._by_uid[uid] for uid in self.referenced)
        # Presentation State Identification (C.11.10)
        ds.InstanceNumber = self.instance_number
        ds.ContentLabel = CONTENT_LABEL
        ds.ContentDescription = f"AI marks {self.algorithm_id} {self.algorithm_version}"[:64]
        ds.PresentationCreationDate, ds.PresentationCreationTime = self.creation_date, self.creation_time
        ds.ContentCreatorName = "breastgate^AI"
        # Presentation State Relationship (C.11.11)
        ds.ReferencedSeriesSequence = self._referenced_series()
        # Displayed Area (C.10.4): whole image, scaled to fit
        ds.DisplayedAreaSelectionSequence = DicomSequence(
            [self._displayed_area(uid, frames) for uid, frames in self.referenced.items()]
        )
        # Graphic Group, Graphic Annotation and Graphic Layer (C.10.5, C.10.7)
        groups, layers, annotations = deepcopy(self._content)
        if groups:
            ds.GraphicGroupSequence = DicomSequence(groups)
        ds.GraphicAnnotationSequence = DicomSequence(annotations)
        ds.GraphicLayerSequence = DicomSequence(layers)
        return ds

    def _image_ref(self, uid: str, frames: tuple[int, ...]) -> ReferencedImageSequence:
        """Image SOP Instance Reference (C.10.3) of one image, with its frames when it has some."""
        number = None if not frames else (frames[0] if len(frames) == 1 else list(frames))
        return ReferencedImageSequence([self._by_uid[uid]], referenced_frame_number=number)

    def _referenced_series(self) -> DicomSequence:
        by_series: dict[str, list[Dataset]] = {}
        for uid, frames in self.referenced.items():
            series = str(self._by_uid[uid].get("SeriesInstanceUID", ""))
            if not series:
                raise InvalidInputError(f"source image {uid} lacks Series Instance UID")
            by_series.setdefault(series, []).extend(self._image_ref(uid, frames))
        items = []
        for series_uid, refs in by_series.items():
            item = Dataset()
            item.SeriesInstanceUID = series_uid
            item.ReferencedImageSequence = DicomSequence(refs)
            items.append(item)
        return DicomSequence(items)

    def _modality_lut(self, ds: Dataset) -> None:
        """Rescale Slope/Intercept/Type when every referenced image has the same (C.11.1)."""
        values = {
            (
                str(self._by_uid[uid].get("RescaleSlope", "")),
                str(self._by_uid[uid].get("RescaleIntercept", "")),
                str(self._by_uid[uid].get("RescaleType", "") or "US"),
            )
            for uid in self.referenced
        }
        if len(values) != 1:
            LOGGER.warning("GSPS: referenced images differ in Rescale Slope/Intercept; none applied")
            return
        slope, intercept, kind = values.pop()
        if slope and intercept:
            ds.update(ModalityLUTTransformation(float(intercept), float(slope), kind))

    def _displayed_area(self, uid: str, frames: tuple[int, ...]) -> Dataset:
        src = self._by_uid[uid]
        rows, cols = size_of(src)
        item = Dataset()
        item.ReferencedImageSequence = self._image_ref(uid, frames)
        item.DisplayedAreaTopLeftHandCorner = [1, 1]
        item.DisplayedAreaBottomRightHandCorner = [cols, rows]
        item.PresentationSizeMode = "SCALE TO FIT"
        spacing = spacing_of(src)
        if spacing is None or abs(spacing[0] - spacing[1]) < 1e-9:
            item.PresentationPixelAspectRatio = [1, 1]
        else:
            item.PresentationPixelAspectRatio = [round(spacing[0] * 10000), round(spacing[1] * 10000)]
        return item

    def _voi_items(self) -> list[Dataset]:
        items = []
        for uid, frames in self.referenced.items():
            item = _voi_of(self._by_uid[uid], frames[0] if frames else None, self._image_ref(uid, frames))
            if item is None:
                LOGGER.warning("GSPS: image %s has no window or VOI LUT; shown without VOI", uid)
                continue
            items.append(item)
        return items

    # ---- reading -------------------------------------------------------------------------------

    @classmethod
    def from_dataset(cls, ds: Dataset) -> DecodedGSPS:
        """Decode a GSPS (tolerant: annotations without image references apply to every image)."""
        if str(ds.get("SOPClassUID", "")) != cls.SOP_CLASS_UID:
            raise InvalidInputError(f"not a {cls.__name__}")
        referenced = image_refs(
            [
                ref
                for s in ds.get("ReferencedSeriesSequence", [])
                for ref in s.get("ReferencedImageSequence", [])
            ]
        )
        graphics: list[DecodedGraphic] = []
        types: list[str] = []
        texts: list[DecodedText] = []
        for ann in ds.get("GraphicAnnotationSequence", []):
            targets = image_refs(ann.get("ReferencedImageSequence", [])) or referenced
            layer = str(ann.get("GraphicLayer", ""))
            for uid, frame in targets:
                for obj in ann.get("GraphicObjectSequence", []):
                    data = [float(v) for v in obj.get("GraphicData", [])]
                    points = list(zip(data[0::2], data[1::2], strict=False))
                    graphics.append(DecodedGraphic(uid, frame, layer, points))
                    types.append(str(obj.get("GraphicType", "")))
                for obj in ann.get("TextObjectSequence", []):
                    texts.append(DecodedText(uid, frame, layer, str(obj.get("UnformattedTextValue", ""))))
        layers = {
            str(item.GraphicLayer): (
                int(item.get("GraphicLayerOrder", 0)),
                [int(v) for v in item.GraphicLayerRecommendedDisplayCIELabValue]
                if "GraphicLayerRecommendedDisplayCIELabValue" in item
                else None,
            )
            for item in ds.get("GraphicLayerSequence", [])
        }
        windows: dict[str, tuple[float, float]] = {}
        for item in ds.get("SoftcopyVOILUTSequence", []):
            if "WindowCenter" in item:
                for uid, _ in image_refs(item.get("ReferencedImageSequence", [])) or referenced:
                    windows[uid] = (float(_first(item.WindowCenter)), float(_first(item.WindowWidth)))
        return DecodedGSPS(
            sop_instance_uid=str(ds.SOPInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            content_label=str(ds.get("ContentLabel", "")),
            content_description=str(ds.get("ContentDescription", "")),
            referenced=tuple(referenced),
            layers=layers,
            graphics=tuple(graphics),
            graphic_types=tuple(types),
            texts=tuple(texts),
            windows=windows,
        )


def decode_gsps(ds: Dataset) -> list[DecodedGraphic]:
    """Every graphic object as (sop_instance_uid, frame, layer, points), one entry per frame."""
    return list(GrayscaleSoftcopyPresentationState.from_dataset(ds).graphics)
