"""Masses on tomosynthesis volumes: selection, slabs, 3-D merge, marks with frames and patient
coordinates, memory."""

from __future__ import annotations

import itertools
import json
import math
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from breastgate.algorithms import _findings, _tomo
from breastgate.algorithms._findings import Candidate
from breastgate.algorithms.calcifications import CalcificationAlgorithm
from breastgate.algorithms.masses import MassAlgorithm, find_masses
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, FindingKind, Mark, StudyRef
from breastgate.domain.payload import finding_from_json, finding_to_json
from breastgate.imaging.pixels import BREAST_TOMOSYNTHESIS
from breastgate.phantoms import PhantomStudy, generate_dbt_study
from breastgate.phantoms.dbt_headers import orientation, patient_point
from breastgate.phantoms.lesions import LesionRequest
from breastgate.phantoms.tomo import TomoGeometry
from tests.unit.test_findings import inside, run, study_ref

SEED, CATEGORY, VENDOR, PIXEL = 21, "b", "profile-b-100um", 0.3
MASS = LesionRequest("mass", shape="round", size_mm=18.0, contrast=1.0, laterality="R")
SLACK = 2  # frames either side of the true range
#: How far a volume finding's patient_mm may lie from the mass's centre (1 mm slices). In plane
#: the mark is the centre of the region detected on a ~0.6 mm working grid: within IN_PLANE_MM
#: (0.8-1.3 mm measured on 18 mm masses, seeds 21-22). In depth its frame is the centre slice of
#: the best-scoring slab that shows the mass, any of them: a slab of SLAB_FRAMES slices lies
#: within the mass's slices (focus ± (size/2 − 1), the truth's frames) when its centre is within
#: size/2 − 1 − SLAB_FRAMES // 2 = 6 mm of the focus. sqrt(2² + 6²) = 6.3 mm.
IN_PLANE_MM = 2.0
DEPTH_MM = 18.0 / 2 - 1 - _tomo.SLAB_FRAMES // 2  # MASS.size_mm
PATIENT_MM_TOLERANCE = math.hypot(IN_PLANE_MM, DEPTH_MM)


@pytest.fixture(scope="module")
def mass_study() -> Iterator[PhantomStudy]:
    with generate_dbt_study(SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, lesions=[MASS]) as study:
        yield study


@pytest.fixture(scope="module")
def mass_ref(mass_study: PhantomStudy, tmp_path_factory: pytest.TempPathFactory) -> StudyRef:
    return study_ref(mass_study, tmp_path_factory.mktemp("dbt-mass"))


@pytest.fixture(scope="module")
def mass_result(mass_ref: StudyRef) -> AlgorithmResult:
    return run(MassAlgorithm(), mass_ref)


def _volumes(study: PhantomStudy) -> dict[str, dict[str, Any]]:
    return {v["sop_instance_uid"]: v for v in study.truth["volumes"]}


def _hit(mark: Any, view: dict[str, Any]) -> bool:
    first, last = view["frames"]
    return (
        mark.sop_instance_uid == view["sop_instance_uid"]
        and mark.frame is not None
        and first - SLACK <= mark.frame <= last + SLACK
        and inside(mark.point, view["bbox"])
    )


# ---- slabs and merging -------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [1, 3, 5, 6, 7, 8, 49, 60, 67])
def test_slabs_cover_every_frame_and_end_on_the_last(frames: int) -> None:
    ranges = _tomo.slab_ranges(frames)
    covered = {f for first, last in ranges for f in range(first, last + 1)}
    assert covered == set(range(1, frames + 1))
    assert ranges[-1][1] == frames
    assert all(last - first + 1 == min(_tomo.SLAB_FRAMES, frames) for first, last in ranges)
    starts = [first for first, _ in ranges]
    assert starts == sorted(set(starts))
    assert all(b - a <= _tomo.SLAB_STRIDE for a, b in itertools.pairwise(starts))


def test_block_mean_averages_whole_blocks() -> None:
    frame = np.arange(7 * 5, dtype=np.float32).reshape(7, 5)
    out = _tomo.block_mean(frame, 2)
    assert out.shape == (3, 2)
    assert out[0, 0] == pytest.approx(frame[:2, :2].mean())
    assert out[2, 1] == pytest.approx(frame[4:6, 2:4].mean())
    assert _tomo.block_mean(frame, 1) is frame


def _candidate(col: float, row: float, score: float, size_mm: float = 10.0) -> Candidate:
    return Candidate((col, row), (col - 5, row - 5, col + 5, row + 5), score, size_mm)


def test_detections_of_one_lesion_on_nearby_slabs_merge_into_its_best() -> None:
    px = (0.5, 0.5)
    hits = [
        _tomo.SlabHit(3, 11, _candidate(100, 100, 0.2)),
        _tomo.SlabHit(4, 14, _candidate(104, 98, 0.6)),  # 2.2 mm away: same lesion
        _tomo.SlabHit(6, 20, _candidate(101, 103, 0.3)),  # two slabs on: same lesion
        _tomo.SlabHit(4, 14, _candidate(160, 100, 0.5)),  # 30 mm away: another one
        _tomo.SlabHit(12, 38, _candidate(100, 100, 0.4)),  # same place, far deeper: another one
    ]
    merged = _tomo.merge_slab_hits(hits, px)
    assert [(c.score, c.frame) for c in merged] == [(0.6, 14), (0.5, 14), (0.4, 38)]
    best = merged[0]
    assert best.point == (104, 98)
    assert best.features["slabs"] == 3
    assert (best.features["first_frame"], best.features["last_frame"]) == (11, 20)
    assert best.frames == (11, 20)  # no slab ranges given: the extent of the centres
    many = [_tomo.SlabHit(0, 3, _candidate(100 + 50 * i, 100, 0.1 * i)) for i in range(8)]
    assert len(_tomo.merge_slab_hits(many, px)) == _tomo.MAX_PER_VOLUME


def test_finding_placed_by_its_highest_scoring_mark() -> None:
    def mark(score: float, where: tuple[float, float, float] | None) -> Mark:
        return Mark("1.2.3", (5.0, 5.0), (1.0, 1.0, 9.0, 9.0), score, patient_mm=where)

    cc, mlo = mark(0.4, (1.0, 2.0, 3.0)), mark(0.6, (4.0, 5.0, 6.0))
    assert _findings._patient_mm([cc, mlo]) == (4.0, 5.0, 6.0)
    assert _findings._patient_mm([cc, mark(0.4, (7.0, 8.0, 9.0))]) == (1.0, 2.0, 3.0)  # tie: the first
    assert _findings._patient_mm([cc, mark(0.9, None)]) == (1.0, 2.0, 3.0)
    assert _findings._patient_mm([mark(0.9, None)]) is None  # 2-D marks place nothing


# ---- selection ---------------------------------------------------------------------------------


def test_volumes_and_synthesized_views_selected_others_skipped(
    mass_study: PhantomStudy, mass_ref: StudyRef
) -> None:
    volumes = _volumes(mass_study)
    synthesized = {v["synthesized_sop_instance_uid"] for v in volumes.values()}
    ct = replace(mass_ref.instances[-1], sop_instance_uid="1.2.3.4", modality="CT")
    study = replace(mass_ref, instances=(*mass_ref.instances, ct))
    selection = MassAlgorithm().select(study)
    chosen = {r.sop_instance_uid: r for r in selection.inputs}
    assert set(chosen) == set(volumes) | synthesized
    for uid, truth in volumes.items():
        ref = chosen[uid]
        assert ref.sop_class_uid == BREAST_TOMOSYNTHESIS and ref.number_of_frames == truth["frames"]
        assert (ref.laterality, ref.view) == (truth["laterality"], truth["view"])
    (skipped,) = selection.skipped
    assert skipped.sop_instance_uid == "1.2.3.4" and "modality CT" in skipped.message


def test_volume_without_laterality_skipped_and_unindexed_class_read_from_the_file(
    mass_ref: StudyRef, tmp_path: Path
) -> None:
    volume = next(r for r in mass_ref.instances if r.sop_class_uid == BREAST_TOMOSYNTHESIS)
    ds = pydicom.dcmread(volume.path)
    for groups in (ds.SharedFunctionalGroupsSequence, ds.PerFrameFunctionalGroupsSequence):
        for item in groups:
            for anatomy in item.get("FrameAnatomySequence") or ():
                anatomy.FrameLaterality = "U"
    path = tmp_path / "no-laterality.dcm"
    ds.save_as(path, enforce_file_format=True)
    no_side = replace(volume, sop_instance_uid="1.2.3.5", path=str(path), laterality=None)
    unindexed = replace(volume, sop_class_uid="")
    selection = MassAlgorithm().select(StudyRef(mass_ref.study_instance_uid, (no_side, unindexed)))
    assert [(r.sop_instance_uid, r.sop_class_uid) for r in selection.inputs] == [
        (volume.sop_instance_uid, BREAST_TOMOSYNTHESIS)
    ]
    (skipped,) = selection.skipped
    assert skipped.status == AlgorithmStatus.SKIPPED and "unknown laterality" in skipped.message


def test_calcifications_skip_volumes_with_a_reason(mass_study: PhantomStudy, mass_ref: StudyRef) -> None:
    result = run(CalcificationAlgorithm(), mass_ref)
    assert result.status == AlgorithmStatus.OK
    by_uid = {o.sop_instance_uid: o for o in result.images}
    for uid in _volumes(mass_study):
        assert by_uid[uid].status == AlgorithmStatus.SKIPPED
        assert "Tomosynthesis" in by_uid[uid].message
    synthesized = {v["synthesized_sop_instance_uid"] for v in _volumes(mass_study).values()}
    assert {o.sop_instance_uid for o in result.images if o.status == AlgorithmStatus.OK} == synthesized


# ---- detection ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_mass_marked_on_its_volume_with_its_frame(
    mass_study: PhantomStudy, mass_result: AlgorithmResult
) -> None:
    assert mass_result.status == AlgorithmStatus.OK
    truth = mass_study.truth["lesions"][0]
    on_volumes = [v for v in truth["views"] if v["image"] == "dbt"]
    hits = [(f, m) for f in mass_result.findings for m in f.marks for v in on_volumes if _hit(m, v)]
    assert hits, "an 18 mm high-contrast mass must be marked on a DBT volume, on its slices"
    finding, mark = hits[0]
    assert finding.kind == FindingKind.MASS and finding.laterality == "R"
    assert finding.score >= (mass_result.operating_threshold or 0.0), "shown at the operating point"
    assert mark.sop_class_uid == BREAST_TOMOSYNTHESIS and mark.view in ("CC", "MLO")
    assert mark.size_mm is not None and 5 <= mark.size_mm <= 40
    # Volume marks are correlated with volume marks only; each volume keeps at most 4 candidates.
    volumes = _volumes(mass_study)
    for f in mass_result.findings:
        assert len({m.sop_instance_uid in volumes for m in f.marks}) == 1
    for uid, truth_volume in volumes.items():
        marks = [m for f in mass_result.findings for m in f.marks if m.sop_instance_uid == uid]
        assert len(marks) <= _tomo.MAX_PER_VOLUME
        assert all(m.frame is not None and 1 <= m.frame <= truth_volume["frames"] for m in marks)
    outcomes = {o.sop_instance_uid: o for o in mass_result.images}
    for uid, truth_volume in volumes.items():
        measured = outcomes[uid].measurements
        assert outcomes[uid].status == AlgorithmStatus.OK
        assert measured["frames"] == truth_volume["frames"]
        assert measured["slabs"] == len(_tomo.slab_ranges(truth_volume["frames"]))
        assert measured["seconds"] > 0
    flat = [m for f in mass_result.findings for m in f.marks if m.sop_instance_uid not in volumes]
    assert flat and all(m.frame is None for m in flat), "synthesized views are analysed as 2-D images"


@pytest.mark.slow
def test_volume_and_synthesized_findings_of_one_mass_name_each_other(
    mass_study: PhantomStudy, mass_result: AlgorithmResult
) -> None:
    truth = mass_study.truth["lesions"][0]
    by_id = {f.id: f for f in mass_result.findings}
    linked = [
        (f, by_id[other])
        for f in mass_result.findings
        for other in f.correlated_with
        if any(_hit(m, v) for m in f.marks for v in truth["views"] if v["image"] == "dbt")
    ]
    assert linked, "the mass marked on the volume is also marked on its synthesized view"
    for volume_finding, flat_finding in linked:
        assert volume_finding.id in flat_finding.correlated_with
        assert all(m.frame is None for m in flat_finding.marks)


@pytest.mark.slow
def test_mass_placed_in_patient_coordinates_of_its_volume(
    mass_study: PhantomStudy, mass_result: AlgorithmResult
) -> None:
    volumes = _volumes(mass_study)
    for finding in mass_result.findings:
        for mark in finding.marks:
            volume = volumes.get(mark.sop_instance_uid)
            if volume is None:
                assert mark.patient_mm is None, "a 2-D mark places a ray, not a point"
                continue
            assert mark.frame is not None and mark.patient_mm is not None
            side, view, px = volume["laterality"], volume["view"], volume["pixel_mm"]
            geometry = TomoGeometry(volume["frames"], volume["scan_half_angle_deg"])
            expected = patient_point(side, view, geometry, mark.frame, list(mark.point), px)
            assert mark.patient_mm == pytest.approx(expected, abs=0.02)
        placed = [m for m in finding.marks if m.patient_mm is not None]
        best = max(placed, key=lambda m: m.score).patient_mm if placed else None
        assert finding.location is not None and finding.location.patient_mm == best

    on_volumes = [v for v in mass_study.truth["lesions"][0]["views"] if v["image"] == "dbt"]
    placed_by_hit = [
        (f, v)
        for f in mass_result.findings
        for v in on_volumes
        if _hit(max(f.marks, key=lambda m: m.score), v)
    ]
    assert placed_by_hit, "a finding whose best mark is on the mass"
    finding, view = placed_by_hit[0]
    assert finding.location is not None and finding.location.patient_mm is not None
    offset = np.subtract(finding.location.patient_mm, view["patient_mm"])
    volume = volumes[view["sop_instance_uid"]]
    _, _, normal = orientation(volume["laterality"], volume["view"])
    depth = abs(float(offset @ normal))
    assert depth <= DEPTH_MM and math.sqrt(max(float(offset @ offset) - depth**2, 0.0)) <= IN_PLANE_MM
    assert float(np.linalg.norm(offset)) <= PATIENT_MM_TOLERANCE, (finding.location, view["patient_mm"])

    doc = json.loads(json.dumps(finding_to_json(finding)))
    assert doc["location"]["patient_mm"] == list(finding.location.patient_mm)
    assert all(m["patient_mm"] is not None for m in doc["marks"] if m["sop_instance_uid"] in volumes)
    assert finding_from_json(doc) == finding


@pytest.mark.slow
def test_volume_is_streamed_in_little_memory(mass_study: PhantomStudy, mass_ref: StudyRef) -> None:
    uid = mass_study.truth["lesions"][0]["views"][0]["sop_instance_uid"]
    ref = next(r for r in MassAlgorithm().select(mass_ref).inputs if r.sop_instance_uid == uid)
    info = _volumes(mass_study)[uid]
    volume_bytes = info["rows"] * info["columns"] * info["frames"] * 4  # as float32
    tracemalloc.start()
    try:
        context, candidates = _tomo.detect_volume(ref, find_masses)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert context.frames == info["frames"] and candidates
    assert peak < volume_bytes / 5, f"peak {peak / 2**20:.0f} MB for a {volume_bytes / 2**20:.0f} MB volume"


@pytest.mark.slow
def test_normal_volumes_get_few_marks(tmp_path: Path) -> None:
    with generate_dbt_study(
        SEED + 1, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, synthesized_2d=False
    ) as study:
        result = run(MassAlgorithm(), study_ref(study, tmp_path))
    assert result.status == AlgorithmStatus.OK
    assert {o.status for o in result.images} == {AlgorithmStatus.OK}
    for uid, volume in _volumes(study).items():
        marks = [m for f in result.findings for m in f.marks if m.sop_instance_uid == uid]
        assert len(marks) <= _tomo.MAX_PER_VOLUME
        assert all(m.frame is not None and 1 <= m.frame <= volume["frames"] for m in marks)


def test_a_merged_lesion_spans_the_frames_of_all_its_slabs() -> None:
    px = (0.5, 0.5)
    hits = [
        _tomo.SlabHit(3, 11, _candidate(100, 100, 0.2), (9, 13)),
        _tomo.SlabHit(4, 14, _candidate(104, 98, 0.6), (12, 16)),
        _tomo.SlabHit(5, 17, _candidate(101, 103, 0.3), (15, 19)),
        _tomo.SlabHit(12, 38, _candidate(100, 100, 0.4), (36, 40)),
    ]
    deep, lesion = sorted(_tomo.merge_slab_hits(hits, px), key=lambda c: c.score)
    assert (lesion.frame, lesion.frames) == (14, (9, 19))
    assert (deep.frame, deep.frames) == (38, (36, 40))
    assert lesion.frames is not None and lesion.frames[0] <= lesion.frame <= lesion.frames[1]
