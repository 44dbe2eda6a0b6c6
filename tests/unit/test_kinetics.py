"""DCE-MRI kinetics: curve classes at the lexicon thresholds, lesions, vessels and heart, location,
prior tracking, and ``analyze`` end to end on a small synthetic study."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from breastgate.algorithms._dce_lesions import Lesion, _thin_part, basins, weighted_axes
from breastgate.algorithms._dce_maps import Anatomy, KineticsParameters, delayed_phase, initial_phase
from breastgate.algorithms.kinetics import (
    OPERATING_THRESHOLD,
    KineticsAlgorithm,
    analyse_study,
    is_nipple,
    locate,
    score,
)
from breastgate.algorithms.registry import Registry
from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    ChangeKind,
    DelayedPhase,
    InitialPhase,
    PriorStatus,
    StudyRef,
)
from breastgate.imaging.dce import Grid
from breastgate.pipeline.offline import analyze_folder, collect_studies
from tests.support.dce import LesionSpec, Phantom, classic_datasets, enhanced_dataset, write

PARAMS = KineticsParameters()


@pytest.mark.parametrize(
    ("pct", "phase"),
    [
        (49.9, InitialPhase.SLOW),
        (50.0, InitialPhase.MEDIUM),
        (100.0, InitialPhase.MEDIUM),
        (100.1, InitialPhase.FAST),
    ],
)
def test_initial_phase_at_the_thresholds(pct: float, phase: InitialPhase) -> None:
    assert initial_phase(pct, PARAMS) == phase


@pytest.mark.parametrize(
    ("change", "phase"),
    [
        (10.1, DelayedPhase.PERSISTENT),
        (10.0, DelayedPhase.PLATEAU),
        (-10.0, DelayedPhase.PLATEAU),
        (-10.1, DelayedPhase.WASHOUT),
    ],
)
def test_delayed_phase_at_the_thresholds(change: float, phase: DelayedPhase) -> None:
    assert delayed_phase(change, PARAMS) == phase


def test_thresholds_are_configurable() -> None:
    strict = KineticsParameters(plateau_pct=5.0, fast_pct=80.0)
    assert delayed_phase(-6.0, strict) == DelayedPhase.WASHOUT
    assert initial_phase(90.0, strict) == InitialPhase.FAST


def test_weighted_axes_of_a_partial_volume_ellipsoid() -> None:
    """Fractions of each voxel inside the ellipsoid (4³ sub-samples) weight the moments: 3 mm
    slices across a 12 mm axis still give the right diameters."""
    spacing = (3.0, 0.8, 0.8)
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    k, r, c = np.meshgrid(np.arange(8) - 3.5, np.arange(30) - 14.5, np.arange(30) - 14.5, indexing="ij")
    fraction = np.zeros(k.shape)
    for a in sub:
        for b in sub:
            for d in sub:
                z, y, x = (k + a) * 3.0, (r + b) * 0.8, (c + d) * 0.8
                fraction += ((x / 10.0) ** 2 + (y / 7.0) ** 2 + (z / 6.0) ** 2 <= 1.0) / 64.0
    index = np.argwhere(fraction > 0).astype(np.float64)
    _, diameters = weighted_axes(index, fraction[fraction > 0], spacing, 0.0)
    assert diameters == pytest.approx((20.0, 14.0, 12.0), abs=0.5)


def _blob(shape: tuple[int, int, int], centre: tuple[float, float, float], sigma: float) -> np.ndarray:
    k, r, c = np.indices(shape, dtype=np.float64)
    d2 = (k - centre[0]) ** 2 + (r - centre[1]) ** 2 + (c - centre[2]) ** 2
    return np.exp(-d2 / (2 * sigma * sigma))


def test_basins_split_a_lesion_from_the_vessel_it_touches_not_a_heterogeneous_lesion() -> None:
    """Two maxima joined low (a lesion at 150 % against a vessel at 120 % meeting at ~40 %) are two
    basins; a lesion whose two lobes dip by 10 % between them stays one."""
    shape = (9, 40, 40)
    pair = 150 * _blob(shape, (4, 20, 12), 3.0) + 120 * _blob(shape, (4, 20, 27), 2.5)
    domain = pair >= 25.0
    assert basins(pair.astype(np.float32), domain, 1.3).max() == 2
    lobed = 150 * _blob(shape, (4, 20, 17), 3.0) + 140 * _blob(shape, (4, 20, 22), 3.0)
    assert basins(lobed.astype(np.float32), lobed >= 25.0, 1.3).max() == 1


def test_a_vessel_running_through_a_lesion_leaves_the_lesion_its_own_turn() -> None:
    """Seeded on a brighter vessel (a 1 mm tube) that runs through a 12 mm lesion, the vessel's
    region keeps only the tube and spares the lesion; seeded on the lesion, nothing changes."""
    shape = (30, 60, 30)
    k, r, c = np.indices(shape)
    ball = (k - 15) ** 2 + (r - 30) ** 2 + (c - 15) ** 2 <= 36
    tube = (k - 15) ** 2 + (c - 15) ** 2 <= 1
    region = ball | tube
    spacing = (1.0, 1.0, 1.0)
    thin, spared = _thin_part(region, (15, 5, 15), spacing, PARAMS)
    assert spared[ball].mean() > 0.9 and not (thin & ball).any()
    assert thin[15, 5, 15] and not thin[15, 55, 15]  # the tube beyond the lesion is cut off
    same, none = _thin_part(region, (15, 30, 15), spacing, PARAMS)
    assert (same == region).all() and not none.any()


def test_score_ranks_a_round_lesion_above_a_vessel_segment_a_focus_and_parenchyma() -> None:
    """The lesion model (module docstring of kinetics) puts a round, focal, fast lesion deep in the
    breast above the operating threshold, a vessel segment and a slowly enhancing island of
    parenchyma below it, and a focus below the lesion; the nipple is not a lesion."""
    lesion = Lesion(
        box=(slice(0, 1), slice(0, 1), slice(0, 1)),
        mask=np.ones((1, 1, 1), bool),
        centre_index=(0.0, 0.0, 0.0),
        diameters_mm=(12.0, 10.0, 9.0),
        volume_mm3=560.0,
        initial=InitialPhase.FAST,
        delayed=DelayedPhase.WASHOUT,
        mean_delayed=DelayedPhase.WASHOUT,
        early_pct=140.0,
        peak_pct=150.0,
        change_pct=-20.0,
        curve_pct=(0.0, 140.0, 120.0),
        shares={},
        focal_ratio=6.0,
        fill=0.9,
        heterogeneity=0.1,
        free_elongation=1.2,
        surround_pct=15.0,
        core_pct=140.0,
        surround_early_pct=10.0,
        inscribed_mm=4.0,
        elongation=1.2,
        flatness=1.1,
        skin_mm=15.0,
        blobness=0.7,
    )
    vessel = replace(
        lesion,
        diameters_mm=(20.0, 4.0, 2.0),
        volume_mm3=90.0,
        free_elongation=4.0,
        flatness=8.0,
        blobness=0.1,
        inscribed_mm=1.5,
    )
    focus = replace(lesion, diameters_mm=(4.5, 4.0, 2.0), volume_mm3=20.0, inscribed_mm=1.2)
    island = replace(
        lesion,
        early_pct=30.0,
        peak_pct=60.0,
        change_pct=25.0,
        focal_ratio=1.9,
        surround_pct=45.0,
        surround_early_pct=35.0,
        fill=0.6,
        blobness=0.4,
    )
    assert score(lesion) >= OPERATING_THRESHOLD
    for other in (vessel, island):
        assert score(other) < OPERATING_THRESHOLD <= score(lesion)
    # A bright focus < 5 mm looks like the smallest lesions: ranked below, not set aside.
    assert score(focus) < score(lesion)
    assert is_nipple(replace(lesion, skin_mm=2.0), 5.0)
    assert not is_nipple(lesion, 5.0) and not is_nipple(replace(lesion, skin_mm=2.0), 60.0)


def _study(tmp_path: Path, phantom: Phantom, form: str = "series-per-phase", **extra: object) -> StudyRef:
    datasets = [enhanced_dataset(phantom)] if form == "enhanced" else classic_datasets(phantom, form)
    write(datasets, tmp_path)
    studies, _ = collect_studies(tmp_path)
    return replace(studies[0], **extra)  # type: ignore[arg-type]


def _run(study: StudyRef) -> AlgorithmResult:
    algorithm = KineticsAlgorithm()
    return algorithm.run(algorithm.select(study))


LESION = LesionSpec((50.0, -15.0, 0.0), (12.0, 10.0, 9.0), "III")


@pytest.mark.parametrize(
    ("curve", "initial", "delayed"),
    [
        ("I", InitialPhase.MEDIUM, DelayedPhase.PERSISTENT),
        ("II", InitialPhase.FAST, DelayedPhase.PLATEAU),
        ("III", InitialPhase.FAST, DelayedPhase.WASHOUT),
    ],
)
def test_one_lesion_of_each_curve_type(
    tmp_path: Path, curve: str, initial: InitialPhase, delayed: DelayedPhase
) -> None:
    result = _run(_study(tmp_path, Phantom(lesions=[replace(LESION, curve=curve)])))
    assert result.status == AlgorithmStatus.OK, result.message
    (finding,) = result.findings
    assert finding.kinetics is not None
    assert (finding.kinetics.initial_phase, finding.kinetics.delayed_phase) == (initial, delayed)
    assert finding.diameters_mm == pytest.approx((12.0, 10.0, 9.0), abs=2.0)
    assert finding.volume_mm3 == pytest.approx(4 / 3 * np.pi * 6 * 5 * 4.5, rel=0.3)
    assert finding.location is not None and finding.location.patient_mm == pytest.approx(
        (50, -15, 0), abs=1.5
    )


def test_vessel_and_heart_are_not_lesions(tmp_path: Path) -> None:
    study = _study(tmp_path, Phantom(vessels=[(-40.0, -20.0), (45.0, -10.0)], heart=True))
    analysis = analyse_study(study, PARAMS)
    assert analysis.lesions == []
    assert analysis.rejected.vessel == 2
    # The heart (centre x 10, y 75, z 0) enhances most of all, and lies behind the chest wall.
    grid = analysis.series.grid
    heart = (
        round((0.0 - grid.origin[2]) / 3.0),
        round((75.0 - grid.origin[1]) / 2.0),
        round((10 - grid.origin[0]) / 2),
    )
    assert analysis.maps.sustained_pct[heart] > 150.0 and not analysis.maps.breast[heart]
    result = _run(study)
    assert result.findings == () and "2 vessel" in result.message


def test_location_clock_faces_the_patient() -> None:
    anatomy = Anatomy(0.0, (15.0, 0.0, 0.0), {"L": (55.0, -35.0, 0.0), "R": (-55.0, -35.0, 0.0)})
    side, lateral_left = locate((75.0, -20.0, -5.0), anatomy)  # lateral in the left breast
    assert side == "L" and lateral_left.clock == 3 and lateral_left.quadrant == "LOQ"
    side, lateral_right = locate((-75.0, -20.0, 0.0), anatomy)  # lateral in the right breast
    assert side == "R" and lateral_right.clock == 9
    _, upper_inner_left = locate((45.0, -20.0, 15.0), anatomy)
    assert upper_inner_left.clock == 11 and upper_inner_left.quadrant == "UIQ"
    _, upper_outer_right = locate((-65.0, -30.0, 15.0), anatomy)
    assert upper_outer_right.clock == 11 and upper_outer_right.quadrant == "UOQ"
    assert upper_outer_right.depth == "anterior"
    _, deep = locate((55.0, 5.0, 0.0), anatomy)
    assert deep.depth == "posterior" and deep.distance_from_nipple_mm == pytest.approx(40.0)


@pytest.mark.slow
def test_tracking_against_a_shifted_prior(tmp_path: Path) -> None:
    prior_phantom = Phantom(
        lesions=[replace(LESION, diameters_mm=(8.0, 7.0, 7.0))], shift_mm=(6.0, -4.0, 3.0), seed=7
    )
    prior = _study(tmp_path / "prior", prior_phantom, study_date="20250101")
    new = LesionSpec((-60.0, -5.0, 6.0), (9.0, 9.0, 9.0), "I")
    current = _study(
        tmp_path / "current",
        Phantom(lesions=[LESION, new]),
        priors=(prior,),
        prior_status=PriorStatus.HELD,
    )
    result = _run(current)
    assert result.priors is not None and result.priors.study_instance_uids == (prior.study_instance_uid,)
    by_side = {f.laterality: f for f in result.findings}
    grown, fresh = by_side["L"].comparison, by_side["R"].comparison
    assert grown is not None and grown.change == ChangeKind.INCREASED and grown.prior_study_date == "20250101"
    assert grown.size_change_mm == pytest.approx(4.0, abs=2.0)
    assert by_side["L"].attributes["prior_curve_type"] == "III"
    assert fresh is not None and fresh.change == ChangeKind.NEW
    assert "translation (-6" in result.priors.message or "translation (-5" in result.priors.message


def test_without_priors_the_result_says_why(tmp_path: Path) -> None:
    study = _study(tmp_path, Phantom(lesions=[LESION]), prior_status=PriorStatus.NOT_IN_TIME)
    result = _run(study)
    assert result.priors is not None and result.priors.message == "prior not fetched in time"


def test_volumes_are_on_the_early_phase_grid(tmp_path: Path) -> None:
    phantom = Phantom(lesions=[LESION])
    result = _run(_study(tmp_path, phantom, form="enhanced"))
    volumes = {v.name: v for v in result.volumes}
    labels = np.frombuffer(volumes["lesion_labels"].data, np.uint8).reshape(volumes["lesion_labels"].shape)
    classes = np.frombuffer(volumes["kinetic_class"].data, np.uint8).reshape(labels.shape)
    assert labels.shape == phantom.shape and set(np.unique(labels)) == {0, 1}
    assert np.all(classes[labels == 1] > 0) and np.mean(classes[labels == 1] == 3) > 0.5
    assert len(volumes["percent_enhancement"].data) == 4 * labels.size
    assert len(volumes["lesion_labels"].source_frames) == phantom.shape[0]
    (mark,) = result.findings[0].marks
    k = volumes["lesion_labels"].source_frames.index(mark.frame)  # type: ignore[arg-type]
    assert volumes["lesion_labels"].source_sop_instance_uids[k] == mark.sop_instance_uid
    assert labels[k, int(mark.point[1]), int(mark.point[0])] == 1


def test_analyze_reports_the_lesion_offline(tmp_path: Path) -> None:
    write(classic_datasets(Phantom(lesions=[replace(LESION, curve="II")]), "multiphase"), tmp_path / "in")
    report = analyze_folder(tmp_path / "in", tmp_path / "out", Registry([KineticsAlgorithm()]))
    assert report.failed == 0, report.lines
    document = json.loads(next((tmp_path / "out").rglob("results.json")).read_text())
    (finding,) = document["findings"]
    assert finding["kind"] == "enhancing_lesion" and finding["laterality"] == "L"
    assert finding["kinetics"]["curve_type"] == "II"
    assert finding["size_mm"] == pytest.approx(12.0, abs=2.0)


@pytest.mark.parametrize(
    ("curve", "form"),
    [
        ("III", "enhanced"),
        ("III", "series-per-phase"),
        ("II", "series-per-phase"),
    ],
)
def test_analyze_on_the_dce_phantom_finds_the_truth_lesion(tmp_path: Path, curve: str, form: str) -> None:
    """The phantom package's DCE study (Tofts/Parker/SPGR physics, motion, BPE, vessels, heart):
    one 16 mm lesion; ``analyze`` reports it with the truth's curve type and size."""
    from breastgate.phantoms.mri import DceLesionRequest, generate_dce_study

    request = DceLesionRequest(curve_type=curve, diameter_mm=16.0, heterogeneous=False)
    study = generate_dce_study(11, size=(128, 128, 40), form=form, lesions=[request])
    with study:
        write(study.datasets, tmp_path / "in")
    report = analyze_folder(tmp_path / "in", tmp_path / "out", Registry([KineticsAlgorithm()]))
    assert report.failed == 0, report.lines
    document = json.loads(next((tmp_path / "out").rglob("results.json")).read_text())
    (truth,) = study.truth["lesions"]
    near = [
        f
        for f in document["findings"]
        if np.linalg.norm(np.subtract(f["location"]["patient_mm"], truth["patient_mm"])) < 12.0
    ]
    assert len(near) == 1, document["findings"]
    assert near[0]["laterality"] == truth["laterality"]
    assert near[0]["kinetics"]["curve_type"] == truth["curve_type"]
    assert near[0]["size_mm"] == pytest.approx(truth["diameters_mm"][0], abs=4.0)


def test_separable_shift_matches_scipy_inside_the_volume() -> None:
    from scipy import ndimage as ndi

    from breastgate.algorithms._dce_maps import shift_linear

    volume = (np.random.default_rng(0).random((10, 20, 30)) * 1000).astype(np.int16)
    moved = shift_linear(volume, (0.3, -1.6, 2.25))
    reference = np.rint(ndi.shift(volume.astype(np.float32), (0.3, -1.6, 2.25), order=1, mode="nearest"))
    inside = (slice(2, -3), slice(3, -3), slice(3, -3))
    assert moved.dtype == np.int16
    assert np.abs(moved[inside] - reference[inside]).max() <= 1


def _thorax(lungs: bool) -> tuple[np.ndarray, np.ndarray, Grid]:  # pre, posterior breast, grid
    """A pre-contrast volume (slices, rows = +y posterior, columns = +x left), 2 mm voxels: a
    thorax whose anterior surface is a circle, two broad breasts standing on it that meet in the
    middle (no cleft in the outline) and, when asked, two dark lungs 20 mm inside the surface."""
    grid = Grid(
        (-160.0, -120.0, 0.0),
        (1.0, 0.0, 0.0),
        (0.0, 1.0, 0.0),
        (0.0, 0.0, 1.0),
        (2.0, 2.0, 2.0),
        (12, 140, 160),
    )
    y = grid.origin[1] + np.arange(grid.shape[1])[:, None] * 2.0
    x = grid.origin[0] + np.arange(grid.shape[2])[None, :] * 2.0
    surface = 300.0 - np.sqrt(np.maximum(300.0**2 - x**2, 0.0))  # y of the chest front: 0 at x = 0
    thorax = (y >= surface) & (np.abs(x) < 150)
    breasts = (y < surface) & (((np.abs(x) - 75.0) / 80.0) ** 2 + ((y - surface) / 95.0) ** 2 <= 1.0)
    plane = np.where(thorax | breasts, 300.0, 5.0)
    if lungs:
        lung = (y > surface + 20.0) & (np.abs(x) > 20.0) & (np.abs(x) < 135.0)
        plane[lung] = 15.0
    pre = np.repeat(plane[None], grid.shape[0], axis=0).astype(np.float32)
    # The posterior part of the breasts (within 30 mm of the chest, 4 mm clear of the skin line) in
    # front of the lungs.
    return pre, breasts & (y > surface - 30.0) & (y < surface - 4.0) & (np.abs(x) < 125), grid


def test_the_lungs_place_the_chest_wall_where_the_breasts_hide_it() -> None:
    from breastgate.algorithms._dce_maps import body_mask, breast_mask, dark_mask, find_anatomy

    params = KineticsParameters()
    pre, breasts, grid = _thorax(lungs=True)
    body, _, level = body_mask(pre)
    deep = breasts
    surface_only = find_anatomy(body, grid, params)
    assert breast_mask(body, grid, surface_only, params)[6][deep].mean() < 0.5  # the cut-off this fixes
    anatomy = find_anatomy(body, grid, params, dark=dark_mask(pre, body, level))
    assert anatomy.lung_wall
    mask = breast_mask(body, grid, anatomy, params)[6]
    assert mask[deep].mean() > 0.9
    # The line lies lung_wall_mm in front of the lungs (20 mm inside the surface) at x = ±60.
    for x in (-60.0, 60.0):
        front = 300.0 - math.sqrt(300.0**2 - x**2)
        assert float(anatomy.chest_wall_y(x)) == pytest.approx(front + 20.0 - params.lung_wall_mm, abs=3.0)
    # Not along the lungs' lateral sides: no lung line beyond the lungs' forward-facing front.
    assert float(anatomy.chest_wall_y(148.0)) < 120.0


def test_without_lungs_the_surface_line_stands() -> None:
    from breastgate.algorithms._dce_maps import body_mask, dark_mask, find_anatomy

    pre, _, grid = _thorax(lungs=False)
    body, _, level = body_mask(pre)
    anatomy = find_anatomy(body, grid, KineticsParameters(), dark=dark_mask(pre, body, level))
    assert anatomy.lung_wall == ()


def test_lower_hull_is_the_anterior_convex_chain() -> None:
    from breastgate.algorithms._dce_maps import lower_hull

    points = np.array([[0, 10], [1, 4], [2, 8], [3, 3], [4, 9], [5, 12]], np.float32)
    assert lower_hull(points).tolist() == [[0, 10], [1, 4], [3, 3], [5, 12]]


def test_the_nipple_is_where_the_nipple_areola_complex_enhances() -> None:
    """A broad flat-fronted breast: its most anterior points span 60 mm, so the geometric nipple
    (their mean) lies 15 mm from the enhancing nipple; the refined one lies on it."""
    from breastgate.algorithms._dce_maps import refine_nipples

    grid = Grid(
        (-100.0, -100.0, -40.0),
        (1.0, 0.0, 0.0),
        (0.0, 1.0, 0.0),
        (0.0, 0.0, 1.0),
        (2.0, 1.0, 1.0),
        (40, 120, 200),
    )
    z = grid.origin[2] + np.arange(grid.shape[0])[:, None, None] * 2.0
    y = grid.origin[1] + np.arange(grid.shape[1])[None, :, None] * 1.0
    x = grid.origin[0] + np.arange(grid.shape[2])[None, None, :] * 1.0
    body = (y >= -80.0) & (np.abs(x - 50.0) <= 45.0) & (np.abs(z) <= 30.0)  # the left breast, flat front
    early = np.where(body, 10.0, 0.0).astype(np.float32)
    true_nipple = (65.0, -80.0, 5.0)
    complex_ = body & (np.hypot(x - true_nipple[0], z - true_nipple[2]) <= 5.0) & (y <= -77.0)
    early[complex_] = 120.0
    geometric = Anatomy(0.0, (0.0, 0.0, 0.0), {"L": (50.0, -80.0, 0.0)})
    refined = refine_nipples(geometric, body, early, grid)
    assert math.dist(refined.nipples["L"], true_nipple) <= 3.0
    # Without an enhancing complex the geometric nipple stands.
    assert refine_nipples(geometric, body, np.where(body, 10.0, 0.0).astype(np.float32), grid) == geometric
