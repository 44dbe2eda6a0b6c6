"""Routing rules as data (STYLE pattern 4).

A rule names an algorithm and what a study must contain for it to run: modalities, SOP classes
and, optionally, the presentation intent. The default rule set is derived from the algorithm
manifests; a site narrows it with ``BG_ALGORITHMS``. :func:`route` is pure, so it doubles as a
dry-run tester (``explain``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from breastgate.domain.model import AlgorithmManifest, StudyRef


@dataclass(frozen=True)
class Rule:
    """Run ``algorithm_id`` when the study holds an instance matching every given criterion."""

    algorithm_id: str
    modalities: tuple[str, ...] = ()
    sop_class_uids: tuple[str, ...] = ()

    def matches(self, study: StudyRef) -> bool:
        return any(
            (not self.modalities or i.modality in self.modalities)
            and (not self.sop_class_uids or i.sop_class_uid in self.sop_class_uids)
            for i in study.instances
        )


def rules_from_manifests(manifests: Iterable[AlgorithmManifest], only: Sequence[str] = ()) -> list[Rule]:
    """One rule per algorithm manifest; ``only`` (ids) restricts the set when given."""
    return [
        Rule(m.id, modalities=m.modalities, sop_class_uids=m.sop_class_uids)
        for m in manifests
        if not only or m.id in only
    ]


def route(study: StudyRef, rules: Sequence[Rule]) -> list[str]:
    """Algorithm ids to run on ``study``, in rule order, without duplicates."""
    chosen: list[str] = []
    for rule in rules:
        if rule.algorithm_id not in chosen and rule.matches(study):
            chosen.append(rule.algorithm_id)
    return chosen


def explain(study: StudyRef, rules: Sequence[Rule]) -> list[tuple[str, bool]]:
    """Dry run: every rule and whether it matched the study."""
    return [(r.algorithm_id, r.matches(study)) for r in rules]
