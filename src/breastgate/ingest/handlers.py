"""Thin pynetdicom event handlers; the work happens in :class:`IngestService`.

Bound with dependencies injected, e.g. ``(evt.EVT_C_STORE, handle_store, [service])``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from breastgate.ingest.service import OUT_OF_RESOURCES, IngestService

LOGGER = logging.getLogger(__name__)


def handle_store(event: Any, service: IngestService) -> int:
    """EVT_C_STORE: the dataset was streamed to ``event.dataset_path`` (chunked receive)."""
    try:
        temp_path = Path(event.dataset_path)
    except AttributeError:
        LOGGER.error("chunked receive is off; cannot store without a dataset file")
        return OUT_OF_RESOURCES
    calling_ae = str(event.assoc.requestor.ae_title).strip()
    command_uid = event.request.AffectedSOPInstanceUID
    return service.store_received(
        temp_path, calling_ae=calling_ae, command_sop_instance_uid=str(command_uid) if command_uid else None
    )


def handle_echo(event: Any) -> int:
    """EVT_C_ECHO: Verification (PS3.4 Annex A) always succeeds while the SCP runs."""
    return 0x0000
