"""C-GET as a requestor (PS3.4 C.4.3, PS3.7 §9.1.3): the PACS sends the study back on our own
association as C-STORE sub-operations, so no inbound port and no move destination are needed.

We propose Study Root - GET plus a Storage context, with the SCP role (SCP/SCU Role Selection,
PS3.7 D.3.3.4), for every SOP class a breast prior may hold. Each object received is written to a
Part 10 file and handed to ``on_file``, whose C-STORE status is returned to the PACS.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    RLELossless,
)
from pynetdicom import build_role, evt

from breastgate.dicomnet.ae import ClosingAE, associate

LOGGER = logging.getLogger(__name__)

#: Study Root Query/Retrieve Information Model - GET (PS3.4 C.6.2).
STUDY_ROOT_GET = UID("1.2.840.10008.5.1.4.1.2.2.3")
#: Storage SOP classes a breast prior may hold (images, our own and others' results).
PRIOR_STORAGE_CLASSES: tuple[UID, ...] = tuple(
    UID(u)
    for u in (
        "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1",  # Digital Mammography X-Ray - For Processing
        "1.2.840.10008.5.1.4.1.1.13.1.3",  # Breast Tomosynthesis
        "1.2.840.10008.5.1.4.1.1.13.1.4",  # Breast Projection X-Ray - For Presentation
        "1.2.840.10008.5.1.4.1.1.13.1.5",  # Breast Projection X-Ray - For Processing
        "1.2.840.10008.5.1.4.1.1.4",  # MR Image
        "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image
        "1.2.840.10008.5.1.4.1.1.4.4",  # Legacy Converted Enhanced MR Image
        "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
        "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
        "1.2.840.10008.5.1.4.1.1.88.50",  # Mammography CAD SR
        "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
        "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
        "1.2.840.10008.5.1.4.1.1.88.59",  # Key Object Selection Document
        "1.2.840.10008.5.1.4.1.1.11.1",  # Grayscale Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.11.2",  # Color Softcopy Presentation State (marks on colour US)
        "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation
        "1.2.840.10008.5.1.4.1.1.30",  # Parametric Map
    )
)
TRANSFER_SYNTAXES: tuple[UID, ...] = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEG2000,
    JPEGLosslessSV1,
    JPEGBaseline8Bit,
    RLELossless,
)
OUT_OF_RESOURCES = 0xA700


def _received_file(event: Any, temp_dir: Path) -> Iterator[Path]:
    """The object as a Part 10 file: pynetdicom's own (chunked receive) or one written here."""
    try:
        yield Path(event.dataset_path)
        return
    except AttributeError:
        pass
    ds: Dataset = event.dataset
    ds.file_meta = event.file_meta
    fd, name = tempfile.mkstemp(suffix=".dcm", dir=temp_dir)
    with os.fdopen(fd, "wb") as fp:
        ds.save_as(fp, enforce_file_format=True)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)  # committed files were renamed away


def get_study(
    ae: ClosingAE,
    node: Any,
    study_uid: str,
    on_file: Callable[[Path], int],
    temp_dir: Path,
    *,
    what: str,
) -> tuple[Any, list[Dataset]]:
    """Open a C-GET association and ask for one study; return (the responses iterator's
    association, every response status in order). The caller releases the association."""
    ae.add_requested_context(STUDY_ROOT_GET)
    for sop_class in PRIOR_STORAGE_CLASSES:
        ae.add_requested_context(sop_class, list(TRANSFER_SYNTAXES))
    roles = [build_role(sop_class, scp_role=True) for sop_class in PRIOR_STORAGE_CLASSES]
    temp_dir.mkdir(parents=True, exist_ok=True)

    def handle_store(event: Any) -> int:
        try:
            for path in _received_file(event, temp_dir):
                return on_file(path)
        except Exception:  # a bug must not hang the PACS: answer out of resources
            LOGGER.exception("C-GET: cannot keep a received object (%s)", what)
        return OUT_OF_RESOURCES

    assoc = associate(ae, node, what=what, ext_neg=roles, handlers=[(evt.EVT_C_STORE, handle_store)])
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    return assoc, assoc.send_c_get(identifier, STUDY_ROOT_GET)
