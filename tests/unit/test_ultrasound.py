"""The breast ultrasound reader (``breastgate.ultrasound``) on phantom studies: location from the
burned-in text or the structured field (never guessed), size only in calibrated regions, orthogonal
views giving the third diameter, cine sweeps read on a sample of frames. Needs Tesseract (make test
installs it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from breastgate.algorithms.ultrasound import MAX_CINE_FRAMES, UltrasoundAlgorithm, quadrant_of
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, Finding, InstanceRef, StudyRef
from breastgate.phantoms.us import UsLesionRequest, UsStudy, generate_us_study

LESION = UsLesionRequest(width_mm=14.0, depth_mm=8.0, shape="oval", margin_detail="circumscribed")


def _study(us: UsStudy, folder: Path) -> StudyRef:
    folder.mkdir(parents=True, exist_ok=True)
    refs = []
    for i, ds in enumerate(us.datasets):
        path = folder / f"{i}.dcm"
        ds.save_as(path, enforce_file_format=True)
        refs.append(
            InstanceRef(
                str(ds.StudyInstanceUID),
                str(ds.SeriesInstanceUID),
                str(ds.SOPInstanceUID),
                str(ds.SOPClassUID),
                "US",
                str(path),
                number_of_frames=int(ds.get("NumberOfFrames", 1) or 1),
            )
        )
    return StudyRef(us.truth["study_instance_uid"], tuple(refs), patient_id=us.truth["patient_id"])


def _run(us: UsStudy, folder: Path) -> AlgorithmResult:
    algorithm = UltrasoundAlgorithm()
    return algorithm.run(algorithm.select(_study(us, folder)))


def _on(finding: Finding, lesion: dict[str, Any]) -> bool:
    c0, r0, c1, r1 = lesion["bbox_px"]
    col, row = finding.marks[0].point
    return bool(c0 <= col <= c1 + 1 and r0 <= row <= r1 + 1)


def _shown(result: AlgorithmResult) -> list[Finding]:
    threshold = result.operating_threshold or 0.0
    return [f for f in result.findings if f.score >= threshold]


def test_a_lesion_is_found_measured_described_and_placed_from_the_burned_in_text(tmp_path: Path) -> None:
    us = generate_us_study(
        41, images=1, lesions=[LESION], style="caps_clock", location="text", overlays=False, dual=False
    )
    result = _run(us, tmp_path)
    assert result.status == AlgorithmStatus.OK
    (image,) = us.truth["images"]
    (lesion,) = image["lesions"]
    found = [f for f in _shown(result) if _on(f, lesion)]
    assert found, result.findings
    finding = found[0]
    assert finding.laterality == image["laterality"]
    assert finding.location is not None
    assert finding.location.clock == image["location"]["clock"]
    assert finding.location.distance_from_nipple_mm == image["location"]["distance_from_nipple_mm"]
    assert finding.attributes["width_mm"] == pytest.approx(14.0, abs=1.5)
    assert finding.attributes["depth_mm"] == pytest.approx(8.0, abs=1.5)
    assert finding.attributes["shape"] == "oval" and finding.attributes["orientation"] == "parallel"
    for name in ("shape", "orientation", "margin", "echo_pattern", "posterior"):
        assert finding.attributes[f"{name}_basis"], name
    (mark,) = finding.marks
    assert len(mark.lines) == 2 and len(mark.outline) >= 8


def test_a_region_without_physical_units_is_not_measured(tmp_path: Path) -> None:
    us = generate_us_study(
        43, images=1, lesions=[LESION], uncalibrated=True, location="text", overlays=False, dual=False
    )
    result = _run(us, tmp_path)
    (outcome,) = result.images
    assert "no physical spatial calibration" in outcome.message
    assert result.findings and all(f.size_mm is None for f in result.findings)
    assert all("width_mm" not in f.attributes for f in result.findings)


def test_structured_location_is_used_and_a_missing_one_is_unknown(tmp_path: Path) -> None:
    structured = generate_us_study(
        44, images=1, lesions=[LESION], location="structured", overlays=False, dual=False
    )
    result = _run(structured, tmp_path / "s")
    (image,) = structured.truth["images"]
    assert result.findings
    for finding in result.findings:
        assert finding.attributes["location_source"] == "structured"
        assert finding.location is not None and finding.location.clock == image["location"]["clock"]
    none = generate_us_study(45, images=1, lesions=[LESION], location="none", overlays=False, dual=False)
    result = _run(none, tmp_path / "n")
    (outcome,) = result.images
    assert "location unknown" in outcome.message
    assert all(f.location is None and f.attributes["location_source"] == "unknown" for f in result.findings)


def test_orthogonal_views_give_three_diameters(tmp_path: Path) -> None:
    request = UsLesionRequest(
        width_mm=12.0, depth_mm=7.0, elevation_mm=9.0, shape="oval", margin_detail="circumscribed"
    )
    us = generate_us_study(46, images=1, lesions=[request], dual=True, location="text", overlays=False)
    result = _run(us, tmp_path)
    paired = [f for f in _shown(result) if len(f.marks) == 2]
    assert paired, result.findings
    assert paired[0].diameters_mm is not None
    assert paired[0].diameters_mm == pytest.approx((12.0, 9.0, 7.0), abs=1.5)


def test_a_cine_sweep_is_read_on_a_sample_of_frames(tmp_path: Path) -> None:
    us = generate_us_study(
        47, images=0, lesions=[LESION], cine=True, frames=40, location="text", overlays=False
    )
    result = _run(us, tmp_path)
    (outcome,) = result.images
    assert outcome.status == AlgorithmStatus.OK
    assert outcome.measurements["frames_read"] <= MAX_CINE_FRAMES
    shown = _shown(result)
    assert shown and all(f.marks[0].frame is not None for f in shown)


def test_a_study_without_ultrasound_is_skipped(tmp_path: Path) -> None:
    study = StudyRef(
        "1.2.3", (InstanceRef("1.2.3", "1.2.3.1", "1.2.3.1.1", "1.2.840.10008.5.1.4.1.1.1.2", "MG", "/x"),)
    )
    algorithm = UltrasoundAlgorithm()
    assert algorithm.run(algorithm.select(study)).status == AlgorithmStatus.SKIPPED


@pytest.mark.parametrize(
    ("side", "clock", "quadrant"),
    [
        ("L", 2, "UOQ"),
        ("R", 2, "UIQ"),
        ("L", 10, "UIQ"),
        ("R", 10, "UOQ"),
        ("L", 4, "LOQ"),
        ("R", 7, "LOQ"),
        ("R", 12, None),
    ],
)
def test_clock_to_quadrant_facing_the_patient(side: str, clock: int, quadrant: str | None) -> None:
    assert quadrant_of(side, clock) == quadrant


def test_pure_speckle_shows_nothing_much(tmp_path: Path) -> None:
    us = generate_us_study(48, images=3, lesions=0, location="text", overlays=False, dual=False)
    result = _run(us, tmp_path)
    assert result.status == AlgorithmStatus.OK
    # 1.1.0 (classical) showed at most 2 here (~0.5 false regions per image, the BUSI operating
    # point); 1.2.0's network fires on this phantom's subcutaneous fat band (3 shown; 13 on the 18
    # lesion-free images of seeds 48-53 against 9 for 1.1.0; 1.2.1: 18). 1.3.0 reads the layer and
    # was fitted on development phantoms: 1 here, 9 on the 18 images (back to 1.1.0's bound).
    assert len(_shown(result)) <= 2
    assert np.isfinite([f.score for f in result.findings]).all()


def test_the_annotations_depth_letter_is_the_depth_third() -> None:
    from breastgate.algorithms.ultrasound import _finding_location
    from breastgate.imaging.us_annotation import parse_annotation

    location = _finding_location(parse_annotation("RT BR 10:00 3CM FN DEPTH C"), "R")
    assert location is not None
    assert (location.clock, location.quadrant, location.depth, location.distance_from_nipple_mm) == (
        10,
        "UOQ",
        "posterior",
        30.0,
    )
    assert _finding_location(parse_annotation("RT BR 3CM FN"), "R") is None  # no clock: not placed
