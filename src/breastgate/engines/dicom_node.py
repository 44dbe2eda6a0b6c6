"""A third-party CAD engine that is a DICOM node (PS3.4 Annex B Storage both ways).

The flow of :meth:`DicomNodeEngine.run` for one study:

1. every selected image (Digital Mammography For Presentation; Breast Tomosynthesis when
   configured) is de-identified (PS3.15 Basic Profile, :mod:`breastgate.engines.deid`) — the UID
   map (replacement → original) is kept by the job;
2. the images are C-STOREd to the engine's AE in one association;
3. the engine sends its result object(s) back by C-STORE to a return Storage SCP that this adapter
   runs (:mod:`breastgate.engines.dicom_return`);
4. the objects are re-identified — original UIDs and patient / study modules back — and the
   Mammography CAD SR is decoded (:mod:`breastgate.results.cad_sr_decode`) into findings with the
   engine's raw score and a 0-1 score normalised with the configured scale ``[lo, hi]``.

Only the Mammography CAD SR is decoded. A GSPS, Secondary Capture or any other object the engine
returns is re-identified, kept in :attr:`EngineRun.objects` and named in the result message, but
not read. Failures: engine unreachable, association rejected, out-of-resources C-STORE status or no
result before the timeout raise :class:`~breastgate.domain.errors.EngineUnavailableError` (the job
is retried); a result that cannot be decoded, or no CAD SR, gives a FAILED result with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from breastgate.algorithms.base import Selection
from breastgate.dicomnet.ae import ClosingAE, Timeouts, associate, client_ae, release
from breastgate.dicomnet.status import check_store_status
from breastgate.dicomnet.storage import propose_storage, send_c_store
from breastgate.domain.errors import (
    ConfigurationError,
    DeliveryError,
    EncodingError,
    EngineUnavailableError,
    InvalidInputError,
    PermanentDeliveryError,
    RetryableDeliveryError,
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
    is_ae_title,
)
from breastgate.engines.deid import Deidentifier, reidentify
from breastgate.engines.dicom_return import MAMMOGRAPHY_CAD_SR, VERIFICATION, ReturnListener, wait
from breastgate.results.cad_sr_decode import decode_findings

LOGGER = logging.getLogger(__name__)

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"


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
            if not is_ae_title(ae):
                raise ConfigurationError(f"DICOM engine: AE title {ae!r} must be 1-16 characters")
        return out


@dataclass(frozen=True)
class EngineRun:
    """A result and the re-identified objects the engine returned (CAD SR, GSPS, SC ...)."""

    result: AlgorithmResult
    objects: tuple[Dataset, ...] = ()


def _describe(ds: Dataset) -> str:
    sop_class = UID(str(ds.get("SOPClassUID", "")))
    return f"{sop_class.name or sop_class} {ds.get('SOPInstanceUID', '?')}"


class DicomNodeEngine:
    """Algorithm adapter for a third-party engine that is a DICOM node (module docstring).

    Parameters
    ----------
    config
        The engine's identity, addresses, timeout and score scale.
    secret
        Keys the HMAC of replacement UIDs and pseudonyms (:class:`~breastgate.engines.deid.Deidentifier`):
        keep it stable (a retried job then sends the same UIDs) and out of logs.
    """

    def __init__(self, config: DicomEngineConfig, secret: bytes) -> None:
        self.config = config
        self._deidentifier = Deidentifier(secret)
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
                done = self._deidentifier.deidentify(ds)
                deidentified, uids = done.dataset, done.mapping
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
            objects = wait(inbox, self.config.timeout_seconds)
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
                returned.append(reidentify(obj, mapping, headers))
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
                decoded = decode_findings(sr, self.config.score_scale, sides)
                findings.extend(decoded.findings)
                density = density or decoded.density
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

    def _ae(self) -> ClosingAE:
        timeout = max(self.config.timeout_seconds, 30.0)
        connect = self.config.connect_timeout
        return client_ae(self.config.calling_ae, Timeouts(connect, connect, timeout, timeout))

    def _associate(self, ae: ClosingAE, what: str) -> Any:
        try:
            return associate(ae, self.config.engine, what=what)
        except DeliveryError as exc:
            raise EngineUnavailableError(f"engine {self.config.engine} is unreachable: {exc}") from None

    def _c_echo(self) -> tuple[bool, str]:
        ae = self._ae()
        ae.add_requested_context(VERIFICATION)
        try:
            assoc = self._associate(ae, "C-ECHO")
        except EngineUnavailableError as exc:
            return False, str(exc)
        try:
            status = assoc.send_c_echo()
        finally:
            release(ae, assoc)
        if status and int(status.get("Status", -1)) == 0x0000:
            return True, ""
        return False, f"engine {self.config.engine} did not answer C-ECHO"

    def _send(self, datasets: Sequence[Dataset]) -> dict[str, str]:
        """C-STORE in one association; returns refused SOP Instance UIDs with the reason."""
        ae = self._ae()
        propose_storage(
            ae,
            list(dict.fromkeys((UID(d.SOPClassUID), UID(d.file_meta.TransferSyntaxUID)) for d in datasets)),
        )
        assoc = self._associate(ae, f"{len(datasets)} image(s)")
        refused: dict[str, str] = {}
        try:
            for ds in datasets:
                what = f"an image to engine {self.config.engine}"
                try:
                    check_store_status(send_c_store(assoc, ds, what), what)
                except RetryableDeliveryError as exc:
                    assoc.abort()
                    raise EngineUnavailableError(str(exc)) from None
                except PermanentDeliveryError as exc:
                    refused[str(ds.SOPInstanceUID)] = f"engine refused the image: {exc}"
        finally:
            release(ae, assoc)
        return refused


def make_dicom_engine(config: Mapping[str, Any], secret: bytes) -> DicomNodeEngine:
    """A DICOM-node engine from its configuration table (see :meth:`DicomEngineConfig.from_mapping`);
    an empty ``secret`` is a :class:`~breastgate.domain.errors.ConfigurationError`."""
    if not secret:
        raise ConfigurationError("a DICOM engine needs a de-identification secret")
    return DicomNodeEngine(DicomEngineConfig.from_mapping(config), secret)
