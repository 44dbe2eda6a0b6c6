"""Retry policy of the outbox: exponential backoff, capped, never giving up (DESIGN §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Delay before attempt ``n + 1`` after ``n`` failed attempts: ``min(max, base * 2**(n-1))``.

    A retryable failure is retried forever at most ``max_seconds`` apart; only permanent failures
    stop the retries.
    """

    base_seconds: float = 2.0
    max_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.max_seconds < self.base_seconds:
            raise ValueError("RetryPolicy needs 0 < base_seconds <= max_seconds")

    def delay(self, attempts: int) -> timedelta:
        """Wait after ``attempts`` failed attempts (``attempts >= 1``)."""
        exponent = max(0, attempts - 1)
        if exponent >= 64:  # 2**64 * base is beyond any sane cap; avoid float overflow
            return timedelta(seconds=self.max_seconds)
        return timedelta(seconds=min(self.max_seconds, self.base_seconds * 2.0**exponent))

    def next_attempt_at(self, attempts: int, now: datetime) -> datetime:
        """When to try again after ``attempts`` failed attempts."""
        return now + self.delay(attempts)
