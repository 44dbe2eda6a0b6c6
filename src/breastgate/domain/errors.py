"""Exception tree.

::

    GatewayError
    ├── ConfigurationError
    ├── InvalidInputError          bad data from outside (DICOM, HL7, HTTP)
    │   └── MissingAttributeError
    ├── StorageError               disk full, I/O error
    ├── JobError
    │   └── LeaseLostError
    ├── AlgorithmError
    │   ├── AlgorithmUnavailableError
    │   └── EngineUnavailableError  an external engine is down or timed out: retry the job
    ├── EncodingError              a result object could not be built
    └── DeliveryError
        ├── RetryableDeliveryError
        └── PermanentDeliveryError
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
