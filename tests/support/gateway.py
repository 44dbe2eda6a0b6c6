"""Run ``breastgate serve`` / ``breastgate worker`` as real processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.identity import ALL_ROLES
from tests.support.ports import free_ports

BREASTGATE = str(Path(sys.executable).with_name("breastgate"))


class GatewayProcess:
    """A gateway on free loopback ports with its own BG_HOME; logs go to files in that home."""

    def __init__(self, home: Path, **env: str) -> None:
        self.home = home
        self.dicom_port, self.http_port, self.hl7_port = free_ports(3)  # three distinct ports
        self.env = {
            **os.environ,
            "BG_HOME": str(home),
            "BG_DICOM_PORT": str(self.dicom_port),
            "BG_DICOM_HOST": "127.0.0.1",
            "BG_HTTP_PORT": str(self.http_port),
            "BG_HL7_PORT": str(self.hl7_port),
            "BG_HL7_HOST": "127.0.0.1",
            "BG_STABLE_SECONDS": "2",
            "BG_SWEEP_INTERVAL_SECONDS": "0.2",
            "BG_DELIVERY_RETRY_BASE_SECONDS": "0.5",
            "BG_DELIVERY_RETRY_MAX_SECONDS": "2",
            "BG_CONFIG": str(home / "none.toml"),
            # The end-to-end flows test what integrated results do; silent-mode tests override it.
            "BG_INITIAL_MODE": "integrated",
            "TCP_NODELAY": "1",
            **env,
        }
        self.serve_proc: subprocess.Popen[bytes] | None = None
        self._token: str | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        home.mkdir(parents=True, exist_ok=True)

    @property
    def node(self) -> str:
        return f"BREASTGATE@127.0.0.1:{self.dicom_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        with open(self.home / log_name, "ab") as log:  # the child keeps its own copy of the descriptor
            return subprocess.Popen([BREASTGATE, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def add_user(self, name: str, roles: str, password: str | None = None) -> str:
        """A user with ``roles`` in this gateway's database (``breastgate users add``); its token.
        With ``password``, the user can also sign in to the pages with it."""
        extra = ["--password-stdin"] if password is not None else []
        done = subprocess.run(
            [BREASTGATE, "users", "add", name, "--role", roles, *extra],
            env=self.env,
            input=f"{password}\n" if password is not None else None,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stdout.strip().splitlines()[-1]

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization`` of a user holding every role (made before the first start)."""
        if self._token is None:
            self._token = self.add_user("e2e", ALL_ROLES)
        return {"Authorization": f"Bearer {self._token}"}

    def start(self, *args: str, timeout: float = 60) -> None:
        self.headers  # noqa: B018 - the user exists before the gateway starts (no first-start admin)
        self.serve_proc = self._spawn(["serve", *args], "serve.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.serve_proc.poll() is not None:
                raise RuntimeError(f"breastgate serve exited:\n{self.log('serve.log')}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"breastgate serve did not answer:\n{self.log('serve.log')}")

    def start_worker(self) -> subprocess.Popen[bytes]:
        proc = self._spawn(["worker"], f"worker-{len(self.workers)}.log")
        self.workers.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.home / name
        return path.read_text(errors="replace") if path.exists() else ""

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.url}{path}", headers=self.headers, timeout=10)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Any) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers=self.headers, timeout=30)

    def stop(self) -> None:
        for proc in [*self.workers, self.serve_proc]:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers, self.serve_proc]:
            if proc is not None:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def wait_for(predicate: Any, timeout: float, interval: float = 0.25, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value; return it, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def storescu(node_port: int, files: list[Path], aec: str = "BREASTGATE", aet: str = "MODALITY") -> None:
    """Send files with dcmtk storescu (-R: propose only the classes of the files sent)."""
    cmd = ["storescu", "-R", "-aet", aet, "-aec", aec, "127.0.0.1", str(node_port), *map(str, files)]
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "TCP_NODELAY": "1"}, timeout=300)
