"""Prior comparison: phantom priors, registration, change categories, the result without a prior."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from breastgate.algorithms.comparison import ComparisonAlgorithm, change_of, register_views
from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    ChangeKind,
    InstanceRef,
    PriorStatus,
    StudyRef,
)
from breastgate.imaging.registration import ViewFrame, register
from breastgate.phantoms.lesions import LesionRequest
from breastgate.phantoms.prior import PhantomPair, generate_mg_pair
from breastgate.pipeline.offline import attach_priors

MASS_INCREASED = LesionRequest("mass", size_mm=15.92, contrast=0.878)
MASS_NEW = LesionRequest("mass", size_mm=15.0, contrast=0.7457)
CLUSTER = LesionRequest("calcification_cluster", shape="fine_pleomorphic")


def _save(pair: PhantomPair, folder: Path) -> StudyRef:
    studies = []
    for tag, study in (("prior", pair.prior), ("current", pair.current)):
        refs = []
        (folder / tag).mkdir(parents=True)
        for ds in study.datasets:
            path = folder / tag / f"{ds.ImageLaterality}_{ds.ViewPosition}.dcm"
            ds.save_as(path, enforce_file_format=True)
            refs.append(
                InstanceRef(
                    str(ds.StudyInstanceUID),
                    str(ds.SeriesInstanceUID),
                    str(ds.SOPInstanceUID),
                    str(ds.SOPClassUID),
                    "MG",
                    str(path),
                    str(ds.ImageLaterality),
                    str(ds.ViewPosition),
                    "FOR PRESENTATION",
                )
            )
        first = study.datasets[0]
        studies.append(
            StudyRef(
                study.study_instance_uid, tuple(refs), str(first.PatientID), study_date=str(first.StudyDate)
            )
        )
    prior, current = studies
    return replace(current, priors=(prior,), prior_status=PriorStatus.HELD)


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> tuple[PhantomPair, StudyRef]:
    """A mass that grew (15.9 mm now) and a stable cluster: dense breast, 70 µm profile."""
    pair = generate_mg_pair(
        8002,
        category="c",
        vendor="profile-a-70um",
        lesions=[MASS_INCREASED, CLUSTER],
        changes=["increased", "stable"],
    )
    return pair, _save(pair, tmp_path_factory.mktemp("grown"))


def _run(study: StudyRef) -> AlgorithmResult:
    algorithm = ComparisonAlgorithm()
    return algorithm.run(algorithm.select(study))


def _finding_on(result: AlgorithmResult, pair: PhantomPair, lesion_id: str) -> ChangeKind | None:
    truth = next(lesion for lesion in pair.current.truth["lesions"] if lesion["id"] == lesion_id)
    boxes = {v["sop_instance_uid"]: v["bbox"] for v in truth["views"]}
    for finding in result.findings:
        if finding.kind.value != truth["kind"]:
            continue
        for mark in finding.marks:
            box = boxes.get(mark.sop_instance_uid)
            if (
                box
                and box[0] - 30 <= mark.point[0] <= box[2] + 30
                and box[1] - 30 <= mark.point[1] <= box[3] + 30
            ):
                return finding.comparison.change if finding.comparison else None
    raise AssertionError(f"{lesion_id} not found")


def test_prior_phantom_truth_is_consistent(grown: tuple[PhantomPair, StudyRef]) -> None:
    pair, _ = grown
    cur, pri = pair.current.datasets[0], pair.prior.datasets[0]
    assert cur.PatientID == pri.PatientID
    assert cur.StudyInstanceUID != pri.StudyInstanceUID and cur.AccessionNumber != pri.AccessionNumber
    days = dt.date.fromisoformat(_iso(cur.StudyDate)) - dt.date.fromisoformat(_iso(pri.StudyDate))
    assert days.days == 365
    block = pair.current.truth["prior"]
    assert block["study_instance_uid"] == pair.prior.study_instance_uid
    changes = {entry["id"]: entry for entry in block["lesions"]}
    assert changes["lesion-1"]["change"] == "increased" and changes["lesion-1"]["size_change_mm"] >= 4.0
    assert changes["lesion-2"]["size_change_mm"] == 0.0
    # Lesion centres on the prior are the current ones through the view's map.
    views = {v["sop_instance_uid"]: v for v in block["views"]}
    prior_lesions = {lesion["id"]: lesion for lesion in pair.prior.truth["lesions"]}
    current_lesions = {lesion["id"]: lesion for lesion in pair.current.truth["lesions"]}
    for lesion_id, lesion in current_lesions.items():
        assert prior_lesions[lesion_id]["size_mm"] == changes[lesion_id]["prior_size_mm"]
        for here, there in zip(lesion["views"], prior_lesions[lesion_id]["views"], strict=True):
            view = views[here["sop_instance_uid"]]
            assert there["sop_instance_uid"] == view["prior_sop_instance_uid"]
            m, t = np.array(view["to_prior"]["matrix"]), np.array(view["to_prior"]["offset"])
            assert np.allclose(m @ np.array(here["centre"], float) + t, there["centre"], atol=0.05)
    # The prior pixels are not the current ones (other compression, exposure and noise).
    assert not np.array_equal(cur.pixel_array, pri.pixel_array)


def _iso(value: object) -> str:
    text = str(value)
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


def test_registration_recovers_a_known_shift_and_rotation() -> None:
    """A textured half-ellipse breast, shifted 4 mm / -3 mm, rotated 2.5° and scaled 1.03: the map
    found puts points within 1 mm of where the known map puts them (target: 3 mm)."""
    px = 0.6
    rows, cols = 400, 300
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    rng = np.random.default_rng(3)
    texture = ndi.gaussian_filter(rng.standard_normal((rows, cols)), 2.5) * 120.0

    def breast(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return ((x * px / 120.0) ** 2 + ((y * px - 120.0) / 95.0) ** 2) < 1.0

    angle, scale, shift = math.radians(2.5), 1.03, np.array([4.0, -3.0])
    lin = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    anchor = np.array([0.0, 120.0])
    current_mask = breast(yy, xx)
    current = np.where(current_mask, 500.0 + texture, 0.0)
    # prior(x') = current(L⁻¹(x' − a − t) + a), in mm on pixel centres.
    pts = np.stack(((xx + 0.5) * px, (yy + 0.5) * px), axis=-1)
    back = (pts - anchor - shift) @ np.linalg.inv(lin).T + anchor
    src_r, src_c = back[..., 1] / px - 0.5, back[..., 0] / px - 0.5
    prior = ndi.map_coordinates(current, [src_r, src_c], order=1, mode="nearest") * 1.1 + 20.0
    prior_mask = breast(src_r, src_c)
    prior = np.where(prior_mask, prior, 0.0)

    def frame(image: np.ndarray, mask: np.ndarray) -> ViewFrame:
        wall = np.flatnonzero(mask[:, 0])
        r, c = np.nonzero(mask)
        far = c >= c.max() - 1
        nipple = ((float(np.median(c[far])) + 0.5) * px, (float(np.median(r[far])) + 0.5) * px)
        return ViewFrame(
            image.astype(np.float32),
            mask,
            px,
            (px, px),
            False,
            float(cols),
            nipple,
            (0.0, (np.median(wall) + 0.5) * px),
        )

    reg = register(frame(current, current_mask), frame(prior, prior_mask))
    for point in ((30.0, 120.0), (100.0, 60.0), (60.0, 180.0), (110.0, 120.0)):
        truth = lin @ (np.array(point) - anchor) + anchor + shift
        found = np.array(reg.transform.apply(*point))
        assert float(np.hypot(*(found - truth))) < 1.0, (point, found, truth)


@pytest.mark.slow
def test_phantom_pair_landmarks_register_within_3_mm(grown: tuple[PhantomPair, StudyRef]) -> None:
    pair, study = grown
    pairs = register_views(study, study.priors[0])
    assert len(pairs) == 4
    errors = []
    for view in pair.current.truth["prior"]["views"]:
        reg = pairs[(view["laterality"], view["view"])].registration
        spacing = reg.current.spacing_mm[0]
        here, there = view["landmarks"]["current"], view["landmarks"]["prior"]
        found = reg.map_point(tuple(here["nipple"]))
        errors.append(math.hypot(found[0] - there["nipple"][0], found[1] - there["nipple"][1]) * spacing)
    assert max(errors) <= 3.0, errors


@pytest.mark.slow
def test_grown_mass_is_increased_and_stable_cluster_is_stable(grown: tuple[PhantomPair, StudyRef]) -> None:
    pair, study = grown
    result = _run(study)
    assert result.status == AlgorithmStatus.OK
    assert result.priors is not None and result.priors.status == PriorStatus.HELD
    assert result.priors.study_instance_uids == (pair.prior.study_instance_uid,)
    assert _finding_on(result, pair, "lesion-1") == ChangeKind.INCREASED
    assert _finding_on(result, pair, "lesion-2") == ChangeKind.STABLE
    increased = next(
        f for f in result.findings if f.comparison and f.comparison.change == ChangeKind.INCREASED
    )
    assert increased.comparison is not None and increased.comparison.size_change_mm is not None
    assert increased.comparison.prior_study_date == study.priors[0].study_date
    assert result.density is not None and result.density_change is not None
    assert result.density_change.prior_study_instance_uid == pair.prior.study_instance_uid
    assert all(
        f.attributes["source_algorithm"] in ("breastgate.masses", "breastgate.calcifications")
        for f in result.findings
    )


@pytest.mark.slow
def test_lesions_absent_on_the_prior_are_new(tmp_path: Path) -> None:
    pair = generate_mg_pair(
        8000, category="a", vendor="profile-a-70um", lesions=[MASS_NEW, CLUSTER], changes=["new", "new"]
    )
    result = _run(_save(pair, tmp_path))
    assert _finding_on(result, pair, "lesion-1") == ChangeKind.NEW
    assert _finding_on(result, pair, "lesion-2") == ChangeKind.NEW
    new = next(f for f in result.findings if f.comparison and f.comparison.change == ChangeKind.NEW)
    assert new.comparison is not None and new.comparison.size_change_mm is None and new.comparison.prior_marks


@pytest.mark.slow
def test_without_a_prior_the_result_says_why(grown: tuple[PhantomPair, StudyRef]) -> None:
    _, study = grown
    alone = replace(study, priors=(), prior_status=PriorStatus.NOT_IN_TIME)
    result = _run(alone)
    assert result.status == AlgorithmStatus.OK
    assert result.priors is not None and result.priors.status == PriorStatus.NOT_IN_TIME
    assert (
        "prior not fetched in time" in result.priors.message and "prior not fetched in time" in result.message
    )
    assert result.findings == ()  # detection stays with the detectors: no duplicate without a prior
    assert result.density_change is None


def test_change_thresholds() -> None:
    assert change_of(1.9, 5.0) == ChangeKind.STABLE
    assert change_of(2.5, 5.0) == ChangeKind.INCREASED
    assert change_of(2.5, 20.0) == ChangeKind.STABLE  # 12.5 % of 20 mm
    assert change_of(4.5, 20.0) == ChangeKind.INCREASED
    assert change_of(-4.5, 20.0) == ChangeKind.DECREASED


def test_offline_attaches_earlier_studies_of_the_same_patient() -> None:
    def study(uid: str, patient: str | None, date: str | None) -> StudyRef:
        return StudyRef(uid, (), patient_id=patient, study_date=date)

    studies = attach_priors(
        [
            study("1", "P", "20240101"),
            study("2", "P", "20230101"),
            study("3", "P", "20220101"),
            study("4", "Q", "20240101"),
            study("5", None, "20240101"),
        ]
    )
    by_uid = {s.study_instance_uid: s for s in studies}
    assert [p.study_instance_uid for p in by_uid["1"].priors] == ["2", "3"]
    assert by_uid["1"].prior_status == PriorStatus.HELD
    assert by_uid["3"].priors == () and by_uid["3"].prior_status == PriorStatus.NOT_SOUGHT
    assert by_uid["4"].prior_status == PriorStatus.NOT_SOUGHT and by_uid["5"].priors == ()


def test_offline_collect_studies_attaches_priors(tmp_path: Path) -> None:
    from breastgate.pipeline.offline import collect_studies
    from tests.support.dicom_factory import make_mg, new_uid, write

    uids = {}
    for name, date in (("now", "20250301"), ("then", "20240301")):
        uids[name] = new_uid()
        ds = make_mg("L", "CC", study_uid=uids[name], patient_id="PAT-1", rows=32, cols=32)
        ds.StudyDate = date
        write(ds, tmp_path / name / "a.dcm")
    other = make_mg("R", "CC", patient_id="PAT-2", rows=32, cols=32)
    other.StudyDate = "20250301"
    write(other, tmp_path / "other" / "a.dcm")
    studies, unreadable = collect_studies(tmp_path)
    assert unreadable == 0
    by_uid = {s.study_instance_uid: s for s in studies}
    now = by_uid[uids["now"]]
    assert now.prior_status == PriorStatus.HELD and [p.study_instance_uid for p in now.priors] == [
        uids["then"]
    ]
    assert now.priors[0].study_date == "20240301" and now.patient_id == "PAT-1"
    assert by_uid[uids["then"]].prior_status == PriorStatus.NOT_SOUGHT
    assert by_uid[str(other.StudyInstanceUID)].priors == ()
