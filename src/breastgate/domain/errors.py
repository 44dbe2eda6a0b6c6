"""Exception tree.

::

    GatewayError
    ├── ConfigurationError
    ├── InvalidInputError          bad data from outside (DICOM, HL7, HTTP)
    │   ├── MissingAttributeError
    │   └── UnknownDensityCategoryError  not a BI-RADS 5th edition density a-d (also a ValueError)
    ├── StorageError               disk full, I/O error
    ├── JobError
    │   └── LeaseLostError
    ├── AlgorithmError
    │   ├── AlgorithmUnavailableError
    │   └── EngineUnavailableError  an external engine is down or timed out: retry the job
    ├── EncodingError              a result object could not be built
    └── DeliveryError                    an outbound object or request could not be delivered
        ├── RetryableDeliveryError       tried again later, with backoff; never dropped
        │   ├── PeerUnavailableError     connection refused, timeout, association rejected/aborted
        │   └── PeerBusyError            C-STORE 0xA7xx "out of resources" (PS3.4 B.2.3);
        │                                HTTP 408 / 425 / 429 / 5xx (webhooks)
        └── PermanentDeliveryError       the outbox row goes to ``failed`` with the reason
            ├── InvalidDestinationError  destination cannot be parsed
            ├── UnreadableObjectError    file missing, not DICOM Part 10, not a webhook JSON body
            ├── NoPresentationContextError  peer accepts no context for the object's SOP class
            └── RejectedError            C-STORE 0xA9xx / 0xCxxx / other failure status;
                                         HL7 AE/CE; HTTP status other than 2xx and the above

Failures map once, at the boundary (DESIGN §5): the DICOM, MLLP and HTTP clients raise these; the
outbox worker only distinguishes the two branches.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error breastgate raises on purpose."""


class ConfigurationError(GatewayError):
    """Settings are invalid or unsafe (e.g. default secrets in production)."""


class InvalidInputError(GatewayError):
    """Input from outside cannot be used."""


class MissingAttributeError(InvalidInputError):
    """A required DICOM attribute is absent or empty."""


class UnknownDensityCategoryError(InvalidInputError, ValueError):
    """The density category is not one of the BI-RADS 5th edition letters a, b, c, d."""


class StorageError(GatewayError):
    """Data could not be written durably."""


class JobError(GatewayError):
    """A job could not be claimed, run or recorded."""


class LeaseLostError(JobError):
    """The worker no longer holds the lease of the job it runs."""


class AlgorithmError(GatewayError):
    """An algorithm failed on its input."""


class AlgorithmUnavailableError(AlgorithmError):
    """An algorithm cannot run here (missing dependency, model file ...)."""


class EngineUnavailableError(AlgorithmError):
    """An external engine (DICOM node, HTTP service) could not be reached or did not answer in time.

    Unlike an algorithm failure this may pass: the job is retried (up to its attempt limit)
    instead of recording a failed result.
    """


class EncodingError(GatewayError):
    """A result object (SR, JSON ...) could not be encoded."""


class DeliveryError(GatewayError):
    """An outbound object could not be delivered."""


class RetryableDeliveryError(DeliveryError):
    """Delivery failed for a reason that may pass (peer down, timeout)."""


class PermanentDeliveryError(DeliveryError):
    """Delivery failed for good (peer refuses the object)."""


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
