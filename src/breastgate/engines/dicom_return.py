"""The return Storage SCP of a DICOM engine: where the engine C-STOREs its results back.

One listener per engine adapter, started on first use (thread-safe). Objects are routed to the
waiting job by their (de-identified) Study Instance UID; a job's wait ends when an association that
brought objects for its study is released with a Mammography CAD SR among them (:func:`wait`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, evt

from breastgate.dicomnet.ae import set_nodelay
from breastgate.domain.errors import EngineUnavailableError

LOGGER = logging.getLogger(__name__)

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


@dataclass
class Inbox:
    """Objects received for one (de-identified) study, and a flag raised on each release."""

    objects: list[Dataset] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)


class ReturnListener:
    """The Storage SCP the engine answers to; routes objects to jobs by Study Instance UID."""

    def __init__(self, ae_title: str, host: str, port: int) -> None:
        self.ae_title, self.host, self.port = ae_title, host, port
        self._lock = threading.Lock()
        self._server: Any = None
        self._inboxes: dict[str, Inbox] = {}
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
                (evt.EVT_CONN_OPEN, set_nodelay),
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

    def expect(self, study_uid: str) -> Inbox:
        with self._lock:
            return self._inboxes.setdefault(study_uid, Inbox())

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


def wait(inbox: Inbox, timeout: float) -> list[Dataset]:
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
