"""How priors come from each PACS node: one setting per node picks C-MOVE, C-GET or DICOMweb.

``BG_PRIOR_RETRIEVE`` is ``NODE=METHOD`` entries separated by ``;``: ``NODE`` is the AE title of a
``BG_PACS`` node (or its ``AE@HOST:PORT``) and ``METHOD`` one of

``move``
    Study Root C-FIND, then C-MOVE to our own AE title (the PACS must know our AE; default).
``get``
    Study Root C-FIND, then C-GET on the same kind of association: no inbound port needed.
``dicomweb:URL``
    QIDO-RS to find, WADO-RS to retrieve, against the DICOMweb base URL (PS3.18 §10.6, §10.4).

Each method is a :class:`PriorSource`: ``query`` lists the patient's studies, ``retrieve`` brings
one study here. C-GET and WADO-RS receive the objects themselves; they keep them through
:class:`Intake`, the same durable path as C-STORE ingest (:mod:`breastgate.store.intake`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError

from breastgate.domain.errors import InvalidInputError, StorageError
from breastgate.domain.model import DicomNode, is_ae_title
from breastgate.routing.priors import StudyMatch
from breastgate.routing.qr import PriorFetcher
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database
from breastgate.store.intake import store_file

LOGGER = logging.getLogger(__name__)

SUCCESS, OUT_OF_RESOURCES, CANNOT_UNDERSTAND = 0x0000, 0xA700, 0xC210


class RetrieveMethod(StrEnum):
    """How a node's priors are retrieved."""

    MOVE = "move"
    GET = "get"
    DICOMWEB = "dicomweb"


@dataclass(frozen=True)
class RetrieveSpec:
    """One node's retrieval: the method and, for DICOMweb, the base URL."""

    method: RetrieveMethod = RetrieveMethod.MOVE
    url: str = ""

    def __str__(self) -> str:
        return f"{self.method}:{self.url}" if self.method is RetrieveMethod.DICOMWEB else str(self.method)


EXPECTED = "expected NODE=move|get|dicomweb:http(s)://HOST[:PORT]/PATH entries separated by ';'"


def parse_retrieve(text: str) -> dict[str, RetrieveSpec]:
    """``NODE=METHOD;...`` → {AE title: spec}; raises InvalidInputError naming the entry and the form."""
    out: dict[str, RetrieveSpec] = {}
    for entry in (e.strip() for e in text.split(";")):
        if not entry:
            continue
        node, sep, method = (p.strip() for p in entry.partition("="))
        ae = node.split("@", 1)[0].strip()
        if not sep or not is_ae_title(ae):
            raise InvalidInputError(f"{entry!r}: {EXPECTED}")
        kind, _, url = method.partition(":")
        if kind.lower() in (RetrieveMethod.MOVE, RetrieveMethod.GET) and not url:
            out[ae] = RetrieveSpec(RetrieveMethod(kind.lower()))
        elif kind.lower() == RetrieveMethod.DICOMWEB and _is_http(url.strip()):
            out[ae] = RetrieveSpec(RetrieveMethod.DICOMWEB, url.strip().rstrip("/"))
        else:
            raise InvalidInputError(f"{entry!r}: {EXPECTED}")
    return out


def retrieve_text(specs: Mapping[str, RetrieveSpec]) -> str:
    """The setting as an operator writes it (inverse of :func:`parse_retrieve`)."""
    return "; ".join(f"{ae}={spec}" for ae, spec in specs.items())


def _is_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class PriorSource(Protocol):
    """Where priors come from: one PACS node and one way of retrieving."""

    #: For logs: the node's AE title (no patient data).
    label: str

    def query(self, patient_id: str, issuer: str | None) -> list[StudyMatch]: ...

    def retrieve(self, study_uid: str) -> int:
        """Bring the study here; return the final status (0x0000, or 0xB000 when partial)."""
        ...


class Intake:
    """Keeps objects we receive ourselves (C-GET, WADO-RS) the way C-STORE ingest does."""

    def __init__(self, db: Database, blobs: BlobStore, temp_dir: Path) -> None:
        self.db, self.blobs, self.temp_dir = db, blobs, Path(temp_dir)

    def keep(self, path: Path, source: str) -> int:
        """Commit and index one Part 10 file; its C-STORE-like status (duplicates succeed)."""
        try:
            store_file(self.db, self.blobs, path, source=source, actor=f"prior:{source}")
        except InvalidInputError as exc:
            LOGGER.warning("prior object from %s refused (0xC210): %s", source, exc)
            return CANNOT_UNDERSTAND
        except (StorageError, OSError, SQLAlchemyError) as exc:
            LOGGER.error("cannot store a prior object from %s (0xA700): %s", source, exc)
            return OUT_OF_RESOURCES
        return SUCCESS


class MoveSource:
    """C-FIND + C-MOVE to our own AE title."""

    def __init__(self, fetcher: PriorFetcher, node: DicomNode, destination_ae: str) -> None:
        self.fetcher, self.node, self.destination_ae = fetcher, node, destination_ae
        self.label = node.ae_title

    def query(self, patient_id: str, issuer: str | None) -> list[StudyMatch]:
        return self.fetcher.query(self.node, patient_id, issuer)

    def retrieve(self, study_uid: str) -> int:
        return self.fetcher.move(self.node, study_uid, self.destination_ae)


class GetSource:
    """C-FIND + C-GET; objects come back on our association and go through :class:`Intake`."""

    def __init__(self, fetcher: PriorFetcher, node: DicomNode, intake: Intake) -> None:
        self.fetcher, self.node, self.intake = fetcher, node, intake
        self.label = node.ae_title

    def query(self, patient_id: str, issuer: str | None) -> list[StudyMatch]:
        return self.fetcher.query(self.node, patient_id, issuer)

    def retrieve(self, study_uid: str) -> int:
        return self.fetcher.get(
            self.node, study_uid, lambda path: self.intake.keep(path, self.label), self.intake.temp_dir
        )


def build_source(
    spec: RetrieveSpec,
    node: DicomNode,
    fetcher: PriorFetcher,
    intake: Intake,
    *,
    timeout: float = 30.0,
) -> PriorSource:
    """The source ``spec`` describes for ``node`` (C-MOVE destination: the fetcher's AE title)."""
    if spec.method is RetrieveMethod.GET:
        return GetSource(fetcher, node, intake)
    if spec.method is RetrieveMethod.DICOMWEB:
        from breastgate.routing.dicomweb import DicomwebSource  # requests only when configured

        return DicomwebSource(spec.url, intake, label=node.ae_title, timeout=timeout)
    return MoveSource(fetcher, node, fetcher.calling_ae)
