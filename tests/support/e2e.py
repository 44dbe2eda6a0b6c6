"""The end-to-end tests' set-up: a gateway process with a real Orthanc as its PACS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.gateway import GatewayProcess
from tests.support.orthanc import OrthancServer


@contextmanager
def gateway_with_pacs(folder: Path, **env: str) -> Iterator[tuple[GatewayProcess, OrthancServer]]:
    """A (not yet started) gateway under ``folder``/gw whose PACS is an Orthanc under ``folder``/orthanc
    that knows the gateway as BREASTGATE; ``env`` adds gateway settings. Both stop on exit."""
    gateway = GatewayProcess(folder / "gw", **env)
    pacs = OrthancServer(
        folder / "orthanc", modalities={"BREASTGATE": ["BREASTGATE", "127.0.0.1", gateway.dicom_port]}
    )
    gateway.env["BG_PACS"] = pacs.dicom_node
    try:
        yield gateway, pacs
    finally:
        gateway.stop()
        pacs.stop()
