"""Errors of the risk models.

::

    GatewayError
    └── InvalidInputError (domain)
        └── RiskInputError (also a ValueError)   a risk-model input is missing, out of range or inconsistent
            └── BcratInputError                  BCRAT input the NCI tool rejects (BCRA ``recode.check``)

Risk errors name the input field and the rule it breaks, so a form can point at the field and a
report can quote the rule; no message contains the patient's name or identifiers.
"""

from __future__ import annotations

from breastgate.domain.errors import InvalidInputError

__all__ = ["BcratInputError", "RiskInputError"]


class RiskInputError(InvalidInputError, ValueError):
    """A risk-model input breaks a rule; ``field`` names the input, ``rule`` the rule broken."""

    def __init__(self, field: str, rule: str, detail: str) -> None:
        super().__init__(f"{field}: {detail} [{rule}]")
        self.field = field
        self.rule = rule
        self.detail = detail


class BcratInputError(RiskInputError):
    """A BCRAT (Gail model) input the NCI tool rejects, or that breastgate cannot map to its codes."""
