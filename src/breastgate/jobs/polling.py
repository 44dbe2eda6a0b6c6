"""A worker that drains a leased table in a background thread: the outbox and the prior pre-fetch.

Subclasses implement :meth:`run_once` (claim due rows, work each, record the outcome; return how
many were tried) and set ``batch`` and ``thread_name``. The loop runs a pass every ``interval``
seconds, at once again while a pass was full, sooner when :meth:`wake` is called, and survives a
failing pass (the database may be briefly unavailable).
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from datetime import datetime

LOGGER = logging.getLogger(__name__)


class PollingWorker(ABC):
    """Start / wake / stop around :meth:`run_once`."""

    batch: int = 16
    thread_name: str = "worker"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def run_once(self, now: datetime | None = None) -> int:
        """Claim due rows, work each once, record the outcomes; return how many were tried."""

    def start(self, interval: float = 1.0) -> None:
        """Run :meth:`run_once` in a daemon thread every ``interval`` seconds (sooner on :meth:`wake`)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name=self.thread_name, daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Ask the background loop to look now (e.g. right after new work was committed)."""
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the background loop after the current pass (at most ``batch`` rows); wait for it."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once() >= self.batch
            except Exception:  # the database may be briefly unavailable; keep the loop alive
                LOGGER.exception("%s pass failed", self.thread_name)
                busy = False
            if not busy:
                self._wake.wait(interval)
                self._wake.clear()
