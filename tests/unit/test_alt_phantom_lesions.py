"""Lesions of the independent benchmark generator (bench/alt_phantoms.py): truth and pixels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bench.alt_phantoms import generate_alt_study
from pydicom import Dataset
from scipy import ndimage

from breastgate.phantoms import PhantomStudy

SEED = 31


@pytest.fixture(scope="module")
def pair() -> tuple[PhantomStudy, PhantomStudy]:
    """The same study with a mass and a calcification cluster (stored MONOCHROME1), and without."""
    lesions = ("mass", "calcification_cluster")
    with_lesions = generate_alt_study(SEED, "c", monochrome1=True, lesions=lesions)
    plain = generate_alt_study(SEED, "c")
    assert plain.datasets[0].PhotometricInterpretation == "MONOCHROME2"
    return with_lesions, plain


def _display(ds: Dataset) -> np.ndarray:
    """Pixel values with bright = attenuating, whatever the photometric interpretation."""
    pixels = ds.pixel_array.astype(np.float64)
    return (2**ds.BitsStored - 1) - pixels if ds.PhotometricInterpretation == "MONOCHROME1" else pixels


def _lesion(study: PhantomStudy, kind: str) -> dict[str, Any]:
    return next(t for t in study.truth["lesions"] if t["kind"] == kind)


def _image(study: PhantomStudy, sop: str) -> Dataset:
    return next(ds for ds in study.datasets if ds.SOPInstanceUID == sop)


@pytest.mark.parametrize("kind", ["mass", "calcification_cluster"])
def test_truth_on_cc_and_mlo_of_its_breast(pair: tuple[PhantomStudy, PhantomStudy], kind: str) -> None:
    study, _ = pair
    lesion = _lesion(study, kind)
    assert lesion["laterality"] in ("L", "R") and lesion["size_mm"] > 0
    assert [v["view"] for v in lesion["views"]] == ["CC", "MLO"]
    for v in lesion["views"]:
        ds = _image(study, v["sop_instance_uid"])
        assert ds.ImageLaterality == lesion["laterality"]
        c0, r0, c1, r1 = v["bbox"]
        assert 0 <= c0 < c1 <= ds.Columns and 0 <= r0 < r1 <= ds.Rows
        assert c0 <= v["centre"][0] <= c1 and r0 <= v["centre"][1] <= r1
    if kind == "calcification_cluster":
        assert all(len(v["calcifications"]) == lesion["calcification_count"] >= 5 for v in lesion["views"])


def test_mass_brighter_than_without_it(pair: tuple[PhantomStudy, PhantomStudy]) -> None:
    study, plain = pair
    for v in _lesion(study, "mass")["views"]:
        c0, r0, c1, r1 = (round(x) for x in v["bbox"])
        sop = v["sop_instance_uid"]
        diff = _display(_image(study, sop))[r0:r1, c0:c1] - _display(_image(plain, sop))[r0:r1, c0:c1]
        assert diff.mean() > 0
        col, row = (round(x) for x in v["centre"])
        core = _display(_image(study, sop))[row - 3 : row + 4, col - 3 : col + 4]
        assert core.mean() > _display(_image(plain, sop))[row - 3 : row + 4, col - 3 : col + 4].mean()


def test_cluster_raises_local_maxima(pair: tuple[PhantomStudy, PhantomStudy]) -> None:
    study, plain = pair
    for v in _lesion(study, "calcification_cluster")["views"]:
        sop = v["sop_instance_uid"]
        shown, before = _display(_image(study, sop)), _display(_image(plain, sop))
        peaks = ndimage.maximum_filter(shown, size=5) == shown
        raised = found = 0
        for col, row in v["calcifications"]:
            c, r = int(col), int(row)
            window = (slice(r - 2, r + 3), slice(c - 2, c + 3))
            raised += shown[window].max() > before[window].max()
            found += bool(peaks[window].any() and shown[window].max() > before[window].max())
        n = len(v["calcifications"])
        assert raised >= 0.8 * n  # the lesion also scales the quantum noise, so not every window rises
        assert found >= max(3, n // 3)


def test_other_breast_untouched(pair: tuple[PhantomStudy, PhantomStudy]) -> None:
    study, plain = pair
    sides = {t["laterality"] for t in study.truth["lesions"]}
    for ds, ref in zip(study.datasets, plain.datasets, strict=True):
        assert ds.SOPInstanceUID == ref.SOPInstanceUID
        same = np.array_equal(_display(ds), _display(ref))
        assert same == (ds.ImageLaterality not in sides)
