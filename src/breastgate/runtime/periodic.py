"""A daemon thread that calls a few functions at a fixed interval, logging (not raising) errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

LOGGER = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, calls: Sequence[Callable[[], object]]) -> None:
        self._interval, self._calls = interval, list(calls)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            for call in self._calls:
                try:
                    call()
                except Exception:
                    LOGGER.exception("periodic task %s failed", getattr(call, "__qualname__", call))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
