"""Playwright for Python driving Debian's ``chromium`` (``make test`` installs it; the Playwright
browser download is never used: CI cannot reach its CDN)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

#: Where the tests also write their screenshots when set (``docs/screenshots`` for the README).
SCREENSHOTS_ENV = "UI_SCREENSHOTS"
VIEWPORT = {"width": 1280, "height": 720}


def chromium_path() -> str:
    """Debian's chromium (``CHROMIUM_PATH`` overrides)."""
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError(
            "chromium is missing: `make test` installs Debian's chromium (apt-get install chromium)"
        )
    return found


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless chromium for one test module."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Browser, base_url: str) -> Page:
    """A page in its own browser context (its own cookies: one user per context)."""
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    return context.new_page()


def sign_in(browser: Browser, base_url: str, name: str, password: str, target: str = "/worklist") -> Page:
    """Sign ``name`` in through the form and land on ``target``, drawn."""
    page = open_page(browser, base_url)
    page.goto(f"/signin?next={quote(target, safe='')}")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#signin button[type=submit]")
    page.wait_for_url(f"**{target}")
    page.wait_for_selector("body[data-ready=true]")
    return page


class Screenshots:
    """Screenshots of the pages, into ``folder`` and also ``$UI_SCREENSHOTS`` when set."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        extra = os.environ.get(SCREENSHOTS_ENV)
        self.extra = Path(extra) if extra else None

    def take(self, page: Page, name: str) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path))
        if self.extra is not None:  # for the README: a 128-colour palette keeps each file small
            self.extra.mkdir(parents=True, exist_ok=True)
            with Image.open(path) as shot:
                shot.convert("RGB").quantize(128).save(self.extra / path.name, optimize=True)
        return path
