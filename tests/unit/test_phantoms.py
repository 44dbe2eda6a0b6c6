"""Synthetic FFDM phantoms: determinism, views, ground truth, texture spectrum, files on disk."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from breastgate.phantoms import (
    DENSITY_BANDS,
    VENDOR_PROFILES,
    PhantomError,
    PhantomStudy,
    generate_mg_study,
    write_phantoms,
)
from breastgate.phantoms.anatomy import SCALE, power_law_noise, render_view, upsample
from breastgate.phantoms.plan import plan_study

SMALL = "profile-b-100um"  # the smaller matrix keeps the tests fast


def _digest(study: PhantomStudy) -> list[str]:
    return [hashlib.sha256(ds.PixelData).hexdigest() for ds in study.datasets]


def _uids(study: PhantomStudy) -> list[str]:
    return [study.study_instance_uid] + [str(ds.SOPInstanceUID) for ds in study.datasets]


@pytest.fixture(scope="module")
def study() -> PhantomStudy:
    return generate_mg_study(7, category="c", vendor=SMALL)


def _radial_slope(field: np.ndarray) -> float:
    """Least-squares slope of log power against log radial frequency over mid frequencies."""
    power = np.abs(np.fft.fft2(field - field.mean())) ** 2
    fy = np.fft.fftfreq(field.shape[0])[:, None]
    fx = np.fft.fftfreq(field.shape[1])[None, :]
    freq = np.hypot(fy, fx)
    bins = np.logspace(np.log10(0.01), np.log10(0.25), 20)
    centres, means = [], []
    for lo, hi in itertools.pairwise(bins):
        sel = (freq >= lo) & (freq < hi)
        centres.append(np.sqrt(lo * hi))
        means.append(power[sel].mean())
    slope, _ = np.polyfit(np.log(centres), np.log(means), 1)
    return float(-slope)


def test_same_seed_same_pixels_and_uids(study: PhantomStudy) -> None:
    again = generate_mg_study(7, category="c", vendor=SMALL)
    assert _digest(again) == _digest(study)
    assert _uids(again) == _uids(study)
    assert again.truth == study.truth


def test_different_seed_differs(study: PhantomStudy) -> None:
    other = generate_mg_study(8, category="c", vendor=SMALL)
    assert not set(_digest(other)) & set(_digest(study))
    assert not set(_uids(other)) & set(_uids(study))


def test_four_views_with_laterality_view_and_orientation(study: PhantomStudy) -> None:
    got = [
        (
            ds.ImageLaterality,
            ds.ViewPosition,
            ds.ViewCodeSequence[0].CodeValue,
            list(ds.PatientOrientation),
        )
        for ds in study.datasets
    ]
    assert got == [
        ("R", "CC", "399162004", ["P", "L"]),
        ("L", "CC", "399162004", ["A", "R"]),
        ("R", "MLO", "399368009", ["P", "F"]),
        ("L", "MLO", "399368009", ["A", "F"]),
    ]
    for ds in study.datasets:
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.2"
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.StudyInstanceUID == study.study_instance_uid
        pixels = ds.pixel_array
        mid = pixels[pixels.shape[0] // 2]
        # Chest wall on the image's left for left breasts, on the right for right breasts.
        wall, far = (mid[:50], mid[-50:]) if ds.ImageLaterality == "L" else (mid[-50:], mid[:50])
        assert wall.min() > 0
        assert far.max() == 0
        assert pixels.max() <= 2**ds.BitsStored - 1
    # Pectoral muscle: the upper posterior corner is bright on MLO, empty or darker on CC.
    for ds in study.datasets:
        pixels = ds.pixel_array.astype(float)
        corner = pixels[20:120, :60] if ds.ImageLaterality == "L" else pixels[20:120, -60:]
        centre = pixels[pixels.shape[0] // 2, :]
        tissue_mean = centre[centre > 0].mean()
        if ds.ViewPosition == "MLO":
            assert corner.mean() > tissue_mean
        else:
            assert corner.mean() < tissue_mean


@pytest.mark.parametrize("category", sorted(DENSITY_BANDS))
def test_truth_in_band_and_equal_to_dense_mask(category: str) -> None:
    seed = 100 + ord(category)
    plan = plan_study(seed, category, SMALL)
    truth = generate_mg_study(seed, category=category, vendor=SMALL).truth
    lo, hi = DENSITY_BANDS[category]
    density = truth["density"]
    assert density["category"] == category
    assert lo <= density["percent_dense"] <= hi
    for lat in ("L", "R"):
        assert lo <= density["per_breast"][lat]["percent_dense"] <= hi
    # Render two views again and measure the mask they were thresholded with.
    for index in (1, 2):
        spec, entry = plan.views[index], density["per_image"][index]
        view = render_view(spec, plan.profile)
        measured = 100.0 * view.dense_mask.sum() / (view.breast_mask & ~view.pectoral_mask).sum()
        assert entry["percent_dense"] == pytest.approx(measured, abs=1e-3)
        assert entry["percent_dense"] == pytest.approx(100 * spec.target_fraction, abs=0.05)
        assert lo <= entry["percent_dense"] <= hi
        assert not (view.dense_mask & ~view.breast_mask).any()
        assert not (view.dense_mask & view.pectoral_mask).any()
        # Dense tissue is brighter than fat on the detector grid.
        grid = view.pixels[::SCALE, ::SCALE].astype(float)
        h, w = view.dense_mask.shape
        grid = grid[:h, :w]
        fat = view.breast_mask & ~view.pectoral_mask & ~view.dense_mask
        mask = view.dense_mask[: grid.shape[0], : grid.shape[1]]
        assert grid[mask].mean() > grid[fat[: grid.shape[0], : grid.shape[1]]].mean()
    # Study value = mean of the breasts; breast value = mean of its CC and MLO.
    per_image = density["per_image"]
    left = np.mean([i["percent_dense"] for i in per_image if i["laterality"] == "L"])
    assert density["per_breast"]["L"]["percent_dense"] == pytest.approx(left, abs=1e-3)
    both = (density["per_breast"]["L"]["percent_dense"] + density["per_breast"]["R"]["percent_dense"]) / 2
    assert density["percent_dense"] == pytest.approx(both, abs=1e-3)


def test_power_law_texture_slope() -> None:
    rng = np.random.default_rng(3)
    slope = _radial_slope(power_law_noise((512, 512), 3.0, rng))
    assert 2.5 <= slope <= 3.5
    flat = _radial_slope(power_law_noise((512, 512), 0.0, np.random.default_rng(3)))
    assert flat < 0.5  # the estimator can tell white noise from anatomy


def test_rendered_texture_slope() -> None:
    plan = plan_study(11, "b", SMALL)
    view = render_view(plan.views[0], plan.profile)
    assert 2.5 <= _radial_slope(view.texture) <= 3.5


def _working_size(n: int) -> int:
    """Working-grid size for ``n`` detector pixels, as the renderers compute it."""
    return -(-(n - 1) // SCALE) + 1


@pytest.mark.parametrize(("rows", "cols"), [(9, 10), (10, 9), (13, 13), (12, 11), (2, 2), (5, 8)])
def test_upsample_returns_requested_shape(rows: int, cols: int) -> None:
    # 5, 9, 13: (n - 1) a multiple of SCALE, so the last working pixel is the last detector pixel.
    h, w = _working_size(rows), _working_size(cols)
    work = np.arange(h * w, dtype=np.float32).reshape(h, w) ** 1.5
    full = upsample(work, rows, cols)
    assert full.shape == (rows, cols)
    # Working pixel i lands on detector pixel SCALE·i, up to the last row and column.
    grid = full[::SCALE, ::SCALE]
    assert grid.shape == ((rows - 1) // SCALE + 1, (cols - 1) // SCALE + 1)
    np.testing.assert_array_equal(grid, work[: grid.shape[0], : grid.shape[1]])
    # Bilinear in between: a quarter of the way from the first working pixel to the next.
    if rows > 1 and cols > 1:
        np.testing.assert_allclose(full[1, 0], 0.75 * work[0, 0] + 0.25 * work[1, 0], rtol=1e-6)
        np.testing.assert_allclose(full[0, 1], 0.75 * work[0, 0] + 0.25 * work[0, 1], rtol=1e-6)


def test_upsample_rejects_sizes_beyond_the_working_grid() -> None:
    work = np.zeros((3, 3), np.float32)
    with pytest.raises(ValueError, match="upsample"):
        upsample(work, 2 * SCALE + 2, 2 * SCALE)


def test_render_view_on_a_matrix_ending_on_a_working_pixel() -> None:
    plan = plan_study(11, "b", SMALL)
    # 0.5 mm pixels over the SMALL field of view; (rows - 1) and (columns - 1) multiples of SCALE.
    profile = replace(plan.profile, rows=613, columns=477, pixel_spacing_mm=0.5)
    view = render_view(plan.views[0], profile)
    assert view.pixels.shape == (613, 477)
    assert view.breast_mask.shape == (_working_size(613), _working_size(477))


def test_vendor_profiles_differ() -> None:
    assert len(VENDOR_PROFILES) >= 2
    a, b = VENDOR_PROFILES["profile-a-70um"], VENDOR_PROFILES["profile-b-100um"]
    assert (a.rows, a.columns) != (b.rows, b.columns)
    assert a.pixel_spacing_mm != b.pixel_spacing_mm
    assert {a.bits_stored, b.bits_stored} == {12, 14}
    assert "phantom" in a.manufacturer and "phantom" in b.manufacturer
    ds = generate_mg_study(5, category="a", vendor="profile-a-70um").datasets[0]
    assert (ds.Rows, ds.Columns) == (a.rows, a.columns)
    assert [float(v) for v in ds.ImagerPixelSpacing] == [0.07, 0.07]
    assert ds.BitsStored == 12


def test_write_phantoms_layout(tmp_path: Path) -> None:
    folders = write_phantoms(tmp_path, 2, seed=40)
    assert len(folders) == 2
    truths = []
    for folder in folders:
        names = sorted(p.name for p in folder.iterdir())
        assert names == ["L_CC.dcm", "L_MLO.dcm", "R_CC.dcm", "R_MLO.dcm", "truth.json"]
        truth = json.loads((folder / "truth.json").read_text())
        assert truth["schema"] == "breastgate.phantom-truth/1"
        assert truth["study_instance_uid"] == folder.name
        assert truth["lesions"] == []
        truths.append(truth)
    assert [t["seed"] for t in truths] == [40, 41]
    assert [t["density"]["category"] for t in truths] == ["a", "b"]
    assert truths[0]["vendor"] != truths[1]["vendor"]
    import pydicom

    ds = pydicom.dcmread(folders[0] / "L_MLO.dcm")
    assert ds.ImageLaterality == "L" and ds.ViewPosition == "MLO"
    uids = {i["sop_instance_uid"] for i in truths[0]["density"]["per_image"]}
    assert ds.SOPInstanceUID in uids


def test_bad_kind_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind 'mr' is not available yet"):
        write_phantoms(tmp_path, 1, seed=1, kind="mr")
    assert not list(tmp_path.iterdir())


def test_bad_category_raises() -> None:
    with pytest.raises(ValueError, match="category"):
        generate_mg_study(1, category="e")


def test_film_realism_softens_only_the_tissue_edges() -> None:
    """realism="film" keeps every draw of the legacy plan and its truth; only the fat-to-dense
    transition widens (calibrated against real films, bench/phantom_vs_real.py), so the pixels differ
    and the edges of the dense tissue are less steep."""
    from breastgate.phantoms.anatomy import ViewLevels, ViewSpec, view_levels
    from breastgate.phantoms.plan import FILM_EDGE_SOFTNESS

    legacy, film = plan_study(21, "c", SMALL), plan_study(21, "c", SMALL, realism="film")
    assert [replace(s, edge_softness=0.2) for s in film.views] == list(legacy.views)
    assert {s.edge_softness for s in film.views} == {FILM_EDGE_SOFTNESS}
    spec_l, spec_f = legacy.views[3], film.views[3]
    lv_l, lv_f = view_levels(spec_l, legacy.profile), view_levels(spec_f, film.profile)
    assert np.array_equal(lv_l.dense, lv_f.dense)  # same dense mask: same truth
    tissue = lv_l.breast & ~lv_l.pectoral
    # More tissue lies between fat and the dense plateau (0.6 of the contrast) with the softer edge.

    def between(lv: ViewLevels, spec: ViewSpec) -> float:
        gland = lv.gland[tissue] / spec.dense_contrast
        return float(np.mean((gland > 0.1) & (gland < 0.5)))

    assert between(lv_f, spec_f) > 1.3 * between(lv_l, spec_l)  # measured 0.32 vs 0.20
    with pytest.raises(PhantomError, match="realism"):
        plan_study(21, "c", SMALL, realism="photo")
