"""Single-linkage grouping shared by the detectors (calcification clusters, slab detections in 3-D)."""

from __future__ import annotations

from collections.abc import Iterable


def single_linkage(count: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Groups of the items ``0..count-1`` connected by ``pairs`` (union-find with path halving).

    Each group lists its items in index order; groups come in the order of their first item, so
    the result does not depend on the order of ``pairs``.
    """
    parent = list(range(count))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for i in range(count):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())
