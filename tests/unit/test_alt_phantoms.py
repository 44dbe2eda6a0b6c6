"""The independent benchmark generator (bench/alt_phantoms.py): determinism, views, truth, photometry."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from bench.alt_phantoms import BANDS, category_of, generate_alt_study
from pydicom import Dataset

from breastgate.phantoms import PhantomStudy
from breastgate.phantoms.mg import MG_FOR_PRESENTATION, TRUTH_SCHEMA


@pytest.fixture(scope="module")
def studies() -> dict[str, PhantomStudy]:
    return {cat: generate_alt_study(40 + i, cat) for i, cat in enumerate("abcd")}


def _digest(study: PhantomStudy) -> str:
    h = hashlib.sha256()
    for ds in study.datasets:
        h.update(ds.SOPInstanceUID.encode())
        h.update(ds.PixelData)
    return h.hexdigest()


def test_deterministic_in_seed(studies: dict[str, PhantomStudy]) -> None:
    again = generate_alt_study(41, "b")
    assert _digest(again) == _digest(studies["b"])
    assert again.truth == studies["b"].truth
    assert _digest(studies["a"]) != _digest(studies["b"])


def test_four_views_valid_headers(studies: dict[str, PhantomStudy]) -> None:
    study = studies["c"]
    views = [(ds.ImageLaterality, ds.ViewPosition) for ds in study.datasets]
    assert views == [("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")]
    uids = {ds.SOPInstanceUID for ds in study.datasets}
    assert len(uids) == 4
    for ds in study.datasets:
        assert ds.SOPClassUID == MG_FOR_PRESENTATION
        assert ds.StudyInstanceUID == study.study_instance_uid
        assert 12 <= ds.BitsStored <= 14 and ds.HighBit == ds.BitsStored - 1
        assert 0.05 <= float(ds.ImagerPixelSpacing[0]) <= 0.1
        pixels = ds.pixel_array
        assert pixels.shape == (ds.Rows, ds.Columns)
        assert int(pixels.max()) <= 2**ds.BitsStored - 1
        assert ds.PatientID.startswith("AP")


@pytest.mark.parametrize("category", list("abcd"))
def test_truth_inside_band_with_margin(studies: dict[str, PhantomStudy], category: str) -> None:
    truth = studies[category].truth
    density = truth["density"]
    assert truth["schema"] == TRUTH_SCHEMA
    assert density["category"] == category == category_of(density["percent_dense"])
    low, high = BANDS[category]
    pd = density["percent_dense"]
    assert (category == "a" or pd >= low + 3) and (category == "d" or pd <= high - 3)
    per_image = density["per_image"]
    assert [p["sop_instance_uid"] for p in per_image] == [
        ds.SOPInstanceUID for ds in studies[category].datasets
    ]
    assert pd == pytest.approx(np.mean([p["percent_dense"] for p in per_image]), abs=1e-3)
    assert all(p["breast_area_cm2"] > 30 for p in per_image)


def test_denser_category_shows_brighter_breast(studies: dict[str, PhantomStudy]) -> None:
    """Dense tissue attenuates more, so it is brighter in MONOCHROME2 display terms (per image)."""

    def breast_median(ds: Dataset) -> float:
        top = 2**ds.BitsStored - 1
        shown = ds.pixel_array.astype(float) / top
        if ds.PhotometricInterpretation == "MONOCHROME1":
            shown = 1.0 - shown
        return float(np.median(shown[shown > 0.02]))

    for ds_a, ds_d in zip(studies["a"].datasets, studies["d"].datasets, strict=True):
        assert breast_median(ds_d) > breast_median(ds_a)


def test_monochrome1_is_the_exact_inverse(studies: dict[str, PhantomStudy]) -> None:
    given = studies["a"]  # seed 40
    flipped = generate_alt_study(
        40, "a", monochrome1=given.datasets[0].PhotometricInterpretation == "MONOCHROME2"
    )
    mono1, mono2 = sorted((given, flipped), key=lambda s: s.datasets[0].PhotometricInterpretation)
    assert mono1.truth["density"] == mono2.truth["density"]
    for ds1, ds2 in zip(mono1.datasets, mono2.datasets, strict=True):
        top = 2**ds1.BitsStored - 1
        assert (
            ds1.PhotometricInterpretation == "MONOCHROME1" and ds2.PhotometricInterpretation == "MONOCHROME2"
        )
        assert ds1.PresentationLUTShape == "INVERSE" and ds2.PresentationLUTShape == "IDENTITY"
        assert ds1.PixelIntensityRelationshipSign == 1 and ds2.PixelIntensityRelationshipSign == -1
        p1, p2 = ds1.pixel_array.astype(np.int32), ds2.pixel_array.astype(np.int32)
        np.testing.assert_array_equal(p1, top - p2)
        corner = (-1, 0 if ds1.ImageLaterality == "R" else -1)  # below the nipple, away from the chest wall
        assert p2[corner] == 0 and p1[corner] == top  # air is black on display either way
        assert np.median(p2[p2 > 0]) > 0.1 * top


def test_rejects_unknown_category() -> None:
    with pytest.raises(ValueError, match="category"):
        generate_alt_study(1, "e")
