"""Tomosynthesis phantoms and the streaming frame reader: determinism, geometry, focus, truth, memory."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from breastgate.imaging import ImagingError, density_eligibility, frame_info, iter_frames
from breastgate.imaging.frames import FramePlane
from breastgate.imaging.pixels import laterality_of, view_of
from breastgate.phantoms import (
    LesionRequest,
    PhantomError,
    PhantomStudy,
    generate_dbt_study,
    generate_mg_study,
    write_phantoms,
)
from breastgate.phantoms import dbt as dbt_module
from breastgate.phantoms.anatomy import SCALE, view_levels
from breastgate.phantoms.plan import plan_study
from breastgate.phantoms.positioning import positioning_truth

SEED, CATEGORY, VENDOR, PIXEL = 11, "c", "profile-b-100um", 0.4
BTO = "1.2.840.10008.5.1.4.1.1.13.1.3"
MG = "1.2.840.10008.5.1.4.1.1.1.2"
LESIONS = (
    LesionRequest("mass", shape="oval", size_mm=8.0, laterality="R"),
    LesionRequest("calcification_cluster", shape="fine_pleomorphic", laterality="L"),
)


@pytest.fixture(scope="module")
def study() -> Iterator[PhantomStudy]:
    with generate_dbt_study(SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, lesions=LESIONS) as study:
        yield study


@pytest.fixture(scope="module")
def plain() -> Iterator[PhantomStudy]:
    """The same study without lesions (and without synthesized views)."""
    with generate_dbt_study(
        SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, synthesized_2d=False
    ) as study:
        yield study


def _digest(study: PhantomStudy) -> list[str]:
    return [hashlib.sha256(ds.PixelData).hexdigest() for ds in study.datasets]


def _uids(study: PhantomStudy) -> set[str]:
    return {study.study_instance_uid} | {str(ds.SOPInstanceUID) for ds in study.datasets}


def _volume(study: PhantomStudy, sop: str) -> Dataset:
    return next(ds for ds in study.datasets if ds.SOPInstanceUID == sop)


def _views(study: PhantomStudy, kind: str, image: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [
        (lesion, view)
        for lesion in study.truth["lesions"]
        if lesion["kind"] == kind
        for view in lesion["views"]
        if view["image"] == image
    ]


def test_same_seed_same_pixels_uids_and_truth(study: PhantomStudy) -> None:
    with generate_dbt_study(SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, lesions=LESIONS) as again:
        assert _digest(again) == _digest(study)
        assert [ds.SOPInstanceUID for ds in again.datasets] == [ds.SOPInstanceUID for ds in study.datasets]
        assert again.truth == study.truth
    other = generate_dbt_study(SEED + 1, category=CATEGORY, vendor=VENDOR, pixel_mm=1.0, synthesized_2d=False)
    assert not _uids(other) & _uids(study)


def test_uids_differ_from_the_ffdm_phantom_of_the_seed(study: PhantomStudy) -> None:
    mg = generate_mg_study(SEED, category=CATEGORY, vendor=VENDOR)
    assert not _uids(mg) & _uids(study)
    assert len(_uids(study)) == 1 + 8


def test_four_volumes_one_slice_per_mm(study: PhantomStudy) -> None:
    plan = plan_study(SEED, CATEGORY, VENDOR)
    volumes = study.datasets[:4]
    assert [ds.SOPClassUID for ds in volumes] == [BTO] * 4
    assert [(laterality_of(ds), view_of(ds)) for ds in volumes] == [
        ("R", "CC"),
        ("L", "CC"),
        ("R", "MLO"),
        ("L", "MLO"),
    ]
    for ds, summary in zip(volumes, study.truth["volumes"], strict=True):
        frames = int(ds.NumberOfFrames)
        assert frames == round(plan.thickness_mm[laterality_of(ds)]) == summary["frames"]
        assert 25 <= frames <= 85
        assert float(ds.XRay3DAcquisitionSequence[0].BodyPartThickness) == frames
        shared = ds.SharedFunctionalGroupsSequence[0]
        assert [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing] == [PIXEL, PIXEL]
        assert float(shared.PixelMeasuresSequence[0].SliceThickness) == 1.0
        # 0.1 mm detector field of view resampled: 3062 × 2394 at 0.1 mm → 766 × 598 at 0.4 mm.
        assert (ds.Rows, ds.Columns) == (766, 598)
        per_frame = ds.PerFrameFunctionalGroupsSequence
        assert len(per_frame) == frames
        positions = np.array(
            [[float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient] for f in per_frame]
        )
        steps = np.linalg.norm(np.diff(positions, axis=0), axis=1)
        assert np.allclose(steps, 1.0, atol=1e-3)
        orientation = np.array([float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient])
        normal = np.cross(orientation[:3], orientation[3:])
        assert np.allclose(np.abs(np.diff(positions, axis=0) @ normal), 1.0, atol=1e-3)  # along the normal
        assert [f.FrameContentSequence[0].InStackPositionNumber for f in per_frame] == list(
            range(1, frames + 1)
        )
        assert ds.ImageType == ["DERIVED", "PRIMARY", "TOMOSYNTHESIS", "NONE"]
        assert density_eligibility(ds) == "not a 2-D mammogram (Breast Tomosynthesis)"


def test_synthesized_2d_references_its_volume_and_looks_like_a_mammogram(study: PhantomStudy) -> None:
    volumes, flats = study.datasets[:4], study.datasets[4:]
    assert len(flats) == 4
    for volume, flat in zip(volumes, flats, strict=True):
        assert flat.SOPClassUID == MG
        assert list(flat.ImageType)[3] == "GENERATED_2D"
        source = flat.SourceImageSequence[0]
        assert (source.ReferencedSOPClassUID, source.ReferencedSOPInstanceUID) == (BTO, volume.SOPInstanceUID)
        assert (flat.Rows, flat.Columns) == (volume.Rows, volume.Columns)
        assert (laterality_of(flat), view_of(flat)) == (laterality_of(volume), view_of(volume))
        assert flat.FrameOfReferenceUID == volume.FrameOfReferenceUID
        assert (
            flat.StudyInstanceUID == volume.StudyInstanceUID
            and flat.SeriesInstanceUID != volume.SeriesInstanceUID
        )
        assert density_eligibility(flat) is None  # the 2-D algorithms accept it
        pixels = flat.pixel_array.astype(float)
        mid = pixels[int(np.argmax((pixels > 0).sum(axis=1)))]  # the breast's widest row
        wall, far = (mid[:10], mid[-10:]) if flat.ImageLaterality == "L" else (mid[-10:], mid[:10])
        assert wall.min() > 0 and far.max() == 0
        # Like the mean of its slices, and like the FFDM rendering of the same breast.
        mean = volume.pixel_array.astype(float).mean(axis=0)
        breast = pixels > 0
        assert np.corrcoef(pixels[breast], mean[breast])[0, 1] > 0.8
    absent = generate_dbt_study(SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=1.5, synthesized_2d=False)
    assert [ds.SOPClassUID for ds in absent.datasets] == [BTO] * 4


def test_truth_complete(study: PhantomStudy) -> None:
    truth = study.truth
    assert truth["schema"] == "breastgate.phantom-truth/1" and truth["kind"] == "dbt"
    assert truth["study_instance_uid"] == study.study_instance_uid
    assert truth["seed"] == SEED and truth["vendor"] == VENDOR
    density = truth["density"]
    assert density["category"] == CATEGORY and set(density["per_breast"]) == {"L", "R"}
    assert sorted(i["image"] for i in density["per_image"]) == ["dbt"] * 4 + ["synthesized_2d"] * 4
    sops = {str(ds.SOPInstanceUID) for ds in study.datasets}
    assert {i["sop_instance_uid"] for i in density["per_image"]} == sops
    assert {(v["sop_instance_uid"], v["synthesized_sop_instance_uid"]) for v in truth["volumes"]} == {
        (str(a.SOPInstanceUID), str(b.SOPInstanceUID))
        for a, b in zip(study.datasets[:4], study.datasets[4:], strict=True)
    }
    assert len(truth["lesions"]) == 2 and truth["distractors"] == []
    for lesion in truth["lesions"]:
        assert {"id", "kind", "shape", "laterality", "size_mm", "distance_from_nipple_mm", "views"} <= set(
            lesion
        )
        assert sorted((v["view"], v["image"]) for v in lesion["views"]) == [
            ("CC", "dbt"),
            ("CC", "synthesized_2d"),
            ("MLO", "dbt"),
            ("MLO", "synthesized_2d"),
        ]
        for view in lesion["views"]:
            ds = _volume(study, view["sop_instance_uid"])
            c0, r0, c1, r1 = view["bbox"]
            assert c0 < view["centre"][0] < c1 and r0 < view["centre"][1] < r1
            assert c0 >= 0 and c1 <= ds.Columns and r0 >= 0 and r1 <= ds.Rows
            if view["image"] == "synthesized_2d":
                assert "frames" not in view and "focus_frame" not in view
                continue
            first, last = view["frames"]
            assert 1 <= first <= view["focus_frame"] <= last <= int(ds.NumberOfFrames)
            assert len(view["patient_mm"]) == 3
            twin = next(
                v for v in lesion["views"] if v["view"] == view["view"] and v["image"] == "synthesized_2d"
            )
            assert twin["centre"] == view["centre"] and twin["bbox"] == view["bbox"]
        if lesion["kind"] == "calcification_cluster":
            for view in (v for v in lesion["views"] if v["image"] == "dbt"):
                assert (
                    len(view["calcification_frames"])
                    == len(view["calcifications"])
                    == lesion["calcification_count"]
                )
                assert min(view["calcification_frames"]) == view["frames"][0]
    images = truth["positioning"]["images"]
    assert {i["sop_instance_uid"] for i in images} == {str(ds.SOPInstanceUID) for ds in study.datasets[4:]}
    json.dumps(truth)


def _contrast(volume: np.ndarray, frame: int, inner: np.ndarray, ring: np.ndarray) -> float:
    """Mean of the centre disc minus mean of the ring on 1-based ``frame``."""
    return float(volume[frame - 1][inner].mean() - volume[frame - 1][ring].mean())


def test_mass_in_focus_on_its_focus_frame(study: PhantomStudy, plain: PhantomStudy) -> None:
    """Local contrast (centre disc minus a surrounding ring) of the mass peaks on its focus frame and
    is clearly lower 5 slices away; measured on the lesion alone (volume minus the lesion-free
    volume of the seed, identical elsewhere) and, more loosely, on the volume itself."""
    for _, view in _views(study, "mass", "dbt"):
        with_mass = _volume(study, view["sop_instance_uid"]).pixel_array.astype(float)
        index = [ds.SOPInstanceUID for ds in study.datasets].index(view["sop_instance_uid"])
        without = plain.datasets[index].pixel_array.astype(float)
        c, r = view["centre"]
        c0, r0, c1, r1 = view["bbox"]
        radius = max(c1 - c0, r1 - r0) / 2
        yy, xx = np.mgrid[: with_mass.shape[1], : with_mass.shape[2]]
        d = np.hypot(xx + 0.5 - c, yy + 0.5 - r)
        inner, ring = d <= 0.5 * radius, (d >= 1.5 * radius) & (d <= 2.5 * radius)
        focus, n = view["focus_frame"], with_mass.shape[0]
        lesion_only = with_mass - without
        assert not lesion_only[:, d > 3 * radius + 40].any()  # the lesion changes nothing far from it
        own = [_contrast(lesion_only, k, inner, ring) for k in range(1, n + 1)]
        assert int(np.argmax(own)) + 1 == focus
        first, last = view["frames"]
        assert min(own[first - 1 : last]) > 0.5 * own[focus - 1]  # in focus on the slices it occupies
        for away in (focus - 5, focus + 5):
            if 1 <= away <= n:
                assert own[away - 1] < 0.6 * own[focus - 1]
                assert _contrast(with_mass, away, inner, ring) < _contrast(with_mass, focus, inner, ring)
        neighbours = [
            _contrast(with_mass, k, inner, ring) for k in range(max(focus - 2, 1), min(focus + 2, n) + 1)
        ]
        assert _contrast(with_mass, focus, inner, ring) >= 0.9 * max(neighbours)


def test_calcifications_sharp_on_their_own_frames(study: PhantomStudy, plain: PhantomStudy) -> None:
    views = _views(study, "calcification_cluster", "dbt")
    assert views
    for _, view in views:
        index = [ds.SOPInstanceUID for ds in study.datasets].index(view["sop_instance_uid"])
        lesion_only = study.datasets[index].pixel_array.astype(float) - plain.datasets[index].pixel_array
        peaks = [
            int(np.argmax(lesion_only[:, int(row), int(col)])) + 1
            for (col, row), frame in zip(view["calcifications"], view["calcification_frames"], strict=True)
        ]
        assert peaks == view["calcification_frames"]
        assert view["frames"] == [min(peaks), max(peaks)]


def test_iter_frames_matches_pixel_array(study: PhantomStudy, tmp_path: Path) -> None:
    ds = study.datasets[2]
    path = tmp_path / "R_MLO_DBT.dcm"
    ds.save_as(path, enforce_file_format=True)
    info = frame_info(path)
    assert (info.number_of_frames, info.rows, info.columns) == (int(ds.NumberOfFrames), ds.Rows, ds.Columns)
    assert info.spacing_mm == (PIXEL, PIXEL) and info.slice_thickness_mm == 1.0
    assert (info.laterality, info.view, info.sop_class_uid) == ("R", "MLO", BTO)
    expected = pydicom.dcmread(path).pixel_array
    numbers = []
    for number, frame in iter_frames(path):
        assert frame.dtype == np.float32 and frame.shape == (ds.Rows, ds.Columns)
        assert np.array_equal(frame, expected[number - 1].astype(np.float32))
        numbers.append(number)
    assert numbers == list(range(1, info.number_of_frames + 1))
    flat = tmp_path / "R_MLO_S2D.dcm"
    study.datasets[6].save_as(flat, enforce_file_format=True)
    assert [n for n, _ in iter_frames(flat)] == [1]
    assert frame_info(flat).spacing_mm == (PIXEL, PIXEL)


def test_iter_frames_memory_stays_far_below_the_volume(study: PhantomStudy, tmp_path: Path) -> None:
    ds = study.datasets[0]
    path = tmp_path / "R_CC_DBT.dcm"
    ds.save_as(path, enforce_file_format=True)
    volume_bytes = int(ds.NumberOfFrames) * ds.Rows * ds.Columns * 4  # as float32
    tracemalloc.start()
    try:
        total = 0.0
        for _, frame in iter_frames(path):
            total += float(frame.mean())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 0
    assert peak < volume_bytes / 8, (peak, volume_bytes)


def test_frame_planes_place_the_truth_in_patient_coordinates(study: PhantomStudy, tmp_path: Path) -> None:
    """Each volume's frame planes map a lesion's centre on its focus frame onto the phantom's
    patient_mm (written by an independent implementation, ``dbt_headers.patient_point``)."""
    for _, view in _views(study, "mass", "dbt"):
        ds = _volume(study, view["sop_instance_uid"])
        path = tmp_path / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        info = frame_info(path)
        assert info.frame_of_reference_uid == ds.FrameOfReferenceUID
        assert len(info.planes) == info.number_of_frames and all(info.planes)
        plane = info.plane(view["focus_frame"])
        assert plane is not None
        assert np.allclose(plane.patient_mm(tuple(view["centre"])), view["patient_mm"], atol=0.01)
        top_left = info.plane(1)
        first = ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0].ImagePositionPatient
        assert top_left is not None
        assert np.allclose(top_left.patient_mm((0.5, 0.5)), [float(v) for v in first])
        assert info.plane(0) is None and info.plane(info.number_of_frames + 1) is None
        assert info.plane(None) is None  # several frames: which one?
    frames = {str(ds.FrameOfReferenceUID) for ds in study.datasets[:4]}
    assert len(frames) == 4, "every view is its own compression: its own Frame of Reference"


def test_frame_plane_scales_columns_by_column_spacing_and_rows_by_row_spacing() -> None:
    # PS3.3 C.7.6.2.1.1: the first triplet (row direction) steps with the column index, times
    # Pixel Spacing value 2; the second (column direction) with the row index, times value 1.
    plane = FramePlane((10.0, 20.0, 30.0), (0.0, -1.0, 0.0), (-1.0, 0.0, 0.0), (0.2, 0.5))
    assert plane.patient_mm((0.5, 0.5)) == (10.0, 20.0, 30.0)  # centre of the top-left pixel
    assert plane.patient_mm((10.5, 20.5)) == pytest.approx((10.0 - 20 * 0.2, 20.0 - 10 * 0.5, 30.0))
    assert plane.patient_mm((0.0, 0.0)) == pytest.approx((10.0 + 0.1, 20.0 + 0.25, 30.0))  # its corner


def test_frame_planes_read_tolerantly(tmp_path: Path) -> None:
    path = tmp_path / "planes.dcm"
    _multiframe(path, "MONOCHROME2", 1.0, 0.0)  # no Plane Position / Orientation at all
    info = frame_info(path)
    assert info.planes == (None, None, None) and info.frame_of_reference_uid == ""
    ds = pydicom.dcmread(path)
    shared = ds.SharedFunctionalGroupsSequence[0]
    measures, orientation = Dataset(), Dataset()
    measures.PixelSpacing = [0.2, 0.5]  # per frame 2 below: [0.3, 0.3]
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orientation])
    ds.ImagePositionPatient = [0, 0, 0]  # top level: cannot place several frames
    items = []
    for z in (0.0, 1.0, 2.0):
        position, item = Dataset(), Dataset()
        position.ImagePositionPatient = [0, 0, z]
        item.PlanePositionSequence = Sequence([position])
        items.append(item)
    own = Dataset()
    own.PixelSpacing = [0.3, 0.3]
    items[1].PixelMeasuresSequence = Sequence([own])
    del items[2].PlanePositionSequence
    ds.PerFrameFunctionalGroupsSequence = Sequence(items)
    ds.save_as(path, enforce_file_format=True)
    planes = frame_info(path).planes
    assert planes[0] == FramePlane((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.2, 0.5))
    assert planes[1] is not None and planes[1].position_mm == (0.0, 0.0, 1.0)
    assert planes[1].spacing_mm == (0.3, 0.3)
    assert planes[2] is None
    orientation.ImageOrientationPatient = [1, 0, 0, 1, 0, 0]  # not at a right angle
    ds.save_as(path, enforce_file_format=True)
    assert frame_info(path).planes == (None, None, None)


def _multiframe(path: Path, photometric: str, slope: float, intercept: float) -> np.ndarray:
    frames = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5) * 10
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = BTO
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = BTO
    ds.Modality = "MG"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.Rows, ds.Columns, ds.NumberOfFrames = 4, 5, 3
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    transform = Dataset()
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = slope, intercept, "US"
    anatomy = Dataset()
    anatomy.FrameLaterality = "L"
    shared = Dataset()
    shared.PixelValueTransformationSequence = Sequence([transform])
    shared.FrameAnatomySequence = Sequence([anatomy])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return frames


def test_iter_frames_rescales_and_inverts_monochrome1(tmp_path: Path) -> None:
    path = tmp_path / "mono1.dcm"
    raw = _multiframe(path, "MONOCHROME1", 2.0, -5.0)
    frames = [frame for _, frame in iter_frames(path)]
    top = 4095 * 2.0 - 5.0
    for got, stored in zip(frames, raw, strict=True):
        assert np.allclose(got, top - (stored * 2.0 - 5.0))
    assert frame_info(path).laterality == "L"
    mono2 = tmp_path / "mono2.dcm"
    raw = _multiframe(mono2, "MONOCHROME2", 1.0, 0.0)
    assert all(np.array_equal(f, r) for (_, f), r in zip(iter_frames(mono2), raw, strict=True))


@pytest.mark.filterwarnings("ignore:Expected implicit VR:UserWarning")  # pydicom, forced read of text
def test_iter_frames_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not DICOM at all")
    with pytest.raises(ImagingError):
        frame_info(text)
    with pytest.raises(ImagingError):
        list(iter_frames(text))
    path = tmp_path / "short.dcm"
    _multiframe(path, "MONOCHROME2", 1.0, 0.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 45])  # the last frame is cut short
    with pytest.raises(ImagingError):
        list(iter_frames(path))


def test_large_volumes_are_spooled_not_held_in_memory(
    study: PhantomStudy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dbt_module, "IN_MEMORY_BYTES", 0)
    spooled = generate_dbt_study(SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, lesions=LESIONS)
    try:
        element = spooled.datasets[1]["PixelData"]
        assert element.is_buffered
        path = tmp_path / "L_CC_DBT.dcm"
        spooled.datasets[1].save_as(path, enforce_file_format=True)
        assert pydicom.dcmread(path).PixelData == study.datasets[1].PixelData
    finally:
        spooled.close()
    assert element.value.closed


def test_write_phantoms_dbt_layout(tmp_path: Path) -> None:
    folders = write_phantoms(tmp_path, 1, seed=3, kind="dbt", pixel_mm=1.0)
    assert len(folders) == 1
    names = sorted(p.name for p in folders[0].iterdir())
    views = ["L_CC", "L_MLO", "R_CC", "R_MLO"]
    assert names == sorted([f"{v}_DBT.dcm" for v in views] + [f"{v}_S2D.dcm" for v in views] + ["truth.json"])
    truth = json.loads((folders[0] / "truth.json").read_text())
    assert truth["kind"] == "dbt" and truth["study_instance_uid"] == folders[0].name
    info = frame_info(folders[0] / "L_MLO_DBT.dcm")
    assert (info.laterality, info.view) == ("L", "MLO")
    assert info.number_of_frames == next(
        v["frames"] for v in truth["volumes"] if (v["laterality"], v["view"]) == ("L", "MLO")
    )
    with pytest.raises(PhantomError):
        write_phantoms(tmp_path, 1, seed=3, pixel_mm=1.0)


def test_bad_pixel_size_raises() -> None:
    with pytest.raises(PhantomError, match="pixel_mm"):
        generate_dbt_study(1, pixel_mm=0.0)


# ---------------------------------------------------------------------------- distractors, defects
DSEED, DPIXEL = 1, 0.5  # seed 1 has benign, vascular and skin distractors; 0.5 mm shows 0.6 mm calcifications
DEFECT_PIXEL = 1.0


@pytest.fixture(scope="module")
def distracted() -> Iterator[PhantomStudy]:
    with generate_dbt_study(
        DSEED, category=CATEGORY, vendor=VENDOR, pixel_mm=DPIXEL, distractors=True
    ) as study:
        yield study


@pytest.fixture(scope="module")
def undistracted() -> Iterator[PhantomStudy]:
    """The same study without distractors: identical pixels away from them."""
    with generate_dbt_study(DSEED, category=CATEGORY, vendor=VENDOR, pixel_mm=DPIXEL) as study:
        yield study


def _pixels(study: PhantomStudy) -> dict[str, np.ndarray]:
    return {str(ds.SOPInstanceUID): ds.pixel_array.astype(float) for ds in study.datasets}


def _distractor_views(study: PhantomStudy, kind: str, image: str) -> list[dict[str, Any]]:
    return [
        view
        for distractor in study.truth["distractors"]
        if distractor["kind"] == kind
        for view in distractor["views"]
        if view["image"] == image
    ]


def test_distractor_truth(distracted: PhantomStudy, undistracted: PhantomStudy) -> None:
    """The FFDM distractor entries (id, kind, shape, laterality) plus, per instance, the marks of a
    lesion: frames, focus frame, height and patient position on the volume, bbox on both images."""
    truth = distracted.truth
    assert truth["lesions"] == [] and undistracted.truth["distractors"] == []
    assert {d["kind"] for d in truth["distractors"]} == {"scattered_benign", "vascular", "skin"}
    for key in ("density", "positioning", "volumes"):
        assert truth[key] == undistracted.truth[key]
    for distractor in truth["distractors"]:
        assert set(distractor) == {"id", "kind", "shape", "laterality", "views"}
        assert distractor["kind"] == distractor["shape"]
        assert {(v["view"], v["image"]) for v in distractor["views"]} <= {
            (view, image) for view in ("CC", "MLO") for image in ("dbt", "synthesized_2d")
        }
        for view in distractor["views"]:
            ds = _volume(distracted, view["sop_instance_uid"])
            assert laterality_of(ds) == distractor["laterality"] and view_of(ds) == view["view"]
            c0, r0, c1, r1 = view["bbox"]
            assert c0 < view["centre"][0] < c1 and r0 < view["centre"][1] < r1
            assert c0 >= 0 and c1 <= ds.Columns and r0 >= 0 and r1 <= ds.Rows
            if view["image"] == "synthesized_2d":
                assert not {"frames", "focus_frame", "calcification_frames"} & set(view)
                continue
            first, last = view["frames"]
            assert 1 <= first <= view["focus_frame"] <= last <= int(ds.NumberOfFrames)
            assert len(view["patient_mm"]) == 3
    json.dumps(truth)


def test_distractors_change_nothing_far_from_them(
    distracted: PhantomStudy, undistracted: PhantomStudy
) -> None:
    before, after = _pixels(undistracted), _pixels(distracted)
    for sop, pixels in after.items():
        near = np.zeros(pixels.shape[-2:], bool)
        for distractor in distracted.truth["distractors"]:
            for view in (v for v in distractor["views"] if v["sop_instance_uid"] == sop):
                c0, r0, c1, r1 = view["bbox"]
                margin = 15.0 / DPIXEL  # the patch of the off-plane blur (FFT rounding: ±1)
                near[
                    max(int(r0 - margin), 0) : int(r1 + margin) + 1,
                    max(int(c0 - margin), 0) : int(c1 + margin) + 1,
                ] = True
        assert np.array_equal(pixels[..., ~near], before[sop][..., ~near])


def test_benign_distractors_brightest_on_their_focus_frame(distracted: PhantomStudy) -> None:
    """At a benign calcification's position the volume is brighter on its focus frame than 5 slices
    away. (Skin calcifications lie on the outline of their slice, where the pixel values are those
    of the edge; they are checked on their own signal below.)"""
    pixels = _pixels(distracted)
    checked = 0
    for view in _distractor_views(distracted, "scattered_benign", "dbt"):
        volume = pixels[view["sop_instance_uid"]]
        col, row = (int(v) for v in view["centre"])
        focus, n = view["focus_frame"], volume.shape[0]
        along = volume[:, row, col]
        for away in (focus - 5, focus + 5):
            if 1 <= away <= n:
                assert along[focus - 1] > along[away - 1], (view["id"], focus, away)
                checked += 1
    assert checked >= 10


def test_distractors_in_focus_on_their_own_frames(
    distracted: PhantomStudy, undistracted: PhantomStudy
) -> None:
    """On the distractor alone (the volume minus the distractor-free one): a benign calcification
    peaks on its focus frame, each skin calcification on one of the group's frames, and a vessel's
    signal inside its bbox on a frame it crosses."""
    before, after = _pixels(undistracted), _pixels(distracted)
    for distractor in distracted.truth["distractors"]:
        for view in (v for v in distractor["views"] if v["image"] == "dbt"):
            only = after[view["sop_instance_uid"]] - before[view["sop_instance_uid"]]
            col, row = (int(v) for v in view["centre"])
            first, last = view["frames"]
            if distractor["kind"] == "vascular":
                c0, r0, c1, r1 = (int(v) for v in view["bbox"])
                per_frame = np.clip(only[:, r0 : r1 + 1, c0 : c1 + 1], 0, None).sum(axis=(1, 2))
                assert first <= int(np.argmax(per_frame)) + 1 <= last
                assert last - first <= 12  # tilted by at most 10°
            else:
                assert int(np.argmax(only[:, row, col])) + 1 == view["focus_frame"]
            if distractor["kind"] == "skin":
                frames = view["calcification_frames"]
                assert len(frames) == len(view["calcifications"])
                assert view["frames"] == [min(frames), max(frames)]
                for c, r in view["calcifications"]:
                    assert int(np.argmax(only[:, int(r), int(c)])) + 1 in frames
                middle = only.shape[0] // 2 + 1  # the slice of the mid-plane
                assert all(f >= middle for f in frames) or all(f <= middle for f in frames), "one surface"


def test_distractors_visible_in_the_synthesized_view(
    distracted: PhantomStudy, undistracted: PhantomStudy
) -> None:
    before, after = _pixels(undistracted), _pixels(distracted)
    for distractor in distracted.truth["distractors"]:
        views = [v for v in distractor["views"] if v["image"] == "synthesized_2d"]
        assert views
        for view in views:
            only = after[view["sop_instance_uid"]] - before[view["sop_instance_uid"]]
            c0, r0, c1, r1 = (int(v) for v in view["bbox"])
            assert only[r0 : r1 + 1, c0 : c1 + 1].max() > 150, distractor["id"]  # noise is 0-255
            if distractor["kind"] == "scattered_benign":  # a round spot peaking at its centre
                col, row = (int(v) for v in view["centre"])
                assert only[row, col] == only[r0 : r1 + 1, c0 : c1 + 1].max()


def test_default_is_without_distractors_and_defects(undistracted: PhantomStudy) -> None:
    with generate_dbt_study(
        DSEED, category=CATEGORY, vendor=VENDOR, pixel_mm=DPIXEL, distractors=False, defects=None
    ) as explicit:
        assert _digest(explicit) == _digest(undistracted) and explicit.truth == undistracted.truth
    assert undistracted.truth["positioning"]["defects"] == []


def _slot(study: PhantomStudy, site: list[str]) -> int:
    return [(v["laterality"], v["view"]) for v in study.truth["volumes"]].index(tuple(site))


def _positioning_without_uids(truth: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(truth))
    for image in out["images"]:
        image.pop("sop_instance_uid", None)
        image.pop("dbt_sop_instance_uid", None)
    return out


def test_pectoral_short_defect_shortens_the_muscle_of_the_volume() -> None:
    """Same positioning truth as the FFDM phantom of the plan; the muscle of the volume and of the
    synthesized view ends higher, where the well-positioned study has muscle there is now breast."""
    clean = generate_dbt_study(DSEED, category=CATEGORY, vendor=VENDOR, pixel_mm=DEFECT_PIXEL, defects=())
    short = generate_dbt_study(
        DSEED, category=CATEGORY, vendor=VENDOR, pixel_mm=DEFECT_PIXEL, defects=("pectoral_short",)
    )
    plan = plan_study(DSEED, CATEGORY, VENDOR, defects=("pectoral_short",))
    positioning = short.truth["positioning"]
    assert _positioning_without_uids(positioning) == json.loads(json.dumps(positioning_truth(plan)))
    assert positioning["verdict"]["failing_checks"] == ["mlo_pectoral_to_pnl"]
    assert clean.truth["positioning"]["verdict"]["passed"]
    site = positioning["defect_sites"]["pectoral_short"]
    for image in positioning["images"]:
        slot = _slot(short, [image["laterality"], image["view"]])
        assert image["dbt_sop_instance_uid"] == short.datasets[slot].SOPInstanceUID
        assert image["sop_instance_uid"] == short.datasets[4 + slot].SOPInstanceUID
    slot = _slot(short, site)
    other_breast = [i for i, v in enumerate(short.truth["volumes"]) if v["laterality"] != site[0]]
    for i in other_breast:
        assert short.datasets[i].PixelData == clean.datasets[i].PixelData
    # Muscle of the clean plan that the short muscle lacks, on the working grid (detector pixel SCALE·i).
    profile = dbt_module.dbt_profile(plan.profile, DEFECT_PIXEL)
    spec = {(s.laterality, s.view): s for s in plan.views}[tuple(site)]
    clean_spec = {(s.laterality, s.view): s for s in plan_study(DSEED, CATEGORY, VENDOR, defects=()).views}[
        tuple(site)
    ]
    lost = view_levels(clean_spec, profile).pectoral & ~view_levels(spec, profile).pectoral
    assert lost.sum() > 20
    for index in (slot, 4 + slot):  # the volume's middle frame, then the synthesized view
        means = []
        for study in (clean, short):
            image = study.datasets[index].pixel_array
            image = image[image.shape[0] // 2] if image.ndim == 3 else image
            image = image[:, ::-1] if site[0] == "R" else image
            grid = image[::SCALE, ::SCALE]
            means.append(float(grid[lost[: grid.shape[0], : grid.shape[1]]].mean()))
        assert means[1] < 0.9 * means[0], means


def test_missing_view_defect_leaves_out_volume_and_synthesized_view() -> None:
    clean = generate_dbt_study(DSEED, category=CATEGORY, vendor=VENDOR, pixel_mm=DEFECT_PIXEL, defects=())
    study = generate_dbt_study(
        DSEED, category=CATEGORY, vendor=VENDOR, pixel_mm=DEFECT_PIXEL, defects=["missing_view"]
    )
    positioning = study.truth["positioning"]
    lat, view = positioning["defect_sites"]["missing_view"]
    assert positioning["missing_views"] == [f"{lat} {view}"]
    assert positioning["verdict"]["failing_checks"] == ["views_complete"]
    assert len(study.datasets) == 6 and len(study.truth["volumes"]) == 3
    present = [(laterality_of(ds), view_of(ds)) for ds in study.datasets]
    assert (lat, view) not in present and len(set(present)) == 3
    gone = clean.datasets[_slot(clean, [lat, view])].SOPInstanceUID
    kept = {str(ds.SOPInstanceUID): ds.PixelData for ds in clean.datasets}
    assert all(kept[str(ds.SOPInstanceUID)] == ds.PixelData for ds in study.datasets)
    assert gone not in {ds.SOPInstanceUID for ds in study.datasets}
    assert {i["sop_instance_uid"] for i in study.truth["density"]["per_image"]} == set(
        str(ds.SOPInstanceUID) for ds in study.datasets
    )
