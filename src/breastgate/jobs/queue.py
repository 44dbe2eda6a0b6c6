"""Huey as the queue: SqliteHuey in embedded mode, RedisHuey when BG_QUEUE_URL is redis://.

The queue carries only job ids; the ledger decides who runs what. The task is registered when a
:class:`JobQueue` is built (never at import), under a fixed name so that ``serve`` and separate
``worker`` processes agree on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from breastgate.domain.errors import ConfigurationError

LOGGER = logging.getLogger(__name__)
TASK_NAME = "breastgate.run_job"


def make_huey(queue_url: str, name: str = "breastgate") -> Huey:
    """Build the Huey instance for ``queue_url`` (``sqlite:///path`` or ``redis://...``)."""
    if queue_url.startswith("sqlite:///"):
        path = Path(queue_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name=name, filename=str(path), results=False, timeout=30)
    if queue_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name=name, url=queue_url, results=False)
    raise ConfigurationError(f"unsupported BG_QUEUE_URL scheme: {queue_url.split(':', 1)[0]!r}")


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A consumer that runs inside a larger process: signals belong to the host, not to Huey."""

    def _set_signal_handlers(self) -> None:
        return None


class JobQueue:
    """Enqueue job ids and run a consumer whose task calls ``handler(job_id)``."""

    def __init__(self, huey: Huey, handler: Callable[[int], None]) -> None:
        self.huey = huey
        self._task: Any = huey.task(name=TASK_NAME)(handler)
        self._consumer: Consumer | None = None

    def enqueue(self, job_id: int, delay: float = 0.0) -> None:
        """Queue the job now, or after ``delay`` seconds (Huey's schedule, kept in the queue's
        storage, so a restart does not lose it)."""
        if delay > 0:
            self._task.schedule(args=(job_id,), delay=delay)
        else:
            self._task(job_id)

    def start_consumer(self, workers: int, *, embedded: bool = True) -> Consumer:
        """Start worker threads. ``embedded`` leaves signal handling to the host process."""
        cls = _EmbeddedConsumer if embedded else Consumer
        consumer = cls(
            self.huey,
            workers=workers,
            periodic=False,
            worker_type="thread",
            initial_delay=0.05,
            backoff=1.15,
            max_delay=0.5,
            check_worker_health=True,
        )
        consumer.start()
        self._consumer = consumer
        return consumer

    def run_consumer_forever(self, workers: int) -> None:
        """Run a standalone consumer in the foreground (``breastgate worker``); returns on SIGINT/SIGTERM."""
        consumer = Consumer(
            self.huey,
            workers=workers,
            periodic=False,
            worker_type="thread",
            initial_delay=0.05,
            backoff=1.15,
            max_delay=0.5,
        )
        consumer.run()

    def stop_consumer(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None
