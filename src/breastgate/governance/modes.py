"""The governance gate: which results reach which destination (DESIGN §1, §6).

A :class:`ModeBook` is a snapshot of the mode table read once per study summary (one query),
answering "may this algorithm version's results reach that destination?" An algorithm version
with no recorded mode gets the book's default (``silent`` unless the site configured otherwise):
new versions start silent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from breastgate.domain.governance import NEEDS, OVERLAY_KINDS, QUESTIONNAIRE_PREFIX, Destination, Mode
from breastgate.domain.outputs import OutputKind
from breastgate.store import governance as store


class _Versioned(Protocol):
    @property
    def algorithm_id(self) -> str: ...

    @property
    def algorithm_version(self) -> str: ...


R = TypeVar("R", bound=_Versioned)


def _questionnaire_risk(result: _Versioned) -> bool:
    return result.algorithm_id.startswith(QUESTIONNAIRE_PREFIX)


@dataclass(frozen=True)
class ModeBook:
    """Modes per (algorithm id, version, destination), and approval requirements."""

    modes: Mapping[tuple[str, str, str], Mode] = field(default_factory=dict)
    approvals: frozenset[tuple[str, str, str]] = frozenset()
    default: Mode = Mode.SILENT

    @classmethod
    def load(cls, session: Session, default: Mode = Mode.SILENT) -> ModeBook:
        rows = store.modes(session)
        return cls(
            {(r.algorithm_id, r.version, r.destination): r.mode for r in rows},
            frozenset((r.algorithm_id, r.version, r.destination) for r in rows if r.approval_required),
            default,
        )

    @classmethod
    def everywhere(cls, mode: Mode) -> ModeBook:
        """A book giving ``mode`` to every algorithm at every destination (offline analysis)."""
        return cls({}, frozenset(), mode)

    def mode(self, algorithm_id: str, version: str, destination: Destination) -> Mode:
        return self.modes.get((algorithm_id, version, destination.value), self.default)

    def allows(
        self, algorithm_id: str, version: str, destination: Destination, kind: OutputKind | str = ""
    ) -> bool:
        """Whether results of the version reach the destination (for ``pacs``, an object ``kind``:
        overlays need assistive, everything else integrated)."""
        need = NEEDS[destination]
        if destination is Destination.PACS and kind not in OVERLAY_KINDS:
            need = Mode.INTEGRATED
        return self.mode(algorithm_id, version, destination).at_least(need)

    def needs_approval(self, algorithm_id: str, version: str, destination: Destination) -> bool:
        return (algorithm_id, version, destination.value) in self.approvals

    def select(self, results: Iterable[R], destination: Destination, kind: OutputKind | str = "") -> list[R]:
        """The results that reach ``destination``. A questionnaire risk model's result
        (``breastgate.risk.*``, stored by ``POST /api/risk/...`` on a user's explicit request from
        the patient's own answers) is not image AI and is not gated."""
        return [
            r
            for r in results
            if _questionnaire_risk(r) or self.allows(r.algorithm_id, r.algorithm_version, destination, kind)
        ]

    def any_needs_approval(self, results: Sequence[_Versioned], destination: Destination) -> bool:
        return any(self.needs_approval(r.algorithm_id, r.algorithm_version, destination) for r in results)
