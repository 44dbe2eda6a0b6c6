"""Outcomes: what became of a study (final BI-RADS, density, pathology), as reported from outside.

Pure values; :mod:`breastgate.governance.outcomes` stores and audits them, :mod:`breastgate.hl7.outcomes_in`
reads them from HL7 ORU messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from breastgate.domain.errors import InvalidInputError

OUTCOMES = ("cancer", "benign", "normal")
SOURCES = ("hl7", "pathology", "csv", "api")
CATEGORIES = ("0", "1", "2", "3", "4", "5", "6")
DENSITIES = ("a", "b", "c", "d")


@dataclass(frozen=True)
class OutcomeRecord:
    """One outcome. ``outcome`` is cancer | benign | normal when known (pathology, follow-up)."""

    source: str
    study_instance_uid: str | None = None
    accession_number: str | None = None
    patient_id: str | None = None
    final_birads: str | None = None
    density: str | None = None
    outcome: str | None = None
    laterality: str | None = None
    pathology: str | None = None
    reported_at: str | None = None
    reference: str | None = None

    def validate(self) -> OutcomeRecord:
        if self.source not in SOURCES:
            raise InvalidInputError(f"source must be one of {', '.join(SOURCES)}")
        if not (self.study_instance_uid or self.accession_number):
            raise InvalidInputError("an outcome needs a Study Instance UID or an accession number")
        if self.final_birads is not None and self.final_birads not in CATEGORIES:
            raise InvalidInputError(f"final BI-RADS {self.final_birads!r} is not 0-6")
        if self.density is not None and self.density not in DENSITIES:
            raise InvalidInputError(f"density {self.density!r} is not a-d")
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise InvalidInputError(f"outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}")
        if self.laterality is not None and self.laterality not in ("L", "R", "B"):
            raise InvalidInputError(f"laterality {self.laterality!r} is not L, R or B")
        if self.final_birads is None and self.outcome is None and self.density is None:
            raise InvalidInputError("an outcome needs a final BI-RADS category, a density or an outcome")
        return self
