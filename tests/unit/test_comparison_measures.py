"""Prior comparison 1.1: targeted spot search, per-view consistency, the absent rule, and the
registration's plausibility check (small synthetic images, no phantom pair)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage as ndi

from breastgate.algorithms import comparison
from breastgate.algorithms._lesion_size import Measured, cluster_size_mm, spots_at, spots_extent_mm
from breastgate.imaging import registration
from breastgate.imaging.pixels import MammoImage
from breastgate.imaging.registration import Affine2D, ViewFrame, outline_agreement, register

PX = 0.1
BRIGHT = [(180.0, 190.0), (200.0, 205.0), (215.0, 185.0), (190.0, 220.0), (225.0, 215.0)]
FAINT = [(140.0, 140.0), (260.0, 260.0), (140.0, 260.0)]
EMPTY = [(100.0, 100.0), (300.0, 320.0), (120.0, 300.0)]


def _spots_image(faint_amplitude: float) -> MammoImage:
    """Noise (SD 10) with five bright spots and three faint ones (Gaussian, σ 0.25 mm)."""
    rng = np.random.default_rng(5)
    pixels = 1000.0 + rng.normal(0.0, 10.0, (400, 400))
    yy, xx = np.mgrid[0:400, 0:400]
    for (col, row), amplitude in [(p, 60.0) for p in BRIGHT] + [(p, faint_amplitude) for p in FAINT]:
        pixels += amplitude * np.exp(-((xx + 0.5 - col) ** 2 + (yy + 0.5 - row) ** 2) / (2 * 2.5**2))
    return MammoImage(pixels.astype(np.float32), (PX, PX), "L", "CC", "MONOCHROME2", (), "", "1.2.3", "")


def test_targeted_search_finds_faint_spots_at_known_places_and_nothing_elsewhere() -> None:
    image = _spots_image(16.0)
    blind = cluster_size_mm(image, (200.0, 200.0), 0.0, 4.0)
    assert blind is not None and len(blind.spots) == len(BRIGHT)  # the blind 5 SD search
    for spot in blind.spots:
        assert min(math.dist(spot, p) for p in BRIGHT) < 2.0
    assert blind.size_mm == spots_extent_mm(image, blind.spots)
    faint = spots_at(image, FAINT, 4.0, 0.8)
    assert len(faint) == 3
    assert all(min(math.dist(f, p) for p in FAINT) * PX <= 0.8 for f in faint)
    assert len(spots_at(image, FAINT, 5.0, 0.8)) < 3  # the blind level misses some of them
    assert spots_at(image, EMPTY, 4.0, 0.8) == ()
    # One spot per peak, however many mapped points reach it.
    assert len(spots_at(image, [BRIGHT[0], (BRIGHT[0][0] + 2.0, BRIGHT[0][1])], 4.0, 0.8)) == 1


def test_extent_of_spots_is_twice_the_largest_distance_from_their_centre_plus_pad() -> None:
    image = _spots_image(0.0)
    spots = [(100.0, 100.0), (140.0, 100.0)]  # 4 mm apart
    assert spots_extent_mm(image, spots) == pytest.approx(4.0 + 0.5)
    assert spots_extent_mm(image, spots[:1]) == pytest.approx(0.5)


def _view(
    now_size: float, then_size: float | None, ratio: float = 1.0, scale: float = 1.0
) -> comparison._ViewMeasure:
    now = Measured(now_size, 100.0, (0.0, 0.0))
    then = None if then_size is None else Measured(then_size * scale, 100.0 * ratio, (0.0, 0.0))
    return comparison._ViewMeasure(now, then, scale)


def test_views_that_measured_another_structure_are_left_out() -> None:
    mass = [_view(24.0, 14.0), _view(9.5, 9.5)]  # the second mark sits beside the mass
    assert comparison._consistent(mass, True) == mass[:1]
    ran_away = [_view(20.0, 70.0, scale=0.97), _view(17.0, 27.0)]  # 3.5 x: into the tissue around
    assert comparison._consistent(ran_away, True) == ran_away[1:]
    assert comparison._consistent(mass, False) == mass  # clusters: every view


def test_a_mass_is_absent_when_any_view_lacks_its_contrast() -> None:
    assert comparison._mass_absent([_view(20.0, 12.0, 0.55), _view(20.0, 12.0, 0.35)])
    assert not comparison._mass_absent([_view(20.0, 12.0, 0.62), _view(20.0, 12.0, 0.7)])
    # Nothing there on one view, tissue that mimics a mass on the other: absent (1.1.0's median,
    # the mean of 0.08 and 0.98, called it present).
    assert comparison._mass_absent([_view(20.0, 9.0, 0.08), _view(20.0, 20.0, 0.98)])
    assert comparison._mass_absent([_view(20.0, None), _view(20.0, 20.0, 0.9), _view(20.0, None)])
    assert not comparison._mass_absent([])


def _frame(image: np.ndarray, mask: np.ndarray, px: float) -> ViewFrame:
    wall = np.flatnonzero(mask[:, 0])
    rows, cols = np.nonzero(mask)
    far = cols >= cols.max() - 1
    nipple = ((float(np.median(cols[far])) + 0.5) * px, (float(np.median(rows[far])) + 0.5) * px)
    anchor = (0.0, (float(np.median(wall)) + 0.5) * px)
    return ViewFrame(
        image.astype(np.float32), mask, px, (px, px), False, float(mask.shape[1]), nipple, anchor
    )


@pytest.fixture(scope="module")
def breast() -> ViewFrame:
    px = 0.6
    yy, xx = np.mgrid[0:400, 0:300].astype(np.float64)
    mask = ((xx * px / 120.0) ** 2 + ((yy * px - 120.0) / 95.0) ** 2) < 1.0
    texture = ndi.gaussian_filter(np.random.default_rng(3).standard_normal(mask.shape), 2.5) * 120.0
    return _frame(np.where(mask, 500.0 + texture, 0.0), mask, px)


def test_outline_agreement_is_one_when_aligned_and_drops_when_shifted(breast: ViewFrame) -> None:
    identity = Affine2D(((1.0, 0.0), (0.0, 1.0)), (0.0, 0.0))
    shifted = Affine2D(((1.0, 0.0), (0.0, 1.0)), (0.0, 10.0))
    assert outline_agreement(breast, breast, identity) == pytest.approx(1.0)
    assert outline_agreement(breast, breast, shifted) < 0.9
    assert registration._largest_move_mm(breast, identity, shifted) == pytest.approx(10.0)


def test_an_implausible_refinement_falls_back_to_the_landmark_similarity(
    breast: ViewFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = register(breast, breast)
    assert not good.fallback
    assert math.dist(good.transform.apply(60.0, 120.0), (60.0, 120.0)) < 0.5
    # A refinement that has locked onto the wrong structure: 40 mm down, the outlines disagree.
    wrong = Affine2D(((1.0, 0.0), (0.0, 1.0)), (0.0, 40.0))
    monkeypatch.setattr(registration, "_refine", lambda *args: wrong)
    bad = register(breast, breast)
    assert bad.fallback and bad.transform == bad.initial
    assert bad.ncc == bad.ncc_initial


def test_a_large_move_that_makes_the_outlines_agree_is_kept(
    breast: ViewFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong landmark (the similarity 30 mm off) put right by the refinement: kept."""
    identity = Affine2D(((1.0, 0.0), (0.0, 1.0)), (0.0, 0.0))
    off = Affine2D(((1.0, 0.0), (0.0, 1.0)), (0.0, 30.0))
    monkeypatch.setattr(registration, "landmark_similarity", lambda *args: off)
    monkeypatch.setattr(registration, "_refine", lambda *args: identity)
    reg = register(breast, breast)
    assert not reg.fallback and reg.transform == identity and reg.initial == off
    assert reg.ncc > reg.ncc_initial


def _cluster_pair(
    spots: list[tuple[float, float]], prior_spots: list[tuple[float, float]]
) -> comparison.ViewPair:
    """Current and prior images of noise with the given spots (σ 0.25 mm), identity registration."""

    def image(points: list[tuple[float, float]], seed: int) -> MammoImage:
        rng = np.random.default_rng(seed)
        pixels = 1000.0 + rng.normal(0.0, 10.0, (400, 400))
        yy, xx = np.mgrid[0:400, 0:400]
        for col, row in points:
            pixels += 60.0 * np.exp(-((xx + 0.5 - col) ** 2 + (yy + 0.5 - row) ** 2) / (2 * 2.5**2))
        return MammoImage(pixels.astype(np.float32), (PX, PX), "L", "CC", "MONOCHROME2", (), "", "1.2.3", "")

    mask = np.ones((40, 40), dtype=bool)
    frame = _frame(np.zeros((40, 40)), mask, 1.0)
    identity = Affine2D(((1.0, 0.0), (0.0, 1.0)), (0.0, 0.0))
    frame = replace(frame, spacing_mm=(PX, PX), width_px=400.0)
    reg = registration.Registration(identity, identity, 1.0, 1.0, frame, frame)
    return comparison.ViewPair(reg, image(spots, 11), image(prior_spots, 12))


def test_a_grown_cluster_with_a_few_old_calcifications_is_not_new() -> None:
    """Twelve spots now, the three inner ones a year ago: a quarter of them, but three hits where
    chance gives almost none, so the cluster was there (1.1.0: fewer than half and than 3 → new)."""
    ring = [(200.0 + 28.0 * math.cos(a), 200.0 + 28.0 * math.sin(a)) for a in np.linspace(0, 6.0, 9)]
    inner = [(195.0, 195.0), (208.0, 200.0), (198.0, 209.0)]
    pair = _cluster_pair(ring + inner, inner)
    now = cluster_size_mm(pair.current, (200.0, 200.0), 0.0, 4.0)
    assert now is not None and len(now.spots) >= 10 and now.size_mm > 5.0
    then = comparison._cluster_then(pair, now)
    assert then is not None and len(then.spots) == 3 and then.size_mm < 2.5
    assert comparison._cluster_then(_cluster_pair(ring + inner, []), now) is None  # new: nothing there
    assert comparison._present(2, 12, 0.005) and not comparison._present(2, 12, 0.05)
    assert comparison._present(3, 12, 0.02) and not comparison._present(3, 12, 0.2)
    assert not comparison._present(1, 12, 0.0001)


def test_faint_spots_next_to_a_cluster_join_it() -> None:
    """Hysteresis: a 4-5 SD spot within 1.5 mm of a cluster's spot belongs to it; one 6 mm away does not."""
    bright = [(200.0, 200.0), (210.0, 205.0), (205.0, 190.0)]
    pair = _cluster_pair(bright, [])
    pixels = pair.current.pixels.astype(np.float64)
    yy, xx = np.mgrid[0:400, 0:400]
    faint = [(222.0, 205.0), (262.0, 205.0)]  # 1.2 mm beyond a bright one; 4 mm beyond that
    for col, row in faint:
        pixels += 19.0 * np.exp(-((xx + 0.5 - col) ** 2 + (yy + 0.5 - row) ** 2) / (2 * 2.5**2))
    image = replace(pair.current, pixels=pixels.astype(np.float32))
    level = spots_at(image, faint, 4.0, 0.3)
    assert len(level) == 2 and len(spots_at(image, faint, 5.0, 0.3)) == 0  # both 4-5 SD
    cluster = cluster_size_mm(image, (205.0, 200.0), 0.0, 4.0)
    assert cluster is not None and len(cluster.spots) == 4
    assert max(c for c, _ in cluster.spots) == pytest.approx(222.0, abs=1.5)


def test_the_outline_start_needs_no_nipple(breast: ViewFrame) -> None:
    """The chest-wall middle and the breast's centroid give the similarity; the nipple is not read."""
    no_nipple = replace(breast, nipple_mm=None)
    identity = registration.outline_similarity(no_nipple, no_nipple)
    assert math.dist(identity.apply(80.0, 120.0), (80.0, 120.0)) < 1e-6
    # The prior breast 8 mm lower on the detector: the outline start finds the shift.
    shift = round(8.0 / breast.px_mm)
    lower = replace(
        no_nipple,
        image=np.roll(breast.image, shift, axis=0),
        breast=np.roll(breast.breast, shift, axis=0),
        anchor_mm=(0.0, breast.anchor_mm[1] + shift * breast.px_mm) if breast.anchor_mm else None,
    )
    moved = registration.outline_similarity(no_nipple, lower)
    assert math.dist(moved.apply(80.0, 120.0), (80.0, 128.0)) < 0.5


def test_a_wrong_nipple_on_the_prior_is_overcome_by_the_outline_start(breast: ViewFrame) -> None:
    """The prior's nipple found 35 mm up the skin line (a skin fold): the landmark start is far
    from the outline start, both are refined, and the one whose outlines agree is kept."""
    assert breast.nipple_mm is not None
    wrong = replace(breast, nipple_mm=(breast.nipple_mm[0] - 12.0, breast.nipple_mm[1] - 33.0))
    landmark = registration.landmark_similarity(breast, wrong)
    assert (
        registration._largest_move_mm(breast, landmark, registration.outline_similarity(breast, wrong)) > 15
    )
    reg = register(breast, wrong)
    assert reg.initial == registration.outline_similarity(breast, wrong)
    for point in ((40.0, 120.0), (100.0, 80.0), (60.0, 170.0)):
        assert math.dist(reg.transform.apply(*point), point) < 1.0
