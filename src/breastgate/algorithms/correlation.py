"""One lesion across modalities and time (``breastgate.correlation``, issue 19): every finding of a
woman placed in one breast frame, findings of different studies linked when their positions and
sizes agree within their uncertainties, and the links grouped into lesions.

Placing (:func:`place`, :mod:`breastgate.algorithms._correlation_place`): laterality, clock,
distance from the nipple and depth third from the finding's ``location`` (DESIGN §4), with the
per-modality uncertainty of :data:`UNCERTAINTY` (mammography by CC + MLO triangulation,
tomosynthesis from its frames, ultrasound from its annotation, MRI from its 3-D position relative
to the nipple).

Linking (:func:`link`):

1. Candidate pairs: same patient (a finding without a patient id is never linked), same breast,
   different studies. Never across breasts or patients.
2. A pair is *compatible* when its positions lie within :data:`MAX_NORMALISED_DISTANCE` combined
   standard deviations (2-D Mahalanobis distance in the coronal frame, both covariances summed)
   and its sizes within :data:`MAX_SIZE_Z` combined log-size standard deviations (relative error
   per modality plus :data:`~breastgate.algorithms._correlation_place.SIZE_ABS_MM` absolute, so the
   tolerated ratio grows for small lesions, plus :data:`GROWTH_LOG_SD_PER_YEAR` per year between
   the studies). Its cost is ``normalised_distance² + size_z²`` (χ² with 3 degrees of freedom
   for one lesion seen twice).
   A weak finding must agree more tightly (:func:`score_gate`): when a finding's ``score`` is
   below :data:`SCORE_REFERENCE`, the position gate shrinks by ``score / SCORE_REFERENCE`` (to the
   power :data:`SCORE_GATE_POWER`, never below :data:`SCORE_GATE_FLOOR` of it); most weak
   mammographic findings are false positives, and the gate, ±2.5 sd of the mammographic clock,
   spans a wide part of the breast. Findings without a score keep the full gate. Phantom women
   (``bench/correlation_phantoms.py``, with the CC/MLO pairing of ``breastgate.masses`` 1.3.1):
   pair precision 0.732 → 0.879 at recall 0.780 → 0.777 (development, 100 women); held out, 50
   women: 0.736 → 0.862 at 0.727 → 0.707.
3. One-to-one per study pair: the compatible pairs of two studies are assigned at the most total
   margin below the gate (Hungarian, ``scipy.optimize.linear_sum_assignment``).
4. Lesions: the assigned links, cheapest first, join groups unless the join would put two findings
   of one study into one lesion (that link is dropped; it is the weaker one). Every placed finding
   is in exactly one lesion (a lesion seen once is a lesion of one finding).
5. With three studies or more of one breast, the groups are refined
   (:func:`breastgate.algorithms._correlation_groups.refine`): a finding moves to another group
   (or trades places with that group's finding of its study) when the summed agreement of every
   pair within the groups rises, each pair counting the share of its gate it leaves unused
   (``1 - cost / limit``). Pairwise assignment alone can split one lesion seen three times when a
   false positive on the same ultrasound image (the same annotated place) fits one study better;
   three findings agreeing with each other outweigh it. Phantom women (development seeds 0-99,
   findings replayed, with the distance uncertainties measured there): pair precision 0.879 →
   0.916, recall 0.777 → 0.803; held out, 50 women, the same detections re-linked: 0.829 → 0.888
   at 0.680 → 0.687.

Each kept link carries its evidence (:class:`Evidence`): distance in the frame, normalised
distance, size ratio, kinds, modalities, days apart.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations

import numpy as np
from scipy.optimize import linear_sum_assignment

from breastgate.algorithms._correlation_groups import refine
from breastgate.algorithms._correlation_place import (
    KIND_SIZE_REL,
    MODALITIES,
    SIZE_ABS_MM,
    UNCERTAINTY,
    BreastPosition,
    PositionAgreement,
    Uncertainty,
    modality_of,
    normal_modality,
    place,
    why_unplaced,
)

__all__ = [
    "GROWTH_LOG_SD_PER_YEAR",
    "KIND_SIZE_REL",
    "MAX_NORMALISED_DISTANCE",
    "MAX_SIZE_Z",
    "MODALITIES",
    "SCORE_GATE_FLOOR",
    "SCORE_GATE_POWER",
    "SCORE_REFERENCE",
    "SIZE_ABS_MM",
    "UNCERTAINTY",
    "BreastPosition",
    "Evidence",
    "Lesion",
    "LesionTable",
    "Link",
    "PlacedFinding",
    "PositionAgreement",
    "Uncertainty",
    "compatible",
    "evidence",
    "link",
    "modality_of",
    "normal_modality",
    "place",
    "score_gate",
    "why_unplaced",
]

LOGGER = logging.getLogger(__name__)

#: Positions agree within 2.5 combined sd. For one lesion seen twice the squared normalised
#: distance is χ² with 2 degrees of freedom, so 2.5 keeps 95.6 % of true pairs (3.0: 98.9 %); the
#: gate is what keeps out an unrelated lesion of the other study, and with the mammographic clock
#: (±1.25 h) a 3 sd window spans half the breast. Chosen on simulated women (bench seeds 1-2,
#: precision/recall 2.0-3.0 × 1.5-2.5 grid; reported on seed 0): 2.5 / 2.0 gained 0.03-0.05
#: precision for 0.03 recall against 3.0 / 2.5.
MAX_NORMALISED_DISTANCE = 2.5
#: Sizes agree within 2.0 combined log-size sd (95.4 % of true pairs; with ±20-25 % per modality
#: and 2 mm absolute, a ratio of about 2 for 10 mm lesions, 2.7 for 5 mm ones, same day).
MAX_SIZE_Z = 2.0
#: A lesion may grow (or shrink) between studies: log-size sd added per year apart (a doubling in
#: about two years stays within the gate).
GROWTH_LOG_SD_PER_YEAR = 0.3

#: Findings scored at or above this keep the full position gate (:func:`score_gate`). Chosen on
#: development phantom women (``bench/correlation_phantoms.py`` findings replayed, seeds 0-49, grid
#: of reference 0.3-0.75, power 0.5-1.5, floor 0.2-0.4, gate 2.0-2.5; checked on seeds 50-99):
#: shown mammographic false positives score 0.14-0.35, true masses a median 0.63.
SCORE_REFERENCE = 0.45
#: How fast the gate shrinks below :data:`SCORE_REFERENCE` (0: scores are ignored).
SCORE_GATE_POWER = 1.0
#: The gate never shrinks below this fraction of itself.
SCORE_GATE_FLOOR = 0.2

#: Above any compatible pair's cost (MAX_NORMALISED_DISTANCE² + MAX_SIZE_Z²), so every compatible
#: pair has a positive margin in the assignment.
_MARGIN = MAX_NORMALISED_DISTANCE**2 + MAX_SIZE_Z**2 + 1.0


@dataclass(frozen=True)
class PlacedFinding:
    """A finding of one study, placed: who, which study (date YYYYMMDD), seen on which modality,
    the finding's id in the study's results and its kind, and its breast-frame position."""

    patient_id: str
    study_instance_uid: str
    study_date: str | None
    modality: str
    finding_id: str
    kind: str
    position: BreastPosition
    algorithm: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """(study, algorithm, finding id): unique among a woman's findings."""
        return self.study_instance_uid, self.algorithm, self.finding_id

    @property
    def ref(self) -> str:
        """``<study_instance_uid>/<finding_id>``, as written in another study's ``correlated_with``."""
        return f"{self.study_instance_uid}/{self.finding_id}"


@dataclass(frozen=True)
class Evidence:
    """Why two findings were linked."""

    frame_distance_mm: float
    normalised_distance: float
    size_ratio: float | None
    size_z: float | None
    cost: float
    kinds: tuple[str, str]
    modalities: tuple[str, str]
    days_apart: int | None


@dataclass(frozen=True)
class Link:
    """Two findings of different studies taken as one lesion."""

    a: PlacedFinding
    b: PlacedFinding
    evidence: Evidence


@dataclass(frozen=True)
class Lesion:
    """One lesion of one breast: its findings (by date, then study, then id) and the links that
    joined them."""

    id: str
    patient_id: str
    laterality: str
    findings: tuple[PlacedFinding, ...]
    links: tuple[Link, ...]


@dataclass(frozen=True)
class LesionTable:
    """A woman's (or several women's) lesions; every placed finding is in exactly one."""

    lesions: tuple[Lesion, ...]
    _by_key: dict[tuple[str, str, str], Lesion] = field(default_factory=dict, repr=False, compare=False)

    def lesion_of(self, finding: PlacedFinding) -> Lesion | None:
        """The lesion holding ``finding``, or None when it was not in the table."""
        return self._by_key.get(finding.key)

    def correlated_with(self, finding: PlacedFinding) -> tuple[str, ...]:
        """Refs (``<study_instance_uid>/<finding_id>``) of the findings of other studies in the
        same lesion, in the lesion's order."""
        lesion = self.lesion_of(finding)
        if lesion is None:
            return ()
        return tuple(f.ref for f in lesion.findings if f.study_instance_uid != finding.study_instance_uid)


def _days_apart(a: str | None, b: str | None) -> int | None:
    def parse(text: str | None) -> date | None:
        if not text or len(text) < 8 or not text[:8].isdigit():
            return None
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except ValueError:
            return None

    da, db = parse(a), parse(b)
    return None if da is None or db is None else abs((db - da).days)


def evidence(a: PlacedFinding, b: PlacedFinding) -> Evidence:
    """The agreement of two findings' positions and sizes (sizes widened for the years between)."""
    agreement = a.position.compare(b.position)
    days = _days_apart(a.study_date, b.study_date)
    size_z = agreement.size_z
    if size_z is not None and agreement.size_ratio is not None and days:
        growth = GROWTH_LOG_SD_PER_YEAR * days / 365.25
        base = a.position.size_log_var() + b.position.size_log_var()
        size_z = math.log(agreement.size_ratio) / math.sqrt(base + growth**2)
    cost = agreement.normalised_distance**2 + (size_z or 0.0) ** 2
    return Evidence(
        frame_distance_mm=agreement.frame_distance_mm,
        normalised_distance=agreement.normalised_distance,
        size_ratio=agreement.size_ratio,
        size_z=size_z,
        cost=cost,
        kinds=(a.kind, b.kind),
        modalities=(a.position.modality, b.position.modality),
        days_apart=days,
    )


def score_gate(a: BreastPosition, b: BreastPosition) -> float:
    """How far the position gate is scaled for the findings' scores: 1 at or above
    :data:`SCORE_REFERENCE`, shrinking as ``(score / SCORE_REFERENCE) ** SCORE_GATE_POWER`` below
    it (a weak candidate must agree more tightly), never below :data:`SCORE_GATE_FLOOR`; a finding
    without a score does not scale it."""
    scale = 1.0
    for position in (a, b):
        if position.score is not None and position.score < SCORE_REFERENCE:
            scale *= (max(position.score, 1e-6) / SCORE_REFERENCE) ** SCORE_GATE_POWER
    return max(scale, SCORE_GATE_FLOOR)


def compatible(e: Evidence, scale: float = 1.0) -> bool:
    """Positions within ``scale`` × :data:`MAX_NORMALISED_DISTANCE` and sizes (when both known)
    within :data:`MAX_SIZE_Z`."""
    return e.normalised_distance <= scale * MAX_NORMALISED_DISTANCE and (
        e.size_z is None or e.size_z <= MAX_SIZE_Z
    )


def _assign(first: Sequence[PlacedFinding], second: Sequence[PlacedFinding]) -> list[Link]:
    """Compatible one-to-one links between two studies' findings of one breast: the assignment
    of most total margin ``_MARGIN - cost`` (leaving a finding unlinked earns nothing, so a pair
    is never linked only to link more)."""
    table = [[evidence(a, b) for b in second] for a in first]
    scales = [[score_gate(a.position, b.position) for b in second] for a in first]
    margin = np.array(
        [
            [e.cost - _MARGIN if compatible(e, k) else 0.0 for e, k in zip(row, ks, strict=True)]
            for row, ks in zip(table, scales, strict=True)
        ]
    )
    rows, cols = linear_sum_assignment(margin)
    return [
        Link(first[i], second[j], table[i][j])
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
        if margin[i, j] < 0.0
    ]


def _breast_links(findings: Sequence[PlacedFinding]) -> list[Link]:
    """Assigned links over every pair of studies of one woman's breast, cheapest first."""
    by_study: dict[str, list[PlacedFinding]] = {}
    for f in findings:
        by_study.setdefault(f.study_instance_uid, []).append(f)
    dated = sorted(by_study, key=lambda uid: (by_study[uid][0].study_date or "", uid))
    links: list[Link] = []
    for s1, s2 in combinations(dated, 2):  # earlier study first: a link reads from a to b
        links += _assign(by_study[s1], by_study[s2])
    return sorted(links, key=lambda x: (x.evidence.cost, x.a.key, x.b.key))


def _group(
    findings: Sequence[PlacedFinding], links: Iterable[Link]
) -> list[tuple[list[PlacedFinding], list[Link]]]:
    """Union of links, cheapest first, never two findings of one study in one group."""
    parent = {f.key: f.key for f in findings}

    def root(key: tuple[str, str, str]) -> tuple[str, str, str]:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    studies = {f.key: {f.study_instance_uid} for f in findings}
    kept: list[Link] = []
    for item in links:
        ra, rb = root(item.a.key), root(item.b.key)
        if ra != rb:
            if studies[ra] & studies[rb]:
                continue  # would put two findings of one study into one lesion
            parent[rb] = ra
            studies[ra] |= studies.pop(rb)
        kept.append(item)
    groups: dict[tuple[str, str, str], tuple[list[PlacedFinding], list[Link]]] = {}
    for f in findings:
        groups.setdefault(root(f.key), ([], []))[0].append(f)
    for item in kept:
        groups[root(item.a.key)][1].append(item)
    return list(groups.values())


def _order(f: PlacedFinding) -> tuple[str, str, str, str]:
    return (f.study_date or "", f.study_instance_uid, f.algorithm, f.finding_id)


def _pair_link(x: PlacedFinding, y: PlacedFinding) -> Link:
    """The link of two findings, the earlier study first (as :func:`_breast_links` writes it)."""
    a, b = sorted((x, y), key=lambda f: (f.study_date or "", f.study_instance_uid))
    return Link(a, b, evidence(a, b))


def _margins() -> Callable[[PlacedFinding, PlacedFinding], float]:
    """A pair's share of its gate left unused, ``1 - cost / (gate² + MAX_SIZE_Z²)`` with the
    position gate scaled by :func:`score_gate` (0 when not compatible, at least 0.001 when
    compatible), cached: a weak finding's pairs count less as its gate is narrower."""
    cache: dict[frozenset[tuple[str, str, str]], float] = {}

    def margin(a: PlacedFinding, b: PlacedFinding) -> float:
        if a.study_instance_uid == b.study_instance_uid:
            return 0.0
        key = frozenset((a.key, b.key))
        if key not in cache:
            e = _pair_link(a, b).evidence
            k = score_gate(a.position, b.position)
            limit = (k * MAX_NORMALISED_DISTANCE) ** 2 + MAX_SIZE_Z**2
            cache[key] = max(1.0 - e.cost / limit, 1e-3) if compatible(e, k) else 0.0
        return cache[key]

    return margin


def _tree(group: Sequence[PlacedFinding], kept: Sequence[Link], margin: Callable[..., float]) -> list[Link]:
    """Links of a refined group: its assigned links (every one within it), then its cheapest
    compatible pairs, each only when it joins two parts not yet linked."""
    inside = {f.key for f in group}
    own = [x for x in kept if x.a.key in inside and x.b.key in inside]
    part = {f.key: n for n, f in enumerate(group)}

    def join(item: Link) -> bool:
        pa, pb = part[item.a.key], part[item.b.key]
        for k, v in part.items():
            if v == pb:
                part[k] = pa
        return pa != pb

    for item in own:
        join(item)
    pairs = [_pair_link(a, b) for a, b in combinations(group, 2) if margin(a, b) > 0.0]
    return own + [x for x in sorted(pairs, key=lambda x: (x.evidence.cost, x.a.key, x.b.key)) if join(x)]


def _breast_lesions(members: Sequence[PlacedFinding]) -> list[tuple[list[PlacedFinding], list[Link]]]:
    """Groups of one breast's findings and their links: assigned, joined, then, with three
    studies or more, refined (:func:`breastgate.algorithms._correlation_groups.refine`)."""
    grouped = _group(members, _breast_links(members))
    if len({f.study_instance_uid for f in members}) < 3:
        return grouped
    margin = _margins()
    kept = [item for _, links in grouped for item in links]
    return [(g, _tree(g, kept, margin)) for g in refine([g for g, _ in grouped], margin)]


def link(findings: Sequence[PlacedFinding]) -> LesionTable:
    """Link placed findings of the same woman and breast across studies into lesions (module
    docstring: gates, one-to-one per study pair, no two findings of one study in one lesion)."""
    unique = {f.key: f for f in findings}
    if len(unique) != len(findings):
        LOGGER.warning("link: %d duplicate findings ignored", len(findings) - len(unique))
    breasts: dict[tuple[str, str], list[PlacedFinding]] = {}
    alone: list[PlacedFinding] = []
    for f in sorted(unique.values(), key=_order):
        if f.patient_id:
            breasts.setdefault((f.patient_id, f.position.laterality), []).append(f)
        else:
            alone.append(f)  # whose finding it is is unknown: never linked
    raw: list[tuple[str, str, list[PlacedFinding], list[Link]]] = []
    for (patient, side), members in sorted(breasts.items()):
        for group, kept in _breast_lesions(members):
            raw.append((patient, side, group, kept))
    raw += [("", f.position.laterality, [f], []) for f in alone]
    raw.sort(key=lambda r: (r[0], r[1], _order(min(r[2], key=_order))))
    lesions = tuple(
        Lesion(
            id=f"lesion-{n}",
            patient_id=patient,
            laterality=side,
            findings=tuple(sorted(group, key=_order)),
            links=tuple(sorted(kept, key=lambda x: (_order(x.a), _order(x.b)))),
        )
        for n, (patient, side, group, kept) in enumerate(raw, start=1)
    )
    return LesionTable(lesions, {f.key: lesion for lesion in lesions for f in lesion.findings})
