"""Delivery failures, split by what the outbox does with them.

::

    DeliveryError (domain)
    ├── RetryableDeliveryError (domain)   the outbox tries again later, with backoff; never dropped
    │   ├── PeerUnavailableError          connection refused, timeout, association rejected/aborted
    │   └── PeerBusyError                 C-STORE 0xA7xx "out of resources" (PS3.4 B.2.3);
    │                                     HTTP 408 / 425 / 429 / 5xx (webhooks)
    └── PermanentDeliveryError (domain)   the row goes to ``failed`` with the reason (visible in UI/API)
        ├── InvalidDestinationError       destination string cannot be parsed
        ├── UnreadableObjectError         file missing, not DICOM Part 10, not a webhook JSON body
        ├── NoPresentationContextError    peer accepts no context for the object's SOP class
        └── RejectedError                 C-STORE 0xA9xx / 0xCxxx / other failure status;
                                          HL7 AE/CE; HTTP status other than 2xx and the above

Failures map once, here, at the boundary (DESIGN §5); the worker only distinguishes the two
branches.
"""

from __future__ import annotations

from breastgate.domain.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError

__all__ = [
    "DeliveryError",
    "InvalidDestinationError",
    "NoPresentationContextError",
    "PeerBusyError",
    "PeerUnavailableError",
    "PermanentDeliveryError",
    "RejectedError",
    "RetryableDeliveryError",
    "UnreadableObjectError",
]


class PeerUnavailableError(RetryableDeliveryError):
    """The peer could not be reached or would not associate (may pass)."""


class PeerBusyError(RetryableDeliveryError):
    """The peer answered with a transient failure (out of resources)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class InvalidDestinationError(PermanentDeliveryError):
    """The destination cannot be parsed (expected ``AE@HOST:PORT`` for DICOM)."""


class UnreadableObjectError(PermanentDeliveryError):
    """The object to send is missing or cannot be read."""


class NoPresentationContextError(PermanentDeliveryError):
    """The peer accepted no presentation context for the object's SOP class."""


class RejectedError(PermanentDeliveryError):
    """The peer refused the object with a failure status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
