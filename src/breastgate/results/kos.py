"""Key Object Selection Document Storage (PS3.3 A.35.4, SOP Class 1.2.840.10008.5.1.4.1.1.88.59).

:class:`KeyObjectSelectionDocument` flags the images (for tomosynthesis, the frames) on which an
algorithm's suspicious findings lie, so a PACS can offer them as key images. Content follows
PS3.16 TID 2010 Key Object Selection: title (113000, DCM, "Of Interest") from CID 7010, a
(113012, DCM, "Key Object Description") TEXT saying the selection is AI output, not for
diagnostic use, then one IMAGE item per key image, with Referenced Frame Number (0008,1160) for
multi-frame images (the frames the findings span). Placement follows DESIGN §4: same study
(Patient and General Study copied), a new series, deterministic UIDs, and the Current Requested
Procedure Evidence Sequence listing the key images. Sectra's own tooling writes KOS this way,
frame-level included (reference/sectra.md §1.2).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from breastgate.domain.errors import EncodingError, InvalidInputError
from breastgate.domain.model import Finding
from breastgate.results.placement import (
    attach_file_meta,
    creation_datetime,
    evidence_item,
    new_instance,
    one_study,
)
from breastgate.results.sr_content import Code, Node, decode_content, encode_content
from breastgate.results.uids import derive_uid

LOGGER = logging.getLogger(__name__)

KEY_OBJECT_SELECTION_DOCUMENT_STORAGE = "1.2.840.10008.5.1.4.1.1.88.59"
DEFAULT_SERIES_NUMBER = 9905
#: Document title (CID 7010) and the description item of TID 2010.
OF_INTEREST = Code("113000", "DCM", "Of Interest")
KEY_OBJECT_DESCRIPTION = Code("113012", "DCM", "Key Object Description")


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

    def _tree(self) -> Node:
        root = Node("CONTAINER", concept=OF_INTEREST, template="2010")
        count = len({f.id for f in self.findings})
        text = description_text(self.algorithm_id, self.algorithm_version, count)
        root.add(Node("TEXT", "CONTAINS", KEY_OBJECT_DESCRIPTION, text=text))
        for uid, frames in self.key_images.items():
            sop = (str(self._by_uid[uid].SOPClassUID), uid)
            root.add(Node("IMAGE", "CONTAINS", sop=sop, frames=frames))
        return root

    @property
    def dataset(self) -> Dataset:
        """Same as :meth:`to_dataset` (a new Dataset each time)."""
        return self.to_dataset()

    def to_dataset(self) -> Dataset:
        """The complete KOS instance with file meta (Explicit VR Little Endian)."""
        ds = new_instance(
            KEY_OBJECT_SELECTION_DOCUMENT_STORAGE,
            self.sop_instance_uid,
            self.sources[0],
            created=(self.content_date, self.content_time),
            modality="KO",  # Key Object Document Series (C.17.6.1)
            series_instance_uid=self.series_instance_uid,
            series_number=self.series_number,
            series_description=f"breastgate {self.algorithm_id} key images - not for diagnostic use",
            model_name=self.algorithm_id,
            software_version=self.algorithm_version,
        )
        ds.ReferencedPerformedProcedureStepSequence = DicomSequence([])
        # Key Object Document (C.17.6.2)
        ds.InstanceNumber = self.instance_number
        ds.ContentDate, ds.ContentTime = self.content_date, self.content_time
        keys = [self._by_uid[uid] for uid in self.key_images]
        ds.CurrentRequestedProcedureEvidenceSequence = DicomSequence(
            [evidence_item(keys, self.study_instance_uid)]
        )
        # SR Document Content (C.17.3), root template TID 2010
        encode_content(self._tree(), ds)
        attach_file_meta(ds)
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
        return DecodedKOS(
            sop_instance_uid=str(ds.SOPInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            title=root.concept,
            description=description.text or "" if description is not None else "",
            images=images,
            evidence=evidence,
        )


def _frames_of(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1
