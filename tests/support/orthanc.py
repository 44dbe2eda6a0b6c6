"""Orthanc as the stand-in PACS in tests (config and pitfalls: reference/tools.md).

Usage::

    from tests.support import orthanc as orthanc_support

    orthanc_factory = orthanc_support.orthanc_factory  # makes the fixture visible to the module

    def test_x(orthanc_factory):
        pacs = orthanc_factory(modalities={"BREASTGATE": ("BREASTGATE", "127.0.0.1", 11112)})
        web = orthanc_factory(dicomweb=True)  # DICOMweb plugin at web.dicomweb_url
        ... pacs.dicom_node, pacs.find_instances(study_uid), pacs.stop(), pacs.start() ...

Every server started here is killed at teardown (fixture finaliser) and, as a last resort, at
interpreter exit, so a failing test never leaks a running Orthanc.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ports import free_ports

ORTHANC_BINARY = "Orthanc"
#: Orthanc's DICOMweb plugin (Debian ``orthanc-dicomweb``).
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
_LIVE: weakref.WeakSet[OrthancServer] = weakref.WeakSet()


def free_port() -> int:
    """A free loopback TCP port (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def orthanc_available() -> bool:
    return shutil.which(ORTHANC_BINARY) is not None or Path("/usr/sbin/Orthanc").exists()


class OrthancServer:
    """One Orthanc process with its own config, ports and storage under ``workdir``.

    ``stop()`` then ``start()`` restarts it on the same ports with the same storage, which is how
    tests simulate a PACS that was down.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        aet: str = "ORTHANC",
        modalities: Mapping[str, Sequence[str | int]] | None = None,
        dicom_port: int | None = None,
        http_port: int | None = None,
        extra_config: Mapping[str, Any] | None = None,
        startup_timeout: float = 30.0,
        dicomweb: bool = False,
    ) -> None:
        self.workdir = Path(workdir)
        self.aet = aet
        self.modalities = dict(modalities or {})
        spare = iter(free_ports(2))  # distinct: DICOM and HTTP once drew the same free port
        self.dicom_port = dicom_port or next(spare)
        self.http_port = http_port or next(spare)
        self.extra_config = dict(extra_config or {})
        self.startup_timeout = startup_timeout
        self.dicomweb = dicomweb
        self.process: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "config.json"
        self.log_path = self.workdir / "orthanc.log"

    # Addresses -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """Base URL of the DICOMweb plugin (started with ``dicomweb=True``)."""
        return f"{self.url}/dicom-web"

    @property
    def dicom_node(self) -> str:
        """``AE@HOST:PORT`` of its DICOM port."""
        return f"{self.aet}@127.0.0.1:{self.dicom_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # Lifecycle -------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        storage = str(self.workdir / "db")
        config: dict[str, Any] = {
            "Name": "test-pacs",
            "StorageDirectory": storage,
            "IndexDirectory": storage,
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowMove": True,
            "DicomAlwaysAllowGet": True,
            "UnknownSopClassAccepted": True,
            "Plugins": [str(DICOMWEB_PLUGIN)] if self.dicomweb else [],
            "DicomModalities": {name: list(node) for name, node in self.modalities.items()},
        }
        if self.dicomweb:
            if not DICOMWEB_PLUGIN.exists():
                raise RuntimeError(
                    "Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)"
                )
            config["DicomWeb"] = {"Enable": True, "Root": "/dicom-web/"}
        config.update(self.extra_config)
        return config

    def start(self) -> OrthancServer:
        """Start (or restart) Orthanc and wait until ``GET /system`` answers."""
        if self.running:
            return self
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        env = dict(os.environ, TCP_NODELAY="1")
        self._log_handle = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [ORTHANC_BINARY, str(self.config_path)],
            cwd=self.workdir,
            env=env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _LIVE.add(self)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_log()
                raise RuntimeError(f"Orthanc exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if (
                    httpx.get(f"{self.url}/system", timeout=1.0).status_code == 200
                    and self._dicom_listening()
                ):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {self.startup_timeout} s:\n{self.log_tail()}")

    def _dicom_listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1.0):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = 15.0, *, kill: bool = False) -> None:
        """Terminate Orthanc and wait for it to exit (kill if it does not).

        A graceful stop takes about 3 s (Orthanc's shutdown); ``kill=True`` (SIGKILL, as a crash)
        is immediate and is what teardown uses.
        """
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            if kill:
                process.kill()
            else:
                process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> OrthancServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # REST helpers ----------------------------------------------------------------------------
    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0)

    def find_instances(self, study_uid: str, modality: str | None = None) -> list[str]:
        """Orthanc ids of the instances of a study (``POST /tools/find``)."""
        query: dict[str, str] = {"StudyInstanceUID": study_uid}
        if modality:
            query["Modality"] = modality
        with self._client() as client:
            response = client.post("/tools/find", json={"Level": "Instance", "Query": query})
            response.raise_for_status()
            return [str(i) for i in response.json()]

    def download(self, instance_id: str) -> bytes:
        """The stored DICOM file (``GET /instances/{id}/file``)."""
        with self._client() as client:
            response = client.get(f"/instances/{instance_id}/file")
            response.raise_for_status()
            return response.content

    def instance_tags(self, instance_id: str) -> dict[str, Any]:
        """``GET /instances/{id}/simplified-tags``."""
        with self._client() as client:
            response = client.get(f"/instances/{instance_id}/simplified-tags")
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

    def statistics(self) -> dict[str, Any]:
        """``GET /statistics`` (CountInstances, CountStudies, ...)."""
        with self._client() as client:
            response = client.get("/statistics")
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result


def _kill_leftovers() -> None:
    for server in list(_LIVE):
        server.stop(timeout=5.0, kill=True)


atexit.register(_kill_leftovers)


@pytest.fixture
def orthanc_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., OrthancServer]]:
    """Start Orthanc servers on free loopback ports; all are stopped at teardown.

    Call it as ``orthanc_factory(modalities={...}, aet="ORTHANC", start=True, **kwargs)``.
    Fails (does not skip) when the ``Orthanc`` binary is missing: peers tests must run in CI.
    """
    if not orthanc_available():
        pytest.fail("Orthanc is not installed (apt-get install orthanc); deselect with -m 'not peers'")
    servers: list[OrthancServer] = []

    def make(*, start: bool = True, **kwargs: Any) -> OrthancServer:
        server = OrthancServer(tmp_path_factory.mktemp("orthanc"), **kwargs)
        servers.append(server)
        return server.start() if start else server

    try:
        yield make
    finally:
        for server in servers:
            server.stop(kill=True)


@pytest.fixture
def orthanc(orthanc_factory: Callable[..., OrthancServer]) -> OrthancServer:
    """One running Orthanc with no known modalities (any calling AE may store)."""
    return orthanc_factory()
