"""The Algorithm protocol (STYLE pattern 4: selection as data, inference in a fixed shape).

An algorithm never writes DICOM and never touches the database: it takes a
:class:`~breastgate.domain.model.StudyRef` whose instances point at stored files and
returns an :class:`~breastgate.domain.model.AlgorithmResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from breastgate.domain.model import AlgorithmManifest, AlgorithmResult, ImageOutcome, InstanceRef, StudyRef


@dataclass(frozen=True)
class Selection:
    """Inputs chosen by :meth:`Algorithm.select`, and the images it set aside with the reason."""

    study: StudyRef
    inputs: tuple[InstanceRef, ...]
    skipped: tuple[ImageOutcome, ...] = ()


@runtime_checkable
class Algorithm(Protocol):
    """What every algorithm (built-in or engine adapter) provides."""

    manifest: AlgorithmManifest

    def is_available(self) -> tuple[bool, str]:
        """Whether it can run here, and if not, what is missing."""
        ...

    def select(self, study: StudyRef) -> Selection:
        """Pick the instances to run on; say why others are skipped."""
        ...

    def run(self, selection: Selection) -> AlgorithmResult:
        """Run on the selected inputs. Never raises for bad images: reports them."""
        ...
