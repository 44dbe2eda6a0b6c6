"""Unit tests of the reference-calibrated dense-tissue segmenter (``density`` method ``ref``)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from breastgate.algorithms import _density_ref as ref

PX_MM = 0.6
FAT = 1000.0
GLAND_CONTRAST = 450.0
FALLOFF = 700.0  # signal lost at the skin line by the thinner breast
FALLOFF_MM = 7.0  # decay length of the thickness fall-off


def _disc(rows: int = 320, radius: int = 150) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
    """Half disc with the chest wall on the left, and each pixel's distance (mm) to the skin."""
    y, x = np.indices((rows, radius + 20), dtype=np.float64)
    r = np.hypot(y - rows / 2, x)
    breast = r < radius
    distance = ((radius - r) * PX_MM).clip(0).astype(np.float32)
    return breast, distance


def _image(
    distance: npt.NDArray[np.float32], dense: npt.NDArray[np.bool_], seed: int = 0
) -> npt.NDArray[np.float32]:
    """Fat with a thickness fall-off towards the skin, dense tissue added on top, Gaussian noise."""
    thickness = 1.0 - np.exp(-distance / FALLOFF_MM)
    rng = np.random.default_rng(seed)
    image = FAT - FALLOFF * (1.0 - thickness) + GLAND_CONTRAST * dense * thickness
    noisy: npt.NDArray[np.float32] = (image + rng.normal(0.0, 15.0, distance.shape)).astype(np.float32)
    return noisy


def _blob(shape: tuple[int, int], centre: tuple[int, int], radius: float) -> npt.NDArray[np.bool_]:
    y, x = np.indices(shape)
    blob: npt.NDArray[np.bool_] = np.hypot(y - centre[0], x - centre[1]) < radius
    return blob


def _pd(result: ref.DenseSegmentation, tissue: npt.NDArray[np.bool_]) -> float:
    return 100.0 * float(np.count_nonzero(result.dense)) / float(np.count_nonzero(tissue))


def test_fatty_disc_with_falloff_is_almost_not_dense() -> None:
    breast, distance = _disc()
    image = _image(distance, np.zeros_like(breast))
    result = ref.segment_dense(image, breast, breast, PX_MM)
    assert _pd(result, breast) < 3.0
    assert not np.any(result.dense & ~breast)


def test_falloff_correction_flattens_fat() -> None:
    breast, distance = _disc()
    image = _image(distance, np.zeros_like(breast))
    corrected, knee = ref.correct_falloff(image, breast, distance)
    near = breast & (distance > 1.0) & (distance < 4.0)
    deep = breast & (distance > 30.0)
    # Uncorrected, the rim is ~ 400 darker; corrected, fat reads the same within the noise.
    assert float(np.median(image[deep]) - np.median(image[near])) > 300.0
    assert abs(float(np.median(corrected[deep]) - np.median(corrected[near]))) < 40.0
    assert ref.SATURATION_MM[0] <= knee <= ref.SATURATION_MM[1]


@pytest.mark.parametrize("radius", [30.0, 55.0])
def test_known_dense_blob_area_is_recovered(radius: float) -> None:
    breast, distance = _disc()
    blob = _blob(breast.shape, (160, 60), radius) & breast
    image = _image(distance, blob)
    result = ref.segment_dense(image, breast, breast, PX_MM)
    truth = 100.0 * float(blob.sum()) / float(breast.sum())
    assert abs(_pd(result, breast) - truth) < 4.0
    # The dense pixels are the blob's, not noise scattered over the fat.
    assert float(np.count_nonzero(result.dense & blob)) > 0.9 * float(np.count_nonzero(result.dense))


def test_blob_reaching_into_the_falloff_zone_is_counted() -> None:
    breast, distance = _disc()
    blob = _blob(breast.shape, (160, 110), 40.0) & breast  # reaches to ~ 0 mm from the skin
    image = _image(distance, blob)
    result = ref.segment_dense(image, breast, breast, PX_MM)
    truth = 100.0 * float(blob.sum()) / float(breast.sum())
    assert abs(_pd(result, breast) - truth) < 5.0


def test_all_dense_disc_reads_dense() -> None:
    breast, distance = _disc()
    interior = breast & (distance > 12.0)  # only the subcutaneous fat layer is fatty
    image = _image(distance, interior)
    result = ref.segment_dense(image, breast, breast, PX_MM)
    truth = 100.0 * float(interior.sum()) / float(breast.sum())
    assert truth > 70.0
    assert _pd(result, breast) > 65.0
    assert "indistinct" not in result.gland_source


def test_pectoral_muscle_is_the_glandular_reference() -> None:
    breast, distance = _disc()
    y, x = np.indices(breast.shape)
    muscle = breast & (x < 60 - 0.5 * y)  # triangle at the top of the chest wall
    tissue = breast & ~muscle
    blob = _blob(breast.shape, (200, 60), 40.0) & tissue
    image = _image(distance, blob | muscle)
    result = ref.segment_dense(image, breast, tissue, PX_MM)
    assert result.gland_source == "muscle"
    assert not np.any(result.dense & muscle)
    truth = 100.0 * float(blob.sum()) / float(tissue.sum())
    assert abs(_pd(result, tissue) - truth) < 4.0


def test_breast_reading_like_its_muscle_is_dense() -> None:
    # No subcutaneous fat at all: every pixel, band included, attenuates like the pectoral muscle.
    breast, distance = _disc()
    y, x = np.indices(breast.shape)
    muscle = breast & (x < 60 - 0.5 * y)
    tissue = breast & ~muscle
    image = _image(distance, breast)
    result = ref.segment_dense(image, breast, tissue, PX_MM)
    assert result.gland_source == "muscle-uniform"
    assert _pd(result, tissue) > 80.0


def test_cc_of_a_breast_whose_mlo_reads_like_muscle_is_dense() -> None:
    # MLO of a breast with no visible fat: uniformly dense, and it offers that verdict to its CC.
    breast, distance = _disc()
    y, x = np.indices(breast.shape)
    muscle = breast & (x < 60 - 0.5 * y)
    mlo = ref.segment_dense(_image(distance, breast), breast, breast & ~muscle, PX_MM)
    offered = mlo.breast_reference
    assert offered is not None and offered.uniform_dense
    # The CC of that breast alone cannot tell uniform dense tissue from uniform fat ...
    cc_image = _image(distance, breast, seed=1)
    alone = ref.segment_dense(cc_image, breast, breast, PX_MM)
    assert _pd(alone, breast) < 10.0
    # ... with its MLO's reference it reads dense.
    shared = ref.segment_dense(cc_image, breast, breast, PX_MM, reference=offered)
    assert shared.gland_source == "shared-uniform"
    assert _pd(shared, breast) > 80.0


def test_shared_contrast_sets_the_cut_on_a_view_without_muscle() -> None:
    breast, distance = _disc()
    blob = _blob(breast.shape, (160, 60), 40.0) & breast
    image = _image(distance, blob)
    alone = ref.segment_dense(image, breast, breast, PX_MM)
    assert alone.breast_reference is None  # no muscle on this view: nothing to offer
    offered = ref.BreastReference(contrast=(GLAND_CONTRAST / 15.0), uniform_dense=False)
    shared = ref.segment_dense(image, breast, breast, PX_MM, reference=offered)
    assert shared.gland_source == "shared"
    assert abs(shared.gland_level - shared.fat_level - offered.contrast * shared.fat_spread) < 1e-3
    truth = 100.0 * float(blob.sum()) / float(breast.sum())
    assert abs(_pd(shared, breast) - truth) < 4.0


def _film_image(distance: npt.NDArray[np.float32], seed: int = 0) -> npt.NDArray[np.float32]:
    """A fatty breast on digitised film: the fall-off passes through the film's toe, so it is
    S-shaped, steepest ~14 mm inside the skin line and reaching fat's level only ~30 mm in
    (mini-MIAS: the 5th-percentile ring profile rises over 20-35 mm, its slope peaking at 10-20 mm)."""
    rng = np.random.default_rng(seed)
    level = 1.0 / (1.0 + np.exp(-(distance - 14.0) / 3.0))
    image = FAT - FALLOFF * (1.0 - level)
    noisy: npt.NDArray[np.float32] = (image + rng.normal(0.0, 15.0, distance.shape)).astype(np.float32)
    return noisy


def test_fatty_disc_with_film_toe_falloff_is_almost_not_dense() -> None:
    """The steepest fall-off lies beyond SKIN_EDGE_MM: it is followed there (film's toe), the knee is
    the slope's end, not the first ring where the toe's slope is still growing."""
    breast, distance = _disc()
    image = _film_image(distance)
    corrected, knee = ref.correct_falloff(image, breast, distance)
    assert knee >= 20.0
    near = breast & (distance > 2.0) & (distance < 6.0)
    deep = breast & (distance > 35.0)
    assert float(np.median(image[deep]) - np.median(image[near])) > 500.0
    assert abs(float(np.median(corrected[deep]) - np.median(corrected[near]))) < 40.0


def test_ffdm_falloff_keeps_the_rise_rule() -> None:
    """A fall-off steepest at the skin line (FFDM) is not a toe: a deeper rise of the baseline (dense
    tissue reaching the ring's low tail) still ends the fat profile early."""
    breast, distance = _disc()
    dense = breast & (distance > 18.0)
    image = _image(distance, dense)
    _, _, knee = ref.fat_baseline(image, breast, distance)
    assert knee < 20.0
