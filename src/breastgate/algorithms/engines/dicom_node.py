"""A third-party CAD engine that is a DICOM node (PS3.4 Annex B Storage both ways).

The flow of :meth:`DicomNodeEngine.run` for one study:

1. every selected image (Digital Mammography For Presentation; Breast Tomosynthesis when
   configured) is de-identified (PS3.15 Basic Profile, *injected*: ``algorithms`` may not import
   ``results``) — the UID map (replacement → original) is kept by the job;
2. the images are C-STOREd to the engine's AE in one association;
3. the engine sends its result object(s) back by C-STORE to a return Storage SCP that this adapter
   runs (one listener per adapter, started on first use, thread-safe); objects are routed to the
   waiting job by their (de-identified) Study Instance UID, and a job's wait ends when an
   association that brought objects for its study is released with a Mammography CAD SR among
   them;
4. the objects are re-identified (injected) — original UIDs and patient / study modules back —
   and the Mammography CAD SR is decoded (injected) into findings with the engine's raw score and
   a 0-1 score normalised with the configured scale ``[lo, hi]``.

Only the Mammography CAD SR is decoded. A GSPS, Secondary Capture or any other object the engine
returns is re-identified, kept in :attr:`EngineRun.objects` and named in the result message, but
not read. Failures: engine unreachable, association rejected, out-of-resources C-STORE status or no
result before the timeout raise :class:`~breastgate.domain.errors.EngineUnavailableError` (the job
is retried); a result that cannot be decoded, or no CAD SR, gives a FAILED result with the reason.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt

from breastgate.algorithms.base import Selection
from breastgate.domain.errors import (
    ConfigurationError,
    EncodingError,
    EngineUnavailableError,
    InvalidInputError,
)
from breastgate.domain.model import (
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    DensityAssessment,
    DicomNode,
    Finding,
    ImageOutcome,
    InstanceRef,
    PresentationIntent,
    StudyRef,
)

LOGGER = logging.getLogger(__name__)

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"
MAMMOGRAPHY_CAD_SR = "1.2.840.10008.5.1.4.1.1.88.50"
VERIFICATION = "1.2.840.10008.1.1"
#: What the return SCP accepts: CAD SR, other SR, GSPS, SC and KOS (PS3.4 B.5).
RETURN_SOP_CLASSES = (
    MAMMOGRAPHY_CAD_SR,
    "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
    "1.2.840.10008.5.1.4.1.1.88.34",  # Comprehensive 3D SR
    "1.2.840.10008.5.1.4.1.1.11.1",  # Grayscale Softcopy Presentation State
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
    "1.2.840.10008.5.1.4.1.1.88.59",  # Key Object Selection
)
#: C-STORE failures that may pass (PS3.4 B.2.3 out of resources; PS3.7 C.4 0x0213).
_TRANSIENT = range(0xA700, 0xA800)


class Deidentify(Protocol):
    """De-identify one image: (de-identified copy, UID map replacement → original)."""

    def __call__(self, dataset: Dataset) -> tuple[Dataset, Mapping[str, str]]: ...


class Reidentify(Protocol):
    """Put a returned object back in the original study (UIDs, patient and study modules)."""

    def __call__(
        self, dataset: Dataset, mapping: Mapping[str, str], source_headers: Sequence[Dataset]
    ) -> Dataset: ...


class DecodeResult(Protocol):
    """Decode a Mammography CAD SR: findings (scores normalised with ``scale``) and density."""

    def __call__(
        self, dataset: Dataset, scale: tuple[float, float], image_laterality: Mapping[str, str]
    ) -> tuple[tuple[Finding, ...], DensityAssessment | None]: ...


@dataclass(frozen=True)
class DicomEngineConfig:
    """One engine: who it is, where it listens, where it answers, and its score scale."""

    id: str
    version: str
    name: str
    engine: DicomNode
    return_ae: str
    return_port: int
    return_host: str = "127.0.0.1"
    calling_ae: str = "BREASTGATE"
    manufacturer: str = "third party"
    intended_use: str = "Mammography CAD by an external engine"
    timeout_seconds: float = 600.0
    connect_timeout: float = 10.0
    score_scale: tuple[float, float] = (0.0, 100.0)
    include_dbt: bool = False
    echo_cache_seconds: float = 5.0

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> DicomEngineConfig:
        """From a TOML table: ``id``, ``version``, ``name``, ``node = "AE@HOST:PORT"`` (or
        ``ae_title`` / ``host`` / ``port``), ``return_ae``, ``return_port``, optional
        ``return_host``, ``calling_ae``, ``manufacturer``, ``intended_use``, ``timeout_seconds``,
        ``connect_timeout``, ``score_scale = [lo, hi]``, ``include_dbt``, ``echo_cache_seconds``."""
        try:
            node = (
                DicomNode.parse(str(config["node"]))
                if "node" in config
                else DicomNode(str(config["ae_title"]), str(config["host"]), int(config["port"]))
            )
            lo, hi = (float(v) for v in config.get("score_scale", (0.0, 100.0)))
            out = cls(
                id=str(config["id"]),
                version=str(config["version"]),
                name=str(config.get("name", config["id"])),
                engine=node,
                return_ae=str(config["return_ae"]),
                return_port=int(config["return_port"]),
                return_host=str(config.get("return_host", "127.0.0.1")),
                calling_ae=str(config.get("calling_ae", "BREASTGATE")),
                manufacturer=str(config.get("manufacturer", "third party")),
                intended_use=str(config.get("intended_use", cls.intended_use)),
                timeout_seconds=float(config.get("timeout_seconds", 600.0)),
                connect_timeout=float(config.get("connect_timeout", 10.0)),
                score_scale=(lo, hi),
                include_dbt=bool(config.get("include_dbt", False)),
                echo_cache_seconds=float(config.get("echo_cache_seconds", 5.0)),
            )
        except (KeyError, TypeError, ValueError, InvalidInputError) as exc:
            raise ConfigurationError(f"DICOM engine configuration: {exc!r}") from None
        if not hi > lo or out.timeout_seconds <= 0 or not 0 < out.return_port < 65536:
            raise ConfigurationError("DICOM engine: score_scale needs lo < hi, a positive timeout, a port")
        for ae in (out.return_ae, out.calling_ae):
            if not ae or len(ae) > 16:
                raise ConfigurationError(f"DICOM engine: AE title {ae!r} must be 1-16 characters")
        return out


@dataclass(frozen=True)
class EngineRun:
    """A result and the re-identified objects the engine returned (CAD SR, GSPS, SC ...)."""

    result: AlgorithmResult
    objects: tuple[Dataset, ...] = ()


def _set_nodelay(event: Any) -> None:
    """EVT_CONN_OPEN: disable Nagle (reference tools.md: each PDU otherwise waits ~45 ms)."""
    sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - a non-TCP socket
            LOGGER.debug("could not set TCP_NODELAY", exc_info=True)


class _ClosingAE(AE):  # type: ignore[misc]
    """pynetdicom 3.0.4 leaks the socket of a failed connect(); close what we opened."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raw_sockets: list[socket.socket] = []

    def _create_socket(self, *args: Any, **kwargs: Any) -> Any:
        assoc_socket = super()._create_socket(*args, **kwargs)
        raw = getattr(assoc_socket, "socket", None)
        if isinstance(raw, socket.socket):
            self.raw_sockets.append(raw)
        return assoc_socket

    def close_sockets(self) -> None:
        for raw in self.raw_sockets:
            raw.close()
        self.raw_sockets.clear()


@dataclass
class _Inbox:
    """Objects received for one (de-identified) study, and a flag raised on each release."""

    objects: list[Dataset] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)


class ReturnListener:
    """The Storage SCP the engine answers to; routes objects to jobs by Study Instance UID."""

    def __init__(self, ae_title: str, host: str, port: int) -> None:
        self.ae_title, self.host, self.port = ae_title, host, port
        self._lock = threading.Lock()
        self._server: Any = None
        self._inboxes: dict[str, _Inbox] = {}
        self._touched: dict[int, set[str]] = {}

    def ensure_started(self) -> None:
        """Start the SCP once (thread-safe); a port that cannot be bound is an engine problem."""
        with self._lock:
            if self._server is not None:
                return
            ae = AE(ae_title=self.ae_title)
            ae.maximum_pdu_size = 0
            for sop_class in RETURN_SOP_CLASSES:
                ae.add_supported_context(sop_class)
            ae.add_supported_context(VERIFICATION)
            handlers: list[Any] = [
                (evt.EVT_C_STORE, self._on_store),
                (evt.EVT_RELEASED, self._on_released),
                (evt.EVT_ABORTED, self._on_released),
            ]
            try:
                self._server = ae.start_server((self.host, self.port), block=False, evt_handlers=handlers)
            except OSError as exc:
                raise EngineUnavailableError(
                    f"return SCP cannot listen on {self.host}:{self.port}: {exc}"
                ) from None
            LOGGER.info("DICOM engine return SCP %s listening on %s:%d", self.ae_title, self.host, self.port)

    def expect(self, study_uid: str) -> _Inbox:
        with self._lock:
            return self._inboxes.setdefault(study_uid, _Inbox())

    def forget(self, study_uid: str) -> None:
        with self._lock:
            self._inboxes.pop(study_uid, None)

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()

    def _on_store(self, event: Any) -> int:
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
        except Exception:  # pynetdicom maps this to 0xC210 itself; say what happened
            LOGGER.warning("engine returned an object that cannot be decoded", exc_info=True)
            return 0xC210
        study = str(ds.get("StudyInstanceUID", ""))
        with self._lock:
            inbox = self._inboxes.get(study)
            if inbox is None:
                LOGGER.warning("engine returned an object for a study no job waits for (late or foreign)")
                return 0x0000  # accepted and dropped: a retried job gets its own answer
            inbox.objects.append(ds)
            self._touched.setdefault(id(event.assoc), set()).add(study)
        return 0x0000

    def _on_released(self, event: Any) -> None:
        with self._lock:
            studies = self._touched.pop(id(event.assoc), set())
            inboxes = [self._inboxes[s] for s in studies if s in self._inboxes]
        for inbox in inboxes:
            inbox.released.set()


def _wait(inbox: _Inbox, timeout: float) -> list[Dataset]:
    """Objects once an association released with a CAD SR among them; at the deadline, whatever
    came (a FAILED result); nothing at all raises EngineUnavailableError."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not inbox.released.wait(remaining):
            if inbox.objects:
                return list(inbox.objects)
            raise EngineUnavailableError(f"no result from the engine within {timeout:g} s")
        inbox.released.clear()
        if any(str(o.get("SOPClassUID", "")) == MAMMOGRAPHY_CAD_SR for o in inbox.objects):
            return list(inbox.objects)


def _describe(ds: Dataset) -> str:
    sop_class = UID(str(ds.get("SOPClassUID", "")))
    return f"{sop_class.name or sop_class} {ds.get('SOPInstanceUID', '?')}"


class DicomNodeEngine:
    """Algorithm adapter for a third-party engine that is a DICOM node (module docstring).

    Parameters
    ----------
    config
        The engine's identity, addresses, timeout and score scale.
    deidentify, reidentify, decode
        PS3.15 de-identification, re-identification and the CAD SR decoder (``results`` code,
        injected by :func:`breastgate.pipeline.dicom_engine.make_dicom_engine`).
    """

    def __init__(
        self,
        config: DicomEngineConfig,
        *,
        deidentify: Deidentify,
        reidentify: Reidentify,
        decode: DecodeResult,
    ) -> None:
        self.config = config
        self._deidentify = deidentify
        self._reidentify = reidentify
        self._decode = decode
        classes = (
            (MG_FOR_PRESENTATION, BREAST_TOMOSYNTHESIS) if config.include_dbt else (MG_FOR_PRESENTATION,)
        )
        self.manifest = AlgorithmManifest(
            id=config.id,
            version=config.version,
            name=config.name,
            intended_use=config.intended_use,
            modalities=("MG",),
            sop_class_uids=classes,
            outputs=("mass", "calcification_cluster", "architectural_distortion", "asymmetry"),
            manufacturer=config.manufacturer,
            label=f"Third-party engine {config.name} by {config.manufacturer}; use as validated by the site.",
        )
        self._listener = ReturnListener(config.return_ae, config.return_host, config.return_port)
        self._echo_lock = threading.Lock()
        self._echo: tuple[float, tuple[bool, str]] | None = None

    # ------------------------------------------------------------------ protocol

    def is_available(self) -> tuple[bool, str]:
        """Configured is available: an engine that is down is a retry, not a missing dependency.

        The job runner treats an unavailable algorithm as a permanent failure, so reachability is
        not checked here: :meth:`run` raises :class:`~breastgate.domain.errors.EngineUnavailableError`
        when the engine cannot be reached and the job is retried (as for the HTTP engine).
        :meth:`reachable` asks the engine itself (C-ECHO)."""
        return True, ""

    def reachable(self) -> tuple[bool, str]:
        """C-ECHO to the engine, cached for ``echo_cache_seconds``: whether it answers, and if not, why."""
        with self._echo_lock:
            now = time.monotonic()
            if self._echo is not None and now - self._echo[0] < self.config.echo_cache_seconds:
                return self._echo[1]
            answer = self._c_echo()
            self._echo = (time.monotonic(), answer)
            return answer

    def select(self, study: StudyRef) -> Selection:
        """For Presentation mammograms (and DBT volumes when configured); the rest with a reason."""
        inputs: list[InstanceRef] = []
        skipped: list[ImageOutcome] = []
        for ref in study.instances:
            wanted = ref.sop_class_uid in self.manifest.sop_class_uids
            if wanted and ref.presentation_intent != PresentationIntent.FOR_PROCESSING:
                inputs.append(ref)
            else:
                reason = f"not sent to {self.config.name}: SOP Class {ref.sop_class_uid} ({ref.modality})"
                skipped.append(
                    ImageOutcome(
                        ref.sop_instance_uid, AlgorithmStatus.SKIPPED, reason, ref.laterality, ref.view
                    )
                )
        return Selection(study, tuple(inputs), tuple(skipped))

    def run(self, selection: Selection) -> AlgorithmResult:
        """De-identify, send, wait, re-identify, decode (module docstring)."""
        return self.run_with_objects(selection).result

    def close(self) -> None:
        """Stop the return SCP."""
        self._listener.close()

    # ------------------------------------------------------------------ the work

    def _result(
        self, selection: Selection, status: AlgorithmStatus, message: str, **kw: Any
    ) -> AlgorithmResult:
        return AlgorithmResult(
            algorithm_id=self.config.id,
            algorithm_version=self.config.version,
            study_instance_uid=selection.study.study_instance_uid,
            status=status,
            message=message,
            **kw,
        )

    def run_with_objects(self, selection: Selection) -> EngineRun:
        """:meth:`run`, also giving back the re-identified objects (to store and deliver)."""
        if not selection.inputs:
            return EngineRun(self._result(selection, AlgorithmStatus.SKIPPED, "no image to send"))
        sent: list[Dataset] = []
        headers: list[Dataset] = []
        mapping: dict[str, str] = {}
        outcomes: dict[str, ImageOutcome] = {}
        for ref in selection.inputs:
            try:
                ds = dcmread(ref.path)
                deidentified, uids = self._deidentify(ds)
            except (OSError, InvalidDicomError, InvalidInputError) as exc:
                outcomes[ref.sop_instance_uid] = ImageOutcome(
                    ref.sop_instance_uid, AlgorithmStatus.FAILED, f"not sent: {exc}", ref.laterality, ref.view
                )
                continue
            header = ds.copy()
            if "PixelData" in header:
                del header.PixelData
            headers.append(header)
            mapping.update(uids)
            sent.append(deidentified)
            outcomes[ref.sop_instance_uid] = ImageOutcome(
                ref.sop_instance_uid, AlgorithmStatus.OK, "", ref.laterality, ref.view
            )
        if not sent:
            images = tuple(outcomes.values())
            return EngineRun(
                self._result(selection, AlgorithmStatus.FAILED, "no image could be sent", images=images)
            )
        self._listener.ensure_started()
        study_key = str(sent[0].StudyInstanceUID)
        inbox = self._listener.expect(study_key)
        try:
            refused = self._send(sent)
            for deid_uid, why in refused.items():
                uid = mapping.get(deid_uid, deid_uid)
                old = outcomes[uid]
                outcomes[uid] = ImageOutcome(uid, AlgorithmStatus.FAILED, why, old.laterality, old.view)
            images = tuple(outcomes.values())
            if len(refused) == len(sent):
                message = f"{self.config.name} refused every image: " + "; ".join(
                    sorted(set(refused.values()))
                )
                return EngineRun(self._result(selection, AlgorithmStatus.FAILED, message, images=images))
            objects = _wait(inbox, self.config.timeout_seconds)
        finally:
            self._listener.forget(study_key)
        return self._finish(selection, objects, mapping, headers, images)

    def _finish(
        self,
        selection: Selection,
        objects: list[Dataset],
        mapping: Mapping[str, str],
        headers: Sequence[Dataset],
        images: tuple[ImageOutcome, ...],
    ) -> EngineRun:
        returned: list[Dataset] = []
        try:
            for obj in objects:
                returned.append(self._reidentify(obj, mapping, headers))
        except InvalidInputError as exc:
            message = f"{self.config.name} returned an object that cannot be re-identified: {exc}"
            return EngineRun(self._result(selection, AlgorithmStatus.FAILED, message, images=images))
        cad = [o for o in returned if str(o.get("SOPClassUID", "")) == MAMMOGRAPHY_CAD_SR]
        described = "; ".join(
            _describe(o) + (" (decoded)" if o in cad else " (kept, not decoded)") for o in returned
        )
        if not cad:
            message = f"{self.config.name} returned no Mammography CAD SR: {described}"
            return EngineRun(
                self._result(selection, AlgorithmStatus.FAILED, message, images=images), tuple(returned)
            )
        sides = {str(h.SOPInstanceUID): str(h.get("ImageLaterality", "")) for h in headers}
        findings: list[Finding] = []
        density: DensityAssessment | None = None
        try:
            for sr in cad:
                found, dens = self._decode(sr, self.config.score_scale, sides)
                findings.extend(found)
                density = density or dens
        except (InvalidInputError, EncodingError) as exc:
            message = f"{self.config.name} result cannot be decoded: {exc}; returned: {described}"
            return EngineRun(
                self._result(selection, AlgorithmStatus.FAILED, message, images=images), tuple(returned)
            )
        result = self._result(
            selection,
            AlgorithmStatus.OK,
            f"{self.config.name} returned: {described}",
            images=images,
            findings=tuple(findings),
            density=density,
        )
        return EngineRun(result, tuple(returned))

    # ------------------------------------------------------------------ network

    def _ae(self) -> _ClosingAE:
        ae = _ClosingAE(ae_title=self.config.calling_ae)
        ae.connection_timeout = self.config.connect_timeout
        ae.acse_timeout = self.config.connect_timeout
        ae.network_timeout = max(self.config.timeout_seconds, 30.0)
        ae.dimse_timeout = max(self.config.timeout_seconds, 30.0)
        return ae

    def _associate(self, ae: _ClosingAE) -> Any:
        node = self.config.engine
        assoc = ae.associate(
            node.host, node.port, ae_title=node.ae_title, evt_handlers=[(evt.EVT_CONN_OPEN, _set_nodelay)]
        )
        if not assoc.is_established:
            ae.close_sockets()
            why = "rejected the association" if assoc.is_rejected else "is unreachable or aborted"
            raise EngineUnavailableError(f"engine {node} {why}")
        return assoc

    def _c_echo(self) -> tuple[bool, str]:
        ae = self._ae()
        ae.add_requested_context(VERIFICATION)
        try:
            assoc = self._associate(ae)
        except EngineUnavailableError as exc:
            return False, str(exc)
        try:
            status = assoc.send_c_echo()
        finally:
            assoc.release()
            ae.close_sockets()
        if status and int(status.get("Status", -1)) == 0x0000:
            return True, ""
        return False, f"engine {self.config.engine} did not answer C-ECHO"

    def _send(self, datasets: Sequence[Dataset]) -> dict[str, str]:
        """C-STORE in one association; returns refused SOP Instance UIDs with the reason."""
        ae = self._ae()
        pairs: dict[str, list[str]] = {}
        for ds in datasets:
            syntaxes = pairs.setdefault(str(ds.SOPClassUID), [])
            for ts in (str(ds.file_meta.TransferSyntaxUID), ExplicitVRLittleEndian, ImplicitVRLittleEndian):
                if ts not in syntaxes:
                    syntaxes.append(ts)
        for sop_class, syntaxes in pairs.items():
            ae.add_requested_context(sop_class, syntaxes)
        assoc = self._associate(ae)
        refused: dict[str, str] = {}
        try:
            for ds in datasets:
                status = assoc.send_c_store(ds)
                code = int(status.get("Status", -1)) if status else -1
                if code == -1:
                    assoc.abort()
                    raise EngineUnavailableError(f"no C-STORE response from engine {self.config.engine}")
                if code in _TRANSIENT or code == 0x0213:
                    assoc.abort()
                    raise EngineUnavailableError(
                        f"engine {self.config.engine} is out of resources (0x{code:04X})"
                    )
                if code != 0x0000 and not 0xB000 <= code <= 0xBFFF:
                    refused[str(ds.SOPInstanceUID)] = f"engine refused the image (C-STORE 0x{code:04X})"
        finally:
            if assoc.is_established:
                assoc.release()
            ae.close_sockets()
        return refused
