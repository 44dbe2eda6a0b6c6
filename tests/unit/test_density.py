"""breastgate.density on phantoms and on images it must skip or fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset

from breastgate.algorithms.base import Algorithm
from breastgate.algorithms.density import DensityAlgorithm, category_of
from breastgate.domain.model import AlgorithmStatus, InstanceRef, StudyRef
from breastgate.phantoms import generate_mg_study
from tests.unit.test_imaging import make_mg, save, synthetic_breast


def ref_for(ds: Dataset, path: str) -> InstanceRef:
    return InstanceRef(
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SOPClassUID, ds.Modality, path
    )


def study_of(datasets: list[Dataset], folder: Path) -> StudyRef:
    refs = [ref_for(ds, save(ds, folder / f"{i}.dcm")) for i, ds in enumerate(datasets)]
    return StudyRef(refs[0].study_instance_uid, tuple(refs))


def run(study: StudyRef):  # type: ignore[no-untyped-def]
    algorithm = DensityAlgorithm()
    return algorithm.run(algorithm.select(study))


def test_protocol_and_manifest() -> None:
    algorithm = DensityAlgorithm()
    assert isinstance(algorithm, Algorithm)
    assert algorithm.manifest.id == "breastgate.density"
    assert algorithm.manifest.version == "1.2.0"
    assert algorithm.is_available() == (True, "")


def test_category_thresholds() -> None:
    assert [category_of(v) for v in (0, 9.99, 10, 32.9, 33, 64.9, 65, 100)] == list("aabbccdd")


def test_skip_reasons(tmp_path: Path) -> None:
    pixels = synthetic_breast()
    good = make_mg(pixels)
    others = [
        make_mg(pixels, Modality="CT"),
        make_mg(pixels, SOPClassUID="1.2.840.10008.5.1.4.1.1.1.2.1", PresentationIntentType="FOR PROCESSING"),
        make_mg(pixels, PhotometricInterpretation="RGB"),
        make_mg(np.zeros((2, 2), np.uint16)),
    ]
    study = study_of([good, *others], tmp_path)
    algorithm = DensityAlgorithm()
    selection = algorithm.select(study)
    assert [r.sop_instance_uid for r in selection.inputs] == [good.SOPInstanceUID]
    reasons = [o.message for o in selection.skipped]
    assert "not a mammogram (modality CT)" in reasons[0]
    assert "For Processing" in reasons[1]
    assert "RGB" in reasons[2]
    assert "too small" in reasons[3]
    assert all(o.status == AlgorithmStatus.SKIPPED for o in selection.skipped)
    result = algorithm.run(selection)
    assert result.status == AlgorithmStatus.OK
    assert len(result.images) == 5


def test_monochrome1_gives_same_density(tmp_path: Path) -> None:
    pixels = synthetic_breast()
    (tmp_path / "a").mkdir()
    m2 = run(study_of([make_mg(pixels)], tmp_path / "a"))
    m1_ds = make_mg((4095 - pixels).astype(np.uint16), PhotometricInterpretation="MONOCHROME1")
    (tmp_path / "b").mkdir()
    m1 = run(study_of([m1_ds], tmp_path / "b"))
    assert m1.density is not None and m2.density is not None
    assert m1.density.percent_dense == pytest.approx(m2.density.percent_dense, abs=1.0)


def test_corrupt_pixels_fail_without_exception(tmp_path: Path) -> None:
    ds = make_mg(synthetic_breast())
    ds.PixelData = ds.PixelData[:1000]
    result = run(study_of([ds], tmp_path))
    assert result.status == AlgorithmStatus.FAILED
    assert result.images[0].status == AlgorithmStatus.FAILED
    assert "could not be decoded" in result.images[0].message


def test_nothing_usable_is_skipped(tmp_path: Path) -> None:
    result = run(study_of([make_mg(synthetic_breast(), Modality="CT")], tmp_path))
    assert result.status == AlgorithmStatus.SKIPPED
    assert "modality CT" in result.message


def test_categories_on_phantoms_of_both_profiles(tmp_path: Path) -> None:
    """16 studies (4 seeds x a-d, both vendor profiles): mostly right, never two categories off,
    and PD% rising with the true category on average (bench/density_accuracy.py measures 200)."""
    by_category: dict[str, list[float]] = {c: [] for c in "abcd"}
    exact = shared = 0
    for seed in range(4):
        for category in "abcd":
            folder = tmp_path / f"{seed}{category}"
            folder.mkdir()
            study = generate_mg_study(seed, category=category)
            result = run(study_of(list(study.datasets), folder))
            assert result.status == AlgorithmStatus.OK and result.density is not None
            assert {"L", "R"} == set(result.density.per_breast)
            ok = [o for o in result.images if o.status == AlgorithmStatus.OK]
            assert len(ok) == 4
            assert all(o.measurements["breast_area_cm2"] > 10 for o in ok)
            shared += int(sum(o.measurements["reference_shared"] for o in ok))
            truth = study.truth["density"]["category"]
            got = result.density.category
            assert abs("abcd".index(got) - "abcd".index(truth)) <= 1, (seed, truth, got)
            exact += got == truth
            by_category[category].append(result.density.percent_dense)
    means = [float(np.mean(by_category[c])) for c in "abcd"]
    assert means == sorted(means), means
    assert exact >= 13, exact
    # A CC view takes the gland reference of its breast's MLO view when the MLO shows the muscle.
    assert 24 <= shared <= 32, shared


def test_all_dense_breast_is_exactly_100_percent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A segmenter that calls everything dense (even pixels outside the tissue mask, as a careless
    one may) gives PD% exactly 100: counted within the tissue and clamped, never 100.00000000000001
    (which the TID 4000 encoder rejects)."""
    from dataclasses import dataclass

    from breastgate.algorithms import density

    @dataclass
    class AllDense:
        dense: np.ndarray

    def everything(image: np.ndarray, *args: object, **kwargs: object) -> AllDense:
        return AllDense(np.ones(image.shape, dtype=bool))

    monkeypatch.setattr(density, "segmenter", lambda method="ref": everything)
    path = save(make_mg(synthetic_breast()), tmp_path / "0.dcm")
    measurements, _ = density.measure_image(path)
    assert measurements["percent_dense"] == 100.0
    assert measurements["dense_area_cm2"] == pytest.approx(measurements["breast_area_cm2"])
    result = run(study_of([make_mg(synthetic_breast())], tmp_path))
    assert result.density is not None and result.density.percent_dense == 100.0
    assert result.density.category == "d"


def test_percent_of_counts_and_clamps() -> None:
    from breastgate.algorithms.density import percent_of

    assert percent_of(0, 0) == 0.0
    assert percent_of(7, 7) == 100.0
    assert percent_of(8, 7) == 100.0
    assert percent_of(1, 3) == pytest.approx(100 / 3)
