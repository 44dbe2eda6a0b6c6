"""The independent DCE-MRI generator (bench/alt_dce.py): readable DICOM the kinetics algorithm accepts,
truth curve types by the §3.1 definitions, lesion masks where the truth says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench.alt_dce import AltDceStudy, curve_class, early_phase, generate_alt_dce, read_mask, write_alt_dce

from breastgate.algorithms.kinetics import KineticsAlgorithm
from breastgate.domain.model import AlgorithmStatus
from breastgate.pipeline.offline import collect_studies
from tests.support.validators import dciodvfy

SIZE = (24, 96, 128)  # slices, rows, columns: a small study, the anatomy shrunk to fit
SEED = 3


@pytest.fixture(scope="module")
def study() -> AltDceStudy:
    return generate_alt_dce(SEED, size=SIZE)


@pytest.fixture(scope="module")
def folder(study: AltDceStudy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_alt_dce(study, tmp_path_factory.mktemp("altdce"))


def test_curve_class_follows_the_lexicon() -> None:
    # E at the early phase: slow < 50 <= medium <= 100 < fast; delta = late vs early signal.
    assert curve_class([0.0, 120.0, 150.0], 1)[:2] == ("fast", "I")  # +13.6 %
    assert curve_class([0.0, 120.0, 125.0], 1)[:2] == ("fast", "II")  # +2.3 %
    assert curve_class([0.0, 120.0, 90.0], 1)[:2] == ("fast", "III")  # -13.6 %
    assert curve_class([0.0, 60.0, 40.0], 1)[:2] == ("medium", "III")  # -12.5 %
    assert curve_class([0.0, 40.0, 50.0], 1)[:2] == ("slow", "II")  # +7.1 %
    assert curve_class([0.0, 30.0, 80.0, 100.0], 2)[:2] == ("medium", "I")
    # The truth's early phase: nearest 105 s within 60-180 s after injection, else the first.
    assert early_phase((-60.0, 40.0, 100.0, 160.0, 220.0)) == 2
    assert early_phase((-60.0, 50.0, 140.0, 230.0)) == 2
    assert early_phase((-60.0, 200.0, 300.0)) == 1


def test_truth_types_from_the_noiseless_mean_curve(study: AltDceStudy) -> None:
    truth = study.truth
    assert truth["lesions"], "the test seed must draw a lesion"
    for lesion in truth["lesions"]:
        initial, kind, early, change = curve_class(lesion["mean_curve_pct"], truth["early_phase"])
        assert (initial, kind) == (lesion["initial_phase"], lesion["curve_type"])
        assert (early, change) == (lesion["early_pct"], lesion["change_pct"])
        diameters = lesion["diameters_mm"]
        assert diameters[0] >= 5.0 and diameters == sorted(diameters, reverse=True)
        assert lesion["worst_curve_type"] in ("I", "II", "III")
    for focus in truth["foci"]:
        assert focus["diameter_mm"] < 5.0


def test_masks_lie_where_the_truth_says(study: AltDceStudy) -> None:
    shape = (SIZE[0], SIZE[1], SIZE[2])
    for lesion in study.truth["lesions"]:
        mask = read_mask(lesion, shape)
        assert mask.any()
        centre = np.argwhere(mask).mean(0)
        k, r, c = study.index_of(lesion["patient_mm"])
        assert np.allclose(centre, (k, r, c), atol=1.5)
        assert study.what_is(lesion["patient_mm"]) == "lesion"


def test_deterministic_in_seed(study: AltDceStudy) -> None:
    again = generate_alt_dce(SEED, size=SIZE)
    assert again.truth == study.truth
    assert [ds.PixelData for ds in again.datasets[::7]] == [ds.PixelData for ds in study.datasets[::7]]


def test_dicom_valid_and_accepted_by_kinetics(study: AltDceStudy, folder: Path) -> None:
    phases = len(study.truth["protocol"]["times_s"])
    report = dciodvfy(folder / "00000.dcm")
    assert report.ok, report.errors
    studies, unreadable = collect_studies(folder)
    assert unreadable == 1  # truth.json
    (ref,) = studies
    assert len({i.series_instance_uid for i in ref.instances}) == phases
    algorithm = KineticsAlgorithm()
    result = algorithm.run(algorithm.select(ref))
    assert result.status is AlgorithmStatus.OK, result.message
    assert f"{phases} phases (series-per-phase)" in result.message
