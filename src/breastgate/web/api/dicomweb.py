"""``/dicomweb``: QIDO-RS and WADO-RS (PS3.18 §10.4, §10.6) over the store; STOW-RS is in
:mod:`breastgate.web.api.dicomweb_stow`.

Reads need a reader or system role (Bearer, Basic or a browser session). Each request that returns
patient data writes one ``phi.accessed`` audit event, except frame and rendered reads: those are
audited once per user and study every :data:`FRAME_AUDIT_SECONDS` (a viewer scrolling a
tomosynthesis stack asks for each frame; the metadata request before it is audited anyway).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.errors import InvalidInputError
from breastgate.store import audit, qido
from breastgate.web.api import dicomweb_files as files
from breastgate.web.api import dicomweb_multipart as mp
from breastgate.web.api import dicomweb_qido as q
from breastgate.web.api.access import READERS_AND_SYSTEMS, Identity, allow
from breastgate.web.api.deps import AppContext, ContextDep
from breastgate.web.api.dicomweb_render import RENDERED_TYPES, parse_window, render

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/dicomweb")
Reader = Annotated[Identity, Depends(allow(*READERS_AND_SYSTEMS, basic_challenge=True))]
DICOM_JSON = "application/dicom+json"
FRAME_AUDIT_SECONDS = 300.0


class _AuditMemo:
    """When each (user, study) last had a frame read audited (this process's memory)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def due(self, actor: str, study: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            last = self._seen.get((actor, study))
            if last is not None and now - last < FRAME_AUDIT_SECONDS:
                return False
            self._seen[(actor, study)] = now
            return True


_FRAME_AUDIT = _AuditMemo()


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + router.prefix


def _phi_read(
    session: Session, user: Identity, request: Request, what: str, count: int, study: str | None = None
) -> None:
    audit.append(
        session,
        AuditKind.PHI_ACCESSED,
        actor=user.actor,
        study_instance_uid=study,
        subject=what,
        data={"path": request.url.path, "records": count},
    )


def _json(items: list[dict[str, Any]], ignored: Sequence[str] = ()) -> Response:
    if not items:
        return Response(status_code=204)
    headers = {}
    if ignored:
        headers["Warning"] = f'299 breastgate "The matching keys {", ".join(ignored)} were ignored"'
    return JSONResponse(items, media_type=DICOM_JSON, headers=headers)


def _query(request: Request, **fixed: str) -> q.Query:
    try:
        return q.parse(list(request.query_params.multi_items()), fixed)
    except InvalidInputError as exc:
        raise HTTPException(400, str(exc)) from None


def _results(session: Session, context: AppContext, query: q.Query) -> list[q.ResultObject]:
    studies = query.filters.study_uids
    if len(studies) != 1:
        return []  # result objects are listed under a named study
    return q.visible_results(session, context.results_path, studies[0], context.initial_mode)


# QIDO-RS -------------------------------------------------------------------------------------
@router.get("/studies")
def search_studies(request: Request, context: ContextDep, user: Reader) -> Response:
    query = _query(request)
    base = _base(request)
    with context.db.session() as session:
        rows = qido.search_studies(session, query.filters, query.limit, query.offset)
        shown = {
            r.study_instance_uid: q.visible_results(
                session, context.results_path, r.study_instance_uid, context.initial_mode
            )
            for r in rows
        }
        _phi_read(session, user, request, "dicomweb study search", len(rows))
    items = [q.study_json(r, shown[r.study_instance_uid], base, query.include) for r in rows]
    return _json(items, query.ignored)


def _search(request: Request, context: AppContext, user: Identity, level: str, **fixed: str) -> Response:
    """Series or instance search: the index is read in one short unit of work, the stored headers
    for the answer outside it (SQLite writers never wait for file reads)."""
    query = _query(request, **fixed)
    wanted = query.limit + query.offset  # the result objects of a named study come after these
    with context.db.session() as session:
        results = _results(session, context, query)
        if level == "series":
            series = qido.search_series(session, query.filters, limit=wanted, offset=0)
        else:
            instances = qido.search_instances(session, query.filters, limit=wanted)
    base = _base(request)
    if level == "series":
        items = q.series_answers(series, query, base, results)
    else:
        items = q.instance_answers(instances, query, base, results)
    with context.db.session() as session:
        _phi_read(
            session, user, request, f"dicomweb {level} search", len(items), fixed.get("StudyInstanceUID")
        )
    return _json(items, query.ignored)


@router.get("/series")
def search_all_series(request: Request, context: ContextDep, user: Reader) -> Response:
    return _search(request, context, user, "series")


@router.get("/studies/{study}/series")
def search_study_series(study: str, request: Request, context: ContextDep, user: Reader) -> Response:
    return _search(request, context, user, "series", StudyInstanceUID=study)


@router.get("/instances")
def search_all_instances(request: Request, context: ContextDep, user: Reader) -> Response:
    return _search(request, context, user, "instance")


@router.get("/studies/{study}/instances")
def search_study_instances(study: str, request: Request, context: ContextDep, user: Reader) -> Response:
    return _search(request, context, user, "instance", StudyInstanceUID=study)


@router.get("/studies/{study}/series/{series}/instances")
def search_series_instances(
    study: str, series: str, request: Request, context: ContextDep, user: Reader
) -> Response:
    return _search(request, context, user, "instance", StudyInstanceUID=study, SeriesInstanceUID=series)


# WADO-RS -------------------------------------------------------------------------------------
Found = list[tuple[str, str, str, str]]


def _stored(session: Session, context: AppContext, study: str, series: str | None, sop: str | None) -> Found:
    """(study, series, sop, path) of the stored instances and visible result objects named."""
    found = qido.stored_objects(session, study, series, sop)
    if sop is None or not found:
        for r in q.visible_results(session, context.results_path, study, context.initial_mode):
            i = r.info
            if (series is None or i.series_instance_uid == series) and (
                sop is None or i.sop_instance_uid == sop
            ):
                found.append((i.study_instance_uid, i.series_instance_uid, i.sop_instance_uid, r.path))
    if not found:
        raise HTTPException(404, "No such study, series or instance")
    return found


def _read(
    request: Request,
    context: AppContext,
    user: Identity,
    what: str,
    key: tuple[str, str | None, str | None],
) -> Found:
    """Look the objects up and audit the read, in one short unit of work (never held while the
    answer streams: SQLite writers would wait for it)."""
    with context.db.session() as session:
        found = _stored(session, context, *key)
        _phi_read(session, user, request, what, len(found), key[0])
    return found


def _dicom_accepted(request: Request) -> bool:
    """Whether the client takes the instances; True when it asked for one bare ``application/dicom``
    body (single part, PS3.18 §8.7.3.3) rather than multipart/related."""
    for media in mp.accepted(request.headers.get("accept"), "application/dicom"):
        if media.media_type in ("application/dicom", "*/*") and media.transfer_syntax in (None, "*"):
            return not media.multipart
        if media.media_type == "application/dicom" and media.transfer_syntax == files.EXPLICIT_LE:
            return not media.multipart  # best effort: objects are sent as stored (mostly this)
    raise HTTPException(
        406, 'Instances are sent as stored: multipart/related; type="application/dicom"; transfer-syntax=*'
    )


def _retrieve(
    request: Request, context: AppContext, user: Identity, key: tuple[str, str | None, str | None]
) -> Response:
    single = _dicom_accepted(request)
    found = _read(request, context, user, "dicomweb retrieve", key)
    if single:
        if len(found) != 1:
            raise HTTPException(406, "A single-part application/dicom answer holds one instance")
        return FileResponse(found[0][3], media_type="application/dicom")
    boundary = mp.new_boundary()
    return StreamingResponse(
        mp.file_parts(boundary, "application/dicom", [f[3] for f in found]),
        media_type=mp.content_type(boundary, "application/dicom"),
    )


@router.get("/studies/{study}")
def retrieve_study(study: str, request: Request, context: ContextDep, user: Reader) -> Response:
    return _retrieve(request, context, user, (study, None, None))


@router.get("/studies/{study}/series/{series}")
def retrieve_series(study: str, series: str, request: Request, context: ContextDep, user: Reader) -> Response:
    return _retrieve(request, context, user, (study, series, None))


@router.get("/studies/{study}/series/{series}/instances/{sop}")
def retrieve_instance(
    study: str, series: str, sop: str, request: Request, context: ContextDep, user: Reader
) -> Response:
    return _retrieve(request, context, user, (study, series, sop))


def _instance_metadata(base: str, study: str, series: str, sop: str, path: str) -> dict[str, Any]:
    try:
        body = dict(files.metadata(path))
    except (OSError, ValueError, EOFError):
        LOGGER.error("cannot read stored instance %s for metadata", sop)
        raise HTTPException(500, "A stored instance cannot be read") from None
    url = f"{base}/studies/{study}/series/{series}/instances/{sop}"
    for tag, element in list(body.items()):
        uri = element.get("BulkDataURI") if isinstance(element, dict) else None
        if isinstance(uri, str) and uri.startswith("bulk:"):
            body[tag] = {"vr": element["vr"], "BulkDataURI": f"{url}/bulkdata/{tag}"}
    if "00280010" in body:  # Rows: an image; its Pixel Data is read as frames
        syntax = body.get("00083002", {}).get("Value", [""])[0]
        frames = ",".join(str(n) for n in range(1, _frame_count(body) + 1))
        body["7FE00010"] = {
            "vr": "OW" if syntax in files.NATIVE_LE else "OB",
            "BulkDataURI": f"{url}/frames/{frames}",
        }
    return body


def _metadata(
    request: Request, context: AppContext, user: Identity, key: tuple[str, str | None, str | None]
) -> Response:
    found = _read(request, context, user, "dicomweb metadata", key)
    base = _base(request)
    items = [_instance_metadata(base, *f) for f in found]
    return JSONResponse(items, media_type=DICOM_JSON)


def _frame_count(body: dict[str, Any]) -> int:
    try:
        return max(1, int(body.get("00280008", {}).get("Value", [1])[0]))
    except (TypeError, ValueError):
        return 1


@router.get("/studies/{study}/metadata")
def study_metadata(study: str, request: Request, context: ContextDep, user: Reader) -> Response:
    return _metadata(request, context, user, (study, None, None))


@router.get("/studies/{study}/series/{series}/metadata")
def series_metadata(study: str, series: str, request: Request, context: ContextDep, user: Reader) -> Response:
    return _metadata(request, context, user, (study, series, None))


@router.get("/studies/{study}/series/{series}/instances/{sop}/metadata")
def instance_metadata(
    study: str, series: str, sop: str, request: Request, context: ContextDep, user: Reader
) -> Response:
    return _metadata(request, context, user, (study, series, sop))


def _frame_numbers(text: str) -> list[int]:
    try:
        numbers = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        raise HTTPException(400, "Frame numbers must be whole numbers separated by commas") from None
    if not numbers or min(numbers) < 1:
        raise HTTPException(400, "Frame numbers start at 1")
    return numbers


def _pixel_path(request: Request, context: AppContext, user: Identity, key: tuple[str, str, str]) -> str:
    """The file of one instance for a frame or rendered read; audited once per user and study
    every FRAME_AUDIT_SECONDS, and the lookup is one indexed query."""
    with context.db.session() as session:
        path = _stored(session, context, *key)[0][3]
        if _FRAME_AUDIT.due(user.actor, key[0]):
            _phi_read(session, user, request, "dicomweb frames", 1, key[0])
    return path


@router.get("/studies/{study}/series/{series}/instances/{sop}/frames/{frames}")
def retrieve_frames(
    study: str, series: str, sop: str, frames: str, request: Request, context: ContextDep, user: Reader
) -> Response:
    """Frames as stored when the client takes that syntax (no decoding), else decoded to explicit
    VR little endian raw bytes (PS3.18 §8.7.3.5)."""
    numbers = _frame_numbers(frames)
    path = _pixel_path(request, context, user, (study, series, sop))
    try:
        layout = files.layout(path)
        part_type, decode = _negotiate(request.headers.get("accept"), layout)
        parts = [(part_type, _frame_bytes(path, layout, n, decode), None) for n in numbers]
    except files.FrameError as exc:
        raise HTTPException(404, str(exc)) from None
    boundary = mp.new_boundary()
    return StreamingResponse(
        mp.byte_parts(boundary, parts), media_type=mp.content_type(boundary, part_type.split(";")[0])
    )


def _negotiate(accept: str | None, layout: files.FrameLayout) -> tuple[str, bool]:
    """(part Content-Type, decode?) for the client's Accept and the stored frames."""
    stored = layout.transfer_syntax_uid
    whole = layout.native or bool(layout.fragments)  # the stored bytes of a frame can be cut out
    compressed_type = mp.FRAME_MEDIA_TYPES.get(stored)
    raw = f"application/octet-stream; transfer-syntax={files.EXPLICIT_LE}"
    for media in mp.accepted(accept, "application/octet-stream"):
        ts = media.transfer_syntax
        if media.media_type in ("application/octet-stream", "*/*"):
            if ts == "*" and whole:
                label = files.EXPLICIT_LE if layout.native else stored
                return f"application/octet-stream; transfer-syntax={label}", False
            if ts in (None, "*", files.EXPLICIT_LE):
                return raw, not layout.native
            if ts == stored and compressed_type and whole:
                return f"application/octet-stream; transfer-syntax={stored}", False
        elif compressed_type and media.media_type == compressed_type and ts in (None, "*", stored) and whole:
            return f"{compressed_type}; transfer-syntax={stored}", False
    raise HTTPException(406, f"Frames are available as stored ({stored}) or as explicit VR little endian")


def _frame_bytes(path: str, layout: files.FrameLayout, number: int, decode: bool) -> bytes:
    if not 1 <= number <= layout.number_of_frames:
        raise files.FrameError(f"frame {number} is out of range 1-{layout.number_of_frames}")
    if decode:
        return files.decoded_frame(path, number)
    return files.read_frame(path, layout, number)


@router.get("/studies/{study}/series/{series}/instances/{sop}/bulkdata/{tag}")
def retrieve_bulkdata(
    study: str, series: str, sop: str, tag: str, request: Request, context: ContextDep, user: Reader
) -> Response:
    """A bulk data element other than Pixel Data (left out of metadata for its size)."""
    path = _pixel_path(request, context, user, (study, series, sop))
    try:
        data = files.bulk_value(path, int(tag, 16))
    except (KeyError, ValueError):
        raise HTTPException(404, "No such bulk data element") from None
    boundary = mp.new_boundary()
    return StreamingResponse(
        mp.byte_parts(boundary, [("application/octet-stream", data, None)]),
        media_type=mp.content_type(boundary, "application/octet-stream"),
    )


def _rendered(
    request: Request, context: AppContext, user: Identity, key: tuple[str, str, str], frame: int
) -> Response:
    for entry in mp.accepted(request.headers.get("accept"), "image/jpeg"):
        if entry.media_type in RENDERED_TYPES or entry.media_type in ("*/*", "image/*"):
            media = entry.media_type if entry.media_type in RENDERED_TYPES else "image/jpeg"
            break
    else:
        raise HTTPException(406, "Rendered images are image/jpeg or image/png")
    path = _pixel_path(request, context, user, key)
    try:
        window = parse_window(request.query_params.get("window"))
        quality = int(request.query_params.get("quality", "90"))
        data = render(path, frame, media, window, quality)
    except (InvalidInputError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from None
    return Response(data, media_type=media)


@router.get("/studies/{study}/series/{series}/instances/{sop}/rendered")
def instance_rendered(
    study: str, series: str, sop: str, request: Request, context: ContextDep, user: Reader
) -> Response:
    return _rendered(request, context, user, (study, series, sop), 1)


@router.get("/studies/{study}/series/{series}/instances/{sop}/frames/{frame}/rendered")
def frame_rendered(
    study: str, series: str, sop: str, frame: int, request: Request, context: ContextDep, user: Reader
) -> Response:
    return _rendered(request, context, user, (study, series, sop), frame)
