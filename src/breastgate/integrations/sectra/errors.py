"""Errors of the Sectra integration.

::

    GatewayError
    └── LaunchError                              Sectra URL launch (:mod:`.launch`)
        ├── LaunchConfigurationError (also ConfigurationError, ValueError)  unusable key or certificate
        ├── LaunchParameterError (also InvalidInputError, ValueError)       invalid target or access string
        └── LaunchTokenError (also InvalidInputError)                       launch string not acceptable
            ├── LaunchAuthenticationError        tampered, wrong key or certificate, undecryptable
            └── LaunchExpiredError               timestamp older than the validity window or in the future
"""

from __future__ import annotations

from breastgate.domain.errors import ConfigurationError, GatewayError, InvalidInputError

__all__ = [
    "LaunchAuthenticationError",
    "LaunchConfigurationError",
    "LaunchError",
    "LaunchExpiredError",
    "LaunchParameterError",
    "LaunchTokenError",
]


class LaunchError(GatewayError):
    """A Sectra URL launch string could not be built or accepted."""


class LaunchConfigurationError(LaunchError, ConfigurationError, ValueError):
    """The launch configuration is unusable: missing or malformed secret, key or certificate."""


class LaunchParameterError(LaunchError, InvalidInputError, ValueError):
    """A launch target or access-string parameter is invalid (e.g. a frame number below 1)."""


class LaunchTokenError(LaunchError, InvalidInputError):
    """A launch string is malformed or cannot be accepted."""


class LaunchAuthenticationError(LaunchTokenError):
    """A launch string fails authentication: tampered, or made with another key or certificate."""


class LaunchExpiredError(LaunchTokenError):
    """A launch string's timestamp is older than the validity window, or lies in the future."""
