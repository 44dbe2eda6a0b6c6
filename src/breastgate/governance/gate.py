"""The governance gate (DESIGN §1, §6): the one way every reader gets a study's results.

Results JSON, the IDS7 Data Provider, viewer launches, the worklist's re-ranking and the job's
publishers all ask the same question — *which stored results of this study may reach this
destination?* — and get the answer here: the stored payloads are loaded and decoded once
(:class:`StudyResults`), the mode table is read once (:class:`~breastgate.governance.modes.ModeBook`),
and :meth:`StudyResults.at` selects per destination (and, for ``pacs``, per object kind: overlays
need assistive, every other object integrated). A questionnaire risk result is not image AI and is
never gated (:meth:`~breastgate.governance.modes.ModeBook.select`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from breastgate.domain.governance import Destination, Mode
from breastgate.domain.model import AlgorithmResult
from breastgate.domain.outputs import OutputKind
from breastgate.domain.payload import result_from_payload
from breastgate.governance.modes import ModeBook
from breastgate.store import results as result_store


def version_key(result: AlgorithmResult) -> str:
    """``id@version`` of a result's algorithm version."""
    return f"{result.algorithm_id}@{result.algorithm_version}"


@dataclass(frozen=True)
class Gated:
    """The results of one study that reach one destination, and what the gate held back."""

    destination: Destination
    results: tuple[AlgorithmResult, ...]
    stored: tuple[AlgorithmResult, ...]
    book: ModeBook

    @property
    def hidden(self) -> int:
        """How many stored results the destination does not get."""
        return len(self.stored) - len(self.results)

    @property
    def held(self) -> bool:
        """Whether any of the results waits for a radiologist's approval at this destination."""
        return self.book.any_needs_approval(self.results, self.destination)

    def __bool__(self) -> bool:
        return bool(self.results)


@dataclass(frozen=True)
class StudyResults:
    """Every stored result of one study, decoded, with the mode table they are gated by."""

    study_instance_uid: str
    stored: tuple[AlgorithmResult, ...]
    book: ModeBook

    @classmethod
    def load(
        cls, session: Session, study_instance_uid: str, default_mode: Mode = Mode.SILENT
    ) -> StudyResults:
        """Load and decode the study's latest result per algorithm, and the mode table (two queries);
        ``default_mode`` is the mode of a version with no recorded mode (new versions start silent)."""
        stored = tuple(
            result_from_payload(r.payload) for r in result_store.for_study(session, study_instance_uid)
        )
        return cls(study_instance_uid, stored, ModeBook.load(session, default_mode))

    def at(self, destination: Destination, kind: OutputKind | None = None) -> Gated:
        """The results that reach ``destination`` (for ``pacs``, objects of ``kind``)."""
        shown = self.book.select(self.stored, destination, kind or "")
        return Gated(destination, tuple(shown), self.stored, self.book)

    def modes(self, results: tuple[AlgorithmResult, ...] | None = None) -> dict[str, dict[str, str]]:
        """``{id@version: {destination: mode}}`` of ``results`` (default: every stored one)."""
        return {
            version_key(r): {
                d.value: self.book.mode(r.algorithm_id, r.algorithm_version, d).value for d in Destination
            }
            for r in (self.stored if results is None else results)
        }


def results_for(
    session: Session,
    study_instance_uid: str,
    destination: Destination,
    *,
    default_mode: Mode = Mode.SILENT,
    kind: OutputKind | None = None,
) -> Gated:
    """The study's results that reach ``destination`` (one call for a reader of one destination)."""
    return StudyResults.load(session, study_instance_uid, default_mode).at(destination, kind)
