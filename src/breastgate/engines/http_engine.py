"""HTTP engine adapter: a vendor's inference service behind the Algorithm protocol.

Contract (``docs/engines.md`` has the same with examples)
---------------------------------------------------------
Request: ``POST <url>`` with ``Content-Type: application/json``, ``Authorization: Bearer <token>``
when a token is configured, and the body::

    {"schema": "breastgate.engine-request/1",
     "study_instance_uid": "1.2...",
     "dicomweb_url": "https://pacs.example/dicom-web/studies/1.2...",   # only when configured
     "instances": [{"sop_instance_uid", "series_instance_uid", "sop_class_uid", "modality",
                    "laterality", "view", "number_of_frames"}, ...]}

No patient name, patient ID, birth date or accession number is sent: the engine fetches the pixels
it needs from ``dicomweb_url`` (WADO-RS, PS3.18 §10.4), under that endpoint's access control.

Response: ``200`` with a JSON object::

    {"findings": [                                  # required, may be empty
        {"id": "f1",                                # optional, unique; default <kind>-<n>
         "kind": "mass",                            # DESIGN §4 findings[].kind
         "laterality": "L",                         # optional when the marked images say it
         "score": 7.5,                              # raw, within score_scale
         "size_mm": 12.0,                           # optional
         "location": {"clock": 2, "quadrant": "UOQ", "depth": "middle",
                      "distance_from_nipple_mm": 40.0},                # optional, each key optional
         "marks": [{"sop_instance_uid": "...",      # must be one of the request's instances
                    "frame": 12,                    # 1-based, multi-frame images only
                    "point": [col, row], "bbox": [c0, r0, c1, r1],     # at least one of the two
                    "outline": [[c, r], ...],       # optional
                    "score": 7.5}]}],               # optional, raw; default the finding's
     "density": {"category": "c", "percent_dense": 41.0,               # optional
                 "per_breast": {"L": {"category": "c", "percent_dense": 44.0}, "R": {...}}},
     "score_scale": [0, 10],                        # optional; default the configured scale
     "images": [{"sop_instance_uid": "...", "status": "failed", "message": "..."}]}  # optional

Pixel coordinates are DICOM image coordinates (column, row), origin at the top-left corner of the
top-left pixel (DESIGN §4). Scores are normalised to 0-1 by the scale, the raw value kept in
``Finding.attributes["raw_score"]``. Unknown keys are ignored (engines may add fields); a known key
with a wrong value makes the whole result FAILED with the reason: an unknown kind, a score outside
the scale, a mark on an instance that was not sent, a frame beyond the image's frames, a
laterality that contradicts the marked image, a density category outside a-d.

Failures
--------
Connection refused or reset, a timeout, HTTP 408, 429 and 5xx raise
:class:`~breastgate.domain.errors.EngineUnavailableError`: the engine may come back, so the job
is retried. Any other status (4xx, 3xx) is a FAILED result with the engine's message (``detail``,
``title``, ``message`` or ``error`` of a JSON body, else the text). The token is never logged.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from breastgate.algorithms.base import Selection
from breastgate.domain.errors import ConfigurationError, EngineUnavailableError
from breastgate.domain.model import (
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    ImageOutcome,
    InstanceRef,
    StudyRef,
)
from breastgate.engines._http_response import MESSAGE_CHARS, EngineResponseError, convert_response
from breastgate.engines._scores import ScoreScale
from breastgate.imaging.pixels import laterality_of, read_header, view_of

LOGGER = logging.getLogger(__name__)

REQUEST_SCHEMA = "breastgate.engine-request/1"
#: Statuses after which the same request may succeed later: the job is retried.
RETRYABLE_STATUS = frozenset({408, 429})


@dataclass(frozen=True)
class HttpEngineConfig:
    """Where the engine is and how to talk to it. ``token`` is the secret itself, resolved by the
    caller (e.g. from an environment variable); ``operating_threshold`` is on the raw scale."""

    manifest: AlgorithmManifest
    url: str
    timeout_seconds: float = 30.0
    token: str | None = field(default=None, repr=False)
    dicomweb_url: str | None = None
    score_scale: ScoreScale = field(default_factory=ScoreScale)
    operating_threshold: float | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"engine {self.manifest.id}: url must be http(s)://host/..., got {self.url!r}"
            )
        if self.dicomweb_url is not None:
            base = urlsplit(self.dicomweb_url)
            if base.scheme not in ("http", "https") or not base.netloc:
                raise ConfigurationError(
                    f"engine {self.manifest.id}: dicomweb_url must be http(s)://host/..., "
                    f"got {self.dicomweb_url!r}"
                )
        if not (math.isfinite(self.timeout_seconds) and self.timeout_seconds > 0):
            raise ConfigurationError(f"engine {self.manifest.id}: timeout_seconds must be > 0")
        if self.operating_threshold is not None:
            try:
                self.score_scale.normalise(self.operating_threshold)
            except ValueError as exc:
                raise ConfigurationError(f"engine {self.manifest.id}: operating_threshold: {exc}") from None


class HttpEngine:
    """A vendor engine reached over HTTP (see the module docstring for the contract)."""

    manifest: AlgorithmManifest

    def __init__(self, config: HttpEngineConfig) -> None:
        self.config = config
        self.manifest = config.manifest
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        """One client per engine, made on first use (not at import, not before a worker forks): its
        connection pool and TLS context are reused (a new client per request cost ~30 ms)."""
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.config.timeout_seconds, follow_redirects=False)
            return self._client

    def close(self) -> None:
        """Close the connection pool (a later run opens a new one)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def is_available(self) -> tuple[bool, str]:
        """Configured is available: an engine that is down is a retry, not a missing dependency."""
        return True, ""

    def select(self, study: StudyRef) -> Selection:
        """Instances of the manifest's modalities, SOP classes and views; others skipped with the reason."""
        inputs: list[InstanceRef] = []
        skipped: list[ImageOutcome] = []
        m = self.manifest
        for ref in study.instances:
            ref = _with_side_and_view(ref)
            reason = None
            if m.modalities and ref.modality.upper() not in m.modalities:
                reason = f"modality {ref.modality or 'missing'} is not one the engine takes"
            elif m.sop_class_uids and ref.sop_class_uid not in m.sop_class_uids:
                reason = f"SOP class {ref.sop_class_uid} is not one the engine takes"
            elif m.views and (ref.view or "").upper() not in m.views:
                reason = f"view {ref.view or 'unknown'} is not one the engine takes ({', '.join(m.views)})"
            if reason is None:
                inputs.append(ref)
            else:
                skipped.append(
                    ImageOutcome(
                        ref.sop_instance_uid, AlgorithmStatus.SKIPPED, reason, ref.laterality, ref.view
                    )
                )
        return Selection(study=study, inputs=tuple(inputs), skipped=tuple(skipped))

    def request_body(self, selection: Selection) -> dict[str, Any]:
        """The JSON sent to the engine: references only, no patient identifiers."""
        uid = selection.study.study_instance_uid
        body: dict[str, Any] = {"schema": REQUEST_SCHEMA, "study_instance_uid": uid}
        if self.config.dicomweb_url:
            body["dicomweb_url"] = f"{self.config.dicomweb_url.rstrip('/')}/studies/{uid}"
        body["instances"] = [
            {
                "sop_instance_uid": ref.sop_instance_uid,
                "series_instance_uid": ref.series_instance_uid,
                "sop_class_uid": ref.sop_class_uid,
                "modality": ref.modality,
                "laterality": ref.laterality,
                "view": ref.view,
                "number_of_frames": ref.number_of_frames,
            }
            for ref in selection.inputs
        ]
        return body

    def run(self, selection: Selection) -> AlgorithmResult:
        """POST the request, check the answer, convert it.

        Raises
        ------
        EngineUnavailableError
            The engine could not be reached, timed out, or answered 408, 429 or 5xx.
        """
        base: dict[str, Any] = {
            "algorithm_id": self.manifest.id,
            "algorithm_version": self.manifest.version,
            "study_instance_uid": selection.study.study_instance_uid,
        }
        if not selection.inputs:
            reasons = "; ".join(sorted({o.message for o in selection.skipped if o.message})) or "no images"
            message = f"no instance the engine takes: {reasons}"
            return AlgorithmResult(
                status=AlgorithmStatus.SKIPPED, message=message, images=selection.skipped, **base
            )
        response = self._post(self.request_body(selection))
        if not 200 <= response.status_code < 300:
            message = f"engine answered HTTP {response.status_code}: {_engine_message(response)}"
            return self._failed(selection, base, message)
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            return self._failed(selection, base, f"engine answer is not JSON: {exc}")
        try:
            converted = convert_response(data, selection.inputs, self.config.score_scale)
        except EngineResponseError as exc:
            return self._failed(selection, base, f"engine answer rejected: {exc}")
        findings, density, overrides = converted
        images = [*selection.skipped]
        for ref in selection.inputs:
            outcome = ImageOutcome(ref.sop_instance_uid, AlgorithmStatus.OK, "", ref.laterality, ref.view)
            images.append(overrides.get(ref.sop_instance_uid, outcome))
        threshold = self.config.operating_threshold
        return AlgorithmResult(
            status=AlgorithmStatus.OK,
            images=tuple(images),
            findings=findings,
            density=density,
            operating_threshold=None if threshold is None else self.config.score_scale.normalise(threshold),
            **base,
        )

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        config = self.config
        headers = {"Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        where = f"engine {self.manifest.id} at {config.url}"
        try:
            response = self._http().post(config.url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise EngineUnavailableError(
                f"{where} did not answer within {config.timeout_seconds:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise EngineUnavailableError(f"{where} cannot be reached: {type(exc).__name__}: {exc}") from exc
        if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
            raise EngineUnavailableError(
                f"{where} answered HTTP {response.status_code}: {_engine_message(response)}"
            )
        LOGGER.debug("%s answered HTTP %d (%d bytes)", where, response.status_code, len(response.content))
        return response

    def _failed(self, selection: Selection, base: dict[str, Any], message: str) -> AlgorithmResult:
        LOGGER.warning("%s: %s", self.manifest.id, message)
        images = [*selection.skipped]
        images += [
            ImageOutcome(ref.sop_instance_uid, AlgorithmStatus.FAILED, message, ref.laterality, ref.view)
            for ref in selection.inputs
        ]
        return AlgorithmResult(status=AlgorithmStatus.FAILED, message=message, images=tuple(images), **base)


def _with_side_and_view(ref: InstanceRef) -> InstanceRef:
    """Laterality and view from the file header when the index lacks them (tolerant: a header that
    cannot be read leaves them unknown)."""
    if ref.laterality and ref.view:
        return ref
    try:
        header = read_header(ref.path)
    except Exception:
        return ref
    return replace(ref, laterality=ref.laterality or laterality_of(header), view=ref.view or view_of(header))


def _engine_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("detail", "title", "message", "error"):
            if isinstance(data.get(key), str) and data[key].strip():
                return str(data[key]).strip()[:MESSAGE_CHARS]
    text = response.text.strip()
    return text[:MESSAGE_CHARS] if text else response.reason_phrase or "no message"
