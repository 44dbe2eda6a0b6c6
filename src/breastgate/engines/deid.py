"""PS3.15 Annex E Basic Application Level Confidentiality Profile, and re-identification.

What leaves breastgate for an external engine is de-identified here (DESIGN §5); what comes back
is re-identified with the mapping kept by the job. The action codes are those of PS3.15 Table E.1-1:

- ``D`` replace with a non-zero length dummy value consistent with the VR (a pseudonym for the
  patient's name and ID, a fixed dummy date / time / text otherwise);
- ``Z`` replace with a zero length value (or an empty sequence);
- ``X`` remove;
- ``K`` keep (what an algorithm needs; listed so the choice is visible, and so no generic rule
  below touches it);
- ``C`` clean (replace with values of similar meaning known not to identify);
- ``U`` replace the UID with a non-zero length UID that is consistent within the set of instances.

Where Table E.1-1 offers a choice (``X/Z``, ``X/Z/D``, ``X/Z/U*``...), :data:`BASIC_PROFILE`
records the one made and why. Beyond the table, applied at every nesting level (E.1.1 says the
table is not exhaustive and the de-identifier must know what the objects it handles carry):

- every private data element (odd group) is removed (E.3.1, without the Retain Safe Private Option);
- curves (groups 50xx) and overlays (groups 60xx, data and comments) are removed;
- every other DA, DT and TM value becomes a dummy (no Retain Longitudinal Temporal Information
  Option), every other PN is removed, and every other UI whose value is not a UID registered in
  PS3.6 Annex A (SOP classes, transfer syntaxes ...) is replaced as ``U``.

UIDs are replaced by ``2.25.<int(HMAC-SHA256(secret, uid)[:16])>`` (PS3.5 B.2, a UUID-derived UID
of 128 bits): the same secret gives the same replacement, so a retried job sends the same UIDs and
the engine can de-duplicate, and the map new → original that :class:`Deidentifier` returns lets
:func:`reidentify` put the originals back. Images with Burned In Annotation ``YES`` are refused:
this profile does not clean pixel data.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pydicom._uid_dict import UID_dictionary
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

from breastgate.domain.errors import InvalidInputError
from breastgate.results.placement import copy_patient_study

LOGGER = logging.getLogger(__name__)

__all__ = [
    "BASIC_PROFILE",
    "Action",
    "Deidentified",
    "Deidentifier",
    "deidentified_uid",
    "reidentify",
]


class Action(StrEnum):
    """PS3.15 Table E.1-1 action codes."""

    D = "D"
    Z = "Z"
    X = "X"
    K = "K"
    C = "C"
    U = "U"


_D, _Z, _X, _K, _U = Action.D, Action.Z, Action.X, Action.K, Action.U

#: PS3.15 Table E.1-1, "Basic Prof." column, for the attributes that mammography and breast
#: tomosynthesis objects (PS3.3 A.26, A.84) carry, plus K rows for what an algorithm reads.
#: A choice of the table is noted as ``table -> chosen``.
BASIC_PROFILE: tuple[tuple[int, Action], ...] = (
    # --- Patient (C.7.1.1) ---
    (0x00100010, _D),  # Patient's Name: Z -> D, a pseudonym (HMAC of the ID), not the original
    (0x00100020, _D),  # Patient ID: Z -> D, the same pseudonym
    (0x00100021, _X),  # Issuer of Patient ID
    (0x00100030, _Z),  # Patient's Birth Date
    (0x00100032, _X),  # Patient's Birth Time
    (0x00100040, _Z),  # Patient's Sex
    (0x00100050, _X),  # Patient's Insurance Plan Code Sequence
    (0x00101000, _X),  # Other Patient IDs
    (0x00101001, _X),  # Other Patient Names
    (0x00101002, _X),  # Other Patient IDs Sequence
    (0x00101005, _X),  # Patient's Birth Name
    (0x00101010, _X),  # Patient's Age
    (0x00101020, _X),  # Patient's Size
    (0x00101030, _X),  # Patient's Weight
    (0x00101040, _X),  # Patient's Address
    (0x00101060, _X),  # Patient's Mother's Birth Name
    (0x00101080, _X),  # Military Rank
    (0x00101090, _X),  # Medical Record Locator
    (0x00102000, _X),  # Medical Alerts
    (0x00102110, _X),  # Allergies
    (0x00102150, _X),  # Country of Residence
    (0x00102152, _X),  # Region of Residence
    (0x00102154, _X),  # Patient's Telephone Numbers
    (0x00102160, _X),  # Ethnic Group
    (0x00102180, _X),  # Occupation
    (0x001021A0, _X),  # Smoking Status
    (0x001021B0, _X),  # Additional Patient History
    (0x001021C0, _X),  # Pregnancy Status
    (0x001021D0, _X),  # Last Menstrual Date
    (0x001021F0, _X),  # Patient's Religious Preference
    (0x00104000, _X),  # Patient Comments
    (0x00102297, _X),  # Responsible Person
    (0x00102299, _X),  # Responsible Organization
    (0x00081120, _X),  # Referenced Patient Sequence
    # --- Study (C.7.2.1, C.7.2.2) ---
    (0x0020000D, _U),  # Study Instance UID
    (0x00080020, _Z),  # Study Date
    (0x00080030, _Z),  # Study Time
    (0x00080050, _Z),  # Accession Number
    (0x00200010, _Z),  # Study ID
    (0x00081030, _X),  # Study Description
    (0x00080090, _Z),  # Referring Physician's Name
    (0x00080092, _X),  # Referring Physician's Address
    (0x00080094, _X),  # Referring Physician's Telephone Numbers
    (0x00080096, _X),  # Referring Physician Identification Sequence
    (0x00081048, _X),  # Physician(s) of Record
    (0x00081049, _X),  # Physician(s) of Record Identification Sequence
    (0x00081060, _X),  # Name of Physician(s) Reading Study
    (0x00081062, _X),  # Physician(s) Reading Study Identification Sequence
    (0x00081080, _X),  # Admitting Diagnoses Description
    (0x00081084, _X),  # Admitting Diagnoses Code Sequence
    (0x00081110, _X),  # Referenced Study Sequence: X/Z -> X
    (0x00321030, _X),  # Reason for Study
    (0x00321032, _X),  # Requesting Physician
    (0x00321033, _X),  # Requesting Service
    (0x00321060, _X),  # Requested Procedure Description: X/Z -> X
    (0x00324000, _X),  # Study Comments
    (0x00380010, _X),  # Admission ID
    (0x00384000, _X),  # Visit Comments
    (0x00400275, _X),  # Request Attributes Sequence
    (0x00401001, _X),  # Requested Procedure ID
    (0x00402016, _Z),  # Placer Order Number / Imaging Service Request
    (0x00402017, _Z),  # Filler Order Number / Imaging Service Request
    (0x00402400, _X),  # Imaging Service Request Comments
    # --- Series (C.7.3.1, C.8.11.1) ---
    (0x0020000E, _U),  # Series Instance UID
    (0x00080021, _X),  # Series Date: X/D -> X
    (0x00080031, _X),  # Series Time: X/D -> X
    (0x0008103E, _X),  # Series Description
    (0x00081050, _X),  # Performing Physicians' Name
    (0x00081052, _X),  # Performing Physician Identification Sequence
    (0x00081070, _X),  # Operators' Name: X/Z/D -> X
    (0x00081072, _X),  # Operators' Identification Sequence: X/D -> X
    (0x00081111, _X),  # Referenced Performed Procedure Step Sequence: X/Z/D -> X
    (0x00181030, _X),  # Protocol Name: X/D -> X
    (0x00400241, _X),  # Performed Station AE Title
    (0x00400242, _X),  # Performed Station Name
    (0x00400243, _X),  # Performed Location
    (0x00400244, _X),  # Performed Procedure Step Start Date
    (0x00400245, _X),  # Performed Procedure Step Start Time
    (0x00400253, _X),  # Performed Procedure Step ID
    (0x00400254, _X),  # Performed Procedure Step Description
    (0x00400280, _X),  # Comments on the Performed Procedure Step
    # --- Frame of Reference, Equipment (C.7.4.1, C.7.5.1, C.7.5.2) ---
    (0x00200052, _U),  # Frame of Reference UID
    (0x00200200, _U),  # Synchronization Frame of Reference UID
    (0x00080080, _X),  # Institution Name: X/Z/D -> X
    (0x00080081, _X),  # Institution Address
    (0x00080082, _X),  # Institution Code Sequence: X/Z/D -> X
    (0x00081040, _X),  # Institutional Department Name
    (0x00081010, _X),  # Station Name: X/Z/D -> X
    (0x00181000, _D),  # Device Serial Number: X/Z/D -> D (Type 1 in Enhanced General Equipment)
    (0x00181002, _U),  # Device UID
    (0x00181020, _D),  # Software Versions: X/Z/D -> D (Type 1 in Enhanced General Equipment)
    (0x00181004, _X),  # Plate ID
    (0x00181005, _X),  # Generator ID
    (0x00181007, _X),  # Cassette ID
    (0x00181008, _X),  # Gantry ID
    (0x0018700A, _D),  # Detector ID: X -> D (Type 1 in Breast Tomosynthesis Contributing Sources)
    (0x00080070, _K),  # Manufacturer (not in Table E.1-1: kept)
    (0x00081090, _K),  # Manufacturer's Model Name (not in Table E.1-1: kept)
    # --- Image, instance (C.7.6.1, C.12.1) ---
    (0x00080018, _U),  # SOP Instance UID
    (0x00020003, _U),  # Media Storage SOP Instance UID
    (0x00080012, _X),  # Instance Creation Date: X/D -> X
    (0x00080013, _X),  # Instance Creation Time: X/D -> X
    (0x00080014, _U),  # Instance Creator UID
    (0x00080022, _X),  # Acquisition Date: X/Z -> X
    (0x00080032, _X),  # Acquisition Time: X/Z -> X
    (0x0008002A, _X),  # Acquisition DateTime: X/D -> X
    (0x00080023, _D),  # Content Date: Z/D -> D (Type 1 in the DX Image module)
    (0x00080033, _D),  # Content Time: Z/D -> D
    (0x00080201, _X),  # Timezone Offset From UTC
    (0x00081140, _U),  # Referenced Image Sequence: X/Z/U* -> U* (kept, UIDs replaced)
    (0x00082112, _U),  # Source Image Sequence: X/Z/U* -> U* (kept, UIDs replaced)
    (0x00081155, _U),  # Referenced SOP Instance UID
    (0x00083010, _U),  # Irradiation Event UID
    (0x00082111, _X),  # Derivation Description
    (0x00184000, _X),  # Acquisition Comments
    (0x00204000, _X),  # Image Comments
    (0x00284000, _X),  # Image Presentation Comments
    (0x00209158, _X),  # Frame Comments
    (0x00209161, _U),  # Concatenation UID
    (0x00209164, _U),  # Dimension Organization UID
    (0x00400555, _Z),  # Acquisition Context Sequence: X -> Z (Type 2 in the mammography IODs)
    (0x0040A730, _X),  # Content Sequence
    (0x0040A124, _U),  # UID
    (0x00081195, _U),  # Transaction UID
    (0x00880140, _U),  # Storage Media File-set UID
    (0x00880200, _X),  # Icon Image Sequence
    (0x00400310, _X),  # Comments on Radiation Dose
    (0x40000010, _X),  # Arbitrary
    (0x40004000, _X),  # Text Comments
    (0x04000100, _X),  # Digital Signature UID
    (0x04000402, _X),  # Referenced Digital Signature Sequence
    (0x04000403, _X),  # Referenced SOP Instance MAC Sequence
    (0x04000404, _X),  # MAC
    (0x04000550, _X),  # Modified Attributes Sequence
    (0x04000561, _X),  # Original Attributes Sequence
    (0xFFFAFFFA, _X),  # Digital Signatures Sequence
    (0xFFFCFFFC, _X),  # Data Set Trailing Padding
    # --- Kept for the algorithm (not in Table E.1-1, or K) ---
    (0x00080016, _K),  # SOP Class UID
    (0x00080060, _K),  # Modality
    (0x00080068, _K),  # Presentation Intent Type
    (0x00200062, _K),  # Image Laterality
    (0x00185101, _K),  # View Position
    (0x00540220, _K),  # View Code Sequence
    (0x001811A0, _K),  # Body Part Thickness
    (0x001811A2, _K),  # Compression Force
    (0x00280030, _K),  # Pixel Spacing
    (0x00181164, _K),  # Imager Pixel Spacing
    (0x00181114, _K),  # Estimated Radiographic Magnification Factor
    (0x00200020, _K),  # Patient Orientation
    (0x7FE00010, _K),  # Pixel Data (Burned In Annotation must not be YES)
)

_ACTIONS: dict[BaseTag, Action] = {Tag(tag): action for tag, action in BASIC_PROFILE}
#: Dummy values (``D``) per VR.
_DUMMY = {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "LO": "ANONYMIZED", "SH": "ANONYMIZED"}
_UID_ROOT = "2.25."
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
DEIDENTIFICATION_METHOD = "PS3.15 Basic Application Confidentiality Profile"
_RECORD_KEYWORDS = ("PatientIdentityRemoved", "DeidentificationMethod", "DeidentificationMethodCodeSequence")


def deidentified_uid(secret: bytes, uid: str) -> str:
    """``2.25.<int>`` of the first 128 bits of HMAC-SHA256(secret, uid) (PS3.5 B.2)."""
    digest = hmac.new(secret, uid.encode("ascii", "replace"), hashlib.sha256).digest()
    return _UID_ROOT + str(int.from_bytes(digest[:16], "big"))


@dataclass(frozen=True)
class Deidentified:
    """A de-identified copy and the UID map (replacement → original) that undoes it."""

    dataset: Dataset
    mapping: Mapping[str, str] = field(default_factory=dict)


class Deidentifier:
    """Apply :data:`BASIC_PROFILE` with UIDs and pseudonyms keyed by ``secret``.

    Parameters
    ----------
    secret
        HMAC key; the same key gives the same replacement UIDs and pseudonyms (retries are stable).
    """

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise InvalidInputError("de-identification needs a non-empty secret")
        self._secret = secret

    def uid(self, original: str) -> str:
        """The replacement of one UID."""
        return deidentified_uid(self._secret, original)

    def pseudonym(self, patient_id: str, study_uid: str) -> str:
        """A stable pseudonym for a patient (from the study when the ID is empty)."""
        key = f"patient\0{patient_id}" if patient_id else f"study\0{study_uid}"
        return "BG" + hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()[:16].upper()

    def deidentify(self, source: Dataset) -> Deidentified:
        """A de-identified deep copy of ``source`` (file meta rebuilt), with its UID map."""
        if str(source.get("BurnedInAnnotation", "")).upper() == "YES":
            raise InvalidInputError("image has burned-in annotation; the Basic Profile cannot clean pixels")
        mapping: dict[str, str] = {}
        alias = self.pseudonym(str(source.get("PatientID", "")), str(source.get("StudyInstanceUID", "")))
        ds = Dataset()
        for elem in source:  # a deep copy, element by element, with the actions applied
            self._apply(elem, ds, mapping, alias)
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE_CODE
        ds.DeidentificationMethodCodeSequence = DicomSequence([code])
        meta = FileMetaDataset()
        src_meta = getattr(source, "file_meta", None)
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        syntax = src_meta.get("TransferSyntaxUID") if src_meta is not None else None
        meta.TransferSyntaxUID = UID(str(syntax)) if syntax else ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds.file_meta = meta
        return Deidentified(ds, dict(mapping))

    # ------------------------------------------------------------------ internals

    def _new_uid(self, value: str, mapping: dict[str, str]) -> str:
        new = self.uid(value)
        mapping[new] = value
        return new

    def _uids(self, elem: DataElement, mapping: dict[str, str]) -> object:
        values = elem.value if elem.VM > 1 else [elem.value]
        new = [self._new_uid(str(v), mapping) for v in values if str(v)]
        return new if elem.VM > 1 else (new[0] if new else "")

    def _apply(self, elem: DataElement, out: Dataset, mapping: dict[str, str], alias: str) -> None:
        tag = elem.tag
        group = tag.group
        if tag.is_private or 0x5000 <= group <= 0x50FF or 0x6000 <= group <= 0x60FF:
            return  # private tags, curves, overlays: removed
        action = _ACTIONS.get(tag) or self._generic(elem)
        if action == Action.X:
            return
        if action == Action.Z:
            out.add_new(tag, elem.VR, DicomSequence([]) if elem.VR == "SQ" else "")
            return
        if action == Action.D:
            if tag == 0x00100010:
                value = f"ANONYMOUS^{alias}"
            else:
                value = alias if tag == 0x00100020 else _DUMMY.get(elem.VR, "ANONYMIZED")
            out.add_new(tag, elem.VR, value)
            return
        if elem.VR == "SQ":
            items = []
            for item in elem.value:
                copy = Dataset()
                for child in item:
                    self._apply(child, copy, mapping, alias)
                items.append(copy)
            out.add_new(tag, "SQ", DicomSequence(items))
            return
        if action == Action.U and elem.VR == "UI":
            out.add_new(tag, "UI", self._uids(elem, mapping))
            return
        out.add(DataElement(tag, elem.VR, elem.value, is_undefined_length=elem.is_undefined_length))

    @staticmethod
    def _generic(elem: DataElement) -> Action:
        """Rules beyond the table (module docstring) for an element it does not list."""
        if elem.VR in ("DA", "DT", "TM"):
            return Action.D if elem.value not in (None, "") else Action.K
        if elem.VR == "PN":
            return Action.X
        if elem.VR == "UI":
            values = elem.value if elem.VM > 1 else [elem.value]
            return Action.K if all(str(v) in UID_dictionary for v in values) else Action.U
        return Action.K


def _restore_uids(ds: Dataset, mapping: Mapping[str, str]) -> None:
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                _restore_uids(item, mapping)
        elif elem.VR == "UI" and elem.value:
            if elem.VM > 1:
                elem.value = [mapping.get(str(v), str(v)) for v in elem.value]
            else:
                elem.value = mapping.get(str(elem.value), str(elem.value))


def reidentify(dataset: Dataset, mapping: Mapping[str, str], source_headers: Sequence[Dataset]) -> Dataset:
    """Return ``dataset`` (e.g. an engine's CAD SR) back in the original study.

    Every UI value found in ``mapping`` (replacement → original) is put back, at any depth: Study /
    Series / SOP references, Referenced SOP Sequence, Current Requested Procedure Evidence Sequence,
    the IMAGE items that SCOORDs are selected from. The Patient and General Study modules are
    copied from the original header of the same study (PS3.3 C.7.1.1, C.7.2.1), and the
    de-identification record (PatientIdentityRemoved ...) is dropped, since the object is no
    longer de-identified. A copy is returned; ``dataset`` is not changed.
    """
    out = copy.deepcopy(dataset)
    _restore_uids(out, mapping)
    meta = getattr(dataset, "file_meta", None)
    if meta is not None:
        out.file_meta = copy.deepcopy(meta)
        _restore_uids(out.file_meta, mapping)
    study_uid = str(out.get("StudyInstanceUID", ""))
    source = next((s for s in source_headers if str(s.get("StudyInstanceUID", "")) == study_uid), None)
    if source is None:
        raise InvalidInputError("re-identified object belongs to none of the source studies")
    copy_patient_study(source, out)
    for kw in ("OtherPatientIDsSequence", "PatientAge", "IssuerOfPatientID"):
        if kw in source:
            out[kw] = source[kw]
    for kw in _RECORD_KEYWORDS:
        if kw in out:
            del out[kw]
    return out
