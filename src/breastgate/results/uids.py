"""Deterministic UIDs for output objects (DESIGN §4 "DICOM out").

The same (kind, algorithm, version, inputs) always gives the same UID, so a re-run or a
re-delivery replaces an object in the PACS instead of duplicating it. UIDs are built by
pydicom's ``generate_uid`` from a SHA-512 hash of the entropy sources (PS3.5 9.1, 9.2).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydicom.uid import generate_uid

from breastgate.domain.errors import EncodingError

LOGGER = logging.getLogger(__name__)

#: Kinds used so far; any non-empty string is accepted so later encoders can add theirs.
KNOWN_KINDS = frozenset(
    {
        "cad-sr",
        "cad-sr-series",
        "csps",
        "csps-series",
        "gsps",
        "gsps-series",
        "kinetic-map",
        "kinetic-map-series",
        "kos",
        "kos-series",
        "mri-lesion-tracking",
        "pmap",
        "pmap-series",
        "report-sr",
        "report-sr-series",
        "report-sr-device",
        "sc",
        "sc-series",
        "seg",
        "seg-series",
        "tid1500",
        "tid1500-series",
        "tid1500-device",
        "tid1500-tracking",
    }
)


def derive_uid(kind: str, algorithm_id: str, algorithm_version: str, input_uids: Sequence[str]) -> str:
    """Return a UID that depends only on the arguments (``input_uids`` order does not matter).

    Parameters
    ----------
    kind
        Object kind, e.g. ``"cad-sr"`` or ``"cad-sr-series"``; different kinds give different UIDs.
    algorithm_id, algorithm_version
        The algorithm that produced the object.
    input_uids
        UIDs of the inputs (SOP Instance UIDs, and the Study Instance UID where inputs may be empty).
    """
    if not kind or not algorithm_id or not algorithm_version:
        raise EncodingError("derive_uid needs a kind, an algorithm id and a version")
    sources = ["breastgate", kind, algorithm_id, algorithm_version, *sorted(set(input_uids))]
    return str(generate_uid(entropy_srcs=sources))
