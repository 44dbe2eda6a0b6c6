"""Single linkage shared by the calcification clustering and the 3-D merge of slab detections."""

from __future__ import annotations

import itertools

from breastgate.algorithms._grouping import single_linkage


def test_links_are_transitive_and_unlinked_items_stand_alone() -> None:
    groups = single_linkage(6, [(0, 2), (2, 4), (3, 5)])
    assert groups == [[0, 2, 4], [1], [3, 5]]


def test_result_does_not_depend_on_the_order_or_direction_of_pairs() -> None:
    pairs = [(0, 3), (3, 7), (1, 2), (5, 6), (6, 8)]
    expected = [[0, 3, 7], [1, 2], [4], [5, 6, 8]]
    for order in itertools.permutations(pairs):
        assert single_linkage(9, order) == expected
        assert single_linkage(9, [(b, a) for a, b in order]) == expected


def test_no_items_no_groups() -> None:
    assert single_linkage(0, []) == []
