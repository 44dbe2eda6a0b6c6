"""The B-mode lesion detector on synthetic speckle images made here (no real images needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from breastgate.algorithms._us_descriptors import IRREGULAR_LOBES, echo_pattern, margin
from breastgate.algorithms._us_descriptors import posterior as posterior_descriptor
from breastgate.algorithms._us_descriptors import shape as shape_descriptor
from breastgate.algorithms._us_features import FEATURES, posterior_step
from breastgate.algorithms._us_lesions import (
    UsLesion,
    analyse,
    calipers,
    candidate_scores,
    context_rows,
    detection_scores,
    find_lesions,
    find_lesions_cine,
    thresholds,
    uses_network,
)
from breastgate.algorithms._us_outline import fill_bites, lobulation

PIXEL_MM = 0.1
#: The operating threshold of the detector with the shipped network (which these tests run).
OPERATING_THRESHOLD = thresholds(True)[0]
SHAPE = (400, 500)  # 40 × 50 mm


def speckle_image(
    seed: int,
    lesions: list[dict[str, float]] = (),  # type: ignore[assignment]
    shape: tuple[int, int] = SHAPE,
) -> np.ndarray:
    """Rayleigh speckle (grain ≈ 0.2 mm) over uniform tissue with elliptic lesions.

    Each lesion: centre ``x``, ``y`` (mm), semi-axes ``a`` (horizontal), ``b`` (vertical) in mm,
    ``echo`` (relative echogenicity), ``posterior`` (relative level of the column below it) and
    ``lobes`` (amplitude of a 7-lobed outline, 0 for an ellipse); ``combined``: a shadow behind
    the middle third, enhancement behind the rest.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.indices(shape) * PIXEL_MM
    level = np.ones(shape)
    for les in lesions:
        angle = np.arctan2(yy - les["y"], xx - les["x"])
        wobble = 1.0 + les.get("lobes", 0.0) * np.cos(7 * angle)
        r = np.hypot((xx - les["x"]) / les["a"], (yy - les["y"]) / les["b"])
        inside = r <= wobble
        below = (np.abs(xx - les["x"]) < les["a"] * 0.9) & (yy > les["y"] + les["b"])
        level[below] *= les.get("posterior", 1.0)
        if les.get("combined"):
            middle = below & (np.abs(xx - les["x"]) < les["a"] / 3)
            level[below & ~middle] *= 1.8
            level[middle] *= 0.4
        level[inside] = les.get("echo", 0.3)
    image = rng.rayleigh(40.0, shape) * level
    return np.clip(ndi.gaussian_filter(image, 1.0) * 1.6, 0, 255)


def top(image: np.ndarray, pixel_mm: float | None = PIXEL_MM) -> UsLesion:
    found = find_lesions(image, pixel_mm=pixel_mm)
    assert found, "no lesion found"
    return found[0]


def test_hypoechoic_ellipse_found_and_measured() -> None:
    image = speckle_image(1, [{"x": 25.0, "y": 18.0, "a": 6.0, "b": 3.5}])
    lesion = top(image)
    assert lesion.score >= OPERATING_THRESHOLD
    col, row = lesion.centre
    assert abs(col * PIXEL_MM - 25.0) < 1.0 and abs(row * PIXEL_MM - 18.0) < 1.0
    assert abs(lesion.width_px * PIXEL_MM - 12.0) <= 1.0
    assert abs(lesion.depth_px * PIXEL_MM - 7.0) <= 1.0
    assert lesion.mask.shape == image.shape and lesion.mask.dtype == bool
    assert lesion.descriptors["orientation"].value == "parallel"
    assert lesion.descriptors["shape"].value == "oval"
    assert lesion.descriptors["margin"].value == "circumscribed"
    assert lesion.descriptors["echo_pattern"].value == "hypoechoic"
    assert "width/depth" in lesion.descriptors["orientation"].basis
    assert 0.0 <= lesion.malignancy <= 1.0
    assert lesion.features["nominal_scale"] == 0.0


def test_taller_than_wide_is_not_parallel() -> None:
    lesion = top(speckle_image(2, [{"x": 25.0, "y": 18.0, "a": 3.0, "b": 5.0}]))
    assert lesion.descriptors["orientation"].value == "not_parallel"
    assert abs(lesion.width_px * PIXEL_MM - 6.0) <= 1.0
    assert abs(lesion.depth_px * PIXEL_MM - 10.0) <= 1.0


def test_round_and_irregular_shapes() -> None:
    round_lesion = top(speckle_image(3, [{"x": 25.0, "y": 18.0, "a": 4.0, "b": 4.0}]))
    assert round_lesion.descriptors["shape"].value == "round"
    lobed = top(speckle_image(4, [{"x": 25.0, "y": 18.0, "a": 6.0, "b": 5.0, "lobes": 0.35}]))
    assert lobed.descriptors["shape"].value == "irregular"
    assert lobed.descriptors["margin"].value == "not_circumscribed"


@pytest.mark.parametrize(
    ("posterior", "combined", "expected"),
    [(0.45, 0, "shadowing"), (1.8, 0, "enhancement"), (1.0, 0, "none"), (1.0, 1, "combined")],
)
def test_posterior_features(posterior: float, combined: int, expected: str) -> None:
    les = {"x": 25.0, "y": 14.0, "a": 5.0, "b": 3.0, "posterior": posterior, "combined": combined}
    lesion = top(speckle_image(5, [les]))
    assert lesion.descriptors["posterior"].value == expected, lesion.descriptors["posterior"]


def test_anechoic_cyst() -> None:
    les = {"x": 25.0, "y": 14.0, "a": 4.0, "b": 3.0, "echo": 0.05, "posterior": 1.6}
    lesion = top(speckle_image(6, [les]))
    assert lesion.descriptors["echo_pattern"].value == "anechoic"
    assert lesion.descriptors["posterior"].value == "enhancement"


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_nothing_shown_in_pure_speckle(seed: int) -> None:
    found = find_lesions(speckle_image(seed), pixel_mm=PIXEL_MM)
    assert all(lesion.score < OPERATING_THRESHOLD for lesion in found)


def test_invalid_pixels_never_detected() -> None:
    valid = np.ones(SHAPE, bool)
    valid[:, :220] = False  # the lesion lies wholly in the unusable part
    valid[300:320, 300:480] = False  # a text box
    shown = []
    for lesions in ([{"x": 15.0, "y": 18.0, "a": 5.0, "b": 3.0}], []):
        image = speckle_image(7, lesions)
        image[300:320, 300:480] = 0.0
        found = find_lesions(image, valid=valid, pixel_mm=PIXEL_MM)
        for lesion in found:
            # Detected on usable pixels: its centre is one, and its outline reaches at most the
            # redraw's 1.5 mm past the candidate (``refine`` keeps pixels under overlays inside a
            # lesion; 1.3.0 lists a 4.4 cm2 region of this speckle at 0.10 beside the unusable
            # band, 2 % of it drawn there).
            x, y = lesion.centre
            assert valid[round(y), round(x)]
            assert (lesion.mask & ~valid).sum() <= 0.05 * lesion.mask.sum()
            assert not (lesion.mask[:, :200]).any()
        shown.append([(round(les.score, 6), les.bbox) for les in found if les.score >= OPERATING_THRESHOLD])
    # The hidden lesion changes nothing that is shown. (1.2.1's network showed two false regions
    # on this speckle with or without it, scores 0.14-0.15; 1.3.0 one, at 0.57: in the model card.)
    assert shown[0] == shown[1]


def test_unknown_spacing_is_nominal() -> None:
    lesion = top(speckle_image(8, [{"x": 25.0, "y": 18.0, "a": 6.0, "b": 3.5}]), pixel_mm=None)
    assert lesion.features["nominal_scale"] == 1.0


def test_calipers_of_an_ellipse() -> None:
    yy, xx = np.indices((100, 120))
    mask = ((xx - 60) / 30.0) ** 2 + ((yy - 50) / 10.0) ** 2 <= 1.0
    width, depth, axis_line, depth_line = calipers(mask)
    assert width == 61 and depth == 21
    assert axis_line[0][1] == axis_line[1][1]  # horizontal
    assert depth_line[0][0] == depth_line[1][0]  # vertical


def test_degenerate_inputs() -> None:
    image = speckle_image(13, shape=(120, 160))
    assert find_lesions(image, valid=np.zeros(image.shape, bool), pixel_mm=PIXEL_MM) == []
    assert find_lesions(np.zeros((40, 40)), pixel_mm=PIXEL_MM) == []
    with pytest.raises(ValueError, match="2-D"):
        find_lesions(np.zeros((40, 40, 3)))


def test_cine_frames_are_sampled() -> None:
    frame = speckle_image(14, [{"x": 12.0, "y": 10.0, "a": 4.0, "b": 2.5}], shape=(200, 240))
    found = find_lesions_cine(np.stack([frame] * 30), pixel_mm=PIXEL_MM, max_frames=4)
    assert sorted(found) == [0, 10, 19, 29]
    assert all(lesions and lesions[0].score >= OPERATING_THRESHOLD for lesions in found.values())


def test_posterior_step_reads_the_gray_difference_beside() -> None:
    # A bright display level (log-compressed): +12 gray levels is a clear step, a ratio of 1.07.
    smooth = np.full((120, 120), 170.0)
    smooth[:, 30:60] = 150.0  # a darker column of tissue: the strips beside must be close by
    smooth[60:, 40:50] += 12.0
    valid = np.ones(smooth.shape, bool)
    step = posterior_step(smooth, valid, (40, 56), (40, 50))
    assert step == pytest.approx(12.0)
    assert math.isnan(posterior_step(smooth, valid, (40, 119), (40, 50)))


@pytest.mark.parametrize(
    ("step", "expected"), [(12.0, "enhancement"), (-35.0, "shadowing"), (2.0, "none"), (math.nan, "none")]
)
def test_posterior_descriptor_on_the_gray_step(step: float, expected: str) -> None:
    # The ratio alone (1.05) reads none; the gray step decides when measured.
    value = posterior_descriptor({"posterior": 1.05, "posterior_lr": 1.0, "posterior_gray": step})
    assert value.value == expected, value.basis
    assert ("gray levels" in value.basis) == math.isfinite(step)


@pytest.mark.parametrize(
    ("contrast", "heterogeneity", "anechoic_frac", "expected"),
    [
        (0.55, 0.14, 0.02, "heterogeneous"),  # a solid lesion of uneven echo
        (0.15, 0.14, 0.6, "complex"),  # fluid with a solid part
        (0.09, 0.08, 0.9, "anechoic"),
        (0.42, 0.07, 0.0, "hypoechoic"),
    ],
)
def test_echo_pattern_thresholds(
    contrast: float, heterogeneity: float, anechoic_frac: float, expected: str
) -> None:
    f = {"contrast": contrast, "heterogeneity": heterogeneity, "anechoic_frac": anechoic_frac}
    assert echo_pattern(f).value == expected


def test_margin_reads_a_slightly_rough_or_blurred_boundary() -> None:
    smooth = {"roughness": 1.0, "edge": 0.9, "solidity": 0.95}
    assert margin(smooth).value == "circumscribed"
    assert margin({**smooth, "roughness": 1.05}).value == "not_circumscribed"
    assert margin({**smooth, "edge": 0.7}).value == "not_circumscribed"


def test_a_lesion_split_by_a_caliper_line_is_one_lesion_of_its_full_width() -> None:
    image = speckle_image(21, [{"x": 25.0, "y": 18.0, "a": 7.0, "b": 4.0, "echo": 0.05}])
    valid = np.ones(SHAPE, bool)
    valid[:, 248:253] = False  # a dotted caliper line drawn down through the cyst
    image[:, 248:253] = 255.0
    shown = [les for les in find_lesions(image, valid, PIXEL_MM) if les.score >= OPERATING_THRESHOLD]
    assert len(shown) == 1
    assert abs(shown[0].width_px * PIXEL_MM - 14.0) <= 1.0
    assert shown[0].mask[180, 250]  # the pixels under the line belong to the lesion


def test_the_outline_stops_at_the_lesion_not_in_the_darker_layer_above_it() -> None:
    image = speckle_image(22, [{"x": 25.0, "y": 20.0, "a": 6.0, "b": 3.0, "echo": 0.1}])
    image[:170] *= 0.45  # a darker layer (fat) down to the lesion's top at 17 mm
    lesion = top(image)
    assert abs(lesion.depth_px * PIXEL_MM - 6.0) <= 1.0
    assert abs(lesion.width_px * PIXEL_MM - 12.0) <= 1.0


def test_dark_concavities_are_filled_and_bright_ones_are_not() -> None:
    yy, xx = np.indices((80, 80))
    disc = np.hypot(yy - 40, xx - 40) <= 30
    bite = np.hypot(yy - 40, xx - 70) <= 12
    region = disc & ~bite
    dark = np.where(region, 10.0, np.where(bite, 60.0, 200.0))
    assert fill_bites(region, dark, 10.0, 200.0)[40, 65]
    bright = np.where(region, 10.0, 200.0)
    assert not fill_bites(region, bright, 10.0, 200.0)[40, 65]


def test_context_rows_gap_to_the_best_other_candidate() -> None:
    rows = context_rows([0.9, 0.5, 0.1])
    logit = [math.log(p / (1 - p)) for p in (0.9, 0.5, 0.1)]
    assert [r["logit"] for r in rows] == pytest.approx(logit)
    assert rows[0]["gap"] == pytest.approx(logit[0] - logit[1])  # the best, against the second
    assert rows[2]["gap"] == pytest.approx(logit[2] - logit[0])  # the others, against the best
    assert context_rows([]) == []


def test_a_stronger_candidate_lowers_the_others_score() -> None:
    image = speckle_image(15, [{"x": 25.0, "y": 18.0, "a": 6.0, "b": 3.5}])
    features = [dict(f) for f in analyse(image, None, PIXEL_MM).features]
    first = candidate_scores(features)
    weak = int(np.argsort(first)[len(first) // 2])
    best = int(np.argmax(first))
    network = uses_network(features)
    alone = detection_scores(candidate_scores([features[weak]]), network)[0]
    beside_the_lesion = detection_scores(candidate_scores([features[weak], features[best]]), network)[0]
    assert beside_the_lesion < alone


def test_context_features_of_a_lesion_and_of_tissue() -> None:
    image = speckle_image(16, [{"x": 25.0, "y": 18.0, "a": 6.0, "b": 3.5}])
    analysis = analyse(image, None, PIXEL_MM)
    scores = detection_scores(candidate_scores(analysis.features), uses_network(analysis.features))
    lesion = analysis.features[int(np.argmax(scores))]
    assert lesion["row_contrast"] < 0.6 and lesion["contrast_far"] < 0.6
    assert lesion["edge_cover"] > 0.3 and lesion["inside_gray"] < lesion["ring_gray"]
    assert all(math.isfinite(lesion[name]) for name in FEATURES if name != "posterior_diff")


def _outline_mask(a: float, b: float, tilt_deg: float, lobes: int = 0, depth: float = 0.0) -> np.ndarray:
    yy, xx = np.indices((300, 300)) - 150.0
    t = np.radians(tilt_deg)
    u, v = xx * np.cos(t) + yy * np.sin(t), -xx * np.sin(t) + yy * np.cos(t)
    angle = np.arctan2(v / b, u / a)
    return np.hypot(u / a, v / b) <= 1.0 + depth * np.cos(lobes * angle)


@pytest.mark.parametrize(("a", "b", "tilt"), [(60.0, 60.0, 0.0), (90.0, 40.0, 0.0), (80.0, 30.0, 25.0)])
def test_an_ellipse_of_any_elongation_or_tilt_is_not_lobulated(a: float, b: float, tilt: float) -> None:
    value = lobulation(_outline_mask(a, b, tilt))
    assert value < IRREGULAR_LOBES / 3
    f = {"lobulation": value, "aspect": b / a}
    assert shape_descriptor(f).value == ("round" if a == b else "oval")


def test_lobes_make_the_outline_irregular_but_gentle_undulations_do_not() -> None:
    lobed = lobulation(_outline_mask(80.0, 50.0, 10.0, lobes=7, depth=0.08))
    assert lobed > IRREGULAR_LOBES
    assert shape_descriptor({"lobulation": lobed, "aspect": 0.6}).value == "irregular"
    assert "lobulation" in shape_descriptor({"lobulation": lobed, "aspect": 0.6}).basis
    # Three gentle undulations (the atlas's oval may have 2 or 3) are not counted.
    assert lobulation(_outline_mask(80.0, 50.0, 0.0, lobes=3, depth=0.08)) < IRREGULAR_LOBES
    assert lobulation(np.zeros((10, 10), bool)) == 0.0
