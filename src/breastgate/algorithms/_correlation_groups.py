"""Lesion groups made consistent across three or more studies (``breastgate.correlation``, step 5).

Links are assigned one study pair at a time, so the pairs need not agree with each other: with
mammography (MG), ultrasound (US) and MRI, the MG lesion may take the US lesion while the MRI
lesion takes a US false positive found on the same image (the same annotated clock and distance:
only size and score tell them apart). The MG-MRI link, compatible, is then dropped because it
would put two US findings into one lesion. On phantom women (``bench/correlation_phantoms.py``,
development seeds 0-99, main's findings re-linked) such conflicts split the true lesion in 4 of 100
women (3 by a US false positive on the lesion's image); the refinement below joins all 4. With
the wider distance uncertainties used before, it also split one (seed 97: an unrelated US mass
30 mm further from the nipple, compatible with both MG and MR, took the US lesion's place); with
the measured ones it splits none.

:func:`refine` improves the groups by local search on one objective: the sum, over every pair
of findings of different studies in one group, of its margin below the gate (``margin(a, b)``,
positive for a compatible pair, 0 otherwise), never two findings of one study in one group. A
move takes one finding from its group into another (or exchanges two findings of one study
between two groups) when that raises the sum. A finding agreeing with two findings of a group
(three mutually compatible findings) outweighs a single cheaper link. For two studies the
assignment already maximises the sum, so no move is taken; groups only change where three or
more studies disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Protocol, TypeVar

__all__ = ["refine"]

LOGGER = logging.getLogger(__name__)

#: Smallest gain that counts as an improvement (margins are of order 1-10).
_EPS = 1e-9
#: Local search stops after this many passes over the findings (it converges in 1-2).
_MAX_PASSES = 10


class _Finding(Protocol):
    @property
    def key(self) -> tuple[str, str, str]: ...

    @property
    def study_instance_uid(self) -> str: ...


F = TypeVar("F", bound=_Finding)
Margin = Callable[[F, F], float]


def _gain(f: F, members: Sequence[F], margin: Margin[F]) -> float:
    return sum(margin(f, x) for x in members if x.key != f.key)


def _best_move(
    f: F, groups: dict[int, list[F]], where: dict[Hashable, int], margin: Margin[F]
) -> tuple[float, int, F | None]:
    """The best move of ``f``: (gain, target group, finding of f's study sent back or None)."""
    home = where[f.key]
    stay = _gain(f, groups[home], margin)
    best: tuple[float, int, F | None] = (0.0, home, None)
    for gid, members in groups.items():
        if gid == home:
            continue
        same = [x for x in members if x.study_instance_uid == f.study_instance_uid]
        if not same:
            delta = _gain(f, members, margin) - stay
            if delta > best[0] + _EPS:
                best = (delta, gid, None)
            continue
        z = same[0]  # exchange f and z: z goes to f's group
        rest_home = [x for x in groups[home] if x.key != f.key]
        delta = (
            _gain(f, [x for x in members if x.key != z.key], margin)
            + _gain(z, rest_home, margin)
            - stay
            - _gain(z, members, margin)
        )
        if delta > best[0] + _EPS:
            best = (delta, gid, z)
    return best


def refine(groups: Sequence[Sequence[F]], margin: Margin[F]) -> list[list[F]]:
    """Groups after local search on the summed pair margins (module docstring); a group no
    longer held together by compatible pairs (``margin > 0``) is split into its connected parts."""
    table: dict[int, list[F]] = {n: list(g) for n, g in enumerate(groups)}
    where: dict[Hashable, int] = {f.key: n for n, g in table.items() for f in g}
    order = sorted((f for g in table.values() for f in g), key=lambda f: f.key)
    moves = 0
    for _ in range(_MAX_PASSES):
        moved = False
        for f in order:
            gain, target, back = _best_move(f, table, where, margin)
            if gain <= 0.0:
                continue
            home = where[f.key]
            table[home] = [x for x in table[home] if x.key != f.key]
            table[target].append(f)
            where[f.key] = target
            if back is not None:
                table[target] = [x for x in table[target] if x.key != back.key]
                table[home].append(back)
                where[back.key] = home
            moved, moves = True, moves + 1
        if not moved:
            break
    if moves:
        LOGGER.debug("refine: %d findings moved between lesions", moves)
    return [part for g in table.values() if g for part in _connected(g, margin)]


def _connected(group: Sequence[F], margin: Margin[F]) -> list[list[F]]:
    """Parts of ``group`` joined by compatible pairs."""
    parts: list[list[F]] = []
    for f in group:
        joined = [p for p in parts if any(margin(f, x) > 0.0 for x in p)]
        merged = [f] + [x for p in joined for x in p]
        parts = [p for p in parts if not any(p is q for q in joined)] + [merged]
    return parts
