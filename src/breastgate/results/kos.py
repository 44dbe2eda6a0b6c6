"""Key Object Selection Document Storage (PS3.3 A.35.4, SOP Class 1.2.840.10008.5.1.4.1.1.88.59).

:class:`KeyObjectSelectionDocument` flags the images (for tomosynthesis, the frames) on which an
algorithm's suspicious findings lie, so a PACS can offer them as key images. Content follows
PS3.16 TID 2010 Key Object Selection: title (113000, DCM, "Of Interest") from CID 7010, a
(113012, DCM, "Key Object Description") TEXT saying the selection is AI output, not for
diagnostic use, then one IMAGE item per key image, with Referenced Frame Number (0008,1160) for
multi-frame images (the frames the findings span). Placement follows DESIGN §4: same study
(Patient and General Study copied), a new series, deterministic UIDs, and the Current Requested
Procedure Evidence Sequence listing the key images. Sectra's own tooling writes KOS this way,
frame-level included (reference/sectra.md §1.2). When the caller passes the presentation states
written for the marks (``presentation_states``), each IMAGE item also references the one that
presents its image (PS3.3 Table 10-3, Referenced SOP Sequence (0008,1199) nested in the image
reference): the GSPS for a grayscale image, the Color Softcopy Presentation State for a colour
one; they join the evidence, so a PACS opens the key image with the AI marks on.

Written by :class:`highdicom.ko.KeyObjectSelectionDocument` from highdicom content items.
highdicom's :class:`highdicom.ko.KeyObjectSelection` constructor references whole instances
only, so the TID 2010 tree is built here from :class:`highdicom.sr.ImageContentItem` (which takes
frame numbers) and handed over with ``KeyObjectSelection.from_sequence``. highdicom names every
IMAGE item (260753009, SCT, "Source") (its content items require a concept name, and its parser
adds that one where none is); TID 2010 row 8 forbids a purpose of reference on IMAGE (PixelMed's
DicomSRValidator reports it as an error), so the written document's IMAGE items lose it again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from highdicom.ko import KeyObjectSelection
from highdicom.ko import KeyObjectSelectionDocument as HdKeyObjectSelectionDocument
from highdicom.sr import (
    ContainerContentItem,
    ContentItem,
    ContentSequence,
    ImageContentItem,
    TextContentItem,
)
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import Finding
from breastgate.results.placement import (
    creation_datetime,
    finish_instance,
    header_view,
    highdicom_fields,
    highdicom_refusal,
    one_study,
)
from breastgate.results.sr_content import Code, decode_content
from breastgate.results.uids import derive_uid

LOGGER = logging.getLogger(__name__)

KEY_OBJECT_SELECTION_DOCUMENT_STORAGE = "1.2.840.10008.5.1.4.1.1.88.59"
DEFAULT_SERIES_NUMBER = 9905
#: Document title (CID 7010) and the description item of TID 2010.
OF_INTEREST = Code("113000", "DCM", "Of Interest")
KEY_OBJECT_DESCRIPTION = Code("113012", "DCM", "Key Object Description")
#: The concept name highdicom requires on IMAGE items; removed from the document (TID 2010 row 8).
SOURCE = Code("260753009", "SCT", "Source")


def description_text(algorithm_id: str, version: str, count: int) -> str:
    """The Key Object Description: what selected the images, and that it is not diagnostic."""
    noun = "finding" if count == 1 else "findings"
    return (
        f"AI output ({algorithm_id} {version}) - not for diagnostic use. "
        f"Key images of {count} suspicious {noun} at or above the operating point."
    )


@dataclass(frozen=True)
class DecodedKOS:
    """What :meth:`KeyObjectSelectionDocument.from_dataset` returns."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    title: Code | None
    description: str
    #: (SOP Instance UID, frames) of each IMAGE item; empty frames = the whole image.
    images: tuple[tuple[str, tuple[int, ...]], ...]
    evidence: tuple[str, ...]
    #: (image SOP Instance UID, presentation state SOP Class UID, its SOP Instance UID) per IMAGE
    #: item that references a presentation state.
    presentation_states: tuple[tuple[str, str, str], ...] = ()


class KeyObjectSelectionDocument:
    """A KOS flagging the key images of ``findings`` (PS3.3 A.35.4, PS3.16 TID 2010).

    Parameters
    ----------
    findings
        The findings whose images are key (the caller passes those at or above the operating
        point); marks on images without a header in ``sources``, or on For Processing images,
        are left out with a warning.
    sources
        Headers of the study's images (pixel data not needed); all must share one study.
    algorithm_id, algorithm_version
        The algorithm that produced the findings (description, deterministic UIDs).
    created
        Content Date/Time; default: the study date and time, so the output depends only on the
        inputs.
    presentation_states
        GSPS / CSPS datasets of the marks: each key image's IMAGE item references the one whose
        Presentation State Relationship lists the image (the first, if several do).

    Raises
    ------
    EncodingError
        No mark lands on a usable source image, a mark's frames lie wholly outside its image (an
        extent reaching past the last frame is clipped), or the sources span several studies.
    """

    def __init__(
        self,
        findings: Sequence[Finding],
        sources: Sequence[Dataset],
        algorithm_id: str,
        algorithm_version: str,
        *,
        created: datetime | None = None,
        series_number: int = DEFAULT_SERIES_NUMBER,
        instance_number: int = 1,
        presentation_states: Sequence[Dataset] = (),
    ) -> None:
        if not sources:
            raise EncodingError("a KOS needs at least one source image")
        study_instance_uid = one_study(sources)
        self.findings = tuple(findings)
        self.sources = tuple(sources)
        self.algorithm_id = algorithm_id
        self.algorithm_version = algorithm_version
        self.series_number = series_number
        self.instance_number = instance_number
        self.study_instance_uid = study_instance_uid
        self.content_date, self.content_time = creation_datetime(self.sources, created)
        self._by_uid = {str(s.SOPInstanceUID): s for s in self.sources}
        self.key_images = self._plan()
        if not self.key_images:
            raise EncodingError("no finding lands on a For Presentation source image: no key image")
        self.states = _presenting(presentation_states, set(self.key_images))
        inputs = [self.study_instance_uid, *sorted(self._by_uid)]
        self.sop_instance_uid = derive_uid("kos", algorithm_id, algorithm_version, inputs)
        self.series_instance_uid = derive_uid(
            "kos-series", algorithm_id, algorithm_version, [self.study_instance_uid]
        )

    def _plan(self) -> dict[str, tuple[int, ...]]:
        """Key images in source order, each with its frames (empty: single-frame image)."""
        frames: dict[str, set[int]] = {}
        for finding in self.findings:
            for mark in finding.marks:
                src = self._by_uid.get(mark.sop_instance_uid)
                if src is None:
                    LOGGER.warning("KOS: finding %s marks an image without a source header", finding.id)
                    continue
                if str(src.get("PresentationIntentType", "")).upper() == "FOR PROCESSING":
                    LOGGER.warning("KOS: finding %s marks a For Processing image; left out", finding.id)
                    continue
                chosen = frames.setdefault(mark.sop_instance_uid, set())
                count = _frames_of(src)
                extent = mark.frame_extent()
                if count == 1 or extent is None:
                    if extent not in (None, (1, 1)):
                        raise EncodingError(f"finding {finding.id}: frames {extent} on a single-frame image")
                    continue
                first, last = max(1, extent[0]), min(count, extent[1])
                if first > last:
                    raise EncodingError(f"finding {finding.id}: frames {extent} outside 1..{count}")
                if (first, last) != extent:  # as the GSPS draws it
                    LOGGER.warning(
                        "KOS: finding %s spans frames %s, clipped to 1..%d", finding.id, extent, count
                    )
                chosen.update(range(first, last + 1))
        return {uid: tuple(sorted(frames[uid])) for uid in self._by_uid if uid in frames}

    def _content(self) -> KeyObjectSelection:
        """The TID 2010 tree: title, description, one IMAGE per key image (its frames for DBT)."""
        root = ContainerContentItem(OF_INTEREST.coded(), is_content_continuous=False, template_id="2010")
        count = len({f.id for f in self.findings})
        text = description_text(self.algorithm_id, self.algorithm_version, count)
        items: list[ContentItem] = [TextContentItem(KEY_OBJECT_DESCRIPTION.coded(), text, "CONTAINS")]
        for uid, frames in self.key_images.items():
            sop_class = str(self._by_uid[uid].SOPClassUID)
            image = ImageContentItem(SOURCE.coded(), sop_class, uid, list(frames) or None, None, "CONTAINS")
            if (state := self.states.get(uid)) is not None:
                ref = Dataset()
                ref.ReferencedSOPClassUID = state.SOPClassUID
                ref.ReferencedSOPInstanceUID = state.SOPInstanceUID
                image.ReferencedSOPSequence[0].ReferencedSOPSequence = DicomSequence([ref])
            items.append(image)
        root.ContentSequence = ContentSequence(items)
        return KeyObjectSelection.from_sequence([root])

    @property
    def dataset(self) -> Dataset:
        """Same as :meth:`to_dataset` (a new Dataset each time)."""
        return self.to_dataset()

    def to_dataset(self) -> Dataset:
        """The complete KOS instance with file meta (Explicit VR Little Endian)."""
        created = (self.content_date, self.content_time)
        description = f"breastgate {self.algorithm_id} key images - not for diagnostic use"
        with highdicom_refusal("KOS"):
            ds = HdKeyObjectSelectionDocument(
                evidence=[header_view(self._by_uid[uid]) for uid in self.key_images]
                + [header_view(s) for s in {str(s.SOPInstanceUID): s for s in self.states.values()}.values()],
                content=self._content(),
                series_instance_uid=self.series_instance_uid,
                series_number=self.series_number,
                sop_instance_uid=self.sop_instance_uid,
                instance_number=self.instance_number,
                **highdicom_fields(created, description, self.algorithm_id, self.algorithm_version),
            )
        finish_instance(ds, self.sources[0], created)
        for item in ds.ContentSequence:
            if item.ValueType == "IMAGE":
                del item.ConceptNameCodeSequence  # TID 2010 row 8: no purpose of reference
        return ds

    @staticmethod
    def from_dataset(ds: Dataset) -> DecodedKOS:
        """Decode a Key Object Selection Document (tolerant of extra content)."""
        if str(ds.get("SOPClassUID", "")) != KEY_OBJECT_SELECTION_DOCUMENT_STORAGE:
            raise InvalidInputError("not a Key Object Selection Document")
        root = decode_content(ds)
        description = root.first(KEY_OBJECT_DESCRIPTION, "TEXT")
        images = tuple((c.sop[1], c.frames) for c in root.children if c.vt == "IMAGE" and c.sop is not None)
        evidence = tuple(
            str(ref.ReferencedSOPInstanceUID)
            for study in ds.get("CurrentRequestedProcedureEvidenceSequence", [])
            for series in study.get("ReferencedSeriesSequence", [])
            for ref in series.get("ReferencedSOPSequence", [])
        )
        states = tuple(
            (
                str(ref.ReferencedSOPInstanceUID),
                str(ps.ReferencedSOPClassUID),
                str(ps.ReferencedSOPInstanceUID),
            )
            for item in ds.get("ContentSequence", [])
            if item.get("ValueType") == "IMAGE"
            for ref in item.get("ReferencedSOPSequence", [])
            for ps in ref.get("ReferencedSOPSequence", [])
        )
        return DecodedKOS(
            sop_instance_uid=str(ds.SOPInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            title=root.concept,
            description=description.text or "" if description is not None else "",
            images=images,
            evidence=evidence,
            presentation_states=states,
        )


def _presenting(states: Sequence[Dataset], images: set[str]) -> dict[str, Dataset]:
    """{image SOP Instance UID: the first of ``states`` whose relationship lists it} for ``images``."""
    out: dict[str, Dataset] = {}
    for state in states:
        for series in state.get("ReferencedSeriesSequence", []):
            for ref in series.get("ReferencedImageSequence", []):
                uid = str(ref.get("ReferencedSOPInstanceUID", ""))
                if uid in images:
                    out.setdefault(uid, state)
    return out


def _frames_of(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1
