"""Governance vocabulary: modes, destinations, roles, feedback (DESIGN §6).

A *mode* is set per (algorithm version, destination). What each destination receives at each
mode:

=============  ==========================  =====================================================
destination    assistive                   integrated
=============  ==========================  =====================================================
``api``        results JSON and web UI     (same)
``webhook``    ``study.results`` events    (same)
``pacs``       GSPS overlays only          also Mammography CAD SR, key images (KOS), summary SC
``worklist``   nothing                     priority, flags, UPS workitem, HL7 priority update
``report``     nothing                     report draft pre-fill
``hl7``        nothing                     ORU^R01 results to the RIS
=============  ==========================  =====================================================

``silent`` gives nothing anywhere: the algorithm runs, its result is stored and audited.
"""

from __future__ import annotations

from enum import StrEnum

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.outputs import OutputKind


class Mode(StrEnum):
    """How far an algorithm version's results reach a destination (ordered)."""

    SILENT = "silent"
    ASSISTIVE = "assistive"
    INTEGRATED = "integrated"

    @property
    def level(self) -> int:
        return _LEVEL[self]

    def at_least(self, other: Mode) -> bool:
        return self.level >= other.level

    @classmethod
    def parse(cls, value: str) -> Mode:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise InvalidInputError(
                f"unknown mode {value!r} (expected one of {', '.join(m.value for m in cls)})"
            ) from None


_LEVEL = {Mode.SILENT: 0, Mode.ASSISTIVE: 1, Mode.INTEGRATED: 2}


class Destination(StrEnum):
    """Where results go; each has its own mode per algorithm version."""

    API = "api"
    WEBHOOK = "webhook"
    PACS = "pacs"
    WORKLIST = "worklist"
    REPORT = "report"
    HL7 = "hl7"

    @classmethod
    def parse(cls, value: str) -> Destination:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise InvalidInputError(
                f"unknown destination {value!r} (expected one of {', '.join(d.value for d in cls)})"
            ) from None


#: The mode a destination needs before an algorithm's results reach it at all.
NEEDS: dict[Destination, Mode] = {
    Destination.API: Mode.ASSISTIVE,
    Destination.WEBHOOK: Mode.ASSISTIVE,
    Destination.PACS: Mode.ASSISTIVE,  # overlays; other PACS objects need INTEGRATED
    Destination.WORKLIST: Mode.INTEGRATED,
    Destination.REPORT: Mode.INTEGRATED,
    Destination.HL7: Mode.INTEGRATED,
}

#: Results of questionnaire risk models (``breastgate.risk.*``: BCRAT, Tyrer-Cuzick inputs) are
#: computed on a user's explicit request from the patient's own answers, not from images: not gated.
QUESTIONNAIRE_PREFIX = "breastgate.risk."

#: PACS object kinds shown as optional overlays in assistive mode (presentation states: GSPS on
#: grayscale images, CSPS on colour ones); every other kind needs integrated (a Key Object
#: Selection, ``kos``, flags images in the PACS worklist views: integrated only).
OVERLAY_KINDS: frozenset[OutputKind] = frozenset({OutputKind.GSPS, OutputKind.CSPS})


class Role(StrEnum):
    """Roles of the people and systems using the HTTP API and pages. ``radiologist`` gives
    feedback, approves results and confirms reports; ``technologist`` works the acquisition side of
    the worklist and records risk questionnaires; ``ai_admin`` changes modes and configuration;
    ``auditor`` reads the audit trail and silent results; ``integration`` is a machine client (RIS,
    PACS, Sectra's Data Provider call, DICOMweb and UPS-RS clients). A user may hold several."""

    RADIOLOGIST = "radiologist"
    AI_ADMIN = "ai_admin"
    AUDITOR = "auditor"
    TECHNOLOGIST = "technologist"
    INTEGRATION = "integration"

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise InvalidInputError(
                f"unknown role {value!r} (expected one of {', '.join(r.value for r in cls)})"
            ) from None

    @classmethod
    def parse_many(cls, value: str) -> frozenset[Role]:
        """Comma-separated roles (at least one), e.g. ``radiologist,ai_admin``."""
        roles = frozenset(cls.parse(part) for part in value.split(",") if part.strip())
        if not roles:
            raise InvalidInputError("at least one role is needed")
        return roles


def roles_text(roles: frozenset[str] | frozenset[Role]) -> str:
    """Roles as stored and shown: sorted, comma-separated."""
    return ",".join(sorted(str(r) for r in roles))


class FeedbackAction(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    MODIFY = "modify"


class RejectReason(StrEnum):
    """Why a radiologist rejected a finding (the fixed list; free text goes beside it)."""

    NORMAL_TISSUE = "normal_tissue"
    BENIGN_FINDING = "benign_finding"
    ARTIFACT = "artifact"
    KNOWN_STABLE = "known_stable"
    WRONG_LOCATION = "wrong_location"
    DUPLICATE = "duplicate"
    OTHER = "other"
