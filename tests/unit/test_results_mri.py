"""DCE-MRI result objects (issue 18): kinetic colour map (SC), Parametric Map, SEG and TID 1500,
built from a synthetic kinetics result on small synthetic MR sources (a classic per-slice series
and the same slices as one multi-frame object), checked with dciodvfy and read back."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError
from breastgate.results import codes as c
from breastgate.results.kinetic_map import COLOURS, KineticColourMap
from breastgate.results.lesion_seg import LesionSegmentation
from breastgate.results.mri_grid import SourceGrid, find_volume, volume_array
from breastgate.results.mri_report import LesionMeasurementReport
from breastgate.results.parametric_map import EnhancementParametricMap
from tests.support.mr_sources import enhanced_mr, kinetics_result, manifest, mr_series, two_phase_enhanced_mr
from tests.support.validators import dciodvfy


@pytest.fixture(scope="module", params=["classic", "enhanced"])
def case(request: pytest.FixtureRequest) -> tuple[list[Dataset], list[np.ndarray]]:
    """(sources, anatomy slices in grid order) of a 12 × 64 × 64 first post-contrast phase."""
    series = mr_series()
    if request.param == "classic":
        return series, [s.pixel_array for s in series]
    multi = enhanced_mr(series)
    frames = multi.pixel_array
    return [multi], [frames[k] for k in range(frames.shape[0])]


def _write(ds: Dataset, path: Path) -> Dataset:
    ds.save_as(path, enforce_file_format=True)
    report = dciodvfy(path)
    assert report.ok, report.output
    return pydicom.dcmread(path)


def _arrays(result, name):  # type: ignore[no-untyped-def]
    return volume_array(find_volume(result, name))


def test_kinetic_map_is_red_on_washout_and_passes_dciodvfy(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sources, anatomy = case
    result = kinetics_result(sources)
    kmap = KineticColourMap(result, manifest(), sources, anatomy)
    back = KineticColourMap.from_dataset(_write(kmap.dataset, tmp_path / "kmap.dcm"))
    kinetic = _arrays(result, "kinetic_class")
    assert back.pixels.shape == (12, 256, 256, 3) and kmap.scale == 4
    assert str(back.pixels.dtype) == "uint8"
    # voxel centres, away from the burned-in text boxes
    s = kmap.scale
    rgb = back.pixels[:, s // 2 :: s, s // 2 :: s].astype(int)
    body = np.zeros(kinetic.shape, bool)
    body[:, 8:56, :] = True
    red = (rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2])) > 100
    assert np.array_equal(red & body, (kinetic == 3) & body)
    yellow = (np.minimum(rgb[..., 0], rgb[..., 1]) - rgb[..., 2]) > 100
    assert np.array_equal(yellow & body, (kinetic == 2) & body)
    blue = (rgb[..., 2] - rgb[..., 0]) > 60
    assert np.array_equal(blue & body, (kinetic == 1) & body)
    grey = rgb[(kinetic == 0) & body]
    assert np.all(np.ptp(grey, axis=1) == 0)  # untouched anatomy stays grey
    assert "NOT FOR DIAGNOSTIC USE" in back.comment
    grid = SourceGrid.of(find_volume(result, "kinetic_class"), sources)
    assert back.slice_locations == tuple(grid.slice_locations())
    assert {uid for uid, _ in back.sources} == {str(s.SOPInstanceUID) for s in sources}
    if len(sources) == 1:
        assert back.sources[0][1] == tuple(range(1, 13))


def test_kinetic_map_is_deterministic_and_colours_are_the_legend(case) -> None:  # type: ignore[no-untyped-def]
    sources, anatomy = case
    result = kinetics_result(sources)
    a = KineticColourMap(result, manifest(), sources, anatomy).dataset
    b = KineticColourMap(result, manifest(), list(reversed(sources)), anatomy).dataset
    assert a.SOPInstanceUID == b.SOPInstanceUID and a.PixelData == b.PixelData
    assert COLOURS[3] == (255, 0, 0)


def test_parametric_map_holds_the_enhancement_on_the_source_planes(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sources, _ = case
    result = kinetics_result(sources)
    pmap = EnhancementParametricMap(result, manifest(), sources)
    back = EnhancementParametricMap.from_dataset(_write(pmap.dataset, tmp_path / "pm.dcm"))
    expected = _arrays(result, "percent_enhancement")
    grid = pmap.grid
    assert back.values.shape == expected.shape
    assert (back.quantity, back.unit) == ("113059", "%")
    for frame, position in enumerate(back.positions):  # frames may be reordered along the normal
        k = grid.positions.index(position)
        np.testing.assert_allclose(back.values[frame], expected[k], rtol=0, atol=1e-4)
        assert back.sources[frame] == (str(grid.headers[k].SOPInstanceUID), grid.frames[k])
    assert hd.pm.ParametricMap.from_dataset(pydicom.dcmread(tmp_path / "pm.dcm")).NumberOfFrames == 12


def test_seg_has_one_segment_per_lesion_matching_the_labels(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sources, _ = case
    result = kinetics_result(sources)
    seg = LesionSegmentation(result, manifest(), sources)
    written = _write(seg.dataset, tmp_path / "seg.dcm")
    back = LesionSegmentation.from_dataset(written)
    assert hd.seg.segread(tmp_path / "seg.dcm").number_of_segments == 2
    labels = _arrays(result, "lesion_labels")
    lesion_slices = {k for k in range(12) if labels[k].any()}
    assert int(written.NumberOfFrames) == sum(len(m) for m in back.masks.values()) < 2 * 12
    grid = seg.grid
    for segment, finding in zip(back.segments, result.findings, strict=True):
        assert (segment.tracking_id, segment.laterality) == (
            finding.id,
            {"L": "Left", "R": "Right"}[finding.laterality],
        )
        rebuilt = np.zeros(labels.shape, bool)
        for (uid, frame), mask in back.masks[segment.number].items():
            k = next(
                i
                for i in lesion_slices
                if (str(grid.headers[i].SOPInstanceUID), grid.frames[i]) == (uid, frame)
            )
            rebuilt[k] = mask
        assert np.array_equal(rebuilt, labels == segment.number)
    assert written.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue == "52988006"
    assert (
        written.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0].AlgorithmVersion == "0.1.0"
    )


def test_tid1500_reports_each_lesion_against_its_segment(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sources, _ = case
    result = kinetics_result(sources)
    seg = LesionSegmentation(result, manifest(), sources)
    seg_ds = seg.dataset
    report = LesionMeasurementReport(seg, seg_ds)
    written = _write(report.dataset, tmp_path / "sr.dcm")
    back = LesionMeasurementReport.from_dataset(written)
    assert isinstance(hd.sr.srread(tmp_path / "sr.dcm"), hd.sr.Comprehensive3DSR)
    assert [g.segment_number for g in back.groups] == [1, 2]
    segments = {s.number: s for s in LesionSegmentation.from_dataset(seg_ds).segments}
    for group, finding in zip(back.groups, result.findings, strict=True):
        assert group.segmentation_sop_instance_uid == str(seg_ds.SOPInstanceUID)
        assert group.tracking_uid == segments[group.segment_number or 0].tracking_uid
        assert group.tracking_identifier == finding.id
        assert group.laterality == {"L": "Left", "R": "Right"}[finding.laterality]
        m = group.measurements
        assert finding.diameters_mm is not None and finding.kinetics is not None
        assert (m["TDIC"][0], m["P9VJ"][0], m["7J51"][0]) == finding.diameters_mm
        assert m["YEKZ"] == (finding.volume_mm3, "mm3")
        assert m["113059"] == (finding.kinetics.peak_enhancement_pct, "%")
        assert m["MRI-WASHOUT-SHARE"] == (20.0, "%")
        assert group.evaluations[c.ENHANCEMENT_PATTERN.value].value == "130599"
        assert group.evaluations[c.INITIAL_PHASE.value] == c.INITIAL_PHASES["fast"]
    assert "not for diagnostic use" in back.comment


def test_uids_depend_on_inputs_only() -> None:
    series = mr_series()
    result = kinetics_result(series)
    a = LesionSegmentation(result, manifest(), series)
    b = LesionSegmentation(result, manifest(), list(reversed(series)))
    assert a.sop_instance_uid == b.sop_instance_uid
    other_series = mr_series(study_uid=result.study_instance_uid, seed=1)
    other = LesionSegmentation(kinetics_result(other_series), manifest(), other_series)
    assert other.sop_instance_uid != a.sop_instance_uid  # other inputs, same study
    assert other.series_instance_uid == a.series_instance_uid  # one series per (study, algorithm, kind)
    assert EnhancementParametricMap(result, manifest(), series).sop_instance_uid != a.sop_instance_uid


def test_a_label_without_a_finding_is_refused() -> None:
    series = mr_series()
    result = kinetics_result(series, centres=((5, 20, 20),))
    labels = _arrays(result, "lesion_labels").copy()
    labels[0, 0, 0] = 7
    volumes = tuple(
        v if v.name != "lesion_labels" else type(v)(**{**v.__dict__, "data": labels.tobytes()})
        for v in result.volumes
    )
    with pytest.raises(EncodingError, match="name no enhancing lesion"):
        LesionSegmentation(type(result)(**{**result.__dict__, "volumes": volumes}), manifest(), series)


def test_a_missing_source_slice_is_refused() -> None:
    series = mr_series()
    result = kinetics_result(series)
    with pytest.raises(EncodingError, match="not in the study"):
        EnhancementParametricMap(result, manifest(), series[1:])


def test_a_dynamic_multiframe_source_is_referenced_at_the_post_contrast_frames(tmp_path: Path) -> None:
    """One object holding two phases: the maps name only the frames of the phase they lie on."""
    series = mr_series()
    multi, frames = two_phase_enhanced_mr(series)
    assert int(multi.NumberOfFrames) == 24
    result = kinetics_result([multi], frames=frames)
    anatomy = [series[k].pixel_array for k in range(12)]
    pmap = EnhancementParametricMap(result, manifest(), [multi])
    seg = LesionSegmentation(result, manifest(), [multi])
    kmap = KineticColourMap(result, manifest(), [multi], anatomy)
    written = {
        "pm": _write(pmap.dataset, tmp_path / "pm.dcm"),
        "seg": _write(seg.dataset, tmp_path / "seg.dcm"),
    }
    for ds in written.values():
        for item in ds.PerFrameFunctionalGroupsSequence:
            sources = item.DerivationImageSequence[0].SourceImageSequence
            assert len(sources) == 1 and int(sources[0].ReferencedFrameNumber) in frames
    back = EnhancementParametricMap.from_dataset(written["pm"])
    assert sorted(frame for _, frame in back.sources) == sorted(frames)
    masks = LesionSegmentation.from_dataset(written["seg"]).masks
    labels = _arrays(result, "lesion_labels")
    for number, by_source in masks.items():
        for (_, frame), mask in by_source.items():
            assert np.array_equal(mask, labels[frames.index(frame)] == number)
    decoded = KineticColourMap.from_dataset(_write(kmap.dataset, tmp_path / "km.dcm"))
    assert decoded.sources[0][1] == frames
