"""A real OpenID Provider for SSO tests: panva's ``oidc-provider`` on Node (tests/support/oidc/).

``make test`` installs it (``npm ci --prefix tests/support/oidc``). :func:`running_provider` starts
one on a free port with the clients given and stops it after; :func:`through_idp` walks a browser's
way through the provider's login and consent pages (the library's development interactions:
the login names the account, any password) with an httpx client.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.ports import free_port

FOLDER = Path(__file__).parent / "oidc"
_FORM = re.compile(r"<form\b[^>]*\baction=\"([^\"]+)\"[^>]*>(.*?)</form>", re.S | re.I)
_INPUT = re.compile(r"<input\b([^>]*)>", re.I)
_ATTR = re.compile(r"(\w+)=\"([^\"]*)\"")


@dataclass(frozen=True)
class Provider:
    issuer: str
    log: list[str]


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (make test installs Debian's nodejs and npm)"
    if not (FOLDER / "node_modules" / "oidc-provider").is_dir():
        return f"oidc-provider is not installed: npm ci --prefix {FOLDER} (make test does)"
    return None


@contextmanager
def running_provider(clients: list[dict[str, Any]], timeout: float = 30) -> Iterator[Provider]:
    """An ``oidc-provider`` process serving ``clients`` (client_id, client_secret, redirect_uris,
    post_logout_redirect_uris) at ``http://127.0.0.1:PORT``, until the block ends."""
    reason = _missing()
    if reason is not None:
        raise RuntimeError(reason)
    port = free_port()
    env = {**os.environ, "PORT": str(port), "CLIENTS": json.dumps(clients)}
    process = subprocess.Popen(
        ["node", "provider.mjs"],
        cwd=FOLDER,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line.rstrip())
            if line.startswith("ready "):
                ready.set()

    reader = threading.Thread(target=read, name=f"oidc-provider-{port}", daemon=True)
    reader.start()
    try:
        if not ready.wait(timeout):
            raise RuntimeError("oidc-provider did not start: " + " | ".join(log[-10:]))
        yield Provider(f"http://127.0.0.1:{port}", log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def _form(page: str) -> tuple[str, dict[str, str]] | None:
    found = _FORM.search(page)
    if found is None:
        return None
    fields: dict[str, str] = {}
    for attrs in _INPUT.findall(found.group(2)):
        named = dict(_ATTR.findall(attrs))
        if "name" in named:
            fields[named["name"]] = html.unescape(named.get("value", ""))
    return html.unescape(found.group(1)), fields


def through_idp(
    client: httpx.Client, url: str, login: str, stop_at: str | None = None, steps: int = 12
) -> httpx.Response:
    """Follow ``url`` through the IdP's pages as a browser would, signing in as ``login``.

    With ``stop_at``, the redirect whose target starts with it is returned unfollowed (the
    callback with its code and state); otherwise the final answer is returned.
    """
    response = client.get(url)
    for _ in range(steps):
        if response.is_redirect:
            target = str(response.url.join(response.headers["location"]))
            if stop_at is not None and target.startswith(stop_at):
                return response
            response = client.get(target)
            continue
        form = _form(response.text) if "text/html" in response.headers.get("content-type", "") else None
        if form is None:
            return response
        action, fields = form
        if "login" in fields or fields.get("prompt") == "login":
            fields.update(login=login, password="any password")
        response = client.post(str(response.url.join(action)), data=fields)
    raise AssertionError(f"no end after {steps} steps at the IdP: {response.url}")
