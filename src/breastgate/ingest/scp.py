"""The DICOM Storage SCP (PS3.4 Annex B) and Verification SCP (Annex A).

Received datasets stream to a temp file in ``temp_dir`` (chunked receive,
:mod:`breastgate.dicomnet.receive`), which the handler commits into the blob store by fsync +
rename.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pynetdicom
from pynetdicom import AE, evt

from breastgate.dicomnet.ae import set_nodelay
from breastgate.dicomnet.receive import serve_into, stop_serving
from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import is_ae_title
from breastgate.ingest.handlers import handle_echo, handle_store
from breastgate.ingest.service import IngestService

LOGGER = logging.getLogger(__name__)

VERIFICATION = "1.2.840.10008.1.1"

#: Storage SOP classes accepted (PS3.4 Annex B.5); anything else is refused in negotiation.
STORAGE_SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.1.2": "Digital Mammography X-Ray Image - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.2.1": "Digital Mammography X-Ray Image - For Processing",
    "1.2.840.10008.5.1.4.1.1.13.1.3": "Breast Tomosynthesis Image",
    "1.2.840.10008.5.1.4.1.1.13.1.4": "Breast Projection X-Ray Image - For Presentation",
    "1.2.840.10008.5.1.4.1.1.13.1.5": "Breast Projection X-Ray Image - For Processing",
    "1.2.840.10008.5.1.4.1.1.4": "MR Image",
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image",
    "1.2.840.10008.5.1.4.1.1.6.1": "Ultrasound Image",
    "1.2.840.10008.5.1.4.1.1.6": "Ultrasound Image (Retired)",
    "1.2.840.10008.5.1.4.1.1.3.1": "Ultrasound Multi-frame Image",
    "1.2.840.10008.5.1.4.1.1.3": "Ultrasound Multi-frame Image (Retired)",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image",
    "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.88.34": "Comprehensive 3D SR",
    "1.2.840.10008.5.1.4.1.1.88.35": "Extensible SR",
    "1.2.840.10008.5.1.4.1.1.88.50": "Mammography CAD SR",
    "1.2.840.10008.5.1.4.1.1.88.59": "Key Object Selection Document",
}

#: Transfer syntaxes accepted for every storage class (PS3.5 §10, Annex A).
TRANSFER_SYNTAXES: tuple[str, ...] = (
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline (Process 1)
    "1.2.840.10008.1.2.4.51",  # JPEG Extended (Process 2 & 4)
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless (Process 14)
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE Lossless
)


class StorageSCP:
    """Accepts C-STORE and C-ECHO; stores through :class:`IngestService`."""

    def __init__(
        self,
        service: IngestService,
        *,
        ae_title: str,
        host: str,
        port: int,
        allowed_calling_aes: frozenset[str] = frozenset(),
        max_pdu: int = 0,
        temp_dir: Path,
    ) -> None:
        if not is_ae_title(ae_title):
            raise ConfigurationError("AE title must be 1-16 characters")
        if max_pdu < 0:
            raise ConfigurationError("max PDU must be 0 (unlimited) or positive")
        self.service = service
        self.ae_title = ae_title
        self.host = host
        self._port = port
        self.allowed_calling_aes = allowed_calling_aes
        self.max_pdu = max_pdu
        self.temp_dir = Path(temp_dir)
        self._ae: AE | None = None
        self._server: Any = None

    def _build_ae(self) -> AE:
        ae = AE(ae_title=self.ae_title)
        ae.maximum_pdu_size = self.max_pdu
        ae.require_called_aet = False
        ae.require_calling_aet = sorted(self.allowed_calling_aes)
        ae.add_supported_context(VERIFICATION)
        for sop_class in STORAGE_SOP_CLASSES:
            ae.add_supported_context(sop_class, list(TRANSFER_SYNTAXES))
        return ae

    def start(self) -> None:
        """Listen in background threads (``start_server(..., block=False)``)."""
        if self._server is not None:
            return
        ae = self._build_ae()
        serve_into(ae, self.temp_dir)
        handlers: list[Any] = [
            (evt.EVT_CONN_OPEN, set_nodelay),
            (evt.EVT_C_ECHO, handle_echo),
            (evt.EVT_C_STORE, handle_store, [self.service]),
        ]
        try:
            self._server = ae.start_server((self.host, self._port), block=False, evt_handlers=handlers)
        except OSError:
            stop_serving(ae)
            raise
        self._ae = ae
        LOGGER.info(
            "DICOM SCP %s listening on %s:%d (pynetdicom %s, max PDU %s, calling AEs %s)",
            self.ae_title,
            self.host,
            self.port,
            pynetdicom.__version__,
            self.max_pdu or "unlimited",
            ",".join(sorted(self.allowed_calling_aes)) or "any",
        )

    def stop(self) -> None:
        """Stop listening and end open associations."""
        if self._server is None or self._ae is None:
            return
        self._server.shutdown()
        stop_serving(self._ae)
        self._ae.shutdown()
        self._server = self._ae = None

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        if self._server is not None:
            return int(self._server.server_address[1])
        return self._port
