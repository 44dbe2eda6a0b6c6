"""The end-to-end tests' set-up: a gateway process with a real Orthanc as its PACS."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.gateway import GatewayProcess
from tests.support.orthanc import OrthancServer


@contextmanager
def gateway_with_pacs(folder: Path, **env: str) -> Iterator[tuple[GatewayProcess, OrthancServer]]:
    """A (not yet started) gateway under ``folder``/gw whose PACS is an Orthanc under ``folder``/orthanc
    that knows the gateway as BREASTGATE; ``env`` adds gateway settings. Both stop on exit (Orthanc
    is killed: its storage is not read after the test)."""
    gateway = GatewayProcess(folder / "gw", **env)
    pacs = OrthancServer(
        folder / "orthanc", modalities={"BREASTGATE": ["BREASTGATE", "127.0.0.1", gateway.dicom_port]}
    )
    gateway.env["BG_PACS"] = pacs.dicom_node
    try:
        yield gateway, pacs
    finally:
        gateway.stop()
        pacs.stop(kill=True)  # teardown: a graceful Orthanc stop costs ~3 s and proves nothing here


def write_study(study: Any, folder: Path) -> list[Path]:
    """Save a phantom study's datasets as ``folder``/0.dcm, 1.dcm… (created) with its ground truth
    in ``truth.json``; returns the files, for storescu."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, ds in enumerate(study.datasets):
        files.append(folder / f"{i}.dcm")
        ds.save_as(files[-1], enforce_file_format=True)
    (folder / "truth.json").write_text(json.dumps(study.truth))
    return files


def outputs_by_series(pacs: OrthancServer, study_uid: str, numbers: Collection[int]) -> dict[int, str] | None:
    """Orthanc instance id by series number once an object of every series in ``numbers`` is in
    the study (DESIGN §4 "DICOM out" series numbers); else None (for ``wait_for``)."""
    found: dict[int, str] = {}
    for instance in pacs.find_instances(study_uid):
        number = int(pacs.instance_tags(instance).get("SeriesNumber") or 0)
        if number in numbers:
            found[number] = instance
    return found if set(found) == set(numbers) else None
