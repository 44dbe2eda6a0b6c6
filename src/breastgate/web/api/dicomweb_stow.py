"""STOW-RS (PS3.18 §10.5): a second way in beside the DICOM SCP, with its rules.

The body streams part by part into temp files beside the store (never whole in memory), then each
part goes through :meth:`IngestService.store_received` as a C-STORE'd file does: on disk (fsync,
rename) and indexed before it counts, duplicates accepted, the same refusals (a SOP class or
transfer syntax the SCP would not negotiate, an undecodable or truncated object). The study then
becomes stable and is routed like any other (``routing.assembly`` works from the index).

Answer (§10.5.3): 200 with ReferencedSOPSequence when all were stored, 202 when some failed
(FailedSOPSequence with FailureReason), 409 when none was, 415 for a body that is not
``multipart/related; type="application/dicom"``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.governance import Role
from breastgate.ingest.scp import STORAGE_SOP_CLASSES, TRANSFER_SYNTAXES
from breastgate.ingest.service import OUT_OF_RESOURCES, SUCCESS, IngestService
from breastgate.store.headers import HeaderInfo, read_header
from breastgate.web.api import dicomweb_multipart as mp
from breastgate.web.api.access import Identity, allow
from breastgate.web.api.deps import AppContext, ContextDep

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/dicomweb")
Storer = Annotated[Identity, Depends(allow(Role.INTEGRATION, Role.TECHNOLOGIST, basic_challenge=True))]

#: FailureReason values (PS3.18 Table 10.5.3-2 / PS3.4 Annex B.2.3).
OUT_OF_RESOURCES_REASON = 0xA700
CANNOT_UNDERSTAND = 0xC000
SOP_CLASS_NOT_SUPPORTED = 0x0122
TRANSFER_SYNTAX_NOT_SUPPORTED = 0xC122
STUDY_MISMATCH = 0xA900  # "Data Set does not match SOP Class": the study of the request URL
#: Where STOW parts wait beside the store (a leading dot: no sanitised UID folder starts so).
INCOMING = ".stow-incoming"
SOURCE = "DICOMWEB"


@dataclass(frozen=True)
class PartOutcome:
    """What happened to one part: stored, or why not."""

    sop_class_uid: str | None
    sop_instance_uid: str | None
    study_instance_uid: str | None
    failure: int | None = None


def _check(header: HeaderInfo, study: str | None) -> int | None:
    if header.sop_class_uid not in STORAGE_SOP_CLASSES:
        return SOP_CLASS_NOT_SUPPORTED
    if header.transfer_syntax_uid not in TRANSFER_SYNTAXES:
        return TRANSFER_SYNTAX_NOT_SUPPORTED
    if study is not None and header.study_instance_uid != study:
        return STUDY_MISMATCH
    return None


def store_part(service: IngestService, part: mp.ReceivedPart, study: str | None, actor: str) -> PartOutcome:
    """Check and store one received part (blocking: run it in a worker thread)."""
    if part.path is None:
        return PartOutcome(None, None, None, CANNOT_UNDERSTAND)
    try:
        header = read_header(part.path)
    except InvalidInputError as exc:
        LOGGER.warning("STOW-RS part refused (0xC000): %s", exc)
        return PartOutcome(None, None, None, CANNOT_UNDERSTAND)
    except OSError:
        return PartOutcome(None, None, None, OUT_OF_RESOURCES_REASON)
    uids = (header.sop_class_uid, header.sop_instance_uid, header.study_instance_uid)
    refused = _check(header, study)
    if refused is not None:
        LOGGER.warning("STOW-RS part %s refused (0x%04X)", header.sop_instance_uid, refused)
        return PartOutcome(*uids, refused)
    status = service.store_received(part.path, calling_ae=SOURCE, command_sop_instance_uid=None, actor=actor)
    if status == SUCCESS:
        return PartOutcome(*uids)
    return PartOutcome(*uids, OUT_OF_RESOURCES_REASON if status == OUT_OF_RESOURCES else CANNOT_UNDERSTAND)


def _ui(value: str | None) -> dict[str, Any]:
    return {"vr": "UI", "Value": [value]} if value else {"vr": "UI"}


def answer(outcomes: list[PartOutcome], base: str, study: str | None) -> Response:
    """The STOW-RS response: status and DICOM JSON (PS3.18 §10.5.3)."""
    stored = [o for o in outcomes if o.failure is None]
    failed = [o for o in outcomes if o.failure is not None]
    body: dict[str, Any] = {}
    study_uid = study or next((o.study_instance_uid for o in stored), None)
    if study_uid:
        body["00081190"] = {"vr": "UR", "Value": [f"{base}/studies/{study_uid}"]}
    if stored:
        body["00081199"] = {
            "vr": "SQ",
            "Value": [
                {
                    "00081150": _ui(o.sop_class_uid),
                    "00081155": _ui(o.sop_instance_uid),
                    "00081190": {
                        "vr": "UR",
                        "Value": [f"{base}/studies/{o.study_instance_uid}/instances/{o.sop_instance_uid}"],
                    },
                }
                for o in stored
            ],
        }
    if failed:
        body["00081198"] = {
            "vr": "SQ",
            "Value": [
                {
                    "00081150": _ui(o.sop_class_uid),
                    "00081155": _ui(o.sop_instance_uid),
                    "00081197": {"vr": "US", "Value": [o.failure]},
                }
                for o in failed
            ],
        }
    status = 200 if not failed else (202 if stored else 409)
    return JSONResponse(body, status_code=status, media_type="application/dicom+json")


async def _stow(request: Request, context: AppContext, user: Identity, study: str | None) -> Response:
    kind = mp.stow_boundary(request.headers.get("content-type"))
    if kind is None:
        raise HTTPException(415, 'STOW-RS takes multipart/related; type="application/dicom"')
    if context.blobs is None:
        raise HTTPException(503, "This server has no store to receive into")
    service = IngestService(context.db, context.blobs)
    reader = mp.StowReader(kind[0], context.blobs.root / INCOMING)
    try:
        try:
            async for chunk in request.stream():
                await run_in_threadpool(reader.feed, chunk)
        except (ValueError, OSError) as exc:  # python-multipart raises ValueError subclasses
            LOGGER.warning("STOW-RS body unreadable: %s", type(exc).__name__)
            raise HTTPException(400, "The multipart body cannot be read") from None
        if not reader.parts:
            raise HTTPException(400, "The request holds no part")
        outcomes = [await run_in_threadpool(store_part, service, p, study, user.actor) for p in reader.parts]
    finally:
        reader.discard()  # parts that were stored have been moved into the store
    base = str(request.base_url).rstrip("/") + router.prefix
    LOGGER.info(
        "STOW-RS: %d stored, %d failed",
        sum(o.failure is None for o in outcomes),
        sum(o.failure is not None for o in outcomes),
    )
    return answer(outcomes, base, study)


@router.post("/studies")
async def stow(request: Request, context: ContextDep, user: Storer) -> Response:
    return await _stow(request, context, user, None)


@router.post("/studies/{study}")
async def stow_study(study: str, request: Request, context: ContextDep, user: Storer) -> Response:
    return await _stow(request, context, user, study)
