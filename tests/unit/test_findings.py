"""Lesion phantoms and the calcification / mass detectors: truth, hits, look-alikes, bad inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import ndimage as ndi

from breastgate.algorithms._nipple_frame import axis_offsets, clock_hours, clock_position
from breastgate.algorithms.base import Algorithm
from breastgate.algorithms.calcifications import CalcificationAlgorithm
from breastgate.algorithms.masses import MassAlgorithm
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, FindingKind, InstanceRef, StudyRef
from breastgate.phantoms import PhantomStudy, generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from tests.unit.test_imaging import make_mg, synthetic_breast

SMALL = "profile-b-100um"


def study_ref(study: PhantomStudy, folder: Path) -> StudyRef:
    refs = []
    for i, ds in enumerate(study.datasets):
        path = folder / f"{i}.dcm"
        ds.save_as(path, enforce_file_format=True)
        refs.append(
            InstanceRef(
                ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SOPClassUID, "MG", str(path)
            )
        )
    return StudyRef(study.study_instance_uid, tuple(refs))


def run(algorithm: Any, study: StudyRef) -> AlgorithmResult:
    result: AlgorithmResult = algorithm.run(algorithm.select(study))
    return result


def inside(point: tuple[float, float], bbox: list[float]) -> bool:
    return bbox[0] <= point[0] <= bbox[2] and bbox[1] <= point[1] <= bbox[3]


@pytest.fixture(scope="module")
def lesion_study() -> PhantomStudy:
    return generate_mg_study(
        21,
        category="b",
        vendor=SMALL,
        lesions=[
            LesionRequest("calcification_cluster", shape="fine_pleomorphic", laterality="L"),
            LesionRequest("mass", shape="round", size_mm=18.0, contrast=1.0, laterality="R"),
        ],
        distractors=True,
    )


def test_lesion_truth_in_each_view(lesion_study: PhantomStudy) -> None:
    lesions = {t["kind"]: t for t in lesion_study.truth["lesions"]}
    assert set(lesions) == {"calcification_cluster", "mass"}
    for truth in lesions.values():
        assert [v["view"] for v in truth["views"]] == ["CC", "MLO"]
        for view in truth["views"]:
            c0, r0, c1, r1 = view["bbox"]
            assert c0 < view["centre"][0] < c1 and r0 < view["centre"][1] < r1
    calc = lesions["calcification_cluster"]
    assert 5 <= calc["calcification_count"] <= 30
    assert all(len(v["calcifications"]) == calc["calcification_count"] for v in calc["views"])
    assert lesion_study.truth["distractors"], "distractors were asked for"


def test_lesions_change_pixels_only_near_lesions() -> None:
    plain = generate_mg_study(22, category="a", vendor=SMALL)
    with_mass = generate_mg_study(
        22, category="a", vendor=SMALL, lesions=[LesionRequest("mass", size_mm=10.0, laterality="L")]
    )
    truth = with_mass.truth["lesions"][0]
    for a, b in zip(plain.datasets, with_mass.datasets, strict=True):
        diff = np.argwhere(a.pixel_array != b.pixel_array)
        view = next((v for v in truth["views"] if v["sop_instance_uid"] == b.SOPInstanceUID), None)
        if view is None:
            assert diff.size == 0
            continue
        c0, r0, c1, r1 = view["bbox"]
        assert diff.size > 0
        assert diff[:, 1].min() >= c0 - 20 and diff[:, 1].max() <= c1 + 20
        assert diff[:, 0].min() >= r0 - 20 and diff[:, 0].max() <= r1 + 20


def test_calcification_cluster_found_on_both_views(lesion_study: PhantomStudy, tmp_path: Path) -> None:
    algorithm = CalcificationAlgorithm()
    assert isinstance(algorithm, Algorithm)
    result = run(algorithm, study_ref(lesion_study, tmp_path))
    assert result.status == AlgorithmStatus.OK
    truth = next(t for t in lesion_study.truth["lesions"] if t["kind"] == "calcification_cluster")
    shown = [f for f in result.findings if f.score >= (result.operating_threshold or 0.5)]
    assert shown, "the cluster must be marked"
    top = shown[0]
    assert top.kind == FindingKind.CALCIFICATION_CLUSTER and top.laterality == "L"
    assert len(top.marks) == 2, "CC and MLO marks correlated into one finding"
    for mark in top.marks:
        view = next(v for v in truth["views"] if v["sop_instance_uid"] == mark.sop_instance_uid)
        assert inside(mark.point, view["bbox"])
        assert len(mark.members) >= 3
        hits = sum(inside(m, view["bbox"]) for m in mark.members)
        assert hits >= 0.8 * len(mark.members)
    assert top.location is not None and top.location.distance_from_nipple_mm is not None
    assert top.location.clock is not None
    # The benign, vascular and skin look-alikes are not called clusters.
    assert len(shown) == 1


def test_no_cluster_on_normal_studies_with_lookalikes(tmp_path: Path) -> None:
    for seed in (31, 32):
        study = generate_mg_study(seed, category="c", vendor=SMALL, distractors=True)
        folder = tmp_path / str(seed)
        folder.mkdir()
        result = run(CalcificationAlgorithm(), study_ref(study, folder))
        assert result.status == AlgorithmStatus.OK
        assert [f for f in result.findings if f.score >= 0.5] == []


def test_obvious_mass_marked_with_outline(lesion_study: PhantomStudy, tmp_path: Path) -> None:
    result = run(MassAlgorithm(), study_ref(lesion_study, tmp_path))
    assert result.status == AlgorithmStatus.OK
    truth = next(t for t in lesion_study.truth["lesions"] if t["kind"] == "mass")
    hits = [
        (f, m)
        for f in result.findings
        for m in f.marks
        for v in truth["views"]
        if m.sop_instance_uid == v["sop_instance_uid"] and inside(m.point, v["bbox"])
    ]
    assert hits, "an 18 mm high-contrast mass in a fatty breast must be marked"
    finding, mark = hits[0]
    assert finding.laterality == "R" and finding.kind == FindingKind.MASS
    assert len(mark.outline) >= 6 and mark.size_mm is not None and 5 <= mark.size_mm <= 40
    # The dome fit measures the mass, not the detection scale: an 18 mm mass is 12-27 mm.
    assert all(m.size_mm is not None and 12.0 <= m.size_mm <= 27.0 for _, m in hits), [
        m.size_mm for _, m in hits
    ]
    # On the finding's images its score is the highest: the model prefers the mass to the tissue.
    assert finding.score >= result.operating_threshold
    assert finding.score == max(f.score for f in result.findings if f.laterality == "R")


def test_mass_model_prefers_a_dome_to_mottled_tissue() -> None:
    """The features and the fitted model separate a homogeneous dome from a mottled bright island."""
    from breastgate.algorithms._mass_features import features, make_maps
    from breastgate.algorithms.masses import MODEL

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:160, 0:160].astype(np.float32)
    background = ndi.gaussian_filter(rng.normal(0.0, 1.0, (160, 160)), 4.0).astype(np.float32) * 20.0
    r = np.hypot(yy - 80, xx - 80) / 15.0
    dome = background + 40.0 * np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0))
    blobs = ndi.gaussian_filter(rng.normal(0.0, 1.0, (160, 160)), 2.0).astype(np.float32)
    island = background + 40.0 * (r < 1.3) * (blobs > 0) + 15.0 * (np.abs(xx - 80) < 6) * (yy > 80)
    breast = np.ones((160, 160), bool)
    scores = {}
    for name, image in (("dome", dome), ("island", island.astype(np.float32))):
        maps = make_maps(image.astype(np.float32), breast, breast, 10.0, 0.6)
        values, fitted = features(maps, 80, 80, 15.0 / 2.0)
        values.update(convergence=0.8, contrast_z=4.0)
        scores[name] = MODEL.score(values)
        if name == "dome":
            assert fitted.r2 > 0.9 and 10.0 <= fitted.radius <= 20.0
    assert scores["dome"] > 2 * scores["island"], scores


@pytest.mark.parametrize("algorithm", [CalcificationAlgorithm(), MassAlgorithm()])
def test_unusable_inputs_are_skipped_or_failed_with_reason(algorithm: Any, tmp_path: Path) -> None:
    pixels = synthetic_breast()
    datasets = [
        make_mg(pixels, Modality="CT"),
        make_mg(pixels, SOPClassUID="1.2.840.10008.5.1.4.1.1.1.2.1", PresentationIntentType="FOR PROCESSING"),
        make_mg(np.zeros((2, 2), np.uint16)),
        make_mg((4095 - pixels).astype(np.uint16), PhotometricInterpretation="MONOCHROME1"),
    ]
    broken = make_mg(pixels)
    broken.PixelData = broken.PixelData[:1000]
    datasets.append(broken)
    refs = []
    for i, ds in enumerate(datasets):
        path = tmp_path / f"{i}.dcm"
        ds.save_as(path, enforce_file_format=True)
        refs.append(
            InstanceRef(
                ds.StudyInstanceUID,
                ds.SeriesInstanceUID,
                ds.SOPInstanceUID,
                ds.SOPClassUID,
                ds.Modality,
                str(path),
            )
        )
    result = run(algorithm, StudyRef(refs[0].study_instance_uid, tuple(refs)))
    by_uid = {o.sop_instance_uid: o for o in result.images}
    assert len(by_uid) == 5
    assert "modality CT" in by_uid[datasets[0].SOPInstanceUID].message
    assert "For Processing" in by_uid[datasets[1].SOPInstanceUID].message
    assert "too small" in by_uid[datasets[2].SOPInstanceUID].message
    assert (
        by_uid[datasets[3].SOPInstanceUID].status == AlgorithmStatus.OK
    )  # MONOCHROME1 is inverted, not refused
    assert by_uid[datasets[4].SOPInstanceUID].status == AlgorithmStatus.FAILED
    assert result.status == AlgorithmStatus.OK


def test_clock_positions_facing_the_patient() -> None:
    # Lateral on the left breast and medial on the right breast are 3 o'clock; superior is 12.
    assert clock_position("L", medial_mm=-20, superior_mm=-1) == (3, "LOQ")
    assert clock_position("R", medial_mm=20, superior_mm=0)[0] == 3
    assert clock_position("R", medial_mm=-20, superior_mm=0)[0] == 9
    assert clock_position("L", medial_mm=0, superior_mm=30)[0] == 12
    assert clock_position("L", medial_mm=-10, superior_mm=20) == (1, "UOQ")
    assert clock_position("R", medial_mm=-10, superior_mm=20) == (11, "UOQ")
    assert clock_position("R", medial_mm=10, superior_mm=-20) == (5, "LIQ")


def test_axis_offsets_follow_the_sagging_axis() -> None:
    spacing = (0.1, 0.1)
    nipple = (2000.0, 1000.0)
    # 50 mm behind the nipple on an axis sagging 0.2 (rows per column): 10 mm higher, on the axis.
    behind, across = axis_offsets((1500.0, 900.0), nipple, 0.2, spacing, flipped=False)
    assert behind == pytest.approx(50.0 * np.hypot(1.0, 0.2)) and across == pytest.approx(0.0, abs=1e-9)
    # The chest wall on the right: the mirror image gives the same offsets.
    mirrored = axis_offsets((2500.0, 900.0), nipple, 0.2, spacing, flipped=True)
    assert mirrored == pytest.approx((behind, across))
    # No slope: the row offset, as before the axis; below the nipple row is positive.
    assert axis_offsets((1500.0, 1100.0), nipple, None, spacing, flipped=False) == pytest.approx((50.0, 10.0))
    # On the nipple's row but behind it, a point lies below a sagging axis.
    assert axis_offsets((1500.0, 1000.0), nipple, 0.2, spacing, flipped=False)[1] > 9.0


def test_clock_hours_unrounded() -> None:
    assert clock_hours("L", medial_mm=0.0, superior_mm=30.0) == pytest.approx(0.0)
    assert clock_hours("R", medial_mm=20.0, superior_mm=20.0) == pytest.approx(1.5)
    assert clock_hours("L", medial_mm=20.0, superior_mm=-20.0) == pytest.approx(7.5)


def test_clock_of_masses_on_sagging_mlo_views(tmp_path: Path) -> None:
    """12 and 6 o'clock masses 50 mm behind the nipple: read from the nipple row of an MLO whose
    nipple was put on the lower curve (farthest from the pectoral line), both came out 6 hours off."""
    study = generate_mg_study(
        2,
        category="b",
        vendor=SMALL,
        lesions=[
            LesionRequest(
                "mass", "round", 16.0, 1.0, laterality="R", clock=12, distance_from_nipple_mm=50, radial_mm=25
            ),
            LesionRequest(
                "mass", "round", 16.0, 1.0, laterality="L", clock=6, distance_from_nipple_mm=50, radial_mm=25
            ),
        ],
    )
    result = run(MassAlgorithm(), study_ref(study, tmp_path))
    for truth in study.truth["lesions"]:
        boxes = {v["sop_instance_uid"]: v["bbox"] for v in truth["views"]}
        on = [
            f
            for f in result.findings
            if any(
                m.sop_instance_uid in boxes and inside(m.point, boxes[m.sop_instance_uid]) for m in f.marks
            )
        ]
        assert on, truth["laterality"]
        best = max(on, key=lambda f: f.score)
        assert best.location is not None and best.location.clock == truth["clock"], (
            truth["clock"],
            best.location,
        )
        hours = best.attributes["clock_hours"]
        assert min(abs(hours - truth["clock"] % 12), 12 - abs(hours - truth["clock"] % 12)) <= 0.75
